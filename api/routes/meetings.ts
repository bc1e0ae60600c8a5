// Meetings (学习 and 三会一课) over HTTP: the console publishes, changes, cancels and lists them, shows attendance
// and the on-site QR code, and exports the 签到表; the mini-program binds a member, checks in and asks for leave.
// The rules live in core/meetings (the same functions the bot's commands use); these routes parse and answer.
import { z } from "zod";
import type { Principal } from "../../core/auth/principal.ts";
import { resolvePrincipal } from "../../core/auth/principal.ts";
import { issueAccessToken } from "../../core/auth/tokens.ts";
import { consumeSelfLinkAttempt, selfLinkInUnit } from "../../core/chat/binding.ts";
import type { Prisma } from "../../core/db/index.ts";
import { wakeSenders } from "../../core/delivery/outbox.ts";
import { attendanceReport, type AttendancePerson } from "../../core/meetings/attendance.ts";
import { attendanceFileName, attendanceWorkbook, XLSX_CONTENT_TYPE } from "../../core/meetings/export.ts";
import { ATTENDANCE_STATUS_LABEL, LEAVE_DECISION_LABEL, MEETING_STATUS_LABEL, MEETING_TYPE_LABEL, SOURCE_LABEL } from "../../core/meetings/labels.ts";
import { listMeetings } from "../../core/meetings/listing.ts";
import { cancelMeeting, meetingInScope, publishMeeting, updateMeeting, type Actor, type MeetingWithUnit } from "../../core/meetings/meetings.ts";
import { meetingQrCode, memberCheckin, memberLeave, memberMeetings } from "../../core/meetings/self-service.ts";
import { requireUnitInScope, rolesAtLeast } from "../../core/org/scope.ts";
import {
  AttendanceSourceSchema,
  AttendanceStatusSchema,
  IdParams,
  IsoDateTime as isoDate,
  LeaveDecisionSchema,
  MeetingStatusSchema,
  MeetingTypeSchema,
  OrgKindSchema,
  PageQuery,
} from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import { fileResponse, type ApiRouter } from "../validate.ts";

// ---- request schemas ----

/** An instant with its offset: "2026-11-28T19:30:00+08:00" or "…Z". */
const Instant = (what: string) =>
  z.iso
    .datetime({ offset: true, error: `${what}须为带时区的 ISO 8601 时间，例如 2026-11-28T19:30:00+08:00` })
    .transform((s) => new Date(s));

const UnitId = z.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });

const fields = {
  topic: z.string().trim().min(1, { error: "请填写会议主题" }).max(100, { error: "主题最多 100 个字" }).meta({ description: "主题（1-100 字）" }),
  place: z.string().trim().max(100, { error: "地点最多 100 个字" }).nullable().meta({ description: "地点（最多 100 字）；null 或空串：另行通知" }),
  plannedAt: Instant("开始时间").meta({ description: "开始时间（带时区，如 2026-11-28T19:30:00+08:00）；不能早于现在" }),
  durationMinutes: z.number().int().min(10).max(720).meta({ description: "时长（分钟，10-720，默认 90）" }),
  opensBeforeMin: z.number().int().min(0).max(1440).meta({ description: "开始前多少分钟开放签到（默认见 CHECKIN_OPENS_BEFORE_MIN，30）" }),
  closesAfterMin: z.number().int().min(0).max(1440).meta({ description: "开始后多少分钟截止签到（默认见 CHECKIN_CLOSES_AFTER_MIN，30）" }),
  qrRequired: z.boolean().meta({ description: "小程序签到须扫现场二维码（GET /api/meetings/{id}/qr-token）" }),
};

