// The 三会一课 compliance matrix: for every branch in a scope, each required type in each month or quarter of the
// period asked for, with its state and colour (green held · yellow planned/due · red overdue · grey not started),
// the meetings behind it and, for 党小组会, each party group's own state; rolled up per town and for the scope.
// Everything comes from the rules engine (rules.ts), so the matrix, the reminders and the reports agree.
//
// Which obligations a roll-up counts: those whose period ENDS within the period asked for. A quarter counts all its
// obligations; a month counts its monthly ones, plus the quarter's when it is the quarter's last month (the quarter's
// 党员大会 and 党课 show in every month's matrix, `counted: false` until then). Summed over a year's monthly reports,
// every obligation is therefore counted exactly once.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { MEETING_TYPE_LABEL } from "../meetings/labels.ts";
import { hasRoleAtLeast, pathInScope, type ScopeHolder } from "../org/scope.ts";
import { countyRules, evaluateBranches, type BranchEvaluation } from "./facts.ts";
import { parsePeriodKey, type Period, type PeriodKind } from "./periods.ts";
import { branchRules, complianceRate, REQUIRED_TYPES, STATE_COLOR, type CalendarRules, type Obligation, type ObligationState, type RequiredType } from "./rules.ts";

export type Tx = Prisma.TransactionClient | PrismaClient;

export const TYPE_LABEL: Record<RequiredType, string> = {
  MEMBER_CONGRESS: MEETING_TYPE_LABEL.MEMBER_CONGRESS,
  COMMITTEE: MEETING_TYPE_LABEL.COMMITTEE,
  PARTY_GROUP: MEETING_TYPE_LABEL.PARTY_GROUP,
  PARTY_LECTURE: MEETING_TYPE_LABEL.PARTY_LECTURE,
  THEME_DAY: MEETING_TYPE_LABEL.THEME_DAY,
};

export const STATE_LABEL: Record<ObligationState, string> = { HELD: "已召开", PLANNED: "计划中", DUE: "待安排", OVERDUE: "已逾期", UPCOMING: "未开始" };

/** A cell's state: an obligation's, or NOT_REQUIRED (the type is switched off for the branch, or a 党小组会 of a branch without party groups). */
export type CellState = ObligationState | "NOT_REQUIRED";
export type CellColor = "green" | "yellow" | "red" | "grey" | "none";

export interface PeriodRef {
  kind: PeriodKind;
  key: string;
  label: string;
  start: string;
  end: string;
}

export const periodRef = (p: Period): PeriodRef => ({ kind: p.kind, key: p.key, label: p.label, start: p.start.toISOString(), end: p.end.toISOString() });

export interface UnitRef {
  id: number;
  code: string;
  name: string;
  kind: string;
}

/** The period an API or chat caller names: 400 PERIOD_INVALID for anything else, or for a kind not wanted here. */
export function requirePeriod(key: string | undefined | null, kinds: PeriodKind[] = ["month", "quarter"]): Period {
  const p = key ? parsePeriodKey(key) : undefined;
  const example = kinds.length === 2 ? "2026-11（月）或 2026-Q4（季度）" : kinds[0] === "month" ? "2026-11（月份）" : "2026-Q4（季度）";
  if (!p || !kinds.includes(p.kind)) throw new AppError("PERIOD_INVALID", `期间应写成 ${example}${key ? `，收到的是“${key}”` : ""}。`);
  return p;
}

/**
 * The unit a report or matrix is about: `unitId` (404 ORG_UNIT_NOT_FOUND, 403 OUT_OF_SCOPE outside the caller's
 * subtree) or the caller's own unit. Branch secretaries and above only (403 ROLE_REQUIRED).
 */
export async function resolveScopeUnit(tx: Tx, scope: ScopeHolder, unitId?: number | null): Promise<UnitRef & { path: string }> {
  if (!hasRoleAtLeast(scope, "BRANCH_SECRETARY") || !scope.orgPath) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以查看三会一课落实情况和报告。");
  const select = { id: true, code: true, name: true, kind: true, path: true, active: true } as const;
  const unit = unitId != null ? await tx.orgUnit.findUnique({ where: { id: unitId }, select }) : await tx.orgUnit.findFirst({ where: { path: scope.orgPath }, select });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  if (!pathInScope(scope, unit.path)) throw new AppError("OUT_OF_SCOPE");
  return { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind, path: unit.path };
}

