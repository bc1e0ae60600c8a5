// The organisation tree: read it, create and change its units, the categories a unit may have, and the Excel import
// of the whole tree with a preview. The rules live in core/org (units.ts, categories.ts, tree-import.ts).
import { z } from "zod";
import { XLSX_CONTENT_TYPE } from "../../core/meetings/export.ts";
import { ORG_CATEGORIES } from "../../core/org/categories.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import { importTree, previewTreeImport, TREE_MAX_ROWS, treeFileMissing, treeTemplate } from "../../core/org/tree-import.ts";
import { createUnit, listChildUnits, orgTree, unitDetail, updateUnit, UNIT_NAME_MAX, type OrgActor } from "../../core/org/units.ts";
import type { Principal } from "../../core/auth/principal.ts";
import type { UploadedFile } from "../middleware/multipart.ts";
import { IdParams, importForm, OrgKindSchema as OrgKind, PageQuery, xlsxUpload } from "../schemas.ts";
import type { ApiCtx } from "../types.ts";
import { fileResponse, type ApiRouter } from "../validate.ts";

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

const OrgUnitNode = z
  .object({
    id: z.number().int(),
    parentId: z.number().int().nullable(),
    code: z.string(),
    name: z.string(),
    kind: OrgKind,
    category: z.string().nullable().meta({ description: "类别（镇/乡/街道、村/社区/联合党委、产业党支部…）；null 为该层级的默认类别" }),
    active: z.boolean(),
    depth: z.number().int().meta({ description: "层级，根单位为 0" }),
  })
  .meta({ id: "OrgUnitNode" });

const OrgTree = z.object({ root: OrgUnitNode, items: z.array(OrgUnitNode).meta({ description: "子树中的全部单位（含根单位），按路径排序：上级在前" }) }).meta({ id: "OrgTree" });

const UnitRef = z.object({ id: z.number().int(), code: z.string(), name: z.string() });
const LeftCounts = z
  .object({
    children: z.number().int().meta({ description: "未撤销的下级单位" }),
    members: z.number().int().meta({ description: "在册党员（正式、预备；作为所属支部或党小组）" }),
    groups: z.number().int().meta({ description: "绑定的群" }),
    openComplaints: z.number().int().meta({ description: "未办结的诉求" }),
    cadres: z.number().int().meta({ description: "该单位的在用干部账号" }),
  })
  .meta({ id: "OrgUnitCounts" });

const OrgUnitDetail = OrgUnitNode.extend({
  path: z.string(),
  parent: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKind }).nullable(),
  spans: z.array(UnitRef).meta({ description: "联合党委涵盖的村（社区）" }),
  counts: LeftCounts,
}).meta({ id: "OrgUnitDetail" });

const Code = z.string({ error: "请填写单位编码" }).trim().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: "单位编码须为 1-32 位字母、数字、“-”或“_”" });
const Name = z.string({ error: "请填写单位名称" }).trim().min(1, { error: "单位名称不能为空" }).max(UNIT_NAME_MAX, { error: `单位名称最多 ${UNIT_NAME_MAX} 个字` });
const Id = z.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" });
const Spans = z.array(Id).max(200, { error: "最多涵盖 200 个村" }).meta({ description: "联合党委涵盖的村（社区）ID，须为同一乡镇的村" });

const CreateBody = z
  .object({
    parentId: Id.meta({ description: "上级单位" }),
    kind: z.enum(["COUNTY", "TOWN", "VILLAGE", "BRANCH", "PARTY_GROUP"], { error: "单位层级只能是 COUNTY、TOWN、VILLAGE、BRANCH、PARTY_GROUP" }),
    name: Name,
    code: Code.meta({ description: "全系统唯一" }),
    category: z.string().trim().max(20).nullable().optional().meta({ description: "见 GET /api/org/categories；不填为该层级的默认类别" }),
    spans: Spans.optional(),
  })
  .meta({ id: "OrgUnitCreate" });

const PatchBody = z
  .object({
    name: Name.optional(),
    code: Code.optional(),
    parentId: Id.optional().meta({ description: "移到新的上级单位之下（整个子树随之移动）" }),
    category: z.string().trim().max(20).nullable().optional(),
    spans: Spans.optional().meta({ description: "替换联合党委涵盖的村；[] 为清除" }),
    active: z.boolean({ error: "active 只能是 true 或 false" }).optional().meta({ description: "false 撤销（须已无下级单位、党员、群和未办结诉求），true 恢复" }),
  })
  .meta({ id: "OrgUnitPatch" });

const TreeQuery = z.object({
  rootId: z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" }).optional().meta({ description: "子树的根（默认为本人所属单位）" }),
  includeInactive: z
    .enum(["true", "false"], { error: "只能是 true 或 false" })
    .optional()
    .transform((v) => v === "true")
    .meta({ description: "true：也列出已撤销的单位" }),
});

