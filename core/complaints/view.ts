// Reading tickets, with the privacy rule: the filer's name and phone are shown only to the handlers of the ticket —
// its owner, the cadres of its current unit and the cadres above it — and to the filer. A cadre who handled it
// before it was transferred away still sees it, masked (张* / 138****1234). An anonymous ticket shows nobody the
// filer. Cadres outside the unit's subtree get 403 OUT_OF_SCOPE; anyone else who is not the filer gets 404.
import type { Complaint, ComplaintEventKind, ComplaintRating, ComplaintStatus, Prisma } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope, subtreeWhere, type ScopeHolder } from "../org/scope.ts";
import { EVENT_LABEL, OPEN_STATUSES, RATING_LABEL, STATUS_LABEL } from "./state.ts";
import { isCadre, isFiler, isOwner, loadComplaint, type ComplaintRef, type Tx } from "./transition.ts";
import { excerpt } from "./complaints.ts";

/** Whoever reads: a cadre (chat or console), a filer (chat identity, mini-program), or both. */
export interface ComplaintViewer extends ScopeHolder {
  cadreUserId: number | null;
  memberId: number | null;
  identityId: number | null;
}

export type ComplaintAccess = "filer" | "handler" | "former";

export interface ComplaintEventView {
  id: number;
  kind: ComplaintEventKind;
  label: string;
  at: Date;
  /** "反映人", "系统", or the cadre's name. */
  actor: string;
  channel: string;
  fromUnit: string | null;
  toUnit: string | null;
  note: string | null;
}

export interface ComplaintView {
  id: number;
  number: string;
  status: ComplaintStatus;
  statusLabel: string;
  channel: string;
  content: string;
  category: string | null;
  location: string | null;
  urgent: boolean;
  anonymous: boolean;
  unit: { id: number; code: string; name: string; kind: string };
  /** name / phone null when not shown; masked says they were shortened for this reader. */
  filer: { name: string | null; phone: string | null; masked: boolean; anonymous: boolean };
  owner: { name: string } | null;
  createdAt: Date;
  responseDueAt: Date;
  resolveDueAt: Date;
  claimedAt: Date | null;
  resolvedAt: Date | null;
  resolution: string | null;
  rating: ComplaintRating | null;
  ratingLabel: string | null;
  ratingComment: string | null;
  ratedAt: Date | null;
  reopenCount: number;
  escalationLevel: number;
  pendingExtension: { days: number; reason: string | null; requestedAt: Date } | null;
  /** Open and past its resolution deadline. */
  overdue: boolean;
  attachments: { id: number; kind: string; location: string; mimeType: string | null; sizeBytes: number | null; createdAt: Date }[];
  events: ComplaintEventView[];
  access: ComplaintAccess;
}

/** "张三" → "张*", "欧阳娜娜" → "欧***". */
export function maskName(name: string | null | undefined): string | null {
  if (!name) return null;
  const chars = [...name];
  return chars[0] + "*".repeat(Math.max(1, chars.length - 1));
}

/** "13800001234" → "138****1234"; short numbers are hidden entirely. */
export function maskPhone(phone: string | null | undefined): string | null {
  if (!phone) return null;
  const digits = phone.replace(/\s+/g, "");
  return digits.length >= 7 ? `${digits.slice(0, 3)}****${digits.slice(-4)}` : "****";
}

const FILER_KINDS = new Set<ComplaintEventKind>(["FILED", "INFO_ADDED", "WITHDRAWN", "RATED", "REOPENED"]);
const CADRE_KINDS: ComplaintEventKind[] = ["CLAIMED", "TRANSFERRED", "REPLIED", "RESOLVED", "EXTENSION_REQUESTED", "EXTENSION_APPROVED", "EXTENSION_REJECTED", "URGENT_SET"];
/** Internal steps the filer's history does not show. */
const INTERNAL_KINDS = new Set<ComplaintEventKind>(["REMINDED", "ESCALATED", "EXTENSION_REQUESTED", "EXTENSION_REJECTED", "URGENT_SET"]);

