// Complaints (民情诉求): filing, the cadres' handling (首问 claim, transfer, reply, resolve, urgent, extension) and the
// filer's own actions (add information, withdraw, rate). Shared by the chat commands and the API. Each function
// runs in the caller's transaction, records a ComplaintEvent through commitEvent (state derived by the reducer in
// state.ts), audits cadre actions and tells the people concerned through the outbox in the same transaction.
// Call them inside prisma.$transaction: the row lock that serialises concurrent changes lasts until it commits.
import type { Channel, Complaint, ComplaintRating } from "../db/index.ts";
import { AppError, type ErrorCode } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope } from "../org/scope.ts";
import { audit } from "../audit.ts";
import { loadCalendar } from "../calendar/workdays.ts";
import { formatZhDateTime } from "../meetings/time.ts";
import { deadlinesFrom, redoDeadline, type ComplaintConfig } from "./deadlines.ts";
import { applyEvent, RATING_LABEL, type EventData } from "./state.ts";
import { tellFiler, tellOwner, tellUnit } from "./notify.ts";
import {
  byActor,
  byFiler,
  commitEvent,
  isCadre,
  isFiler,
  isOwner,
  lockComplaint,
  nextComplaintNumber,
  UNIT_SELECT,
  type ComplaintActor,
  type ComplaintRef,
  type FilerRef,
  type LoadedComplaint,
  type Tx,
  type UnitRef,
} from "./transition.ts";

export const CONTENT_MAX = 1000;
const TEXT_MAX = 500;
const REASON_MAX = 200;
const CATEGORY_MAX = 20;
const LOCATION_MAX = 100;
/** An extension request is for at most this many working days. */
export const EXTENSION_MAX_DAYS = 30;

// ───────────────────────────── helpers ─────────────────────────────

/** Stems with both a `<stem>_MISSING` and a `<stem>_TOO_LONG` code. */
type TextStem = { [C in ErrorCode]: C extends `${infer S}_MISSING` ? (`${S}_TOO_LONG` extends ErrorCode ? S : never) : never }[ErrorCode];

function text<S extends TextStem>(value: string | null | undefined, code: `${S}_MISSING`, missing: string, max: number, tooLong: string): string {
  const t = (value ?? "").trim();
  if (!t) throw new AppError(code, missing);
  if (t.length > max) throw new AppError(`${code.slice(0, -"_MISSING".length) as S}_TOO_LONG`, tooLong);
  return t;
}

const optionalText = (value: string | null | undefined, max: number, code: ErrorCode, message: string) => {
  const t = value?.trim() || null;
  if (t && t.length > max) throw new AppError(code, message);
  return t;
};

/** "村口路灯坏了，晚上…" — at most `n` characters of the content, for notices. */
export const excerpt = (s: string, n = 40) => (s.length > n ? `${s.slice(0, n)}…` : s);

const fmt = (d: Date, now: Date) => formatZhDateTime(d, now);

/** Name of whoever owns the ticket (the chat cadre's roster name or the console login's display name). */
export async function ownerName(tx: Tx, c: Pick<Complaint, "ownerId" | "ownerMemberId">): Promise<string | null> {
  if (c.ownerMemberId != null) return (await tx.member.findUnique({ where: { id: c.ownerMemberId }, select: { name: true } }))?.name ?? null;
  if (c.ownerId != null) return (await tx.cadreUser.findUnique({ where: { id: c.ownerId }, select: { displayName: true } }))?.displayName ?? null;
  return null;
}

/** The unit that handles tickets for `unitId`: a party group's branch, a village's branch; 404 when inactive. */
export async function handlingUnit(tx: Tx, unitId: number): Promise<UnitRef> {
  const unit = await tx.orgUnit.findUnique({ where: { id: unitId }, select: { ...UNIT_SELECT, active: true } });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  if (unit.kind === "PARTY_GROUP" && unit.parentId != null) return handlingUnit(tx, unit.parentId);
  if (unit.kind === "VILLAGE") {
    const branch = await tx.orgUnit.findFirst({ where: { parentId: unit.id, kind: "BRANCH", active: true }, orderBy: { id: "asc" }, select: UNIT_SELECT });
    if (branch) return branch;
  }
  const { active: _active, ...rest } = unit;
  return rest;
}

