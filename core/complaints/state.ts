// The ticket's state machine, pure: a complaint's status, owner, unit, deadlines and rating are what its events say.
// Every transition in core/complaints/ applies its event here to the stored state before writing both, so the stored
// columns and the history cannot disagree; deriveState(events) rebuilds the same state from the history alone.
// Illegal transitions (closing an unclaimed ticket, rating before resolution, claiming twice…) are refused here with
// a 409 and a stable code. Who may act (owner, superior, filer) is checked by the services, not here.
import type { ComplaintEventKind, ComplaintRating, ComplaintStatus } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";

/** The event-derived columns of a Complaint row. */
export interface ComplaintState {
  status: ComplaintStatus;
  orgUnitId: number;
  ownerId: number | null;
  ownerMemberId: number | null;
  urgent: boolean;
  responseDueAt: Date;
  resolveDueAt: Date;
  claimedAt: Date | null;
  resolvedAt: Date | null;
  resolution: string | null;
  rating: ComplaintRating | null;
  ratingComment: string | null;
  ratedAt: Date | null;
  reopenCount: number;
  escalationLevel: number;
  extensionDays: number | null;
  remindedDueAt: Date | null;
}

export const STATE_KEYS = [
  "status",
  "orgUnitId",
  "ownerId",
  "ownerMemberId",
  "urgent",
  "responseDueAt",
  "resolveDueAt",
  "claimedAt",
  "resolvedAt",
  "resolution",
  "rating",
  "ratingComment",
  "ratedAt",
  "reopenCount",
  "escalationLevel",
  "extensionDays",
  "remindedDueAt",
] as const satisfies readonly (keyof ComplaintState)[];

/** The state part of a row (a Complaint as Prisma returns it). */
export function stateOf(row: ComplaintState): ComplaintState {
  return Object.fromEntries(STATE_KEYS.map((k) => [k, row[k]])) as unknown as ComplaintState;
}

/** Event payloads (ComplaintEvent.data), per kind. Times are ISO strings in the stored JSON. */
export interface EventData {
  FILED: { unitId: number; urgent: boolean; responseDueAt: string; resolveDueAt: string };
  INFO_ADDED: { attachmentId?: number };
  CLAIMED: Record<string, never>;
  TRANSFERRED: { responseDueAt: string; resolveDueAt: string };
  REPLIED: Record<string, never>;
  EXTENSION_REQUESTED: { days: number };
  EXTENSION_APPROVED: { days: number; resolveDueAt: string };
  EXTENSION_REJECTED: { days: number };
  RESOLVED: Record<string, never>;
  RATED: { rating: ComplaintRating };
  REOPENED: { resolveDueAt: string };
  WITHDRAWN: Record<string, never>;
  REMINDED: { responseDueAt: string };
  ESCALATED: { level: number };
  CLOSED: { reason: "rating-window" };
  URGENT_SET: { urgent: boolean; responseDueAt: string; resolveDueAt: string };
}

/** One step of the history, as the reducer needs it (a ComplaintEvent row fits). */
export interface StateEvent<K extends ComplaintEventKind = ComplaintEventKind> {
  kind: K;
  createdAt: Date;
  actorId: number | null;
  actorMemberId: number | null;
  fromUnitId?: number | null;
  toUnitId?: number | null;
  /** Reason, reply text, result, comment. */
  note?: string | null;
  data?: unknown;
}

export const STATUS_LABEL: Record<ComplaintStatus, string> = {
  SUBMITTED: "待认领",
  CLAIMED: "办理中",
  RESOLVED: "已办结（待评价）",
  REOPENED: "重新办理",
  CLOSED: "已结案",
  WITHDRAWN: "已撤回",
};

export const RATING_LABEL: Record<ComplaintRating, string> = { SATISFIED: "满意", BASICALLY_SATISFIED: "基本满意", DISSATISFIED: "不满意" };

export const EVENT_LABEL: Record<ComplaintEventKind, string> = {
  FILED: "提交",
  INFO_ADDED: "补充",
  CLAIMED: "认领",
  TRANSFERRED: "转办",
  REPLIED: "回复",
  EXTENSION_REQUESTED: "申请延期",
  EXTENSION_APPROVED: "批准延期",
  EXTENSION_REJECTED: "驳回延期",
  RESOLVED: "办结",
  RATED: "评价",
  REOPENED: "重办",
  WITHDRAWN: "撤回",
  REMINDED: "催办",
  ESCALATED: "逾期上报",
  CLOSED: "结案",
  URGENT_SET: "加急",
};

