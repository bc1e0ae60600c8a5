// Members of the roster: the searchable list, one member with their history, and the lifecycle (create, edit,
// 组织关系转接, 转正 / 转出 / 去世 / 停止党籍). The rules live in core/org/members.ts; these routes parse and answer.
import { z } from "zod";
import { changeMemberStatus, createMember, listMembers, memberDetail, transferMember, updateMember, type MemberActor } from "../../core/org/members.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import type { Principal } from "../../core/auth/principal.ts";
import { ChannelSchema, IdParams, PageQuery } from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter } from "../validate.ts";

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };

const STATUS_ERROR = "党员状态只能是 ACTIVE（正式党员）、PROBATIONARY（预备党员）、TRANSFERRED_OUT（已转出）、DECEASED（已去世）、SUSPENDED（停止党籍）";
const MemberStatusSchema = z
  .enum(["ACTIVE", "PROBATIONARY", "TRANSFERRED_OUT", "DECEASED", "SUSPENDED"], { error: STATUS_ERROR })
  .meta({ id: "MemberStatus", description: "ACTIVE 正式党员 · PROBATIONARY 预备党员 · TRANSFERRED_OUT 已转出 · DECEASED 已去世 · SUSPENDED 停止党籍" });
const GenderSchema = z.enum(["MALE", "FEMALE", "UNKNOWN"], { error: "性别只能是 MALE（男）、FEMALE（女）、UNKNOWN（未知）" }).meta({ id: "Gender" });
const PositiveId = (what: string) => z.number({ error: `${what}必须是正整数` }).int({ error: `${what}必须是正整数` }).positive({ error: `${what}必须是正整数` });
const Day = (what: string) => z.string({ error: `${what}须为 YYYY-MM-DD 格式的日期` }).regex(/^\d{4}-\d{2}-\d{2}$/, { error: `${what}须为 YYYY-MM-DD 格式的日期，例如 2024-07-01` });

/** Unknown fields are refused rather than dropped: a `branchId` in an edit must not be silently ignored. */
const unknownKeys = (hint: string): z.core.$ZodErrorMap => (issue) => (issue.code === "unrecognized_keys" ? `无法识别的字段：${issue.keys.join("、")}（${hint}）` : undefined);

const MemberQuery = PageQuery.extend({
  q: z.string().trim().max(30, { error: "搜索词最多 30 个字" }).optional().meta({ description: "姓名（包含）或手机号末几位（全为数字时）" }),
  branchId: z.coerce
    .number({ error: "必须是正整数" })
    .int({ error: "必须是正整数" })
    .positive({ error: "必须是正整数" })
    .optional()
    .meta({ description: "只看该单位（支部，或乡镇、村等其下所有支部；党小组）的党员；须在管辖范围内" }),
  status: MemberStatusSchema.optional().meta({ description: "只看该状态；不填：全部" }),
  linked: z.enum(["true", "false"], { error: "只能是 true 或 false" }).optional().meta({ description: "true：已登记聊天身份；false：未登记" }),
});

const BranchRef = z.object({ id: z.number().int(), code: z.string(), name: z.string() });
const GroupRef = z.object({ id: z.number().int(), name: z.string() }).nullable();

const MemberRowSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    gender: GenderSchema,
    phone: z.string().nullable().meta({ description: "手机号（脱敏，如 138****1234）" }),
    branch: BranchRef,
    partyGroup: GroupRef,
    status: MemberStatusSchema,
    statusLabel: z.string(),
    isSecretary: z.boolean(),
    isCommittee: z.boolean(),
    isGroupLeader: z.boolean(),
    linked: z.boolean().meta({ description: "已登记聊天身份（微信、QQ 或小程序）" }),
    joinedPartyOn: z.string().nullable().meta({ description: "入党日期 YYYY-MM-DD" }),
    fullMemberOn: z.string().nullable().meta({ description: "转正日期 YYYY-MM-DD" }),
  })
  .meta({ id: "MemberRow" });

