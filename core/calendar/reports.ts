// 月报告 and 季通报 (design.md "Reports"): per branch, per town and in total for a month, and the towns of the
// county ranked for a quarter; as JSON, as Excel, and pushed to the cadre groups once their time comes.
//
// What the figures mean (the README repeats this):
// - 三会一课 required/held: the rules engine's obligations that settle in the period (compliance.ts: those whose
//   period ends within it; a 党小组会 obligation per party group). A branch is compliant when all of them are held.
//   完成率 (complianceRate) = held / (held + overdue), obligations still running do not count against anyone.
// - 参会率 (attendance rate) = present / expected, summed over the period's HELD meetings of the five 三会一课 types
//   (by planned time, including ones that did not count, e.g. a 党员大会 short of its quorum). expected = the meeting
//   unit's roster at the meeting's planned time (ACTIVE and PROBATIONARY members of the branch, or of the party group
//   for a 党小组会, with their history: core/org/roster.ts), so a later transfer or 去世 leaves a past month unchanged;
//   present = PRESENT attendance of members on that roster (guests from elsewhere and unlinked chat check-ins are not
//   counted; leave is not presence). null when nothing was held.
// - 签到 (check-ins): every non-cancelled meeting of the branch and its party groups planned in the period, 学习
//   included: how many, how many held, and PRESENT attendance rows (linked or not, guests included).
// - 民情诉求: complaintMetrics (core/complaints/metrics.ts) for tickets filed in the period up to `at`, by the unit
//   that holds them now: 响应率, 办结率, 满意率.
// - 季通报 score (0-100) per town, see townScore: 60% 三会一课 完成率 + 20% 参会率 + 20% 诉求办理 (mean of 响应率 and
//   办结率). A component without data (no meeting held, no ticket filed) is left out and the remaining weights are
//   scaled back to 100%, so a town is neither rewarded nor punished for having no complaints; a town with no settled
//   三会一课 obligation gets no score and is listed unranked.
import ExcelJS from "exceljs";
import type { Config } from "../config.ts";
import { Prisma, type PrismaClient, type ReportKind } from "../db/index.ts";
import { enqueue, PRIORITY } from "../delivery/outbox.ts";
import { complaintMetrics, sumComplaintCounts, type ComplaintCounts } from "../complaints/metrics.ts";
import { ratio } from "../rate.ts";
import { AppError } from "../kernel/errors.ts";
import { pathInScope, type ScopeHolder } from "../org/scope.ts";
import { onRosterAtSql, rosterSizeAtSql } from "../org/roster.ts";
import {
  DIRECT_TOWN,
  countedObligations,
  branchColor,
  isCompliant,
  periodRef,
  requirePeriod,
  resolveScopeUnit,
  tallyOf,
  townsOf,
  TYPE_LABEL,
  type PeriodRef,
  type Tally,
  type TownRef,
  type Tx,
  type UnitRef,
} from "./compliance.ts";
import { countyRules, evaluateBranches } from "./facts.ts";
import { claimNote, knownNotes, noteAction, setNoteDeliveries } from "./notes.ts";
import { chinaDate, chinaParts, periodOf, previousPeriod, type Period } from "./periods.ts";
import { REQUIRED_TYPES, type CalendarRules, type Obligation } from "./rules.ts";

// ───────────────────────────── figures ─────────────────────────────

export interface AttendanceFigures {
  /** HELD 三会一课 meetings in the period. */
  meetings: number;
  /** Roster members expected over those meetings (person-times, 应到人次). */
  expected: number;
  /** Of them present (实到人次) and on leave. */
  present: number;
  leave: number;
  /** present / expected (0-1), null when nothing was held. */
  rate: number | null;
}

export interface CheckinFigures {
  /** Non-cancelled meetings of every type (学习 included) planned in the period. */
  meetings: number;
  held: number;
  /** 学习 among them. */
  studies: number;
  /** PRESENT attendance rows (签到人次). */
  checkins: number;
}

export interface SummaryRow {
  compliance: Tally;
  attendance: AttendanceFigures;
  checkins: CheckinFigures;
  complaints: ComplaintCounts;
}

export interface BranchRow extends SummaryRow {
  id: number;
  code: string;
  name: string;
  /** The row of `towns` the branch belongs to: its town (null: directly under the county), or its county in a city's report. */
  townId: number | null;
  townName: string;
  compliant: boolean;
  color: "green" | "yellow" | "red" | "grey";
  /** 三会一课 meetings held in the period (by planned time), whether or not they counted. */
  meetingsHeld: number;
  /** Counted obligations past their period without a held meeting, and those due with nothing planned: "支委会（11月）", "党小组会（第一党小组，11月）". */
  overdue: string[];
  due: string[];
}

export type TownRow = TownRef & SummaryRow;

export interface PeriodSummary {
  period: PeriodRef;
  generatedAt: string;
  unit: UnitRef;
  branches: BranchRow[];
  /** The units the report is broken down by: the towns, or for a city its counties (see rowsLevel). */
  towns: TownRow[];
  total: SummaryRow;
}

/**
 * What a report on `unit` is broken down by (and the 季通报 ranks): its counties for a city, else the towns (a
 * county's towns, or the town a smaller unit lies in). A county's report is what it always was.
 */
export const rowsLevel = (unit: Pick<UnitRef, "kind">): "COUNTY" | "TOWN" => (unit.kind === "CITY" ? "COUNTY" : "TOWN");

/** The words for the rows of a report on `unit`: 乡镇 of 全县, or 县 of 全市. */
export const levelWords = (unit: Pick<UnitRef, "kind">) => (rowsLevel(unit) === "COUNTY" ? { row: "县（市、区）", whole: "全市" } : { row: "乡镇", whole: "全县" });

