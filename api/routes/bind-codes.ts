// One-time 绑定码 for bringing groups online: issue for a unit, list a unit's codes, revoke. The rule lives in
// core/chat/bind-codes.ts (redemption is the bot's `绑定 <码>`); these routes parse HTTP and answer.
import { z } from "zod";
import { issueBindCode, listBindCodes, revokeBindCode, type BindCodeItem } from "../../core/chat/bind-codes.ts";
import type { Principal } from "../../core/auth/principal.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import { ChannelSchema, IdParams, IsoDateTime, OrgKindSchema, PageQuery } from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter } from "../validate.ts";

const SECRETARY_IN_UNIT = { roles: rolesAtLeast("BRANCH_SECRETARY"), orgParam: "id" };

const IssueBody = z
  .object({
    memberId: z
      .number({ error: "必须是正整数" })
      .int({ error: "必须是正整数" })
      .positive({ error: "必须是正整数" })
      .optional()
      .meta({ description: "使用此绑定码的党员（将与发送“绑定 绑定码”的聊天账号关联）。党支部：不填时为名单中唯一的书记；乡镇、县：可不填" }),
  })
  .meta({ id: "BindCodeIssue" });

const Ref = z.object({ id: z.number().int(), name: z.string() });

const Issued = z
  .object({
    id: z.number().int(),
    code: z.string().meta({ description: "绑定码（6 位，不含 0/O/1/I/L，不区分大小写）", example: "K7M4PX" }),
    expiresAt: IsoDateTime().meta({ description: "过期时间（生成后 24 小时）" }),
    unit: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema }),
    member: Ref.nullable().meta({ description: "绑定时将被登记的党员；党支部的绑定码绑定后该党员成为支部书记" }),
  })
  .meta({ id: "BindCodeIssued" });

const Item = z
  .object({
    id: z.number().int(),
    code: z.string(),
    expiresAt: IsoDateTime(),
    usedAt: IsoDateTime().nullable().meta({ description: "使用时间；未使用为 null" }),
    revokedAt: IsoDateTime().nullable().meta({ description: "作废时间；未作废为 null" }),
    member: Ref.nullable(),
    group: z.object({ id: z.number().int(), topic: z.string(), channel: ChannelSchema }).nullable().meta({ description: "用此码绑定的群" }),
    createdBy: z.object({ id: z.number().int(), displayName: z.string() }).nullable().meta({ description: "生成者（管理后台账号）" }),
  })
  .meta({ id: "BindCode" });

const Page = z.object({ items: z.array(Item), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() }).meta({ id: "BindCodePage" });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const itemOut = (i: BindCodeItem) => ({ ...i, expiresAt: i.expiresAt.toISOString(), usedAt: iso(i.usedAt), revokedAt: iso(i.revokedAt) });

const actorOf = (ctx: ApiCtx, p: Principal) => ({ role: p.role, orgPath: p.orgPath, cadreUserId: p.kind === "cadre" ? p.id : null, channel: "api", requestId: ctx.state.requestId });

export function registerBindCodeRoutes(api: ApiRouter) {
  api.route({
    method: "post",
    path: "/api/org/units/:id/bind-codes",
    summary: "生成绑定码 / issue a one-time bind code",
    description:
      "为管辖范围内的单位生成一次性绑定码（24 小时内有效）。在新的微信群或 QQ 群里发送“绑定 绑定码”，即把该群绑定到此单位，发送者同时登记为码所对应的党员（党支部：成为支部书记）。" +
      "党支部：memberId 须在该支部名单中；不填时取名单中唯一的书记，没有或有多位书记时返回 400 BIND_CODE_MEMBER_REQUIRED（请选择党员）。" +
      "400 BIND_CODE_MEMBER_NOT_ON_ROSTER / BIND_CODE_MEMBER_NOT_IN_UNIT：所选党员不在该单位名单中；400 BIND_CODE_UNIT_KIND：党小组不单独绑定群；400 BIND_CODE_MEMBER_NOT_ALLOWED：所选党员本人有管理后台账号且级别不低于您（绑定码不能给出高于发码人的权限）。支部书记及以上。",
    tags: ["groups"],
    auth: SECRETARY_IN_UNIT,
    params: IdParams,
    body: IssueBody,
    response: { status: 201, description: "已生成", schema: Issued },
    errors: [404],
    handler: async (ctx, { params, body, principal }) => {
      const r = await issueBindCode(ctx.deps.db.prisma, actorOf(ctx, principal), params.id, { memberId: body.memberId });
      return { ...r, expiresAt: r.expiresAt.toISOString() };
    },
  });

  api.route({
    method: "get",
    path: "/api/org/units/:id/bind-codes",
    summary: "单位的绑定码 / a unit's bind codes",
    description: "该单位生成过的绑定码（新的在前），含已使用、已作废和已过期的：使用时间、绑定的群、生成者。支部书记及以上，单位须在管辖范围内。",
    tags: ["groups"],
    auth: SECRETARY_IN_UNIT,
    params: IdParams,
    query: PageQuery,
    response: { description: "绑定码列表", schema: Page },
    errors: [404],
    handler: async (ctx, { params, query, principal }) => {
      const page = await listBindCodes(ctx.deps.db.prisma, principal, params.id, query);
      return { ...page, items: page.items.map(itemOut) };
    },
  });

  api.route({
    method: "post",
    path: "/api/bind-codes/:id/revoke",
    summary: "作废绑定码 / revoke a bind code",
    description: "作废一个尚未使用的绑定码（重复作废返回同一条记录）。404 BIND_CODE_NOT_FOUND：不存在；409 BIND_CODE_USED：已被使用。支部书记及以上，码所属单位须在管辖范围内。",
    tags: ["groups"],
    auth: { roles: rolesAtLeast("BRANCH_SECRETARY") },
    params: IdParams,
    response: { description: "作废后的绑定码", schema: Item },
    errors: [404, 409],
    handler: async (ctx, { params, principal }) => itemOut(await revokeBindCode(ctx.deps.db.prisma, actorOf(ctx, principal), params.id)),
  });
}