const MeetingCreate = z
  .object({
    unitId: UnitId.meta({ description: "召开会议的单位（通常是支部），须在管辖范围内" }),
    type: MeetingTypeSchema.default("STUDY"),
    topic: fields.topic,
    place: fields.place.optional(),
    plannedAt: fields.plannedAt,
    durationMinutes: fields.durationMinutes.optional(),
    opensBeforeMin: fields.opensBeforeMin.optional(),
    closesAfterMin: fields.closesAfterMin.optional(),
    qrRequired: fields.qrRequired.optional(),
  })
  .meta({ id: "MeetingCreate" });

const MeetingPatch = z
  .object({
    type: MeetingTypeSchema.optional(),
    topic: fields.topic.optional(),
    place: fields.place.optional(),
    plannedAt: fields.plannedAt.optional(),
    durationMinutes: fields.durationMinutes.optional(),
    opensBeforeMin: fields.opensBeforeMin.optional(),
    closesAfterMin: fields.closesAfterMin.optional(),
    qrRequired: fields.qrRequired.optional(),
  })
  .meta({ id: "MeetingPatch", description: "只填要改的项；所属单位不能修改（请取消后重新发布）" });

const CancelBody = z
  .object({ reason: z.string().trim().max(200, { error: "取消原因最多 200 个字" }).optional().meta({ description: "取消原因（会通知到群里）" }) })
  .meta({ id: "MeetingCancel" });

const MeetingQuery = PageQuery.extend({
  unitId: z.coerce
    .number({ error: "必须是正整数" })
    .int({ error: "必须是正整数" })
    .positive({ error: "必须是正整数" })
    .optional()
    .meta({ description: "只看该单位及其下级单位的会议（须在管辖范围内）" }),
  from: Instant("from").optional().meta({ description: "开始时间不早于（含）；URL 中的 + 须写成 %2B" }),
  to: Instant("to").optional().meta({ description: "开始时间早于（不含）" }),
  type: MeetingTypeSchema.optional(),
  status: MeetingStatusSchema.optional(),
}).refine((q) => !q.from || !q.to || q.from < q.to, { error: "from 必须早于 to", path: ["to"] });

// ---- response schemas ----

const UnitRef = z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema });

const MeetingSchema = z
  .object({
    id: z.number().int(),
    unit: UnitRef,
    type: MeetingTypeSchema,
    typeLabel: z.string().meta({ description: "类型中文名" }),
    topic: z.string(),
    place: z.string().nullable(),
    plannedAt: isoDate(),
    durationMinutes: z.number().int(),
    checkinOpensAt: isoDate().meta({ description: "签到开始" }),
    checkinClosesAt: isoDate().meta({ description: "签到截止" }),
    status: MeetingStatusSchema,
    statusLabel: z.string(),
    qrRequired: z.boolean(),
    cancelledAt: isoDate().nullable(),
    cancelReason: z.string().nullable(),
    finalizedAt: isoDate().nullable().meta({ description: "签到结束、最终统计已发给书记的时间" }),
    createdAt: isoDate(),
  })
  .meta({ id: "Meeting" });

const CountsSchema = z
  .object({
    rosterCount: z.number().int().meta({ description: "应到（单位名单人数）" }),
    present: z.number().int().meta({ description: "实到（名单中已签到）" }),
    leave: z.number().int().meta({ description: "请假（待审批或已准假）" }),
    absent: z.number().int().meta({ description: "未到（含未准假）" }),
  })
  .meta({ id: "MeetingCounts" });

const MeetingPage = z
  .object({
    items: z.array(MeetingSchema.extend({ counts: CountsSchema })),
    page: z.number().int(),
    pageSize: z.number().int(),
    total: z.number().int(),
  })
  .meta({ id: "MeetingPage" });

const PersonSchema = z
  .object({
    memberId: z.number().int().nullable().meta({ description: "名单中的党员；未登记的签到为 null" }),
    identityId: z.number().int().nullable().meta({ description: "签到所用的聊天身份（未登记者可据此登记）" }),
    name: z.string().meta({ description: "姓名；未登记者为群昵称" }),
    at: isoDate().nullable().meta({ description: "签到/请假时间" }),
    source: AttendanceSourceSchema.nullable(),
    sourceLabel: z.string().nullable(),
    note: z.string().nullable().meta({ description: "请假原因或备注" }),
    leaveDecision: LeaveDecisionSchema.nullable(),
    leaveDecisionLabel: z.string().nullable(),
  })
  .meta({ id: "AttendancePerson" });

