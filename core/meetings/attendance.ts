// Attendance: the one place check-ins, leave and their counting live. Chat check-ins (batched), the mini-program
// and the console all write through recordCheckins, so the same person checking in twice, or through two
// channels, is one row: the unique keys (meeting, member) and (meeting, identity) decide, not the caller.
import type { AttendanceSource, AttendanceStatus, Meeting, OrgUnit, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope } from "../org/scope.ts";
import { rosterAtWhere } from "../org/roster.ts";
import { audit } from "../audit.ts";
import type { Actor } from "./meetings.ts";
import type { SqlRunner } from "../db/migrate.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/**
 * A Prisma client or transaction, or the driver's own runner (core/db `sql`) on the same database: the check-in
 * write-behind sends its two batch statements straight through the driver, where Prisma's per-call work on
 * 500-element array parameters was a large part of a county-wide burst's CPU (bench/checkin.bench.ts).
 */
export type RawRunner = Tx | SqlRunner;

export function rawQuery<T>(db: RawRunner, text: string, params: unknown[]): Promise<T[]> {
  return "$queryRawUnsafe" in db ? db.$queryRawUnsafe<T[]>(text, ...params) : db.query(text, params).then((r) => r.rows as T[]);
}

/** Prisma stores DateTime as UTC in `timestamp(3)`; now() would follow the session's TimeZone setting. */
export const NOW_UTC = `(now() AT TIME ZONE 'UTC')`;

export interface CheckinRow {
  meetingId: number;
  memberId: number | null;
  identityId: number | null;
  /** The chat group it came from (its summary goes there); null when there is no group to tell. */
  groupId: number | null;
  source: AttendanceSource;
  note?: string | null;
  /** When the person checked in (the platform's message time), not when we got round to writing it. */
  at: Date;
}

/** new: counted now; repeat: was already counted; upgraded: had asked for leave, now present. */
export type CheckinOutcome = "new" | "repeat" | "upgraded";

/**
 * Writes check-ins in one statement: new rows inserted; a person already present is marked as repeated (their
 * group summary says so); a person on leave who then checks in becomes present. Returns one outcome per input row.
 * Rows from a group wait for its summary (ackedAt null); the others are answered by their caller directly.
 */
