// 三会一课 compliance for 10,000 branches (40× the reference county's 250) over a settled quarter: our rules engine
// (core/calendar/facts.ts: three set-based queries, then the pure evaluation in memory, then a roll-up per town)
// against one hand-written SQL aggregate that computes the same counts. Both must agree, town by town.
import type { PrismaClient } from "../core/db/index.ts";
import { evaluateBranches } from "../core/calendar/facts.ts";
import { chinaDate, quarterPeriod } from "../core/calendar/periods.ts";
import type { BenchHarness, ScratchDatabase } from "./harness.ts";

const TOWNS = 20;
const BRANCHES_PER_TOWN = 500;
const MEMBERS_PER_BRANCH = 20;
const QUARTER = quarterPeriod(2026, 4);
const AT = chinaDate(2027, 1, 5);

type Tally = Map<number, { total: number; held: number }>;

/**
 * Varied histories, deterministic by branch number i: 支委会 every month except November for every 7th branch; the
 * second party group of every 5th branch never meets; 主题党日 monthly; 党员大会 in November with 12 of 20 present, or
 * 8 (no quorum) for every 4th; 党课 except for every 3rd. Held meetings carry their attendance rows.
 */
async function loadFixture(prisma: PrismaClient): Promise<void> {
  const q = (sql: string) => prisma.$executeRawUnsafe(sql);
  await q(`INSERT INTO "OrgUnit" (id, code, name, kind, "parentId", path, depth, "updatedAt") VALUES (1, 'C', '县', 'COUNTY', NULL, '/1/', 0, now())`);
  await q(`INSERT INTO "OrgUnit" (id, code, name, kind, "parentId", path, depth, "updatedAt")
           SELECT 1 + t, 'T' || t, '镇' || t, 'TOWN', 1, '/1/' || (1 + t) || '/', 1, now() FROM generate_series(1, ${TOWNS}) t`);
  // Branch i (1..N) has id 1000 + i, party groups 100000 + 2i and 100001 + 2i.
  await q(`INSERT INTO "OrgUnit" (id, code, name, kind, "parentId", path, depth, "updatedAt")
           SELECT 1000 + i, 'B' || i, '支部' || i, 'BRANCH', 2 + (i - 1) / ${BRANCHES_PER_TOWN}, '/1/' || (2 + (i - 1) / ${BRANCHES_PER_TOWN}) || '/' || (1000 + i) || '/', 2, now()
             FROM generate_series(1, ${TOWNS * BRANCHES_PER_TOWN}) i`);
  await q(`INSERT INTO "OrgUnit" (id, code, name, kind, "parentId", path, depth, "updatedAt")
           SELECT 100000 + 2 * i + g, 'B' || i || '-G' || g, '第' || g || '党小组', 'PARTY_GROUP', 1000 + i, '/1/' || (2 + (i - 1) / ${BRANCHES_PER_TOWN}) || '/' || (1000 + i) || '/' || (100000 + 2 * i + g) || '/', 3, now()
             FROM generate_series(1, ${TOWNS * BRANCHES_PER_TOWN}) i, generate_series(0, 1) g`);
  await q(`INSERT INTO "Member" (name, "branchId", "partyGroupId", "updatedAt")
           SELECT '党员' || i || '-' || k, 1000 + i, 100000 + 2 * i + (k % 2), now()
             FROM generate_series(1, ${TOWNS * BRANCHES_PER_TOWN}) i, generate_series(1, ${MEMBERS_PER_BRANCH}) k`);
  await q(`ANALYZE "OrgUnit", "Member"`);
  const meeting = (type: string, unit: string, month: number, day: number, where: string, present: string) => `
    WITH m AS (
      INSERT INTO "Meeting" ("orgUnitId", type, topic, "plannedAt", "checkinOpensAt", "checkinClosesAt", status, "finalizedAt", "updatedAt")
      SELECT ${unit}, '${type}', '${type}', ts, ts, ts + interval '1 hour', 'HELD', ts + interval '1 hour', now()
        FROM generate_series(1, ${TOWNS * BRANCHES_PER_TOWN}) i, (SELECT '${chinaDate(2026, month, day, 19).toISOString()}'::timestamp AS ts) x
       WHERE ${where}
      RETURNING id, "orgUnitId"
    )
    INSERT INTO "Attendance" ("meetingId", "memberId", status, source, "updatedAt")
    SELECT m.id, mem.id, 'PRESENT', 'WECHAT', now()
      FROM m JOIN LATERAL (
        SELECT x.id, row_number() OVER (ORDER BY x.id) AS rn FROM "Member" x
         WHERE x."branchId" = CASE WHEN m."orgUnitId" >= 100000 THEN (m."orgUnitId" - 100000) / 2 + 1000 ELSE m."orgUnitId" END) mem
        ON mem.rn <= ${present}`;
  for (const month of [10, 11, 12]) {
    await q(meeting("COMMITTEE", "1000 + i", month, 5, month === 11 ? "i % 7 <> 0" : "true", "5"));
    await q(meeting("PARTY_GROUP", "100000 + 2 * i", month, 8, "true", "6"));
    await q(meeting("PARTY_GROUP", "100001 + 2 * i", month, 9, "i % 5 <> 0", "6"));
    await q(meeting("THEME_DAY", "1000 + i", month, 10, "true", "15"));
  }
  await q(meeting("MEMBER_CONGRESS", "1000 + i", 11, 20, "true", `CASE WHEN (m."orgUnitId" - 1000) % 4 = 0 THEN 8 ELSE 12 END`));
  await q(meeting("PARTY_LECTURE", "1000 + i", 12, 15, "i % 3 <> 0", "10"));
  await q(`ANALYZE`);
}

