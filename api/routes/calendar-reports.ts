// 三会一课 compliance, 月报告 and 季通报 over HTTP, and the rules they are measured against. Every figure comes from
// core/calendar (compliance.ts, reports.ts), the same functions the chat commands and the report job use; these
// routes check who may see what, parse and answer.
import { z } from "zod";
import type { Principal } from "../../core/auth/principal.ts";
import { audit } from "../../core/audit.ts";
import { complianceMatrix, requirePeriod, resolveScopeUnit, type Tx } from "../../core/calendar/compliance.ts";
import { countyRules, RULES_SETTING_KEY, storedCountyPatch } from "../../core/calendar/facts.ts";
import { periodOf, previousPeriod } from "../../core/calendar/periods.ts";
import {
  bulletinFileName,
  bulletinUnitOf,
  bulletinWorkbook,
  monthlyFileName,
  monthlyReport,
  monthlyWorkbook,
  quarterlyBulletin,
  rankingHistory,
  SCORE_FORMULA,
  type QuarterlyBulletin,
} from "../../core/calendar/reports.ts";
import { branchRules, parseRulesPatch, REQUIRED_TYPES, rulesPatchSchema, type RulesPatch } from "../../core/calendar/rules.ts";
import { Prisma } from "../../core/db/index.ts";
import { AppError } from "../../core/kernel/errors.ts";
import { XLSX_CONTENT_TYPE } from "../../core/meetings/export.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import { IdParams, IsoDateTime as isoDate } from "../schemas.ts";
import { fileResponse, type ApiRouter } from "../validate.ts";

// ---- request schemas ----

const PositiveId = z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });
/** Checked by core (requirePeriod) so a bad key is 400 PERIOD_INVALID with one clear sentence. */
const PeriodParam = (description: string) => z.string().trim().max(20, { error: "最多 20 个字符" }).optional().meta({ description, example: "2026-11" });
const UnitParam = PositiveId.optional().meta({ description: "只看该单位及其下级（须在管辖范围内，否则 403 OUT_OF_SCOPE）；默认本人管辖范围" });

const MatrixQuery = z.object({ period: PeriodParam("月份 2026-11 或季度 2026-Q4；默认本季度"), unitId: UnitParam });
const MonthlyQuery = z.object({ period: PeriodParam("月份，如 2026-11；默认本月（截至现在）"), unitId: UnitParam });
const QuarterlyQuery = z.object({
  period: PeriodParam("季度，如 2026-Q3；默认上一季度（最近一期通报）"),
  unitId: PositiveId.optional().meta({ description: "排名哪个县（市）的下级单位：市排名其下各县，县排名其下各乡镇；须在管辖范围内（或为本人所在的县）。默认本人所在的县（市级管理员为市）" }),
});
const RankingsQuery = z.object({ limit: z.coerce.number().int().min(1).max(40).default(8).meta({ description: "最多几期（1-40，默认 8），最新的在前" }) });

// ---- response schemas ----

const Rate = (what: string) => z.number().nullable().meta({ description: `${what}（0-1；无数据时为 null）` });
const PeriodSchema = z
  .object({ kind: z.enum(["month", "quarter"]), key: z.string().meta({ example: "2026-11" }), label: z.string().meta({ example: "2026年11月" }), start: isoDate(), end: isoDate() })
  .meta({ id: "CalendarPeriod", description: "期间（北京时间，start 含，end 不含）" });
const UnitRefSchema = z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: z.string() });
const RequiredTypeSchema = z
  .enum(REQUIRED_TYPES)
  .meta({ id: "RequiredMeetingType", description: "MEMBER_CONGRESS 党员大会 · COMMITTEE 支委会 · PARTY_GROUP 党小组会 · PARTY_LECTURE 党课 · THEME_DAY 主题党日" });
const StateSchema = z
  .enum(["HELD", "PLANNED", "DUE", "OVERDUE", "UPCOMING", "NOT_REQUIRED"])
  .meta({ id: "ObligationState", description: "HELD 已召开（绿）· PLANNED 计划中（黄）· DUE 待安排（黄）· OVERDUE 已逾期（红）· UPCOMING 未开始（灰）· NOT_REQUIRED 无需召开" });
const ColorSchema = z.enum(["green", "yellow", "red", "grey", "none"]);
const ColorCounts = z.object({ green: z.number().int(), yellow: z.number().int(), red: z.number().int(), grey: z.number().int() });