/** The counties under a city (plus 市直属 for branches under none), and each branch's county. */
async function countiesOf(tx: Tx, unit: { path: string }, branchPaths: string[]) {
  const rows = await tx.orgUnit.findMany({ where: { kind: "COUNTY", active: true, path: { startsWith: unit.path } }, select: { id: true, code: true, name: true }, orderBy: { code: "asc" } });
  const ids = new Set(rows.map((r) => r.id));
  const countyOf = (path: string) => path.split("/").filter(Boolean).map(Number).find((id) => ids.has(id)) ?? null;
  const refs: TownRef[] = rows.map((r) => ({ id: r.id, code: r.code, name: r.name }));
  if (branchPaths.some((p) => countyOf(p) == null)) refs.push({ id: null, code: "", name: "市直属" });
  return { refs, countyOf };
}

const emptyCounts = (): ComplaintCounts => sumComplaintCounts([]);

const sum = <T>(list: T[], f: (x: T) => number) => list.reduce((n, x) => n + f(x), 0);

function sumAttendance(list: AttendanceFigures[]): AttendanceFigures {
  const present = sum(list, (x) => x.present);
  const expected = sum(list, (x) => x.expected);
  return { meetings: sum(list, (x) => x.meetings), expected, present, leave: sum(list, (x) => x.leave), rate: ratio(present, expected) };
}

function sumCheckins(list: CheckinFigures[]): CheckinFigures {
  return { meetings: sum(list, (x) => x.meetings), held: sum(list, (x) => x.held), studies: sum(list, (x) => x.studies), checkins: sum(list, (x) => x.checkins) };
}

const monthLabel = (p: Period) => (p.kind === "month" ? `${chinaParts(p.start).month}月` : p.label.replace(/^\d+年/, ""));

/** "支委会（11月）", "党小组会（第一党小组，11月）". */
export function obligationLabel(o: Obligation): string {
  return `${TYPE_LABEL[o.type]}（${o.partyGroupName ? `${o.partyGroupName}，` : ""}${monthLabel(o.period)}）`;
}

// The 参会率 rule, shared by the 月报告 and the attendance trend: a meeting of unit m (a branch or a party group)
// expects that unit's roster at its planned time (core/org/roster.ts), and only members on it count as present or on
// leave. Both queries name their meetings CTE `m` (columns id, "unitId", kind, "plannedAt") and join attendance `a` to
// members `r`.
/** Each meeting's roster size (columns "meetingId", n). */
const ROSTER_CTE = Prisma.sql`roster AS (
      SELECT m.id AS "meetingId", ${rosterSizeAtSql(Prisma.sql`m.kind`, Prisma.sql`m."unitId"`, Prisma.sql`m."plannedAt"`)} AS n FROM m
    )`;
/** Attendance row `a` belongs to member `r` who is on meeting `m`'s unit roster at its planned time. */
const ON_MEETING_ROSTER = Prisma.sql`r.id = a."memberId" AND ${onRosterAtSql("r", Prisma.sql`m.kind`, Prisma.sql`m."unitId"`, Prisma.sql`m."plannedAt"`)}`;

interface MeetingAgg {
  branchId: number;
  meetings: number;
  held: number;
  studies: number;
  checkins: number;
  requiredHeld: number;
  expected: number;
  present: number;
  leave: number;
}

/** Meetings, check-ins and 三会一课 attendance per branch for [from, to): one set-based query. */
async function meetingFigures(tx: Tx, branchIds: number[], from: Date, to: Date): Promise<Map<number, MeetingAgg>> {
  if (branchIds.length === 0) return new Map();
  const rows = await tx.$queryRaw<MeetingAgg[]>`
    WITH m AS (
      SELECT m.id, m.type::text AS type, m.status::text AS status, u.id AS "unitId", u.kind::text AS kind, m."plannedAt",
             CASE WHEN u.kind = 'BRANCH' THEN u.id ELSE u."parentId" END AS "branchId",
             (m.status = 'HELD' AND m.type::text = ANY(${[...REQUIRED_TYPES]}::text[])) AS required
        FROM "Meeting" m JOIN "OrgUnit" u ON u.id = m."orgUnitId"
       WHERE m."plannedAt" >= ${from} AND m."plannedAt" < ${to} AND m.status <> 'CANCELLED'
         AND ((u.kind = 'BRANCH' AND u.id = ANY(${branchIds}::int[])) OR (u.kind = 'PARTY_GROUP' AND u."parentId" = ANY(${branchIds}::int[])))
    ), ${ROSTER_CTE}, att AS (
      SELECT a."meetingId",
             (count(*) FILTER (WHERE a.status = 'PRESENT'))::int AS checkins,
             (count(*) FILTER (WHERE a.status = 'PRESENT' AND r.id IS NOT NULL))::int AS present,
             (count(*) FILTER (WHERE a.status = 'LEAVE' AND r.id IS NOT NULL))::int AS leave
        FROM m JOIN "Attendance" a ON a."meetingId" = m.id
        LEFT JOIN "Member" r ON ${ON_MEETING_ROSTER}
       GROUP BY a."meetingId"
    )
    SELECT m."branchId",
           count(*)::int AS meetings,
           (count(*) FILTER (WHERE m.status = 'HELD'))::int AS held,
           (count(*) FILTER (WHERE m.type = 'STUDY'))::int AS studies,
           COALESCE(sum(att.checkins), 0)::int AS checkins,
           (count(*) FILTER (WHERE m.required))::int AS "requiredHeld",
           COALESCE(sum(roster.n) FILTER (WHERE m.required), 0)::int AS expected,
           COALESCE(sum(att.present) FILTER (WHERE m.required), 0)::int AS present,
           COALESCE(sum(att.leave) FILTER (WHERE m.required), 0)::int AS leave
      FROM m LEFT JOIN att ON att."meetingId" = m.id LEFT JOIN roster ON roster."meetingId" = m.id
     GROUP BY m."branchId"`;
  return new Map(rows.map((r) => [r.branchId, r]));
}

/**
 * Every figure of the reports for the branches under `unit` (already checked against the caller's scope) in
 * `period`, as of `at`. Rows for every town of the scope (a town without branches has zeros) and the total.
 */