/** Ours: the rules engine, rolled up per town (what the compliance matrix and the 季通报 do). */
async function ours(prisma: PrismaClient): Promise<Tally> {
  const evaluated = await evaluateBranches(prisma, { path: "/1/", span: QUARTER, at: AT });
  const tally: Tally = new Map();
  for (const { branch, obligations } of evaluated) {
    const t = tally.get(branch.townId!) ?? { total: 0, held: 0 };
    for (const o of obligations) {
      t.total++;
      if (o.state === "HELD") t.held++;
    }
    tally.set(branch.townId!, t);
  }
  return tally;
}

/** Baseline: the same counts as one SQL statement written for exactly this rule set (no rules engine, no overrides). */
async function baseline(prisma: PrismaClient): Promise<Tally> {
  const rows = await prisma.$queryRaw<{ town: number; total: number; held: number }[]>`
    WITH br AS (
      SELECT id, "parentId" AS town FROM "OrgUnit" WHERE kind = 'BRANCH' AND active AND starts_with(path, '/1/')
    ), pg AS (
      SELECT g.id, g."parentId" AS bid FROM "OrgUnit" g JOIN br ON br.id = g."parentId" WHERE g.kind = 'PARTY_GROUP' AND g.active
    ), mem AS (
      SELECT "branchId" AS bid, count(*) AS n FROM "Member" WHERE status IN ('ACTIVE', 'PROBATIONARY') GROUP BY 1
    ), held AS (
      SELECT m.type::text AS type, m."orgUnitId" AS unit, CASE WHEN u.kind = 'BRANCH' THEN u.id ELSE u."parentId" END AS bid,
             date_trunc('month', m."plannedAt" + interval '8 hours') AS mon
        FROM "Meeting" m JOIN "OrgUnit" u ON u.id = m."orgUnitId"
       WHERE m.status = 'HELD' AND m."plannedAt" >= ${QUARTER.start} AND m."plannedAt" < ${QUARTER.end}
    ), congress AS (
      SELECT DISTINCT m."orgUnitId" AS bid
        FROM "Meeting" m JOIN mem ON mem.bid = m."orgUnitId"
       WHERE m.type = 'MEMBER_CONGRESS' AND m.status = 'HELD' AND m."plannedAt" >= ${QUARTER.start} AND m."plannedAt" < ${QUARTER.end}
         AND 2 * (SELECT count(*) FROM "Attendance" a JOIN "Member" x ON x.id = a."memberId"
                   WHERE a."meetingId" = m.id AND a.status = 'PRESENT' AND x."branchId" = m."orgUnitId") >= mem.n
    ), months AS (
      SELECT generate_series(date_trunc('month', ${QUARTER.start}::timestamp + interval '8 hours'), date_trunc('month', ${QUARTER.end}::timestamp + interval '8 hours') - interval '1 month', interval '1 month') AS mon
    ), hb AS (
      SELECT DISTINCT bid, type, mon FROM held
    ), hu AS (
      SELECT DISTINCT unit, mon FROM held WHERE type = 'PARTY_GROUP'
    ), obligations AS (
      SELECT br.town, hb.bid IS NOT NULL AS kept
        FROM br CROSS JOIN (VALUES ('COMMITTEE'), ('THEME_DAY')) t(type) CROSS JOIN months mo
        LEFT JOIN hb ON hb.bid = br.id AND hb.type = t.type AND hb.mon = mo.mon
      UNION ALL
      SELECT br.town, own.unit IS NOT NULL OR joint.unit IS NOT NULL
        FROM br JOIN pg ON pg.bid = br.id CROSS JOIN months mo
        LEFT JOIN hu own ON own.unit = pg.id AND own.mon = mo.mon
        LEFT JOIN hu joint ON joint.unit = br.id AND joint.mon = mo.mon
      UNION ALL
      SELECT br.town, c.bid IS NOT NULL FROM br LEFT JOIN congress c ON c.bid = br.id
      UNION ALL
      SELECT br.town, l.bid IS NOT NULL FROM br LEFT JOIN (SELECT DISTINCT bid FROM held WHERE type = 'PARTY_LECTURE') l ON l.bid = br.id
    )
    SELECT town, count(*)::int AS total, (count(*) FILTER (WHERE kept))::int AS held FROM obligations GROUP BY town`;
  return new Map(rows.map((r) => [r.town, { total: r.total, held: r.held }]));
}

