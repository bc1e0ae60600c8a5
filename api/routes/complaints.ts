// Complaints (民情诉求) over HTTP. The mini-program files a ticket (text, category, location, photos), lists the
// filer's tickets, shows one with its history, adds information or photos, withdraws and rates. The console shows the
// board (filtered by unit, status, overdue, urgent, period), a ticket's detail, every cadre action (claim, transfer,
// reply, resolve, urgent, extension and its decision), the metrics and the Excel export. The rules — who may act, which
// transitions are legal, who sees the filer — live in core/complaints (the same functions the bot's commands use);
// these routes parse, store uploaded photos and answer.
import { z } from "zod";
import { findUnitByCodeOrName } from "../../core/chat/binding.ts";
import type { Principal } from "../../core/auth/principal.ts";
import {
  addPhotos,
  boardFileName,
  boardRows,
  checkPhotoRoom,
  complaintBoard,
  complaintsWorkbook,
  discardPhotos,
  photoForViewer,
  recordFilingPhotos,
  storePhotos,
  type BoardFilters,
  type PhotoUpload,
} from "../../core/complaints/board.ts";
import { MAX_PHOTOS, type StoredImage } from "../../core/complaints/attachments.ts";
import {
  addInfo,
  CONTENT_MAX,
  claimComplaint,
  decideExtension,
  EXTENSION_MAX_DAYS,
  fileComplaint,
  rateComplaint,
  replyToFiler,
  requestExtension,
  resolveComplaint,
  responsibleUnit,
  setUrgent,
  transferComplaint,
  withdrawComplaint,
} from "../../core/complaints/complaints.ts";
import { complaintMetrics } from "../../core/complaints/metrics.ts";
import { RATING_LABEL, STATUS_LABEL } from "../../core/complaints/state.ts";
import { parseComplaintNumber, type ComplaintActor, type FilerRef } from "../../core/complaints/transition.ts";
import { myComplaints, viewComplaint, type ComplaintView, type ComplaintViewer } from "../../core/complaints/view.ts";
import type { ComplaintStatus, Prisma } from "../../core/db/index.ts";
import { wakeSenders } from "../../core/delivery/outbox.ts";
import { AppError } from "../../core/kernel/errors.ts";
import { formatZhDateTime } from "../../core/meetings/time.ts";
import { XLSX_CONTENT_TYPE } from "../../core/meetings/export.ts";
import { requireUnitInScope, rolesAtLeast } from "../../core/org/scope.ts";
import { checkImage, createBlobStore, keySegment, newBlobKey, type BlobStore } from "../../core/storage/index.ts";
import type { UploadedFile } from "../middleware/multipart.ts";
import {
  ComplaintEventKindSchema,
  ComplaintRatingSchema,
  ComplaintStatusSchema,
  IdParams,
  IsoDateTime as isoDate,
  OrgKindSchema,
  PageQuery,
} from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import { fileResponse, type ApiRouter, type UploadSpec } from "../validate.ts";

// ---- request schemas ----

const Instant = (what: string) =>
  z.iso
    .datetime({ offset: true, error: `${what}须为带时区的 ISO 8601 时间，例如 2026-11-01T00:00:00+08:00` })
    .transform((s) => new Date(s));

const PositiveId = z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });

/** "true"/"false" in a query string. */
const QueryBool = z
  .enum(["true", "false"], { error: "只能是 true 或 false" })
  .transform((v) => v === "true")
  .optional();

