// The organisation tree, read within the caller's subtree.
import { z } from "zod";
import { listChildUnits } from "../../core/org/units.ts";
import { IdParams, OrgKindSchema as OrgKind, PageQuery } from "../schemas.ts";
import type { ApiRouter } from "../validate.ts";

const ChildUnitsPage = z
  .object({
    parent: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKind }),
    items: z.array(
      z.object({
        id: z.number().int(),
        code: z.string(),
        name: z.string(),
        kind: OrgKind,
        path: z.string(),
        childCount: z.number().int().meta({ description: "下级单位数" }),
      }),
    ),
    page: z.number().int(),
    pageSize: z.number().int(),
    total: z.number().int(),
  })
  .meta({ id: "ChildUnitsPage" });

export function registerOrgRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/org/units/:id/children",
    summary: "下级单位列表 / child org units",
    description: "列出某单位的直接下级（分页）。该单位必须在调用者的管辖范围内，否则返回 403 OUT_OF_SCOPE。",
    tags: ["org"],
    auth: { orgParam: "id" },
    params: IdParams,
    query: PageQuery,
    response: { description: "下级单位（按编码排序）", schema: ChildUnitsPage },
    errors: [404],
    handler: (ctx, { params, query, principal }) => listChildUnits(ctx.deps.db, principal, params.id, query),
  });
}
