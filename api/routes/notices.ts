// Notices (通知) and read receipts: members read their units' notices in the mini-program (reading marks it read),
// cadres list their subtree's and see who on the roster has and has not read one.
import { z } from "zod";
import type { Principal } from "../../core/auth/principal.ts";
import { MEETING_STATUS_LABEL, MEETING_TYPE_LABEL } from "../../core/meetings/labels.ts";
import { listNotices, openNotice, readReport, type NoticeReader } from "../../core/meetings/notices.ts";
import { requireUnitInScope, rolesAtLeast } from "../../core/org/scope.ts";
import { ChannelSchema, IdParams, IsoDateTime as isoDate, MeetingStatusSchema, MeetingTypeSchema, OrgKindSchema } from "../schemas.ts";
import type { ApiRouter } from "../validate.ts";

const positiveInt = () => z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });

const NoticeQuery = z.object({
  unitId: positiveInt().optional().meta({ description: "只看该单位发布的通知（干部：须在管辖范围内）" }),
  before: positiveInt().optional().meta({ description: "翻页：只看编号小于此值的通知（上一页最后一条的 id，即 nextBefore）" }),
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "条数（1-100，默认 20）" }),
});

const MeetingRef = z
  .object({
    id: z.number().int(),
    type: MeetingTypeSchema,
    typeLabel: z.string(),
    plannedAt: isoDate(),
    status: MeetingStatusSchema,
    statusLabel: z.string(),
  })
  .nullable()
  .meta({ description: "通知所属的会议；其他通知为 null" });

const NoticeItem = z.object({
  id: z.number().int(),
  title: z.string(),
  body: z.string(),
  unit: z.object({ id: z.number().int(), name: z.string() }),
  meeting: MeetingRef,
  publishedAt: isoDate(),
  readAt: isoDate().nullable().meta({ description: "本人阅读时间（党员身份）；未读或非党员为 null" }),
});

const NoticePage = z
  .object({
    items: z.array(NoticeItem),
    nextBefore: z.number().int().nullable().meta({ description: "还有更早的通知时，下一页的 before；否则 null" }),
  })
  .meta({ id: "NoticePage" });

const NoticeDetail = NoticeItem.extend({
  unit: z.object({ id: z.number().int(), name: z.string(), kind: OrgKindSchema }),
  place: z.string().nullable().meta({ description: "会议地点（会议通知）" }),
}).meta({ id: "NoticeDetail" });

const ReadReport = z
  .object({
    noticeId: z.number().int(),
    title: z.string(),
    unit: z.object({ id: z.number().int(), name: z.string() }),
    rosterCount: z.number().int().meta({ description: "单位名单人数" }),
    readCount: z.number().int(),
    read: z.array(z.object({ memberId: z.number().int(), name: z.string(), via: ChannelSchema.meta({ description: "在哪里读的：群里回复“收到”或小程序" }), readAt: isoDate() })),
    unread: z.array(z.object({ memberId: z.number().int(), name: z.string() })),
  })
  .meta({ id: "NoticeReadReport" });

type MeetingRefIn = { id: number; type: keyof typeof MEETING_TYPE_LABEL; plannedAt: Date; status: keyof typeof MEETING_STATUS_LABEL } | null;
const meetingRef = (m: MeetingRefIn) =>
  m && { id: m.id, type: m.type, typeLabel: MEETING_TYPE_LABEL[m.type], plannedAt: m.plannedAt.toISOString(), status: m.status, statusLabel: MEETING_STATUS_LABEL[m.status] };

/**
 * Reading counts for members in the mini-program. A cadre login is not a channel a NoticeRead can name (the console
 * is not where a member reads notices), so a cadre opening a notice does not mark it read.
 */
const readerOf = (p: Principal): NoticeReader => (p.kind === "mp" ? p : { ...p, memberId: null });

export function registerNoticeRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/notices",
    summary: "通知列表 / notices",
    description:
      "最新的在前。小程序（党员）：本人所在支部及上级单位的通知，带本人的阅读时间；未绑定党员身份时为空。干部：管辖范围内的通知。" +
      "用 before=nextBefore 翻页。",
    tags: ["notices"],
    auth: { kinds: ["cadre", "mp"] },
    query: NoticeQuery,
    response: { description: "通知列表", schema: NoticePage },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      if (query.unitId && principal.kind === "cadre") await requireUnitInScope(ctx.deps.db, principal, query.unitId);
      const rows = await listNotices(ctx.deps.db.prisma, principal, query);
      return {
        items: rows.map((n) => ({
          id: n.id,
          title: n.title,
          body: n.body,
          unit: n.orgUnit,
          meeting: meetingRef(n.meeting),
          publishedAt: n.publishedAt.toISOString(),
          readAt: n.readAt?.toISOString() ?? null,
        })),
        nextBefore: rows.length === query.limit ? rows[rows.length - 1].id : null,
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/notices/:id",
    summary: "查看通知 / read a notice",
    description:
      "通知全文。党员在小程序中查看即记为已读（via MINIPROGRAM，首次为准）；干部登录查看不计。404 NOTICE_NOT_FOUND；403 OUT_OF_SCOPE：不是本人单位（或管辖范围内）的通知。",
    tags: ["notices"],
    auth: { kinds: ["cadre", "mp"] },
    params: IdParams,
    response: { description: "通知", schema: NoticeDetail },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const { notice, readAt } = await openNotice(ctx.deps.db.prisma, readerOf(principal), params.id, "MINIPROGRAM");
      return {
        id: notice.id,
        title: notice.title,
        body: notice.body,
        unit: { id: notice.orgUnit.id, name: notice.orgUnit.name, kind: notice.orgUnit.kind },
        meeting: meetingRef(notice.meeting),
        place: notice.meeting?.place ?? null,
        publishedAt: notice.publishedAt.toISOString(),
        readAt: readAt?.toISOString() ?? null,
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/notices/:id/reads",
    summary: "通知阅读情况 / who has read a notice",
    description:
      "通知所属单位名单中已读（群里回复“收到”或小程序查看）和未读的人。支部书记及以上；通知须在管辖范围内（否则 403 OUT_OF_SCOPE）。404 NOTICE_NOT_FOUND。",
    tags: ["notices"],
    auth: { roles: rolesAtLeast("BRANCH_SECRETARY") },
    params: IdParams,
    response: { description: "阅读情况", schema: ReadReport },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      const r = await readReport(ctx.deps.db.prisma, principal, params.id);
      return {
        noticeId: r.notice.id,
        title: r.notice.title,
        unit: { id: r.notice.orgUnit.id, name: r.notice.orgUnit.name },
        rosterCount: r.rosterCount,
        readCount: r.read.length,
        read: r.read.map((x) => ({ ...x, readAt: x.readAt.toISOString() })),
        unread: r.unread,
      };
    },
  });
}