export async function periodSummary(tx: Tx, unit: UnitRef & { path: string }, period: Period, at: Date, rules?: CalendarRules): Promise<PeriodSummary> {
  const county = rules ?? (await countyRules(tx));
  const evals = await evaluateBranches(tx, { path: unit.path, span: period, at, rules: county });
  const branchIds = evals.map((e) => e.branch.branchId);
  const figures = await meetingFigures(tx, branchIds, period.start, period.end);
  const to = at < period.end ? at : period.end;
  const scope: ScopeHolder = { role: "COUNTY_ADMIN", orgPath: unit.path };
  const level = rowsLevel(unit);
  const [byUnit, byTown] =
    period.start < to
      ? await Promise.all([
          complaintMetrics(tx, scope, { from: period.start, to, groupBy: "unit", now: at }),
          complaintMetrics(tx, scope, { from: period.start, to, groupBy: level === "COUNTY" ? "county" : "town", now: at }),
        ])
      : [null, null];
  const unitCounts = new Map<number, ComplaintCounts>((byUnit?.units ?? []).map((u) => [u.unitId, u]));
  const townCounts = new Map<number, ComplaintCounts>((byTown?.units ?? []).map((u) => [u.unitId, u]));
  // The row each branch counts in: its town, or in a city's report its county.
  let towns: TownRef[];
  let rowOfBranch: (e: (typeof evals)[number]) => number | null;
  if (level === "COUNTY") {
    const c = await countiesOf(tx, unit, evals.map((e) => e.branch.path));
    towns = c.refs;
    rowOfBranch = (e) => c.countyOf(e.branch.path);
  } else {
    towns = await townsOf(tx, unit, evals.map((e) => e.branch.townId));
    rowOfBranch = (e) => e.branch.townId;
  }
  const townName = new Map(towns.map((t) => [t.id, t.name]));
  const directName = towns.find((t) => t.id == null)?.name ?? DIRECT_TOWN.name;

  const attendanceOf = (f: MeetingAgg | undefined): AttendanceFigures => ({
    meetings: f?.requiredHeld ?? 0,
    expected: f?.expected ?? 0,
    present: f?.present ?? 0,
    leave: f?.leave ?? 0,
    rate: f ? ratio(f.present, f.expected) : null,
  });
  const checkinsOf = (f: MeetingAgg | undefined): CheckinFigures => ({ meetings: f?.meetings ?? 0, held: f?.held ?? 0, studies: f?.studies ?? 0, checkins: f?.checkins ?? 0 });

  const branches: BranchRow[] = evals.map((e) => {
    const counted = countedObligations(e, period);
    const f = figures.get(e.branch.branchId);
    return {
      id: e.branch.branchId,
      code: e.branch.code,
      name: e.branch.name,
      townId: rowOfBranch(e),
      townName: townName.get(rowOfBranch(e)) ?? directName,
      compliant: isCompliant(counted),
      color: branchColor(counted),
      compliance: tallyOf([counted]),
      meetingsHeld: f?.requiredHeld ?? 0,
      overdue: counted.filter((o) => o.state === "OVERDUE").map(obligationLabel),
      due: counted.filter((o) => o.state === "DUE").map(obligationLabel),
      attendance: attendanceOf(f),
      checkins: checkinsOf(f),
      complaints: unitCounts.get(e.branch.branchId) ?? emptyCounts(),
    };
  });

  const rowOf = (list: typeof evals, rows: BranchRow[], complaints: ComplaintCounts): SummaryRow => ({
    compliance: tallyOf(list.map((e) => countedObligations(e, period))),
    attendance: sumAttendance(rows.map((r) => r.attendance)),
    checkins: sumCheckins(rows.map((r) => r.checkins)),
    complaints,
  });
  return {
    period: periodRef(period),
    generatedAt: at.toISOString(),
    unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind },
    branches,
    towns: towns.map((t) => {
      const rows = branches.filter((b) => b.townId === t.id);
      const complaints = t.id == null ? sumComplaintCounts(rows.map((r) => r.complaints)) : (townCounts.get(t.id) ?? emptyCounts());
      return { ...t, ...rowOf(evals.filter((e) => rowOfBranch(e) === t.id), rows, complaints) };
    }),
    total: rowOf(evals, branches, byUnit?.total ?? emptyCounts()),
  };
}

// ───────────────────────────── 月报告 ─────────────────────────────

export interface MonthlyReport extends PeriodSummary {
  kind: "MONTHLY";
}

/** The 月报告 of the caller's subtree (or `unitId` in it) for "2026-11", as of `at` (a running month: so far). */
export async function monthlyReport(tx: Tx, scope: ScopeHolder, monthKey: string, at: Date, opts: { unitId?: number | null } = {}): Promise<MonthlyReport> {
  const period = requirePeriod(monthKey, ["month"]);
  const unit = await resolveScopeUnit(tx, scope, opts.unitId);
  return { kind: "MONTHLY", ...(await periodSummary(tx, unit, period, at)) };
}

// ───────────────────────────── 参会率 trend ─────────────────────────────

export interface AttendanceTrendItem {
  /** "2026-06". */
  month: string;
  /** "2026年6月". */
  label: string;
  /** As the 月报告's attendance for the same unit and month: HELD 三会一课 meetings, 应到/实到/请假 人次, 参会率. */
  meetings: number;
  expected: number;
  attended: number;
  leave: number;
  rate: number | null;
}

export interface AttendanceTrend {
  unit: UnitRef;
  items: AttendanceTrendItem[];
}

/**
 * 参会率 month by month for the `months` months ending with the one containing `at` (oldest first), for the
 * caller's subtree (or `unitId` in it). Same definition as the 月报告 (see meetingFigures and the file comment):
 * HELD meetings of the five 三会一课 types planned in the month, of the active branches under the unit and their
 * party groups; expected = the meeting unit's roster at its planned time, present/leave = attendance of members on it. One
 * set-based query for all months.
 */