/** Statuses in which the ticket still needs work from its unit (reminders, escalation, 待办). */
export const OPEN_STATUSES = ["SUBMITTED", "CLAIMED", "REOPENED"] as const satisfies readonly ComplaintStatus[];
export const FINAL_STATUSES = ["CLOSED", "WITHDRAWN"] as const satisfies readonly ComplaintStatus[];

export const isOpen = (s: ComplaintStatus) => (OPEN_STATUSES as readonly string[]).includes(s);
export const isFinal = (s: ComplaintStatus) => (FINAL_STATUSES as readonly string[]).includes(s);

function refuseFinal(s: ComplaintState) {
  if (s.status === "WITHDRAWN") throw new AppError("COMPLAINT_CLOSED", "该诉求已撤回，不能再操作。");
  if (s.status === "CLOSED") throw new AppError("COMPLAINT_CLOSED", "该诉求已结案，不能再操作。");
}

function requireClaimed(s: ComplaintState, what: string) {
  refuseFinal(s);
  if (s.status === "SUBMITTED") throw new AppError("COMPLAINT_NOT_CLAIMED", `该诉求还没有人认领，请先认领再${what}。`);
}

function requireInHand(s: ComplaintState, what: string) {
  requireClaimed(s, what);
  if (s.status === "RESOLVED") throw new AppError("COMPLAINT_RESOLVED", `该诉求已办结，不能再${what}。`);
}

const date = (v: string) => {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`complaint event: bad date ${v}`);
  return d;
};

function dataOf<K extends ComplaintEventKind>(e: StateEvent<K>): EventData[K] {
  return (e.data ?? {}) as EventData[K];
}

/**
 * The state after `e`; `state` is null before the FILED event. Throws AppError 409 (stable code, Chinese message)
 * when the event is not allowed in this state. Never mutates `state`.
 */