async function accessOf(tx: Tx, viewer: ComplaintViewer, c: { id: number; number: string; ownerId: number | null; ownerMemberId: number | null; filerIdentityId: number | null; filerMemberId: number | null; orgUnit: { path: string; name: string } }): Promise<ComplaintAccess> {
  if (isFiler(viewer, c)) return "filer";
  if (isCadre(viewer)) {
    if (pathInScope(viewer, c.orgUnit.path) || isOwner(viewer, c)) return "handler";
    const actorOr = [...(viewer.cadreUserId != null ? [{ actorId: viewer.cadreUserId }] : []), ...(viewer.memberId != null ? [{ actorMemberId: viewer.memberId }] : [])];
    if (actorOr.length && (await tx.complaintEvent.count({ where: { complaintId: c.id, kind: { in: CADRE_KINDS }, OR: actorOr } }))) return "former";
    throw new AppError("OUT_OF_SCOPE", `抱歉，诉求 ${c.number}（${c.orgUnit.name}）不在您的管辖范围内。`);
  }
  throw new AppError("COMPLAINT_NOT_FOUND", `没有找到您反映的诉求 ${c.number}，请核对编号。`);
}

/** The filer as a viewer sees them: in full when `shown`, masked otherwise, nobody for an anonymous ticket. */
export function filerAsShown(c: Pick<Complaint, "anonymous" | "filerName" | "filerPhone">, shown: boolean) {
  if (c.anonymous) return { name: null, phone: null, masked: false, anonymous: true };
  if (shown) return { name: c.filerName || null, phone: c.filerPhone, masked: false, anonymous: false };
  return { name: maskName(c.filerName), phone: maskPhone(c.filerPhone), masked: true, anonymous: false };
}

/** One ticket with its history, as this viewer may see it (see the file comment for who sees what). */
export async function viewComplaint(tx: Tx, viewer: ComplaintViewer, ref: ComplaintRef, now = new Date()): Promise<ComplaintView> {
  const c = await loadComplaint(tx, ref);
  const access = await accessOf(tx, viewer, c);
  const [unit, events, attachments, ownerMember, ownerUser] = await Promise.all([
    tx.orgUnit.findUniqueOrThrow({ where: { id: c.orgUnitId }, select: { id: true, code: true, name: true, kind: true } }),
    tx.complaintEvent.findMany({ where: { complaintId: c.id }, orderBy: { id: "asc" }, include: { actor: { select: { displayName: true } }, actorMember: { select: { name: true } } } }),
    tx.complaintAttachment.findMany({ where: { complaintId: c.id }, orderBy: { id: "asc" } }),
    c.ownerMemberId != null ? tx.member.findUnique({ where: { id: c.ownerMemberId }, select: { name: true } }) : null,
    c.ownerId != null ? tx.cadreUser.findUnique({ where: { id: c.ownerId }, select: { displayName: true } }) : null,
  ]);
  const unitIds = [...new Set(events.flatMap((e) => [e.fromUnitId, e.toUnitId]).filter((x): x is number => x != null))];
  const unitNames = new Map((await tx.orgUnit.findMany({ where: { id: { in: unitIds } }, select: { id: true, name: true } })).map((u) => [u.id, u.name]));
  const filer = filerAsShown(c, access === "filer" || access === "handler");
  const pending = c.extensionDays != null ? [...events].reverse().find((e) => e.kind === "EXTENSION_REQUESTED") : undefined;
  return {
    id: c.id,
    number: c.number,
    status: c.status,
    statusLabel: STATUS_LABEL[c.status],
    channel: c.channel,
    content: c.content,
    category: c.category,
    location: c.location,
    urgent: c.urgent,
    anonymous: c.anonymous,
    unit,
    filer,
    owner: ownerMember || ownerUser ? { name: ownerMember?.name ?? ownerUser!.displayName } : null,
    createdAt: c.createdAt,
    responseDueAt: c.responseDueAt,
    resolveDueAt: c.resolveDueAt,
    claimedAt: c.claimedAt,
    resolvedAt: c.resolvedAt,
    resolution: c.resolution,
    rating: c.rating,
    ratingLabel: c.rating ? RATING_LABEL[c.rating] : null,
    ratingComment: c.ratingComment,
    ratedAt: c.ratedAt,
    reopenCount: c.reopenCount,
    escalationLevel: c.escalationLevel,
    pendingExtension: c.extensionDays != null ? { days: c.extensionDays, reason: pending?.note ?? null, requestedAt: pending?.createdAt ?? c.updatedAt } : null,
    overdue: (OPEN_STATUSES as readonly string[]).includes(c.status) && c.resolveDueAt < now,
    attachments: attachments.map((a) => ({ id: a.id, kind: a.kind, location: a.location, mimeType: a.mimeType, sizeBytes: a.sizeBytes, createdAt: a.createdAt })),
    events: events
      .filter((e) => access !== "filer" || !INTERNAL_KINDS.has(e.kind))
      .map((e) => ({
        id: e.id,
        kind: e.kind,
        label: EVENT_LABEL[e.kind],
        at: e.createdAt,
        actor: FILER_KINDS.has(e.kind) ? "反映人" : e.channel === "jobs" ? "系统" : (e.actorMember?.name ?? e.actor?.displayName ?? "干部"),
        channel: e.channel,
        fromUnit: e.fromUnitId != null ? (unitNames.get(e.fromUnitId) ?? null) : null,
        toUnit: e.toUnitId != null ? (unitNames.get(e.toUnitId) ?? null) : null,
        note: e.note,
      })),
    access,
  };
}

