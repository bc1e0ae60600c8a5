// How every change to a ticket is written: lock the row, apply the event to the stored state with the pure reducer
// (which refuses illegal transitions), write the new state with a compare-and-set on what was read, and append the
// event, all in the caller's transaction. Two cadres claiming at once therefore serialise on the row: the second
// sees CLAIMED and is refused.
import type { Complaint, ComplaintEvent, ComplaintEventKind, OrgUnit, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, type ScopeHolder } from "../org/scope.ts";
import { applyEvent, stateChanges, stateOf, type ComplaintState, type EventData } from "./state.ts";

export type Tx = Prisma.TransactionClient | PrismaClient;

/** Whoever acts on a ticket as a cadre, from chat or the API (like core/meetings' Actor, plus the member record). */
export interface ComplaintActor extends ScopeHolder {
  cadreUserId: number | null;
  /** A chat cadre's member record (secretaries often have no console login). */
  memberId: number | null;
  identityId: number | null;
  /** "WECHAT", "QQ", "MINIPROGRAM", "api", "jobs" (event history and audit log). */
  channel: string;
  requestId?: string;
}

/** The person who filed, acting on their own ticket (chat identity and/or member record). */
export interface FilerRef {
  identityId: number | null;
  memberId: number | null;
  channel: string;
}

/** A ticket by database id or by its number ("LX20261125-0007"). */
export type ComplaintRef = number | string;

export const UNIT_SELECT = { id: true, code: true, name: true, kind: true, path: true, parentId: true } as const;
export type UnitRef = Pick<OrgUnit, "id" | "code" | "name" | "kind" | "path" | "parentId">;
export type LoadedComplaint = Complaint & { orgUnit: UnitRef };

const NUMBER_RE = /^(?:LX)?(\d{8})[-－—–]?(\d{4,6})$/i;

/** "LX20261125-0007", "lx20261125-0007" or "20261125-0007" → "LX20261125-0007"; undefined when it is not a number. */
export function parseComplaintNumber(word: string | undefined | null): string | undefined {
  const m = word ? NUMBER_RE.exec(word.trim()) : null;
  return m ? `LX${m[1]}-${m[2]}` : undefined;
}

function refWhere(ref: ComplaintRef): Prisma.ComplaintWhereUniqueInput {
  if (typeof ref === "number") return { id: ref };
  const number = parseComplaintNumber(ref);
  if (!number) throw new AppError("COMPLAINT_NUMBER_INVALID", `“${ref}”不是诉求编号，编号形如 LX20261125-0007。`);
  return { number };
}

const notFoundRef = (ref: ComplaintRef) =>
  new AppError("COMPLAINT_NOT_FOUND", typeof ref === "number" ? `没有找到编号为 ${ref} 的诉求。` : `没有找到诉求 ${parseComplaintNumber(ref) ?? ref}，请核对编号。`);

/** Reads a ticket (no lock). */
export async function loadComplaint(tx: Tx, ref: ComplaintRef): Promise<LoadedComplaint> {
  const c = await tx.complaint.findUnique({ where: refWhere(ref), include: { orgUnit: { select: UNIT_SELECT } } });
  if (!c) throw notFoundRef(ref);
  return c;
}

/** Reads a ticket and holds its row lock until the transaction ends (every transition starts here). */
export async function lockComplaint(tx: Tx, ref: ComplaintRef): Promise<LoadedComplaint> {
  const where = refWhere(ref);
  const rows =
    "id" in where && where.id != null
      ? await tx.$queryRaw<{ id: number }[]>`SELECT id FROM "Complaint" WHERE id = ${where.id} FOR UPDATE`
      : await tx.$queryRaw<{ id: number }[]>`SELECT id FROM "Complaint" WHERE number = ${where.number!} FOR UPDATE`;
  if (rows.length === 0) throw notFoundRef(ref);
  return loadComplaint(tx, rows[0].id);
}

export interface NewEvent<K extends ComplaintEventKind = ComplaintEventKind> {
  kind: K;
  at: Date;
  /** Null for the system (jobs) and for filers who are not members. */
  actorId?: number | null;
  actorMemberId?: number | null;
  actorIdentityId?: number | null;
  channel: string;
  fromUnitId?: number | null;
  toUnitId?: number | null;
  note?: string | null;
  data?: EventData[K];
}