const TallySchema = z
  .object({
    branches: z.number().int(),
    compliantBranches: z.number().int().meta({ description: "本期到期事项全部已召开的支部" }),
    obligations: z.number().int().meta({ description: "本期到期的三会一课事项（党小组会按党小组计）" }),
    held: z.number().int(),
    overdue: z.number().int(),
    planned: z.number().int(),
    due: z.number().int(),
    upcoming: z.number().int(),
    settled: z.number().int().meta({ description: "已有结果的事项：已召开 + 已逾期" }),
    complianceRate: Rate("完成率 = held / settled"),
    colors: ColorCounts.meta({ description: "事项按颜色计数" }),
    branchColors: ColorCounts.meta({ description: "支部按颜色计数：有逾期为红，否则有进行中为黄，否则有已召开为绿，否则灰" }),
  })
  .meta({ id: "ComplianceTally" });

const CellSchema = z
  .object({
    type: RequiredTypeSchema,
    typeLabel: z.string(),
    period: PeriodSchema,
    state: StateSchema,
    stateLabel: z.string(),
    color: ColorSchema,
    required: z.number().int().meta({ description: "每期应开次数" }),
    obligations: z.number().int().meta({ description: "事项数：1，党小组会为党小组数" }),
    heldObligations: z.number().int(),
    heldMeetingIds: z.array(z.number().int()),
    plannedMeetingIds: z.array(z.number().int()),
    notCounted: z.array(z.object({ id: z.number().int(), reason: z.enum(["NO_QUORUM", "NO_ATTENDANCE"]) })).meta({ description: "不计入的会议：NO_QUORUM 党员大会到会不足 · NO_ATTENDANCE 无签到记录" }),
    attentionNeeded: z.boolean().meta({ description: "既未召开也未安排，且期限将到或已过" }),
    fixedDay: isoDate().nullable().meta({ description: "主题党日：本月的固定日" }),
    counted: z.boolean().meta({ description: "计入本期汇总（事项在本期内到期）" }),
    partyGroups: z
      .array(z.object({ id: z.number().int(), name: z.string(), state: StateSchema, color: ColorSchema, heldMeetingIds: z.array(z.number().int()), plannedMeetingIds: z.array(z.number().int()) }))
      .nullable()
      .meta({ description: "党小组会：各党小组的情况；格子的状态取最差的" }),
  })
  .meta({ id: "ComplianceCell" });

const TownRefFields = { id: z.number().int().nullable().meta({ description: "乡镇；null 为县直属支部" }), code: z.string(), name: z.string() };

const ComplianceMatrixSchema = z
  .object({
    period: PeriodSchema,
    at: isoDate().meta({ description: "状态的计算时刻" }),
    unit: UnitRefSchema,
    columns: z.array(z.object({ type: RequiredTypeSchema, typeLabel: z.string(), periodKind: z.enum(["month", "quarter"]).nullable(), periods: z.array(z.object({ key: z.string(), label: z.string() })) })),
    branches: z.array(
      z.object({
        id: z.number().int(),
        code: z.string(),
        name: z.string(),
        townId: z.number().int().nullable(),
        memberCount: z.number().int(),
        partyGroups: z.array(z.object({ id: z.number().int(), name: z.string() })),
        themeDay: z.number().int().meta({ description: "主题党日（每月几日）" }),
        color: ColorSchema,
        compliant: z.boolean(),
        tally: TallySchema,
        cells: z.array(CellSchema),
      }),
    ),
    towns: z.array(z.object({ ...TownRefFields, ...TallySchema.shape })),
    total: TallySchema,
  })
  .meta({ id: "ComplianceMatrix" });

const ComplaintFigures = z
  .object({
    filed: z.number().int(),
    withdrawn: z.number().int(),
    respondedInTime: z.number().int(),
    responseRate: Rate("响应率"),
    resolved: z.number().int(),
    resolveRate: Rate("办结率"),
    rated: z.number().int(),
    satisfied: z.number().int(),
    satisfactionRate: Rate("满意率"),
    overdueOpen: z.number().int(),
    avgResolveHours: z.number().nullable(),
  })
  .meta({ id: "ReportComplaintFigures", description: "期间内提交的诉求（按现承办单位）" });
