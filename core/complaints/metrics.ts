// Complaint metrics per unit (design.md: 响应率, 办结率, 满意率, overdue count) for reports and the console: counts
// only, never names. Tickets count for the unit that holds them now (after any transfer), by filing time.
import { AppError } from "../kernel/errors.ts";
import { pathInScope, type ScopeHolder } from "../org/scope.ts";
import { isCadre, type Tx } from "./transition.ts";
import { ratio } from "../rate.ts";

export interface ComplaintCounts {
  /** Filed in the period, not counting withdrawn ones (every rate below is over these). */
  filed: number;
  withdrawn: number;
  /** Claimed by their response deadline. */
  respondedInTime: number;
  /** 响应率 = respondedInTime / filed (null when nothing was filed). */
  responseRate: number | null;
  /** Resolved (waiting for a rating, or closed). */
  resolved: number;
  /** 办结率 = resolved / filed. */
  resolveRate: number | null;
  rated: number;
  /** SATISFIED + BASICALLY_SATISFIED. */
  satisfied: number;
  /** 满意率 = satisfied / rated (the final rating: a first 不满意 that reopened the ticket is replaced by the next). */
  satisfactionRate: number | null;
  /** Still open and past the resolution deadline now. */
  overdueOpen: number;
  /** Mean hours from filing to resolution, over the resolved ones. */
  avgResolveHours: number | null;
}

export interface UnitComplaintCounts extends ComplaintCounts {
  unitId: number;
  code: string;
  name: string;
  kind: string;
}

export interface ComplaintMetrics {
  from: Date;
  to: Date;
  groupBy: "unit" | "town" | "county";
  units: UnitComplaintCounts[];
  total: ComplaintCounts;
}

interface Raw {
  filed: number;
  withdrawn: number;
  respondedInTime: number;
  resolved: number;
  rated: number;
  satisfied: number;
  overdueOpen: number;
  resolveHoursSum: number;
}

function finish(r: Raw): ComplaintCounts {
  return {
    filed: r.filed,
    withdrawn: r.withdrawn,
    respondedInTime: r.respondedInTime,
    responseRate: ratio(r.respondedInTime, r.filed),
    resolved: r.resolved,
    resolveRate: ratio(r.resolved, r.filed),
    rated: r.rated,
    satisfied: r.satisfied,
    satisfactionRate: ratio(r.satisfied, r.rated),
    overdueOpen: r.overdueOpen,
    avgResolveHours: r.resolved ? Math.round((r.resolveHoursSum / r.resolved) * 10) / 10 : null,
  };
}

const add = (a: Raw, b: Raw): Raw => ({
  filed: a.filed + b.filed,
  withdrawn: a.withdrawn + b.withdrawn,
  respondedInTime: a.respondedInTime + b.respondedInTime,
  resolved: a.resolved + b.resolved,
  rated: a.rated + b.rated,
  satisfied: a.satisfied + b.satisfied,
  overdueOpen: a.overdueOpen + b.overdueOpen,
  resolveHoursSum: a.resolveHoursSum + b.resolveHoursSum,
});

const ZERO: Raw = { filed: 0, withdrawn: 0, respondedInTime: 0, resolved: 0, rated: 0, satisfied: 0, overdueOpen: 0, resolveHoursSum: 0 };

/** Several units' counts as one: rates recomputed, the mean resolution time weighted by resolved tickets. */
export function sumComplaintCounts(list: ComplaintCounts[]): ComplaintCounts {
  return finish(
    list.reduce<Raw>((acc, c) => add(acc, { ...c, resolveHoursSum: (c.avgResolveHours ?? 0) * c.resolved }), ZERO),
  );
}

/**
 * Metrics of the tickets filed in [from, to) whose unit is in the scope's subtree (and in `unitId`'s subtree when
 * given: 403 OUT_OF_SCOPE when that unit is outside the scope). groupBy "town" rolls branches up to their town.
 */
