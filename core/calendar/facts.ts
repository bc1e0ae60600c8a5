// Loads what the rules engine needs for many branches at once: three set-based queries whatever the number of
// branches (10,000 in the benchmark), then the pure evaluation in memory.
import { Prisma, type PrismaClient } from "../db/index.ts";
import { branchRosterChanges, onRosterAtSql, rosterSizeFrom } from "../org/roster.ts";
import { periodsWithin, type Period } from "./periods.ts";
import { DEFAULT_RULES, applyRulesPatch, evaluateBranch, parseRulesPatch, REQUIRED_TYPES, type BranchFacts, type CalendarRules, type MeetingFact, type Obligation, type RulesPatch } from "./rules.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export const RULES_SETTING_KEY = "calendar.rules";

/** The county's rules: the defaults with the county's stored changes. */
export async function countyRules(tx: Tx): Promise<CalendarRules> {
  const row = await tx.setting.findUnique({ where: { key: RULES_SETTING_KEY } });
  return applyRulesPatch(DEFAULT_RULES, row ? parseRulesPatch(row.value) : null);
}

export async function storedCountyPatch(tx: Tx): Promise<RulesPatch | null> {
  const row = await tx.setting.findUnique({ where: { key: RULES_SETTING_KEY } });
  return row ? parseRulesPatch(row.value) : null;
}

export interface BranchInfo extends BranchFacts {
  code: string;
  name: string;
  path: string;
  /** The town above the branch (null for a branch directly under the county). */
  townId: number | null;
}

/** Branches in the subtree of `path` (or the listed ids), with their meetings of the 三会一课 types in the quarters overlapping `span`. */
export async function loadBranchFacts(tx: Tx, opts: { path: string; span: Pick<Period, "start" | "end">; branchIds?: number[] }): Promise<BranchInfo[]> {
  // Quarterly obligations of a month need the whole quarter's meetings.
  const quarters = periodsWithin("quarter", opts.span);
  const from = quarters[0].start;
  const to = quarters[quarters.length - 1].end;
  const ids = opts.branchIds ?? null;
  const branches = await tx.$queryRaw<{ id: number; code: string; name: string; path: string; themeDayOfMonth: number | null; rulesOverride: unknown; members: number }[]>`
    SELECT b.id, b.code, b.name, b.path, b."themeDayOfMonth", b."rulesOverride",
           (SELECT count(*) FROM "Member" m WHERE m."branchId" = b.id AND m.status IN ('ACTIVE', 'PROBATIONARY'))::int AS members
      FROM "OrgUnit" b
     WHERE b.kind = 'BRANCH' AND b.active AND starts_with(b.path, ${opts.path})
       AND (${ids}::int[] IS NULL OR b.id = ANY(${ids}::int[]))
     ORDER BY b.path`;
  if (branches.length === 0) return [];
  const branchIdList = branches.map((b) => b.id);
  const groups = await tx.$queryRaw<{ id: number; name: string; parentId: number }[]>`
    SELECT g.id, g.name, g."parentId" FROM "OrgUnit" g
     WHERE g.kind = 'PARTY_GROUP' AND g.active AND g."parentId" = ANY(${branchIdList}::int[])
     ORDER BY g.code`;
  // The branch's roster at the meeting's planned time (core/org/roster.ts): a member transferred in later is not
  // counted for an earlier meeting's quorum, nor one who left before it.
  const branchOf = Prisma.sql`COALESCE(b.id, u."parentId")`;
  const meetings = await tx.$queryRaw<(MeetingFact & { branchId: number })[]>`
    SELECT m.id, m.type, m."orgUnitId", m."plannedAt", m.status, m."finalizedAt",
           ${branchOf} AS "branchId",
           -- Present members of this branch: a guest from another branch does not make a quorum.
           (SELECT count(*) FROM "Attendance" a JOIN "Member" x ON x.id = a."memberId"
             WHERE a."meetingId" = m.id AND a.status = 'PRESENT'
               AND ${onRosterAtSql("x", Prisma.sql`'BRANCH'`, branchOf, Prisma.sql`m."plannedAt"`)})::int AS present
      FROM "Meeting" m
      JOIN "OrgUnit" u ON u.id = m."orgUnitId"
      LEFT JOIN "OrgUnit" b ON b.id = u.id AND u.kind = 'BRANCH'
     WHERE m."plannedAt" >= ${from} AND m."plannedAt" < ${to}
       AND m.type::text = ANY(${[...REQUIRED_TYPES]}::text[])
       AND m.status <> 'CANCELLED'
       AND ((u.kind = 'BRANCH' AND u.id = ANY(${branchIdList}::int[])) OR (u.kind = 'PARTY_GROUP' AND u."parentId" = ANY(${branchIdList}::int[])))`;
  const groupsOf = new Map<number, { id: number; name: string }[]>();
  for (const g of groups) groupsOf.set(g.parentId, [...(groupsOf.get(g.parentId) ?? []), { id: g.id, name: g.name }]);
  // The quorum's base: the branch's roster at the meeting's planned time, from the current roster and the few changes.
  const changes = await branchRosterChanges(tx, branchIdList, from);
  const current = new Map(branches.map((b) => [b.id, b.members]));
  const meetingsOf = new Map<number, MeetingFact[]>();
  for (const { branchId, ...m } of meetings) {
    if (changes.has(branchId)) m.rosterSize = rosterSizeFrom(current.get(branchId) ?? 0, changes.get(branchId), m.plannedAt);
    const list = meetingsOf.get(branchId);
    if (list) list.push(m);
    else meetingsOf.set(branchId, [m]);
  }
  // The town above each branch, by kind (a city may sit above the counties, so the depth says nothing).
  const ancestorIds = [...new Set(branches.flatMap((b) => b.path.split("/").filter(Boolean).map(Number)))];
  const townIds = new Set((await tx.orgUnit.findMany({ where: { id: { in: ancestorIds }, kind: "TOWN" }, select: { id: true } })).map((t) => t.id));
  return branches.map((b) => {
    const ancestors = b.path.split("/").filter(Boolean).map(Number);
    return {
      branchId: b.id,
      code: b.code,
      name: b.name,
      path: b.path,
      townId: ancestors.find((id) => townIds.has(id)) ?? null,
      memberCount: b.members,
      partyGroups: groupsOf.get(b.id) ?? [],
      themeDay: b.themeDayOfMonth,
      override: parseRulesPatch(b.rulesOverride),
      meetings: meetingsOf.get(b.id) ?? [],
    };
  });
}

export interface BranchEvaluation {
  branch: BranchInfo;
  obligations: Obligation[];
}

/** Facts and evaluation in one call: the compliance matrix, reminders and reports all start here. */
export async function evaluateBranches(
  tx: Tx,
  opts: { path: string; span: Pick<Period, "start" | "end">; at: Date; branchIds?: number[]; rules?: CalendarRules },
): Promise<BranchEvaluation[]> {
  const rules = opts.rules ?? (await countyRules(tx));
  const facts = await loadBranchFacts(tx, opts);
  return facts.map((branch) => ({ branch, obligations: evaluateBranch(branch, rules, opts.span, opts.at) }));
}
