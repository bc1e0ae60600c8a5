// Cadre console accounts: list, create (with a one-time password), change role/unit/member, disable and re-enable,
// reset password. The rules (rank, scope, role fits unit) are in core/admin/cadres.ts.
import { z } from "zod";
import {
  DISPLAY_NAME_MAX,
  USERNAME_RE,
  USERNAME_RULE,
  createCadre,
  listCadres,
  resetCadrePassword,
  updateCadre,
  type CadreActor,
} from "../../core/admin/cadres.ts";
import type { Principal } from "../../core/auth/principal.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import { CadreRoleSchema, IdParams, IsoDateTime as isoDate, OrgKindSchema, PageQuery } from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter } from "../validate.ts";

const CadreAccount = z
  .object({
    id: z.number().int(),
    username: z.string(),
    displayName: z.string(),
    role: CadreRoleSchema,
    orgUnit: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema }),
    member: z.object({ id: z.number().int(), name: z.string() }).nullable().meta({ description: "关联的党员（聊天中以此账号的角色行事）" }),
    active: z.boolean(),
    mustChangePassword: z.boolean().meta({ description: "仍在使用一次性密码" }),
    lastLoginAt: isoDate().nullable(),
    createdAt: isoDate(),
  })
  .meta({ id: "CadreAccount" });

const CadreAccountPage = z
  .object({ items: z.array(CadreAccount), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() })
  .meta({ id: "CadreAccountPage" });

const WithOneTimePassword = z
  .object({
    user: CadreAccount,
    oneTimePassword: z.string().meta({ description: "一次性密码：只在此返回一次，对方首次登录后必须修改" }),
  })
  .meta({ id: "CadreAccountWithPassword" });

const roleField = z.enum(["COUNTY_ADMIN", "TOWN_ADMIN", "BRANCH_SECRETARY", "MEMBER"], {
  error: "角色只能是 COUNTY_ADMIN（县级管理员）、TOWN_ADMIN（乡镇管理员）、BRANCH_SECRETARY（支部书记）、MEMBER（党员）",
});
const positiveId = (what: string) => z.number({ error: `${what}必须是正整数` }).int({ error: `${what}必须是正整数` }).positive({ error: `${what}必须是正整数` });
const displayNameField = z
  .string({ error: "请填写姓名" })
  .trim()
  .min(1, { error: "请填写姓名" })
  .max(DISPLAY_NAME_MAX, { error: `姓名最多 ${DISPLAY_NAME_MAX} 个字符` });

const CreateBody = z
  .object({
    username: z.string({ error: "请填写用户名" }).trim().regex(USERNAME_RE, { error: USERNAME_RULE }),
    displayName: displayNameField,
    role: roleField,
    orgUnitId: positiveId("单位"),
    memberId: positiveId("党员").nullable().optional(),
  })
  .meta({ id: "CadreCreateRequest" });

const PatchBody = z
  .object({
    displayName: displayNameField.optional(),
    role: roleField.optional(),
    orgUnitId: positiveId("单位").optional(),
    memberId: positiveId("党员").nullable().optional().meta({ description: "null 取消关联" }),
    active: z.boolean({ error: "active 必须是 true 或 false" }).optional().meta({ description: "false 停用（立即使其登录失效），true 重新启用" }),
  })
  .meta({ id: "CadrePatchRequest" });

const boolQuery = z.enum(["true", "false"], { error: "只能是 true 或 false" }).transform((v) => v === "true");

const ListQuery = PageQuery.extend({
  q: z.string().trim().max(64, { error: "最多 64 个字符" }).optional().meta({ description: "用户名或姓名（包含即可）" }),
  role: roleField.optional(),
  unitId: z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" }).optional(),
  active: boolQuery.optional().meta({ description: "true 只看启用的，false 只看已停用的" }),
});

const RULES =
  "只能创建或管理比自己级别低的账号（县级管理员 > 乡镇管理员 > 支部书记 > 党员；设在“市”的县级管理员还可管理下辖各县的县级管理员），" +
  "且账号所在单位须在自己的管辖范围内；不能在此修改自己的账号。角色须与单位相符：县级管理员设在县或市，乡镇管理员设在乡镇，" +
  "支部书记设在党支部或村，党员设在乡镇以下。";

const actorOf = (ctx: ApiCtx, p: Principal): CadreActor => ({ id: p.id, role: p.role, orgPath: p.orgPath, channel: "api", requestId: ctx.state.requestId });

const managers = { roles: rolesAtLeast("BRANCH_SECRETARY") };

export function registerCadreRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/admin/cadres",
    summary: "干部账号列表 / cadre accounts",
    description: "管辖范围内的干部账号，按角色（高到低）和用户名排序。支部书记及以上。",
    tags: ["cadres"],
    auth: managers,
    query: ListQuery,
    response: { description: "账号（分页）", schema: CadreAccountPage },
    handler: (ctx, { query, principal }) => listCadres(ctx.deps.db, actorOf(ctx, principal), query),
  });

  api.route({
    method: "post",
    path: "/api/admin/cadres",
    summary: "创建干部账号 / create a cadre account",
    description:
      `${RULES}\n\n返回的一次性密码只显示这一次；对方首次登录后必须修改密码。\n\n` +
      "409 CADRE_USERNAME_TAKEN 用户名已被使用 · 403 CADRE_ROLE_NOT_ALLOWED 不能创建该角色 · 400 CADRE_ROLE_UNIT_MISMATCH 角色与单位不符 · " +
      "403 OUT_OF_SCOPE 单位或党员不在管辖范围 · 404 ORG_UNIT_NOT_FOUND · 404 MEMBER_NOT_FOUND · 409 CADRE_MEMBER_TAKEN 该党员已关联其他账号 · " +
      "400 CADRE_MEMBER_INACTIVE 党员已不在册",
    tags: ["cadres"],
    auth: managers,
    body: CreateBody,
    response: { status: 201, description: "已创建，附一次性密码", schema: WithOneTimePassword },
    errors: [404, 409],
    handler: (ctx, { body, principal }) => createCadre(ctx.deps.db, actorOf(ctx, principal), body),
  });

  api.route({
    method: "patch",
    path: "/api/admin/cadres/:id",
    summary: "修改、停用或启用干部账号 / change, disable or re-enable an account",
    description:
      `${RULES}\n\n只需提交要修改的字段。停用（active=false）立即使该账号所有登录失效；重新启用（active=true）后可再次登录。\n\n` +
      "404 CADRE_NOT_FOUND · 403 CADRE_SELF 不能修改自己 · 403 CADRE_ROLE_NOT_ALLOWED · 400 CADRE_ROLE_UNIT_MISMATCH · 409 CADRE_MEMBER_TAKEN",
    tags: ["cadres"],
    auth: managers,
    params: IdParams,
    body: PatchBody,
    response: { description: "修改后的账号", schema: CadreAccount },
    errors: [404, 409],
    handler: (ctx, { params, body, principal }) => updateCadre(ctx.deps.db, actorOf(ctx, principal), params.id, body),
  });

  api.route({
    method: "post",
    path: "/api/admin/cadres/:id/reset-password",
    summary: "重置干部账号密码 / reset password",
    description: `${RULES}\n\n生成新的一次性密码（只显示这一次），原密码和所有登录立即失效，对方登录后必须修改密码。`,
    tags: ["cadres"],
    auth: managers,
    params: IdParams,
    response: { description: "账号及新的一次性密码", schema: WithOneTimePassword },
    errors: [404],
    handler: (ctx, { params, principal }) => resetCadrePassword(ctx.deps.db, actorOf(ctx, principal), params.id),
  });
}
