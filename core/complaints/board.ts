// The console's side of complaints: the board (tickets in the caller's subtree, filtered by unit, status, overdue,
// urgent, filing period), its Excel export, and the mini-program's photo uploads (attached to a ticket the caller
// filed, never half-accepted). The privacy rule is view.ts's: the filer's name and phone are shown to the handlers
// of the ticket (cadres of its unit or above, its owner), masked for anyone else, and to nobody when anonymous.
import ExcelJS from "exceljs";
import type { ComplaintStatus, Prisma } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { CHINA_OFFSET_MS } from "../meetings/time.ts";
import { pathInScope, subtreeWhere } from "../org/scope.ts";
import type { BlobStore, ImageMime } from "../storage/index.ts";
import { MAX_PHOTOS, type StoredImage } from "./attachments.ts";
import { tellOwner } from "./notify.ts";
import { isFinal, OPEN_STATUSES, RATING_LABEL, STATUS_LABEL } from "./state.ts";
import { commitEvent, isCadre, isFiler, isOwner, loadComplaint, lockComplaint, parseComplaintNumber, type ComplaintRef, type FilerRef, type Tx } from "./transition.ts";
import { filerAsShown, viewComplaint, type ComplaintViewer } from "./view.ts";

// ───────────────────────────── the board ─────────────────────────────

export interface BoardFilters {
  /** Only this unit's subtree (the caller has checked it is in scope); default: the viewer's whole subtree. */
  unitPath?: string;
  statuses?: ComplaintStatus[];
  /** Open and past the resolution deadline (true), or not (false). Same rule as the metrics' overdue count. */
  overdue?: boolean;
  urgent?: boolean;
  /** Only tickets the viewer owns (首问). */
  mine?: boolean;
  /** Filed at or after `from`, before `to`. */
  from?: Date;
  to?: Date;
  /** A ticket number, or words of the content / location. */
  q?: string;
}

const BOARD_SELECT = {
  id: true,
  number: true,
  status: true,
  channel: true,
  content: true,
  category: true,
  location: true,
  urgent: true,
  anonymous: true,
  filerName: true,
  filerPhone: true,
  ownerId: true,
  ownerMemberId: true,
  createdAt: true,
  responseDueAt: true,
  resolveDueAt: true,
  claimedAt: true,
  resolvedAt: true,
  resolution: true,
  rating: true,
  ratingComment: true,
  reopenCount: true,
  escalationLevel: true,
  extensionDays: true,
  orgUnit: { select: { id: true, code: true, name: true, kind: true, path: true } },
  owner: { select: { displayName: true } },
  ownerMember: { select: { name: true } },
  _count: { select: { attachments: true } },
} as const satisfies Prisma.ComplaintSelect;

type BoardRow = Prisma.ComplaintGetPayload<{ select: typeof BOARD_SELECT }>;

export interface BoardItem {
  id: number;
  number: string;
  status: ComplaintStatus;
  statusLabel: string;
  channel: string;
  unit: { id: number; code: string; name: string; kind: string };
  content: string;
  category: string | null;
  location: string | null;
  urgent: boolean;
  anonymous: boolean;
  /** As view.ts decides: full for the ticket's handlers, masked for others, null/anonymous when filed anonymously. */
  filer: { name: string | null; phone: string | null; masked: boolean; anonymous: boolean };
  owner: { name: string } | null;
  mine: boolean;
  createdAt: Date;
  responseDueAt: Date;
  resolveDueAt: Date;
  claimedAt: Date | null;
  resolvedAt: Date | null;
  resolution: string | null;
  rating: BoardRow["rating"];
  ratingLabel: string | null;
  ratingComment: string | null;
  reopenCount: number;
  escalationLevel: number;
  extensionDays: number | null;
  overdue: boolean;
  photos: number;
}