const MeetingDetail = z
  .object({
    meeting: MeetingSchema,
    noticeId: z.number().int().nullable().meta({ description: "发布时生成的通知（阅读情况见 GET /api/notices/{id}/reads）" }),
    rosterCount: z.number().int(),
    counts: z.object({ present: z.number().int(), leave: z.number().int(), absent: z.number().int(), unlinked: z.number().int(), guests: z.number().int() }),
    present: z.array(PersonSchema),
    leave: z.array(PersonSchema),
    absent: z.array(PersonSchema),
    unlinked: z.array(PersonSchema).meta({ description: "群里签到但尚未登记到名单的人（群昵称）" }),
    guests: z.array(PersonSchema).meta({ description: "名单外的党员签到（列席）" }),
  })
  .meta({ id: "MeetingDetail" });

const PublishResult = z
  .object({
    meeting: MeetingSchema,
    noticeId: z.number().int(),
    groupsNotified: z.number().int().meta({ description: "收到通知的群数（该单位绑定的群）" }),
  })
  .meta({ id: "MeetingPublished" });

const UpdateResult = z
  .object({
    meeting: MeetingSchema,
    changes: z.array(z.string()).meta({ description: "变更内容（中文，已通知到群里）" }),
    groupsNotified: z.number().int(),
  })
  .meta({ id: "MeetingUpdated" });

const CancelResult = z.object({ meeting: MeetingSchema, groupsNotified: z.number().int() }).meta({ id: "MeetingCancelled" });

const CheckinStateSchema = z.enum(["NOT_OPEN", "OPEN", "CLOSED", "CANCELLED"]).meta({ id: "CheckinState", description: "NOT_OPEN 未开始 · OPEN 签到中 · CLOSED 已结束 · CANCELLED 已取消" });

const QrTokenResult = z
  .object({
    meetingId: z.number().int(),
    token: z.string().meta({ description: "小程序扫码后提交的 qrToken" }),
    rotatesAt: isoDate().meta({ description: "届时请重新获取（每 30 秒更换）" }),
    expiresAt: isoDate().meta({ description: "此后不再接受该令牌" }),
    checkinState: CheckinStateSchema,
    qrSvg: z.string().meta({ description: "二维码图片（SVG），内容即 token" }),
  })
  .meta({ id: "MeetingQrToken" });

// ---- mini-program schemas ----

const MpCheckinBody = z
  .object({ qrToken: z.string().trim().min(1).max(200).optional().meta({ description: "扫描现场二维码得到的令牌；会议要求扫码时必填" }) })
  .meta({ id: "MpCheckinRequest" });

const MpCheckinResult = z
  .object({
    outcome: z.enum(["new", "repeat", "upgraded"]).meta({ description: "new 签到成功 · repeat 已签过（不重复计数，含在群里签过） · upgraded 原为请假，现改为已签到" }),
    meetingId: z.number().int(),
    recordedAt: isoDate().meta({ description: "计入的签到时间（repeat 时为首次签到时间）" }),
    message: z.string().meta({ description: "给用户看的一句话" }),
  })
  .meta({ id: "MpCheckinResult" });

const MpLeaveBody = z
  .object({ reason: z.string({ error: "请填写请假原因" }).trim().min(1, { error: "请填写请假原因" }).max(200, { error: "请假原因最多 200 个字" }) })
  .meta({ id: "MpLeaveRequest" });

const MpLeaveResult = z
  .object({
    meetingId: z.number().int(),
    status: AttendanceStatusSchema,
    leaveDecision: LeaveDecisionSchema,
    recordedAt: isoDate(),
    updated: z.boolean().meta({ description: "修改了之前的请假" }),
    message: z.string(),
  })
  .meta({ id: "MpLeaveResult" });