/**
 * Where a ticket goes: the given unit (the group's bound unit when filed in a group, or what the API says); else the
 * filer's branch when they are a member; else the bound group they are in (a branch group before a cadre group,
 * the most recently joined first). Otherwise nobody knows where they live: a clear refusal.
 */
export async function responsibleUnit(tx: Tx, filer: { identityId?: number | null; memberId?: number | null }, unitId?: number | null): Promise<UnitRef> {
  if (unitId != null) return handlingUnit(tx, unitId);
  if (filer.memberId != null) {
    const m = await tx.member.findUnique({ where: { id: filer.memberId }, select: { branchId: true } });
    if (m) return handlingUnit(tx, m.branchId);
  }
  if (filer.identityId != null) {
    const memberships = await tx.groupMembership.findMany({
      where: { identityId: filer.identityId, leftAt: null, group: { active: true, orgUnitId: { not: null } } },
      select: { joinedAt: true, group: { select: { kind: true, orgUnitId: true } } },
      orderBy: { joinedAt: "desc" },
    });
    const best = memberships.find((m) => m.group.kind === "BRANCH") ?? memberships[0];
    if (best) return handlingUnit(tx, best.group.orgUnitId!);
  }
  throw new AppError("UNIT_UNKNOWN");
}

/** Path ids from the county down to the unit: "/1/4/37/" → [1, 4, 37]. */
const pathIds = (path: string) => path.split("/").filter(Boolean).map(Number);

/** The unit's nearest ancestor-or-self of this kind (TOWN or COUNTY). */
export async function ancestorOfKind(tx: Tx, unit: Pick<UnitRef, "path">, kind: "TOWN" | "COUNTY"): Promise<UnitRef | null> {
  const units = await tx.orgUnit.findMany({ where: { id: { in: pathIds(unit.path) }, kind }, select: UNIT_SELECT });
  return units.sort((a, b) => b.path.length - a.path.length)[0] ?? null;
}

/** Who decides an extension of this unit's ticket: the next level up (a branch's town, a town's county). */
export async function approverUnit(tx: Tx, unit: UnitRef): Promise<UnitRef | null> {
  const ancestors = await tx.orgUnit.findMany({ where: { id: { in: pathIds(unit.path).filter((id) => id !== unit.id) }, kind: { in: ["TOWN", "COUNTY"] } }, select: UNIT_SELECT });
  return ancestors.sort((a, b) => b.path.length - a.path.length)[0] ?? null;
}

function requireCadreInScope(a: ComplaintActor, c: LoadedComplaint) {
  if (!isCadre(a)) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以办理诉求。");
  if (a.cadreUserId == null && a.memberId == null) throw new AppError("ROLE_REQUIRED", "抱歉，无法确认您的干部身份。");
  if (!pathInScope(a, c.orgUnit.path) && !isOwner(a, c)) throw new AppError("OUT_OF_SCOPE", `抱歉，诉求 ${c.number}（${c.orgUnit.name}）不在您的管辖范围内。`);
}

/** Strictly above the ticket's unit (a town admin for a branch ticket). */
export const isSuperior = (a: ComplaintActor, c: Pick<LoadedComplaint, "orgUnit">) => isCadre(a) && pathInScope(a, c.orgUnit.path) && a.orgPath !== c.orgUnit.path;

/** 首问负责: once claimed, only the owner or a superior may act on it. Unclaimed, any cadre of the unit may. */
async function requireOwnerOrSuperior(tx: Tx, a: ComplaintActor, c: LoadedComplaint, what: string) {
  requireCadreInScope(a, c);
  if (c.ownerId == null && c.ownerMemberId == null) return;
  if (isOwner(a, c) || isSuperior(a, c)) return;
  throw new AppError("NOT_OWNER", `诉求 ${c.number} 由${(await ownerName(tx, c)) ?? "其他干部"}认领（首问负责），只有认领人或上级可以${what}。`);
}

async function cadreAudit(tx: Tx, a: ComplaintActor, action: string, c: Pick<Complaint, "id" | "number">, detail: Record<string, unknown> = {}) {
  await audit(tx, { actorId: a.cadreUserId, actorIdentityId: a.identityId, channel: a.channel, action: `complaint.${action}`, targetType: "Complaint", targetId: c.id, detail: { number: c.number, ...detail }, requestId: a.requestId });
}