/** The Prisma filter for the viewer's board (403 for anyone below branch secretary or without a unit). */
export function boardWhere(viewer: ComplaintViewer, f: BoardFilters, now = new Date()): Prisma.ComplaintWhereInput {
  if (!isCadre(viewer) || !viewer.orgPath) throw new AppError("ROLE_REQUIRED", "抱歉，只有支部书记及以上的干部可以查看诉求。");
  const and: Prisma.ComplaintWhereInput[] = [{ orgUnit: subtreeWhere(viewer) }];
  if (f.unitPath) {
    if (!pathInScope(viewer, f.unitPath)) throw new AppError("OUT_OF_SCOPE");
    and.push({ orgUnit: { path: { startsWith: f.unitPath } } });
  }
  if (f.statuses?.length) and.push({ status: { in: f.statuses } });
  const overdue: Prisma.ComplaintWhereInput = { status: { in: [...OPEN_STATUSES] }, resolveDueAt: { lt: now } };
  if (f.overdue === true) and.push(overdue);
  if (f.overdue === false) and.push({ NOT: overdue });
  if (f.urgent !== undefined) and.push({ urgent: f.urgent });
  if (f.mine) {
    const or: Prisma.ComplaintWhereInput[] = [];
    if (viewer.cadreUserId != null) or.push({ ownerId: viewer.cadreUserId });
    if (viewer.memberId != null) or.push({ ownerMemberId: viewer.memberId });
    and.push(or.length ? { OR: or } : { id: { in: [] } });
  }
  if (f.from) and.push({ createdAt: { gte: f.from } });
  if (f.to) and.push({ createdAt: { lt: f.to } });
  const q = f.q?.trim();
  if (q) {
    const number = parseComplaintNumber(q);
    and.push({ OR: [...(number ? [{ number }] : []), { content: { contains: q, mode: "insensitive" } }, { location: { contains: q, mode: "insensitive" } }] });
  }
  return { AND: and };
}

function boardItem(viewer: ComplaintViewer, c: BoardRow, now: Date): BoardItem {
  const filer = filerAsShown(c, pathInScope(viewer, c.orgUnit.path) || isOwner(viewer, c));
  const ownerName = c.ownerMember?.name ?? c.owner?.displayName ?? null;
  return {
    id: c.id,
    number: c.number,
    status: c.status,
    statusLabel: STATUS_LABEL[c.status],
    channel: c.channel,
    unit: { id: c.orgUnit.id, code: c.orgUnit.code, name: c.orgUnit.name, kind: c.orgUnit.kind },
    content: c.content,
    category: c.category,
    location: c.location,
    urgent: c.urgent,
    anonymous: c.anonymous,
    filer,
    owner: ownerName ? { name: ownerName } : null,
    mine: isOwner(viewer, c),
    createdAt: c.createdAt,
    responseDueAt: c.responseDueAt,
    resolveDueAt: c.resolveDueAt,
    claimedAt: c.claimedAt,
    resolvedAt: c.resolvedAt,
    resolution: c.resolution,
    rating: c.rating,
    ratingLabel: c.rating ? RATING_LABEL[c.rating] : null,
    ratingComment: c.ratingComment,
    reopenCount: c.reopenCount,
    escalationLevel: c.escalationLevel,
    extensionDays: c.extensionDays,
    overdue: (OPEN_STATUSES as readonly string[]).includes(c.status) && c.resolveDueAt < now,
    photos: c._count.attachments,
  };
}

/** One page of the board, newest first. */
export async function complaintBoard(tx: Tx, viewer: ComplaintViewer, f: BoardFilters, opts: { page: number; pageSize: number; now?: Date }) {
  const now = opts.now ?? new Date();
  const where = boardWhere(viewer, f, now);
  const [total, rows] = await Promise.all([
    tx.complaint.count({ where }),
    tx.complaint.findMany({ where, select: BOARD_SELECT, orderBy: [{ createdAt: "desc" }, { id: "desc" }], skip: (opts.page - 1) * opts.pageSize, take: opts.pageSize }),
  ]);
  return { items: rows.map((c) => boardItem(viewer, c, now)), page: opts.page, pageSize: opts.pageSize, total };
}