export async function attendanceTrend(tx: Tx, scope: ScopeHolder, opts: { months: number; at: Date; unitId?: number | null }): Promise<AttendanceTrend> {
  const unit = await resolveScopeUnit(tx, scope, opts.unitId);
  const periods: Period[] = [periodOf("month", opts.at)];
  while (periods.length < opts.months) periods.unshift(previousPeriod(periods[0]));
  const from = periods[0].start;
  const to = periods[periods.length - 1].end;
  // Months are bucketed on the Shanghai clock (UTC+8, no daylight saving); sessions and columns are UTC.
  const rows = await tx.$queryRaw<{ month: string; meetings: number; expected: number; present: number; leave: number }[]>`
    WITH b AS (
      SELECT id FROM "OrgUnit" WHERE kind = 'BRANCH' AND active AND starts_with(path, ${unit.path})
    ), m AS (
      SELECT m.id, u.id AS "unitId", u.kind::text AS kind, m."plannedAt", to_char(m."plannedAt" + interval '8 hours', 'YYYY-MM') AS month
        FROM "Meeting" m JOIN "OrgUnit" u ON u.id = m."orgUnitId"
       WHERE m."plannedAt" >= ${from} AND m."plannedAt" < ${to} AND m.status = 'HELD'
         AND m.type::text = ANY(${[...REQUIRED_TYPES]}::text[])
         AND ((u.kind = 'BRANCH' AND u.id IN (SELECT id FROM b)) OR (u.kind = 'PARTY_GROUP' AND u."parentId" IN (SELECT id FROM b)))
    ), ${ROSTER_CTE}, att AS (
      SELECT a."meetingId",
             (count(*) FILTER (WHERE a.status = 'PRESENT'))::int AS present,
             (count(*) FILTER (WHERE a.status = 'LEAVE'))::int AS leave
        FROM m JOIN "Attendance" a ON a."meetingId" = m.id
        JOIN "Member" r ON ${ON_MEETING_ROSTER}
       GROUP BY a."meetingId"
    )
    SELECT m.month,
           count(*)::int AS meetings,
           COALESCE(sum(roster.n), 0)::int AS expected,
           COALESCE(sum(att.present), 0)::int AS present,
           COALESCE(sum(att.leave), 0)::int AS leave
      FROM m LEFT JOIN att ON att."meetingId" = m.id LEFT JOIN roster ON roster."meetingId" = m.id
     GROUP BY m.month`;
  const byMonth = new Map(rows.map((r) => [r.month, r]));
  return {
    unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind },
    items: periods.map((p) => {
      const r = byMonth.get(p.key);
      return {
        month: p.key,
        label: p.label,
        meetings: r?.meetings ?? 0,
        expected: r?.expected ?? 0,
        attended: r?.present ?? 0,
        leave: r?.leave ?? 0,
        rate: r ? ratio(r.present, r.expected) : null,
      };
    }),
  };
}

// ───────────────────────────── 季通报 ─────────────────────────────

/** The weights of the 季通报 score; see the file comment and townScore. */
export const SCORE_WEIGHTS = { compliance: 0.6, attendance: 0.2, complaints: 0.2 } as const;
export const SCORE_FORMULA = "综合得分 = 100 ×（三会一课完成率 × 60% + 参会率 × 20% + 诉求办理率 × 20%），诉求办理率 = (响应率 + 办结率) ÷ 2；某项无数据（无已召开会议、无诉求）时不计该项，其余权重按比例折算；无已到期三会一课的乡镇不排名。";
/** Towns named as best and as worst (fewer when there are few towns: never more than half each; more on a tie at the cut). */
export const BULLETIN_NAMED = 3;

/** 诉求办理率: the mean of 响应率 and 办结率 (null when nothing was filed). */
export const complaintHandlingRate = (c: Pick<ComplaintCounts, "responseRate" | "resolveRate">) =>
  c.responseRate == null || c.resolveRate == null ? null : Math.round(((c.responseRate + c.resolveRate) / 2) * 10_000) / 10_000;

/**
 * The 季通报 score, 0-100 with one decimal: 100 × Σ wᵢ·xᵢ / Σ wᵢ over the components that have data, with
 * w = 0.6 三会一课 完成率, 0.2 参会率, 0.2 诉求办理率. No 完成率 (nothing settled): no score at all.
 */
export function townScore(complianceRate: number | null, attendanceRate: number | null, handlingRate: number | null): number | null {
  if (complianceRate == null) return null;
  const parts: [number, number | null][] = [
    [SCORE_WEIGHTS.compliance, complianceRate],
    [SCORE_WEIGHTS.attendance, attendanceRate],
    [SCORE_WEIGHTS.complaints, handlingRate],
  ];
  const known = parts.filter((p): p is [number, number] => p[1] != null);
  const weighted = sum(known, ([w, x]) => w * x) / sum(known, ([w]) => w);
  return Math.round(1000 * weighted) / 10;
}

export interface BulletinTown {
  /** 1 = best; equal scores share a rank; null = not ranked (no score). */
  rank: number | null;
  id: number;
  code: string;
  name: string;
  branches: number;
  compliantBranches: number;
  obligations: number;
  held: number;
  overdue: number;
  complianceRate: number | null;
  attendanceRate: number | null;
  complaintsFiled: number;
  responseRate: number | null;
  resolveRate: number | null;
  satisfactionRate: number | null;
  handlingRate: number | null;
  score: number | null;
  named: "BEST" | "WORST" | null;
}

export interface QuarterlyBulletin {
  kind: "QUARTERLY";
  period: PeriodRef;
  generatedAt: string;
  county: UnitRef;
  weights: typeof SCORE_WEIGHTS;
  formula: string;
  towns: BulletinTown[];
  best: { id: number; name: string; rank: number; score: number }[];
  worst: { id: number; name: string; rank: number; score: number }[];
  total: SummaryRow;
}

const REPORT_UNIT_SELECT = { id: true, code: true, name: true, kind: true, path: true } as const;

/** The root of the tree the reports go out for: a county, or a city above several counties; null when there is none yet. */
export async function countyUnit(tx: Tx): Promise<(UnitRef & { path: string }) | null> {
  // A city before a county (the enum's order in the database says nothing: CITY was added last).
  const roots = await tx.orgUnit.findMany({ where: { kind: { in: ["CITY", "COUNTY"] }, parentId: null, active: true }, orderBy: { id: "asc" }, select: REPORT_UNIT_SELECT });
  return roots.find((r) => r.kind === "CITY") ?? roots[0] ?? null;
}