const AttendanceFigures = z
  .object({
    meetings: z.number().int().meta({ description: "已召开的三会一课次数" }),
    expected: z.number().int().meta({ description: "应到人次（按现有名单）" }),
    present: z.number().int().meta({ description: "实到人次（名单内党员）" }),
    leave: z.number().int(),
    rate: Rate("参会率 = present / expected"),
  })
  .meta({ id: "ReportAttendance" });
const CheckinFigures = z
  .object({ meetings: z.number().int().meta({ description: "期间内的会议和学习（不含已取消）" }), held: z.number().int(), studies: z.number().int(), checkins: z.number().int().meta({ description: "签到人次" }) })
  .meta({ id: "ReportCheckins" });
const SummaryFields = { compliance: TallySchema, attendance: AttendanceFigures, checkins: CheckinFigures, complaints: ComplaintFigures };
const SummaryRowSchema = z.object(SummaryFields).meta({ id: "ReportSummaryRow" });

const MonthlyReportSchema = z
  .object({
    kind: z.literal("MONTHLY"),
    period: PeriodSchema,
    generatedAt: isoDate(),
    unit: UnitRefSchema,
    branches: z.array(
      z.object({
        id: z.number().int(),
        code: z.string(),
        name: z.string(),
        townId: z.number().int().nullable(),
        townName: z.string(),
        compliant: z.boolean(),
        color: ColorSchema,
        meetingsHeld: z.number().int(),
        overdue: z.array(z.string()).meta({ description: "逾期未开的事项，如 支委会（11月）" }),
        due: z.array(z.string()).meta({ description: "待安排的事项" }),
        ...SummaryFields,
      }),
    ),
    towns: z.array(z.object({ ...TownRefFields, ...SummaryFields })),
    total: SummaryRowSchema,
  })
  .meta({ id: "MonthlyReport" });

const BulletinTownSchema = z.object({
  rank: z.number().int().nullable().meta({ description: "名次（同分同名次）；null 为不参加排名" }),
  id: z.number().int(),
  code: z.string(),
  name: z.string(),
  branches: z.number().int(),
  compliantBranches: z.number().int(),
  obligations: z.number().int(),
  held: z.number().int(),
  overdue: z.number().int(),
  complianceRate: Rate("三会一课完成率"),
  attendanceRate: Rate("参会率"),
  complaintsFiled: z.number().int(),
  responseRate: Rate("响应率"),
  resolveRate: Rate("办结率"),
  satisfactionRate: Rate("满意率"),
  handlingRate: Rate("诉求办理率 = (响应率 + 办结率) / 2"),
  score: z.number().nullable().meta({ description: "综合得分（0-100）" }),
  named: z.enum(["BEST", "WORST"]).nullable().meta({ description: "BEST 先进 · WORST 靠后" }),
});
const NamedTown = z.object({ id: z.number().int(), name: z.string(), rank: z.number().int(), score: z.number() });

const BulletinSchema = z
  .object({
    kind: z.literal("QUARTERLY"),
    source: z.enum(["snapshot", "live"]).meta({ description: "snapshot 已发布的通报（发布时的数据）· live 按现有数据计算" }),
    period: PeriodSchema,
    generatedAt: isoDate(),
    county: UnitRefSchema,
    weights: z.object({ compliance: z.number(), attendance: z.number(), complaints: z.number() }),
    formula: z.string().meta({ example: SCORE_FORMULA }),
    towns: z.array(BulletinTownSchema).meta({ description: "按名次排列，不参加排名的在最后" }),
    best: z.array(NamedTown),
    worst: z.array(NamedTown),
    total: SummaryRowSchema,
  })
  .meta({ id: "QuarterlyBulletin" });

const RankingHistory = z
  .object({
    items: z.array(
      z.object({
        period: z.string().meta({ example: "2026-Q3" }),
        label: z.string(),
        generatedAt: isoDate(),
        towns: z.array(z.object({ rank: z.number().int().nullable(), id: z.number().int(), name: z.string(), score: z.number().nullable(), named: z.enum(["BEST", "WORST"]).nullable() })),
      }),
    ),
  })
  .meta({ id: "RankingHistory" });

const TypeRuleSchema = z.object({ period: z.enum(["month", "quarter"]), count: z.number().int(), quorum: z.number() });
const RulesSchema = z
  .object({
    types: z.object(Object.fromEntries(REQUIRED_TYPES.map((t) => [t, TypeRuleSchema.nullable()])) as Record<(typeof REQUIRED_TYPES)[number], z.ZodNullable<typeof TypeRuleSchema>>),
    themeDay: z.number().int(),
    dueReminderDays: z.number().int(),
  })
  .meta({ id: "CalendarRules", description: "三会一课规则：各类会议的周期（month/quarter）、每期次数、到会比例（null 为不要求）；主题党日；提前提醒天数" });