/** The filer's own ticket, locked; someone else's is "not found" (its existence is nobody else's business). */
async function lockOwnTicket(tx: Tx, f: FilerRef, ref: ComplaintRef) {
  const c = await lockComplaint(tx, ref);
  if (!isFiler(f, c)) throw new AppError("COMPLAINT_NOT_FOUND", `没有找到您反映的诉求 ${c.number}，请核对编号。`);
  return c;
}

const eventKey = (c: { id: number }, event: { id: number }, who: string) => `complaint:${c.id}:e${event.id}:${who}`;

// ───────────────────────────── filing ─────────────────────────────

export interface FilerInput {
  /** The chat (or mini-program) identity filing; updates go to it. */
  identityId?: number | null;
  memberId?: number | null;
  /** Defaults: the member's roster name, else the identity's display name. */
  name?: string | null;
  /** Defaults to the member's phone on file. */
  phone?: string | null;
  channel: Channel;
}

export interface FileInput {
  content: string;
  category?: string | null;
  location?: string | null;
  /** No name, phone or member is kept; the filing identity still gets updates. */
  anonymous?: boolean;
  /** The responsible unit (the group's bound unit when filed in a group); see responsibleUnit for the default. */
  unitId?: number | null;
}

export interface Filed {
  complaint: LoadedComplaint;
  unit: UnitRef;
  /** Deliveries written to the unit's handlers. */
  notified: number;
}

/** Files a ticket: number, responsible unit, deadlines on the working-day calendar, FILED event, notice to the unit. */
export async function fileComplaint(tx: Tx, filer: FilerInput, input: FileInput, config: ComplaintConfig, now = new Date()): Promise<Filed> {
  const content = text(input.content, "CONTENT_MISSING", "请写上您要反映的内容，例如：反映 村口路灯坏了，晚上看不见路", CONTENT_MAX, `内容太长了，请控制在 ${CONTENT_MAX} 个字以内，详情可以分几次用“补充 编号 内容”发送。`);
  const category = optionalText(input.category, CATEGORY_MAX, "CATEGORY_TOO_LONG", `类别请控制在 ${CATEGORY_MAX} 个字以内。`);
  const location = optionalText(input.location, LOCATION_MAX, "LOCATION_TOO_LONG", `地点请控制在 ${LOCATION_MAX} 个字以内。`);
  if (filer.identityId == null && filer.memberId == null) throw new AppError("FILER_REQUIRED");
  const unit = await responsibleUnit(tx, filer, input.unitId);
  const anonymous = input.anonymous ?? false;
  const [member, identity] = await Promise.all([
    filer.memberId != null ? tx.member.findUnique({ where: { id: filer.memberId }, select: { name: true, phone: true } }) : null,
    filer.identityId != null ? tx.chatIdentity.findUnique({ where: { id: filer.identityId }, select: { displayName: true } }) : null,
  ]);
  const calendar = await loadCalendar(tx);
  const due = deadlinesFrom(calendar, config, now, false);
  const number = await nextComplaintNumber(tx, now);
  const data: EventData["FILED"] = { unitId: unit.id, urgent: false, responseDueAt: due.responseDueAt.toISOString(), resolveDueAt: due.resolveDueAt.toISOString() };
  const state = applyEvent(null, { kind: "FILED", createdAt: now, actorId: null, actorMemberId: null, data });
  const created = await tx.complaint.create({
    data: {
      ...state,
      number,
      filerIdentityId: filer.identityId ?? null,
      filerMemberId: anonymous ? null : (filer.memberId ?? null),
      filerName: anonymous ? "" : (filer.name?.trim() || member?.name || identity?.displayName || ""),
      filerPhone: anonymous ? null : (filer.phone?.trim() || member?.phone || null),
      anonymous,
      channel: filer.channel,
      content,
      category,
      location,
      createdAt: now,
      updatedAt: now,
    },
    include: { orgUnit: { select: UNIT_SELECT } },
  });
  await tx.complaintEvent.create({
    data: { complaintId: created.id, kind: "FILED", actorMemberId: anonymous ? null : (filer.memberId ?? null), actorIdentityId: filer.identityId ?? null, channel: filer.channel, toUnitId: unit.id, data, createdAt: now },
  });
  const notified = await tellUnit(
    tx,
    unit.id,
    [
      `【新诉求】${number}（${unit.name}）`,
      excerpt(content, 80),
      `响应时限：${fmt(due.responseDueAt, now)}；办结时限：${fmt(due.resolveDueAt, now)}`,
      `请发送“认领 ${number}”认领办理（首问负责），“诉求 ${number}”查看详情。`,
    ].join("\n"),
    `complaint:${created.id}:filed`,
  );
  return { complaint: created, unit, notified };
}

