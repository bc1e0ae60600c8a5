// The working-day calendar that time limits count on: the official schedule and the county's own overrides
// (for next year before the package has it, or a local change). Reading is for every cadre; editing for the county.
import { z } from "zod";
import { audit } from "../../core/audit.ts";
import { calendarYear, invalidateCalendar, removeOverride, setOverride } from "../../core/calendar/workdays.ts";
import type { ApiRouter } from "../validate.ts";

const DateParams = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: "日期格式应为 YYYY-MM-DD，例如 2027-10-01" }).meta({ description: "日期（中国日历日）" }),
});

const Day = z.object({
  date: z.string().meta({ description: "YYYY-MM-DD" }),
  isWorkday: z.boolean(),
  source: z.enum(["override", "package", "weekday"]).meta({ description: "override 人工调整 · package 国务院办公厅公布的安排（chinese-days） · weekday 未公布年份按周一至周五" }),
  note: z.string().optional(),
});

const CalendarYear = z
  .object({
    year: z.number().int(),
    packageCovers: z.boolean().meta({ description: "是否已包含当年官方放假安排；为 false 时请按国务院通知录入调整" }),
    workdays: z.number().int().meta({ description: "当年工作日天数" }),
    days: z.array(Day).meta({ description: "与“周一至周五上班”不同的日子（节假日、调休上班）和全部人工调整" }),
  })
  .meta({ id: "CalendarYear" });

const OverrideBody = z
  .object({
    isWorkday: z.boolean({ error: "isWorkday 必须是 true（上班）或 false（放假）" }),
    note: z.string().trim().max(100, { error: "说明最多 100 个字" }).default("").meta({ description: "如：2027 年国庆节调休" }),
  })
  .meta({ id: "CalendarOverrideInput" });

export function registerCalendarRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/calendar",
    summary: "工作日日历 / working-day calendar",
    description: "诉求办理时限按此日历计算。返回某年的节假日、调休上班日和人工调整，以及官方安排是否已收录。",
    tags: ["calendar"],
    auth: {},
    query: z.object({ year: z.coerce.number({ error: "年份必须是数字" }).int({ error: "年份必须是整数" }).meta({ description: "年份，如 2027" }) }),
    response: { description: "该年的日历", schema: CalendarYear },
    handler: (ctx, { query }) => calendarYear(ctx.deps.db.prisma, query.year),
  });

  api.route({
    method: "put",
    path: "/api/admin/calendar/:date",
    summary: "设置某日上班或放假 / set a day's override",
    description: "国务院公布次年放假安排后，在 chinese-days 更新前由县级管理员录入。之后新建诉求的时限按新日历计算。仅县级管理员。",
    tags: ["calendar"],
    auth: { roles: ["COUNTY_ADMIN"] },
    params: DateParams,
    body: OverrideBody,
    response: { description: "已保存", schema: Day },
    handler: async (ctx, { params, body, principal }) => {
      const row = await ctx.deps.db.prisma.$transaction(async (tx) => {
        const r = await setOverride(tx, params.date, body.isWorkday, body.note);
        await audit(tx, { actorId: principal.id, channel: "api", action: "calendar.override", targetType: "CalendarOverride", targetId: params.date, detail: body, requestId: ctx.state.requestId });
        return r;
      });
      invalidateCalendar(); // again after commit: a read between the edit and the commit may have cached the old days
      return { date: params.date, isWorkday: row.isWorkday, source: "override" as const, note: row.note };
    },
  });

  api.route({
    method: "delete",
    path: "/api/admin/calendar/:date",
    summary: "删除某日的人工调整 / remove a day's override",
    description: "恢复为官方安排（或周一至周五）。仅县级管理员。404 OVERRIDE_NOT_FOUND：该日没有人工调整。",
    tags: ["calendar"],
    auth: { roles: ["COUNTY_ADMIN"] },
    params: DateParams,
    response: { description: "已删除", schema: z.object({ date: z.string(), removed: z.literal(true) }) },
    errors: [404],
    handler: async (ctx, { params, principal }) => {
      await ctx.deps.db.prisma.$transaction(async (tx) => {
        await removeOverride(tx, params.date);
        await audit(tx, { actorId: principal.id, channel: "api", action: "calendar.override.remove", targetType: "CalendarOverride", targetId: params.date, requestId: ctx.state.requestId });
      });
      invalidateCalendar();
      return { date: params.date, removed: true as const };
    },
  });
}
