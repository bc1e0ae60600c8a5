// The simulated county: deterministic, plausible, and loadable into a real database exactly once.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { verify } from "@node-rs/argon2";
import { createTestDatabase, type TestDatabase } from "./support/db.ts";
import { createTestContext } from "./support/context.ts";
import { runCommand } from "./support/run.ts";
import { DEMO_PASSWORDS, generateCounty, type CountyData, type OrgUnitRow } from "../prisma/seed/county.ts";
import { SeedError, SEED_STEPS, loadCounty, seedIfEmpty, type SeedStep } from "../prisma/seed/load.ts";
import { deriveState, stateOf } from "../core/complaints/state.ts";
import { evaluateBranches } from "../core/calendar/facts.ts";
import { monthPeriod } from "../core/calendar/periods.ts";
import { attendanceTrend, monthlyReport } from "../core/calendar/reports.ts";
import { runCalendarReminders } from "../core/calendar/reminders.ts";
import { runComplaintEscalation } from "../core/complaints/escalation.ts";
import { finalizeClosedMeetings } from "../core/meetings/finalize.ts";
import { loadConfig } from "../core/config.ts";
import { startBot } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";

const HAN_NAME = /^[\u4e00-\u9fff]{2,4}$/;
const MOBILE = /^1[358]\d{9}$/;

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

