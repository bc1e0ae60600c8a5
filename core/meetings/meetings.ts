// Meetings (学习 and 三会一课): publishing, changing and cancelling them, and telling the unit's groups through the
// outbox in the same transaction. Shared by the bot commands and the API.
import type { Meeting, MeetingType, OrgUnit, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope, ROLE_LABEL, type ScopeHolder } from "../org/scope.ts";
import { audit } from "../audit.ts";
import { tellGroups } from "../kernel/recipients.ts";
import { formatZhDateTime, formatZhTime } from "./time.ts";
import { MEETING_TYPE_LABEL } from "./labels.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** Whoever acts on a meeting, from chat or the API. */
export interface Actor extends ScopeHolder {
  cadreUserId: number | null;
  identityId: number | null;
  /** "WECHAT", "QQ", "api", "jobs" (audit log). */
  channel: string;
  requestId?: string;
}

export interface WindowDefaults {
  opensBeforeMin: number;
  closesAfterMin: number;
}

export interface MeetingInput {
  unitId: number;
  type?: MeetingType;
  topic: string;
  place?: string | null;
  plannedAt: Date;
  durationMinutes?: number;
  /** Check-in window around plannedAt; defaults from config. */
  opensBeforeMin?: number;
  closesAfterMin?: number;
  qrRequired?: boolean;
}

export type MeetingWithUnit = Meeting & { orgUnit: Pick<OrgUnit, "id" | "code" | "name" | "kind" | "path"> };

const UNIT_SELECT = { id: true, code: true, name: true, kind: true, path: true } as const;
const MAX_WINDOW_MIN = 24 * 60;
/** A meeting a minute in the past is a typo'd "now", not history. */
const PAST_SLACK_MS = 60_000;