const Categories = z
  .object({ items: z.array(z.object({ kind: OrgKind, category: z.string(), label: z.string() })) })
  .meta({ id: "OrgCategories" });

const actorOf = (ctx: ApiCtx, p: Principal): OrgActor => ({ role: p.role, orgPath: p.orgPath, cadreUserId: p.id, channel: "api", requestId: ctx.state.requestId });

// ───────────────────────────── the tree import ─────────────────────────────

const TREE_UPLOAD = xlsxUpload("组织架构", TREE_MAX_ROWS);

const ImportForm = importForm("OrgImportForm", "true：跳过有误的行（及其下级），导入其余的行；默认 false（有误时整份不导入，409 ORG_IMPORT_HAS_ERRORS）");

const RowIssue = z.object({ column: z.string().meta({ example: "上级单位编码" }), message: z.string() });
const ImportRow = z
  .object({
    row: z.number().int().meta({ description: "Excel 中的行号" }),
    action: z.enum(["create", "update", "unchanged", "error"]).meta({ description: "create 新增 · update 更新（名称、类别、上级或涵盖的村有变化） · unchanged 无变化 · error 有误（不导入）" }),
    code: z.string(),
    name: z.string(),
    kind: OrgKind.nullable(),
    category: z.string().nullable(),
    parentCode: z.string().nullable(),
    unitId: z.number().int().nullable().meta({ description: "将被更新（或无变化）的已有单位" }),
    changes: z.array(z.string()).meta({ description: "更新时变化的项：单位名称、类别、上级单位、涵盖村" }),
    errors: z.array(RowIssue),
  })
  .meta({ id: "OrgImportRow" });
const ImportCounts = z
  .object({ total: z.number().int(), create: z.number().int(), update: z.number().int(), unchanged: z.number().int(), error: z.number().int() })
  .meta({ id: "OrgImportCounts" });
const ImportPreview = z
  .object({
    sheet: z.string(),
    ignoredColumns: z.array(z.string()),
    skippedExamples: z.array(z.number().int()).meta({ description: "被识别为模板示例而跳过的行" }),
    counts: ImportCounts,
    rows: z.array(ImportRow),
  })
  .meta({ id: "OrgImportPreview" });
const ImportResult = z
  .object({ total: z.number().int(), created: z.number().int(), updated: z.number().int(), unchanged: z.number().int(), skipped: z.number().int() })
  .meta({ id: "OrgImportResult" });

const FILE_ERRORS =
  "400 ORG_IMPORT_FILE_MISSING（未选择文件）、ORG_IMPORT_FILE_INVALID（文件损坏或为空）、ORG_IMPORT_HEADER_INVALID（缺少必填列 单位编码、单位名称、类型，或列重复）、ORG_IMPORT_EMPTY（没有数据行）、" +
  `ORG_IMPORT_TOO_LARGE（超过 ${TREE_MAX_ROWS} 行）；413 FILE_TOO_LARGE；415 ORG_IMPORT_FILE_INVALID（不是 .xlsx）。`;

function theFile(files: UploadedFile[]): UploadedFile {
  const f = files[0];
  if (!f) throw treeFileMissing();
  return f;
}