function countBy<T>(items: T[], key: (t: T) => unknown): Map<unknown, number> {
  const m = new Map<unknown, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

describe("generateCounty", () => {
  test("is deterministic: same seed, same county; another seed, another county", () => {
    const a = generateCounty({ seed: 7, members: 3000 });
    const b = generateCounty({ seed: 7, members: 3000 });
    expect(b).toEqual(a);
    const c = generateCounty({ seed: 8, members: 3000 });
    expect(c.members.map((m) => m.name)).not.toEqual(a.members.map((m) => m.name));
    expect(c.orgUnits.map((o) => o.name)).not.toEqual(a.orgUnits.map((o) => o.name));
    expect(c.chatIdentities.map((i) => i.platformUserId)).not.toEqual(a.chatIdentities.map((i) => i.platformUserId));
  });

  test("keeps the org tree when only the member count changes", () => {
    const small = generateCounty({ seed: 7, members: 3000 });
    const large = generateCounty({ seed: 7, members: 9000 });
    expect(large.orgUnits).toEqual(small.orgUnits);
    expect(large.members).toHaveLength(9000);
  });

  describe("the default county is plausible", () => {
    let d: CountyData;
    let byId: Map<number, OrgUnitRow>;
    beforeAll(() => {
      d = generateCounty();
      byId = new Map(d.orgUnits.map((o) => [o.id, o]));
    });
    const ofKind = (kind: OrgUnitRow["kind"]) => d.orgUnits.filter((o) => o.kind === kind);

    test("one county, 20 towns, ~250 villages with one branch each, 3–6 party groups per branch", () => {
      expect(ofKind("COUNTY")).toHaveLength(1);
      expect(ofKind("TOWN")).toHaveLength(20);
      const branches = ofKind("BRANCH");
      expect(branches.length).toBeGreaterThanOrEqual(230);
      expect(branches.length).toBeLessThanOrEqual(270);
      expect(ofKind("VILLAGE")).toHaveLength(branches.length);
      for (const b of branches) {
        expect(byId.get(b.parentId!)!.kind).toBe("VILLAGE");
        expect(b.name).toBe(`${byId.get(b.parentId!)!.name}党支部`);
      }
      const groupsPerBranch = countBy(ofKind("PARTY_GROUP"), (g) => g.parentId);
      expect(groupsPerBranch.size).toBe(branches.length);
      for (const n of groupsPerBranch.values()) {
        expect(n).toBeGreaterThanOrEqual(3);
        expect(n).toBeLessThanOrEqual(6);
      }
      // Spread unevenly: not every town has the same number of villages.
      expect(new Set(countBy(ofKind("VILLAGE"), (v) => v.parentId).values()).size).toBeGreaterThan(3);
      expect(new Set(d.orgUnits.map((o) => o.code)).size).toBe(d.orgUnits.length);
      expect(new Set(ofKind("VILLAGE").map((o) => o.name)).size).toBe(branches.length);
    });

    test("paths and depths follow the parents", () => {
      for (const o of d.orgUnits) {
        const parent = o.parentId === null ? null : byId.get(o.parentId)!;
        expect(o.path).toBe(`${parent?.path ?? "/"}${o.id}/`);
        expect(o.depth).toBe(parent ? parent.depth + 1 : 0);
        // Parents come first, so batches of the list never break the foreign key.
        if (parent) expect(parent.id).toBeLessThan(o.id);
      }
    });

    // Checks over 25,000 rows collect the offenders and assert once: an expect() per row costs seconds.
    test("members: exact count, Han names, mobile numbers, mostly full members", () => {
      expect(d.members).toHaveLength(25_000);
      expect(new Set(d.members.map((m) => m.id)).size).toBe(25_000);
      expect(d.members.filter((m) => !HAN_NAME.test(m.name))).toEqual([]);
      expect(d.members.filter((m) => m.phone !== null && !MOBILE.test(m.phone))).toEqual([]);
      expect(d.members.filter((m) => m.joinedPartyOn.getUTCFullYear() - m.birthYear < 18)).toEqual([]);
      expect(d.members.filter((m) => byId.get(m.branchId)?.kind !== "BRANCH")).toEqual([]);
      expect(d.members.filter((m) => m.partyGroupId !== null && byId.get(m.partyGroupId)!.parentId !== m.branchId)).toEqual([]);
      const phones = d.members.flatMap((m) => (m.phone ? [m.phone] : []));
      expect(new Set(phones).size).toBe(phones.length);
      expect(phones.length).toBeGreaterThan(0.9 * d.members.length);
      const probationary = d.members.filter((m) => m.status === "PROBATIONARY").length;
      expect(probationary).toBeGreaterThan(0.01 * d.members.length);
      expect(probationary).toBeLessThan(0.1 * d.members.length);
      const male = d.members.filter((m) => m.gender === "MALE").length / d.members.length;
      expect(male).toBeGreaterThan(0.55);
      expect(male).toBeLessThan(0.85);
    });

    test("every branch: one secretary, 2–4 more committee members, one leader per non-empty party group", () => {
      const byBranch = groupBy(d.members, (m) => m.branchId);
      expect(byBranch.size).toBe(ofKind("BRANCH").length);
      for (const roster of byBranch.values()) {
        expect(roster.filter((m) => m.isSecretary)).toHaveLength(1);
        const committee = roster.filter((m) => m.isCommittee);
        expect(committee.some((m) => m.isSecretary)).toBe(true);
        expect(committee.length).toBeGreaterThanOrEqual(3);
        expect(committee.length).toBeLessThanOrEqual(5);
        for (const group of groupBy(roster, (m) => m.partyGroupId).values()) {
          expect(group.filter((m) => m.isGroupLeader)).toHaveLength(1);
        }
      }
    });

    test("chat side: a bound group per branch, cadre groups, one identity per member", () => {
      const branchGroups = d.chatGroups.filter((g) => g.kind === "BRANCH");
      expect(new Set(branchGroups.map((g) => g.orgUnitId))).toEqual(new Set(ofKind("BRANCH").map((b) => b.id)));
      expect(branchGroups).toHaveLength(ofKind("BRANCH").length);
      const cadre = d.chatGroups.filter((g) => g.kind === "CADRE").map((g) => byId.get(g.orgUnitId)!.kind);
      expect(countBy(cadre, (k) => k)).toEqual(new Map([["COUNTY", 1], ["TOWN", 20]]));
      for (const g of d.chatGroups) expect(g.platformGroupId).toContain("@");
      expect(new Set(d.chatGroups.map((g) => g.platformGroupId)).size).toBe(d.chatGroups.length);
      expect(d.groupAccounts).toHaveLength(d.chatGroups.length);

      expect(d.botAccounts).toEqual([expect.objectContaining({ name: "wx-main", channel: "WECHAT", status: "OFFLINE" })]);
      expect(d.chatIdentities).toHaveLength(d.members.length);
      expect(new Set(d.chatIdentities.map((i) => i.platformUserId)).size).toBe(d.members.length);
      const memberName = new Map(d.members.map((m) => [m.id, m.name]));
      expect(
        d.chatIdentities.filter(
          (i) => i.scope !== "wx-main" || !/^wxid_[a-z0-9]{14}$/.test(i.platformUserId) || i.displayName !== memberName.get(i.memberId),
        ),
      ).toEqual([]);
      // Each member is in their branch's group; memberCount agrees with the roster.
      const branchOfGroup = new Map(branchGroups.map((g) => [g.id, g.orgUnitId]));
      const memberOfIdentity = new Map(d.chatIdentities.map((i) => [i.id, i.memberId]));
      const branchOfMember = new Map(d.members.map((m) => [m.id, m.branchId]));
      const inBranchGroups = d.groupMemberships.filter((gm) => branchOfGroup.has(gm.groupId));
      expect(inBranchGroups).toHaveLength(d.members.length);
      expect(
        inBranchGroups.filter((gm) => branchOfGroup.get(gm.groupId) !== branchOfMember.get(memberOfIdentity.get(gm.identityId)!)),
      ).toEqual([]);
      const perGroup = countBy(d.groupMemberships, (gm) => gm.groupId);
      expect(d.chatGroups.filter((g) => g.memberCount !== (perGroup.get(g.id) ?? 0))).toEqual([]);
    });

    test("a town admin is a member of one of the town's branches, in the town's cadre group: they can speak in chat", () => {
      const members = new Map(d.members.map((m) => [m.id, m]));
      const identityOf = new Map(d.chatIdentities.map((i) => [i.memberId, i.id]));
      const towns = ofKind("TOWN");
      const admins = d.cadreUsers.filter((u) => u.role === "TOWN_ADMIN");
      expect(admins).toHaveLength(towns.length);
      for (const u of admins) {
        const m = members.get(u.memberId!)!;
        expect(m).toBeDefined();
        expect(byId.get(m.branchId)!.path.startsWith(byId.get(u.orgUnitId)!.path)).toBe(true);
        expect(m.isSecretary).toBe(false);
        expect(u.displayName).toBe(m.name);
        const cadreGroup = d.chatGroups.find((g) => g.kind === "CADRE" && g.orgUnitId === u.orgUnitId)!;
        expect(d.groupMemberships).toContainEqual({ groupId: cadreGroup.id, identityId: identityOf.get(m.id)! });
      }
      // One login per member at most (CadreUser.memberId is unique).
      const linked = d.cadreUsers.flatMap((u) => (u.memberId == null ? [] : [u.memberId]));
      expect(new Set(linked).size).toBe(linked.length);
    });

    test("logins: two county admins, one per town, one per branch secretary", () => {
      const users = new Map(d.cadreUsers.map((u) => [u.username, u]));
      expect(users.size).toBe(d.cadreUsers.length);
      expect(users.get("county_admin")).toMatchObject({ role: "COUNTY_ADMIN", orgUnitId: 1, password: DEMO_PASSWORDS.county });
      expect(users.get("county_admin2")).toMatchObject({ role: "COUNTY_ADMIN", orgUnitId: 1 });
      const towns = ofKind("TOWN");
      towns.forEach((t, i) => expect(users.get(`town${String(i + 1).padStart(2, "0")}_admin`)).toMatchObject({ role: "TOWN_ADMIN", orgUnitId: t.id }));
      const secretaries = d.cadreUsers.filter((u) => u.role === "BRANCH_SECRETARY");
      expect(secretaries).toHaveLength(ofKind("BRANCH").length);
      const members = new Map(d.members.map((m) => [m.id, m]));
      for (const u of secretaries) {
        expect(u.username).toMatch(/^sec_t\d{2}v\d{2}$/);
        const m = members.get(u.memberId!)!;
        expect(m.isSecretary).toBe(true);
        expect(m.branchId).toBe(u.orgUnitId);
        expect(u.displayName).toBe(m.name);
      }
    });
  });
});

describe("loading into PostgreSQL", () => {
  let db: TestDatabase;
  const opts = { seed: 3, members: 3000, accountName: "wx-test" };
  const expected = generateCounty(opts);

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  test("two concurrent seeders on an empty database: one loads, the other backs off", async () => {
    const progress = [new Map<SeedStep, [number, number]>(), new Map<SeedStep, [number, number]>()];
    const results = await Promise.all(
      progress.map((seen) => seedIfEmpty(db.prisma, { ...opts, onProgress: (step, done, total) => void seen.set(step, [done, total]) })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    // The winner reported every step up to its full count; the loser wrote (and reported) nothing.
    expect([...progress[winner].keys()].sort()).toEqual([...SEED_STEPS].sort());
    for (const [done, total] of progress[winner].values()) expect(done).toBe(total);
    expect(progress[1 - winner].size).toBe(0);
  });

  test("the database holds exactly the generated rows", async () => {
    const p = db.prisma;
    expect(await p.orgUnit.count()).toBe(expected.orgUnits.length);
    expect(await p.orgUnit.count({ where: { kind: "BRANCH" } })).toBe(expected.orgUnits.filter((o) => o.kind === "BRANCH").length);
    expect(await p.member.count()).toBe(3000);
    expect(await p.member.count({ where: { isSecretary: true } })).toBe(expected.members.filter((m) => m.isSecretary).length);
    expect(await p.chatIdentity.count({ where: { scope: "wx-test", memberId: { not: null } } })).toBe(3000);
    expect(await p.groupMembership.count()).toBe(expected.groupMemberships.length);
    expect(await p.chatGroup.count({ where: { kind: "BRANCH", orgUnitId: { not: null } } })).toBe(expected.chatGroups.filter((g) => g.kind === "BRANCH").length);
    expect(await p.groupAccount.count()).toBe(expected.chatGroups.length);
    expect(await p.cadreUser.count()).toBe(expected.cadreUsers.length);
    expect(await p.botAccount.findUniqueOrThrow({ where: { name: "wx-test" } })).toMatchObject({ channel: "WECHAT", status: "OFFLINE" });

    // Values survive the trip, dates included.
    const m = expected.members[17];
    expect(await p.member.findUniqueOrThrow({ where: { id: m.id } })).toMatchObject({
      name: m.name,
      gender: m.gender,
      phone: m.phone,
      joinedPartyOn: m.joinedPartyOn,
      status: m.status,
      branchId: m.branchId,
      partyGroupId: m.partyGroupId,
    });
    // A town's subtree is one prefix match on the materialised path.
    const town = await p.orgUnit.findUniqueOrThrow({ where: { code: "C01-T05" } });
    const inTown = await p.member.count({ where: { branch: { path: { startsWith: town.path } } } });
    const townBranches = new Set(expected.orgUnits.filter((o) => o.kind === "BRANCH" && o.path.startsWith(town.path)).map((o) => o.id));
    expect(inTown).toBe(expected.members.filter((m) => townBranches.has(m.branchId)).length);
  });

  test("seeding again is a no-op, loading again is refused", async () => {
    expect(await seedIfEmpty(db.prisma, opts)).toBe(false);
    await expect(loadCounty(db.prisma, expected)).rejects.toThrow(SeedError);
    expect(await db.prisma.member.count()).toBe(3000);
    expect(await db.prisma.orgUnit.count()).toBe(expected.orgUnits.length);
  });

  test("sequences continue after the explicit ids", async () => {
    const p = db.prisma;
    const village = await p.orgUnit.findUniqueOrThrow({ where: { code: "C01-T01-V01" } });
    const branch = await p.orgUnit.create({
      data: { code: "C01-T01-V01-B2", name: "新建党支部", kind: "BRANCH", parentId: village.id, path: "", depth: 3 },
    });
    expect(branch.id).toBe(expected.orgUnits.length + 1);
    const member = await p.member.create({ data: { name: "新党员", branchId: branch.id } });
    expect(member.id).toBe(3001);
    const identity = await p.chatIdentity.create({ data: { channel: "QQ", platformUserId: "10001", memberId: member.id } });
    expect(identity.id).toBe(expected.chatIdentities.length + 1);
    const group = await p.chatGroup.create({ data: { channel: "QQ", platformGroupId: "900001" } });
    expect(group.id).toBe(expected.chatGroups.length + 1);
    const account = await p.botAccount.create({ data: { name: "qq-main", channel: "QQ" } });
    expect(account.id).toBe(2);
    const user = await p.cadreUser.create({
      data: { username: "new_user", passwordHash: "x", displayName: "新用户", role: "MEMBER", orgUnitId: branch.id },
    });
    expect(user.id).toBe(expected.cadreUsers.length + 1);
  });

  test("demo passwords verify against the stored hashes", async () => {
    const admin = await db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "county_admin" } });
    expect(admin.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verify(admin.passwordHash, DEMO_PASSWORDS.county)).toBe(true);
    expect(await verify(admin.passwordHash, DEMO_PASSWORDS.town)).toBe(false);
    const secretary = await db.prisma.cadreUser.findFirstOrThrow({ where: { role: "BRANCH_SECRETARY" }, include: { member: true } });
    expect(await verify(secretary.passwordHash, DEMO_PASSWORDS.secretary)).toBe(true);
    expect(secretary.member?.isSecretary).toBe(true);
  });
});