/**
 * The unit whose 季通报 a caller sees by default: the nearest county or city at or above their own unit (a town admin
 * sees the ranking of their county's towns, a county admin in a city their own county's, the city's admin the counties).
 */
export async function bulletinUnitOf(tx: Tx, scope: ScopeHolder): Promise<(UnitRef & { path: string }) | null> {
  const ids = (scope.orgPath ?? "").split("/").filter(Boolean).map(Number);
  if (ids.length === 0) return null;
  const above = await tx.orgUnit.findMany({ where: { id: { in: ids }, kind: { in: ["CITY", "COUNTY"] }, active: true }, select: REPORT_UNIT_SELECT });
  return above.sort((a, b) => ids.indexOf(b.id) - ids.indexOf(a.id))[0] ?? null;
}

/** Ranks the towns of a summary (pure): score desc, ties share a rank (then 完成率, then code for the order). */
export function rankTowns(s: PeriodSummary): Pick<QuarterlyBulletin, "towns" | "best" | "worst"> {
  const towns: BulletinTown[] = s.towns
    .filter((t): t is TownRow & { id: number } => t.id != null)
    .map((t) => {
      const handlingRate = complaintHandlingRate(t.complaints);
      return {
        rank: null,
        id: t.id,
        code: t.code,
        name: t.name,
        branches: t.compliance.branches,
        compliantBranches: t.compliance.compliantBranches,
        obligations: t.compliance.obligations,
        held: t.compliance.held,
        overdue: t.compliance.overdue,
        complianceRate: t.compliance.complianceRate,
        attendanceRate: t.attendance.rate,
        complaintsFiled: t.complaints.filed,
        responseRate: t.complaints.responseRate,
        resolveRate: t.complaints.resolveRate,
        satisfactionRate: t.complaints.satisfactionRate,
        handlingRate,
        score: townScore(t.compliance.complianceRate, t.attendance.rate, handlingRate),
        named: null,
      };
    });
  towns.sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || (b.complianceRate ?? -1) - (a.complianceRate ?? -1) || a.code.localeCompare(b.code));
  const ranked = towns.filter((t) => t.score != null);
  ranked.forEach((t, i) => (t.rank = i > 0 && ranked[i - 1].score === t.score ? ranked[i - 1].rank : i + 1));
  // The top and bottom k (k = 3, at most half the ranked towns); a tie at the cut names every town in it, and a town
  // is only named when its score separates it from the other end (all towns equal: nobody is named).
  const n = ranked.length;
  if (n === 1) ranked[0].named = "BEST";
  const k = Math.min(BULLETIN_NAMED, Math.floor(n / 2));
  if (k > 0) {
    const bestCut = ranked[k - 1].score!;
    const worstCut = ranked[n - k].score!;
    for (const t of ranked) t.named = t.score! >= bestCut && t.score! > worstCut ? "BEST" : t.score! <= worstCut && t.score! < bestCut ? "WORST" : null;
  }
  const pick = (named: "BEST" | "WORST") => ranked.filter((t) => t.named === named).map((t) => ({ id: t.id, name: t.name, rank: t.rank!, score: t.score! }));
  return { towns, best: pick("BEST"), worst: pick("WORST") };
}

/**
 * The 季通报 for "2026-Q3", as of `at`: the children of `unit` (default: the root) scored and ranked, the towns of a
 * county or the counties of a city. 400 BULLETIN_UNIT_INVALID for a unit below a county.
 */
export async function quarterlyBulletin(tx: Tx, quarterKey: string, at: Date, unit?: UnitRef & { path: string }): Promise<QuarterlyBulletin> {
  const period = requirePeriod(quarterKey, ["quarter"]);
  const county = unit ?? (await countyUnit(tx));
  if (!county) throw new AppError("COUNTY_NOT_FOUND");
  if (county.kind !== "COUNTY" && county.kind !== "CITY") throw new AppError("BULLETIN_UNIT_INVALID", `季通报按县（市）排名其下级单位，“${county.name}”不是县或市。`);
  const s = await periodSummary(tx, county, period, at);
  return { kind: "QUARTERLY", period: s.period, generatedAt: s.generatedAt, county: s.unit, weights: SCORE_WEIGHTS, formula: SCORE_FORMULA, ...rankTowns(s), total: s.total };
}

// ───────────────────────────── texts ─────────────────────────────

export const pct = (r: number | null | undefined) => (r == null ? "—" : `${(Math.round(r * 1000) / 10).toFixed(1)}%`);
const LIST_MAX = 8;
const listed = (names: string[]) => (names.length > LIST_MAX ? `${names.slice(0, LIST_MAX).join("、")} 等 ${names.length} 个` : names.join("、"));

function figuresLines(r: SummaryRow): string[] {
  const c = r.compliance;
  const k = r.complaints;
  return [
    `三会一课：应开 ${c.obligations} 项，已开 ${c.held} 项，逾期 ${c.overdue} 项${c.planned + c.due ? `，进行中 ${c.planned + c.due} 项` : ""}；完成率 ${pct(c.complianceRate)}。`,
    `参会率 ${pct(r.attendance.rate)}（应到 ${r.attendance.expected} 人次，实到 ${r.attendance.present} 人次）；各类会议和学习签到 ${r.checkins.checkins} 人次。`,
    k.filed ? `民情诉求 ${k.filed} 件：响应率 ${pct(k.responseRate)}，办结率 ${pct(k.resolveRate)}，满意率 ${pct(k.satisfactionRate)}。` : "民情诉求 0 件。",
  ];
}

/** "支委会（11月）", "党小组会（第一党小组，11月）", "党小组会（第二党小组，11月）" → "支委会、党小组会". */
export const typesOf = (labels: string[]) => [...new Set(labels.map((o) => o.replace(/（.*$/, "")))].join("、");

