// 党员名单 Excel 导入 through the HTTP API against real Postgres: the template read back and uploaded as it is; a
// preview that shows exactly the bad row and writes nothing; the import refused while a row is wrong, then done
// with skipInvalid; the same file again changes nothing; updates say what changed; a town admin cannot import into
// another town; bad headers, empty sheets and files that are not .xlsx are refused with their own codes.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
const HEADER = ["姓名", "性别", "手机号", "所属支部", "党小组", "出生年份", "入党日期", "党员类别", "职务"];

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let groupId: number;
const tokens = {} as Record<"county" | "town1" | "sec1" | "member1", string>;
const call = apiCaller(() => api.url);


/** An .xlsx with these rows under `header` on the first sheet. */
async function workbook(rows: unknown[][], header: string[] = HEADER): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("名单");
  if (header.length) ws.addRow(header);
  for (const r of rows) ws.addRow(r);
  return Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
}

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const upload = (path: string, token: string, data: Buffer, form?: Record<string, string>) =>
  call(path, { token, form: form ?? {}, photos: [{ field: "file", data, name: "名单.xlsx", type: XLSX }] });
const preview = (token: string, data: Buffer) => upload("/api/roster/import/preview", token, data);
const commit = (token: string, data: Buffer, skipInvalid?: boolean) => upload("/api/roster/import", token, data, skipInvalid === undefined ? {} : { skipInvalid: String(skipInvalid) });

const memberCount = () => ctx.db.prisma.member.count();