const MpMeetingsQuery = z.object({
  recentDays: z.coerce.number().int().min(1).max(365).default(30).meta({ description: "最近多少天内已结束的会议（1-365，默认 30）" }),
  limit: z.coerce.number().int().min(1).max(50).default(20).meta({ description: "每组最多条数（1-50，默认 20）" }),
});

const MpMeeting = z
  .object({
    id: z.number().int(),
    unit: UnitRef,
    type: MeetingTypeSchema,
    typeLabel: z.string(),
    topic: z.string(),
    place: z.string().nullable(),
    plannedAt: isoDate(),
    durationMinutes: z.number().int(),
    checkinOpensAt: isoDate(),
    checkinClosesAt: isoDate(),
    status: MeetingStatusSchema,
    qrRequired: z.boolean(),
    cancelReason: z.string().nullable(),
    checkinState: CheckinStateSchema,
    mine: z
      .object({
        status: AttendanceStatusSchema,
        statusLabel: z.string(),
        leaveDecision: LeaveDecisionSchema.nullable(),
        source: AttendanceSourceSchema,
        recordedAt: isoDate(),
      })
      .nullable()
      .meta({ description: "本人的签到/请假；null：尚未签到" }),
  })
  .meta({ id: "MpMeeting" });

const MpMeetingList = z
  .object({
    member: z.object({ id: z.number().int(), name: z.string(), branchId: z.number().int(), branchName: z.string() }),
    upcoming: z.array(MpMeeting).meta({ description: "尚未结束的会议，最近的在前" }),
    recent: z.array(MpMeeting).meta({ description: "最近结束的会议，最新的在前" }),
  })
  .meta({ id: "MpMeetingList" });

const MpBindBody = z
  .object({
    branchCode: z.string({ error: "请填写支部编码" }).trim().min(1, { error: "请填写支部编码" }).max(64).meta({ description: "支部编码（向支部书记索取）" }),
    name: z
      .string({ error: "请填写姓名" })
      .trim()
      .min(1, { error: "请填写姓名" })
      .regex(/^[\p{Script=Han}A-Za-z·・.\s]{1,20}$/u, { error: "姓名格式不对，请只写姓名（不超过 20 个字）" }),
    phoneTail: z.string({ error: "请填写手机号后四位" }).regex(/^\d{4}$/, { error: "请填写手机号后四位（4 位数字）" }),
  })
  .meta({ id: "MpBindRequest" });

const MpBindResult = z
  .object({
    member: z.object({ id: z.number().int(), name: z.string(), branchId: z.number().int(), branchName: z.string() }),
    accessToken: z.string().meta({ description: "新的访问令牌（带党员身份），请替换旧令牌" }),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int(),
    expiresAt: isoDate(),
  })
  .meta({ id: "MpBindResult" });

// ---- helpers ----

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

type MeetingCore = Pick<
  MeetingWithUnit,
  "id" | "type" | "topic" | "place" | "plannedAt" | "durationMinutes" | "checkinOpensAt" | "checkinClosesAt" | "status" | "qrRequired" | "cancelReason"
>;

/** What the console's and the mini-program's answers say alike about a meeting. */
function meetingCoreOut(m: MeetingCore) {
  return {
    id: m.id,
    type: m.type,
    typeLabel: MEETING_TYPE_LABEL[m.type],
    topic: m.topic,
    place: m.place,
    plannedAt: m.plannedAt.toISOString(),
    durationMinutes: m.durationMinutes,
    checkinOpensAt: m.checkinOpensAt.toISOString(),
    checkinClosesAt: m.checkinClosesAt.toISOString(),
    status: m.status,
    qrRequired: m.qrRequired,
    cancelReason: m.cancelReason,
  };
}

