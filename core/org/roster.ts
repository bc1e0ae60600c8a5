// The roster rule, written once: who a unit expects at a given moment.
//
// A member's CURRENT stint is the Member row itself (branchId, partyGroupId, status), valid from rosterSince (null =
// since before records began); every earlier stint is a MemberStint row valid over [validFrom, validTo). Member m is
// on unit u's roster at time t when
//   (m's current branch/party group is u, m.status is ACTIVE or PROBATIONARY, rosterSince is null or ≤ t)
//   OR (a stint of m for u with status ACTIVE or PROBATIONARY has validFrom null or ≤ t and validTo > t).
// A meeting's roster is its unit's roster at its plannedAt: a past meeting keeps its 应到 after a transfer or a status
// change, a later one counts the member where they are now. Stints of one member never overlap (a change closes the
// current stint at the moment the next begins), so counting current rows and stint rows separately counts no one twice.
import { Prisma, type MemberStatus, type OrgUnit, type PrismaClient } from "../db/index.ts";

/** Statuses that put a member on the roster (正式党员 and 预备党员). */
export const ROSTER_STATUSES: MemberStatus[] = ["ACTIVE", "PROBATIONARY"];
export const onRosterStatus = (s: MemberStatus) => ROSTER_STATUSES.includes(s);

type UnitRef = Pick<OrgUnit, "id" | "kind" | "path">;

/** Where-input for stints and current rows alike: the unit part of the rule, per kind. */
function unitPart(unit: UnitRef): { branchId?: number; partyGroupId?: number; branch?: Prisma.OrgUnitWhereInput } {
  switch (unit.kind) {
    case "PARTY_GROUP":
      return { partyGroupId: unit.id };
    case "BRANCH":
      return { branchId: unit.id };
    default:
      return { branch: { path: { startsWith: unit.path } } };
  }
}

/**
 * Prisma filter: members on `unit`'s roster at `at`. For a branch or party group as above; for a village, town or
 * county the members of every branch under it, and for a town or county (whose groups are cadre groups) only the
 * secretaries and console users among them (as now: those posts are not kept in history).
 */
export function rosterAtWhere(unit: UnitRef, at: Date): Prisma.MemberWhereInput {
  const part = unitPart(unit);
  const current: Prisma.MemberWhereInput = { ...part, status: { in: ROSTER_STATUSES }, OR: [{ rosterSince: null }, { rosterSince: { lte: at } }] };
  const past: Prisma.MemberWhereInput = {
    stints: { some: { ...part, status: { in: ROSTER_STATUSES }, OR: [{ validFrom: null }, { validFrom: { lte: at } }], validTo: { gt: at } } },
  };
  const onIt: Prisma.MemberWhereInput = { OR: [current, past] };
  if (unit.kind === "BRANCH" || unit.kind === "PARTY_GROUP" || unit.kind === "VILLAGE") return onIt;
  return { AND: [onIt, { OR: [{ isSecretary: true }, { cadreUser: { isNot: null } }] }] };
}

// ───────────────────────────── SQL (raw report queries) ─────────────────────────────
//
// For meetings of a branch or a party group (the 参会率 and the rules engine only count those). Arguments are SQL
// expressions: `kind` evaluates to 'BRANCH' or 'PARTY_GROUP' (text), `unitId` to the unit's id, `at` to a timestamp.

const STATUSES = Prisma.sql`('ACTIVE', 'PROBATIONARY')`;

/** SQL condition: the Member row aliased `member` (a bare identifier) is on the roster of unit (kind, unitId) at `at`. */
export function onRosterAtSql(member: string, kind: Prisma.Sql, unitId: Prisma.Sql, at: Prisma.Sql): Prisma.Sql {
  const r = Prisma.raw(member);
  return Prisma.sql`((${r}.status IN ${STATUSES} AND (${r}."rosterSince" IS NULL OR ${r}."rosterSince" <= ${at})
                      AND CASE WHEN ${kind} = 'BRANCH' THEN ${r}."branchId" = ${unitId} ELSE ${r}."partyGroupId" = ${unitId} END)
                  OR EXISTS (SELECT 1 FROM "MemberStint" st
                              WHERE st."memberId" = ${r}.id AND st.status IN ${STATUSES}
                                AND (st."validFrom" IS NULL OR st."validFrom" <= ${at}) AND st."validTo" > ${at}
                                AND CASE WHEN ${kind} = 'BRANCH' THEN st."branchId" = ${unitId} ELSE st."partyGroupId" = ${unitId} END))`;
}

