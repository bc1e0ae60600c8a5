// Meetings for the console: a page of the caller's subtree with each meeting's headline numbers. The numbers
// follow attendanceReport's rules (present and leave count roster members only, a rejected leave is absent) but
// are computed for the whole page at once instead of one report per meeting.
import type { AttendanceStatus, LeaveDecision, MeetingStatus, MeetingType, OrgUnit, Prisma, PrismaClient } from "../db/index.ts";
import { rosterAtWhere } from "../org/roster.ts";
import { subtreeWhere, type ScopeHolder } from "../org/scope.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export interface MeetingFilter {
  /** Only this unit and its subtree (the caller checks it is in scope; the caller's subtree applies anyway). */
  unitPath?: string;
  /** plannedAt ≥ from and < to. */
  from?: Date;
  to?: Date;
  type?: MeetingType;
  status?: MeetingStatus;
  page: number;
  pageSize: number;
}

export interface MeetingCounts {
  rosterCount: number;
  present: number;
  leave: number;
  absent: number;
}

type UnitRef = Pick<OrgUnit, "id" | "kind" | "path">;

/**
 * Headline numbers of several meetings: one grouped query over their attendance (restricted to each meeting's
 * roster at its planned time, core/org/roster.ts) and one roster count per distinct unit and planned time.
 */
export async function meetingCounts(tx: Tx, meetings: { id: number; plannedAt: Date; orgUnit: UnitRef }[]): Promise<Map<number, MeetingCounts>> {
  if (meetings.length === 0) return new Map();
  const rosterKey = (m: { plannedAt: Date; orgUnit: UnitRef }) => `${m.orgUnit.id}@${m.plannedAt.getTime()}`;
  const rosters = [...new Map(meetings.map((m) => [rosterKey(m), m])).entries()];
  const [groups, rosterCounts] = await Promise.all([
    tx.attendance.groupBy({
      by: ["meetingId", "status", "leaveDecision"],
      where: { OR: meetings.map((m) => ({ meetingId: m.id, member: rosterAtWhere(m.orgUnit, m.plannedAt) })) },
      _count: { _all: true },
    }),
    Promise.all(rosters.map(([, m]) => tx.member.count({ where: rosterAtWhere(m.orgUnit, m.plannedAt) }))),
  ]);
  const roster = new Map(rosters.map(([key], i) => [key, rosterCounts[i]]));
  const tally = new Map<number, { present: number; leave: number }>();
  for (const g of groups as { meetingId: number; status: AttendanceStatus; leaveDecision: LeaveDecision | null; _count: { _all: number } }[]) {
    const t = tally.get(g.meetingId) ?? { present: 0, leave: 0 };
    if (g.status === "PRESENT") t.present += g._count._all;
    else if (g.status === "LEAVE" && g.leaveDecision !== "REJECTED") t.leave += g._count._all;
    tally.set(g.meetingId, t);
  }
  return new Map(
    meetings.map((m) => {
      const rosterCount = roster.get(rosterKey(m)) ?? 0;
      const { present, leave } = tally.get(m.id) ?? { present: 0, leave: 0 };
      return [m.id, { rosterCount, present, leave, absent: Math.max(0, rosterCount - present - leave) }];
    }),
  );
}

/** A page of meetings in the holder's subtree, latest first, each with its counts. */
export async function listMeetings(tx: Tx, holder: ScopeHolder, f: MeetingFilter) {
  const where: Prisma.MeetingWhereInput = {
    AND: [
      { orgUnit: subtreeWhere(holder) },
      f.unitPath ? { orgUnit: { path: { startsWith: f.unitPath } } } : {},
      f.from || f.to ? { plannedAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {},
      f.type ? { type: f.type } : {},
      f.status ? { status: f.status } : {},
    ],
  };
  const [total, rows] = await Promise.all([
    tx.meeting.count({ where }),
    tx.meeting.findMany({
      where,
      orderBy: [{ plannedAt: "desc" }, { id: "desc" }],
      skip: (f.page - 1) * f.pageSize,
      take: f.pageSize,
      include: { orgUnit: { select: { id: true, code: true, name: true, kind: true, path: true } } },
    }),
  ]);
  const counts = await meetingCounts(tx, rows);
  return { items: rows.map((m) => ({ ...m, counts: counts.get(m.id)! })), page: f.page, pageSize: f.pageSize, total };
}