// ───────────────────────────── cells ─────────────────────────────

export interface PartyGroupCell {
  id: number;
  name: string;
  state: ObligationState;
  color: CellColor;
  heldMeetingIds: number[];
  plannedMeetingIds: number[];
}

export interface ComplianceCell {
  type: RequiredType;
  typeLabel: string;
  period: PeriodRef;
  /** For 党小组会 with several party groups: the worst of theirs (逾期 > 待安排 > 计划中 > 未开始 > 已召开). */
  state: CellState;
  stateLabel: string;
  color: CellColor;
  /** Meetings to hold per obligation (per party group for 党小组会). */
  required: number;
  /** Obligations behind the cell: 1, or one per party group; and how many of them are held. */
  obligations: number;
  heldObligations: number;
  heldMeetingIds: number[];
  plannedMeetingIds: number[];
  /** Meetings of the type in the period that do not count: NO_QUORUM (党员大会 below its quorum) or NO_ATTENDANCE. */
  notCounted: { id: number; reason: "NO_QUORUM" | "NO_ATTENDANCE" }[];
  /** Nothing held or planned and the period ends soon (or has ended). */
  attentionNeeded: boolean;
  /** 主题党日: the branch's fixed day in this month. */
  fixedDay: string | null;
  /** Counted in the roll-ups of the period asked for (its period ends within it; see the file comment). */
  counted: boolean;
  /** 党小组会 only: each party group. */
  partyGroups: PartyGroupCell[] | null;
}

const SEVERITY: Record<ObligationState, number> = { HELD: 0, UPCOMING: 1, PLANNED: 2, DUE: 3, OVERDUE: 4 };
const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

/** True when obligation period `p` ends within `within` (so it settles there). */
export const endsWithin = (p: Pick<Period, "end">, within: Pick<Period, "start" | "end">) => p.end > within.start && p.end <= within.end;

/** The cells of one branch: its obligations grouped by (type, period), in REQUIRED_TYPES order, then by period. */
export function branchCells(e: BranchEvaluation, rules: CalendarRules, asked: Period): ComplianceCell[] {
  const byKey = new Map<string, Obligation[]>();
  for (const o of e.obligations) {
    const k = `${o.type}|${o.period.key}`;
    const list = byKey.get(k);
    if (list) list.push(o);
    else byKey.set(k, [o]);
  }
  const cells: ComplianceCell[] = [];
  for (const type of REQUIRED_TYPES) {
    const groups = [...byKey.entries()].filter(([k]) => k.startsWith(`${type}|`)).map(([, os]) => os);
    if (groups.length === 0) {
      // Not owed at all: the type is switched off for the branch (rules), or 党小组会 of a branch without party groups.
      cells.push(notRequiredCell(type, asked, rules.types[type] ? "NO_PARTY_GROUPS" : "SWITCHED_OFF"));
      continue;
    }
    groups.sort((a, b) => a[0].period.start.getTime() - b[0].period.start.getTime());
    for (const os of groups) cells.push(cellOf(type, os, asked));
  }
  return cells;
}

function notRequiredCell(type: RequiredType, period: Period, why: "NO_PARTY_GROUPS" | "SWITCHED_OFF"): ComplianceCell {
  return {
    type,
    typeLabel: TYPE_LABEL[type],
    period: periodRef(period),
    state: "NOT_REQUIRED",
    stateLabel: why === "NO_PARTY_GROUPS" ? "未设党小组" : "无需召开",
    color: "none",
    required: 0,
    obligations: 0,
    heldObligations: 0,
    heldMeetingIds: [],
    plannedMeetingIds: [],
    notCounted: [],
    attentionNeeded: false,
    fixedDay: null,
    counted: false,
    partyGroups: type === "PARTY_GROUP" ? [] : null,
  };
}