export function applyEvent(state: ComplaintState | null, e: StateEvent): ComplaintState {
  if (e.kind === "FILED") {
    if (state) throw new Error("complaint event: FILED twice");
    const d = dataOf(e as StateEvent<"FILED">);
    return {
      status: "SUBMITTED",
      orgUnitId: d.unitId,
      ownerId: null,
      ownerMemberId: null,
      urgent: d.urgent,
      responseDueAt: date(d.responseDueAt),
      resolveDueAt: date(d.resolveDueAt),
      claimedAt: null,
      resolvedAt: null,
      resolution: null,
      rating: null,
      ratingComment: null,
      ratedAt: null,
      reopenCount: 0,
      escalationLevel: 0,
      extensionDays: null,
      remindedDueAt: null,
    };
  }
  if (!state) throw new Error(`complaint event: ${e.kind} before FILED`);
  const s = state;
  switch (e.kind) {
    case "INFO_ADDED":
    case "URGENT_SET": {
      refuseFinal(s);
      if (e.kind === "INFO_ADDED") return { ...s };
      if (!isOpen(s.status)) throw new AppError("COMPLAINT_RESOLVED", "该诉求已办结，无需加急。");
      const d = dataOf(e as StateEvent<"URGENT_SET">);
      return { ...s, urgent: d.urgent, responseDueAt: date(d.responseDueAt), resolveDueAt: date(d.resolveDueAt) };
    }
    case "CLAIMED":
      refuseFinal(s);
      if (s.status !== "SUBMITTED") throw new AppError("COMPLAINT_ALREADY_CLAIMED");
      return { ...s, status: "CLAIMED", ownerId: e.actorId, ownerMemberId: e.actorMemberId, claimedAt: e.createdAt };
    case "TRANSFERRED": {
      refuseFinal(s);
      if (s.status === "RESOLVED") throw new AppError("COMPLAINT_RESOLVED", "该诉求已办结，不能再转办。");
      if (e.toUnitId == null) throw new Error("complaint event: TRANSFERRED without toUnitId");
      const d = dataOf(e as StateEvent<"TRANSFERRED">);
      // The new unit starts afresh: nobody owns it there yet, with new time limits and no escalation.
      return {
        ...s,
        status: "SUBMITTED",
        orgUnitId: e.toUnitId,
        ownerId: null,
        ownerMemberId: null,
        claimedAt: null,
        responseDueAt: date(d.responseDueAt),
        resolveDueAt: date(d.resolveDueAt),
        escalationLevel: 0,
        extensionDays: null,
      };
    }
    case "REPLIED":
      requireClaimed(s, "回复");
      return { ...s };
    case "EXTENSION_REQUESTED": {
      requireInHand(s, "申请延期");
      if (s.extensionDays != null) throw new AppError("EXTENSION_PENDING", `已有一个延期 ${s.extensionDays} 个工作日的申请在等待审批。`);
      return { ...s, extensionDays: dataOf(e as StateEvent<"EXTENSION_REQUESTED">).days };
    }
    case "EXTENSION_APPROVED":
    case "EXTENSION_REJECTED": {
      refuseFinal(s);
      if (s.extensionDays == null) throw new AppError("NO_EXTENSION_PENDING");
      if (e.kind === "EXTENSION_REJECTED") return { ...s, extensionDays: null };
      return { ...s, extensionDays: null, resolveDueAt: date(dataOf(e as StateEvent<"EXTENSION_APPROVED">).resolveDueAt) };
    }
    case "RESOLVED":
      refuseFinal(s);
      if (s.status === "SUBMITTED") throw new AppError("COMPLAINT_NOT_CLAIMED", "该诉求还没有人认领，不能办结。请先认领。");
      if (s.status === "RESOLVED") throw new AppError("COMPLAINT_RESOLVED");
      return { ...s, status: "RESOLVED", resolvedAt: e.createdAt, resolution: e.note ?? "", extensionDays: null };
    case "RATED": {
      if (s.status === "CLOSED" && s.rating) throw new AppError("COMPLAINT_ALREADY_RATED");
      refuseFinal(s);
      if (s.status !== "RESOLVED") throw new AppError("COMPLAINT_NOT_RESOLVED", "该诉求还没有办结，办结后才能评价。");
      if (s.rating) throw new AppError("COMPLAINT_ALREADY_RATED");
      const rating = dataOf(e as StateEvent<"RATED">).rating;
      const rated = { ...s, rating, ratingComment: e.note ?? null, ratedAt: e.createdAt };
      // 不满意 the first time: stays RESOLVED for the REOPENED event that follows; otherwise the ticket is closed.
      return rating === "DISSATISFIED" && s.reopenCount === 0 ? rated : { ...rated, status: "CLOSED" };
    }
    case "REOPENED": {
      if (s.status !== "RESOLVED" || s.rating !== "DISSATISFIED" || s.reopenCount > 0) throw new AppError("COMPLAINT_NOT_REOPENABLE");
      // 回访 then 重办: the same owner handles it again with a new resolution deadline.
      return {
        ...s,
        status: "REOPENED",
        reopenCount: s.reopenCount + 1,
        resolvedAt: null,
        resolution: null,
        rating: null,
        ratingComment: null,
        ratedAt: null,
        resolveDueAt: date(dataOf(e as StateEvent<"REOPENED">).resolveDueAt),
        escalationLevel: 0,
      };
    }
    case "WITHDRAWN":
      refuseFinal(s);
      if (s.status === "RESOLVED") throw new AppError("COMPLAINT_RESOLVED", "该诉求已办结，不能撤回；请对办理结果进行评价。");
      return { ...s, status: "WITHDRAWN", extensionDays: null };
    case "REMINDED": {
      const due = date(dataOf(e as StateEvent<"REMINDED">).responseDueAt);
      if (s.status !== "SUBMITTED" || s.responseDueAt.getTime() !== due.getTime() || s.remindedDueAt?.getTime() === due.getTime()) {
        throw new AppError("NOTHING_TO_REMIND");
      }
      return { ...s, remindedDueAt: due };
    }
    case "ESCALATED": {
      const level = dataOf(e as StateEvent<"ESCALATED">).level;
      if (!isOpen(s.status) || level !== s.escalationLevel + 1 || level > 2) throw new AppError("NOTHING_TO_ESCALATE");
      return { ...s, escalationLevel: level };
    }
    case "CLOSED":
      if (s.status !== "RESOLVED" || s.rating) throw new AppError("COMPLAINT_NOT_RESOLVED", "只有已办结、未评价的诉求才能结案。");
      return { ...s, status: "CLOSED" };
  }
  throw new Error(`complaint event: unknown kind ${(e as StateEvent).kind}`);
}

/** The state the whole history says (events in the order they were written). */
export function deriveState(events: StateEvent[]): ComplaintState | null {
  return events.reduce<ComplaintState | null>(applyEvent, null);
}

export function deriveStatus(events: StateEvent[]): ComplaintStatus | null {
  return deriveState(events)?.status ?? null;
}

/** The columns of `next` that differ from `prev` (what a transition writes). */
export function stateChanges(prev: ComplaintState, next: ComplaintState): Partial<ComplaintState> {
  const out: Record<string, unknown> = {};
  for (const k of STATE_KEYS) {
    const a = prev[k];
    const b = next[k];
    const same = a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
    if (!same) out[k] = b;
  }
  return out as Partial<ComplaintState>;
}

/** True when two states agree on every derived column. */
export function sameState(a: ComplaintState, b: ComplaintState): boolean {
  return Object.keys(stateChanges(a, b)).length === 0;
}