/** The 月报告 for a cadre group: the county's (townId undefined) or one town's. */
export function monthlyText(r: PeriodSummary, townId?: number | null): string {
  if (townId === undefined) {
    const t = r.total;
    const w = levelWords(r.unit);
    const red = r.towns.filter((x) => x.compliance.overdue > 0).map((x) => `${x.name}（${x.compliance.branchColors.red}）`);
    return [
      `【月报告】${r.period.label} ${r.unit.name}`,
      `${r.towns.filter((x) => x.id != null).length} 个${w.row}、${t.compliance.branches} 个支部，三会一课全部按时完成 ${t.compliance.compliantBranches} 个支部。`,
      ...figuresLines(t),
      ...(red.length ? [`有逾期的${w.row}（支部数）：${listed(red)}。`] : []),
      "明细见管理后台“月报告”（可导出 Excel）。",
    ].join("\n");
  }
  const town = r.towns.find((x) => x.id === townId)!;
  const rows = r.branches.filter((b) => b.townId === townId);
  const late = rows.filter((b) => b.overdue.length).map((b) => `${b.name}（${typesOf(b.overdue)}）`);
  return [
    `【月报告】${r.period.label} ${town.name}`,
    `支部 ${town.compliance.branches} 个，三会一课全部按时完成 ${town.compliance.compliantBranches} 个。`,
    ...figuresLines(town),
    ...(late.length ? [`逾期未开：${listed(late)}，请督促补开。`] : []),
  ].join("\n");
}

const rankLine = (t: { rank: number; name: string; score: number }) => `${t.rank}. ${t.name} ${t.score.toFixed(1)} 分`;

/** The 季通报 for the county's cadre group (townId undefined) or one town's. */
export function bulletinText(b: QuarterlyBulletin, townId?: number): string {
  const ranked = b.towns.filter((t) => t.rank != null).length;
  const w = levelWords(b.county);
  if (townId === undefined) {
    return [
      `【季通报】${b.period.label}${w.row}三会一课和民情诉求工作排名（满分 100）`,
      b.best.length ? `先进：${b.best.map(rankLine).join("；")}` : `本季度没有可排名的${w.row}。`,
      ...(b.worst.length ? [`靠后：${b.worst.map(rankLine).join("；")}`] : []),
      `共 ${ranked} 个${w.row}参加排名。计分：三会一课完成率 60%、参会率 20%、诉求办理 20%。完整排名见管理后台“季通报”。`,
    ].join("\n");
  }
  const t = b.towns.find((x) => x.id === townId)!;
  const head =
    t.rank == null
      ? `【季通报】${b.period.label} ${t.name}：本季度没有到期的三会一课，不参加排名。`
      : `【季通报】${b.period.label} ${t.name}综合得分 ${t.score!.toFixed(1)}，${w.whole}第 ${t.rank} 名（共 ${ranked} 个${w.row}）。`;
  return [
    head,
    `三会一课完成率 ${pct(t.complianceRate)}（逾期 ${t.overdue} 项），参会率 ${pct(t.attendanceRate)}，诉求办理 ${pct(t.handlingRate)}。`,
    ...(t.named === "BEST" ? [`本季度被列为先进${w.row}，望保持。`] : t.named === "WORST" ? ["本季度排名靠后，请对照逾期事项抓紧整改。"] : []),
  ].join("\n");
}

// ───────────────────────────── Excel ─────────────────────────────

const THIN = { style: "thin" as const, color: { argb: "FF999999" } };
const BORDER = { top: THIN, left: THIN, bottom: THIN, right: THIN };
const FILL: Record<string, string> = { green: "FFD9F2D9", yellow: "FFFFF2CC", red: "FFF8D7DA", grey: "FFEDEDED" };
const asPct = (r: number | null) => (r == null ? "—" : r);

function sheet(wb: ExcelJS.Workbook, name: string, title: string, note: string, headers: { header: string; width: number; pct?: boolean }[]) {
  const ws = wb.addWorksheet(name, { pageSetup: { paperSize: 9, orientation: "landscape", fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
  ws.columns = headers.map((h) => ({ width: h.width }));
  const t = ws.addRow([title]);
  ws.mergeCells(t.number, 1, t.number, headers.length);
  t.getCell(1).font = { bold: true, size: 15 };
  t.getCell(1).alignment = { horizontal: "center" };
  const n = ws.addRow([note]);
  ws.mergeCells(n.number, 1, n.number, headers.length);
  n.getCell(1).alignment = { wrapText: true };
  n.height = 32;
  const h = ws.addRow(headers.map((x) => x.header));
  h.eachCell((cell) => {
    cell.font = { bold: true };
    cell.alignment = { horizontal: "center", vertical: "middle", wrapText: true };
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.border = BORDER;
  });
  ws.views = [{ state: "frozen", ySplit: h.number, xSplit: 0 }];
  const add = (values: (string | number | null)[], opts: { bold?: boolean; color?: string } = {}) => {
    const row = ws.addRow(values);
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cell.border = BORDER;
      if (headers[col - 1]?.pct && typeof cell.value === "number") cell.numFmt = "0.0%";
      if (opts.bold) cell.font = { bold: true };
      if (opts.color && FILL[opts.color]) cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: FILL[opts.color] } };
    });
    return row;
  };
  return { ws, add };
}

const SUMMARY_HEADERS = [
  { header: "支部数", width: 8 },
  { header: "全部完成支部", width: 10 },
  { header: "三会一课应开（项）", width: 10 },
  { header: "已开", width: 8 },
  { header: "逾期", width: 8 },
  { header: "进行中", width: 8 },
  { header: "完成率", width: 9, pct: true },
  { header: "应到人次", width: 9 },
  { header: "实到人次", width: 9 },
  { header: "参会率", width: 9, pct: true },
  { header: "会议和学习（次）", width: 10 },
  { header: "签到人次", width: 9 },
  { header: "诉求（件）", width: 9 },
  { header: "响应率", width: 9, pct: true },
  { header: "办结率", width: 9, pct: true },
  { header: "满意率", width: 9, pct: true },
];