/** Expected per town from the fixture's arithmetic, so neither side can be wrong in the same way as the other. */
function expected(): Tally {
  const t: Tally = new Map();
  for (let i = 1; i <= TOWNS * BRANCHES_PER_TOWN; i++) {
    const town = 2 + Math.floor((i - 1) / BRANCHES_PER_TOWN);
    const x = t.get(town) ?? { total: 0, held: 0 };
    // 3 months × (支委会 + 2 党小组 + 主题党日) + 党员大会 + 党课
    x.total += 3 * 4 + 2;
    x.held += (i % 7 === 0 ? 2 : 3) + 3 + (i % 5 === 0 ? 0 : 3) + 3 + (i % 4 === 0 ? 0 : 1) + (i % 3 === 0 ? 0 : 1);
    t.set(town, x);
  }
  return t;
}

function same(a: Tally, b: Tally, what: string) {
  const show = (x: Tally) => JSON.stringify([...x.entries()].sort((p, q) => p[0] - q[0]));
  if (show(a) !== show(b)) throw new Error(`${what}：结果与预期不符\n${show(a).slice(0, 300)}\n${show(b).slice(0, 300)}`);
}

export default async function calendarBench(h: BenchHarness): Promise<void> {
  // One fixture for every run: both sides only read.
  let shared: Promise<ScratchDatabase> | undefined;
  const fixture = () =>
    (shared ??= (async () => {
      const s = await h.scratchDatabase();
      await loadFixture(s.db.prisma);
      return s;
    })());
  const want = expected();
  const obligations = [...want.values()].reduce((n, x) => n + x.total, 0);
  try {
    await h.compare({
      name: `三会一课合规评估（${TOWNS * BRANCHES_PER_TOWN} 个支部，${obligations} 项义务，一个季度）规则引擎 vs 单条 SQL 聚合`,
      rows: obligations,
      ours: { setup: fixture, run: (s) => ours(s.db.prisma), check: async (_s, out) => same(out as Tally, want, "规则引擎") },
      baseline: { setup: fixture, run: (s) => baseline(s.db.prisma), check: async (_s, out) => same(out as Tally, want, "SQL 聚合") },
    });
  } finally {
    if (shared) await (await shared).drop();
  }
}
