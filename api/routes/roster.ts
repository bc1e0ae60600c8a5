// 党员名单 Excel 导入 for the console: the template, a preview that writes nothing, and the import itself. The rules
// (columns, matching, what counts as an error) live in core/org/roster-import.ts; these routes parse HTTP and answer.
import { z } from "zod";
import { XLSX_CONTENT_TYPE } from "../../core/meetings/export.ts";
import { importRoster, MAX_ROWS, previewRosterImport, rosterFileMissing, rosterTemplate } from "../../core/org/roster-import.ts";
import { rolesAtLeast } from "../../core/org/scope.ts";
import type { UploadedFile } from "../middleware/multipart.ts";
import { importForm, xlsxUpload } from "../schemas.ts";
import { fileResponse, type ApiRouter } from "../validate.ts";

const SECRETARY = { roles: rolesAtLeast("BRANCH_SECRETARY") };

const ROSTER_UPLOAD = xlsxUpload("党员名单", MAX_ROWS);

const ImportForm = importForm("RosterImportForm", "true：跳过有误的行，导入其余的行；默认 false（有误时整份不导入，409 ROSTER_HAS_ERRORS）");

const RowIssueSchema = z.object({ column: z.string().meta({ example: "手机号" }), message: z.string().meta({ example: "手机号“1380000”有误，请填写 11 位大陆手机号（如 13800001234），不知道可留空。" }) });
const RowSchema = z
  .object({
    row: z.number().int().meta({ description: "Excel 中的行号" }),
    name: z.string(),
    branch: z.object({ id: z.number().int(), name: z.string() }).nullable().meta({ description: "识别出的支部；无法识别或不在管辖范围内时为 null" }),
    action: z
      .enum(["create", "update", "transfer", "unchanged", "example", "error"])
      .meta({ description: "create 新增 · update 更新 · transfer 组织关系转入（其他支部的同名同手机号党员）· unchanged 无变化 · example 模板示例行（不导入）· error 有误（不导入）" }),
    memberId: z.number().int().nullable().meta({ description: "将被更新、转入（或无变化）的党员" }),
    errors: z.array(RowIssueSchema),
    changes: z.array(z.string()).meta({ description: "更新或转入时变化的项：支部、性别、手机号、党小组、出生年份、入党日期、党员类别、职务" }),
    transfer: z
      .object({ from: z.object({ id: z.number().int(), code: z.string(), name: z.string() }), to: z.object({ id: z.number().int(), code: z.string(), name: z.string() }) })
      .nullable()
      .meta({ description: "转入时：党员现在的支部 → 名单上的支部" }),
    note: z.string().nullable().meta({ description: "不导入的原因（如模板示例行）" }),
  })
  .meta({ id: "RosterImportRow" });
const CountsSchema = z
  .object({
    total: z.number().int(),
    create: z.number().int(),
    update: z.number().int(),
    transfer: z.number().int(),
    unchanged: z.number().int(),
    example: z.number().int(),
    error: z.number().int(),
  })
  .meta({ id: "RosterImportCounts" });
const PreviewSchema = z
  .object({
    sheet: z.string().meta({ description: "读取的工作表" }),
    ignoredColumns: z.array(z.string()).meta({ description: "无法识别、未读取的列" }),
    counts: CountsSchema,
    rows: z.array(RowSchema),
  })
  .meta({ id: "RosterImportPreview" });
const ResultSchema = z
  .object({
    total: z.number().int(),
    created: z.number().int(),
    updated: z.number().int(),
    transferred: z.number().int().meta({ description: "组织关系转入的党员（原支部的记录保留，之前的会议仍按原支部计应到）" }),
    unchanged: z.number().int(),
    skipped: z.number().int().meta({ description: "有误而跳过的行，以及模板示例行" }),
  })
  .meta({ id: "RosterImportResult" });

