// Chat groups within the caller's subtree, and the roster check (the bot's 名单核对) for one group.
import { z } from "zod";
import { groupRosterReport, listGroups } from "../../core/chat/accounts.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import { AccountStatusSchema, ChannelSchema, GroupKindSchema, IdParams, IsoDateTime as isoDate, OrgKindSchema, PageQuery } from "../schemas.ts";
import type { ApiRouter } from "../validate.ts";

const GroupQuery = PageQuery.extend({
  kind: GroupKindSchema.optional().meta({ description: "群类型" }),
  orgUnitId: z.coerce
    .number({ error: "必须是正整数" })
    .int({ error: "必须是正整数" })
    .positive({ error: "必须是正整数" })
    .optional()
    .meta({ description: "只看绑定到该单位及其下级单位的群（该单位须在管辖范围内）" }),
  bound: z
    .enum(["true", "false"], { error: "只能是 true 或 false" })
    .optional()
    .meta({ description: "true：只看已绑定的群；false：只看未绑定的群（仅县级管理员）；不填：可见的全部" }),
  lost: z
    .enum(["true", "false"], { error: "只能是 true 或 false" })
    .optional()
    .meta({ description: "true：只看微信重新登录后失联、需要在新群里重新发送“绑定 绑定码”的群；false：不含这些群" }),
});

const UnitRef = z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema });

const GroupPage = z
  .object({
    items: z.array(
      z.object({
        id: z.number().int(),
        channel: ChannelSchema,
        platformGroupId: z.string().meta({ description: "平台上的群标识" }),
        topic: z.string().meta({ description: "群名称" }),
        kind: GroupKindSchema,
        memberCount: z.number().int().meta({ description: "群成员数（平台报告）" }),
        active: z.boolean().meta({ description: "机器人仍在群内" }),
        boundAt: isoDate().nullable(),
        lostAt: isoDate().nullable().meta({ description: "微信重新登录后找不到该群（群标识已变且无法按群名和成员对应到新群）的时间；需在新群里重新发送“绑定 绑定码”。未失联为 null" }),
        orgUnit: UnitRef.nullable().meta({ description: "绑定的单位；未绑定为 null" }),
        accounts: z
          .array(z.object({ id: z.number().int(), name: z.string(), status: AccountStatusSchema, statusLabel: z.string() }))
          .meta({ description: "能触达该群的机器人账号" }),
      }),
    ),
    page: z.number().int(),
    pageSize: z.number().int(),
    total: z.number().int(),
  })
  .meta({ id: "ChatGroupPage" });

const NameList = (description: string) =>
  z.object({ count: z.number().int(), names: z.array(z.string()).meta({ description: "前 200 个姓名/昵称" }) }).meta({ description });

const RosterReportSchema = z
  .object({
    groupId: z.number().int(),
    unit: UnitRef,
    rosterCount: z.number().int().meta({ description: "名单人数" }),
    groupCount: z.number().int().meta({ description: "群成员数（在群内的）" }),
    linkedInGroup: z.number().int().meta({ description: "名单中已在群里登记的人数" }),
    missingFromGroup: NameList("名单中不在群里的党员"),
    notOnRoster: NameList("群里未登记或不在名单中的成员"),
  })
  .meta({ id: "GroupRosterReport" });

export function registerGroupRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/groups",
    summary: "群列表 / chat groups",
    description:
      "列出绑定到调用者管辖范围内单位的群（分页，按 ID 排序）。县级管理员还能看到尚未绑定的群（bound=false 只看这些）；其他角色使用 bound=false 返回 403 FORBIDDEN。" +
      "lost=true 只列出微信重新登录后失联的群（lostAt 不为空）：这些群需要在新群里重新发送“绑定 绑定码”。乡镇管理员及以上。",
    tags: ["groups"],
    auth: { roles: rolesAtLeast("TOWN_ADMIN") },
    query: GroupQuery,
    response: { description: "群列表", schema: GroupPage },
    errors: [404],
    handler: async (ctx, { query, principal }) => {
      const { bound, lost, ...rest } = query;
      const flag = (v: "true" | "false" | undefined) => (v === undefined ? undefined : v === "true");
      const page = await listGroups(ctx.deps.db, principal, { ...rest, bound: flag(bound), lost: flag(lost) });
      return { ...page, items: page.items.map((g) => ({ ...g, boundAt: g.boundAt?.toISOString() ?? null, lostAt: g.lostAt?.toISOString() ?? null })) };
    },
  });

  api.route({
    method: "get",
    path: "/api/groups/:id/roster-report",
    summary: "名单核对 / roster reconciliation for a group",
    description:
      "与机器人“名单核对”命令相同的统计：名单人数、群成员数、已登记人数，名单中不在群里的人和群里不在名单中的人（各列出前 200 个）。" +
      "支部书记及以上；群绑定的单位须在管辖范围内（否则 403 OUT_OF_SCOPE）。404 GROUP_NOT_FOUND：群不存在；409 GROUP_NOT_BOUND：群尚未绑定支部。",
    tags: ["groups"],
    auth: { roles: rolesAtLeast("BRANCH_SECRETARY") },
    params: IdParams,
    response: { description: "名单核对结果", schema: RosterReportSchema },
    errors: [404, 409],
    handler: (ctx, { params, principal }) => groupRosterReport(ctx.deps.db, principal, params.id),
  });
}
