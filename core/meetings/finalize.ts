// When a check-in window closes: the meeting's attendance becomes its record (HELD when anyone attended) and the
// organisers get the final tally in private chat. Level-triggered and claimed row by row (finalizedAt), so a
// missed tick, a crash or a second jobs process can neither skip nor repeat it.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { tellUnit } from "../kernel/recipients.ts";
import { attendanceReport, reportText } from "./attendance.ts";
import { describeMeeting } from "./meetings.ts";

type Tx = Prisma.TransactionClient;

/**
 * Who gets a meeting's final tally: whoever is told about its unit (core/kernel/recipients.ts: the branch's
 * secretaries and the unit's linked console logins, a town's cadre group, one level up when nobody can be reached),
 * and whoever published it (their console login's member, or the chat identity they published from).
 */
export async function tellOrganisers(tx: Tx, meeting: { orgUnitId: number; createdById: number | null; createdByIdentityId: number | null }, body: string, key: string) {
  const creator = meeting.createdById ? await tx.cadreUser.findUnique({ where: { id: meeting.createdById }, select: { memberId: true } }) : null;
  return tellUnit(tx, meeting.orgUnitId, body, key, {
    alsoMembers: creator?.memberId ? [creator.memberId] : [],
    alsoIdentities: meeting.createdByIdentityId ? [meeting.createdByIdentityId] : [],
  });
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
      await tellOrganisers(tx, m, text, `meeting:${meetingId}:final`);
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