const FILE_ERRORS =
  "400 ROSTER_FILE_MISSING（未选择文件）、ROSTER_FILE_INVALID（文件损坏或为空）、ROSTER_HEADER_INVALID（缺少必填列 姓名、所属支部，或列重复）、ROSTER_EMPTY（没有数据行）、" +
  `ROSTER_TOO_LARGE（超过 ${MAX_ROWS} 行）；413 FILE_TOO_LARGE；415 ROSTER_FILE_INVALID（不是 .xlsx，按文件内容判断）。`;

function theFile(files: UploadedFile[]): UploadedFile {
  const f = files[0];
  if (!f) throw rosterFileMissing();
  return f;
}

export function registerRosterRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/roster/template.xlsx",
    summary: "党员名单导入模板 / roster import template",
    description:
      "Excel 模板：“党员名单”表（表头和一行示例，示例的支部为本人管辖范围内的第一个支部）、“填写说明”表，以及“支部编码”表（管辖范围内的党支部及其党小组）。" +
      "列：姓名（必填）、性别、手机号、所属支部（必填，编码或全称）、党小组、出生年份、入党日期、党员类别、职务。支部书记及以上。",
    tags: ["roster"],
    auth: SECRETARY,
    response: { description: "Excel 文件", schema: fileResponse(XLSX_CONTENT_TYPE) },
    handler: async (ctx, { principal }) => ({
      body: await rosterTemplate(ctx.deps.db.prisma, principal),
      filename: "党员名单导入模板.xlsx",
      asciiFilename: "roster-template.xlsx",
    }),
  });

  api.route({
    method: "post",
    path: "/api/roster/import/preview",
    summary: "名单导入预览 / preview a roster import",
    description:
      "上传名单（multipart/form-data，文件放在 file 中），逐行检查并说明导入后会怎样：新增、更新（附变化的项）、无变化或有误（附每列的错误原因），不写入任何数据。" +
      "已有党员的判断：同一支部、同名，且手机号相同，或一方未填手机号且该支部只有一名同名党员；同名而手机号与名单上的都不同的行记为有误（是同一人还是同名的另一人，须由填表人说明）。文件中重复的行，后一行记为有误。" +
      "本支部没有而其他支部有同名同手机号的党员：记为组织关系转入（transfer，附原支部 → 新支部），导入时转接而不是新增；从管辖范围外转入须乡镇管理员及以上。模板中的示例行原样上传时记为 example，不导入。" +
      `所属支部不在本人管辖范围内的行记为有误。${FILE_ERRORS} 支部书记及以上。`,
    tags: ["roster"],
    auth: SECRETARY,
    upload: ROSTER_UPLOAD,
    response: { description: "预览", schema: PreviewSchema },
    handler: async (ctx, { files, principal }) => previewRosterImport(ctx.deps.db.prisma, principal, theFile(files).data),
  });

  api.route({
    method: "post",
    path: "/api/roster/import",
    summary: "导入党员名单 / import the roster",
    description:
      "与预览相同的检查后，在一个事务中新增和更新党员，并记入审计日志。有误的行：skipInvalid 不为 true 时 409 ROSTER_HAS_ERRORS，整份不导入（错误详情中附 counts 和有误的行 rows）；" +
      `为 true 时跳过这些行（skipped），导入其余的行。同一文件再次导入时全部为无变化（unchanged）。${FILE_ERRORS} 支部书记及以上。`,
    tags: ["roster"],
    auth: SECRETARY,
    body: ImportForm,
    upload: ROSTER_UPLOAD,
    response: { description: "导入结果", schema: ResultSchema },
    errors: [409],
    handler: async (ctx, { body, files, principal }) => {
      const file = theFile(files);
      return importRoster(
        ctx.deps.db.prisma,
        { role: principal.role, orgPath: principal.orgPath, cadreUserId: principal.id, channel: "api", requestId: ctx.state.requestId },
        file.data,
        { skipInvalid: body.skipInvalid, filename: file.filename },
      );
    },
  });
}
