// When a check-in window closes: the meeting's attendance becomes its record (HELD when anyone attended) and the
// organisers get the final tally in private chat. Level-triggered and claimed row by row (finalizedAt), so a
// missed tick, a crash or a second jobs process can neither skip nor repeat it.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { enqueue, PRIORITY } from "../delivery/outbox.ts";
import { attendanceReport, reportText } from "./attendance.ts";
import { describeMeeting } from "./meetings.ts";

type Tx = Prisma.TransactionClient;

/** Chat identities to tell about a meeting: the unit's secretaries and whoever published it; one per person and platform. */
export async function organiserIdentities(tx: Tx, meeting: { orgUnitId: number; createdById: number | null; createdByIdentityId: number | null }) {
  const unit = await tx.orgUnit.findUniqueOrThrow({ where: { id: meeting.orgUnitId }, select: { id: true, kind: true, parentId: true } });
  const branchId = unit.kind === "BRANCH" ? unit.id : unit.kind === "PARTY_GROUP" ? unit.parentId : null;
  const creator = meeting.createdById ? await tx.cadreUser.findUnique({ where: { id: meeting.createdById }, select: { memberId: true } }) : null;
  const memberIds = [
    ...(branchId ? (await tx.member.findMany({ where: { branchId, isSecretary: true, status: { in: ["ACTIVE", "PROBATIONARY"] } }, select: { id: true } })).map((m) => m.id) : []),
    ...(creator?.memberId ? [creator.memberId] : []),
  ];
  const identities = await tx.chatIdentity.findMany({
    where: { OR: [{ memberId: { in: memberIds } }, ...(meeting.createdByIdentityId ? [{ id: meeting.createdByIdentityId }] : [])], channel: { in: ["WECHAT", "QQ"] } },
    orderBy: { lastSeenAt: "desc" },
  });
  const seen = new Set<string>();
  return identities.filter((i) => {
    const key = `${i.memberId ?? `i${i.id}`}:${i.channel}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A private message to an identity: WeChat contact ids only mean something to the account that saw them. */
export async function enqueuePrivate(tx: Tx, identity: { id: number; channel: string; scope: string }, body: string, idempotencyKey: string, priority: number = PRIORITY.notice) {
  let accountId: number | null = null;
  if (identity.channel === "WECHAT") {
    const account = await tx.botAccount.findUnique({ where: { name: identity.scope }, select: { id: true } });
    if (!account) return false;
    accountId = account.id;
  }
  return enqueue(tx, { channel: identity.channel as "WECHAT" | "QQ", accountId, identityId: identity.id, body, priority, idempotencyKey });
}

export async function finalizeMeeting(prisma: PrismaClient, meetingId: number, now = new Date()): Promise<boolean> {
  return prisma.$transaction(
    async (tx) => {
      const claimed = await tx.meeting.updateMany({ where: { id: meetingId, finalizedAt: null, status: { not: "CANCELLED" } }, data: { finalizedAt: now } });
      if (claimed.count === 0) return false;
      const report = await attendanceReport(tx, meetingId);
      const m = report.meeting;
      const held = report.present.length + report.guests.length > 0;
      await tx.meeting.update({ where: { id: meetingId }, data: held ? { status: "HELD", heldAt: m.plannedAt } : {} });
      const text = [`签到已结束：${describeMeeting(m, now)}`, reportText(report, 50), held ? "" : "本次没有人签到，会议未记为已召开；如已召开，请在管理后台补录。"]
        .filter(Boolean)
        .join("\n");
      for (const identity of await organiserIdentities(tx, m)) {
        await enqueuePrivate(tx, identity, text, `meeting:${meetingId}:final:i${identity.id}`);
      }
      return true;
    },
    { timeout: 30_000 },
  );
}

/** Meetings whose window has closed and that have not been finalized; returns how many were finalized now. */
export async function finalizeClosedMeetings(prisma: PrismaClient, now = new Date()): Promise<number> {
  const due = await prisma.meeting.findMany({
    where: { finalizedAt: null, status: { not: "CANCELLED" }, checkinClosesAt: { lte: now } },
    select: { id: true },
    orderBy: { checkinClosesAt: "asc" },
    take: 500,
  });
  let n = 0;
  for (const { id } of due) if (await finalizeMeeting(prisma, id, now)) n++;
  return n;
}