/** A JSON boolean, or its spelling in a form field ("true"/"false", "1"/"0", "on"). */
const FormBool = z.preprocess(
  (v) => (typeof v === "string" ? ({ true: true, "1": true, on: true, false: false, "0": false, "": false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v),
  z.boolean({ error: "只能是 true 或 false" }),
);

const NumberParams = z.object({
  number: z
    .string()
    .transform((s, c) => {
      const n = parseComplaintNumber(s);
      if (!n) c.issues.push({ code: "custom", message: "诉求编号形如 LX20261125-0007", input: s });
      return n ?? "";
    })
    .meta({ description: "诉求编号，如 LX20261125-0007（也可写 20261125-0007）", example: "LX20261125-0007" }),
});

const PhotoParams = NumberParams.extend({ id: IdParams.shape.id.meta({ description: "照片 ID（详情中 photos[].id）" }) });

const text = (what: string, max: number) =>
  z
    .string({ error: `请填写${what}` })
    .trim()
    .min(1, { error: `请填写${what}` })
    .max(max, { error: `${what}最多 ${max} 个字` });

const optionalText = (what: string, max: number) =>
  z
    .string({ error: `${what}必须是文本` })
    .trim()
    .max(max, { error: `${what}最多 ${max} 个字` })
    .optional();

const ComplaintCreate = z
  .object({
    content: text("反映的内容", CONTENT_MAX).meta({ description: `反映的内容（1-${CONTENT_MAX} 字）` }),
    category: optionalText("类别", 20).meta({ description: "类别（如 道路、用水、环境，最多 20 字）" }),
    location: optionalText("地点", 100).meta({ description: "问题所在的地点（最多 100 字）" }),
    anonymous: FormBool.optional().meta({ description: "匿名反映：不记录姓名、电话和党员身份（进展仍通过机器人告知本人）" }),
    unitCode: optionalText("单位编码", 64).meta({
      description: "由哪个村（社区）/支部办理：单位编码（如村里张贴的二维码所带）。不填时：党员为本人所在支部，其他人须填写",
    }),
  })
  .meta({ id: "ComplaintCreate" });

const InfoBody = z.object({ info: text("补充的内容", CONTENT_MAX).meta({ description: `补充的内容（1-${CONTENT_MAX} 字）` }) }).meta({ id: "ComplaintInfo" });
const WithdrawBody = z.object({ reason: optionalText("撤回理由", 200).meta({ description: "撤回理由（可不填）" }) }).meta({ id: "ComplaintWithdraw" });
const RatingBody = z
  .object({ rating: ComplaintRatingSchema, comment: optionalText("评价意见", 200).meta({ description: "评价意见（可不填，最多 200 字）" }) })
  .meta({ id: "ComplaintRatingRequest" });

const TransferBody = z
  .object({
    toUnitId: PositiveId.optional().meta({ description: "转给哪个单位（本县的党支部、乡镇或县；村会转给其党支部）" }),
    toUnit: z
      .string({ error: "单位须为文字" })
      .trim()
      .min(1, { error: "请填写转给哪个单位" })
      .max(60, { error: "单位名称或编码请控制在 60 个字以内" })
      .optional()
      .meta({ description: "或者写单位编码或名称（与聊天命令“转办”相同；重名时请用编码，400 UNIT_AMBIGUOUS；找不到 404 UNIT_NOT_FOUND）" }),
    reason: text("转办理由", 200).meta({ description: "转办理由（1-200 字，会告知反映人）" }),
  })
  .refine((b) => (b.toUnitId === undefined) !== (b.toUnit === undefined), { error: "请选择转给哪个单位（toUnitId 或 toUnit 二选一）", path: ["toUnitId"] })
  .meta({ id: "ComplaintTransfer" });
const ReplyBody = z.object({ message: text("回复内容", 500).meta({ description: "回复内容（1-500 字），通过机器人私聊发给反映人" }) }).meta({ id: "ComplaintReply" });
const ResolveBody = z.object({ result: text("办理结果", 500).meta({ description: "办理结果（1-500 字），发给反映人并请其评价" }) }).meta({ id: "ComplaintResolve" });
const UrgentBody = z.object({ urgent: z.boolean({ error: "只能是 true 或 false" }).meta({ description: "true 加急（时限从现在起按加急重算，只会缩短）；false 取消加急" }) }).meta({ id: "ComplaintUrgent" });
const ExtensionBody = z
  .object({
    days: z
      .number({ error: "请填写延期的工作日数" })
      .int({ error: "必须是整数" })
      .min(1, { error: "至少延期 1 个工作日" })
      .max(EXTENSION_MAX_DAYS, { error: `最多延期 ${EXTENSION_MAX_DAYS} 个工作日` })
      .meta({ description: `延长的工作日数（1-${EXTENSION_MAX_DAYS}）` }),
    reason: text("延期理由", 200).meta({ description: "延期理由（1-200 字）" }),
  })
  .meta({ id: "ComplaintExtensionRequest" });
const DecisionBody = z
  .object({
    approve: z.boolean({ error: "请填写 true（批准）或 false（驳回）" }).meta({ description: "true 批准（办结时限顺延）· false 驳回" }),
    reason: optionalText("理由", 200).meta({ description: "理由（可不填）" }),
  })
  .meta({ id: "ComplaintExtensionDecision" });

/** ?status=SUBMITTED,CLAIMED or ?status=SUBMITTED&status=CLAIMED. */
const StatusList = z.preprocess(
  (v) => (typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string")) ? [v].flat().flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean) : v),
  z.array(ComplaintStatusSchema).min(1, { error: "请至少写一个状态" }),
);

const filterFields = {
  unitId: PositiveId.optional().meta({ description: "只看该单位及其下级单位的诉求（须在管辖范围内）" }),
  status: StatusList.optional().meta({ description: "状态，可写多个（逗号分隔或重复）：SUBMITTED,CLAIMED,REOPENED 即未办结" }),
  overdue: QueryBool.meta({ description: "true 只看逾期（未办结且已过办结时限）· false 排除逾期" }),
  urgent: QueryBool.meta({ description: "true 只看加急 · false 只看非加急" }),
  mine: QueryBool.meta({ description: "true 只看我认领的" }),
  from: Instant("from").optional().meta({ description: "提交时间不早于（含）；URL 中的 + 须写成 %2B" }),
  to: Instant("to").optional().meta({ description: "提交时间早于（不含）" }),
  q: z.string().trim().max(50, { error: "最多 50 个字" }).optional().meta({ description: "编号，或内容、地点中的文字" }),
};
const periodOk = (q: { from?: Date; to?: Date }) => !q.from || !q.to || q.from < q.to;
const BoardQuery = PageQuery.extend(filterFields).refine(periodOk, { error: "from 必须早于 to", path: ["to"] });
const ExportQuery = z.object(filterFields).refine(periodOk, { error: "from 必须早于 to", path: ["to"] });

const MetricsQuery = z
  .object({
    unitId: PositiveId.optional().meta({ description: "只统计该单位及其下级（须在管辖范围内）；默认本人管辖范围" }),
    from: Instant("from").optional().meta({ description: "提交时间不早于（含）；默认 to 之前 30 天" }),
    to: Instant("to").optional().meta({ description: "提交时间早于（不含）；默认现在" }),
    groupBy: z.enum(["unit", "town", "county"], { error: "只能是 unit、town 或 county" }).default("unit").meta({ description: "unit 按承办单位（默认）· town 按乡镇汇总 · county 按县汇总（市级）" }),
  })
  .refine(periodOk, { error: "from 必须早于 to", path: ["to"] });

const MpListQuery = z.object({ limit: z.coerce.number().int().min(1).max(50).default(20).meta({ description: "最多条数（1-50，默认 20），最新的在前" }) });

// ---- response schemas ----

const UnitRef = z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema });

const FilerSchema = z
  .object({
    name: z.string().nullable().meta({ description: "反映人姓名；匿名或未留时为 null，非承办人看到的是打码后的（张*）" }),
    phone: z.string().nullable().meta({ description: "联系电话；只有该诉求的承办人及其上级看到完整号码，其他人为 138****1234" }),
    masked: z.boolean().meta({ description: "姓名和电话已打码" }),
    anonymous: z.boolean(),
  })
  .meta({ id: "ComplaintFiler" });

const PhotoSchema = z
  .object({
    id: z.number().int(),
    mimeType: z.string().nullable(),
    sizeBytes: z.number().int().nullable(),
    createdAt: isoDate(),
    url: z.string().meta({ description: "照片地址（GET，需带登录令牌）" }),
  })
  .meta({ id: "ComplaintPhoto" });

const EventSchema = z
  .object({
    id: z.number().int(),
    kind: ComplaintEventKindSchema,
    label: z.string(),
    at: isoDate(),
    actor: z.string().meta({ description: "“反映人”、“系统”或干部姓名" }),
    channel: z.string().meta({ description: "WECHAT、QQ、MINIPROGRAM、api、jobs" }),
    fromUnit: z.string().nullable(),
    toUnit: z.string().nullable(),
    note: z.string().nullable().meta({ description: "理由、回复、结果或评价意见" }),
  })
  .meta({ id: "ComplaintEvent" });

const detailFields = {
  id: z.number().int(),
  number: z.string(),
  status: ComplaintStatusSchema,
  statusLabel: z.string(),
  channel: z.string().meta({ description: "提交渠道：WECHAT、QQ、MINIPROGRAM" }),
  content: z.string(),
  category: z.string().nullable(),
  location: z.string().nullable(),
  urgent: z.boolean(),
  anonymous: z.boolean(),
  unit: UnitRef.meta({ description: "承办单位" }),
  filer: FilerSchema,
  owner: z.object({ name: z.string() }).nullable().meta({ description: "认领人（首问负责）" }),
  createdAt: isoDate(),
  responseDueAt: isoDate().meta({ description: "响应（认领）时限" }),
  resolveDueAt: isoDate().meta({ description: "办结时限" }),
  claimedAt: isoDate().nullable(),
  resolvedAt: isoDate().nullable(),
  resolution: z.string().nullable().meta({ description: "办理结果" }),
  rating: ComplaintRatingSchema.nullable(),
  ratingLabel: z.string().nullable(),
  ratingComment: z.string().nullable(),
  ratedAt: isoDate().nullable(),
  reopenCount: z.number().int().meta({ description: "因不满意重新办理的次数" }),
  overdue: z.boolean().meta({ description: "未办结且已过办结时限" }),
  photos: z.array(PhotoSchema),
  events: z.array(EventSchema).meta({ description: "办理经过，先后顺序" }),
};

const ComplaintDetail = z
  .object({
    ...detailFields,
    escalationLevel: z.number().int().meta({ description: "0 未上报 · 1 已逾期上报乡镇 · 2 已上报县" }),
    pendingExtension: z
      .object({ days: z.number().int(), reason: z.string().nullable(), requestedAt: isoDate() })
      .nullable()
      .meta({ description: "待上级审批的延期申请" }),
    access: z
      .enum(["handler", "former", "filer"])
      .meta({ description: "handler 承办人及其上级（可见反映人）· former 曾经经手、已转出（反映人打码）· filer 本人反映的" }),
  })
  .meta({ id: "ComplaintDetail" });

const MpComplaintDetail = z.object(detailFields).meta({ id: "MpComplaintDetail", description: "反映人本人看到的诉求（不含内部环节，如催办、上报、延期申请）" });

const ActionResult = z
  .object({
    complaint: ComplaintDetail,
    message: z.string().meta({ description: "给操作人看的一句话" }),
    delivered: z.boolean().optional().meta({ description: "回复：已通过机器人发给反映人（false：无法联系，请电话联系）" }),
  })
  .meta({ id: "ComplaintActionResult" });

const MpActionResult = z.object({ complaint: MpComplaintDetail, message: z.string() }).meta({ id: "MpComplaintActionResult" });

const BoardItemSchema = z
  .object({
    id: z.number().int(),
    number: z.string(),
    status: ComplaintStatusSchema,
    statusLabel: z.string(),
    channel: z.string(),
    unit: UnitRef,
    content: z.string(),
    category: z.string().nullable(),
    location: z.string().nullable(),
    urgent: z.boolean(),
    anonymous: z.boolean(),
    filer: FilerSchema,
    owner: z.object({ name: z.string() }).nullable(),
    mine: z.boolean().meta({ description: "我认领的" }),
    createdAt: isoDate(),
    responseDueAt: isoDate(),
    resolveDueAt: isoDate(),
    claimedAt: isoDate().nullable(),
    resolvedAt: isoDate().nullable(),
    rating: ComplaintRatingSchema.nullable(),
    ratingLabel: z.string().nullable(),
    escalationLevel: z.number().int(),
    extensionDays: z.number().int().nullable().meta({ description: "待审批的延期天数" }),
    overdue: z.boolean(),
    photos: z.number().int().meta({ description: "照片张数" }),
  })
  .meta({ id: "ComplaintBoardItem" });

const BoardPage = z
  .object({ items: z.array(BoardItemSchema), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() })
  .meta({ id: "ComplaintBoardPage" });

const countsFields = {
  filed: z.number().int().meta({ description: "期间提交的诉求（不含撤回），以下比率的分母" }),
  withdrawn: z.number().int(),
  respondedInTime: z.number().int().meta({ description: "在响应时限内认领的" }),
  responseRate: z.number().nullable().meta({ description: "响应率 = respondedInTime / filed（0-1；无诉求时为 null）" }),
  resolved: z.number().int(),
  resolveRate: z.number().nullable().meta({ description: "办结率 = resolved / filed" }),
  rated: z.number().int(),
  satisfied: z.number().int().meta({ description: "满意 + 基本满意" }),
  satisfactionRate: z.number().nullable().meta({ description: "满意率 = satisfied / rated" }),
  overdueOpen: z.number().int().meta({ description: "逾期未办结（现在）" }),
  avgResolveHours: z.number().nullable().meta({ description: "从提交到办结的平均小时数" }),
};
const CountsSchema = z.object(countsFields).meta({ id: "ComplaintCounts" });
const MetricsSchema = z
  .object({
    from: isoDate(),
    to: isoDate(),
    groupBy: z.enum(["unit", "town", "county"]),
    units: z.array(z.object({ unitId: z.number().int(), code: z.string(), name: z.string(), kind: z.string(), ...countsFields })).meta({ description: "每个单位一行（只有数字，没有姓名）" }),
    total: CountsSchema,
  })
  .meta({ id: "ComplaintMetrics" });

const MpListItem = z.object({
  id: z.number().int(),
  number: z.string(),
  status: ComplaintStatusSchema,
  statusLabel: z.string(),
  unitName: z.string(),
  excerpt: z.string(),
  urgent: z.boolean(),
  createdAt: isoDate(),
  responseDueAt: isoDate(),
  resolveDueAt: isoDate(),
});
const MpList = z.object({ total: z.number().int(), items: z.array(MpListItem) }).meta({ id: "MpComplaintList" });

const MpFiled = z
  .object({ complaint: MpComplaintDetail, message: z.string().meta({ description: "回执：编号、承办单位和时限" }) })
  .meta({ id: "MpComplaintFiled" });

const MpPhotosAdded = z
  .object({ complaint: MpComplaintDetail, added: z.number().int(), photos: z.number().int().meta({ description: `现有照片张数（最多 ${MAX_PHOTOS}）` }), message: z.string() })
  .meta({ id: "MpComplaintPhotosAdded" });

// ---- helpers ----

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const photoUrl = (number: string, id: number) => `/api/complaints/${encodeURIComponent(number)}/photos/${id}`;

function detailOut(v: ComplaintView) {
  return {
    id: v.id,
    number: v.number,
    status: v.status,
    statusLabel: v.statusLabel,
    channel: v.channel,
    content: v.content,
    category: v.category,
    location: v.location,
    urgent: v.urgent,
    anonymous: v.anonymous,
    unit: { id: v.unit.id, code: v.unit.code, name: v.unit.name, kind: v.unit.kind as z.infer<typeof OrgKindSchema> },
    filer: v.filer,
    owner: v.owner,
    createdAt: v.createdAt.toISOString(),
    responseDueAt: v.responseDueAt.toISOString(),
    resolveDueAt: v.resolveDueAt.toISOString(),
    claimedAt: iso(v.claimedAt),
    resolvedAt: iso(v.resolvedAt),
    resolution: v.resolution,
    rating: v.rating,
    ratingLabel: v.ratingLabel,
    ratingComment: v.ratingComment,
    ratedAt: iso(v.ratedAt),
    reopenCount: v.reopenCount,
    overdue: v.overdue,
    // Where a photo is stored is nobody's business outside the server: readers get the download route. A cadre who
    // handled the ticket before it was transferred away sees the filer masked and the photos not at all.
    photos: (v.access === "former" ? [] : v.attachments).map((a) => ({ id: a.id, mimeType: a.mimeType, sizeBytes: a.sizeBytes, createdAt: a.createdAt.toISOString(), url: photoUrl(v.number, a.id) })),
    events: v.events.map((e) => ({ ...e, at: e.at.toISOString() })),
    escalationLevel: v.escalationLevel,
    pendingExtension: v.pendingExtension && { ...v.pendingExtension, requestedAt: v.pendingExtension.requestedAt.toISOString() },
    access: v.access,
  };
}

/** Cadre actions are recorded as the console login (and its member record, when linked), from "api". */
const actorOf = (ctx: ApiCtx, p: Principal): ComplaintActor => ({
  role: p.role,
  orgPath: p.orgPath,
  cadreUserId: p.id,
  memberId: p.memberId,
  identityId: null,
  channel: "api",
  requestId: ctx.state.requestId,
});

/** Who reads: a console login, or a mini-program user (who can only ever be the filer). */
const viewerOf = (p: Principal): ComplaintViewer =>
  p.kind === "cadre"
    ? { role: p.role, orgPath: p.orgPath, cadreUserId: p.id, memberId: p.memberId, identityId: null }
    : { role: p.role, orgPath: p.orgPath, cadreUserId: null, memberId: p.memberId, identityId: p.id };

const filerOf = (p: Principal): FilerRef => ({ identityId: p.id, memberId: p.memberId, channel: "MINIPROGRAM" });

/** Runs a change that writes to the outbox in one transaction, then wakes the senders. */
async function withOutbox<T>(ctx: ApiCtx, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  const result = await ctx.deps.db.prisma.$transaction(fn);
  await wakeSenders(ctx.deps.coord);
  return result;
}

/** The ticket as this caller sees it now (after a change). */
async function detailFor(ctx: ApiCtx, p: Principal, number: string) {
  return detailOut(await viewComplaint(ctx.deps.db.prisma, viewerOf(p), number));
}

// One store per configuration (the S3 client keeps its signing keys).
const stores = new WeakMap<object, BlobStore>();
function blobStore(ctx: ApiCtx): BlobStore {
  let store = stores.get(ctx.deps.config);
  if (!store) stores.set(ctx.deps.config, (store = createBlobStore(ctx.deps.config)));
  return store;
}

/** Per photo: the smaller of the general upload limit and the complaint photo limit. */
const photoMaxBytes = (config: ApiCtx["deps"]["config"]) => Math.min(config.UPLOAD_MAX_BYTES, config.COMPLAINT_PHOTO_MAX_BYTES);

const PHOTO_UPLOAD: UploadSpec = {
  fields: ["photos", "photos[]", "photo"],
  maxFiles: MAX_PHOTOS,
  maxFileBytes: photoMaxBytes,
  description: `照片（JPEG、PNG、GIF、WebP 或 HEIC，每张不超过 UPLOAD_MAX_BYTES，默认 10 MB；每条诉求最多 ${MAX_PHOTOS} 张）`,
};

/**
 * Every uploaded file must be an image within the limit, judged by its bytes: the first that is not refuses the
 * whole request (400 FILE_EMPTY, 413 FILE_TOO_LARGE, 415 FILE_TYPE_NOT_ALLOWED) before anything is stored.
 */
function checkPhotos(ctx: ApiCtx, files: UploadedFile[]): PhotoUpload[] {
  const maxBytes = photoMaxBytes(ctx.deps.config);
  return files.map((f) => {
    const image = checkImage(f.data, f.declaredType ?? undefined, { maxBytes });
    return { data: f.data, mime: image.mime, ext: image.ext };
  });
}

/**
 * Stores the photos, runs `fn` (the database side) and keeps both or neither: when `fn` fails the stored photos are
 * deleted again. Blobs go to the store before the transaction so no row lock waits on the upload.
 */
async function withPhotos<T>(ctx: ApiCtx, photos: PhotoUpload[], prefix: string, fn: (stored: StoredImage[]) => Promise<T>): Promise<T> {
  const store = blobStore(ctx);
  const stored = photos.length ? await storePhotos(store, photos, (p) => newBlobKey(prefix, p.ext)) : [];
  try {
    return await fn(stored);
  } catch (e) {
    const left = await discardPhotos(store, stored);
    if (left.length) ctx.state.log.warn({ locations: left }, "诉求照片未能删除（请求已失败）");
    throw e;
  }
}

const EXT_BY_MIME: Record<string, string> = { "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/heic": "heic" };

const fmt = (d: Date) => formatZhDateTime(d);

function filtersText(unitName: string, q: z.infer<typeof ExportQuery>): string {
  const parts = [`范围：${unitName}`];
  if (q.status?.length) parts.push(`状态：${q.status.map((s) => STATUS_LABEL[s as ComplaintStatus]).join("、")}`);
  if (q.overdue !== undefined) parts.push(q.overdue ? "仅逾期" : "不含逾期");
  if (q.urgent !== undefined) parts.push(q.urgent ? "仅加急" : "不含加急");
  if (q.mine) parts.push("仅我认领的");
  if (q.from || q.to) parts.push(`提交时间：${q.from ? fmt(q.from) : "不限"} 至 ${q.to ? fmt(q.to) : "不限"}`);
  if (q.q) parts.push(`关键词：${q.q}`);
  return parts.join("；");
}

/** Board filters from the query, with `unitId` checked against the caller's scope (403 OUT_OF_SCOPE / 404). */
async function boardFilters(ctx: ApiCtx, p: Principal, q: z.infer<typeof ExportQuery>): Promise<{ filters: BoardFilters; unitName: string }> {
  const unit = q.unitId ? await requireUnitInScope(ctx.deps.db, p, q.unitId) : null;
  const unitName = unit?.name ?? (p.orgUnitId ? ((await ctx.deps.db.prisma.orgUnit.findUnique({ where: { id: p.orgUnitId }, select: { name: true } }))?.name ?? "") : "");
  return {
    unitName,
    filters: { unitPath: unit?.path, statuses: q.status as ComplaintStatus[] | undefined, overdue: q.overdue, urgent: q.urgent, mine: q.mine, from: q.from, to: q.to, q: q.q },
  };
}

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };
const MP = { kinds: ["mp" as const] };
const ANYONE = { kinds: ["cadre" as const, "mp" as const] };
const DAY_MS = 86_400_000;

