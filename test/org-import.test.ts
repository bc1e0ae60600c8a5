// 组织架构 Excel 导入 through the HTTP API against real Postgres: the template (its example only on the instructions
// sheet, and never imported even when copied into the data sheet); a preview that plans every row (rows in any order,
// parents found within the file) and writes nothing; the import refused while a row is wrong, then done with
// skipInvalid: a town → villages → branches → party group tree with a 联合党委 spanning two villages and a 产业党支部
// under the town; the same file again changes nothing; a move by import; scope; bad files with their own codes.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
const HEADER = ["单位编码", "单位名称", "类型", "上级单位编码", "涵盖村（联合党委）", "备注"];
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
const tokens = {} as Record<"county" | "town1" | "town2", string>;
const call = apiCaller(() => api.url);

async function workbook(rows: unknown[][], header: string[] = HEADER): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("组织架构");
  if (header.length) ws.addRow(header);
  for (const r of rows) ws.addRow(r);
  return Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
}

const upload = (path: string, token: string, data: Buffer, form?: Record<string, string>) =>
  call(path, { token, form: form ?? {}, photos: [{ field: "file", data, name: "组织架构.xlsx", type: XLSX }] });
const preview = (token: string, data: Buffer) => upload("/api/org/import/preview", token, data);
const commit = (token: string, data: Buffer, skipInvalid?: boolean) => upload("/api/org/import", token, data, skipInvalid === undefined ? {} : { skipInvalid: String(skipInvalid) });
const unitCount = () => ctx.db.prisma.orgUnit.count();
const byCode = (code: string) => ctx.db.prisma.orgUnit.findUnique({ where: { code } });