/** At most this many rows go into one export (a county's year is a few thousand). */
export const EXPORT_MAX_ROWS = 10_000;

/** Every ticket of the board (up to EXPORT_MAX_ROWS), oldest first, for the export. */
export async function boardRows(tx: Tx, viewer: ComplaintViewer, f: BoardFilters, now = new Date()) {
  const where = boardWhere(viewer, f, now);
  const [total, rows] = await Promise.all([
    tx.complaint.count({ where }),
    tx.complaint.findMany({ where, select: BOARD_SELECT, orderBy: [{ createdAt: "asc" }, { id: "asc" }], take: EXPORT_MAX_ROWS }),
  ]);
  return { total, items: rows.map((c) => boardItem(viewer, c, now)), truncated: total > rows.length };
}

// ───────────────────────────── the export ─────────────────────────────

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "2026-11-25 09:30" in China time. */
export function chinaDateTime(d: Date | null | undefined): string {
  if (!d) return "";
  const s = new Date(d.getTime() + CHINA_OFFSET_MS);
  return `${s.getUTCFullYear()}-${pad2(s.getUTCMonth() + 1)}-${pad2(s.getUTCDate())} ${pad2(s.getUTCHours())}:${pad2(s.getUTCMinutes())}`;
}

const chinaDate = (d: Date) => chinaDateTime(d).slice(0, 10);

/** "诉求台账-东山镇-2026-11-25.xlsx", and an ASCII name for old clients. */
export function boardFileName(scopeName: string, now = new Date()) {
  const date = chinaDate(now);
  return { filename: `诉求台账-${scopeName}-${date}.xlsx`, asciiFilename: `complaints-${date}.xlsx` };
}

const EXPORT_COLUMNS = [
  { header: "序号", width: 6 },
  { header: "编号", width: 16 },
  { header: "承办单位", width: 18 },
  { header: "状态", width: 14 },
  { header: "加急", width: 6 },
  { header: "逾期", width: 6 },
  { header: "类别", width: 10 },
  { header: "内容", width: 44 },
  { header: "地点", width: 16 },
  { header: "反映人", width: 10 },
  { header: "联系电话", width: 14 },
  { header: "渠道", width: 10 },
  { header: "提交时间", width: 17 },
  { header: "响应时限", width: 17 },
  { header: "认领时间", width: 17 },
  { header: "认领人", width: 10 },
  { header: "办结时限", width: 17 },
  { header: "办结时间", width: 17 },
  { header: "办理结果", width: 36 },
  { header: "评价", width: 10 },
  { header: "评价意见", width: 24 },
  { header: "照片", width: 6 },
] as const;

const CHANNEL_LABEL: Record<string, string> = { WECHAT: "微信", QQ: "QQ", MINIPROGRAM: "小程序" };
const THIN = { style: "thin" as const, color: { argb: "FF999999" } };
const BORDER = { top: THIN, left: THIN, bottom: THIN, right: THIN };
const WRAP_COLUMNS = new Set(["内容", "办理结果", "评价意见"]);

export function filerLabel(f: BoardItem["filer"]): string {
  return f.anonymous ? "匿名" : (f.name ?? "");
}

