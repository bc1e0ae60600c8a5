// County broadcasts (县级广播) for the console: preview, draft, approve/reject by a second county admin, cancel,
// pause/resume, retry the failed, and the live delivery report. The rules live in core/broadcasts/.
import { z } from "zod";
import type { Principal } from "../../core/auth/principal.ts";
import {
  approveBroadcast,
  broadcastReport,
  cancelBroadcast,
  draftBroadcast,
  getBroadcast,
  listBroadcasts,
  pauseBroadcast,
  pendingBroadcasts,
  previewTarget,
  rejectBroadcast,
  resumeBroadcast,
  retryFailed,
  STATUS_LABEL,
  type BroadcastActor,
  type BroadcastReport,
  type Preview,
} from "../../core/broadcasts/broadcasts.ts";
import { checkAttachment, discardAttachment, storeAttachment, type BroadcastAttachment } from "../../core/broadcasts/attachments.ts";
import { wakeSenders } from "../../core/delivery/outbox.ts";
import { createBlobStore, type BlobStore } from "../../core/storage/index.ts";
import { IsoDateTime } from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter, UploadSpec } from "../validate.ts";

const COUNTY = { roles: ["COUNTY_ADMIN" as const] };

const Target = z
  .discriminatedUnion("scope", [
    z.object({ scope: z.literal("all") }),
    z.object({ scope: z.literal("towns"), townIds: z.array(z.number().int().positive()).min(1, { error: "请至少选择一个乡镇" }).max(500) }),
    z.object({ scope: z.literal("kinds"), kinds: z.array(z.enum(["BRANCH", "CADRE"])).min(1, { error: "请至少选择一类群" }) }),
    z.object({ scope: z.literal("groups"), groupIds: z.array(z.number().int().positive()).min(1, { error: "请至少选择一个群" }).max(10_000) }),
  ], { error: "发送范围有误：scope 可选 all（全县）、towns（乡镇）、kinds（群类别）、groups（指定群）" })
  .meta({ id: "BroadcastTarget", description: "all 全县 · towns 指定乡镇（townIds）· kinds 群类别（BRANCH 支部群、CADRE 干部群）· groups 指定群（groupIds）" });

/** In a multipart form the target arrives as a JSON text field: parsed here, then checked like the JSON body's. */
const FormTarget = z.preprocess((v) => {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}, Target);

const AttachmentInfo = z
  .object({ kind: z.enum(["image", "file"]), name: z.string(), mimeType: z.string().optional(), size: z.number().int().optional() })
  .meta({ id: "BroadcastAttachment", description: "附件：图片或文档，批准后在正文之后发到每个群" });

const PreviewRequest = z
  .object({ text: z.string().max(100_000), target: Target, withAttachment: z.boolean().optional().meta({ description: "带附件时每个群多发一条（计入预计用时）" }) })
  .meta({ id: "BroadcastPreviewRequest" });
const DraftRequest = z
  .object({
    title: z.string().max(60).optional(),
    text: z.string().max(100_000).meta({ description: "正文；超过单条消息上限（1800 字）时分条发送，最多 5 条，更长的拒收（400 BROADCAST_TEXT_TOO_LONG）" }),
    target: FormTarget.meta({ description: "发送范围；multipart 表单中写成 JSON 文本，如 {\"scope\":\"all\"}" }),
    scheduledAt: IsoDateTime().optional().meta({ description: "定时发送（须为将来时间）；不填则批准后立即发送" }),
  })
  .meta({ id: "BroadcastDraftRequest" });

/** One picture or document beside the text (multipart field `attachment`), at most UPLOAD_MAX_BYTES. */
const ATTACHMENT_UPLOAD: UploadSpec = {
  fields: ["attachment", "file"],
  maxFiles: 1,
  maxFileBytes: (config) => config.UPLOAD_MAX_BYTES,
  // The text may be 9,000 characters of Chinese (3 bytes each) beside the file.
  maxFieldBytes: 64 * 1024,
  description: "附件（可选，1 个）：图片（JPEG、PNG、GIF、WebP、HEIC）或文档（PDF、DOC/DOCX、XLS/XLSX、PPT/PPTX），不超过 UPLOAD_MAX_BYTES（默认 10 MB）",
};

// One store per configuration (the S3 client keeps its signing keys).
const stores = new WeakMap<object, BlobStore>();
function blobStore(ctx: ApiCtx): BlobStore {
  let store = stores.get(ctx.deps.config);
  if (!store) stores.set(ctx.deps.config, (store = createBlobStore(ctx.deps.config)));
  return store;
}

const RefParams = z.object({ id: z.string().min(1).max(40).meta({ description: "广播 id 或编号（GB20261130-0007）" }) });
const RejectRequest = z.object({ reason: z.string().trim().min(1, { error: "驳回时请写明理由" }).max(500) });