export interface ComplaintListItem {
  id: number;
  number: string;
  status: ComplaintStatus;
  statusLabel: string;
  unitName: string;
  excerpt: string;
  urgent: boolean;
  createdAt: Date;
  responseDueAt: Date;
  resolveDueAt: Date;
}

const LIST_SELECT = {
  id: true,
  number: true,
  status: true,
  content: true,
  urgent: true,
  createdAt: true,
  responseDueAt: true,
  resolveDueAt: true,
  orgUnit: { select: { name: true } },
} as const satisfies Prisma.ComplaintSelect;

const listItem = (c: Prisma.ComplaintGetPayload<{ select: typeof LIST_SELECT }>): ComplaintListItem => ({
  id: c.id,
  number: c.number,
  status: c.status,
  statusLabel: STATUS_LABEL[c.status],
  unitName: c.orgUnit.name,
  excerpt: excerpt(c.content, 30),
  urgent: c.urgent,
  createdAt: c.createdAt,
  responseDueAt: c.responseDueAt,
  resolveDueAt: c.resolveDueAt,
});

/** 我的诉求: the filer's tickets, newest first (by their chat identity or their member record). */
export async function myComplaints(tx: Tx, filer: { identityId: number | null; memberId: number | null }, opts: { limit?: number } = {}) {
  const or = [...(filer.identityId != null ? [{ filerIdentityId: filer.identityId }] : []), ...(filer.memberId != null ? [{ filerMemberId: filer.memberId }] : [])];
  if (or.length === 0) return { total: 0, items: [] as ComplaintListItem[] };
  const where = { OR: or } satisfies Prisma.ComplaintWhereInput;
  const [total, rows] = await Promise.all([tx.complaint.count({ where }), tx.complaint.findMany({ where, select: LIST_SELECT, orderBy: { id: "desc" }, take: opts.limit ?? 10 })]);
  return { total, items: rows.map(listItem) };
}

export interface InboxItem extends ComplaintListItem {
  /** The deadline that matters now: the response deadline while unclaimed, else the resolution deadline. */
  dueAt: Date;
  dueKind: "response" | "resolve";
  overdue: boolean;
  mine: boolean;
  extensionDays: number | null;
  escalationLevel: number;
}

/**
 * 待办: open tickets in the actor's subtree, most urgent first (past their deadline, then flagged urgent, then the
 * nearest deadline), and for town admins and above the extension requests they may decide. No filer identities.
 */
