// Seeding the full simulated county (25,000 members): loadCounty against the obvious Prisma code, one bare
// createMany per table. Both start from a fresh migrated database and hash the same three demo passwords.
import type { PrismaClient } from "../core/db/index.ts";
import { generateCounty, type CountyData } from "../prisma/seed/county.ts";
import { cadreUserRows, loadCounty } from "../prisma/seed/load.ts";
import type { BenchHarness, ScratchDatabase } from "./harness.ts";

async function bareCreateMany(prisma: PrismaClient, d: CountyData): Promise<void> {
  await prisma.orgUnit.createMany({ data: d.orgUnits });
  await prisma.botAccount.createMany({ data: d.botAccounts });
  await prisma.chatGroup.createMany({ data: d.chatGroups });
  await prisma.groupAccount.createMany({ data: d.groupAccounts });
  await prisma.member.createMany({ data: d.members });
  await prisma.chatIdentity.createMany({ data: d.chatIdentities });
  await prisma.groupMembership.createMany({ data: d.groupMemberships });
  await prisma.cadreUser.createMany({ data: await cadreUserRows(d.cadreUsers) });
}

/** Both sides must have written every row, or the comparison means nothing. */
async function assertLoaded(s: ScratchDatabase, d: CountyData): Promise<void> {
  const p = s.db.prisma;
  const got = {
    orgUnits: await p.orgUnit.count(),
    botAccounts: await p.botAccount.count(),
    chatGroups: await p.chatGroup.count(),
    groupAccounts: await p.groupAccount.count(),
    members: await p.member.count(),
    chatIdentities: await p.chatIdentity.count(),
    groupMemberships: await p.groupMembership.count(),
    cadreUsers: await p.cadreUser.count(),
  };
  for (const [table, n] of Object.entries(got)) {
    const want = d[table as keyof typeof got].length;
    if (n !== want) throw new Error(`${table}: 期望 ${want} 行，实际 ${n} 行`);
  }
}

export default async function seedBench(h: BenchHarness): Promise<void> {
  const data = generateCounty();
  const rows =
    data.orgUnits.length + data.botAccounts.length + data.chatGroups.length + data.groupAccounts.length +
    data.members.length + data.chatIdentities.length + data.groupMemberships.length + data.cadreUsers.length;
  const side = (run: (s: ScratchDatabase) => Promise<unknown>) => ({
    setup: () => h.scratchDatabase(),
    run,
    check: (s: ScratchDatabase) => assertLoaded(s, data),
    teardown: (s: ScratchDatabase) => s.drop(),
  });
  await h.compare({
    name: `种子数据导入 loadCounty（${data.members.length} 名党员，${rows} 行）vs 每表一次 createMany`,
    rows,
    ours: side((s) => loadCounty(s.db.prisma, data)),
    baseline: side((s) => bareCreateMany(s.db.prisma, data)),
  });
}