function cellOf(type: RequiredType, os: Obligation[], asked: Period): ComplianceCell {
  const worst = os.reduce((w, o) => (SEVERITY[o.state] > SEVERITY[w] ? o.state : w), os[0].state);
  const notCounted = new Map<number, "NO_QUORUM" | "NO_ATTENDANCE">();
  for (const o of os) for (const n of o.notCounted) notCounted.set(n.id, n.reason);
  return {
    type,
    typeLabel: TYPE_LABEL[type],
    period: periodRef(os[0].period),
    state: worst,
    stateLabel: STATE_LABEL[worst],
    color: STATE_COLOR[worst],
    required: os[0].required,
    obligations: os.length,
    heldObligations: os.filter((o) => o.state === "HELD").length,
    heldMeetingIds: uniq(os.flatMap((o) => o.heldMeetingIds)),
    plannedMeetingIds: uniq(os.flatMap((o) => o.plannedMeetingIds)),
    notCounted: [...notCounted.entries()].map(([id, reason]) => ({ id, reason })).sort((a, b) => a.id - b.id),
    attentionNeeded: os.some((o) => o.attentionNeeded),
    fixedDay: os[0].fixedDay?.toISOString() ?? null,
    counted: endsWithin(os[0].period, asked),
    partyGroups:
      type === "PARTY_GROUP"
        ? os.map((o) => ({ id: o.partyGroupId!, name: o.partyGroupName ?? "", state: o.state, color: STATE_COLOR[o.state], heldMeetingIds: o.heldMeetingIds, plannedMeetingIds: o.plannedMeetingIds }))
        : null,
  };
}

// ───────────────────────────── roll-ups ─────────────────────────────

export interface Tally {
  branches: number;
  /** Branches whose counted obligations are all held (at least one). */
  compliantBranches: number;
  /** Counted obligations (a 党小组会 obligation per party group) and their states. */
  obligations: number;
  held: number;
  overdue: number;
  planned: number;
  due: number;
  upcoming: number;
  /** HELD + OVERDUE: the ones whose outcome is known. */
  settled: number;
  /** complianceRate of rules.ts: held / settled (0-1), null when nothing is settled. */
  complianceRate: number | null;
  /** Counted obligations by colour. */
  colors: { green: number; yellow: number; red: number; grey: number };
  /** Branches by colour: red with anything overdue, else yellow with anything open, else green with anything held, else grey. */
  branchColors: { green: number; yellow: number; red: number; grey: number };
}

export const emptyTally = (): Tally => ({
  branches: 0,
  compliantBranches: 0,
  obligations: 0,
  held: 0,
  overdue: 0,
  planned: 0,
  due: 0,
  upcoming: 0,
  settled: 0,
  complianceRate: null,
  colors: { green: 0, yellow: 0, red: 0, grey: 0 },
  branchColors: { green: 0, yellow: 0, red: 0, grey: 0 },
});

/** The obligations of `e` that count for `asked`. */
export const countedObligations = (e: BranchEvaluation, asked: Period) => e.obligations.filter((o) => endsWithin(o.period, asked));

export function branchColor(counted: Obligation[]): "green" | "yellow" | "red" | "grey" {
  if (counted.some((o) => o.state === "OVERDUE")) return "red";
  if (counted.some((o) => o.state === "DUE" || o.state === "PLANNED")) return "yellow";
  if (counted.some((o) => o.state === "HELD")) return "green";
  return "grey";
}

export const isCompliant = (counted: Obligation[]) => counted.length > 0 && counted.every((o) => o.state === "HELD");

/** One tally over the counted obligations of several branches. */
export function tallyOf(branches: Obligation[][]): Tally {
  const t = emptyTally();
  const all: Obligation[] = [];
  for (const os of branches) {
    t.branches++;
    if (isCompliant(os)) t.compliantBranches++;
    t.branchColors[branchColor(os)]++;
    for (const o of os) {
      all.push(o);
      t.obligations++;
      t.colors[STATE_COLOR[o.state]]++;
      if (o.state === "HELD") t.held++;
      else if (o.state === "OVERDUE") t.overdue++;
      else if (o.state === "PLANNED") t.planned++;
      else if (o.state === "DUE") t.due++;
      else t.upcoming++;
    }
  }
  t.settled = t.held + t.overdue;
  t.complianceRate = complianceRate(all);
  return t;
}

// ───────────────────────────── towns ─────────────────────────────

export interface TownRef {
  /** null: branches directly under the county (县直属). */
  id: number | null;
  code: string;
  name: string;
}

export const DIRECT_TOWN: TownRef = { id: null, code: "", name: "县直属" };