export async function recordCheckins(tx: RawRunner, rows: CheckinRow[]): Promise<CheckinOutcome[]> {
  if (rows.length === 0) return [];
  for (const r of rows) if (r.memberId == null && r.identityId == null) throw new Error("recordCheckins: member or identity required");
  const col = <T>(f: (r: CheckinRow) => T) => rows.map(f);
  const result = await rawQuery<{ ord: bigint | number | string; outcome: CheckinOutcome }>(
    tx,
    // k: the person, as the unique keys see them (the member when linked, else the chat identity).
    `WITH input AS (
       SELECT t.*, CASE WHEN t."memberId" IS NOT NULL THEN t."memberId"::bigint ELSE -t."identityId"::bigint END AS k,
              row_number() OVER (PARTITION BY t."meetingId", CASE WHEN t."memberId" IS NOT NULL THEN t."memberId"::bigint ELSE -t."identityId"::bigint END ORDER BY t.ord) AS rn
         FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::text[], $6::text[], $7::timestamptz[])
              WITH ORDINALITY AS t("meetingId", "memberId", "identityId", "groupId", source, note, at, ord)
     ),
     ins AS (
       INSERT INTO "Attendance" ("meetingId", "memberId", "identityId", "groupId", status, source, note, "recordedAt", "updatedAt", "ackedAt")
       SELECT "meetingId", "memberId", "identityId", "groupId", 'PRESENT', source::"AttendanceSource", note, at AT TIME ZONE 'UTC', ${NOW_UTC},
              CASE WHEN "groupId" IS NULL THEN ${NOW_UTC} END
         FROM input WHERE rn = 1 ORDER BY ord
       ON CONFLICT DO NOTHING
       RETURNING "meetingId", CASE WHEN "memberId" IS NOT NULL THEN "memberId"::bigint ELSE -"identityId"::bigint END AS k
     ),
     -- Only people whose insert conflicted can have a row already (an inserted one met neither unique key), and each
     -- unique key is looked up on its own index: one OR over both made every new check-in scan all earlier rows of
     -- its meeting, quadratic per meeting over a county-wide burst.
     conflicted AS MATERIALIZED (
       SELECT * FROM input i WHERE i.rn = 1 AND NOT EXISTS (SELECT 1 FROM ins WHERE ins."meetingId" = i."meetingId" AND ins.k = i.k)
     ),
     existing AS (
       -- same: this very check-in, already written: a retry after a commit whose answer was lost, a redelivered
       -- message, or the copy another of our accounts in the group received. The same person at the same message
       -- time; not a repeat to announce, and not news either. (A real second 签到 has a later message time.)
       SELECT DISTINCT ON (id) * FROM (
         SELECT a.id, a.status, i.ord, i."groupId", i.source, i.note, i.at,
                (a."recordedAt" = i.at AT TIME ZONE 'UTC') AS same
           FROM conflicted i JOIN "Attendance" a ON a."meetingId" = i."meetingId" AND a."memberId" = i."memberId"
         UNION ALL
         SELECT a.id, a.status, i.ord, i."groupId", i.source, i.note, i.at,
                (a."recordedAt" = i.at AT TIME ZONE 'UTC') AS same
           FROM conflicted i JOIN "Attendance" a ON a."meetingId" = i."meetingId" AND a."identityId" = i."identityId"
          WHERE i."memberId" IS NULL
       ) AS x
        ORDER BY id, ord
     ),
     upgraded AS (
       UPDATE "Attendance" a SET status = 'PRESENT', "leaveDecision" = NULL, "decidedById" = NULL, "decidedAt" = NULL,
              source = e.source::"AttendanceSource", note = COALESCE(e.note, a.note), "groupId" = COALESCE(e."groupId", a."groupId"),
              "recordedAt" = e.at AT TIME ZONE 'UTC', "updatedAt" = ${NOW_UTC}, "ackedAt" = CASE WHEN e."groupId" IS NULL THEN ${NOW_UTC} END
         FROM existing e WHERE a.id = e.id AND e.status <> 'PRESENT'
       RETURNING e.ord
     ),
     repeated AS (
       UPDATE "Attendance" a SET "repeatedAt" = ${NOW_UTC}
         FROM existing e WHERE a.id = e.id AND e.status = 'PRESENT' AND NOT e.same AND e."groupId" IS NOT NULL AND e."groupId" = a."groupId"
       RETURNING a.id
     )
     SELECT i.ord,
            CASE WHEN i.rn = 1 AND (ins.k IS NOT NULL OR s.same) THEN 'new'
                 WHEN u.ord IS NOT NULL THEN 'upgraded'
                 ELSE 'repeat' END AS outcome
       FROM input i
       LEFT JOIN ins ON ins."meetingId" = i."meetingId" AND ins.k = i.k
       LEFT JOIN upgraded u ON u.ord = i.ord
       LEFT JOIN existing s ON s.ord = i.ord AND s.same AND s.status = 'PRESENT'
      ORDER BY i.ord`,
    [
      col((r) => r.meetingId),
      col((r) => r.memberId),
      col((r) => r.identityId),
      col((r) => r.groupId),
      col((r) => r.source),
      col((r) => r.note ?? null),
      col((r) => r.at.toISOString()),
    ],
  );
  return result.map((r) => r.outcome);
}

const LEAVE_REASON_MAX = 200;

/** 请假: recorded as leave waiting for the secretary's decision; refused once the person is present. */
export async function requestLeave(
  tx: Tx,
  input: { meeting: Pick<Meeting, "id" | "topic" | "checkinClosesAt" | "status" | "finalizedAt">; memberId: number | null; identityId: number | null; groupId: number | null; source: AttendanceSource; reason: string },
  now = new Date(),
) {
  const reason = input.reason.trim();
  if (!reason) throw new AppError("REASON_MISSING", "请写上请假原因，例如：请假 外出务工");
  if (reason.length > LEAVE_REASON_MAX) throw new AppError("REASON_TOO_LONG", `请假原因请控制在 ${LEAVE_REASON_MAX} 个字以内。`);
  if (input.meeting.status === "CANCELLED") throw new AppError("MEETING_CANCELLED", `「${input.meeting.topic}」已经取消了，无需请假。`);
  if (input.meeting.finalizedAt || input.meeting.checkinClosesAt <= now) throw new AppError("MEETING_CLOSED", `「${input.meeting.topic}」的签到已经结束，不能再请假。`);
  const where = input.memberId != null ? { meetingId_memberId: { meetingId: input.meeting.id, memberId: input.memberId } } : { meetingId_identityId: { meetingId: input.meeting.id, identityId: input.identityId! } };
  const existing = await tx.attendance.findUnique({ where });
  if (existing?.status === "PRESENT") throw new AppError("ALREADY_CHECKED_IN");
  const data = { status: "LEAVE" as const, note: reason, leaveDecision: "PENDING" as const, decidedById: null, decidedAt: null, source: input.source, ackedAt: now };
  const row = existing
    ? await tx.attendance.update({ where: { id: existing.id }, data })
    : await tx.attendance.create({ data: { meetingId: input.meeting.id, memberId: input.memberId, identityId: input.identityId, groupId: input.groupId, recordedAt: now, ...data } });
  return { attendance: row, updated: !!existing };
}

