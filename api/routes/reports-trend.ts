// 参会率 month by month for the console's dashboard. The figure is the 月报告's (core/calendar/reports.ts), so a
// month's point equals that month's report for the same unit.
import { z } from "zod";
import { attendanceTrend } from "../../core/calendar/reports.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import type { ApiRouter } from "../validate.ts";

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };
const PositiveId = z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });

const TrendQuery = z.object({
  months: z.coerce
    .number({ error: "必须是 1 到 24 之间的整数" })
    .int({ error: "必须是 1 到 24 之间的整数" })
    .min(1, { error: "必须是 1 到 24 之间的整数" })
    .max(24, { error: "必须是 1 到 24 之间的整数" })
    .default(6)
    .meta({ description: "最近几个月（1-24，默认 6），含本月" }),
  orgUnitId: PositiveId.optional().meta({ description: "只看该单位及其下级（须在管辖范围内，否则 403 OUT_OF_SCOPE）；默认本人管辖范围" }),
});

const TrendSchema = z
  .object({
    unit: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: z.string() }),
    items: z.array(
      z.object({
        month: z.string().meta({ example: "2026-06" }),
        label: z.string().meta({ example: "2026年6月" }),
        meetings: z.number().int().meta({ description: "已召开的三会一课（按计划时间）" }),
        expected: z.number().int().meta({ description: "应到人次（按现有名单）" }),
        attended: z.number().int().meta({ description: "实到人次（名单内党员）" }),
        leave: z.number().int().meta({ description: "请假人次" }),
        rate: z.number().nullable().meta({ description: "参会率 = 实到 ÷ 应到（0-1，四位小数）；当月没有已召开的会议时为 null" }),
      }),
    ),
  })
  .meta({ id: "AttendanceTrend" });

export function registerReportTrendRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/reports/attendance-trend",
    summary: "参会率趋势 / attendance rate by month",
    description:
      "最近 months 个月（北京时间，最早的在前，最后一个为本月）每月的参会率，口径与月报告相同：当月已召开的三会一课的实到人次 ÷ 应到人次（按现有名单），另附会议数和请假人次。" +
      "支部书记及以上，范围为本人管辖范围（orgUnitId 可缩小）。",
    tags: ["reports"],
    auth: SECRETARY,
    query: TrendQuery,
    response: { description: "参会率趋势", schema: TrendSchema },
    errors: [404],
    handler: (ctx, { query, principal }) => attendanceTrend(ctx.deps.db.prisma, principal, { months: query.months, unitId: query.orgUnitId, at: new Date() }),
  });
}