const TOWN_ADMIN = { roles: rolesAtLeast("TOWN_ADMIN") };

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

  api.route({
    method: "get",
    path: "/api/org/tree",
    summary: "组织架构树 / the organisation tree",
    description: "本人管辖范围（或其中 rootId 的子树）内的全部单位，含党小组，按路径排序（上级在前）。includeInactive=true 时也列出已撤销的单位。",
    tags: ["org"],
    auth: {},
    query: TreeQuery,
    response: { description: "组织架构", schema: OrgTree },
    errors: [404],
    handler: (ctx, { query, principal }) => orgTree(ctx.deps.db.prisma, principal, { rootId: query.rootId, includeInactive: query.includeInactive }),
  });

  api.route({
    method: "get",
    path: "/api/org/categories",
    summary: "单位类别 / unit categories",
    description: "各层级允许的类别（如 乡镇：镇、乡、街道；村：村、社区、联合党委；党支部：村党支部、产业党支部、网络党支部…）。",
    tags: ["org"],
    auth: {},
    response: { description: "类别", schema: Categories },
    handler: () => ({ items: ORG_CATEGORIES.map((c) => ({ ...c })) }),
  });

  api.route({
    method: "get",
    path: "/api/org/units/:id",
    summary: "单位详情 / one org unit",
    description: "单位及其上级、联合党委涵盖的村，以及还挂在该单位上的下级单位、党员、群和未办结诉求的数量（撤销前须为 0）。已撤销的单位也可查看。",
    tags: ["org"],
    auth: {},
    params: IdParams,
    response: { description: "单位", schema: OrgUnitDetail },
    errors: [404],
    handler: (ctx, { params, principal }) => unitDetail(ctx.deps.db.prisma, principal, params.id),
  });

  api.route({
    method: "post",
    path: "/api/org/units",
    summary: "设立单位 / create an org unit",
    description:
      "在管辖范围内的上级单位下设立单位。层级须相符：市→县，县→乡镇，乡镇→村（社区、联合党委）或功能型党支部，村→党支部，党支部→党小组。" +
      "设立县须为市级管理员，设立乡镇、村、党支部须为乡镇管理员及以上，支部书记可在本支部下设立党小组。编码全系统唯一（409 UNIT_CODE_TAKEN）。联合党委可用 spans 涵盖本乡镇的村。记入审计日志。",
    tags: ["org"],
    auth: { roles: rolesAtLeast("BRANCH_SECRETARY") },
    body: CreateBody,
    response: { status: 201, description: "已设立", schema: OrgUnitDetail },
    errors: [404, 409],
    handler: (ctx, { body, principal }) => createUnit(ctx.deps.db.prisma, actorOf(ctx, principal), body),
  });

  api.route({
    method: "patch",
    path: "/api/org/units/:id",
    summary: "修改单位 / rename, move, deactivate an org unit",
    description:
      "改名、改编码、移动（parentId：整个子树随之移动；不能移到自身或其下级之下）、改类别、改联合党委涵盖的村、撤销（active=false）或恢复（active=true）。" +
      "撤销时如还有下级单位、在册党员、绑定的群或未办结诉求，返回 409 UNIT_NOT_EMPTY，信息中写明还剩什么，details.left 附各项数量。该单位还有在用的干部账号时同样拒绝，并列出这些账号（details.cadres）。有在册党员的党小组不能移到其他党支部（409 UNIT_NOT_EMPTY）。记入审计日志（修改前后）。",
    tags: ["org"],
    auth: { roles: rolesAtLeast("BRANCH_SECRETARY") },
    params: IdParams,
    body: PatchBody,
    response: { description: "修改后的单位", schema: OrgUnitDetail },
    errors: [404, 409],
    handler: (ctx, { params, body, principal }) => updateUnit(ctx.deps.db.prisma, actorOf(ctx, principal), params.id, body),
  });

  api.route({
    method: "get",
    path: "/api/org/template.xlsx",
    summary: "组织架构导入模板 / org tree import template",
    description:
      "Excel 模板：“组织架构”表（只有表头）、“填写说明”表（各列说明和一组示例，示例只在说明表中，不会被导入），以及“现有单位”表（管辖范围内已有的单位及编码，可作为上级单位编码引用）。" +
      "列：单位编码（必填）、单位名称（必填）、类型（必填）、上级单位编码、涵盖村（联合党委）、备注。乡镇管理员及以上。",
    tags: ["org"],
    auth: TOWN_ADMIN,
    response: { description: "Excel 文件", schema: fileResponse(XLSX_CONTENT_TYPE) },
    handler: async (ctx, { principal }) => ({ body: await treeTemplate(ctx.deps.db.prisma, principal), filename: "组织架构导入模板.xlsx", asciiFilename: "org-template.xlsx" }),
  });

  api.route({
    method: "post",
    path: "/api/org/import/preview",
    summary: "组织架构导入预览 / preview an org tree import",
    description:
      "上传组织架构（multipart/form-data，文件放在 file 中），逐行检查并说明导入后会怎样：新增、更新（名称、类别、上级或涵盖村有变化）、无变化或有误（附列名和原因），不写入任何数据。" +
      `行的顺序不限：上级单位可以是文件中的另一行，也可以是管辖范围内已有的单位。${FILE_ERRORS} 乡镇管理员及以上。`,
    tags: ["org"],
    auth: TOWN_ADMIN,
    upload: TREE_UPLOAD,
    response: { description: "预览", schema: ImportPreview },
    handler: (ctx, { files, principal }) => previewTreeImport(ctx.deps.db.prisma, principal, theFile(files).data),
  });

  api.route({
    method: "post",
    path: "/api/org/import",
    summary: "导入组织架构 / import the org tree",
    description:
      "与预览相同的检查后，在一个事务中新增和更新单位，并记入审计日志（org.import）。有误的行：skipInvalid 不为 true 时 409 ORG_IMPORT_HAS_ERRORS，整份不导入；" +
      `为 true 时跳过这些行及挂在其下的行。同一文件再次导入时全部为无变化。${FILE_ERRORS} 乡镇管理员及以上。`,
    tags: ["org"],
    auth: TOWN_ADMIN,
    body: ImportForm,
    upload: TREE_UPLOAD,
    response: { description: "导入结果", schema: ImportResult },
    errors: [409],
    handler: async (ctx, { body, files, principal }) => {
      const file = theFile(files);
      return importTree(ctx.deps.db.prisma, actorOf(ctx, principal), file.data, { skipInvalid: body.skipInvalid, filename: file.filename });
    },
  });
}
