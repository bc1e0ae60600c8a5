// What a member does for themself outside the group chat (the mini-program): check in, ask for leave, see their
// meetings; and the rotating on-site QR code a secretary puts on the screen for them to scan. The rules of the
// window, the scope and the QR token live here; attendance is written through attendance.ts like every channel's.
import QRCode from "qrcode";
import type { Meeting, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { memberMayAttend, recordCheckins, requestLeave, type CheckinOutcome } from "./attendance.ts";
import { pathIds } from "./notices.ts";
import { issueQrToken, verifyQrToken } from "./qr.ts";
import { formatZhDateTime } from "./time.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** A mini-program login: its ChatIdentity and the member it is linked to, if any. */
export interface MemberLogin {
  identityId: number;
  memberId: number | null;
}

/** Members in these states may check in; the others keep their record but lost their branch (转出 etc.). */
const SCOPED_STATUSES = new Set(["ACTIVE", "PROBATIONARY"]);

export const memberNotLinked = () =>
  new AppError("MEMBER_NOT_LINKED");

export async function loadLinkedMember(tx: Tx, login: MemberLogin) {
  if (login.memberId == null) throw memberNotLinked();
  const member = await tx.member.findUnique({
    where: { id: login.memberId },
    select: { id: true, name: true, status: true, branchId: true, branch: { select: { name: true, path: true } }, partyGroup: { select: { id: true, path: true } } },
  });
  if (!member) throw memberNotLinked();
  if (!SCOPED_STATUSES.has(member.status)) {
    throw new AppError("MEMBER_INACTIVE");
  }
  return member;
}

type LinkedMember = Awaited<ReturnType<typeof loadLinkedMember>>;

/** The units whose meetings the member attends: their branch and every unit above it, and their party group. */
export function memberUnitIds(m: LinkedMember): number[] {
  return [...pathIds(m.branch.path), ...(m.partyGroup ? [m.partyGroup.id] : [])];
}

/**
 * memberMayAttend looks at the branch only; a 党小组会 is held by a party-group unit below the branch, so the
 * member's party group is asked as well.
 */
function mayAttend(m: LinkedMember, unitPath: string) {
  return memberMayAttend(m.branch.path, unitPath) || (!!m.partyGroup && memberMayAttend(m.partyGroup.path, unitPath));
}

async function meetingForMember(tx: Tx, m: LinkedMember, meetingId: number) {
  const meeting = await tx.meeting.findUnique({ where: { id: meetingId }, include: { orgUnit: { select: { id: true, name: true, path: true } } } });
  if (!meeting) throw new AppError("MEETING_NOT_FOUND", `没有找到编号为 ${meetingId} 的会议。`);
  if (!mayAttend(m, meeting.orgUnit.path)) throw new AppError("OUT_OF_SCOPE", "这不是您所在支部（或上级单位）的会议，不能在这里签到或请假。");
  return meeting;
}

export type CheckinState = "NOT_OPEN" | "OPEN" | "CLOSED" | "CANCELLED";

/** Where the meeting's check-in stands at `now` (the window's ends included, as for chat check-ins). */
export function checkinState(m: Pick<Meeting, "status" | "checkinOpensAt" | "checkinClosesAt" | "finalizedAt">, now = new Date()): CheckinState {
  if (m.status === "CANCELLED") return "CANCELLED";
  if (m.finalizedAt || now > m.checkinClosesAt) return "CLOSED";
  if (now < m.checkinOpensAt) return "NOT_OPEN";
  return "OPEN";
}

function requireOpen(m: Pick<Meeting, "topic" | "status" | "checkinOpensAt" | "checkinClosesAt" | "finalizedAt">, now: Date) {
  switch (checkinState(m, now)) {
    case "CANCELLED":
      throw new AppError("MEETING_CANCELLED", `「${m.topic}」已经取消了，无需签到。`);
    case "CLOSED":
      throw new AppError("CHECKIN_CLOSED", `「${m.topic}」的签到已于 ${formatZhDateTime(m.checkinClosesAt, now)} 结束。`);
    case "NOT_OPEN":
      throw new AppError("CHECKIN_NOT_OPEN", `「${m.topic}」的签到还没有开始，将于 ${formatZhDateTime(m.checkinOpensAt, now)}（北京时间）开放，请到时再来签到。`, {
        opensAt: m.checkinOpensAt.toISOString(),
      });
    case "OPEN":
      return;
  }
}

/**
 * Mini-program 签到: the member's own meeting, inside its window, with the on-site QR token when the meeting asks
 * for one (a token that is given is always checked). Counted once per member whatever the channel: a member who
 * already checked in from the group gets "repeat".
 */
export async function memberCheckin(tx: Tx, login: MemberLogin, meetingId: number, opts: { qrToken?: string; qrSecret: string }, now = new Date()) {
  const member = await loadLinkedMember(tx, login);
  const meeting = await meetingForMember(tx, member, meetingId);
  requireOpen(meeting, now);
  if (opts.qrToken) verifyQrToken(opts.qrSecret, meeting.id, opts.qrToken, now.getTime());
  else if (meeting.qrRequired) throw new AppError("QR_TOKEN_REQUIRED");
  const [outcome] = await recordCheckins(tx, [{ meetingId: meeting.id, memberId: member.id, identityId: login.identityId, groupId: null, source: "MINIPROGRAM", at: now }]);
  const row = await tx.attendance.findUniqueOrThrow({ where: { meetingId_memberId: { meetingId: meeting.id, memberId: member.id } }, select: { recordedAt: true, source: true } });
  return { outcome: outcome as CheckinOutcome, meeting, member, recordedAt: row.recordedAt, source: row.source };
}

/** Mini-program 请假: pending the secretary's decision, like 请假 in the group. */
export async function memberLeave(tx: Tx, login: MemberLogin, meetingId: number, reason: string, now = new Date()) {
  const member = await loadLinkedMember(tx, login);
  const meeting = await meetingForMember(tx, member, meetingId);
  const { attendance, updated } = await requestLeave(tx, { meeting, memberId: member.id, identityId: login.identityId, groupId: null, source: "MINIPROGRAM", reason }, now);
  return { attendance, updated, meeting };
}

/** The member's meetings: those not over yet (soonest first) and those of the last `recentDays` (latest first). */
export async function memberMeetings(tx: Tx, login: MemberLogin, opts: { recentDays: number; limit: number }, now = new Date()) {
  const member = await loadLinkedMember(tx, login);
  const units = { orgUnitId: { in: memberUnitIds(member) } } satisfies Prisma.MeetingWhereInput;
  const include = {
    orgUnit: { select: { id: true, code: true, name: true, kind: true } },
    attendances: { where: { memberId: member.id }, select: { status: true, leaveDecision: true, source: true, recordedAt: true } },
  } as const;
  const [upcoming, recent] = await Promise.all([
    tx.meeting.findMany({ where: { ...units, finalizedAt: null, checkinClosesAt: { gte: now } }, orderBy: [{ plannedAt: "asc" }, { id: "asc" }], take: opts.limit, include }),
    tx.meeting.findMany({
      where: { ...units, OR: [{ finalizedAt: { not: null } }, { checkinClosesAt: { lt: now } }], plannedAt: { gte: new Date(now.getTime() - opts.recentDays * 86_400_000) } },
      orderBy: [{ plannedAt: "desc" }, { id: "desc" }],
      take: opts.limit,
      include,
    }),
  ]);
  const shape = ({ attendances, ...m }: (typeof upcoming)[number]) => ({ ...m, checkinState: checkinState(m, now), mine: attendances[0] ?? null });
  return { member, upcoming: upcoming.map(shape), recent: recent.map(shape) };
}

/**
 * The on-site QR code for the secretary's screen (it rotates every 30 s). Refused once nobody can check in any
 * more; before the window it is issued, so the screen can be set up early.
 */
export async function meetingQrCode(secret: string, meeting: Pick<Meeting, "id" | "topic" | "status" | "checkinOpensAt" | "checkinClosesAt" | "finalizedAt">, now = new Date()) {
  const state = checkinState(meeting, now);
  if (state === "CANCELLED") throw new AppError("MEETING_CANCELLED", `「${meeting.topic}」已经取消了，不需要签到二维码。`);
  if (state === "CLOSED") throw new AppError("CHECKIN_CLOSED", `「${meeting.topic}」的签到已于 ${formatZhDateTime(meeting.checkinClosesAt, now)} 结束，二维码不再提供。`);
  const issued = issueQrToken(secret, meeting.id, now.getTime());
  // The mini-program's scanner reads the token itself, so the code holds just the token.
  const svg = await QRCode.toString(issued.token, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return { ...issued, checkinState: state, svg };
}