const PreviewSchema = z
  .object({
    groups: z.number().int(),
    perTown: z.array(z.object({ townId: z.number().int().nullable(), townName: z.string(), groups: z.number().int() })),
    accounts: z.array(z.object({ id: z.number().int(), name: z.string(), status: z.string(), groups: z.number().int(), sendsPerMinute: z.number().int(), sendsPerHour: z.number().int(), dailyBudget: z.number().int() })),
    groupsWithoutOnlineAccount: z.number().int().meta({ description: "目前没有在线账号可达的群（会等待，不算失败）" }),
    partsPerGroup: z.number().int(),
    messages: z.number().int(),
    estimatedSeconds: z.number().int().meta({ description: "按各账号当前额度估算的发送用时（秒）" }),
  })
  .meta({ id: "BroadcastPreview" });

const BroadcastSummary = z
  .object({
    id: z.number().int(),
    number: z.string(),
    title: z.string(),
    body: z.string(),
    status: z.string(),
    statusLabel: z.string(),
    target: z.unknown(),
    scheduledAt: IsoDateTime().nullable(),
    attachment: AttachmentInfo.nullable(),
    drafter: z.object({ id: z.number().int(), displayName: z.string() }),
    createdAt: IsoDateTime(),
  })
  .meta({ id: "BroadcastSummary" });

const Counts = { total: z.number().int(), queued: z.number().int(), sending: z.number().int(), sent: z.number().int(), failed: z.number().int(), cancelled: z.number().int(), waiting: z.number().int() };
const ReportSchema = z
  .object({
    broadcast: z.object({ id: z.number().int(), number: z.string(), title: z.string(), status: z.string(), statusLabel: z.string(), scheduledAt: IsoDateTime().nullable(), resolvedAt: IsoDateTime().nullable(), cancelledAt: IsoDateTime().nullable(), completedAt: IsoDateTime().nullable() }),
    totals: z.object(Counts),
    perTown: z.array(z.object({ townId: z.number().int().nullable(), townName: z.string(), ...Counts })),
    failed: z.array(z.object({ deliveryId: z.string(), groupId: z.number().int(), topic: z.string(), townName: z.string(), errorClass: z.string().nullable(), error: z.string().nullable() })),
    waiting: z.array(z.object({ groupId: z.number().int(), topic: z.string(), townName: z.string() })),
  })
  .meta({ id: "BroadcastReport", description: "waiting：排队中但目前没有在线账号可达的群（不算失败）；failed 附失败类别 errorClass（not_found、permanent、transient…）" });

const ListQuery = z.object({
  status: z
    .enum(["ALL", "PENDING_APPROVAL", "REJECTED", "SCHEDULED", "SENDING", "PAUSED", "COMPLETED", "CANCELLED"], {
      error: "status 可选 ALL（全部）、PENDING_APPROVAL、REJECTED、SCHEDULED、SENDING、PAUSED、COMPLETED、CANCELLED",
    })
    .optional()
    .meta({ description: "不填：待审批；ALL：全部" }),
  limit: z.coerce.number({ error: "limit 须为 1-200 的整数" }).int({ error: "limit 须为 1-200 的整数" }).min(1, { error: "limit 须为 1-200 的整数" }).max(200, { error: "limit 须为 1-200 的整数" }).default(50),
});

const ActionResult = z.object({ id: z.number().int(), number: z.string(), status: z.string(), queued: z.number().int().optional(), cancelled: z.number().int().optional(), requeued: z.number().int().optional(), message: z.string() }).meta({ id: "BroadcastActionResult" });

const actorOf = (ctx: ApiCtx, p: Principal): BroadcastActor => ({ cadreUserId: p.id, role: p.role, orgPath: p.orgPath, channel: "api", requestId: ctx.state.requestId });
const pacingOf = (ctx: ApiCtx) => ({ minGapMs: ctx.deps.config.SENDER_MIN_GAP_MS, jitterMs: ctx.deps.config.SENDER_JITTER_MS });
const iso = (d: Date | null) => d?.toISOString() ?? null;

const reportJson = (r: BroadcastReport) => ({
  ...r,
  broadcast: { ...r.broadcast, scheduledAt: iso(r.broadcast.scheduledAt), resolvedAt: iso(r.broadcast.resolvedAt), cancelledAt: iso(r.broadcast.cancelledAt), completedAt: iso(r.broadcast.completedAt) },
});