/** The board as a workbook: a title line, what was filtered, then one row per ticket. */
export async function complaintsWorkbook(items: BoardItem[], meta: { title: string; filters: string; truncatedFrom?: number }, now = new Date()): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;
  const ws = wb.addWorksheet("诉求台账", { pageSetup: { paperSize: 9, orientation: "landscape", fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
  ws.columns = EXPORT_COLUMNS.map((c) => ({ width: c.width }));
  const last = EXPORT_COLUMNS.length;

  const title = ws.addRow([meta.title]);
  ws.mergeCells(title.number, 1, title.number, last);
  title.height = 26;
  title.getCell(1).font = { bold: true, size: 15 };
  title.getCell(1).alignment = { horizontal: "center", vertical: "middle" };
  const note = [`导出时间：${chinaDateTime(now)}（北京时间）`, meta.filters, `共 ${items.length} 条`];
  if (meta.truncatedFrom) note.push(`（符合条件的共 ${meta.truncatedFrom} 条，仅导出前 ${items.length} 条，请缩小范围）`);
  const info = ws.addRow([note.filter(Boolean).join("；")]);
  ws.mergeCells(info.number, 1, info.number, last);

  const header = ws.addRow(EXPORT_COLUMNS.map((c) => c.header));
  header.eachCell((cell) => {
    cell.font = { bold: true };
    cell.alignment = { horizontal: "center", vertical: "middle" };
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.border = BORDER;
  });
  ws.views = [{ state: "frozen", ySplit: header.number, xSplit: 2 }];
  ws.pageSetup.printTitlesRow = `${header.number}:${header.number}`;
  ws.autoFilter = { from: { row: header.number, column: 1 }, to: { row: header.number, column: last } };

  items.forEach((c, i) => {
    const row = ws.addRow([
      i + 1,
      c.number,
      c.unit.name,
      c.statusLabel,
      c.urgent ? "是" : "",
      c.overdue ? "是" : "",
      c.category ?? "",
      c.content,
      c.location ?? "",
      filerLabel(c.filer),
      c.filer.phone ?? "",
      CHANNEL_LABEL[c.channel] ?? c.channel,
      chinaDateTime(c.createdAt),
      chinaDateTime(c.responseDueAt),
      chinaDateTime(c.claimedAt),
      c.owner?.name ?? "",
      chinaDateTime(c.resolveDueAt),
      chinaDateTime(c.resolvedAt),
      c.resolution ?? "",
      c.ratingLabel ?? "",
      c.ratingComment ?? "",
      c.photos || "",
    ]);
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cell.border = BORDER;
      const wrap = WRAP_COLUMNS.has(EXPORT_COLUMNS[col - 1].header);
      cell.alignment = { vertical: "top", wrapText: wrap, horizontal: wrap ? "left" : col === 1 ? "center" : "left" };
    });
  });

  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}

// ───────────────────────────── photos ─────────────────────────────

/** An upload that passed checkImage, waiting to be stored. */
export interface PhotoUpload {
  data: Buffer;
  mime: ImageMime;
  ext: string;
}

/**
 * Puts every photo in the store under keys from `keyFor`; all or nothing: when one put fails the ones already put
 * are deleted before the error is rethrown.
 */
export async function storePhotos(store: BlobStore, photos: PhotoUpload[], keyFor: (p: PhotoUpload) => string): Promise<StoredImage[]> {
  const stored: StoredImage[] = [];
  try {
    for (const p of photos) {
      const { location } = await store.put(keyFor(p), p.data, p.mime);
      stored.push({ location, mimeType: p.mime, sizeBytes: p.data.length });
    }
    return stored;
  } catch (e) {
    await discardPhotos(store, stored);
    throw e;
  }
}

/** Best-effort removal of stored photos whose request failed; returns the locations that could not be removed. */
export async function discardPhotos(store: BlobStore, stored: Pick<StoredImage, "location">[]): Promise<string[]> {
  const left: string[] = [];
  for (const s of stored) await store.delete(s.location).catch(() => left.push(s.location));
  return left;
}

/** Attachment rows for the photos sent with a filing (the FILED event covers them: no event of their own). */
export async function recordFilingPhotos(tx: Tx, complaintId: number, stored: StoredImage[], now = new Date()) {
  if (stored.length > MAX_PHOTOS) throw tooManyPhotos();
  const rows = [];
  for (const s of stored) {
    rows.push(await tx.complaintAttachment.create({ data: { complaintId, kind: "image", location: s.location, mimeType: s.mimeType ?? null, sizeBytes: s.sizeBytes, createdAt: now } }));
  }
  return rows;
}