const MemberDetailSchema = MemberRowSchema.extend({
  birthYear: z.number().int().nullable(),
  rosterSince: z.string().nullable().meta({ description: "现在的支部、党小组和状态自何时起（ISO 时间）；null：记录开始之前" }),
  identities: z.array(z.object({ channel: ChannelSchema, displayName: z.string() })),
  history: z
    .array(
      z.object({
        branch: BranchRef,
        partyGroup: GroupRef,
        status: MemberStatusSchema,
        statusLabel: z.string(),
        from: z.string().nullable().meta({ description: "起（ISO 时间）；null：记录开始之前" }),
        to: z.string().meta({ description: "止（ISO 时间）" }),
        endedBy: z.string().meta({ description: "transfer 组织关系转接 · status 状态变更 · party_group 调整党小组" }),
      }),
    )
    .meta({ description: "过去的经历（最近的在前）；现在的在本条记录上" }),
}).meta({ id: "MemberDetail" });

const MemberPage = z.object({ items: z.array(MemberRowSchema), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() }).meta({ id: "MemberPage" });

const editable = {
  name: z.string({ error: "姓名须为文字" }).trim().min(1, { error: "姓名不能为空" }).max(30, { error: "姓名最多 30 个字" }),
  phone: z.string({ error: "手机号须为文字" }).nullable().meta({ description: "11 位大陆手机号；null 或空串：清除" }),
  gender: GenderSchema,
  partyGroupId: PositiveId("党小组").nullable().meta({ description: "所在支部的党小组；null：不分党小组" }),
  birthYear: z.number({ error: "出生年份须为四位数字" }).int({ error: "出生年份须为四位数字" }).nullable(),
  joinedPartyOn: Day("入党日期").nullable(),
  status: z.enum(["ACTIVE", "PROBATIONARY"], { error: "新增或编辑时党员类别只能是 ACTIVE（正式党员）或 PROBATIONARY（预备党员）；转出、去世等请用状态变更" }),
  isSecretary: z.boolean({ error: "只能是 true 或 false" }),
  isCommittee: z.boolean({ error: "只能是 true 或 false" }),
  isGroupLeader: z.boolean({ error: "只能是 true 或 false" }),
};

const CreateBody = z
  .strictObject({
    ...editable,
    phone: editable.phone.optional(),
    branchId: PositiveId("支部"),
    gender: editable.gender.optional(),
    partyGroupId: editable.partyGroupId.optional(),
    birthYear: editable.birthYear.optional(),
    joinedPartyOn: editable.joinedPartyOn.optional(),
    status: editable.status.optional(),
    isSecretary: editable.isSecretary.optional(),
    isCommittee: editable.isCommittee.optional(),
    isGroupLeader: editable.isGroupLeader.optional(),
  }, { error: unknownKeys("可填写的字段见接口文档") })
  .meta({ id: "MemberCreate" });

const UpdateBody = z.strictObject(Object.fromEntries(Object.entries(editable).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof editable]: z.ZodOptional<(typeof editable)[K]> }, {
    error: unknownKeys("支部不能在这里修改，转到其他支部请用组织关系转接"),
  })
  .meta({ id: "MemberUpdate" });

const TransferBody = z
  .strictObject({
    toBranchId: PositiveId("转入支部").optional().meta({ description: "转入的党支部编号" }),
    toBranch: z.string().trim().min(1, { error: "请填写转入支部的编码或名称" }).max(60).optional().meta({ description: "或转入支部的编码、全称" }),
    partyGroupId: PositiveId("党小组").nullable().optional().meta({ description: "转入支部的党小组" }),
    effectiveAt: z.iso
      .datetime({ offset: true, error: "生效时间须为带时区的 ISO 8601 时间，例如 2026-11-28T09:00:00+08:00" })
      .transform((s) => new Date(s))
      .optional()
      .meta({ description: "生效时间，不晚于现在、不早于 90 天前；默认现在" }),
    reason: z.string().trim().max(200, { error: "说明最多 200 个字" }).optional(),
  }, { error: unknownKeys("可填写 toBranchId、toBranch、partyGroupId、effectiveAt、reason") })
  .refine((b) => b.toBranchId != null || b.toBranch != null, { error: "请选择转入的党支部（toBranchId 或 toBranch）", path: ["toBranchId"] })
  .meta({ id: "MemberTransfer" });