const summaryValues = (r: SummaryRow) => [
  r.compliance.branches,
  r.compliance.compliantBranches,
  r.compliance.obligations,
  r.compliance.held,
  r.compliance.overdue,
  r.compliance.planned + r.compliance.due,
  asPct(r.compliance.complianceRate),
  r.attendance.expected,
  r.attendance.present,
  asPct(r.attendance.rate),
  r.checkins.meetings,
  r.checkins.checkins,
  r.complaints.filed,
  asPct(r.complaints.responseRate),
  asPct(r.complaints.resolveRate),
  asPct(r.complaints.satisfactionRate),
];

const NOTE_MONTHLY =
  "三会一课按本期内到期的事项统计（党小组会按党小组计）；完成率 = 已开 ÷（已开 + 逾期）。参会率 = 已召开三会一课的实到人次 ÷ 应到人次（按会议时的名单，转接、去世等不改变已开会议的应到）。诉求按提交时间统计。";

export async function monthlyWorkbook(r: PeriodSummary, now = new Date()): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;
  const towns = sheet(wb, "乡镇汇总", `${r.unit.name}${r.period.label}三会一课和民情诉求月报告`, NOTE_MONTHLY, [{ header: levelWords(r.unit).row, width: 16 }, ...SUMMARY_HEADERS]);
  for (const t of r.towns) towns.add([t.name, ...summaryValues(t)], { color: t.compliance.overdue ? "red" : undefined });
  towns.add(["合计", ...summaryValues(r.total)], { bold: true });

  const branches = sheet(wb, "支部明细", `${r.unit.name}${r.period.label}各支部情况`, NOTE_MONTHLY, [
    { header: levelWords(r.unit).row, width: 12 },
    { header: "支部", width: 20 },
    { header: "编码", width: 16 },
    { header: "状态", width: 8 },
    ...SUMMARY_HEADERS.slice(2),
    { header: "逾期未开", width: 30 },
  ]);
  const STATUS = { green: "已完成", yellow: "进行中", red: "有逾期", grey: "未开始" } as const;
  for (const b of r.branches) {
    branches.add([b.townName, b.name, b.code, b.compliant ? "已完成" : STATUS[b.color], ...summaryValues(b).slice(2), b.overdue.join("、")], { color: b.color });
  }
  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}

export async function bulletinWorkbook(b: QuarterlyBulletin, now = new Date()): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;
  const s = sheet(wb, "乡镇排名", `${b.county.name}${b.period.label}${levelWords(b.county).row}工作通报`, SCORE_FORMULA, [
    { header: "名次", width: 6 },
    { header: levelWords(b.county).row, width: 16 },
    { header: "综合得分", width: 9 },
    { header: "支部数", width: 8 },
    { header: "全部完成支部", width: 10 },
    { header: "三会一课应开（项）", width: 10 },
    { header: "已开", width: 8 },
    { header: "逾期", width: 8 },
    { header: "完成率", width: 9, pct: true },
    { header: "参会率", width: 9, pct: true },
    { header: "诉求（件）", width: 9 },
    { header: "响应率", width: 9, pct: true },
    { header: "办结率", width: 9, pct: true },
    { header: "诉求办理率", width: 10, pct: true },
    { header: "满意率", width: 9, pct: true },
    { header: "通报", width: 8 },
  ]);
  for (const t of b.towns) {
    s.add(
      [
        t.rank ?? "—",
        t.name,
        t.score ?? "—",
        t.branches,
        t.compliantBranches,
        t.obligations,
        t.held,
        t.overdue,
        asPct(t.complianceRate),
        asPct(t.attendanceRate),
        t.complaintsFiled,
        asPct(t.responseRate),
        asPct(t.resolveRate),
        asPct(t.handlingRate),
        asPct(t.satisfactionRate),
        t.named === "BEST" ? "先进" : t.named === "WORST" ? "靠后" : t.rank == null ? "未排名" : "",
      ],
      { color: t.named === "BEST" ? "green" : t.named === "WORST" ? "red" : undefined },
    );
  }
  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}

export const monthlyFileName = (unitName: string, key: string) => ({ filename: `月报告-${unitName}-${key}.xlsx`, asciiFilename: `monthly-report-${key}.xlsx` });
export const bulletinFileName = (key: string) => ({ filename: `季通报-${key}.xlsx`, asciiFilename: `quarterly-bulletin-${key}.xlsx` });

// ───────────────────────────── pushing them out ─────────────────────────────

export const REPORT_NOTE_KIND = { MONTHLY: "report-monthly", QUARTERLY: "report-quarterly" } as const satisfies Record<ReportKind, string>;
export const reportNoteKey = (kind: ReportKind, periodKey: string) => `${REPORT_NOTE_KIND[kind]}:${periodKey}`;

interface DueReport {
  kind: ReportKind;
  period: Period;
  dueAt: Date;
}

/**
 * The reports whose fire time may matter at `now`: the fire time in the current month (quarter) and the one before,
 * each for the period before its own. Anything older is past any catch-up horizon (at most 31 days).
 */
export function reportSchedule(config: Pick<Config, "REPORT_MONTHLY_AT" | "REPORT_QUARTERLY_AT">, now: Date): DueReport[] {
  const out: DueReport[] = [];
  const month = periodOf("month", now);
  for (const m of [previousPeriod(month), month]) {
    const { year, month: mo } = chinaParts(m.start);
    const at = config.REPORT_MONTHLY_AT;
    out.push({ kind: "MONTHLY", period: previousPeriod(m), dueAt: chinaDate(year, mo, at.day, at.hour, at.minute) });
  }
  const quarter = periodOf("quarter", now);
  for (const q of [previousPeriod(quarter), quarter]) {
    const { year, month: mo } = chinaParts(q.start);
    const at = config.REPORT_QUARTERLY_AT;
    out.push({ kind: "QUARTERLY", period: previousPeriod(q), dueAt: chinaDate(year, mo, at.day, at.hour, at.minute) });
  }
  return out;
}