beforeAll(async () => {
  ctx = await createTestContext("roster-import", { redis: false });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "RI");
  const g = await prisma.orgUnit.create({ data: { code: "RIC-T1-V1-B-G1", name: "第一党小组", kind: "PARTY_GROUP", parentId: county.branch1.id, path: "/", depth: 4 } });
  groupId = (await prisma.orgUnit.update({ where: { id: g.id }, data: { path: `${county.branch1.path}${g.id}/` } })).id;
  Object.assign(tokens, await cadreTokens(ctx, "ri", [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ]));
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

describe("roster import", () => {
  test("the template: three sheets, the header and an example row in the caller's branch; uploaded as it is, the example row is recognised and never imported (not even onto 张三, who is on file with the example's phone)", async () => {
    const res = await call("/api/roster/template.xlsx", { token: tokens.sec1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain(XLSX);
    expect(res.headers.get("content-disposition")).toContain("roster-template.xlsx");
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.bytes as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(["党员名单", "填写说明", "支部编码"]);
    const ws = wb.worksheets[0];
    expect((ws.getRow(1).values as unknown[]).slice(1)).toEqual(HEADER);
    expect(ws.getCell(2, 1).value).toBe("张三");
    expect(ws.getCell(2, 4).value).toBe(county.branch1.code);
    expect(ws.getCell(2, 5).value).toBe("第一党小组");
    // 支部编码 lists only the branches in scope.
    const codes = wb.getWorksheet("支部编码")!;
    expect(codes.getCell(2, 1).value).toBe(county.branch1.code);
    expect(codes.rowCount).toBe(2);
    expect(String(wb.getWorksheet("填写说明")!.getCell(2, 3).value)).toMatch(HAN);

    const before = await memberCount();
    const p = await preview(tokens.sec1, res.bytes);
    expect(p.status).toBe(200);
    // 张三 is on file in this branch with 13800001234, the example's phone: the example row is still not him.
    expect(p.json.counts).toEqual({ total: 1, create: 0, update: 0, transfer: 0, unchanged: 0, example: 1, error: 0 });
    expect(p.json.rows[0]).toMatchObject({ row: 2, name: "张三", branch: { id: county.branch1.id, name: "李家庄村党支部" }, action: "example", memberId: null, errors: [], changes: [] });
    expect(p.json.rows[0].note).toMatch(/示例行，不会导入/);
    // Importing the template as it is writes no one and changes no one.
    const done = await commit(tokens.sec1, res.bytes, false);
    expect(done.json).toEqual({ total: 1, created: 0, updated: 0, transferred: 0, unchanged: 0, skipped: 1 });
    expect(await memberCount()).toBe(before);
    const zhang = await ctx.db.prisma.member.findUniqueOrThrow({ where: { id: county.members.zhangsan.id } });
    expect(zhang.birthYear).toBeNull();
    expect(zhang.partyGroupId).toBeNull();
  });

  const goodAndBad = () =>
    workbook([
      ["钱一", "男", "13811112222", county.branch1.code, "第一党小组", 1970, new Date(Date.UTC(1995, 6, 1)), "正式党员", "委员"],
      ["钱二", "女", "1381111", county.branch1.name, "", "", "", "", ""],
      ["钱三", "", "", "李家庄村党支部", "", "1988年", "2012/7/1", "预备党员", ""],
      ["孙七", "", "", county.branch1.code, "", "", "2001-07-01", "", "书记、党小组长"],
      ["", "", "", "", "", "", "", "", ""],
      ["李四", "", "13900005678", county.branch1.code, "", "", "", "", ""],
    ]);

  test("preview: exactly the bad row is reported, with its column and a Chinese reason; nothing is written", async () => {
    const before = await memberCount();
    const res = await preview(tokens.sec1, await goodAndBad());
    expect(res.status).toBe(200);
    expect(res.json.counts).toEqual({ total: 5, create: 2, update: 1, transfer: 0, unchanged: 1, example: 0, error: 1 });
    const byName = Object.fromEntries(res.json.rows.map((r: { name: string }) => [r.name, r]));
    expect(byName["钱二"]).toMatchObject({ row: 3, action: "error", branch: { id: county.branch1.id } });
    expect(byName["钱二"].errors).toHaveLength(1);
    expect(byName["钱二"].errors[0].column).toBe("手机号");
    expect(byName["钱二"].errors[0].message).toMatch(/11 位/);
    expect(byName["钱一"]).toMatchObject({ row: 2, action: "create", errors: [] });
    expect(byName["钱三"]).toMatchObject({ row: 4, action: "create" });
    expect(byName["孙七"]).toMatchObject({ row: 5, action: "update", memberId: county.members.sunqi.id, changes: ["入党日期", "职务"] });
    expect(byName["李四"]).toMatchObject({ row: 7, action: "unchanged", memberId: county.members.lisi.id, changes: [] });
    expect(res.json.rows.map((r: { row: number }) => r.row)).toEqual([2, 3, 4, 5, 7]);
    expect(await memberCount()).toBe(before);
  });

  test("import: refused with 409 and the error rows while a row is wrong; with skipInvalid the rest is written in one go, audited; again: all unchanged", async () => {
    const file = await goodAndBad();
    const before = await memberCount();
    const refused = expectError(await commit(tokens.sec1, file), 409, "ROSTER_HAS_ERRORS");
    expect(refused.counts).toMatchObject({ total: 5, error: 1 });
    expect((refused.rows as { row: number }[]).map((r: { row: number }) => r.row)).toEqual([3]);
    expectError(await commit(tokens.sec1, file, false), 409, "ROSTER_HAS_ERRORS");
    expect(await memberCount()).toBe(before);

    const done = await commit(tokens.sec1, file, true);
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ total: 5, created: 2, updated: 1, transferred: 0, unchanged: 1, skipped: 1 });
    expect(await memberCount()).toBe(before + 2);
    const prisma = ctx.db.prisma;
    const qian1 = await prisma.member.findFirstOrThrow({ where: { name: "钱一" } });
    expect(qian1).toMatchObject({ branchId: county.branch1.id, partyGroupId: groupId, phone: "13811112222", gender: "MALE", birthYear: 1970, status: "ACTIVE", isCommittee: true, isSecretary: false });
    expect(qian1.joinedPartyOn?.toISOString().slice(0, 10)).toBe("1995-07-01");
    const qian3 = await prisma.member.findFirstOrThrow({ where: { name: "钱三" } });
    expect(qian3).toMatchObject({ phone: null, gender: "UNKNOWN", birthYear: 1988, status: "PROBATIONARY" });
    expect(qian3.joinedPartyOn?.toISOString().slice(0, 10)).toBe("2012-07-01");
    expect(await prisma.member.findFirst({ where: { name: "钱二" } })).toBeNull();
    const sun = await prisma.member.findUniqueOrThrow({ where: { id: county.members.sunqi.id } });
    expect(sun).toMatchObject({ isSecretary: true, isGroupLeader: true, isCommittee: false, phone: "13600002222" });
    const log = await prisma.auditLog.findFirstOrThrow({ where: { action: "roster.import" }, orderBy: { id: "desc" } });
    expect(log).toMatchObject({ channel: "api", targetType: "OrgUnit", targetId: String(county.branch1.id) });
    expect(log.detail).toMatchObject({ created: 2, updated: 1, unchanged: 1, skipped: 1, skippedRows: [3] });

    const again = await commit(tokens.sec1, file, true);
    expect(again.json).toEqual({ total: 5, created: 0, updated: 0, transferred: 0, unchanged: 4, skipped: 1 });
    expect(await memberCount()).toBe(before + 2);
    const p = await preview(tokens.sec1, file);
    expect(p.json.counts).toEqual({ total: 5, create: 0, update: 0, transfer: 0, unchanged: 4, example: 0, error: 1 });
  });

  test("updates: matched by name and phone, or by name when one side has no phone; the same name with another phone is not guessed; the changes are named", async () => {
    const file = await workbook([
      ["钱一", "", "13811112222", county.branch1.code, "", 1971, "", "预备党员", "无"], // birth year, category, posts
      ["钱三", "", "13833334444", county.branch1.code, "", "", "", "", ""], // adds a phone (none on file)
      ["张三", "", "13899990000", county.branch1.code, "", "", "", "", ""], // 张三 is on file with another phone
      ["赵六", "男", "13500003333", county.branch2.code, "", "", "", "", ""], // county admin only
    ]);
    const res = await preview(tokens.county, file);
    expect(res.json.counts).toEqual({ total: 4, create: 0, update: 2, transfer: 0, unchanged: 1, example: 0, error: 1 });
    expect(res.json.rows.map((r: { action: string; changes: string[] }) => [r.action, r.changes])).toEqual([
      ["update", ["出生年份", "党员类别", "职务"]],
      ["update", ["手机号"]],
      ["error", []],
      ["unchanged", []],
    ]);
    // Neither a silent second 张三 nor an overwritten number: the row says what to do, with the number on file masked.
    expect(res.json.rows[2].errors).toEqual([{ column: "手机号", message: expect.stringMatching(/138\*{4}1234.*同一人.*加注区分/) }]);
    const done = await commit(tokens.county, file, true);
    expect(done.json).toEqual({ total: 4, created: 0, updated: 2, transferred: 0, unchanged: 1, skipped: 1 });
    expect(await ctx.db.prisma.member.findFirstOrThrow({ where: { name: "钱一" } })).toMatchObject({ birthYear: 1971, status: "PROBATIONARY", isCommittee: false, partyGroupId: groupId });
    expect(await ctx.db.prisma.member.findFirstOrThrow({ where: { name: "张三", branchId: county.branch1.id } })).toMatchObject({ phone: "13800001234" });

    // Two 张三 on file (from before the import): a row without a phone cannot tell them apart.
    await ctx.db.prisma.member.create({ data: { name: "张三", branchId: county.branch1.id, phone: "13899990000" } });
    const ambiguous = await preview(tokens.county, await workbook([["张三", "", "", county.branch1.code]]));
    expect(ambiguous.json.rows[0]).toMatchObject({ action: "error", errors: [{ column: "手机号" }] });
    expect(ambiguous.json.rows[0].errors[0].message).toMatch(/2 名/);
  });

  test("row errors: out of scope for a town admin, unknown branch, a village is not a branch, unknown party group, bad cells, duplicates in the file", async () => {
    const file = await workbook([
      ["周一", "男", "13700000001", county.branch2.code], // 西河乡: not town1's
      ["周二", "", "", "不存在的支部"],
      ["周三", "", "", "RIC-T1-V1"], // the village
      ["周四", "", "", county.branch1.code, "第九党小组"],
      ["周五", "未知", "", county.branch1.code, "", "1850", "2030-01-01", "群众", "主任"],
      ["周六", "", "13700000006", county.branch1.code],
      ["周六", "", "", county.branch1.code], // same person again
      ["", "", "", county.branch1.code],
    ]);
    const before = await memberCount();
    const res = await preview(tokens.town1, file);
    expect(res.status).toBe(200);
    expect(res.json.counts).toEqual({ total: 8, create: 1, update: 0, transfer: 0, unchanged: 0, example: 0, error: 7 });
    const rows = res.json.rows as { row: number; action: string; branch: unknown; errors: { column: string; message: string }[] }[];
    expect(rows[0]).toMatchObject({ action: "error", branch: null, errors: [{ column: "所属支部" }] });
    expect(rows[0].errors[0].message).toContain("不在您的管辖范围内");
    expect(rows[1].errors[0].message).toContain("找不到支部");
    expect(rows[2].errors[0].message).toContain("不是党支部");
    expect(rows[3].errors).toEqual([{ column: "党小组", message: expect.stringContaining("第九党小组") }]);
    expect(rows[4].errors.map((e) => e.column)).toEqual(["性别", "出生年份", "入党日期", "党员类别", "职务"]);
    expect(rows[5].action).toBe("create");
    expect(rows[6].errors).toEqual([{ column: "姓名", message: expect.stringContaining("第 7 行") }]);
    expect(rows[7].errors[0]).toMatchObject({ column: "姓名", message: "姓名不能为空。" });
    for (const r of rows) for (const e of r.errors) expect(e.message).toMatch(HAN);

    // Skipping the errors writes only 周六, never the out-of-scope row.
    expect((await commit(tokens.town1, file, true)).json).toEqual({ total: 8, created: 1, updated: 0, transferred: 0, unchanged: 0, skipped: 7 });
    expect(await memberCount()).toBe(before + 1);
    expect(await ctx.db.prisma.member.findFirst({ where: { name: "周一" } })).toBeNull();
  });

  test("files: bad header, empty sheet, too many rows, not an .xlsx (by its bytes), no file; members and anonymous callers are refused", async () => {
    const header = expectError(await preview(tokens.sec1, await workbook([["张三", "13800001234"]], ["姓名", "手机号"])), 400, "ROSTER_HEADER_INVALID");
    expect(header.missing).toEqual(["所属支部"]);
    expect(header.message).toContain("所属支部");
    expectError(await preview(tokens.sec1, await workbook([["张三", county.branch1.code]], ["名字", "支部编号"])), 400, "ROSTER_HEADER_INVALID");
    expectError(await commit(tokens.sec1, await workbook([["张三", county.branch1.code]], ["姓名", "姓名", "所属支部"]), true), 400, "ROSTER_HEADER_INVALID");
    expectError(await preview(tokens.sec1, await workbook([], [])), 400, "ROSTER_EMPTY");
    expectError(await preview(tokens.sec1, await workbook([])), 400, "ROSTER_EMPTY");
    const big = await workbook(Array.from({ length: 5001 }, (_, i) => [`党员${i}`, "", "", county.branch1.code]));
    expect(expectError(await preview(tokens.sec1, big), 400, "ROSTER_TOO_LARGE").maxRows).toBe(5000);

    expectError(await preview(tokens.sec1, Buffer.from("姓名,所属支部\n张三,RIC-T1-V1-B\n")), 415, "ROSTER_FILE_INVALID");
    expectError(await preview(tokens.sec1, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0, 0, 0])), 415, "ROSTER_FILE_INVALID");
    expectError(await preview(tokens.sec1, Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6])), 400, "ROSTER_FILE_UNREADABLE");
    expectError(await call("/api/roster/import/preview", { token: tokens.sec1, form: { skipInvalid: "true" } }), 400, "ROSTER_FILE_MISSING");
    expectError(await call("/api/roster/import", { token: tokens.sec1, body: {} }), 400, "ROSTER_FILE_MISSING");

    expectError(await preview(tokens.member1, await workbook([["张三", county.branch1.code]])), 403, "FORBIDDEN");
    expectError(await call("/api/roster/template.xlsx"), 401, "TOKEN_MISSING");
  });
});