/** The receipt the filer gets (privately). */
export function receiptText(c: Pick<Complaint, "number" | "content" | "responseDueAt" | "resolveDueAt" | "anonymous">, unit: Pick<UnitRef, "name">, photoWindowMin: number, now = new Date()) {
  return [
    `您的诉求已受理${c.anonymous ? "（匿名）" : ""}。`,
    `编号：${c.number}`,
    `内容：${excerpt(c.content, 100)}`,
    `承办单位：${unit.name}`,
    `响应时限：${fmt(c.responseDueAt, now)} 前`,
    `办结时限：${fmt(c.resolveDueAt, now)} 前`,
    `${photoWindowMin} 分钟内发来的照片会附在这条诉求上。发送“诉求 ${c.number}”查看进度，“补充 ${c.number} 内容”补充情况，“撤回 ${c.number}”撤回。`,
  ].join("\n");
}

// ───────────────────────────── cadre actions ─────────────────────────────

/** 认领 (首问负责): the first cadre of the unit (or above) who claims owns the ticket; a second claim is refused. */
export async function claimComplaint(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, now = new Date()) {
  const c = await lockComplaint(tx, ref);
  requireCadreInScope(actor, c);
  const r = await commitEvent(tx, c, { kind: "CLAIMED", at: now, ...byActor(actor), data: {} });
  await cadreAudit(tx, actor, "claim", c);
  const name = await ownerName(tx, r.complaint);
  await tellFiler(tx, c, `您反映的 ${c.number} 已由「${c.orgUnit.name}」${name ?? ""}认领办理，办结时限 ${fmt(r.complaint.resolveDueAt, now)}。`, eventKey(c, r.event, "filer"));
  return r;
}

/** Units a ticket may be transferred to: an active branch, town or the county, anywhere in the same county. */
async function transferTarget(tx: Tx, c: LoadedComplaint, toUnitId: number) {
  const target = await handlingUnit(tx, toUnitId);
  if (target.id === c.orgUnitId) throw new AppError("SAME_UNIT", `诉求 ${c.number} 已经由「${target.name}」办理，无需转办。`);
  if (!["BRANCH", "TOWN", "COUNTY"].includes(target.kind)) throw new AppError("UNIT_CANNOT_HANDLE", `「${target.name}」不能承办诉求，请转给党支部、乡镇或县。`);
  // The county by kind, not the root: a city may sit above several counties, and a ticket stays in its county.
  const county = (await ancestorOfKind(tx, c.orgUnit, "COUNTY"))?.path ?? `/${c.orgUnit.path.split("/").filter(Boolean)[0]}/`;
  if (!target.path.startsWith(county)) throw new AppError("OUT_OF_SCOPE", `「${target.name}」不在本县范围内，不能转办。`);
  return target;
}

/**
 * 转办: formally hands the ticket to another unit of the county (any branch, town or the county itself: the matter may
 * belong to a village outside the cadre's own scope), with a reason. Ownership goes with it: the ticket is unclaimed
 * again at the new unit, with new response and resolution deadlines from now, and no escalation.
 */
export async function transferComplaint(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, toUnitId: number, reason: string, config: ComplaintConfig, now = new Date()) {
  const why = text(reason, "REASON_MISSING", "请写明转办理由，例如：转办 LX20261125-0007 河西村党支部 道路属河西村管护", REASON_MAX, `转办理由请控制在 ${REASON_MAX} 个字以内。`);
  const c = await lockComplaint(tx, ref);
  await requireOwnerOrSuperior(tx, actor, c, "转办");
  const target = await transferTarget(tx, c, toUnitId);
  const due = deadlinesFrom(await loadCalendar(tx), config, now, c.urgent);
  const r = await commitEvent(tx, c, {
    kind: "TRANSFERRED",
    at: now,
    ...byActor(actor),
    fromUnitId: c.orgUnitId,
    toUnitId: target.id,
    note: why,
    data: { responseDueAt: due.responseDueAt.toISOString(), resolveDueAt: due.resolveDueAt.toISOString() },
  });
  await cadreAudit(tx, actor, "transfer", c, { fromUnitId: c.orgUnitId, toUnitId: target.id, reason: why });
  await tellUnit(
    tx,
    target.id,
    [
      `【转办诉求】${c.number}：「${c.orgUnit.name}」转给「${target.name}」办理，理由：${why}`,
      excerpt(c.content, 80),
      `响应时限：${fmt(due.responseDueAt, now)}；办结时限：${fmt(due.resolveDueAt, now)}`,
      `请发送“认领 ${c.number}”认领办理。`,
    ].join("\n"),
    eventKey(c, r.event, "unit"),
  );
  await tellFiler(tx, c, `您反映的 ${c.number} 已转交「${target.name}」办理（${why}），办结时限 ${fmt(due.resolveDueAt, now)}。`, eventKey(c, r.event, "filer"));
  return { ...r, target };
}