/** Towns of the scope in code order: those under `unit` (or `unit` itself, or the town above it), plus any a branch belongs to. */
export async function townsOf(tx: Tx, unit: { path: string }, townIds: (number | null)[]): Promise<TownRef[]> {
  // The town above may be at any depth (a city above the counties): every ancestor is a candidate, the kind decides.
  const above = unit.path.split("/").filter(Boolean).map(Number);
  const rows = await tx.orgUnit.findMany({
    where: { kind: "TOWN", OR: [{ path: { startsWith: unit.path }, active: true }, { id: { in: [...above, ...townIds.filter((t): t is number => t != null)] } }] },
    select: { id: true, code: true, name: true },
    orderBy: { code: "asc" },
  });
  const towns: TownRef[] = rows.map((r) => ({ id: r.id, code: r.code, name: r.name }));
  if (townIds.includes(null)) towns.push(DIRECT_TOWN);
  return towns;
}

// ───────────────────────────── the matrix ─────────────────────────────

export interface MatrixBranch {
  id: number;
  code: string;
  name: string;
  townId: number | null;
  memberCount: number;
  partyGroups: { id: number; name: string }[];
  /** The branch's 主题党日 day and whether it is its own (else the county's). */
  themeDay: number;
  color: "green" | "yellow" | "red" | "grey";
  compliant: boolean;
  tally: Tally;
  cells: ComplianceCell[];
}

export interface ComplianceMatrix {
  period: PeriodRef;
  /** The instant the states are as of. */
  at: string;
  unit: UnitRef;
  /** The grid's columns: each required type with the periods it has cells for. */
  columns: { type: RequiredType; typeLabel: string; periodKind: PeriodKind | null; periods: { key: string; label: string }[] }[];
  branches: MatrixBranch[];
  towns: (TownRef & Tally)[];
  total: Tally;
}

/** The matrix for a unit already checked against the caller's scope (the API and jobs come through here). */
export async function buildMatrix(tx: Tx, unit: UnitRef & { path: string }, period: Period, at: Date, rules?: CalendarRules): Promise<ComplianceMatrix> {
  const county = rules ?? (await countyRules(tx));
  const evals = await evaluateBranches(tx, { path: unit.path, span: period, at, rules: county });
  const branches: MatrixBranch[] = evals.map((e) => {
    const counted = countedObligations(e, period);
    const effective = branchRules(county, e.branch);
    return {
      id: e.branch.branchId,
      code: e.branch.code,
      name: e.branch.name,
      townId: e.branch.townId,
      memberCount: e.branch.memberCount,
      partyGroups: e.branch.partyGroups,
      themeDay: effective.themeDay,
      color: branchColor(counted),
      compliant: isCompliant(counted),
      tally: tallyOf([counted]),
      cells: branchCells(e, effective, period),
    };
  });
  const towns = await townsOf(tx, unit, evals.map((e) => e.branch.townId));
  const columns = REQUIRED_TYPES.map((type) => {
    const owed = branches.flatMap((b) => b.cells).filter((c) => c.type === type && c.state !== "NOT_REQUIRED");
    const periods = new Map(owed.map((c) => [c.period.key, c.period.label]));
    return {
      type,
      typeLabel: TYPE_LABEL[type],
      periodKind: owed[0]?.period.kind ?? null,
      periods: [...periods.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, label]) => ({ key, label })),
    };
  });
  return {
    period: periodRef(period),
    at: at.toISOString(),
    unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind },
    columns,
    branches,
    towns: towns.map((t) => ({ ...t, ...tallyOf(evals.filter((e) => e.branch.townId === t.id).map((e) => countedObligations(e, period))) })),
    total: tallyOf(evals.map((e) => countedObligations(e, period))),
  };
}

/** The compliance matrix of the caller's subtree (or `unitId` in it) for a month or quarter key, as of `at`. */
export async function complianceMatrix(tx: Tx, scope: ScopeHolder, opts: { period: string; unitId?: number | null; at: Date; rules?: CalendarRules }): Promise<ComplianceMatrix> {
  const period = requirePeriod(opts.period);
  const unit = await resolveScopeUnit(tx, scope, opts.unitId);
  return buildMatrix(tx, unit, period, opts.at, opts.rules);
}