/** SQL integer expression: how many members are on the roster of unit (kind, unitId) at `at` (index scans only). */
export function rosterSizeAtSql(kind: Prisma.Sql, unitId: Prisma.Sql, at: Prisma.Sql): Prisma.Sql {
  const count = (column: string) => {
    const c = Prisma.raw(`"${column}"`);
    return Prisma.sql`((SELECT count(*) FROM "Member" rr
                         WHERE rr.${c} = ${unitId} AND rr.status IN ${STATUSES} AND (rr."rosterSince" IS NULL OR rr."rosterSince" <= ${at}))
                     + (SELECT count(*) FROM "MemberStint" st
                         WHERE st.${c} = ${unitId} AND st."validTo" > ${at} AND st.status IN ${STATUSES}
                           AND (st."validFrom" IS NULL OR st."validFrom" <= ${at})))`;
  };
  // CASE evaluates only the branch taken, so each count uses its own index (branchId or partyGroupId).
  return Prisma.sql`(CASE WHEN ${kind} = 'BRANCH' THEN ${count("branchId")} ELSE ${count("partyGroupId")} END)::int`;
}

// ───────────────────────────── many meetings at once (the rules engine) ─────────────────────────────
//
// The rules engine needs the roster size of 100,000 meetings of 10,000 branches: counting per meeting is wasteful when
// almost nobody moved. The same rule, from the current roster size and the few changes since the period began.

/** A branch's roster changes that matter from `since` on: current members whose stint began later, and closed stints ending later. */
export interface RosterChanges {
  /** rosterSince of current roster members with rosterSince > since. */
  joinedAfter: Date[];
  /** Closed stints on the roster (ACTIVE/PROBATIONARY) with validTo > since. */
  stints: { validFrom: Date | null; validTo: Date }[];
}

/** Roster changes of these branches from `since` on (two small queries), by branch id; branches without any are absent. */
export async function branchRosterChanges(tx: Prisma.TransactionClient | PrismaClient, branchIds: number[], since: Date): Promise<Map<number, RosterChanges>> {
  const out = new Map<number, RosterChanges>();
  if (branchIds.length === 0) return out;
  const entry = (id: number) => out.get(id) ?? (out.set(id, { joinedAfter: [], stints: [] }), out.get(id)!);
  const joined = await tx.$queryRaw<{ branchId: number; rosterSince: Date }[]>`
    SELECT "branchId", "rosterSince" FROM "Member"
     WHERE "rosterSince" > ${since} AND status IN ${STATUSES} AND "branchId" = ANY(${branchIds}::int[])`;
  for (const j of joined) entry(j.branchId).joinedAfter.push(j.rosterSince);
  const stints = await tx.$queryRaw<{ branchId: number; validFrom: Date | null; validTo: Date }[]>`
    SELECT "branchId", "validFrom", "validTo" FROM "MemberStint"
     WHERE "branchId" = ANY(${branchIds}::int[]) AND "validTo" > ${since} AND status IN ${STATUSES}`;
  for (const s of stints) entry(s.branchId).stints.push({ validFrom: s.validFrom, validTo: s.validTo });
  return out;
}

/**
 * The roster size at `at` (≥ the `since` the changes were loaded from) given the CURRENT roster size (members on the
 * roster now, whatever their rosterSince): the rule above, counted the other way round.
 */
export function rosterSizeFrom(current: number, changes: RosterChanges | undefined, at: Date): number {
  if (!changes) return current;
  const notYet = changes.joinedAfter.filter((since) => since > at).length;
  const before = changes.stints.filter((s) => (s.validFrom === null || s.validFrom <= at) && s.validTo > at).length;
  return current - notYet + before;
}