/** 回复: a message to the filer through the bot (the owner or a superior, once claimed). */
export async function replyToFiler(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, message: string, now = new Date()) {
  const body = text(message, "REPLY_MISSING", "请写上回复内容，例如：回复 LX20261125-0007 明天上午安排电工上门", TEXT_MAX, `回复内容请控制在 ${TEXT_MAX} 个字以内。`);
  const c = await lockComplaint(tx, ref);
  await requireOwnerOrSuperior(tx, actor, c, "回复");
  const r = await commitEvent(tx, c, { kind: "REPLIED", at: now, ...byActor(actor), note: body });
  await cadreAudit(tx, actor, "reply", c);
  const delivered = await tellFiler(tx, c, `关于您反映的 ${c.number}，「${c.orgUnit.name}」回复：${body}\n如需补充，请发送“补充 ${c.number} 内容”。`, eventKey(c, r.event, "filer"));
  return { ...r, delivered };
}

/** 办结: the result, by the owner or a superior; refused while unclaimed. The filer is asked to rate it. */
export async function resolveComplaint(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, result: string, now = new Date()) {
  const resolution = text(result, "RESULT_MISSING", "请写上办理结果，例如：办结 LX20261125-0007 路灯已修好", TEXT_MAX, `办理结果请控制在 ${TEXT_MAX} 个字以内。`);
  const c = await lockComplaint(tx, ref);
  await requireOwnerOrSuperior(tx, actor, c, "办结");
  const r = await commitEvent(tx, c, { kind: "RESOLVED", at: now, ...byActor(actor), note: resolution });
  await cadreAudit(tx, actor, "resolve", c, { result: resolution });
  await tellFiler(
    tx,
    c,
    `您反映的 ${c.number} 已办结：${resolution}\n请回复“满意”、“基本满意”或“不满意 意见”评价办理结果${c.reopenCount === 0 ? "（不满意的将重新办理一次）" : ""}。`,
    eventKey(c, r.event, "filer"),
  );
  return r;
}

/**
 * 加急 (or clearing it): urgent deadlines are counted from now and only ever shorten the current ones (response in
 * clock hours while unclaimed, resolution in working days). Clearing the flag keeps the current deadlines.
 */
export async function setUrgent(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, urgent: boolean, config: ComplaintConfig, now = new Date()) {
  const c = await lockComplaint(tx, ref);
  requireCadreInScope(actor, c);
  if (c.urgent === urgent) throw new AppError("NOTHING_TO_CHANGE", urgent ? `诉求 ${c.number} 已经是加急的了。` : `诉求 ${c.number} 本来就不是加急的。`);
  let { responseDueAt, resolveDueAt } = c;
  if (urgent) {
    const u = deadlinesFrom(await loadCalendar(tx), config, now, true);
    if (c.status === "SUBMITTED" && u.responseDueAt < responseDueAt) responseDueAt = u.responseDueAt;
    if (u.resolveDueAt < resolveDueAt) resolveDueAt = u.resolveDueAt;
  }
  const r = await commitEvent(tx, c, { kind: "URGENT_SET", at: now, ...byActor(actor), data: { urgent, responseDueAt: responseDueAt.toISOString(), resolveDueAt: resolveDueAt.toISOString() } });
  await cadreAudit(tx, actor, urgent ? "urgent" : "not-urgent", c);
  if (urgent) {
    const body = `【加急】诉求 ${c.number}（${c.orgUnit.name}）已标为加急：${c.status === "SUBMITTED" ? `请在 ${fmt(responseDueAt, now)} 前认领，` : ""}${fmt(resolveDueAt, now)} 前办结。`;
    if (c.status === "SUBMITTED") await tellUnit(tx, c.orgUnitId, body, eventKey(c, r.event, "unit"));
    else await tellOwner(tx, c, body, eventKey(c, r.event, "owner"));
  }
  return r;
}