const RulesPatchBody = rulesPatchSchema.meta({
  id: "CalendarRulesPatch",
  description: "对默认规则的调整（只写要改的项）：types.<类型> 为 {period, count, quorum} 的部分或 null（不要求）；themeDay 1-28；dueReminderDays 1-30",
});
const CountyRulesSchema = z
  .object({ patch: RulesPatchBody.nullable().meta({ description: "县里保存的调整（null 为全用默认）" }), effective: RulesSchema })
  .meta({ id: "CountyCalendarRules" });
const BranchRulesSchema = z
  .object({
    branch: UnitRefSchema,
    county: RulesSchema.meta({ description: "县里的规则" }),
    override: RulesPatchBody.nullable().meta({ description: "本支部的调整（不含主题党日）" }),
    themeDay: z.number().int().nullable().meta({ description: "本支部自定的主题党日（null 为县里的）" }),
    effective: RulesSchema.meta({ description: "本支部实际执行的规则" }),
  })
  .meta({ id: "BranchCalendarRules" });

// ---- handlers' helpers ----

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };
const TOWN = { roles: rolesAtLeast("TOWN_ADMIN") };
const COUNTY = { roles: rolesAtLeast("COUNTY_ADMIN") };

const isEmptyPatch = (p: RulesPatch) => Object.keys(p).length === 0 || (Object.keys(p).length === 1 && p.types !== undefined && Object.keys(p.types).length === 0);

async function branchRulesView(tx: Tx, branchId: number): Promise<z.input<typeof BranchRulesSchema>> {
  const b = await tx.orgUnit.findUniqueOrThrow({ where: { id: branchId }, select: { id: true, code: true, name: true, kind: true, rulesOverride: true, themeDayOfMonth: true } });
  const county = await countyRules(tx);
  const override = parseRulesPatch(b.rulesOverride);
  return {
    branch: { id: b.id, code: b.code, name: b.name, kind: b.kind },
    county,
    override,
    themeDay: b.themeDayOfMonth,
    effective: branchRules(county, { override, themeDay: b.themeDayOfMonth }),
  };
}

/** The branch an override is about: in scope (checked by authorize) and a branch. */
async function requireBranch(tx: Tx, id: number) {
  const unit = await tx.orgUnit.findUniqueOrThrow({ where: { id }, select: { kind: true, name: true } });
  if (unit.kind !== "BRANCH") throw new AppError("NOT_A_BRANCH", `「${unit.name}」不是党支部，三会一课规则只能按支部调整。`);
}