export async function complaintMetrics(
  tx: Tx,
  scope: ScopeHolder,
  opts: { from: Date; to: Date; unitId?: number | null; groupBy?: "unit" | "town" | "county"; now?: Date },
): Promise<ComplaintMetrics> {
  if (!isCadre(scope) || !scope.orgPath) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以查看诉求统计。");
  if (!(opts.from < opts.to)) throw new AppError("PERIOD_INVALID", "统计的开始时间应早于结束时间。");
  let prefix = scope.orgPath;
  if (opts.unitId != null) {
    const unit = await tx.orgUnit.findUnique({ where: { id: opts.unitId }, select: { path: true } });
    if (!unit) throw new AppError("ORG_UNIT_NOT_FOUND");
    if (!pathInScope(scope, unit.path)) throw new AppError("OUT_OF_SCOPE");
    prefix = unit.path;
  }
  const now = opts.now ?? new Date();
  const rows = await tx.$queryRaw<(Raw & { unitId: number; path: string })[]>`
    SELECT c."orgUnitId" AS "unitId", u.path,
           (count(*) FILTER (WHERE c.status <> 'WITHDRAWN'))::int AS filed,
           (count(*) FILTER (WHERE c.status = 'WITHDRAWN'))::int AS withdrawn,
           (count(*) FILTER (WHERE c.status <> 'WITHDRAWN' AND c."claimedAt" IS NOT NULL AND c."claimedAt" <= c."responseDueAt"))::int AS "respondedInTime",
           (count(*) FILTER (WHERE c.status IN ('RESOLVED', 'CLOSED') AND c."resolvedAt" IS NOT NULL))::int AS resolved,
           (count(*) FILTER (WHERE c.rating IS NOT NULL))::int AS rated,
           (count(*) FILTER (WHERE c.rating IN ('SATISFIED', 'BASICALLY_SATISFIED')))::int AS satisfied,
           (count(*) FILTER (WHERE c.status IN ('SUBMITTED', 'CLAIMED', 'REOPENED') AND c."resolveDueAt" < ${now}))::int AS "overdueOpen",
           COALESCE(sum(EXTRACT(EPOCH FROM (c."resolvedAt" - c."createdAt")) / 3600.0) FILTER (WHERE c.status IN ('RESOLVED', 'CLOSED') AND c."resolvedAt" IS NOT NULL), 0)::float8 AS "resolveHoursSum"
      FROM "Complaint" c JOIN "OrgUnit" u ON u.id = c."orgUnitId"
     WHERE c."createdAt" >= ${opts.from} AND c."createdAt" < ${opts.to} AND starts_with(u.path, ${prefix})
     GROUP BY c."orgUnitId", u.path`;
  const groupBy = opts.groupBy ?? "unit";
  // "town" / "county": the ancestor of that kind (found by kind: a city may sit above the counties); a ticket held
  // above that level stays with its own unit.
  const level = groupBy === "town" ? "TOWN" : groupBy === "county" ? "COUNTY" : null;
  const ancestorIds = level ? [...new Set(rows.flatMap((r) => r.path.split("/").filter(Boolean).map(Number)))] : [];
  const levelIds = new Set(level && ancestorIds.length ? (await tx.orgUnit.findMany({ where: { id: { in: ancestorIds }, kind: level }, select: { id: true } })).map((u) => u.id) : []);
  const keyOf = (path: string) => {
    const ids = path.split("/").filter(Boolean).map(Number);
    return (level ? ids.find((id) => levelIds.has(id)) : undefined) ?? ids[ids.length - 1];
  };
  const byKey = new Map<number, Raw>();
  for (const r of rows) {
    const k = keyOf(r.path);
    byKey.set(k, add(byKey.get(k) ?? ZERO, r));
  }
  const units = await tx.orgUnit.findMany({ where: { id: { in: [...byKey.keys()] } }, select: { id: true, code: true, name: true, kind: true } });
  const info = new Map(units.map((u) => [u.id, u]));
  return {
    from: opts.from,
    to: opts.to,
    groupBy,
    units: [...byKey.entries()]
      .map(([id, raw]) => ({ unitId: id, code: info.get(id)?.code ?? "", name: info.get(id)?.name ?? "", kind: info.get(id)?.kind ?? "", ...finish(raw) }))
      .sort((a, b) => a.code.localeCompare(b.code)),
    total: finish(rows.reduce<Raw>((acc, r) => add(acc, r), ZERO)),
  };
}