/** 延期: the owner asks for N more working days; the next level up (a branch's town, a town's county) decides. */
export async function requestExtension(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, days: number, reason: string, now = new Date()) {
  if (!Number.isInteger(days) || days < 1 || days > EXTENSION_MAX_DAYS) throw new AppError("EXTENSION_DAYS_INVALID", `延期天数应为 1 到 ${EXTENSION_MAX_DAYS} 个工作日。`);
  const why = text(reason, "REASON_MISSING", "请写明延期理由，例如：延期 LX20261125-0007 3 需等配件到货", REASON_MAX, `延期理由请控制在 ${REASON_MAX} 个字以内。`);
  const c = await lockComplaint(tx, ref);
  requireCadreInScope(actor, c);
  if ((c.ownerId != null || c.ownerMemberId != null) && !isOwner(actor, c)) throw new AppError("NOT_OWNER", `只有诉求 ${c.number} 的认领人可以申请延期。`);
  const r = await commitEvent(tx, c, { kind: "EXTENSION_REQUESTED", at: now, ...byActor(actor), note: why, data: { days } });
  await cadreAudit(tx, actor, "extension.request", c, { days, reason: why });
  const approver = await approverUnit(tx, c.orgUnit);
  if (approver) {
    await tellUnit(
      tx,
      approver.id,
      `【延期申请】${c.orgUnit.name}申请将诉求 ${c.number} 的办结时限（${fmt(c.resolveDueAt, now)}）延长 ${days} 个工作日，理由：${why}\n请发送“批准延期 ${c.number}”或“驳回延期 ${c.number} 理由”。`,
      eventKey(c, r.event, "approver"),
    );
  }
  return { ...r, approver };
}

/** 批准延期 / 驳回延期: by a town admin or above, strictly above the ticket's unit. Approved: the deadline moves N working days. */
export async function decideExtension(tx: Tx, actor: ComplaintActor, ref: ComplaintRef, approve: boolean, reason: string | null | undefined, now = new Date()) {
  const note = optionalText(reason, REASON_MAX, "REASON_TOO_LONG", `理由请控制在 ${REASON_MAX} 个字以内。`);
  const c = await lockComplaint(tx, ref);
  requireCadreInScope(actor, c);
  if (!hasRoleAtLeast(actor, "TOWN_ADMIN") || !isSuperior(actor, c)) throw new AppError("NOT_APPROVER");
  const days = c.extensionDays;
  if (days == null) throw new AppError("NO_EXTENSION_PENDING", `诉求 ${c.number} 没有待审批的延期申请。`);
  const request = await tx.complaintEvent.findFirst({ where: { complaintId: c.id, kind: "EXTENSION_REQUESTED" }, orderBy: { id: "desc" }, select: { actorId: true, actorMemberId: true } });
  if (request && isOwner(actor, { ownerId: request.actorId, ownerMemberId: request.actorMemberId })) {
    throw new AppError("SELF_APPROVAL");
  }
  const resolveDueAt = approve ? (await loadCalendar(tx)).addWorkingDays(c.resolveDueAt, days) : c.resolveDueAt;
  const r = approve
    ? await commitEvent(tx, c, { kind: "EXTENSION_APPROVED", at: now, ...byActor(actor), note, data: { days, resolveDueAt: resolveDueAt.toISOString() } })
    : await commitEvent(tx, c, { kind: "EXTENSION_REJECTED", at: now, ...byActor(actor), note, data: { days } });
  await cadreAudit(tx, actor, approve ? "extension.approve" : "extension.reject", c, { days, reason: note });
  await tellOwner(
    tx,
    c,
    approve ? `诉求 ${c.number} 的延期申请已批准：办结时限延至 ${fmt(resolveDueAt, now)}。` : `诉求 ${c.number} 的延期申请未获批准${note ? `（${note}）` : ""}，请在 ${fmt(c.resolveDueAt, now)} 前办结。`,
    eventKey(c, r.event, "owner"),
  );
  if (approve) await tellFiler(tx, c, `您反映的 ${c.number} 办理时间延长 ${days} 个工作日，办结时限 ${fmt(resolveDueAt, now)}。`, eventKey(c, r.event, "filer"));
  return r;
}

// ───────────────────────────── filer actions ─────────────────────────────