export function registerCalendarReportRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/calendar/compliance",
    summary: "三会一课落实情况 / compliance matrix",
    description:
      "管辖范围内每个支部、每类必开会议、每个月（季度）的状态：已召开（绿）、计划中/待安排（黄）、已逾期（红）、未开始（灰），附会议编号，党小组会附各党小组；" +
      "并按乡镇和合计汇总（事项数、已开、逾期、完成率 = 已开 ÷（已开 + 逾期）、各颜色数）。月份的汇总只计当月到期的事项（季度事项在季末月计入）。" +
      "period 格式不对：400 PERIOD_INVALID。支部书记及以上。",
    tags: ["reports"],
    auth: SECRETARY,
    query: MatrixQuery,
    response: { description: "矩阵", schema: ComplianceMatrixSchema },
    errors: [404],
    handler: (ctx, { query, principal }) => {
      const now = new Date();
      return complianceMatrix(ctx.deps.db.prisma, principal, { period: query.period ?? periodOf("quarter", now).key, unitId: query.unitId, at: now });
    },
  });

  /** The 月报告 the query asks for: its month (default this one, up to now) over the caller's scope or `unitId` in it. */
  const monthlyOf = (prisma: Tx, principal: Principal, query: z.infer<typeof MonthlyQuery>, now: Date) =>
    monthlyReport(prisma, principal, query.period ?? periodOf("month", now).key, now, { unitId: query.unitId });

  api.route({
    method: "get",
    path: "/api/reports/monthly",
    summary: "月报告 / monthly report",
    description:
      "某月（本月为截至现在）按支部、乡镇和合计：三会一课应开/已开/逾期和完成率、参会率（已召开三会一课的实到人次 ÷ 应到人次）、各类会议和学习的签到人次、民情诉求的响应率/办结率/满意率。" +
      "支部书记及以上，范围为本人管辖范围（unitId 可缩小）。period 须为月份（2026-11），否则 400 PERIOD_INVALID。",
    tags: ["reports"],
    auth: SECRETARY,
    query: MonthlyQuery,
    response: { description: "月报告", schema: MonthlyReportSchema },
    errors: [404],
    handler: (ctx, { query, principal }) => monthlyOf(ctx.deps.db.prisma, principal, query, new Date()),
  });

  api.route({
    method: "get",
    path: "/api/reports/monthly.xlsx",
    summary: "月报告（Excel）/ monthly report (Excel)",
    description: "与月报告相同的数据：“乡镇汇总”和“支部明细”两张表（文件名如 月报告-东山镇-2026-11.xlsx）。支部书记及以上。",
    tags: ["reports"],
    auth: SECRETARY,
    query: MonthlyQuery,
    response: { description: "Excel 文件", schema: fileResponse(XLSX_CONTENT_TYPE) },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const now = new Date();
      const r = await monthlyOf(ctx.deps.db.prisma, principal, query, now);
      return { body: await monthlyWorkbook(r, now), ...monthlyFileName(r.unit.name, r.period.key) };
    },
  });

  /**
   * The 季通报 the query asks for: the children of `unitId` (in the caller's scope), or by default of the county (city)
   * the caller belongs to, ranked. The published snapshot is the root's, so it answers only for the root.
   */
  const bulletinOf = async (prisma: Tx, principal: Principal, query: z.infer<typeof QuarterlyQuery>, now: Date): Promise<QuarterlyBulletin & { source: "snapshot" | "live" }> => {
    const period = query.period ? requirePeriod(query.period, ["quarter"]) : previousPeriod(periodOf("quarter", now));
    const own = await bulletinUnitOf(prisma, principal);
    const unit = query.unitId == null || query.unitId === own?.id ? own : await resolveScopeUnit(prisma, principal, query.unitId);
    if (!unit) throw new AppError("COUNTY_NOT_FOUND");
    const snap = await prisma.reportSnapshot.findUnique({ where: { kind_period: { kind: "QUARTERLY", period: period.key } } });
    if (snap && (snap.data as unknown as QuarterlyBulletin).county?.id === unit.id) return { ...(snap.data as unknown as QuarterlyBulletin), source: "snapshot" };
    return { ...(await quarterlyBulletin(prisma, period.key, now, unit)), source: "live" };
  };

  api.route({
    method: "get",
    path: "/api/reports/quarterly",
    summary: "季通报 / quarterly bulletin",
    description:
      `全县乡镇（市级为各县）按综合得分排名，先进和靠后的点名。${SCORE_FORMULA}已发布的季度返回发布时的通报（source=snapshot），否则按现有数据计算（live）。` +
      "乡镇管理员及以上。period 须为季度（2026-Q3），否则 400 PERIOD_INVALID。",
    tags: ["reports"],
    auth: TOWN,
    query: QuarterlyQuery,
    response: { description: "季通报", schema: BulletinSchema },
    errors: [404],
    handler: (ctx, { query, principal }) => bulletinOf(ctx.deps.db.prisma, principal, query, new Date()),
  });

  api.route({
    method: "get",
    path: "/api/reports/quarterly.xlsx",
    summary: "季通报（Excel）/ quarterly bulletin (Excel)",
    description: "与季通报相同的数据（文件名如 季通报-2026-Q3.xlsx）。乡镇管理员及以上。",
    tags: ["reports"],
    auth: TOWN,
    query: QuarterlyQuery,
    response: { description: "Excel 文件", schema: fileResponse(XLSX_CONTENT_TYPE) },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const now = new Date();
      const b = await bulletinOf(ctx.deps.db.prisma, principal, query, now);
      return { body: await bulletinWorkbook(b, now), ...bulletinFileName(b.period.key) };
    },
  });

  api.route({
    method: "get",
    path: "/api/reports/rankings",
    summary: "历次季通报排名 / ranking history",
    description: "已发布的季通报中各乡镇的名次和得分，最新的在前。乡镇管理员及以上。",
    tags: ["reports"],
    auth: TOWN,
    query: RankingsQuery,
    response: { description: "排名历史", schema: RankingHistory },
    handler: async (ctx, { query, principal }) => {
      const rows = await rankingHistory(ctx.deps.db.prisma, principal, query.limit);
      return {
        items: rows.map(({ period, generatedAt, bulletin: b }) => ({
          period,
          label: b.period.label,
          generatedAt: generatedAt.toISOString(),
          towns: b.towns.map((t) => ({ rank: t.rank, id: t.id, name: t.name, score: t.score, named: t.named })),
        })),
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/calendar/rules",
    summary: "县三会一课规则 / county rules",
    description: "县里执行的三会一课规则（默认规则加上县里的调整）。支部书记及以上可查看。",
    tags: ["reports"],
    auth: SECRETARY,
    response: { description: "规则", schema: CountyRulesSchema },
    handler: async (ctx) => {
      const prisma = ctx.deps.db.prisma;
      return { patch: await storedCountyPatch(prisma), effective: await countyRules(prisma) };
    },
  });

  api.route({
    method: "put",
    path: "/api/calendar/rules",
    summary: "修改县三会一课规则 / set county rules",
    description:
      "保存县里对默认规则的调整（整体替换；{} 恢复默认）。如：{\"types\":{\"PARTY_LECTURE\":{\"period\":\"month\"}},\"themeDay\":15}。" +
      "内容有误：400 VALIDATION_FAILED（逐项说明）。仅县级管理员；记入操作日志。",
    tags: ["reports"],
    auth: COUNTY,
    body: RulesPatchBody,
    response: { description: "已保存", schema: CountyRulesSchema },
    handler: async (ctx, { body, principal }) =>
      ctx.deps.db.prisma.$transaction(async (tx) => {
        const patch = isEmptyPatch(body) ? null : body;
        if (patch) await tx.setting.upsert({ where: { key: RULES_SETTING_KEY }, create: { key: RULES_SETTING_KEY, value: patch }, update: { value: patch } });
        else await tx.setting.deleteMany({ where: { key: RULES_SETTING_KEY } });
        await audit(tx, { actorId: principal.id, channel: "api", action: "calendar.rules.county", targetType: "Setting", targetId: RULES_SETTING_KEY, detail: { patch }, requestId: ctx.state.requestId });
        return { patch, effective: await countyRules(tx) };
      }),
  });

  api.route({
    method: "get",
    path: "/api/calendar/branches/:id/rules",
    summary: "支部执行的三会一课规则 / a branch's effective rules",
    description: "县里的规则、本支部的调整和主题党日，以及合起来实际执行的规则。支部书记及以上，支部须在管辖范围内。",
    tags: ["reports"],
    auth: { ...SECRETARY, orgParam: "id" },
    params: IdParams,
    response: { description: "规则", schema: BranchRulesSchema },
    errors: [404],
    handler: async (ctx, { params }) => {
      await requireBranch(ctx.deps.db.prisma, params.id);
      return branchRulesView(ctx.deps.db.prisma, params.id);
    },
  });

  api.route({
    method: "put",
    path: "/api/calendar/branches/:id/rules",
    summary: "调整支部的三会一课规则 / set a branch's override",
    description:
      "本支部对县里规则的调整（整体替换；{} 恢复县里的规则），themeDay 为本支部的主题党日（每月 1-28 日）。如没有支委会的支部：{\"types\":{\"COMMITTEE\":null}}。" +
      "不是党支部：400 NOT_A_BRANCH；内容有误：400 VALIDATION_FAILED。乡镇管理员及以上，支部须在管辖范围内；记入操作日志。",
    tags: ["reports"],
    auth: { ...TOWN, orgParam: "id" },
    params: IdParams,
    body: RulesPatchBody,
    response: { description: "已保存", schema: BranchRulesSchema },
    errors: [404],
    handler: async (ctx, { params, body, principal }) =>
      ctx.deps.db.prisma.$transaction(async (tx) => {
        await requireBranch(tx, params.id);
        const { themeDay, ...rest } = body;
        const override = isEmptyPatch(rest) ? null : rest;
        await tx.orgUnit.update({ where: { id: params.id }, data: { rulesOverride: override ?? Prisma.DbNull, themeDayOfMonth: themeDay ?? null } });
        await audit(tx, { actorId: principal.id, channel: "api", action: "calendar.rules.branch", targetType: "OrgUnit", targetId: params.id, detail: { override, themeDay: themeDay ?? null }, requestId: ctx.state.requestId });
        return branchRulesView(tx, params.id);
      }),
  });
}