function requireOrganiser(actor: Actor, unit: Pick<OrgUnit, "name" | "path">) {
  if (!hasRoleAtLeast(actor, "BRANCH_SECRETARY")) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以发布或修改学习。");
  if (!pathInScope(actor, unit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${unit.name}」不在您（${ROLE_LABEL[actor.role!]}）的管辖范围内。`);
}

function checkText(topic: string, place: string | null | undefined) {
  const t = topic.trim();
  if (!t) throw new AppError("TOPIC_MISSING");
  if (t.length > 100) throw new AppError("TOPIC_TOO_LONG");
  if (place && place.trim().length > 100) throw new AppError("PLACE_TOO_LONG");
}

function windowOf(plannedAt: Date, opensBeforeMin: number, closesAfterMin: number) {
  for (const [v, name] of [[opensBeforeMin, "提前开放签到"], [closesAfterMin, "签到截止"]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_WINDOW_MIN) throw new AppError("WINDOW_INVALID", `${name}的分钟数应在 0 到 ${MAX_WINDOW_MIN} 之间。`);
  }
  return {
    checkinOpensAt: new Date(plannedAt.getTime() - opensBeforeMin * 60_000),
    checkinClosesAt: new Date(plannedAt.getTime() + closesAfterMin * 60_000),
  };
}

const label = (m: Pick<Meeting, "type">) => MEETING_TYPE_LABEL[m.type];

/** The notice the groups receive. */
export function noticeText(m: Pick<Meeting, "type" | "topic" | "place" | "plannedAt" | "checkinOpensAt" | "checkinClosesAt" | "qrRequired">, now = new Date()) {
  return [
    `【${label(m)}通知】${m.topic}`,
    `时间：${formatZhDateTime(m.plannedAt, now)}`,
    ...(m.place ? [`地点：${m.place}`] : []),
    `签到：${formatZhTime(m.checkinOpensAt)}—${formatZhTime(m.checkinClosesAt)}，在群里发送“签到”${m.qrRequired ? "，或到现场扫码签到" : ""}`,
    "不能参加请发送“请假 原因”；看到通知请回复“收到”。",
  ].join("\n");
}

async function loadUnit(tx: Tx, unitId: number) {
  const unit = await tx.orgUnit.findUnique({ where: { id: unitId }, select: { ...UNIT_SELECT, active: true } });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  return unit;
}

export async function publishMeeting(tx: Tx, actor: Actor, input: MeetingInput, defaults: WindowDefaults, now = new Date()) {
  const unit = await loadUnit(tx, input.unitId);
  requireOrganiser(actor, unit);
  checkText(input.topic, input.place);
  if (input.plannedAt.getTime() < now.getTime() - PAST_SLACK_MS) {
    throw new AppError("TIME_IN_PAST", `开始时间 ${formatZhDateTime(input.plannedAt, now)} 已经过去了，请写一个以后的时间。`);
  }
  const duration = input.durationMinutes ?? 90;
  if (!Number.isInteger(duration) || duration < 10 || duration > 12 * 60) throw new AppError("DURATION_INVALID");
  const window = windowOf(input.plannedAt, input.opensBeforeMin ?? defaults.opensBeforeMin, input.closesAfterMin ?? defaults.closesAfterMin);
  const meeting = await tx.meeting.create({
    data: {
      orgUnitId: unit.id,
      type: input.type ?? "STUDY",
      topic: input.topic.trim(),
      place: input.place?.trim() || null,
      plannedAt: input.plannedAt,
      durationMinutes: duration,
      ...window,
      qrRequired: input.qrRequired ?? false,
      createdById: actor.cadreUserId,
      createdByIdentityId: actor.identityId,
    },
    include: { orgUnit: { select: UNIT_SELECT } },
  });
  const body = noticeText(meeting, now);
  const notice = await tx.notice.create({ data: { orgUnitId: unit.id, meetingId: meeting.id, title: `【${label(meeting)}通知】${meeting.topic}`, body } });
  const groups = await tellGroups(tx, unit.id, body, `notice:${notice.id}`);
  await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "meeting.publish", targetType: "Meeting", targetId: meeting.id, detail: { unitId: unit.id, groups }, requestId: actor.requestId });
  return { meeting, notice, groups };
}

/** A meeting the actor may see (any role: it must be in their subtree). */
export async function meetingInScope(tx: Tx, actor: ScopeHolder, id: number): Promise<MeetingWithUnit> {
  const meeting = await tx.meeting.findUnique({ where: { id }, include: { orgUnit: { select: UNIT_SELECT } } });
  if (!meeting) throw new AppError("MEETING_NOT_FOUND", `没有找到编号为 ${id} 的会议。`);
  if (!pathInScope(actor, meeting.orgUnit.path)) throw new AppError("OUT_OF_SCOPE");
  return meeting;
}

/** Changes are refused once the check-in window has closed (the record is then attendance history) or it was cancelled. */
function requireChangeable(m: Meeting, now: Date) {
  if (m.status === "CANCELLED") throw new AppError("MEETING_CANCELLED", `「${m.topic}」已经取消了。`);
  if (m.finalizedAt || m.checkinClosesAt <= now) throw new AppError("MEETING_CLOSED", `「${m.topic}」的签到已经结束，不能再修改或取消。`);
}

export interface MeetingPatch {
  type?: MeetingType;
  topic?: string;
  place?: string | null;
  plannedAt?: Date;
  durationMinutes?: number;
  opensBeforeMin?: number;
  closesAfterMin?: number;
  qrRequired?: boolean;
}

export async function updateMeeting(tx: Tx, actor: Actor, id: number, patch: MeetingPatch, now = new Date()) {
  const before = await meetingInScope(tx, actor, id);
  requireOrganiser(actor, before.orgUnit);
  requireChangeable(before, now);
  checkText(patch.topic ?? before.topic, patch.place === undefined ? before.place : patch.place);
  const plannedAt = patch.plannedAt ?? before.plannedAt;
  if (patch.plannedAt && plannedAt.getTime() < now.getTime() - PAST_SLACK_MS) {
    throw new AppError("TIME_IN_PAST", `新的开始时间 ${formatZhDateTime(plannedAt, now)} 已经过去了，请写一个以后的时间。`);
  }
  // A new start time keeps the window's shape (e.g. 30 min either side) unless a new shape is given.
  const opensBefore = patch.opensBeforeMin ?? Math.round((before.plannedAt.getTime() - before.checkinOpensAt.getTime()) / 60_000);
  const closesAfter = patch.closesAfterMin ?? Math.round((before.checkinClosesAt.getTime() - before.plannedAt.getTime()) / 60_000);
  const window = windowOf(plannedAt, opensBefore, closesAfter);
  const changes: string[] = [];
  if (patch.topic !== undefined && patch.topic.trim() !== before.topic) changes.push(`主题改为「${patch.topic.trim()}」`);
  if (patch.plannedAt && patch.plannedAt.getTime() !== before.plannedAt.getTime()) changes.push(`时间改为 ${formatZhDateTime(plannedAt, now)}`);
  if (patch.place !== undefined && (patch.place?.trim() || null) !== before.place) changes.push(patch.place?.trim() ? `地点改为 ${patch.place.trim()}` : "地点另行通知");
  if (patch.type && patch.type !== before.type) changes.push(`类型改为${MEETING_TYPE_LABEL[patch.type]}`);
  if (window.checkinOpensAt.getTime() !== before.checkinOpensAt.getTime() || window.checkinClosesAt.getTime() !== before.checkinClosesAt.getTime()) {
    changes.push(`签到时间 ${formatZhTime(window.checkinOpensAt)}—${formatZhTime(window.checkinClosesAt)}`);
  }
  if (patch.qrRequired !== undefined && patch.qrRequired !== before.qrRequired) changes.push(patch.qrRequired ? "需要现场扫码签到" : "无需扫码签到");
  if (patch.durationMinutes !== undefined && patch.durationMinutes !== before.durationMinutes) {
    if (!Number.isInteger(patch.durationMinutes) || patch.durationMinutes < 10 || patch.durationMinutes > 12 * 60) throw new AppError("DURATION_INVALID");
    changes.push(`时长改为 ${patch.durationMinutes} 分钟`);
  }
  if (changes.length === 0) throw new AppError("NOTHING_TO_CHANGE");
  const meeting = await tx.meeting.update({
    where: { id },
    data: {
      type: patch.type,
      topic: patch.topic?.trim(),
      place: patch.place === undefined ? undefined : patch.place?.trim() || null,
      plannedAt,
      durationMinutes: patch.durationMinutes,
      qrRequired: patch.qrRequired,
      ...window,
    },
    include: { orgUnit: { select: UNIT_SELECT } },
  });
  let groups = 0;
  if (changes.length) {
    const body = noticeText(meeting, now);
    await tx.notice.updateMany({ where: { meetingId: id }, data: { title: `【${label(meeting)}通知】${meeting.topic}`, body } });
    const text = [`【变更通知】「${before.topic}」：${changes.join("；")}。`, "", body].join("\n");
    groups = await tellGroups(tx, meeting.orgUnitId, text, `meeting:${id}:update:${meeting.updatedAt.getTime()}`);
  }
  await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "meeting.update", targetType: "Meeting", targetId: id, detail: { changes }, requestId: actor.requestId });
  return { meeting, changes, groups };
}

export async function cancelMeeting(tx: Tx, actor: Actor, id: number, reason: string | undefined, now = new Date()) {
  const before = await meetingInScope(tx, actor, id);
  requireOrganiser(actor, before.orgUnit);
  requireChangeable(before, now);
  if (reason && reason.length > 200) throw new AppError("REASON_TOO_LONG", "取消原因请控制在 200 个字以内。");
  const meeting = await tx.meeting.update({
    where: { id },
    data: { status: "CANCELLED", cancelledAt: now, cancelReason: reason?.trim() || null },
    include: { orgUnit: { select: UNIT_SELECT } },
  });
  const text = `【取消通知】原定 ${formatZhDateTime(before.plannedAt, now)} 的${label(before)}「${before.topic}」取消了${reason ? `，原因：${reason.trim()}` : ""}。签到也随之取消，请相互转告。`;
  const groups = await tellGroups(tx, before.orgUnitId, text, `meeting:${id}:cancel`);
  await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "meeting.cancel", targetType: "Meeting", targetId: id, detail: { reason }, requestId: actor.requestId });
  return { meeting, groups };
}

/** The next meeting of the unit that is not over yet (for 取消学习 / 修改学习 / 请假 without a number). */
export async function upcomingMeeting(tx: Tx, unitId: number, now = new Date()) {
  return tx.meeting.findFirst({
    where: { orgUnitId: unitId, status: { not: "CANCELLED" }, finalizedAt: null, checkinClosesAt: { gt: now } },
    orderBy: { plannedAt: "asc" },
  });
}

/** The meeting whose check-in window contains `at`, nearest start first. */
export async function openMeeting(tx: Tx, unitId: number, at = new Date()) {
  const open = await tx.meeting.findMany({
    where: { orgUnitId: unitId, status: { not: "CANCELLED" }, checkinOpensAt: { lte: at }, checkinClosesAt: { gte: at } },
    orderBy: { plannedAt: "asc" },
  });
  return open.sort((a, b) => Math.abs(a.plannedAt.getTime() - at.getTime()) - Math.abs(b.plannedAt.getTime() - at.getTime()))[0] ?? null;
}

/** For 统计: the session whose window is open now, else the latest one that has opened. */
export async function currentOrLastMeeting(tx: Tx, unitId: number, now = new Date()) {
  return (
    (await openMeeting(tx, unitId, now)) ??
    (await tx.meeting.findFirst({ where: { orgUnitId: unitId, status: { not: "CANCELLED" }, checkinOpensAt: { lte: now } }, orderBy: { plannedAt: "desc" } }))
  );
}

/** "#12" or "12" as a meeting number. */
export function parseMeetingNumber(word: string | undefined): number | undefined {
  const m = word ? /^[#＃]?(\d{1,9})$/.exec(word.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

/** Short description for replies: "11月28日（周六）19:30 学习「学习党章」（编号 12）". */
export function describeMeeting(m: Pick<Meeting, "id" | "type" | "topic" | "plannedAt">, now = new Date()) {
  return `${formatZhDateTime(m.plannedAt, now)} ${label(m)}「${m.topic}」（编号 ${m.id}）`;
}

/** Why a check-in was not recorded for this unit now: nothing open; says when the next window opens if there is one. */
export async function noOpenMeetingText(tx: Tx, unitId: number, now = new Date()) {
  const next = await upcomingMeeting(tx, unitId, now);
  if (!next) return "现在没有需要签到的学习或会议。";
  return `现在不在签到时间内。下一次：${describeMeeting(next, now)}，签到时间 ${formatZhTime(next.checkinOpensAt)}—${formatZhTime(next.checkinClosesAt)}。`;
}