function meetingOut(m: MeetingWithUnit) {
  return {
    ...meetingCoreOut(m),
    unit: { id: m.orgUnit.id, code: m.orgUnit.code, name: m.orgUnit.name, kind: m.orgUnit.kind },
    statusLabel: MEETING_STATUS_LABEL[m.status],
    cancelledAt: iso(m.cancelledAt),
    finalizedAt: iso(m.finalizedAt),
    createdAt: m.createdAt.toISOString(),
  };
}

function personOut(p: AttendancePerson) {
  const decision = (p.decision ?? null) as keyof typeof LEAVE_DECISION_LABEL | null;
  return {
    memberId: p.memberId,
    identityId: p.identityId,
    name: p.name,
    at: iso(p.at),
    source: p.source ?? null,
    sourceLabel: p.source ? (SOURCE_LABEL[p.source] ?? p.source) : null,
    note: p.note ?? null,
    leaveDecision: decision,
    leaveDecisionLabel: decision ? LEAVE_DECISION_LABEL[decision] : null,
  };
}

/** Cadre actions are audited as the cadre, from "api". */
const actorOf = (ctx: ApiCtx, p: Principal): Actor => ({
  role: p.role,
  orgPath: p.orgPath,
  cadreUserId: p.kind === "cadre" ? p.id : null,
  identityId: p.kind === "mp" ? p.id : null,
  channel: "api",
  requestId: ctx.state.requestId,
});

/** Runs a change that writes to the outbox in one transaction, then wakes the senders. */
async function withOutbox<T>(ctx: ApiCtx, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  const result = await ctx.deps.db.prisma.$transaction(fn);
  await wakeSenders(ctx.deps.coord);
  return result;
}

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };
const MP = { kinds: ["mp" as const] };