beforeAll(async () => {
  ctx = await createTestContext("org-import", { redis: false });
  county = await smallCounty(ctx.db.prisma, "OI");
  const town2 = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "OIC-T2" } });
  Object.assign(
    tokens,
    await cadreTokens(ctx, "oi", [
      { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
      { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
      { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
    ]),
  );
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

/** A new town's whole tree, children listed before their parents on purpose, plus one bad row and its child. */
const townTree = () =>
  workbook([
    ["OIC-T3-V1-B-G1", "第一党小组", "党小组", "OIC-T3-V1-B", "", ""],
    ["OIC-T3-V1-B", "北山村党支部", "村党支部", "OIC-T3-V1", "", ""],
    ["OIC-T3-J1", "北山片区联合党委", "联合党委", "OIC-T3", "OIC-T3-V1、OIC-T3-V2", "跨村"],
    ["OIC-T3-V1", "北山村", "村", "OIC-T3", "", ""],
    ["OIC-T3-V2", "南坡社区", "社区", "OIC-T3", "", ""],
    ["OIC-T3-V2-B", "南坡社区党支部", "社区党支部", "OIC-T3-V2", "", ""],
    ["OIC-T3-CY1", "北山茶叶产业党支部", "产业党支部", "OIC-T3", "", "功能型"],
    ["OIC-T3-J1-B", "片区联合党支部", "联合党支部", "OIC-T3-J1", "", ""],
    ["OIC-T3", "北山镇", "镇", "OIC", "", ""],
    ["OIC-T3-V9", "无上级村", "村", "OIC-NOPE", "", ""],
    ["OIC-T3-V9-B", "无上级村党支部", "村党支部", "OIC-T3-V9", "", ""],
    ["OIC-T1", "东山镇", "乡镇", "", "", "已有，无变化"],
  ]);

describe("org tree import", () => {
  test("the template: the data sheet has only its header; the example lives on 填写说明; uploaded as it is, nothing is imported", async () => {
    const res = await call("/api/org/template.xlsx", { token: tokens.town1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain(XLSX);
    expect(res.headers.get("content-disposition")).toContain("org-template.xlsx");
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.bytes as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(["组织架构", "填写说明", "现有单位"]);
    const ws = wb.worksheets[0];
    expect((ws.getRow(1).values as unknown[]).slice(1)).toEqual(HEADER);
    expect(ws.actualRowCount).toBe(1);
    const help = wb.getWorksheet("填写说明")!;
    const helpText: string[] = [];
    help.eachRow((row) => helpText.push((row.values as unknown[]).slice(1).map(String).join("|")));
    expect(helpText.some((l) => l.startsWith("EXAMPLE-T01|东山镇|镇"))).toBe(true);
    expect(helpText.join("\n")).toMatch(/示例.*不会被导入/);
    // 现有单位: the caller's town and what is under it, no other town.
    const existing = wb.getWorksheet("现有单位")!;
    const codes: string[] = [];
    existing.eachRow((row, n) => n > 1 && codes.push(String(row.getCell(1).value)));
    expect(codes).toEqual(["OIC-T1", "OIC-T1-V1", "OIC-T1-V1-B"]);

    const before = await unitCount();
    expectError(await preview(tokens.town1, res.bytes), 400, "ORG_IMPORT_EMPTY");
    expect(await unitCount()).toBe(before);
  });

  test("the example copied into the data sheet is recognised and skipped, never imported", async () => {
    const before = await unitCount();
    const file = await workbook([
      ["EXAMPLE-T01", "东山镇", "镇", "（本县编码）", "", ""],
      ["EXAMPLE-T01-V01", "李家庄村", "村", "EXAMPLE-T01", "", ""],
      ["OIC-T1-V5", "新庄村", "村", "OIC-T1", "", ""],
    ]);
    const p = await preview(tokens.town1, file);
    expect(p.status).toBe(200);
    expect(p.json.skippedExamples).toEqual([2, 3]);
    expect(p.json.counts).toEqual({ total: 1, create: 1, update: 0, unchanged: 0, error: 0 });
    const r = await commit(tokens.town1, file);
    expect(r.json).toEqual({ total: 1, created: 1, updated: 0, unchanged: 0, skipped: 0 });
    expect(await unitCount()).toBe(before + 1);
    expect(await ctx.db.prisma.orgUnit.count({ where: { code: { startsWith: "EXAMPLE" } } })).toBe(0);
  });

  test("preview: every row planned (any order), the bad row and the row under it explained per column; nothing written", async () => {
    const before = await unitCount();
    const res = await preview(tokens.county, await townTree());
    expect(res.status).toBe(200);
    expect(res.json.counts).toEqual({ total: 12, create: 9, update: 0, unchanged: 1, error: 2 });
    const row = (code: string) => res.json.rows.find((r: { code: string }) => r.code === code);
    expect(row("OIC-T3")).toMatchObject({ row: 10, action: "create", kind: "TOWN", category: "镇", parentCode: "OIC", errors: [] });
    expect(row("OIC-T3-J1")).toMatchObject({ action: "create", kind: "VILLAGE", category: "联合党委", parentCode: "OIC-T3" });
    expect(row("OIC-T3-CY1")).toMatchObject({ action: "create", kind: "BRANCH", category: "产业党支部", parentCode: "OIC-T3" });
    expect(row("OIC-T3-V1-B-G1")).toMatchObject({ row: 2, action: "create", kind: "PARTY_GROUP" });
    expect(row("OIC-T1")).toMatchObject({ action: "unchanged", unitId: county.town1.id });
    const bad = row("OIC-T3-V9");
    expect(bad).toMatchObject({ action: "error" });
    expect(bad.errors).toEqual([{ column: "上级单位编码", message: expect.stringContaining("找不到上级单位“OIC-NOPE”") }]);
    const child = row("OIC-T3-V9-B");
    expect(child.errors[0]).toMatchObject({ column: "上级单位编码", message: expect.stringContaining("第 11 行") });
    expect(res.json.rows.map((r: { row: number }) => r.row)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    for (const r of res.json.rows) for (const e of r.errors) expect(e.message).toMatch(HAN);
    expect(await unitCount()).toBe(before);
  });

  test("import: refused as a whole while a row is wrong; with skipInvalid the tree is built, audited; the same file again changes nothing", async () => {
    const prisma = ctx.db.prisma;
    const before = await unitCount();
    const refused = expectError(await commit(tokens.county, await townTree()), 409, "ORG_IMPORT_HAS_ERRORS");
    expect(refused.counts).toMatchObject({ error: 2 });
    expect(await unitCount()).toBe(before);

    const done = await commit(tokens.county, await townTree(), true);
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ total: 12, created: 9, updated: 0, unchanged: 1, skipped: 2 });
    expect(await unitCount()).toBe(before + 9);

    const town = (await byCode("OIC-T3"))!;
    expect(town).toMatchObject({ kind: "TOWN", category: "镇", parentId: county.county.id, depth: 1, path: `${county.county.path}${town.id}/` });
    const v1 = (await byCode("OIC-T3-V1"))!;
    const b1 = (await byCode("OIC-T3-V1-B"))!;
    const g1 = (await byCode("OIC-T3-V1-B-G1"))!;
    expect([v1.parentId, b1.parentId, g1.parentId]).toEqual([town.id, v1.id, b1.id]);
    expect(g1).toMatchObject({ depth: 4, path: `${town.path}${v1.id}/${b1.id}/${g1.id}/` });
    const joint = (await byCode("OIC-T3-J1"))!;
    const spans = await prisma.orgSpan.findMany({ where: { jointId: joint.id }, select: { village: { select: { code: true } } } });
    expect(spans.map((s) => s.village.code).sort()).toEqual(["OIC-T3-V1", "OIC-T3-V2"]);
    expect(await byCode("OIC-T3-J1-B")).toMatchObject({ parentId: joint.id, category: "联合党支部" });
    expect(await byCode("OIC-T3-CY1")).toMatchObject({ parentId: town.id, kind: "BRANCH", category: "产业党支部" });
    expect(await byCode("OIC-T3-V9")).toBeNull();

    const log = await prisma.auditLog.findFirstOrThrow({ where: { action: "org.import" }, orderBy: { id: "desc" } });
    expect(log.detail).toMatchObject({ created: 9, skipped: 2, skipInvalid: true, skippedRows: [11, 12] });

    const again = await commit(tokens.county, await townTree(), true);
    expect(again.json).toEqual({ total: 12, created: 0, updated: 0, unchanged: 10, skipped: 2 });
    expect(await unitCount()).toBe(before + 9);
    const p = await preview(tokens.county, await townTree());
    expect(p.json.counts).toMatchObject({ create: 0, update: 0, unchanged: 10 });
  });

  test("updates by import: a rename, a move to another town (the subtree follows) and changed spans, each saying what changes", async () => {
    const prisma = ctx.db.prisma;
    // The 联合党委 lets go of 南坡社区 in the same file that moves 南坡社区 to 东山镇.
    const file = await workbook([
      ["OIC-T3-V2", "南坡社区", "社区", "OIC-T1", "", "划归东山镇"],
      ["OIC-T3-J1", "北山片区联合党委", "联合党委", "OIC-T3", "OIC-T3-V1", ""],
      ["OIC-T3-V1", "北山村（新）", "村/社区", "", "", ""],
    ]);
    const p = await preview(tokens.county, file);
    expect(p.json.rows.map((r: { code: string; action: string; changes: string[] }) => [r.code, r.action, r.changes])).toEqual([
      ["OIC-T3-V2", "update", ["上级单位"]],
      ["OIC-T3-J1", "update", ["涵盖村"]],
      ["OIC-T3-V1", "update", ["单位名称"]],
    ]);
    const r = await commit(tokens.county, file);
    expect(r.json).toMatchObject({ updated: 3, created: 0 });
    const v2 = (await byCode("OIC-T3-V2"))!;
    const b2 = (await byCode("OIC-T3-V2-B"))!;
    expect(v2).toMatchObject({ parentId: county.town1.id, path: `${county.town1.path}${v2.id}/` });
    expect(b2.path).toBe(`${county.town1.path}${v2.id}/${b2.id}/`);
    expect((await byCode("OIC-T3-V1"))!).toMatchObject({ name: "北山村（新）", category: "村" });
    const joint = (await byCode("OIC-T3-J1"))!;
    expect(await prisma.orgSpan.count({ where: { jointId: joint.id } })).toBe(1);
    // Moving a village the 联合党委 still spans is an error already in the preview, and nothing is written.
    const broken = await preview(tokens.county, await workbook([["OIC-T3-V1", "北山村（新）", "村", "OIC-T1", "", ""]]));
    expect(broken.json.rows[0]).toMatchObject({ action: "error", errors: [{ column: "上级单位编码", message: expect.stringContaining("北山片区联合党委") }] });
    expectError(await commit(tokens.county, await workbook([["OIC-T3-V1", "北山村（新）", "村", "OIC-T1", "", ""]])), 409, "ORG_IMPORT_HAS_ERRORS");
    expect((await byCode("OIC-T3-V1"))!.parentId).toBe((await byCode("OIC-T3"))!.id);
  });

  test("a party group with current members is not moved to another branch by import: an error row in the preview, nothing written; once emptied it moves", async () => {
    const prisma = ctx.db.prisma;
    const group = (await byCode("OIC-T3-V1-B-G1"))!;
    const branch = (await byCode("OIC-T3-V1-B"))!;
    const member = await prisma.member.create({ data: { name: "冯一", branchId: branch.id, partyGroupId: group.id, phone: "13300006666", gender: "MALE" } });
    const file = await workbook([["OIC-T3-V1-B-G1", "第一党小组", "党小组", "OIC-T3-CY1", "", "划到产业党支部"]]);

    const p = await preview(tokens.county, file);
    expect(p.json.rows[0]).toMatchObject({ action: "error", errors: [{ column: "上级单位编码", message: expect.stringContaining("1 名党员") }] });
    expectError(await commit(tokens.county, file), 409, "ORG_IMPORT_HAS_ERRORS");
    expect((await byCode("OIC-T3-V1-B-G1"))!.parentId).toBe(branch.id);
    expect(await prisma.member.findUniqueOrThrow({ where: { id: member.id } })).toMatchObject({ branchId: branch.id, partyGroupId: group.id });

    // Reassigned within the branch (不分党小组): the empty group moves.
    await prisma.member.update({ where: { id: member.id }, data: { partyGroupId: null } });
    expect((await commit(tokens.county, file)).json).toMatchObject({ updated: 1 });
    expect((await byCode("OIC-T3-V1-B-G1"))!.parentId).toBe((await byCode("OIC-T3-CY1"))!.id);
  });

  test("scope, kinds and cycles: rows outside the caller's town, kinds that do not fit and parent cycles are errors with reasons", async () => {
    const before = await unitCount();
    const res = await preview(
      tokens.town2,
      await workbook([
        ["OIC-T2-V5", "越界村", "村", "OIC-T1", "", ""],
        ["OIC-T1-V1", "李家庄村", "村", "OIC-T2", "", ""],
        ["OIC-T2-X1", "错层支部", "村党支部", "OIC-T2", "", ""],
        ["OIC-T2-C1", "甲", "村", "OIC-T2-C2", "", ""],
        ["OIC-T2-C2", "乙", "村", "OIC-T2-C1", "", ""],
        ["OIC-T2-J9", "联合党委", "联合党委", "OIC-T2", "OIC-T1-V1", ""],
        ["OIC-T2-V6", "新村", "怪类型", "OIC-T2", "", ""],
        ["OIC-T2-T9", "新镇", "镇", "OIC-T2", "", ""],
        ["OIC-T2-C3", "x", "村", "OIC-T2", "", ""],
        ["OIC-T2-C3", "重复", "村", "OIC-T2", "", ""],
      ]),
    );
    expect(res.status).toBe(200);
    const errs = res.json.rows.map((r: { row: number; action: string; errors: { column: string; message: string }[] }) => [r.row, r.action, r.errors.map((e) => e.column).join(",")]);
    expect(errs).toEqual([
      [2, "error", "上级单位编码"],
      [3, "error", "单位编码"],
      [4, "error", "上级单位编码"],
      [5, "error", "上级单位编码"],
      [6, "error", "上级单位编码"],
      [7, "error", "涵盖村（联合党委）"],
      [8, "error", "类型"],
      [9, "error", "上级单位编码"],
      [10, "create", ""],
      [11, "error", "单位编码"],
    ]);
    expect(res.json.rows[0].errors[0].message).toContain("不在您的管辖范围内");
    expect(res.json.rows[1].errors[0].message).toContain("管辖范围以外");
    expect(res.json.rows[3].errors[0].message).toContain("循环");
    expect(res.json.rows[9].errors[0].message).toContain("第 10 行");
    expect(await unitCount()).toBe(before);
  });

  test("bad files: missing, not xlsx, wrong header; and only town admins and above import", async () => {
    expectError(await call("/api/org/import/preview", { token: tokens.town1, form: { x: "1" } }), 400, "ORG_IMPORT_FILE_MISSING");
    expectError(await preview(tokens.town1, Buffer.from("单位编码,单位名称\nA,B\n")), 415, "ORG_IMPORT_FILE_INVALID");
    const h = expectError(await preview(tokens.town1, await workbook([["A", "B"]], ["单位编码", "名字"])), 400, "ORG_IMPORT_HEADER_INVALID");
    expect(h.message).toContain("单位名称");
    const sec = await cadreTokens(ctx, "oi2", [{ key: "sec", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id }]);
    expectError(await preview(sec.sec, await workbook([["X1", "x", "党小组", county.branch1.code, "", ""]])), 403, "FORBIDDEN");
  });
});