type Row = { id: number; number: string; title: string; body: string; status: string; target: unknown; attachment?: unknown; scheduledAt: Date | null; createdAt: Date; drafter: { id: number; displayName: string } };
/** What a reader sees of an attachment: never where it is stored. */
const attachmentInfo = (a: unknown) => {
  if (!a || typeof a !== "object") return null;
  const { kind, name, mimeType, size } = a as BroadcastAttachment;
  return { kind, name, mimeType, size };
};
const summary = (b: Row) => ({
  id: b.id,
  number: b.number,
  title: b.title,
  body: b.body,
  status: b.status,
  statusLabel: STATUS_LABEL[b.status],
  target: b.target,
  scheduledAt: iso(b.scheduledAt),
  attachment: attachmentInfo(b.attachment),
  drafter: { id: b.drafter.id, displayName: b.drafter.displayName },
  createdAt: b.createdAt.toISOString(),
});

const previewJson = (p: Preview) => p;

export function registerBroadcastRoutes(api: ApiRouter) {
  api.route({
    method: "post",
    path: "/api/broadcasts/preview",
    summary: "广播预览 / preview a target",
    description: "发送前查看：范围内有多少群、分属哪些乡镇、由哪些账号发送，以及按账号额度估算的用时。400 BROADCAST_TARGET_UNKNOWN / BROADCAST_TEXT_EMPTY / BROADCAST_TEXT_TOO_LONG。仅县级管理员。",
    tags: ["broadcasts"],
    auth: COUNTY,
    body: PreviewRequest,
    response: { description: "预览", schema: PreviewSchema },
    handler: async (ctx, { body, principal }) =>
      previewJson(await previewTarget(ctx.deps.db.prisma, principal.orgPath ?? "", body.target, body.text, pacingOf(ctx), { attachment: body.withAttachment })),
  });

  api.route({
    method: "post",
    path: "/api/broadcasts",
    summary: "起草广播 / draft a broadcast",
    description:
      "起草后进入待审批，须由另一位县级管理员批准（本人不能批准）。可带一个附件（图片或文档）：multipart/form-data，文件放在 attachment 中，" +
      "text、title、scheduledAt 为普通表单项，target 为 JSON 文本；批准后每个群先收到正文，再收到附件。不带附件时也可用 JSON。" +
      "400 BROADCAST_TEXT_EMPTY、BROADCAST_TEXT_TOO_LONG、BROADCAST_TARGET_UNKNOWN、BROADCAST_TARGET_EMPTY、BROADCAST_TARGET_NO_GROUPS、BROADCAST_SEND_TIME_PAST、FILE_EMPTY；" +
      "413 FILE_TOO_LARGE、TOO_MANY_FILES；415 BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED（按文件内容判断，改扩展名无效）。",
    tags: ["broadcasts"],
    auth: COUNTY,
    body: DraftRequest,
    upload: ATTACHMENT_UPLOAD,
    response: { status: 201, description: "已起草，待审批", schema: z.object({ broadcast: BroadcastSummary, preview: PreviewSchema }) },
    handler: async (ctx, { body, files, principal }) => {
      // Checked before anything is stored; stored before the draft is written, removed again if the draft is refused.
      const checked = files[0] ? checkAttachment(files[0].data, files[0].filename, { maxBytes: ctx.deps.config.UPLOAD_MAX_BYTES }) : null;
      const store = blobStore(ctx);
      const attachment = checked ? await storeAttachment(store, checked) : null;
      try {
        const r = await draftBroadcast(
          ctx.deps.db.prisma,
          actorOf(ctx, principal),
          { title: body.title, body: body.text, target: body.target, scheduledAt: body.scheduledAt ? new Date(body.scheduledAt) : null, attachment },
          new Date(),
          pacingOf(ctx),
        );
        return { broadcast: summary({ ...r.broadcast, drafter: { id: principal.id, displayName: principal.displayName } }), preview: r.preview };
      } catch (e) {
        await discardAttachment(store, attachment);
        throw e;
      }
    },
  });

  api.route({
    method: "get",
    path: "/api/broadcasts",
    summary: "广播列表 / broadcasts (awaiting approval by default)",
    description:
      "不带 status：本县待审批的广播，先起草的在前（最多 50 条）。status=ALL：全部广播；status=某状态：该状态的广播；这两种按起草时间倒序，最多 limit 条（默认 50，最多 200）。仅县级管理员。",
    tags: ["broadcasts"],
    auth: COUNTY,
    query: ListQuery,
    response: { description: "广播列表", schema: z.object({ items: z.array(BroadcastSummary) }) },
    handler: async (ctx, { principal, query }) => {
      const prisma = ctx.deps.db.prisma;
      const rows = query.status === undefined ? await pendingBroadcasts(prisma, principal) : await listBroadcasts(prisma, principal, query.status === "ALL" ? undefined : query.status, query.limit);
      return { items: rows.map(summary) };
    },
  });

  api.route({
    method: "get",
    path: "/api/broadcasts/:id",
    summary: "广播详情与发送情况 / a broadcast and its live delivery report",
    description: "广播内容、审批记录，以及实时发送情况：总数和各乡镇的排队、发送中、已发送、失败、已取消、等待（没有在线账号）的群数，失败的群及原因类别。404 BROADCAST_NOT_FOUND。",
    tags: ["broadcasts"],
    auth: COUNTY,
    params: RefParams,
    response: {
      description: "广播与发送情况",
      schema: z.object({
        broadcast: BroadcastSummary,
        approvals: z.array(z.object({ approver: z.object({ id: z.number().int(), displayName: z.string() }), decision: z.string(), reason: z.string().nullable(), at: IsoDateTime() })),
        report: ReportSchema,
      }),
    },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const b = await getBroadcast(ctx.deps.db.prisma, principal, params.id);
      const report = await broadcastReport(ctx.deps.db.prisma, principal, b.id);
      return {
        broadcast: summary({ ...b, status: report.broadcast.status }),
        approvals: b.approvals.map((a) => ({ approver: a.approver, decision: a.decision, reason: a.reason, at: a.createdAt.toISOString() })),
        report: reportJson(report),
      };
    },
  });

  const action = (path: string, summaryText: string, description: string, run: (ctx: ApiCtx, actor: BroadcastActor, ref: string, body: { reason?: string }) => Promise<{ id: number; number: string; status?: string; queued?: number; cancelled?: number; requeued?: number; message: string }>, body?: z.ZodObject) =>
    api.route({
      method: "post",
      path: `/api/broadcasts/:id/${path}`,
      summary: summaryText,
      description: `${description} 仅县级管理员；404 BROADCAST_NOT_FOUND。`,
      tags: ["broadcasts"],
      auth: COUNTY,
      params: RefParams,
      body: body ?? z.object({}).optional(),
      response: { description: "已办理", schema: ActionResult },
      errors: [404, 409],
      handler: async (ctx, input) => {
        const { params, principal } = input as unknown as { params: { id: string }; principal: Principal };
        const b = ((input as unknown as { body?: { reason?: string } }).body ?? {}) as { reason?: string };
        const r = await run(ctx, actorOf(ctx, principal), params.id, b);
        await wakeSenders(ctx.deps.coord);
        const status = r.status ?? (await getBroadcast(ctx.deps.db.prisma, principal, r.id)).status;
        return { ...r, status };
      },
    });

  action("approve", "批准广播 / approve", "另一位县级管理员批准：立即发送，或到定时时间发送。本人起草的 403 BROADCAST_SELF_APPROVAL；已审批过 409 BROADCAST_ALREADY_DECIDED（重复批准只发送一次）。", async (ctx, actor, ref) => {
    const d = await approveBroadcast(ctx.deps.db.prisma, actor, ref);
    return { ...d.broadcast, queued: d.queued, message: d.queued ? `已批准广播 ${d.broadcast.number}，正在向 ${d.queued} 个群发送` : `已批准广播 ${d.broadcast.number}，将按定时发送` };
  });
  action("reject", "驳回广播 / reject", "驳回须写明理由（reason）。409 BROADCAST_ALREADY_DECIDED。", async (ctx, actor, ref, body) => {
    const r = await rejectBroadcast(ctx.deps.db.prisma, actor, ref, body.reason ?? "");
    return { ...r, message: `已驳回广播 ${r.number}` };
  }, RejectRequest);
  action("cancel", "取消广播 / cancel", "尚未发出的群不再发送（正在发送的那一条会发完）。409 BROADCAST_NOT_CANCELLABLE：已完成或已取消。", async (ctx, actor, ref) => {
    const r = await cancelBroadcast(ctx.deps.db.prisma, actor, ref);
    return { ...r, message: `已取消广播 ${r.number}，${r.cancelled} 个群不再发送` };
  });
  action("pause", "暂停广播 / pause", "发送中的广播暂停，各账号不再领取它的消息。409 BROADCAST_NOT_SENDING。", async (ctx, actor, ref) => {
    const r = await pauseBroadcast(ctx.deps.db.prisma, actor, ref);
    return { ...r, message: `已暂停广播 ${r.number}` };
  });
  action("resume", "恢复广播 / resume", "已暂停的广播继续发送。409 BROADCAST_NOT_PAUSED。", async (ctx, actor, ref) => {
    const r = await resumeBroadcast(ctx.deps.db.prisma, actor, ref);
    return { ...r, message: `已恢复发送广播 ${r.number}` };
  });
  action("retry", "重发失败的群 / retry failed groups", "只把发送失败的群重新排队（任一可达账号发送）。409 BROADCAST_NOT_RETRYABLE。", async (ctx, actor, ref) => {
    const r = await retryFailed(ctx.deps.db.prisma, actor, ref);
    return { ...r, message: r.requeued ? `已将 ${r.requeued} 个失败的群重新排队` : "没有发送失败的群" };
  });
}