export async function complaintInbox(tx: Tx, actor: ComplaintViewer, opts: { limit?: number; now?: Date } = {}) {
  if (!isCadre(actor)) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以查看待办诉求。");
  const now = opts.now ?? new Date();
  const where = { status: { in: [...OPEN_STATUSES] }, orgUnit: subtreeWhere(actor) } satisfies Prisma.ComplaintWhereInput;
  const rows = await tx.complaint.findMany({
    where,
    select: { ...LIST_SELECT, ownerId: true, ownerMemberId: true, extensionDays: true, escalationLevel: true, orgUnit: { select: { name: true, path: true } } },
    orderBy: { resolveDueAt: "asc" },
    take: 1000,
  });
  const items: InboxItem[] = rows.map((c) => {
    const dueKind = c.status === "SUBMITTED" ? ("response" as const) : ("resolve" as const);
    const dueAt = dueKind === "response" ? (c.responseDueAt < c.resolveDueAt ? c.responseDueAt : c.resolveDueAt) : c.resolveDueAt;
    return { ...listItem(c), dueAt, dueKind, overdue: dueAt < now, mine: isOwner(actor, c), extensionDays: c.extensionDays, escalationLevel: c.escalationLevel };
  });
  items.sort((a, b) => Number(b.overdue) - Number(a.overdue) || Number(b.urgent) - Number(a.urgent) || a.dueAt.getTime() - b.dueAt.getTime() || a.id - b.id);
  const decide = hasRoleAtLeast(actor, "TOWN_ADMIN")
    ? rows.filter((c) => c.extensionDays != null && c.orgUnit.path !== actor.orgPath).map((c) => ({ id: c.id, number: c.number, unitName: c.orgUnit.name, days: c.extensionDays! }))
    : [];
  return { total: items.length, items: items.slice(0, opts.limit ?? 20), extensionsToDecide: decide };
}

export interface ComplaintFilter {
  status?: ComplaintStatus[];
  /** That unit and its subtree (403 OUT_OF_SCOPE when outside the viewer's). */
  unitId?: number;
  /** Filed in [from, to). */
  from?: Date;
  to?: Date;
  /** Only open tickets past their resolution deadline. */
  overdue?: boolean;
  urgent?: boolean;
  limit?: number;
  offset?: number;
}

export interface ConsoleListItem extends ComplaintListItem {
  ownerName: string | null;
  escalationLevel: number;
  overdue: boolean;
  extensionDays: number | null;
}

/**
 * The console's list: tickets in the viewer's subtree (cadres only), newest first, filtered; never the filer's
 * identity (open one with viewComplaint for that).
 */
export async function listComplaints(tx: Tx, viewer: ComplaintViewer, filter: ComplaintFilter = {}, now = new Date()) {
  if (!isCadre(viewer)) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以查看诉求列表。");
  let unitWhere = subtreeWhere(viewer);
  if (filter.unitId != null) {
    const unit = await tx.orgUnit.findUnique({ where: { id: filter.unitId }, select: { path: true } });
    if (!unit) throw new AppError("ORG_UNIT_NOT_FOUND");
    if (!pathInScope(viewer, unit.path)) throw new AppError("OUT_OF_SCOPE");
    unitWhere = { path: { startsWith: unit.path } };
  }
  const where: Prisma.ComplaintWhereInput = {
    orgUnit: unitWhere,
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter.from || filter.to ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
    ...(filter.urgent != null ? { urgent: filter.urgent } : {}),
    ...(filter.overdue ? { AND: [{ status: { in: [...OPEN_STATUSES] } }, { resolveDueAt: { lt: now } }] } : {}),
  };
  const [total, rows] = await Promise.all([
    tx.complaint.count({ where }),
    tx.complaint.findMany({
      where,
      select: { ...LIST_SELECT, escalationLevel: true, extensionDays: true, ownerMember: { select: { name: true } }, owner: { select: { displayName: true } } },
      orderBy: { id: "desc" },
      take: Math.min(Math.max(filter.limit ?? 20, 1), 200),
      skip: Math.max(filter.offset ?? 0, 0),
    }),
  ]);
  const items: ConsoleListItem[] = rows.map((c) => ({
    ...listItem(c),
    ownerName: c.ownerMember?.name ?? c.owner?.displayName ?? null,
    escalationLevel: c.escalationLevel,
    overdue: (OPEN_STATUSES as readonly string[]).includes(c.status) && c.resolveDueAt < now,
    extensionDays: c.extensionDays,
  }));
  return { total, items };
}