const tooManyPhotos = (existing?: number) =>
  new AppError("TOO_MANY_PHOTOS", `每条诉求最多附 ${MAX_PHOTOS} 张照片${existing != null ? `，这条已有 ${existing} 张` : ""}。`, { maxPhotos: MAX_PHOTOS });

const notYours = (number: string) => new AppError("COMPLAINT_NOT_FOUND", `没有找到您反映的诉求 ${number}，请核对编号。`);

/**
 * Before storing anything: the ticket is the filer's, still open to additions, and has room for `count` more photos.
 * (No lock: addPhotos checks again under the lock.)
 */
export async function checkPhotoRoom(tx: Tx, filer: FilerRef, ref: ComplaintRef, count: number) {
  const c = await loadComplaint(tx, ref);
  if (!isFiler(filer, c)) throw notYours(c.number);
  if (isFinal(c.status)) throw new AppError("COMPLAINT_CLOSED", c.status === "WITHDRAWN" ? "该诉求已撤回，不能再操作。" : "该诉求已结案，不能再操作。");
  const existing = await tx.complaintAttachment.count({ where: { complaintId: c.id } });
  if (existing + count > MAX_PHOTOS) throw tooManyPhotos(existing);
  return c;
}

/**
 * 补充照片: the filer adds stored photos to their own ticket (one INFO_ADDED event per photo, as photos sent in chat),
 * under the ticket's lock; the owner is told. 404 for someone else's ticket, 409 COMPLAINT_CLOSED once closed or
 * withdrawn, 409 TOO_MANY_PHOTOS past MAX_PHOTOS.
 */
export async function addPhotos(tx: Tx, filer: FilerRef, ref: ComplaintRef, stored: StoredImage[], now = new Date()) {
  if (stored.length === 0) throw new AppError("PHOTO_MISSING");
  let c = await lockComplaint(tx, ref);
  if (!isFiler(filer, c)) throw notYours(c.number);
  const existing = await tx.complaintAttachment.count({ where: { complaintId: c.id } });
  if (existing + stored.length > MAX_PHOTOS) throw tooManyPhotos(existing);
  const attachments = [];
  let lastEvent: { id: number } | null = null;
  for (const s of stored) {
    const attachment = await tx.complaintAttachment.create({
      data: { complaintId: c.id, kind: "image", location: s.location, mimeType: s.mimeType ?? null, sizeBytes: s.sizeBytes, createdAt: now },
    });
    const r = await commitEvent(tx, c, {
      kind: "INFO_ADDED",
      at: now,
      actorId: null,
      actorMemberId: c.anonymous ? null : filer.memberId,
      actorIdentityId: filer.identityId,
      channel: filer.channel,
      note: "照片",
      data: { attachmentId: attachment.id },
    });
    c = r.complaint;
    lastEvent = r.event;
    attachments.push(attachment);
  }
  await tellOwner(tx, c, `诉求 ${c.number} 的反映人补充了 ${stored.length} 张照片，可在管理后台查看。`, `complaint:${c.id}:e${lastEvent!.id}:owner`);
  return { complaint: c, attachments, photos: existing + stored.length };
}

/**
 * The attachment `attachmentId` of the ticket, for a reader who may see the ticket's photos: its filer and its
 * handlers (the cadres of its unit and above, its owner). A former handler (transferred away) sees the ticket masked
 * and not its photos (403); others get what viewComplaint answers (403 OUT_OF_SCOPE / 404).
 */
export async function photoForViewer(tx: Tx, viewer: ComplaintViewer, ref: ComplaintRef, attachmentId: number) {
  const view = await viewComplaint(tx, viewer, ref);
  if (view.access === "former") throw new AppError("OUT_OF_SCOPE", `诉求 ${view.number} 已转出您的管辖范围，不能查看照片。`);
  const attachment = view.attachments.find((a) => a.id === attachmentId);
  if (!attachment) throw new AppError("PHOTO_NOT_FOUND");
  return { number: view.number, attachment };
}