export function registerComplaintRoutes(api: ApiRouter) {
  // ---- console: fixed paths first (they would otherwise be taken for a ticket number) ----

  api.route({
    method: "get",
    path: "/api/complaints/metrics",
    summary: "诉求统计 / complaint metrics",
    description:
      "期间内提交的诉求按承办单位（或按乡镇汇总）统计：响应率、办结率、满意率、逾期未办结数、平均办结用时，并给出合计。只有数字，没有姓名。" +
      "支部书记及以上，范围为本人管辖范围（unitId：其中某单位及下级，否则 403 OUT_OF_SCOPE）。诉求计入现在的承办单位（转办后算接收单位）。",
    tags: ["complaints"],
    auth: SECRETARY,
    query: MetricsQuery,
    response: { description: "统计", schema: MetricsSchema },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const to = query.to ?? new Date();
      const from = query.from ?? new Date(to.getTime() - 30 * DAY_MS);
      const m = await complaintMetrics(ctx.deps.db.prisma, principal, { from, to, unitId: query.unitId ?? null, groupBy: query.groupBy });
      return { from: m.from.toISOString(), to: m.to.toISOString(), groupBy: m.groupBy, units: m.units, total: m.total };
    },
  });

  api.route({
    method: "get",
    path: "/api/complaints/export.xlsx",
    summary: "导出诉求台账 / complaints (Excel)",
    description:
      "与诉求列表相同的筛选条件，导出为 .xlsx：编号、承办单位、状态、加急、逾期、类别、内容、地点、反映人、电话、渠道、各环节时间、认领人、办理结果、评价、照片张数（北京时间）。" +
      `反映人与电话按隐私规则：承办人及其上级可见，匿名的显示“匿名”。一次最多 10000 条。支部书记及以上。`,
    tags: ["complaints"],
    auth: SECRETARY,
    query: ExportQuery,
    response: { description: "Excel 文件（文件名如 诉求台账-东山镇-2026-11-25.xlsx）", schema: fileResponse(XLSX_CONTENT_TYPE) },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const now = new Date();
      const { filters, unitName } = await boardFilters(ctx, principal, query);
      const rows = await boardRows(ctx.deps.db.prisma, viewerOf(principal), filters, now);
      const body = await complaintsWorkbook(rows.items, { title: `${unitName}民情诉求台账`, filters: filtersText(unitName, query), truncatedFrom: rows.truncated ? rows.total : undefined }, now);
      return { body, ...boardFileName(unitName, now) };
    },
  });

  api.route({
    method: "get",
    path: "/api/complaints",
    summary: "诉求列表 / complaint board",
    description:
      "管辖范围内的诉求（按提交时间倒序，分页），可按单位（含下级）、状态、逾期、加急、我认领的、提交时间和关键词筛选。" +
      "unitId 不在管辖范围内：403 OUT_OF_SCOPE；不存在：404 ORG_UNIT_NOT_FOUND。支部书记及以上。",
    tags: ["complaints"],
    auth: SECRETARY,
    query: BoardQuery,
    response: { description: "诉求列表", schema: BoardPage },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const { page, pageSize, ...rest } = query;
      const { filters } = await boardFilters(ctx, principal, rest);
      const r = await complaintBoard(ctx.deps.db.prisma, viewerOf(principal), filters, { page, pageSize });
      return {
        ...r,
        items: r.items.map((c) => ({
          ...c,
          unit: { ...c.unit, kind: c.unit.kind as z.infer<typeof OrgKindSchema> },
          createdAt: c.createdAt.toISOString(),
          responseDueAt: c.responseDueAt.toISOString(),
          resolveDueAt: c.resolveDueAt.toISOString(),
          claimedAt: iso(c.claimedAt),
          resolvedAt: iso(c.resolvedAt),
        })),
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/complaints/:number",
    summary: "诉求详情 / complaint with its history",
    description:
      "诉求内容、承办单位、时限、办理结果、评价、照片和办理经过。反映人姓名和电话只有该诉求的承办人（本单位及上级干部、认领人）看到；" +
      "曾经经手、已转出的干部看到打码的（access=former）；匿名的谁也看不到。管辖范围外：403 OUT_OF_SCOPE；404 COMPLAINT_NOT_FOUND。支部书记及以上。",
    tags: ["complaints"],
    auth: SECRETARY,
    params: NumberParams,
    response: { description: "诉求详情", schema: ComplaintDetail },
    errors: [404],
    handler: (ctx, { params, principal }) => detailFor(ctx, principal, params.number),
  });

  const cadreAction = <B extends z.ZodObject | undefined>(spec: {
    path: string;
    summary: string;
    description: string;
    body?: B;
    run: (ctx: ApiCtx, tx: Prisma.TransactionClient, actor: ComplaintActor, number: string, body: B extends z.ZodObject ? z.output<B> : undefined) => Promise<{ message: string; delivered?: boolean }>;
  }) =>
    api.route({
      method: "post",
      path: `/api/complaints/:number/${spec.path}`,
      summary: spec.summary,
      description: `${spec.description} 支部书记及以上；管辖范围外 403 OUT_OF_SCOPE；404 COMPLAINT_NOT_FOUND；已撤回或已结案 409 COMPLAINT_CLOSED；并发修改 409 COMPLAINT_CHANGED。`,
      tags: ["complaints"],
      auth: SECRETARY,
      params: NumberParams,
      body: spec.body as B,
      response: { description: "已办理，返回最新的诉求", schema: ActionResult },
      errors: [404, 409],
      handler: async (ctx, input) => {
        const { params, principal } = input as { params: { number: string }; principal: Principal };
        const body = (input as { body: unknown }).body as B extends z.ZodObject ? z.output<B> : undefined;
        const r = await withOutbox(ctx, (tx) => spec.run(ctx, tx, actorOf(ctx, principal), params.number, body));
        return { complaint: await detailFor(ctx, principal, params.number), ...r };
      },
    });

  cadreAction({
    path: "claim",
    summary: "认领诉求 / claim (首问负责)",
    description: "本单位或上级干部认领后由其负责办结（首问负责），反映人会收到通知。已有人认领：409 COMPLAINT_ALREADY_CLAIMED（两人同时认领只有一人成功）。",
    run: async (_ctx, tx, actor, number) => {
      const r = await claimComplaint(tx, actor, number);
      return { message: `已认领诉求 ${number}（首问负责），请在 ${fmt(r.complaint.resolveDueAt)} 前办结。` };
    },
  });

  cadreAction({
    path: "transfer",
    summary: "转办 / transfer to another unit",
    description:
      "把诉求正式转给本县另一个单位（党支部、乡镇或县；村转给其党支部），附理由。接收单位重新认领，时限从现在起重算；反映人和接收单位会收到通知。" +
      "单位用 toUnitId，或用 toUnit 写编码或名称（同聊天命令）。已认领的只有认领人或上级可以转办（403 NOT_OWNER）。400 SAME_UNIT / UNIT_CANNOT_HANDLE / UNIT_AMBIGUOUS；已办结 409 COMPLAINT_RESOLVED；404 ORG_UNIT_NOT_FOUND / UNIT_NOT_FOUND。",
    body: TransferBody,
    run: async (ctx, tx, actor, number, body) => {
      const toUnitId = body.toUnitId ?? (await findUnitByCodeOrName(tx, body.toUnit!)).id;
      const r = await transferComplaint(tx, actor, number, toUnitId, body.reason, ctx.deps.config);
      return { message: `已将诉求 ${number} 转给「${r.target.name}」办理，并告知了反映人。` };
    },
  });

  cadreAction({
    path: "reply",
    summary: "回复反映人 / message the filer",
    description: "通过机器人私聊发给反映人（认领后，由认领人或上级）。未认领 409 COMPLAINT_NOT_CLAIMED；403 NOT_OWNER。delivered=false：反映人无法通过机器人联系。",
    body: ReplyBody,
    run: async (_ctx, tx, actor, number, body) => {
      const r = await replyToFiler(tx, actor, number, body.message);
      return {
        delivered: r.delivered,
        message: r.delivered ? `已将回复发给诉求 ${number} 的反映人。` : `回复已记录在诉求 ${number} 中，但反映人暂时无法通过机器人联系，请电话联系。`,
      };
    },
  });

  cadreAction({
    path: "resolve",
    summary: "办结 / resolve",
    description: "填写办理结果，反映人会收到结果并被请求评价。未认领 409 COMPLAINT_NOT_CLAIMED；已办结 409 COMPLAINT_RESOLVED；403 NOT_OWNER。",
    body: ResolveBody,
    run: async (_ctx, tx, actor, number, body) => {
      await resolveComplaint(tx, actor, number, body.result);
      return { message: `诉求 ${number} 已办结，已请反映人评价。` };
    },
  });

  cadreAction({
    path: "urgent",
    summary: "加急 / urgent flag",
    description: "标为加急（响应和办结时限从现在起按加急重算，只会缩短；会通知承办人）或取消加急（时限不变）。400 NOTHING_TO_CHANGE；已办结 409 COMPLAINT_RESOLVED。",
    body: UrgentBody,
    run: async (ctx, tx, actor, number, body) => {
      const r = await setUrgent(tx, actor, number, body.urgent, ctx.deps.config);
      const v = r.complaint;
      return {
        message: body.urgent
          ? `诉求 ${number} 已加急：${v.status === "SUBMITTED" ? `响应时限 ${fmt(v.responseDueAt)}，` : ""}办结时限 ${fmt(v.resolveDueAt)}。`
          : `已取消诉求 ${number} 的加急。`,
      };
    },
  });

  cadreAction({
    path: "extension",
    summary: "申请延期 / ask for more time",
    description:
      `认领人申请延长办结时限（1-${EXTENSION_MAX_DAYS} 个工作日），由上一级审批（支部的诉求由乡镇，乡镇的由县）。` +
      "403 NOT_OWNER；已有待审批的申请 409 EXTENSION_PENDING；未认领 409 COMPLAINT_NOT_CLAIMED；已办结 409 COMPLAINT_RESOLVED。",
    body: ExtensionBody,
    run: async (_ctx, tx, actor, number, body) => {
      const r = await requestExtension(tx, actor, number, body.days, body.reason);
      return { message: `已提交延期申请（${body.days} 个工作日），等待${r.approver ? `「${r.approver.name}」` : "上级"}审批。` };
    },
  });

  cadreAction({
    path: "extension/decision",
    summary: "审批延期 / decide an extension request",
    description: "上一级（乡镇管理员及以上，且在诉求所在单位之上）批准或驳回延期申请；批准时办结时限顺延相应工作日。403 NOT_APPROVER；没有待审批的申请 409 NO_EXTENSION_PENDING。",
    body: DecisionBody,
    run: async (_ctx, tx, actor, number, body) => {
      const r = await decideExtension(tx, actor, number, body.approve, body.reason);
      return { message: body.approve ? `已批准诉求 ${number} 延期，办结时限延至 ${fmt(r.complaint.resolveDueAt)}。` : `已驳回诉求 ${number} 的延期申请。` };
    },
  });

  // ---- photos: the filer and the ticket's handlers ----

  api.route({
    method: "get",
    path: "/api/complaints/:number/photos/:id",
    summary: "诉求照片 / a complaint photo",
    description:
      "照片原图（Content-Type 按图片类型）。反映人本人（小程序登录）和该诉求的承办人及其上级可看；已转出的经手人 403；管辖范围外 403 OUT_OF_SCOPE；" +
      "其他人 404 COMPLAINT_NOT_FOUND；404 PHOTO_NOT_FOUND。",
    tags: ["complaints", "miniprogram"],
    auth: ANYONE,
    params: PhotoParams,
    response: { description: "图片", schema: fileResponse("image/*") },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const { number, attachment } = await photoForViewer(ctx.deps.db.prisma, viewerOf(principal), params.number, params.id);
      const blob = await blobStore(ctx).get(attachment.location);
      if (!blob) throw new AppError("PHOTO_NOT_FOUND", "这张照片的文件已不存在。");
      const type = blob.mime ?? attachment.mimeType ?? "application/octet-stream";
      const filename = `${number}-${attachment.id}.${EXT_BY_MIME[type] ?? "bin"}`;
      return { body: blob.data, filename, contentType: type, inline: true };
    },
  });

  // ---- mini-program: the filer ----

  api.route({
    method: "post",
    path: "/api/mp/complaints",
    summary: "小程序反映诉求 / file a complaint (mini-program)",
    description:
      `反映问题：内容、类别、地点，可匿名，可附照片（multipart/form-data，文件放在 photos 中，最多 ${MAX_PHOTOS} 张；没有照片时也可用 JSON）。` +
      "得到编号和办理时限，承办单位的干部会收到通知，进展通过机器人告知本人。照片按文件内容判断类型：400 FILE_EMPTY；413 FILE_TOO_LARGE / TOO_MANY_FILES；" +
      "415 FILE_TYPE_NOT_ALLOWED——有一张不合格，整个请求不受理、不保存任何照片。400 UNIT_UNKNOWN：不是党员时请填写 unitCode；404 UNIT_NOT_FOUND。仅小程序登录。",
    tags: ["miniprogram", "complaints"],
    auth: MP,
    body: ComplaintCreate,
    upload: PHOTO_UPLOAD,
    response: { status: 201, description: "已受理", schema: MpFiled },
    errors: [404],
    handler: async (ctx, { body, files, principal }) => {
      const { prisma } = ctx.deps.db;
      const photos = checkPhotos(ctx, files);
      const filer = { identityId: principal.id, memberId: principal.memberId, channel: "MINIPROGRAM" as const };
      let unitId: number | null = null;
      if (body.unitCode) {
        const unit = await prisma.orgUnit.findFirst({ where: { code: body.unitCode, active: true }, select: { id: true } });
        if (!unit) throw new AppError("UNIT_NOT_FOUND", `没有找到编码为“${body.unitCode}”的单位，请核对后重试。`);
        unitId = unit.id;
      }
      // Known before anything is stored: where the ticket goes (UNIT_UNKNOWN otherwise).
      if (photos.length) await responsibleUnit(prisma, filer, unitId);
      const now = new Date();
      const filed = await withPhotos(ctx, photos, "complaints/new", (stored) =>
        withOutbox(ctx, async (tx) => {
          const r = await fileComplaint(
            tx,
            filer,
            { content: body.content, category: body.category || null, location: body.location || null, anonymous: body.anonymous ?? false, unitId },
            ctx.deps.config,
            now,
          );
          await recordFilingPhotos(tx, r.complaint.id, stored, now);
          return r;
        }),
      );
      const c = filed.complaint;
      const message = [
        `您的诉求已受理${c.anonymous ? "（匿名）" : ""}，编号 ${c.number}。`,
        `承办单位：${filed.unit.name}；响应时限：${fmt(c.responseDueAt)} 前；办结时限：${fmt(c.resolveDueAt)} 前。`,
        photos.length ? `已附照片 ${photos.length} 张。` : "",
      ]
        .filter(Boolean)
        .join("");
      return { complaint: detailOut(await viewComplaint(prisma, viewerOf(principal), c.id)), message };
    },
  });

  api.route({
    method: "get",
    path: "/api/mp/complaints",
    summary: "我的诉求 / my complaints (mini-program)",
    description: "本人反映过的诉求（含绑定的党员身份在群里反映的），最新的在前。仅小程序登录。",
    tags: ["miniprogram", "complaints"],
    auth: MP,
    query: MpListQuery,
    response: { description: "我的诉求", schema: MpList },
    handler: async (ctx, { query, principal }) => {
      const r = await myComplaints(ctx.deps.db.prisma, { identityId: principal.id, memberId: principal.memberId }, { limit: query.limit });
      return {
        total: r.total,
        items: r.items.map((i) => ({ ...i, createdAt: i.createdAt.toISOString(), responseDueAt: i.responseDueAt.toISOString(), resolveDueAt: i.resolveDueAt.toISOString() })),
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/mp/complaints/:number",
    summary: "我的诉求详情 / my complaint with its history (mini-program)",
    description: "本人反映的诉求的内容、进度和办理经过（不含内部环节）。不是本人反映的：404 COMPLAINT_NOT_FOUND。仅小程序登录。",
    tags: ["miniprogram", "complaints"],
    auth: MP,
    params: NumberParams,
    response: { description: "诉求详情", schema: MpComplaintDetail },
    errors: [404],
    handler: async (ctx, { params, principal }) => detailOut(await viewComplaint(ctx.deps.db.prisma, viewerOf(principal), params.number)),
  });

  const mpAction = <B extends z.ZodObject>(spec: {
    path: string;
    summary: string;
    description: string;
    body: B;
    run: (ctx: ApiCtx, tx: Prisma.TransactionClient, filer: FilerRef, number: string, body: z.output<B>) => Promise<string>;
  }) =>
    api.route({
      method: "post",
      path: `/api/mp/complaints/:number/${spec.path}`,
      summary: spec.summary,
      description: `${spec.description} 不是本人反映的：404 COMPLAINT_NOT_FOUND。仅小程序登录。`,
      tags: ["miniprogram", "complaints"],
      auth: MP,
      params: NumberParams,
      body: spec.body,
      response: { description: "已提交，返回最新的诉求", schema: MpActionResult },
      errors: [404, 409],
      handler: async (ctx, input) => {
        const { params, principal } = input as { params: { number: string }; principal: Principal };
        const message = await withOutbox(ctx, (tx) => spec.run(ctx, tx, filerOf(principal), params.number, (input as { body: z.output<B> }).body));
        return { complaint: detailOut(await viewComplaint(ctx.deps.db.prisma, viewerOf(principal), params.number)), message };
      },
    });

  mpAction({
    path: "info",
    summary: "补充情况 / add information (mini-program)",
    description: "为自己的诉求补充情况，认领人会收到。已撤回或已结案 409 COMPLAINT_CLOSED。",
    body: InfoBody,
    run: async (_ctx, tx, filer, number, body) => {
      await addInfo(tx, filer, number, body.info);
      return `已补充到诉求 ${number}。`;
    },
  });

  mpAction({
    path: "withdraw",
    summary: "撤回诉求 / withdraw (mini-program)",
    description: "撤回自己还没有办结的诉求。已办结 409 COMPLAINT_RESOLVED（请评价）；已撤回或已结案 409 COMPLAINT_CLOSED。",
    body: WithdrawBody,
    run: async (_ctx, tx, filer, number, body) => {
      await withdrawComplaint(tx, filer, number, body.reason || null);
      return `诉求 ${number} 已撤回。`;
    },
  });

  mpAction({
    path: "rating",
    summary: "评价办理结果 / rate the result (mini-program)",
    description:
      "对已办结的诉求评价一次：满意、基本满意或不满意。第一次不满意会重新办理（先回访，再重办），否则结案。" +
      "未办结 409 COMPLAINT_NOT_RESOLVED；已评价 409 COMPLAINT_ALREADY_RATED。",
    body: RatingBody,
    run: async (ctx, tx, filer, number, body) => {
      const r = await rateComplaint(tx, filer, number, body.rating, body.comment || null, ctx.deps.config);
      if (r.reopened) return `收到您的评价（不满意）。诉求 ${number} 将重新办理：办理人会先回访您，再重新办理，办结时限 ${fmt(r.complaint.resolveDueAt)}。`;
      return body.rating === "DISSATISFIED" ? `收到您的评价（不满意），诉求 ${number} 已结案。如仍有问题，欢迎重新反映。` : `感谢您的评价（${RATING_LABEL[body.rating]}），诉求 ${number} 已结案。`;
    },
  });

  api.route({
    method: "post",
    path: "/api/mp/complaints/:number/photos",
    summary: "补充照片 / add photos (mini-program)",
    description:
      `为自己的诉求补充照片（multipart/form-data，文件放在 photos 中；每条诉求最多 ${MAX_PHOTOS} 张，超过 409 TOO_MANY_PHOTOS）。` +
      "400 PHOTO_MISSING / FILE_EMPTY；413 FILE_TOO_LARGE；415 FILE_TYPE_NOT_ALLOWED——有一张不合格，整个请求不受理、不保存任何照片。已撤回或已结案 409 COMPLAINT_CLOSED。" +
      "不是本人反映的：404 COMPLAINT_NOT_FOUND。仅小程序登录。",
    tags: ["miniprogram", "complaints"],
    auth: MP,
    params: NumberParams,
    upload: PHOTO_UPLOAD,
    response: { status: 201, description: "已附上", schema: MpPhotosAdded },
    errors: [404, 409],
    handler: async (ctx, { params, files, principal }) => {
      const { prisma } = ctx.deps.db;
      const photos = checkPhotos(ctx, files);
      if (photos.length === 0) throw new AppError("PHOTO_MISSING", "请选择要上传的照片（multipart/form-data，文件放在 photos 中）。");
      const filer = filerOf(principal);
      // Before storing anything: the ticket is the caller's, open to additions, with room for these photos.
      await checkPhotoRoom(prisma, filer, params.number, photos.length);
      const r = await withPhotos(ctx, photos, `complaints/${keySegment(params.number)}`, (stored) => withOutbox(ctx, (tx) => addPhotos(tx, filer, params.number, stored)));
      return {
        complaint: detailOut(await viewComplaint(prisma, viewerOf(principal), params.number)),
        added: photos.length,
        photos: r.photos,
        message: `已为诉求 ${params.number} 补充 ${photos.length} 张照片。`,
      };
    },
  });
}