// ───────────────────────────── the simulated past ─────────────────────────────

/** A mid-month "today" for the history (China midnight of 2026-11-20): no month-start alerts within the catch-up. */
const AS_OF = new Date(Date.UTC(2026, 10, 19, 16, 0));

describe("the history (six months of meetings, attendance and complaints)", () => {
  const opts = { seed: 5, members: 3000, accountName: "wx-hist", history: true, asOf: AS_OF };
  const d = generateCounty(opts);
  const branches = d.orgUnits.filter((o) => o.kind === "BRANCH");
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await loadCounty(db.prisma, d);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  test("is deterministic from the seed and the day, and absent unless asked for", () => {
    const again = generateCounty({ ...opts, asOf: new Date(AS_OF.getTime() + 5 * 3_600_000) });
    expect(again.meetings).toEqual(d.meetings);
    expect(again.attendances).toEqual(d.attendances);
    expect(again.complaints).toEqual(d.complaints);
    expect(generateCounty({ ...opts, seed: 6 }).complaints.map((c) => c.content)).not.toEqual(d.complaints.map((c) => c.content));
    const plain = generateCounty({ seed: 5, members: 3000 });
    expect([plain.meetings, plain.attendances, plain.complaints, plain.complaintEvents]).toEqual([[], [], [], []]);
    // The county itself does not change with its history.
    expect(plain.members).toEqual(d.members);
  });

  test("meetings: all over and finalized, the five 三会一课 types and some study sessions, in the last six months", () => {
    expect(d.meetings.filter((m) => m.plannedAt >= AS_OF || !m.finalizedAt || m.finalizedAt >= AS_OF)).toEqual([]);
    expect(d.meetings.filter((m) => m.plannedAt < monthPeriod(2026, 6).start)).toEqual([]);
    const types = new Set(d.meetings.map((m) => m.type));
    expect([...types].sort()).toEqual(["COMMITTEE", "MEMBER_CONGRESS", "PARTY_GROUP", "PARTY_LECTURE", "STUDY", "THEME_DAY"]);
    // Check-ins already announced in their group: the summary loop has nothing to send.
    expect(d.attendances.filter((a) => a.groupId !== null && a.ackedAt === null)).toEqual([]);
  });

  test("last month most branches held their 支委会, some did not: the dashboard shows green and red", async () => {
    const october = monthPeriod(2026, 10);
    const evals = await evaluateBranches(db.prisma, { path: "/1/", span: october, at: AS_OF });
    expect(evals).toHaveLength(branches.length);
    const committee = evals.map((e) => e.obligations.find((o) => o.type === "COMMITTEE" && o.period.key === "2026-10")!.state);
    const held = committee.filter((s) => s === "HELD").length;
    expect(held).toBeGreaterThan(0.7 * branches.length);
    expect(committee.filter((s) => s === "OVERDUE").length).toBeGreaterThan(0);
    // This month so far: some held already, the rest still to do (not failures yet).
    const november = await evaluateBranches(db.prisma, { path: "/1/", span: monthPeriod(2026, 11), at: AS_OF });
    const states = new Set(november.flatMap((e) => e.obligations.filter((o) => o.period.key === "2026-11").map((o) => o.state)));
    expect(states).toEqual(new Set(["HELD", "DUE"]));
  });

  test("attendance: a 参会率 every month, plausible (most, rarely all), with leave taken", async () => {
    const trend = await attendanceTrend(db.prisma, { role: "COUNTY_ADMIN", orgPath: "/1/" }, { months: 6, at: AS_OF });
    expect(trend.items.map((i) => i.month)).toEqual(["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]);
    for (const i of trend.items) {
      expect(i.meetings).toBeGreaterThan(0);
      expect(i.rate).toBeGreaterThan(0.55);
      expect(i.rate).toBeLessThan(0.95);
      expect(i.leave).toBeGreaterThan(0);
    }
    expect(await db.prisma.attendance.count()).toBe(d.attendances.length);
    const report = await monthlyReport(db.prisma, { role: "COUNTY_ADMIN", orgPath: "/1/" }, "2026-10", AS_OF);
    expect(report.total.compliance.held).toBeGreaterThan(report.total.compliance.overdue);
    expect(report.total.complaints.filed).toBeGreaterThan(0);
  });

  test("complaints: every state, rated and unrated, some overdue and escalated; each agrees with its history", async () => {
    const statuses = new Set(d.complaints.map((c) => c.status));
    for (const s of ["CLOSED", "CLAIMED", "SUBMITTED"]) expect(statuses).toContain(s);
    expect(statuses.size).toBeGreaterThanOrEqual(4);
    expect(d.complaints.filter((c) => c.status === "CLOSED" && c.rating).length).toBeGreaterThan(0.5 * d.complaints.length);
    expect(d.complaints.some((c) => c.status === "CLOSED" && !c.rating)).toBe(true); // closed after the rating window
    expect(d.complaints.some((c) => c.escalationLevel > 0)).toBe(true);
    expect(new Set(d.complaints.map((c) => c.number)).size).toBe(d.complaints.length);
    const rows = await db.prisma.complaint.findMany({ include: { events: { orderBy: { id: "asc" } } } });
    expect(rows).toHaveLength(d.complaints.length);
    const disagree = rows.filter((c) => JSON.stringify(deriveState(c.events)) !== JSON.stringify(stateOf(c)));
    expect(disagree.map((c) => c.number)).toEqual([]);
    // The next ticket of a seeded day continues the day's numbers.
    const last = d.complaints[d.complaints.length - 1];
    const day = last.number.slice(2, 10);
    expect(await db.prisma.dailyCounter.findUnique({ where: { scope_day: { scope: "complaint", day } } })).toMatchObject({ value: Number(last.number.slice(-4)) });
  });

  test("every loaded id points at a loaded row (the load skips the per-row foreign-key checks)", async () => {
    const [dangling] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(`
      SELECT ((SELECT count(*) FROM "Attendance" a LEFT JOIN "Meeting" m ON m.id = a."meetingId" WHERE m.id IS NULL)
            + (SELECT count(*) FROM "Attendance" a LEFT JOIN "Member" m ON m.id = a."memberId" WHERE m.id IS NULL)
            + (SELECT count(*) FROM "Attendance" a WHERE a."identityId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "ChatIdentity" i WHERE i.id = a."identityId"))
            + (SELECT count(*) FROM "Meeting" m LEFT JOIN "OrgUnit" u ON u.id = m."orgUnitId" WHERE u.id IS NULL)
            + (SELECT count(*) FROM "Member" m LEFT JOIN "OrgUnit" u ON u.id = m."branchId" WHERE u.id IS NULL)
            + (SELECT count(*) FROM "GroupMembership" g LEFT JOIN "ChatIdentity" i ON i.id = g."identityId" WHERE i.id IS NULL)
            + (SELECT count(*) FROM "ComplaintEvent" e LEFT JOIN "Complaint" c ON c.id = e."complaintId" WHERE c.id IS NULL)
            + (SELECT count(*) FROM "CadreUser" u WHERE u."memberId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "Member" m WHERE m.id = u."memberId")))::int AS n`);
    expect(dangling.n).toBe(0);
    // And the indexes dropped for the bulk load are back.
    const [idx] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'Attendance'`);
    expect(idx.n).toBeGreaterThanOrEqual(7);
  });

  test("starting on it sends nothing of the past: no tallies, no complaint steps, no meeting reminders", async () => {
    const config = loadConfig({ DATABASE_URL: db.url });
    expect(await finalizeClosedMeetings(db.prisma, AS_OF)).toBe(0);
    expect(await runComplaintEscalation(db.prisma, config, AS_OF)).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    const calendar = await runCalendarReminders(db.prisma, config, AS_OF, { catchUp: true });
    expect(calendar.deliveries).toBe(0);
    expect(await db.prisma.delivery.count()).toBe(0);
    // New rows continue after the history's ids.
    const meeting = await db.prisma.meeting.create({
      data: { orgUnitId: branches[0].id, topic: "新会议", plannedAt: AS_OF, checkinOpensAt: AS_OF, checkinClosesAt: AS_OF },
    });
    expect(meeting.id).toBe(d.meetings.length + 1);
  });
});

// ───────────────────────────── npm run seed on a database in use ─────────────────────────────

describe("npm run seed refuses a database that is not empty", () => {
  const seedCli = (url: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url };
    delete env.LOG_LEVEL;
    return runCommand("npx", ["tsx", "prisma/seed/cli.ts", "--members", "300"], { env, timeoutMs: 120_000 });
  };

  test("after a process started on the empty database (it created its bot account): exit code 1, a Chinese message, nothing written", async () => {
    const ctx = await createTestContext("seed-cli");
    try {
      const wechat = new MockWechat();
      const bot = await startBot(ctx, { puppet: wechat.puppet });
      await bot.stop();
      expect(await ctx.db.prisma.botAccount.count()).toBe(1);

      const run = await seedCli(ctx.db.url);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("数据库不是空的");
      expect(run.stderr).toContain(`机器人账号 ${ctx.config.BOT_ACCOUNT}`);
      expect(run.stderr).toContain("npm run setup");
      expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(await ctx.db.prisma.orgUnit.count()).toBe(0);
      expect(await ctx.db.prisma.member.count()).toBe(0);

      // The demo's path (seed on first start) refuses the same way instead of failing on a clashing id.
      await expect(seedIfEmpty(ctx.db.prisma, { members: 300 })).rejects.toThrow(/数据库不是空的/);
    } finally {
      await ctx.close();
    }
  }, 180_000);

  test("on a seeded database: exit code 1, the message, and the demo logins it already has", async () => {
    const db = await createTestDatabase();
    try {
      await loadCounty(db.prisma, generateCounty({ seed: 2, members: 300 }));
      const run = await seedCli(db.url);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("数据库不是空的");
      expect(run.stderr).toContain("个组织单位");
      expect(run.stdout).toContain(`county_admin / ${DEMO_PASSWORDS.county}`);
      expect(await db.prisma.member.count()).toBe(300);
    } finally {
      await db.close();
    }
  }, 180_000);

  test("a database set up by hand (a unit and its first console login, as npm run setup makes) is refused too", async () => {
    const db = await createTestDatabase();
    try {
      const county = await db.prisma.orgUnit.create({ data: { code: "X01", name: "某县", kind: "COUNTY", path: "/", depth: 0 } });
      await db.prisma.cadreUser.create({ data: { username: "admin", passwordHash: "x", displayName: "管理员", role: "COUNTY_ADMIN", orgUnitId: county.id } });
      await expect(loadCounty(db.prisma, generateCounty({ members: 300 }))).rejects.toThrow(SeedError);
      await expect(loadCounty(db.prisma, generateCounty({ members: 300 }))).rejects.toThrow(/干部账号/);
      expect(await db.prisma.member.count()).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});