/** 准假 / 不准假 by a secretary (or above) of the meeting's unit. */
export async function decideLeave(
  tx: Tx,
  actor: Actor,
  input: { meeting: Pick<Meeting, "id" | "topic"> & { orgUnit: Pick<OrgUnit, "path" | "name"> }; memberId: number | null; identityId: number | null; approve: boolean; reason?: string },
  now = new Date(),
) {
  if (!hasRoleAtLeast(actor, "BRANCH_SECRETARY")) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以审批请假。");
  if (!pathInScope(actor, input.meeting.orgUnit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${input.meeting.orgUnit.name}」不在您的管辖范围内。`);
  const row = await tx.attendance.findFirst({
    where: { meetingId: input.meeting.id, ...(input.memberId != null ? { memberId: input.memberId } : { identityId: input.identityId }) },
  });
  if (!row || row.status !== "LEAVE") throw new AppError("LEAVE_NOT_FOUND", `没有找到这个人在「${input.meeting.topic}」的请假。`);
  const updated = await tx.attendance.update({
    where: { id: row.id },
    data: { leaveDecision: input.approve ? "APPROVED" : "REJECTED", decidedById: actor.cadreUserId, decidedAt: now },
  });
  await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: input.approve ? "leave.approve" : "leave.reject", targetType: "Attendance", targetId: row.id, detail: { meetingId: input.meeting.id, reason: input.reason } });
  return updated;
}

/**
 * When an identity is linked to a roster member (登记 / 我是), its unlinked check-ins become the member's. Where the
 * member already has a row for that meeting (checked in another way), the unlinked one was the same person: dropped.
 */
export async function adoptUnlinkedAttendance(tx: Tx, identityId: number, memberId: number) {
  await tx.$executeRawUnsafe(
    `UPDATE "Attendance" a SET "memberId" = $2, "updatedAt" = ${NOW_UTC}
      WHERE a."identityId" = $1 AND a."memberId" IS NULL
        AND NOT EXISTS (SELECT 1 FROM "Attendance" b WHERE b."meetingId" = a."meetingId" AND b."memberId" = $2)`,
    identityId,
    memberId,
  );
  await tx.attendance.deleteMany({ where: { identityId, memberId: null } });
}

export interface AttendancePerson {
  /** Absent people have no row: ABSENT. */
  status: AttendanceStatus;
  memberId: number | null;
  identityId: number | null;
  name: string;
  at?: Date;
  source?: AttendanceSource;
  note?: string | null;
  decision?: string | null;
  /** Platform user ids of this member in the given group (for @-mentions). */
  mentionIds?: string[];
}

export interface AttendanceReport {
  meeting: Meeting & { orgUnit: Pick<OrgUnit, "id" | "code" | "name" | "kind" | "path"> };
  rosterCount: number;
  present: AttendancePerson[];
  leave: AttendancePerson[];
  /** Roster members neither present nor on (approved or pending) leave; a rejected leave counts as absent. */
  absent: AttendancePerson[];
  /** Checked in from chat but not linked to anyone on the roster yet (the secretary can 登记 them). */
  unlinked: AttendancePerson[];
  /** Linked members from outside this unit's roster who checked in (列席). */
  guests: AttendancePerson[];
}

/** Present / leave / absent for a meeting; with groupId, absentees carry their ids in that group for @-mentions. */
export async function attendanceReport(tx: Tx, meetingId: number, opts: { groupId?: number } = {}): Promise<AttendanceReport> {
  const meeting = await tx.meeting.findUnique({ where: { id: meetingId }, include: { orgUnit: { select: { id: true, code: true, name: true, kind: true, path: true } } } });
  if (!meeting) throw new AppError("MEETING_NOT_FOUND", `没有找到编号为 ${meetingId} 的会议。`);
  const [roster, rows] = await Promise.all([
    tx.member.findMany({ where: rosterAtWhere(meeting.orgUnit, meeting.plannedAt), select: { id: true, name: true }, orderBy: { id: "asc" } }),
    tx.attendance.findMany({
      where: { meetingId },
      orderBy: { recordedAt: "asc" },
      include: { member: { select: { name: true } }, identity: { select: { displayName: true } } },
    }),
  ]);
  const onRoster = new Set(roster.map((m) => m.id));
  const person = (r: (typeof rows)[number]): AttendancePerson => ({
    status: r.status,
    memberId: r.memberId,
    identityId: r.identityId,
    name: r.member?.name ?? (r.identity?.displayName || "（无昵称）"),
    at: r.recordedAt,
    source: r.source,
    note: r.note,
    decision: r.leaveDecision,
  });
  const present = rows.filter((r) => r.status === "PRESENT" && r.memberId != null && onRoster.has(r.memberId)).map(person);
  const leave = rows.filter((r) => r.status === "LEAVE" && r.leaveDecision !== "REJECTED" && r.memberId != null && onRoster.has(r.memberId)).map(person);
  const accounted = new Set([...present, ...leave].map((p) => p.memberId));
  let absent: AttendancePerson[] = roster.filter((m) => !accounted.has(m.id)).map((m) => ({ status: "ABSENT" as const, memberId: m.id, identityId: null, name: m.name }));
  if (opts.groupId != null && absent.length) {
    const ids = await tx.chatIdentity.findMany({
      where: { memberId: { in: absent.map((a) => a.memberId!) }, groupMemberships: { some: { groupId: opts.groupId, leftAt: null } } },
      select: { memberId: true, platformUserId: true },
    });
    const byMember = new Map<number, string[]>();
    for (const i of ids) byMember.set(i.memberId!, [...(byMember.get(i.memberId!) ?? []), i.platformUserId]);
    absent = absent.map((a) => ({ ...a, mentionIds: byMember.get(a.memberId!) ?? [] }));
  }
  return {
    meeting,
    rosterCount: roster.length,
    present,
    leave,
    absent,
    unlinked: rows.filter((r) => r.memberId == null).map(person),
    guests: rows.filter((r) => r.status === "PRESENT" && r.memberId != null && !onRoster.has(r.memberId)).map(person),
  };
}

/** "张三、李四、王五 等 12 人" with at most `cap` names. */
export function nameList(people: { name: string }[], cap: number): string {
  if (people.length === 0) return "无";
  const shown = people.slice(0, cap).map((p) => p.name).join("、");
  return people.length > cap ? `${shown} 等 ${people.length} 人` : shown;
}

/** The chat text of a report (统计 and the secretary's final tally). */
export function reportText(r: AttendanceReport, cap: number): string {
  const lines = [
    `「${r.meeting.topic}」签到情况：应到 ${r.rosterCount} 人，已签到 ${r.present.length} 人，请假 ${r.leave.length} 人，未签到 ${r.absent.length} 人。`,
    `已签到：${nameList(r.present, cap)}`,
    `请假：${r.leave.length ? r.leave.slice(0, cap).map((p) => `${p.name}（${p.note ?? ""}${p.decision === "PENDING" ? "，待审批" : ""}）`).join("、") + (r.leave.length > cap ? ` 等 ${r.leave.length} 人` : "") : "无"}`,
    `未签到：${nameList(r.absent, cap)}`,
  ];
  if (r.unlinked.length) lines.push(`未登记的签到（请用“登记 @某人 姓名”确认）：${nameList(r.unlinked, cap)}`);
  if (r.guests.length) lines.push(`列席：${nameList(r.guests, cap)}`);
  return lines.join("\n");
}

/** For the API's member-facing check-in: the meeting must be the member's branch's or above it. */
export function memberMayAttend(memberBranchPath: string, meetingUnitPath: string) {
  return memberBranchPath.startsWith(meetingUnitPath);
}

export const leaveSources = (channel: string): AttendanceSource => (channel === "QQ" ? "QQ" : channel === "MINIPROGRAM" ? "MINIPROGRAM" : "WECHAT");