export function registerMeetingRoutes(api: ApiRouter) {
  api.route({
    method: "post",
    path: "/api/meetings",
    summary: "发布会议 / publish a meeting",
    description:
      "发布学习或三会一课：在同一事务中创建会议、生成通知并发到该单位绑定的所有群，开放签到时间窗（默认开始前 30 分钟至开始后 30 分钟）。" +
      "支部书记及以上；单位须在管辖范围内（否则 403 OUT_OF_SCOPE）。400 TIME_IN_PAST：开始时间已过；400 WINDOW_INVALID / DURATION_INVALID；404 ORG_UNIT_NOT_FOUND。",
    tags: ["meetings"],
    auth: SECRETARY,
    body: MeetingCreate,
    response: { status: 201, description: "已发布", schema: PublishResult },
    errors: [404],
    handler: async (ctx, { body, principal }) => {
      const { config } = ctx.deps;
      const { meeting, notice, groups } = await withOutbox(ctx, (tx) =>
        publishMeeting(tx, actorOf(ctx, principal), body, { opensBeforeMin: config.CHECKIN_OPENS_BEFORE_MIN, closesAfterMin: config.CHECKIN_CLOSES_AFTER_MIN }),
      );
      return { meeting: meetingOut(meeting), noticeId: notice.id, groupsNotified: groups };
    },
  });

  api.route({
    method: "get",
    path: "/api/meetings",
    summary: "会议列表 / meetings",
    description:
      "管辖范围内的会议（按开始时间倒序，分页），每条带应到/实到/请假/未到人数。unitId：只看该单位及其下级（须在管辖范围内，否则 403 OUT_OF_SCOPE）。支部书记及以上。",
    tags: ["meetings"],
    auth: SECRETARY,
    query: MeetingQuery,
    response: { description: "会议列表", schema: MeetingPage },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const { unitId, ...rest } = query;
      const unit = unitId ? await requireUnitInScope(ctx.deps.db, principal, unitId) : undefined;
      const page = await listMeetings(ctx.deps.db.prisma, principal, { ...rest, unitPath: unit?.path });
      return { ...page, items: page.items.map((m) => ({ ...meetingOut(m), counts: m.counts })) };
    },
  });

  api.route({
    method: "get",
    path: "/api/meetings/:id",
    summary: "会议详情与签到情况 / meeting with attendance",
    description:
      "会议信息和签到明细：已签到、请假（含审批状态）、未到、未登记的签到、列席。不含手机号。支部书记及以上；会议须在管辖范围内。404 MEETING_NOT_FOUND。",
    tags: ["meetings"],
    auth: SECRETARY,
    params: IdParams,
    response: { description: "会议详情", schema: MeetingDetail },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const db = ctx.deps.db.prisma;
      await meetingInScope(db, principal, params.id);
      const [r, notice] = await Promise.all([attendanceReport(db, params.id), db.notice.findFirst({ where: { meetingId: params.id }, orderBy: { id: "asc" }, select: { id: true } })]);
      return {
        meeting: meetingOut(r.meeting),
        noticeId: notice?.id ?? null,
        rosterCount: r.rosterCount,
        counts: { present: r.present.length, leave: r.leave.length, absent: r.absent.length, unlinked: r.unlinked.length, guests: r.guests.length },
        present: r.present.map(personOut),
        leave: r.leave.map(personOut),
        absent: r.absent.map(personOut),
        unlinked: r.unlinked.map(personOut),
        guests: r.guests.map(personOut),
      };
    },
  });

  api.route({
    method: "patch",
    path: "/api/meetings/:id",
    summary: "修改会议 / change a meeting",
    description:
      "修改主题、时间、地点、类型、签到时间窗或是否扫码；改开始时间时签到窗随之平移（除非同时给出新的分钟数）。有变更时通知到群里。" +
      "支部书记及以上；会议须在管辖范围内。400 NOTHING_TO_CHANGE / TIME_IN_PAST；409 MEETING_CANCELLED / MEETING_CLOSED（签到已结束）。",
    tags: ["meetings"],
    auth: SECRETARY,
    params: IdParams,
    body: MeetingPatch,
    response: { description: "已修改", schema: UpdateResult },
    errors: [404, 409],
    handler: async (ctx, { params, body, principal }) => {
      const { meeting, changes, groups } = await withOutbox(ctx, (tx) => updateMeeting(tx, actorOf(ctx, principal), params.id, body));
      return { meeting: meetingOut(meeting), changes, groupsNotified: groups };
    },
  });

  api.route({
    method: "post",
    path: "/api/meetings/:id/cancel",
    summary: "取消会议 / cancel a meeting",
    description: "取消会议并通知到群里（签到随之取消）。支部书记及以上；会议须在管辖范围内。409 MEETING_CANCELLED / MEETING_CLOSED。",
    tags: ["meetings"],
    auth: SECRETARY,
    params: IdParams,
    body: CancelBody,
    response: { description: "已取消", schema: CancelResult },
    errors: [404, 409],
    handler: async (ctx, { params, body, principal }) => {
      const { meeting, groups } = await withOutbox(ctx, (tx) => cancelMeeting(tx, actorOf(ctx, principal), params.id, body.reason || undefined));
      return { meeting: meetingOut(meeting), groupsNotified: groups };
    },
  });

  api.route({
    method: "get",
    path: "/api/meetings/:id/attendance.xlsx",
    summary: "导出签到表 / attendance sheet (Excel)",
    description:
      "签到表（.xlsx）：标题（单位与主题）、类型、时间（北京时间）、地点、应到/实到/请假/缺席，" +
      "以及名单中每个人的状态（序号、姓名、状态、签到时间、方式、备注），之后是列席和未登记的签到。支部书记及以上；会议须在管辖范围内。",
    tags: ["meetings"],
    auth: SECRETARY,
    params: IdParams,
    response: { description: "Excel 文件（文件名如 签到表-李家庄村党支部-2026-11-28.xlsx）", schema: fileResponse(XLSX_CONTENT_TYPE) },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const db = ctx.deps.db.prisma;
      await meetingInScope(db, principal, params.id);
      const report = await attendanceReport(db, params.id);
      return { body: await attendanceWorkbook(report), ...attendanceFileName(report) };
    },
  });

  api.route({
    method: "get",
    path: "/api/meetings/:id/qr-token",
    summary: "现场签到二维码 / on-site check-in QR code",
    description:
      "会场屏幕上显示的签到二维码：每 30 秒更换（rotatesAt 时重新获取），一分钟后失效，拍照转发无效。党员用小程序扫码后提交 qrToken 签到。" +
      "支部书记及以上；会议须在管辖范围内。409 MEETING_CANCELLED：已取消；409 CHECKIN_CLOSED：签到已结束。",
    tags: ["meetings"],
    auth: SECRETARY,
    params: IdParams,
    response: { description: "当前二维码", schema: QrTokenResult },
    errors: [404, 409],
    handler: async (ctx, { params, principal }) => {
      const meeting = await meetingInScope(ctx.deps.db.prisma, principal, params.id);
      const qr = await meetingQrCode(ctx.deps.config.JWT_SECRET, meeting);
      return { meetingId: meeting.id, token: qr.token, rotatesAt: qr.rotatesAt.toISOString(), expiresAt: qr.expiresAt.toISOString(), checkinState: qr.checkinState, qrSvg: qr.svg };
    },
  });

  // ---- mini-program ----

  api.route({
    method: "post",
    path: "/api/mp/bind",
    summary: "小程序绑定党员身份 / link the mini-program login to a roster member",
    description:
      "填写支部编码、姓名和手机号后四位，与支部名单核对后绑定（与群里的“我是”相同，每小时最多 5 次，超过返回 429 TOO_MANY_ATTEMPTS）。" +
      "成功后返回新的访问令牌（带党员身份），请替换旧令牌——旧令牌仍可用，但其中不含党员身份信息。" +
      "404 UNIT_NOT_FOUND：支部编码不存在；400 UNIT_NOT_A_BRANCH；404 MEMBER_NOT_FOUND：姓名或手机后四位不符；409 ALREADY_LINKED：已绑定。仅小程序登录。",
    tags: ["miniprogram"],
    auth: MP,
    body: MpBindBody,
    response: { description: "绑定成功", schema: MpBindResult },
    errors: [404, 409, 429],
    handler: async (ctx, { body, principal }) => {
      const { db, coord, config } = ctx.deps;
      await consumeSelfLinkAttempt(coord, "MINIPROGRAM", principal.id);
      const { member } = await db.prisma.$transaction((tx) =>
        selfLinkInUnit(tx, { identityId: principal.id, memberId: principal.memberId, name: principal.displayName }, { unitCode: body.branchCode, name: body.name, phoneTail: body.phoneTail, channel: "MINIPROGRAM" }),
      );
      // The role and unit in the new token come from the database, as for every request.
      const fresh = await resolvePrincipal(db, { kind: "mp", subjectId: principal.id, role: null, orgUnitId: null, tokenVersion: 0, issuedAt: new Date(), expiresAt: principal.tokenExpiresAt });
      const token = await issueAccessToken(config, { kind: "mp", subjectId: fresh.id, role: fresh.role, orgUnitId: fresh.orgUnitId, tokenVersion: 0 });
      return {
        member: { id: member.id, name: member.name, branchId: member.branchId, branchName: member.branch.name },
        accessToken: token.token,
        tokenType: "Bearer" as const,
        expiresIn: token.expiresIn,
        expiresAt: token.expiresAt.toISOString(),
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/mp/meetings",
    summary: "我的会议 / my meetings (mini-program)",
    description:
      "本人所在支部及上级单位（和党小组）尚未结束的会议和最近结束的会议，带本人的签到/请假状态。403 MEMBER_NOT_LINKED：尚未绑定党员身份（见 POST /api/mp/bind）。仅小程序登录。",
    tags: ["miniprogram"],
    auth: MP,
    query: MpMeetingsQuery,
    response: { description: "我的会议", schema: MpMeetingList },
    handler: async (ctx, { query, principal }) => {
      const r = await memberMeetings(ctx.deps.db.prisma, { identityId: principal.id, memberId: principal.memberId }, query);
      const out = (m: (typeof r.upcoming)[number]) => ({
        ...meetingCoreOut(m),
        unit: m.orgUnit,
        checkinState: m.checkinState,
        mine: m.mine && { ...m.mine, statusLabel: ATTENDANCE_STATUS_LABEL[m.mine.status], recordedAt: m.mine.recordedAt.toISOString() },
      });
      return {
        member: { id: r.member.id, name: r.member.name, branchId: r.member.branchId, branchName: r.member.branch.name },
        upcoming: r.upcoming.map(out),
        recent: r.recent.map(out),
      };
    },
  });

  api.route({
    method: "post",
    path: "/api/mp/meetings/:id/checkin",
    summary: "小程序签到 / check in (mini-program)",
    description:
      "在签到时间内签到；每人每次会议只计一次（已在群里签到的再签返回 repeat）。会议要求扫码时须提交现场二维码的 qrToken。" +
      "403 MEMBER_NOT_LINKED：尚未绑定党员身份；403 MEMBER_INACTIVE；404 MEETING_NOT_FOUND；403 OUT_OF_SCOPE：不是本人支部或上级单位的会议；" +
      "409 MEETING_CANCELLED / CHECKIN_NOT_OPEN（附 opensAt）/ CHECKIN_CLOSED；400 QR_TOKEN_REQUIRED / QR_TOKEN_INVALID / QR_TOKEN_WRONG_MEETING / QR_TOKEN_EXPIRED。仅小程序登录。",
    tags: ["miniprogram"],
    auth: MP,
    params: IdParams,
    body: MpCheckinBody,
    response: { description: "已签到", schema: MpCheckinResult },
    errors: [404, 409],
    handler: async (ctx, { params, body, principal }) => {
      const r = await ctx.deps.db.prisma.$transaction((tx) =>
        memberCheckin(tx, { identityId: principal.id, memberId: principal.memberId }, params.id, { qrToken: body.qrToken, qrSecret: ctx.deps.config.JWT_SECRET }),
      );
      const message = { new: "签到成功", repeat: "您已经签到过了，无需重复签到", upgraded: "签到成功，已撤销之前的请假" }[r.outcome];
      return { outcome: r.outcome, meetingId: r.meeting.id, recordedAt: r.recordedAt.toISOString(), message: `${message}：「${r.meeting.topic}」` };
    },
  });

  api.route({
    method: "post",
    path: "/api/mp/meetings/:id/leave",
    summary: "小程序请假 / ask for leave (mini-program)",
    description:
      "签到结束前请假，待支部书记审批；再次请假会更新原因。403 MEMBER_NOT_LINKED；404 MEETING_NOT_FOUND；403 OUT_OF_SCOPE；" +
      "409 MEETING_CANCELLED / MEETING_CLOSED / ALREADY_CHECKED_IN（已签到无需请假）。仅小程序登录。",
    tags: ["miniprogram"],
    auth: MP,
    params: IdParams,
    body: MpLeaveBody,
    response: { description: "已请假", schema: MpLeaveResult },
    errors: [404, 409],
    handler: async (ctx, { params, body, principal }) => {
      const { attendance, updated, meeting } = await ctx.deps.db.prisma.$transaction((tx) =>
        memberLeave(tx, { identityId: principal.id, memberId: principal.memberId }, params.id, body.reason),
      );
      return {
        meetingId: meeting.id,
        status: attendance.status,
        leaveDecision: attendance.leaveDecision ?? "PENDING",
        recordedAt: attendance.recordedAt.toISOString(),
        updated,
        message: `已提交「${meeting.topic}」的请假，等待支部书记审批。`,
      };
    },
  });
}