/** 补充: more information from the filer (while the ticket is not closed); the owner is told. */
export async function addInfo(tx: Tx, filer: FilerRef, ref: ComplaintRef, info: string, now = new Date()) {
  const body = text(info, "INFO_MISSING", "请写上补充的内容，例如：补充 LX20261125-0007 路灯在村委会东边", CONTENT_MAX, `补充内容请控制在 ${CONTENT_MAX} 个字以内。`);
  const c = await lockOwnTicket(tx, filer, ref);
  const r = await commitEvent(tx, c, { kind: "INFO_ADDED", at: now, ...byFiler(filer, c), note: body });
  await tellOwner(tx, c, `诉求 ${c.number} 的反映人补充：${excerpt(body, 200)}`, eventKey(c, r.event, "owner"));
  return r;
}

/** 撤回: the filer withdraws a ticket that is not resolved yet; the owner is told. */
export async function withdrawComplaint(tx: Tx, filer: FilerRef, ref: ComplaintRef, reason?: string | null, now = new Date()) {
  const note = optionalText(reason, REASON_MAX, "REASON_TOO_LONG", `理由请控制在 ${REASON_MAX} 个字以内。`);
  const c = await lockOwnTicket(tx, filer, ref);
  const r = await commitEvent(tx, c, { kind: "WITHDRAWN", at: now, ...byFiler(filer, c), note });
  await tellOwner(tx, c, `诉求 ${c.number} 已由反映人撤回${note ? `（${note}）` : ""}。`, eventKey(c, r.event, "owner"));
  return r;
}

/** The filer's latest resolved, unrated ticket (满意 without a number). */
export async function latestToRate(tx: Tx, filer: Pick<FilerRef, "identityId" | "memberId">) {
  const or = [...(filer.identityId != null ? [{ filerIdentityId: filer.identityId }] : []), ...(filer.memberId != null ? [{ filerMemberId: filer.memberId }] : [])];
  if (or.length === 0) return null;
  return tx.complaint.findFirst({ where: { OR: or, status: "RESOLVED", rating: null }, orderBy: { resolvedAt: "desc" }, select: { id: true, number: true } });
}

/**
 * 满意 / 基本满意 / 不满意: only once resolved, only once. The first 不满意 reopens the ticket for its owner (回访, then
 * 重办 with a new resolution deadline); a second 不满意 closes it. Without `ref`: the filer's latest resolved ticket.
 */
export async function rateComplaint(
  tx: Tx,
  filer: FilerRef,
  ref: ComplaintRef | null,
  rating: ComplaintRating,
  comment: string | null | undefined,
  config: ComplaintConfig,
  now = new Date(),
) {
  const note = optionalText(comment, REASON_MAX, "COMMENT_TOO_LONG", `评价请控制在 ${REASON_MAX} 个字以内。`);
  let target = ref;
  if (target == null) {
    const latest = await latestToRate(tx, filer);
    if (!latest) throw new AppError("NOTHING_TO_RATE");
    target = latest.id;
  }
  const c = await lockOwnTicket(tx, filer, target);
  const rated = await commitEvent(tx, c, { kind: "RATED", at: now, ...byFiler(filer, c), note, data: { rating } });
  const label = RATING_LABEL[rating];
  if (rated.complaint.status !== "RESOLVED") {
    await tellOwner(tx, c, `诉求 ${c.number} 的反映人评价：${label}${note ? `（${note}）` : ""}，已结案。`, eventKey(c, rated.event, "owner"));
    return { ...rated, reopened: false };
  }
  // 不满意 the first time: 回访 then 重办, by the same owner, with the full resolution limit again.
  const resolveDueAt = redoDeadline(await loadCalendar(tx), config, now, c.urgent);
  const reopened = await commitEvent(tx, rated.complaint, { kind: "REOPENED", at: now, ...byFiler(filer, c), note, data: { resolveDueAt: resolveDueAt.toISOString() } });
  const body = `【重办】诉求 ${c.number} 的反映人对办理结果不满意${note ? `：${note}` : ""}。请先回访反映人，再重新办理，办结时限 ${fmt(resolveDueAt, now)}。`;
  if (!(await tellOwner(tx, c, body, eventKey(c, reopened.event, "owner")))) await tellUnit(tx, c.orgUnitId, body, eventKey(c, reopened.event, "unit"));
  return { ...reopened, reopened: true };
}