const StatusBody = z
  .strictObject({
    status: z
      .enum(["ACTIVE", "TRANSFERRED_OUT", "DECEASED", "SUSPENDED"], { error: "状态只能是 ACTIVE（转正或恢复）、TRANSFERRED_OUT（转出）、DECEASED（去世）、SUSPENDED（停止党籍）" })
      .meta({ description: "ACTIVE 转正（预备党员）或恢复 · TRANSFERRED_OUT 转出 · DECEASED 去世 · SUSPENDED 停止党籍" }),
    effectiveOn: Day("生效日期").meta({ description: "生效日期 YYYY-MM-DD（不晚于今天、不早于 90 天前），自当天 0 点起" }),
    reason: z.string().trim().max(200, { error: "说明最多 200 个字" }).optional(),
  }, { error: unknownKeys("可填写 status、effectiveOn、reason") })
  .meta({ id: "MemberStatusChange" });

const actorOf = (ctx: ApiCtx, p: Principal): MemberActor => ({ role: p.role, orgPath: p.orgPath, cadreUserId: p.id, channel: "api", requestId: ctx.state.requestId });

export function registerMemberRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/members",
    summary: "党员列表 / list members",
    description:
      "管辖范围内（按党员现在所在的支部）的党员，按支部、姓名排序，分页。q 为姓名的一部分，或（全为数字时）手机号末几位；branchId 可为支部，也可为乡镇、村（含其下所有支部）；" +
      "status 按状态筛选；linked 按是否已登记聊天身份筛选。手机号脱敏。支部书记及以上。",
    tags: ["members"],
    auth: SECRETARY,
    query: MemberQuery,
    response: { description: "一页党员", schema: MemberPage },
    errors: [404],
    handler: (ctx, { query, principal }) =>
      listMembers(ctx.deps.db.prisma, principal, {
        q: query.q,
        branchId: query.branchId,
        status: query.status,
        linked: query.linked === undefined ? undefined : query.linked === "true",
        page: query.page,
        pageSize: query.pageSize,
      }),
  });

  api.route({
    method: "get",
    path: "/api/members/:id",
    summary: "党员详情 / one member with history",
    description: "党员的信息、已登记的聊天身份和过去的经历（组织关系转接、状态变更、调整党小组）。支部书记及以上，党员现在的支部须在管辖范围内。",
    tags: ["members"],
    auth: SECRETARY,
    params: IdParams,
    response: { description: "党员详情", schema: MemberDetailSchema },
    errors: [404],
    handler: (ctx, { params, principal }) => memberDetail(ctx.deps.db.prisma, principal, params.id),
  });

  api.route({
    method: "post",
    path: "/api/members",
    summary: "新增党员 / add a member",
    description:
      "在管辖范围内的党支部新增党员（审计）。同一支部已有同名同手机号的党员：409 MEMBER_EXISTS；在其他支部：409 MEMBER_EXISTS_ELSEWHERE（请用组织关系转接）。" +
      "400：PHONE_INVALID、PARTY_GROUP_INVALID（党小组不属于该支部）、NOT_A_BRANCH、DATE_INVALID、DATE_IN_FUTURE。支部书记及以上。",
    tags: ["members"],
    auth: SECRETARY,
    body: CreateBody,
    response: { status: 201, description: "已新增", schema: MemberDetailSchema },
    errors: [404, 409],
    handler: (ctx, { body, principal }) => createMember(ctx.deps.db.prisma, actorOf(ctx, principal), body),
  });

  api.route({
    method: "patch",
    path: "/api/members/:id",
    summary: "编辑党员 / edit a member",
    description:
      "修改姓名、手机号、性别、党小组、出生年份、入党日期、党员类别、职务（不含支部：转到其他支部请用组织关系转接）。手机号的修改记入审计日志（新旧号码均脱敏）；" +
      "调整党小组自现在起生效，之前的党小组会仍按原党小组计应到；预备党员改为正式党员按今天转正。支部书记及以上。",
    tags: ["members"],
    auth: SECRETARY,
    params: IdParams,
    body: UpdateBody,
    response: { description: "修改后的党员", schema: MemberDetailSchema },
    errors: [404, 409],
    handler: (ctx, { params, body, principal }) => updateMember(ctx.deps.db.prisma, actorOf(ctx, principal), params.id, body),
  });

  api.route({
    method: "post",
    path: "/api/members/:id/transfer",
    summary: "组织关系转接 / transfer to another branch",
    description:
      "把党员转到另一个党支部：转入支部须在管辖范围内（按编号 toBranchId，或编码、全称 toBranch）；乡镇管理员及以上也可从管辖范围外接收转入，但只限本县（区）内（跨县的转接由党员所在县办理，403 OUT_OF_SCOPE）。生效时间最早为 90 天前（400 DATE_TOO_EARLY）。" +
      "生效前已开的会议仍按原支部计应到和签到，之后的会议按新支部计；党员在原支部的职务（书记、委员、党小组长）随之取消。" +
      "400：TRANSFER_SAME_BRANCH（已在该支部）、PARTY_GROUP_INVALID（党小组不属于转入支部）、MEMBER_NOT_ON_ROSTER（已转出、去世等）、DATE_IN_FUTURE、DATE_TOO_EARLY、DATE_BEFORE_CURRENT、UNIT_AMBIGUOUS；404 UNIT_NOT_FOUND。支部书记及以上。",
    tags: ["members"],
    auth: SECRETARY,
    params: IdParams,
    body: TransferBody,
    response: { description: "转接后的党员", schema: MemberDetailSchema },
    errors: [404],
    handler: (ctx, { params, body, principal }) =>
      transferMember(ctx.deps.db.prisma, actorOf(ctx, principal), params.id, {
        toBranchId: body.toBranchId,
        toBranch: body.toBranch,
        partyGroupId: body.partyGroupId,
        effectiveAt: body.effectiveAt,
        reason: body.reason,
      }),
  });

  api.route({
    method: "post",
    path: "/api/members/:id/status",
    summary: "党员状态变更 / 转正, 转出, 去世, 停止党籍",
    description:
      "自生效日期（不晚于今天）0 点起改变党员状态：预备党员改为 ACTIVE 即转正（记下转正日期）；TRANSFERRED_OUT 转出、DECEASED 去世、SUSPENDED 停止党籍后不再计入之后会议的应到，" +
      "之前的会议不变；已停止党籍或已转出的可改回 ACTIVE。生效日期最早为 90 天前。转出、去世、停止党籍时，该党员关联的管理后台账号随即停用（恢复党员状态不会自动启用账号）。400：STATUS_UNCHANGED、STATUS_CHANGE_INVALID（如已去世）、DATE_INVALID（不存在的日期）、DATE_IN_FUTURE、DATE_TOO_EARLY、DATE_BEFORE_CURRENT。支部书记及以上。",
    tags: ["members"],
    auth: SECRETARY,
    params: IdParams,
    body: StatusBody,
    response: { description: "变更后的党员", schema: MemberDetailSchema },
    errors: [404],
    handler: (ctx, { params, body, principal }) => changeMemberStatus(ctx.deps.db.prisma, actorOf(ctx, principal), params.id, body),
  });
}