export interface Committed {
  complaint: LoadedComplaint;
  event: ComplaintEvent;
  /** The state before the event (what the caller read under the lock). */
  before: ComplaintState;
}

/**
 * Applies `e` to the locked ticket `c`: the reducer decides the new state (or refuses with a 409), the row is updated
 * only if it is still what was read, and the event is appended.
 */
export async function commitEvent(tx: Tx, c: LoadedComplaint, e: NewEvent): Promise<Committed> {
  const before = stateOf(c);
  const reducerEvent = { kind: e.kind, createdAt: e.at, actorId: e.actorId ?? null, actorMemberId: e.actorMemberId ?? null, fromUnitId: e.fromUnitId, toUnitId: e.toUnitId, note: e.note, data: e.data };
  const next = applyEvent(before, reducerEvent);
  const changes = stateChanges(before, next);
  const { count } = await tx.complaint.updateMany({
    where: { id: c.id, status: c.status, orgUnitId: c.orgUnitId, ownerId: c.ownerId, ownerMemberId: c.ownerMemberId, escalationLevel: c.escalationLevel },
    data: { ...changes, updatedAt: e.at },
  });
  if (count !== 1) throw new AppError("COMPLAINT_CHANGED");
  const event = await tx.complaintEvent.create({
    data: {
      complaintId: c.id,
      kind: e.kind,
      actorId: e.actorId ?? null,
      actorMemberId: e.actorMemberId ?? null,
      actorIdentityId: e.actorIdentityId ?? null,
      channel: e.channel,
      fromUnitId: e.fromUnitId ?? null,
      toUnitId: e.toUnitId ?? null,
      note: e.note ?? null,
      data: (e.data ?? undefined) as Prisma.InputJsonValue | undefined,
      createdAt: e.at,
    },
  });
  const orgUnit = changes.orgUnitId != null ? await tx.orgUnit.findUniqueOrThrow({ where: { id: changes.orgUnitId }, select: UNIT_SELECT }) : c.orgUnit;
  return { complaint: { ...c, ...next, updatedAt: e.at, orgUnit }, event, before };
}

/** Event fields for a cadre actor. */
export const byActor = (a: ComplaintActor) => ({ actorId: a.cadreUserId, actorMemberId: a.memberId, actorIdentityId: a.identityId, channel: a.channel });
/** Event fields for the filer (anonymous tickets keep no member, so neither does their history). */
export const byFiler = (f: FilerRef, c: Pick<Complaint, "anonymous">) => ({ actorId: null, actorMemberId: c.anonymous ? null : f.memberId, actorIdentityId: f.identityId, channel: f.channel });
/** Event fields for the scheduler. */
export const bySystem = { actorId: null, actorMemberId: null, actorIdentityId: null, channel: "jobs" } as const;

export const isCadre = (a: Pick<ScopeHolder, "role">) => hasRoleAtLeast(a, "BRANCH_SECRETARY");

export function isOwner(a: Pick<ComplaintActor, "cadreUserId" | "memberId">, c: Pick<Complaint, "ownerId" | "ownerMemberId">) {
  return (a.cadreUserId != null && c.ownerId === a.cadreUserId) || (a.memberId != null && c.ownerMemberId === a.memberId);
}

export function isFiler(f: Pick<FilerRef, "identityId" | "memberId">, c: Pick<Complaint, "filerIdentityId" | "filerMemberId">) {
  return (f.identityId != null && c.filerIdentityId === f.identityId) || (f.memberId != null && c.filerMemberId === f.memberId);
}

/** The China date stamp "20261125" of a moment. */
export function chinaStamp(d: Date) {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");
}

/**
 * The next ticket number of the day (China date): LX20261125-0007. One atomic upsert on DailyCounter, so concurrent
 * filings never share a number, whatever process they run in.
 */
export async function nextComplaintNumber(tx: Tx, now = new Date()): Promise<string> {
  const day = chinaStamp(now);
  const [row] = await tx.$queryRaw<{ value: number }[]>`
    INSERT INTO "DailyCounter" (scope, day, value) VALUES ('complaint', ${day}, 1)
    ON CONFLICT (scope, day) DO UPDATE SET value = "DailyCounter".value + 1
    RETURNING value`;
  return `LX${day}-${String(row.value).padStart(4, "0")}`;
}