/** Active cadre groups (ChatGroup kind CADRE) bound to these units, on a chat platform. */
async function cadreGroups(tx: Tx, unitIds: number[]) {
  return tx.chatGroup.findMany({
    where: { orgUnitId: { in: unitIds }, kind: "CADRE", active: true, channel: { in: ["WECHAT", "QQ"] } },
    select: { id: true, channel: true, orgUnitId: true },
    orderBy: { id: "asc" },
  });
}

/**
 * Builds, stores (`snapshot`: the root's report only) and announces one report to the cadre groups of `county` and of
 * the units of its rows (its towns; a city's counties); the caller has claimed its note in this transaction. Returns
 * deliveries written.
 */
async function sendReport(tx: Prisma.TransactionClient, r: DueReport, county: UnitRef & { path: string }, key: string, now: Date, snapshot = true): Promise<number> {
  const rowUnits = await tx.orgUnit.findMany({ where: { kind: rowsLevel(county), active: true, path: { startsWith: county.path } }, select: { id: true } });
  const groups = await cadreGroups(tx, [county.id, ...rowUnits.map((t) => t.id)]);
  let data: MonthlyReport | QuarterlyBulletin;
  let textFor: (unitId: number) => string;
  if (r.kind === "MONTHLY") {
    const report: MonthlyReport = { kind: "MONTHLY", ...(await periodSummary(tx, county, r.period, now)) };
    data = report;
    textFor = (unitId) => monthlyText(report, unitId === county.id ? undefined : unitId);
  } else {
    const bulletin = await quarterlyBulletin(tx, r.period.key, now, county);
    data = bulletin;
    textFor = (unitId) => bulletinText(bulletin, unitId === county.id ? undefined : unitId);
  }
  // No upsert: the note's key already made this the only sender; a second snapshot would be a bug worth failing on.
  if (snapshot) await tx.reportSnapshot.create({ data: { kind: r.kind, period: r.period.key, data: data as unknown as Prisma.InputJsonValue, generatedAt: now } });
  let n = 0;
  for (const g of groups) {
    const known = g.orgUnitId === county.id || (r.kind === "MONTHLY" ? (data as MonthlyReport).towns : (data as QuarterlyBulletin).towns).some((t) => t.id === g.orgUnitId);
    if (!known) continue;
    if (await enqueue(tx, { channel: g.channel as "WECHAT" | "QQ", groupId: g.id, body: textFor(g.orgUnitId!), priority: PRIORITY.notice, idempotencyKey: `${key}:g${g.id}` })) n++;
  }
  return n;
}

/**
 * Level-triggered like the rest of the calendar: for each report whose fire time (REPORT_MONTHLY_AT /
 * REPORT_QUARTERLY_AT, Asia/Shanghai) has come and that has no CalendarNote yet, either sends it (ReportSnapshot +
 * one message to the county's and each town's cadre groups, in the transaction that claims the note) or, past
 * CALENDAR_CATCHUP_HOURS, records it as skipped. Safe to call every minute from any number of processes.
 */
export async function sendDueReports(prisma: PrismaClient, config: Config, now: Date): Promise<{ sent: number; skipped: number }> {
  const horizonMs = config.CALENDAR_CATCHUP_HOURS * 3600_000;
  const due = reportSchedule(config, now)
    .map((r) => ({ ...r, key: reportNoteKey(r.kind, r.period.key), action: noteAction(now, r.dueAt, horizonMs) }))
    .filter((r) => r.action.act !== "wait");
  if (due.length === 0) return { sent: 0, skipped: 0 };
  const known = await knownNotes(prisma, due.map((r) => r.key));
  const county = await countyUnit(prisma);
  let sent = 0;
  let skipped = 0;
  for (const r of due) {
    if (known.has(r.key) || !county) continue; // without a county there is nobody to report to: wait for one
    const note = { key: r.key, kind: REPORT_NOTE_KIND[r.kind], orgUnitId: county.id, period: r.period.key, dueAt: r.dueAt };
    if (r.action.act === "skip") {
      const reason = r.action.reason;
      if (await prisma.$transaction((tx) => claimNote(tx, note, "SKIPPED", reason))) skipped++;
      continue;
    }
    const won = await prisma.$transaction(
      async (tx) => {
        if (!(await claimNote(tx, note))) return false;
        let n = await sendReport(tx, r, county, r.key, now);
        // Under a city each county also gets its own report, ranking its towns, for its own and its towns' groups.
        if (county.kind === "CITY") {
          const counties = await tx.orgUnit.findMany({ where: { kind: "COUNTY", active: true, path: { startsWith: county.path } }, select: REPORT_UNIT_SELECT, orderBy: { code: "asc" } });
          for (const c of counties) n += await sendReport(tx, r, c, `${r.key}:u${c.id}`, now, false);
        }
        await setNoteDeliveries(tx, r.key, n);
        return true;
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    if (won) sent++;
  }
  return { sent, skipped };
}

/**
 * The published 季通报 a caller may read, newest first: those of a unit in their scope, and those of the county they
 * belong to (a town admin reads the ranking of the towns). A county admin under a city does not read the city's
 * ranking of the counties.
 */
export async function rankingHistory(tx: Tx, scope: ScopeHolder, limit: number): Promise<{ period: string; generatedAt: Date; bulletin: QuarterlyBulletin }[]> {
  if (!scope.orgPath) return [];
  const rows = await tx.reportSnapshot.findMany({ where: { kind: "QUARTERLY" }, orderBy: { period: "desc" } });
  const bulletins = rows.map((r) => ({ period: r.period, generatedAt: r.generatedAt, bulletin: r.data as unknown as QuarterlyBulletin }));
  const unitIds = [...new Set(bulletins.map((b) => b.bulletin.county?.id).filter((id): id is number => typeof id === "number"))];
  const units = new Map((await tx.orgUnit.findMany({ where: { id: { in: unitIds } }, select: { id: true, kind: true, path: true } })).map((u) => [u.id, u]));
  return bulletins
    .filter(({ bulletin }) => {
      const unit = units.get(bulletin.county?.id);
      if (!unit) return false;
      return pathInScope(scope, unit.path) || (unit.kind === "COUNTY" && scope.orgPath!.startsWith(unit.path));
    })
    .slice(0, limit);
}
