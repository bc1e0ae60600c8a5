// The complaint escalation job, level-triggered: each run computes from the database what should have happened by
// `now` and has not, and does it once.
// - Unclaimed past the response deadline → REMINDED (once per deadline) to the unit's handlers.
// - Open past the resolution deadline → ESCALATED to the town (level 1); still open COMPLAINT_ESCALATE_AGAIN_WORKDAYS
//   working days later → to the county (level 2). A ticket of a town unit goes to that town's own cadre group first.
// - Resolved and not rated within COMPLAINT_RATING_WINDOW_DAYS → CLOSED without a rating.
// Each step locks the ticket, goes through the reducer (which refuses a step already taken) and writes with a
// compare-and-set on the state it read (escalationLevel included); deliveries carry keys of (kind, ticket, level,
// deadline). Two jobs processes, a retried tick or a catch-up after downtime therefore change nothing twice.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { isAppError } from "../kernel/errors.ts";
import { loadCalendar } from "../calendar/workdays.ts";
import { formatZhDateTime } from "../meetings/time.ts";
import { countyEscalationAt, type ComplaintConfig } from "./deadlines.ts";
import { ancestorOfKind, excerpt, ownerName } from "./complaints.ts";
import { tellFiler, tellOwner, tellUnit } from "./notify.ts";
import { bySystem, commitEvent, lockComplaint, type LoadedComplaint } from "./transition.ts";
import { STATUS_LABEL } from "./state.ts";

const BATCH = 500;
const DAY_MS = 86_400_000;

export interface EscalationRun {
  reminded: number;
  escalated: number;
  closed: number;
}

/** Runs `fn` on one ticket in its own transaction; a step the reducer refuses (already taken elsewhere) is skipped. */
async function step(prisma: PrismaClient, fn: (tx: Prisma.TransactionClient) => Promise<boolean>): Promise<boolean> {
  try {
    return await prisma.$transaction(fn, { timeout: 30_000 });
  } catch (e) {
    if (isAppError(e) && e.status === 409) return false;
    throw e;
  }
}

const LEVEL_LABEL = ["", "乡镇", "县"] as const;

async function escalateOnce(prisma: PrismaClient, id: number, level: 1 | 2, now: Date, config: ComplaintConfig): Promise<boolean> {
  return step(prisma, async (tx) => {
    const c = await lockComplaint(tx, id);
    if (c.escalationLevel !== level - 1) return false;
    const due = level === 1 ? c.resolveDueAt : countyEscalationAt(await loadCalendar(tx), config, c.resolveDueAt);
    if (due > now) return false;
    const target = (await ancestorOfKind(tx, c.orgUnit, level === 1 ? "TOWN" : "COUNTY")) ?? (await ancestorOfKind(tx, c.orgUnit, "COUNTY"));
    const r = await commitEvent(tx, c, { kind: "ESCALATED", at: now, ...bySystem, fromUnitId: c.orgUnitId, toUnitId: target?.id ?? null, data: { level } });
    const key = `complaint:${c.id}:escalate:L${level}:${c.resolveDueAt.getTime()}`;
    const owner = await ownerName(tx, c);
    const body = [
      `【诉求逾期${level === 2 ? "（再次上报）" : ""}】${c.number}（${c.orgUnit.name}）已超过办结时限 ${formatZhDateTime(c.resolveDueAt, now)}，现报${LEVEL_LABEL[level]}督办。`,
      `状态：${STATUS_LABEL[c.status]}${owner ? `，认领人：${owner}` : "，尚无人认领"}`,
      excerpt(c.content, 80),
      `发送“诉求 ${c.number}”查看详情。`,
    ].join("\n");
    if (target) await tellUnit(tx, target.id, body, key);
    await tellOwner(tx, c, `诉求 ${c.number} 已超过办结时限，已报${LEVEL_LABEL[level]}督办，请尽快办结或申请延期。`, `${key}:owner`);
    return !!r;
  });
}

async function remindOnce(prisma: PrismaClient, id: number, now: Date): Promise<boolean> {
  return step(prisma, async (tx) => {
    const c: LoadedComplaint = await lockComplaint(tx, id);
    if (c.status !== "SUBMITTED" || c.responseDueAt > now) return false;
    await commitEvent(tx, c, { kind: "REMINDED", at: now, ...bySystem, toUnitId: c.orgUnitId, data: { responseDueAt: c.responseDueAt.toISOString() } });
    await tellUnit(
      tx,
      c.orgUnitId,
      `【催办】诉求 ${c.number} 已超过响应时限 ${formatZhDateTime(c.responseDueAt, now)}，仍无人认领。\n${excerpt(c.content, 80)}\n请发送“认领 ${c.number}”认领办理。`,
      `complaint:${c.id}:remind:${c.responseDueAt.getTime()}`,
    );
    return true;
  });
}

async function closeUnrated(prisma: PrismaClient, id: number, now: Date, config: ComplaintConfig): Promise<boolean> {
  return step(prisma, async (tx) => {
    const c = await lockComplaint(tx, id);
    if (c.status !== "RESOLVED" || c.rating || !c.resolvedAt || c.resolvedAt.getTime() > now.getTime() - config.COMPLAINT_RATING_WINDOW_DAYS * DAY_MS) return false;
    const r = await commitEvent(tx, c, { kind: "CLOSED", at: now, ...bySystem, note: "评价期已过，自动结案", data: { reason: "rating-window" } });
    await tellFiler(tx, c, `您反映的 ${c.number} 已办结 ${config.COMPLAINT_RATING_WINDOW_DAYS} 天未评价，已自动结案。如仍有问题，欢迎重新反映。`, `complaint:${c.id}:e${r.event.id}:filer`);
    return true;
  });
}

/** One run of the job at `now` (pass a clock in tests). Returns how many steps it took. */
export async function runComplaintEscalation(prisma: PrismaClient, config: ComplaintConfig, now = new Date()): Promise<EscalationRun> {
  const out: EscalationRun = { reminded: 0, escalated: 0, closed: 0 };

  const unclaimed = await prisma.$queryRaw<{ id: number }[]>`
    SELECT id FROM "Complaint"
     WHERE status = 'SUBMITTED' AND "responseDueAt" <= ${now} AND "remindedDueAt" IS DISTINCT FROM "responseDueAt"
     ORDER BY "responseDueAt" LIMIT ${BATCH}`;
  for (const { id } of unclaimed) if (await remindOnce(prisma, id, now)) out.reminded++;

  const overdue = await prisma.complaint.findMany({
    where: { status: { in: ["SUBMITTED", "CLAIMED", "REOPENED"] }, resolveDueAt: { lte: now }, escalationLevel: { lt: 2 } },
    select: { id: true },
    orderBy: { resolveDueAt: "asc" },
    take: BATCH,
  });
  for (const { id } of overdue) {
    // After downtime a ticket may be due at both levels: the town first, then the county, in this same run.
    for (const level of [1, 2] as const) if (await escalateOnce(prisma, id, level, now, config)) out.escalated++;
  }

  const unrated = await prisma.complaint.findMany({
    where: { status: "RESOLVED", rating: null, resolvedAt: { lte: new Date(now.getTime() - config.COMPLAINT_RATING_WINDOW_DAYS * DAY_MS) } },
    select: { id: true },
    take: BATCH,
  });
  for (const { id } of unrated) if (await closeUnrated(prisma, id, now, config)) out.closed++;
  return out;
}
