// The member list and lifecycle through the HTTP API against real Postgres: search by name or phone tail, filters
// and pages within the caller's scope (phones masked); adding and editing members (a phone change audited with both
// numbers masked); 组织关系转接 by code, who may send and who may receive; 转正, 停止党籍 and back, with impossible
// dates refused in Chinese; a suspended secretary loses the secretary's power in chat; and a roster import that finds
// a member of another branch previews and applies a transfer, not a second person.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { chatPrincipal } from "../core/chat/principal.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
const units = {} as Record<"branch3" | "g1" | "g2", { id: number; code: string; path: string }>;
const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "sec2" | "member1", string>;
const call = apiCaller(() => api.url);
/** Today on the Shanghai calendar, and a day relative to it. */
const chinaDay = (offsetDays = 0) => new Date(Date.now() + 8 * 3600_000 + offsetDays * 86_400_000).toISOString().slice(0, 10);

async function unit(code: string, name: string, kind: "BRANCH" | "PARTY_GROUP", parent: { id: number; path: string }) {
  const prisma = ctx.db.prisma;
  const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent.id, path: "/", depth: parent.path.split("/").length - 2 } });
  return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent.path}${row.id}/` }, select: { id: true, code: true, path: true } });
}

beforeAll(async () => {
  ctx = await createTestContext("api-members", { redis: false });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AM");
  units.branch3 = await unit("AMC-T1-B3", "南岭村党支部", "BRANCH", county.town1);
  units.g1 = await unit("AMC-T1-V1-B-G1", "第一党小组", "PARTY_GROUP", county.branch1);
  units.g2 = await unit("AMC-T2-V1-B-G1", "河西第一党小组", "PARTY_GROUP", county.branch2);
  // 25 more members of 南岭村 for the pages, two of them already gone.
  await prisma.member.createMany({
    data: Array.from({ length: 25 }, (_, i) => ({ name: `南岭${String(i + 1).padStart(2, "0")}`, branchId: units.branch3.id, phone: `1510000${String(i).padStart(4, "0")}`, status: i < 2 ? ("DECEASED" as const) : ("ACTIVE" as const) })),
  });
  await linkWechat(prisma, "wx-am", "wx_lisi", "李四", county.members.lisi.id);
  Object.assign(
    tokens,
    await cadreTokens(ctx, "am", [
      { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
      { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
      { key: "town2", role: "TOWN_ADMIN", orgUnitId: (await prisma.orgUnit.findUniqueOrThrow({ where: { code: "AMC-T2" } })).id },
      { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
      { key: "sec2", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id },
      { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
    ]),
  );
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

function ok(res: Answer, status = 200) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status, error: undefined });
  return res.json;
}
const names = (page: any) => page.items.map((m: any) => m.name);

describe("the member list", () => {
  test("search by name or phone tail, filter by branch (with its subtree), status and linked, page through; phones masked; only the caller's scope", async () => {
    const all = ok(await call("/api/members?pageSize=100", { token: tokens.county }));
    expect(all.total).toBe(30);
    const zhang = all.items.find((m: any) => m.name === "张三");
    expect(zhang).toEqual({
      id: county.members.zhangsan.id,
      name: "张三",
      gender: "MALE",
      phone: "138****1234",
      branch: { id: county.branch1.id, code: county.branch1.code, name: "李家庄村党支部" },
      partyGroup: null,
      status: "ACTIVE",
      statusLabel: "正式党员",
      isSecretary: false,
      isCommittee: false,
      isGroupLeader: false,
      linked: false,
      joinedPartyOn: null,
      fullMemberOn: null,
    });
    expect(JSON.stringify(all)).not.toContain("13800001234");

    // A branch secretary sees their branch only.
    expect(names(ok(await call("/api/members", { token: tokens.sec1 }))).sort()).toEqual(["孙七", "张三", "李四", "王五"].sort());
    expect(ok(await call("/api/members?q=赵", { token: tokens.sec1 })).total).toBe(0);
    // Name substring, phone tail.
    expect(names(ok(await call(`/api/members?q=${encodeURIComponent("四")}`, { token: tokens.county })))).toEqual(["李四"]);
    expect(names(ok(await call("/api/members?q=1234", { token: tokens.county })))).toEqual(["张三"]);
    expect(names(ok(await call("/api/members?q=0003", { token: tokens.county })))).toEqual(["南岭04"]);
    // A town as the branch filter: the branches under it.
    const town1 = ok(await call(`/api/members?branchId=${county.town1.id}&pageSize=100`, { token: tokens.county }));
    expect(town1.total).toBe(29);
    expect(ok(await call(`/api/members?branchId=${county.branch2.id}`, { token: tokens.county })).items.map((m: any) => m.name)).toEqual(["赵六"]);
    // Status and linked.
    expect(names(ok(await call("/api/members?status=DECEASED", { token: tokens.county })))).toEqual(["南岭01", "南岭02"]);
    expect(names(ok(await call("/api/members?linked=true", { token: tokens.county })))).toEqual(["李四"]);
    expect(ok(await call("/api/members?linked=false", { token: tokens.county })).total).toBe(29);
    // Pages: 23 active 南岭 members, 10 a page, nobody twice, nobody lost.
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const p = ok(await call(`/api/members?branchId=${units.branch3.id}&status=ACTIVE&page=${page}&pageSize=10`, { token: tokens.town1 }));
      expect({ page: p.page, pageSize: p.pageSize, total: p.total }).toEqual({ page, pageSize: 10, total: 23 });
      seen.push(...names(p));
    }
    expect(new Set(seen).size).toBe(23);

    // Refusals: another town's branch, a member's login, bad filters.
    expectApiError(await call(`/api/members?branchId=${county.branch2.id}`, { token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectApiError(await call("/api/members", { token: tokens.member1 }), 403, "FORBIDDEN");
    expectApiError(await call("/api/members?status=DEAD", { token: tokens.county }), 400, "VALIDATION_FAILED");
    expectApiError(await call("/api/members"), 401, "TOKEN_MISSING");
  });

  test("one member: identities and history; out of scope 403, unknown 404", async () => {
    const d = ok(await call(`/api/members/${county.members.lisi.id}`, { token: tokens.sec1 }));
    expect(d).toMatchObject({ name: "李四", linked: true, identities: [{ channel: "WECHAT", displayName: "李四" }], history: [], rosterSince: null, birthYear: null });
    expectApiError(await call(`/api/members/${county.members.zhaoliu.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    expectApiError(await call("/api/members/999999", { token: tokens.county }), 404, "MEMBER_NOT_FOUND");
  });
});

describe("adding and editing", () => {
  test("a secretary adds a member to their branch; not to another branch, not twice, not someone on another branch's roster", async () => {
    const created = ok(
      await call("/api/members", { token: tokens.sec1, body: { name: "钱八", phone: "13912345678", gender: "FEMALE", branchId: county.branch1.id, partyGroupId: units.g1.id, joinedPartyOn: "2020-07-01", status: "PROBATIONARY" } }),
      201,
    );
    expect(created).toMatchObject({ name: "钱八", phone: "139****5678", partyGroup: { id: units.g1.id, name: "第一党小组" }, status: "PROBATIONARY", statusLabel: "预备党员", joinedPartyOn: "2020-07-01" });
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "member.create", targetId: String(created.id) } })).toBe(1);

    expectApiError(await call("/api/members", { token: tokens.sec1, body: { name: "钱九", branchId: county.branch2.id } }), 403, "OUT_OF_SCOPE");
    expectApiError(await call("/api/members", { token: tokens.sec1, body: { name: "钱八", phone: "13912345678", branchId: county.branch1.id } }), 409, "MEMBER_EXISTS");
    const elsewhere = expectApiError(await call("/api/members", { token: tokens.sec1, body: { name: "赵六", phone: "13500003333", branchId: county.branch1.id } }), 409, "MEMBER_EXISTS_ELSEWHERE");
    expect(elsewhere.message).toContain("组织关系转接");
    expectApiError(await call("/api/members", { token: tokens.sec1, body: { name: "钱九", phone: "1391234", branchId: county.branch1.id } }), 400, "PHONE_INVALID");
    expectApiError(await call("/api/members", { token: tokens.county, body: { name: "钱九", branchId: county.branch1.id, partyGroupId: units.g2.id } }), 400, "PARTY_GROUP_INVALID");
    expectApiError(await call("/api/members", { token: tokens.county, body: { name: "钱九", branchId: county.town1.id } }), 400, "NOT_A_BRANCH");
    expectApiError(await call("/api/members", { token: tokens.county, body: { name: "钱九", branchId: county.branch1.id, joinedPartyOn: "2021-02-29" } }), 400, "DATE_INVALID");
  });

  test("edit: a phone change is audited with both numbers masked; a party-group change keeps the old one in the history; the branch is not edited here", async () => {
    const id = county.members.sunqi.id;
    const edited = ok(await call(`/api/members/${id}`, { method: "PATCH", token: tokens.sec1, body: { phone: "186 0000 1111", birthYear: 1980, partyGroupId: units.g1.id } }));
    expect(edited).toMatchObject({ phone: "186****1111", birthYear: 1980, partyGroup: { id: units.g1.id } });
    expect(edited.history).toEqual([expect.objectContaining({ partyGroup: null, status: "ACTIVE", from: null, endedBy: "party_group" })]);
    expect((await ctx.db.prisma.member.findUniqueOrThrow({ where: { id } })).phone).toBe("18600001111");
    const log = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "member.update", targetId: String(id) }, orderBy: { id: "desc" } });
    expect(log.detail).toMatchObject({ changed: { phone: { from: "136****2222", to: "186****1111" }, birthYear: { from: null, to: 1980 } } });
    expect(JSON.stringify(log.detail)).not.toMatch(/13600002222|18600001111/);

    const moved = expectApiError(await call(`/api/members/${id}`, { method: "PATCH", token: tokens.sec1, body: { branchId: county.branch2.id } }), 400, "VALIDATION_FAILED");
    expect(JSON.stringify(moved)).toContain("组织关系转接");
    expectApiError(await call(`/api/members/${county.members.zhaoliu.id}`, { method: "PATCH", token: tokens.sec1, body: { phone: "13500004444" } }), 403, "OUT_OF_SCOPE");
  });
});

describe("组织关系转接", () => {
  test("by code within the town; a secretary cannot send outside their branch nor take in from another; a town admin receives from another town", async () => {
    const wangwu = county.members.wangwu.id; // the branch's secretary
    // A branch secretary's only branch is their own: nowhere to send to, nothing to take in.
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.sec1, body: { toBranch: units.branch3.code } }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.sec2, body: { toBranchId: county.branch2.id } }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: { toBranch: "AMC-NOPE" } }), 404, "UNIT_NOT_FOUND");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: { toBranch: county.branch1.code } }), 400, "TRANSFER_SAME_BRANCH");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code, partyGroupId: units.g1.id } }), 400, "PARTY_GROUP_INVALID");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: {} }), 400, "VALIDATION_FAILED");
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code, effectiveAt: new Date(Date.now() + 86_400_000).toISOString() } }), 400, "DATE_IN_FUTURE");

    const moved = ok(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code } }));
    expect(moved).toMatchObject({ branch: { id: units.branch3.id }, isSecretary: false, history: [{ branch: { id: county.branch1.id }, endedBy: "transfer" }] });
    // Now outside 李家庄's secretary's scope; the secretary post stayed behind.
    expectApiError(await call(`/api/members/${wangwu}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    // 西河乡's admin takes him in from 东山镇 (接收转入), and only into 西河乡.
    expectApiError(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town2, body: { toBranchId: county.branch1.id } }), 403, "OUT_OF_SCOPE");
    const received = ok(await call(`/api/members/${wangwu}/transfer`, { token: tokens.town2, body: { toBranch: "河西村党支部", partyGroupId: units.g2.id } }));
    expect(received).toMatchObject({ branch: { id: county.branch2.id }, partyGroup: { id: units.g2.id } });
    expect(received.history.map((h: any) => h.branch.id)).toEqual([units.branch3.id, county.branch1.id]);
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "member.transfer", targetId: String(wangwu) } })).toBe(2);
  });
});

describe("status", () => {
  test("转正 with a date; 停止党籍 and back; impossible, future and too-early dates refused; a suspended secretary is no secretary in chat", async () => {
    const probationer = ok(await call("/api/members", { token: tokens.sec2, body: { name: "周十", branchId: county.branch2.id, status: "PROBATIONARY", joinedPartyOn: "2025-06-01" } }), 201);
    const status = (id: number, token: string, body: unknown) => call(`/api/members/${id}/status`, { token, body });
    expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: "2026-13-01" }), 400, "DATE_INVALID");
    expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: "2026-4-1" }), 400, "VALIDATION_FAILED");
    expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: chinaDay(1) }), 400, "DATE_IN_FUTURE");
    expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: "2025-05-01" }), 400, "DATE_TOO_EARLY");
    // At most 90 days back: an older date would rewrite closed months' 应到 and 参会率; the message names the earliest day.
    const tooEarly = expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: chinaDay(-91) }), 400, "DATE_TOO_EARLY");
    expect(tooEarly.message).toContain(`最早可填 ${chinaDay(-90)}`);
    const full = ok(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: chinaDay(-30) }));
    expect(full).toMatchObject({ status: "ACTIVE", statusLabel: "正式党员", fullMemberOn: chinaDay(-30), history: [{ status: "PROBATIONARY", endedBy: "status" }] });
    // Nothing can be dated before the current state began.
    expectApiError(await status(probationer.id, tokens.sec2, { status: "SUSPENDED", effectiveOn: chinaDay(-40) }), 400, "DATE_BEFORE_CURRENT");
    expectApiError(await status(probationer.id, tokens.sec2, { status: "ACTIVE", effectiveOn: chinaDay() }), 400, "STATUS_UNCHANGED");

    // 赵六, 河西村's secretary, 停止党籍: the chat no longer treats him as a secretary, nor as a member of the branch.
    const zhaoliu = county.members.zhaoliu.id;
    const identity = await linkWechat(ctx.db.prisma, "wx-am", "wx_zhaoliu", "赵六", zhaoliu);
    expect((await chatPrincipal(ctx.db.prisma, identity)).role).toBe("BRANCH_SECRETARY");
    ok(await status(zhaoliu, tokens.sec2, { status: "SUSPENDED", effectiveOn: chinaDay(-3), reason: "停止党籍" }));
    expect(await chatPrincipal(ctx.db.prisma, identity)).toMatchObject({ role: null, orgPath: null, memberId: zhaoliu });
    // The secretary's console still lists him, as 停止党籍, and may restore him.
    expect(names(ok(await call("/api/members?status=SUSPENDED", { token: tokens.sec2 })))).toEqual(["赵六"]);
    const back = ok(await status(zhaoliu, tokens.sec2, { status: "ACTIVE", effectiveOn: chinaDay() }));
    expect(back.history.map((h: any) => h.status)).toEqual(["SUSPENDED", "ACTIVE"]);
    expect((await chatPrincipal(ctx.db.prisma, identity)).role).toBe("BRANCH_SECRETARY");
    const log = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "member.status", targetId: String(zhaoliu) }, orderBy: { id: "asc" } });
    expect(log.detail).toMatchObject({ from: "ACTIVE", to: "SUSPENDED", label: "停止党籍", reason: "停止党籍" });
  });
});

describe("roster import finds a member of another branch", () => {
  const HEADER = ["姓名", "性别", "手机号", "所属支部", "党小组", "出生年份", "入党日期", "党员类别", "职务"];
  async function workbook(rows: unknown[][]): Promise<Buffer> {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet("名单");
    ws.addRow(HEADER);
    for (const r of rows) ws.addRow(r);
    return Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
  }
  const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  const upload = (path: string, token: string, data: Buffer) => call(path, { token, form: {}, photos: [{ field: "file", data, name: "名单.xlsx", type: XLSX }] });

  test("the same name and phone in another branch is previewed as a transfer from → to and imported as one: no second person, the history kept", async () => {
    const prisma = ctx.db.prisma;
    const lisi = county.members.lisi; // 李家庄村, 13900005678
    const file = await workbook([[lisi.name, "", "13900005678", units.branch3.code, "", "", "", "", ""]]);
    // 李家庄's secretary cannot import into 南岭村 at all; 东山镇's admin can.
    const bySecretary = ok(await upload("/api/roster/import/preview", tokens.sec1, file));
    expect(bySecretary.rows[0].action).toBe("error");
    const p = ok(await upload("/api/roster/import/preview", tokens.town1, file));
    expect(p.counts).toEqual({ total: 1, create: 0, update: 0, transfer: 1, unchanged: 0, example: 0, error: 0 });
    expect(p.rows[0]).toMatchObject({
      action: "transfer",
      memberId: lisi.id,
      changes: ["支部"],
      transfer: { from: { id: county.branch1.id, name: "李家庄村党支部" }, to: { id: units.branch3.id, name: "南岭村党支部" } },
    });
    const before = await prisma.member.count();
    expect((await prisma.member.findUniqueOrThrow({ where: { id: lisi.id } })).branchId).toBe(county.branch1.id); // the preview wrote nothing

    const done = ok(await upload("/api/roster/import", tokens.town1, file));
    expect(done).toEqual({ total: 1, created: 0, updated: 0, transferred: 1, unchanged: 0, skipped: 0 });
    expect(await prisma.member.count()).toBe(before);
    const d = ok(await call(`/api/members/${lisi.id}`, { token: tokens.town1 }));
    expect(d).toMatchObject({ branch: { id: units.branch3.id }, linked: true, history: [{ branch: { id: county.branch1.id }, endedBy: "transfer" }] });
    expect(await prisma.auditLog.count({ where: { action: "member.transfer", targetId: String(lisi.id) } })).toBe(1);
    // The same file again: now unchanged.
    expect(ok(await upload("/api/roster/import/preview", tokens.town1, file)).rows[0]).toMatchObject({ action: "unchanged", memberId: lisi.id });

    // A secretary's file naming someone of another town: an error row that says who can do it.
    const other = await workbook([["赵六", "", "13500003333", county.branch1.code, "", "", "", "", ""]]);
    const refused = ok(await upload("/api/roster/import/preview", tokens.sec1, other));
    expect(refused.rows[0]).toMatchObject({ action: "error", errors: [{ column: "所属支部" }] });
    expect(refused.rows[0].errors[0].message).toContain("乡镇管理员");
  });
});

describe("receiving a member stays within the county", () => {
  test("东山镇's admin cannot take in a member of another county, neither in the console nor by a roster import; the member stays where they are", async () => {
    const prisma = ctx.db.prisma;
    // Another county with one branch and one member (a phone of its own, so the import can only mean them).
    const root = async (code: string, name: string, kind: "COUNTY" | "TOWN" | "VILLAGE" | "BRANCH", parent?: { id: number; path: string }) => {
      const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent?.id, path: "/", depth: parent ? parent.path.split("/").length - 2 : 0 } });
      return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent?.path ?? "/"}${row.id}/` } });
    };
    const other = await root("AMX", "邻县", "COUNTY");
    const town = await root("AMX-T1", "北坡镇", "TOWN", other);
    const village = await root("AMX-T1-V1", "北坡村", "VILLAGE", town);
    const branch = await root("AMX-T1-V1-B", "北坡村党支部", "BRANCH", village);
    const qian = await prisma.member.create({ data: { name: "郑十一", branchId: branch.id, phone: "13300007777", gender: "MALE" } });

    const refused = expectApiError(await call(`/api/members/${qian.id}/transfer`, { token: tokens.town1, body: { toBranchId: county.branch1.id } }), 403, "OUT_OF_SCOPE");
    expect(refused.message).toContain("北坡村党支部");
    expect(refused.message).toContain("县（区）");
    expect((await prisma.member.findUniqueOrThrow({ where: { id: qian.id } })).branchId).toBe(branch.id);

    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet("名单");
    ws.addRow(["姓名", "性别", "手机号", "所属支部", "党小组", "出生年份", "入党日期", "党员类别", "职务"]);
    ws.addRow(["郑十一", "", "13300007777", county.branch1.code, "", "", "", "", ""]);
    const file = Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
    const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    const upload = (path: string) => call(path, { token: tokens.town1, form: {}, photos: [{ field: "file", data: file, name: "名单.xlsx", type: XLSX }] });
    const preview = ok(await upload("/api/roster/import/preview"));
    expect(preview.rows[0]).toMatchObject({ action: "error", errors: [{ column: "所属支部" }] });
    expect(preview.rows[0].errors[0].message).toContain("县（区）");
    expectApiError(await upload("/api/roster/import"), 409, "ROSTER_HAS_ERRORS");
    expect((await prisma.member.findUniqueOrThrow({ where: { id: qian.id } })).branchId).toBe(branch.id);
    expect(await prisma.member.count({ where: { name: "郑十一" } })).toBe(1);
    expect(await prisma.auditLog.count({ where: { action: "member.transfer", targetId: String(qian.id) } })).toBe(0);
  });
});

describe("backdating a transfer", () => {
  test("a transfer dated more than 90 days ago (or in year 1) is refused with the earliest allowed date; 60 days ago is fine", async () => {
    const zhangsan = county.members.zhangsan.id;
    const at = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const ancient = expectApiError(await call(`/api/members/${zhangsan}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code, effectiveAt: "0001-01-01T00:00:00+08:00" } }), 400, "DATE_TOO_EARLY");
    expect(ancient.message).toContain(`最早可填 ${chinaDay(-90)}`);
    expectApiError(await call(`/api/members/${zhangsan}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code, effectiveAt: at(92) } }), 400, "DATE_TOO_EARLY");
    expect((await ctx.db.prisma.member.findUniqueOrThrow({ where: { id: zhangsan } })).branchId).toBe(county.branch1.id);
    const moved = ok(await call(`/api/members/${zhangsan}/transfer`, { token: tokens.town1, body: { toBranch: units.branch3.code, effectiveAt: at(60) } }));
    expect(moved).toMatchObject({ branch: { id: units.branch3.id }, history: [{ branch: { id: county.branch1.id }, endedBy: "transfer" }] });
  });
});

describe("leaving the roster ends a linked console login", () => {
  test("停止党籍 disables the member's console account (token refused, no admin powers in chat), audited; restoring the member does not re-enable it", async () => {
    const prisma = ctx.db.prisma;
    const wu = await prisma.member.create({ data: { name: "吴九", branchId: county.branch1.id, phone: "13300008888", gender: "MALE" } });
    const { wu: token } = await cadreTokens(ctx, "am-linked", [{ key: "wu", role: "TOWN_ADMIN", orgUnitId: county.town1.id }]);
    const cadre = await prisma.cadreUser.update({ where: { username: "am-linked-wu" }, data: { memberId: wu.id } });
    ok(await call("/api/members?pageSize=1", { token }));
    const identity = await linkWechat(prisma, "wx-am", "wx_wujiu", "吴九", wu.id);
    expect((await chatPrincipal(prisma, identity)).role).toBe("TOWN_ADMIN");

    ok(await call(`/api/members/${wu.id}/status`, { token: tokens.town1, body: { status: "SUSPENDED", effectiveOn: chinaDay(-1), reason: "停止党籍" } }));
    const after = await prisma.cadreUser.findUniqueOrThrow({ where: { id: cadre.id } });
    expect({ active: after.active, disabled: after.disabledAt !== null, tokenVersion: after.tokenVersion }).toEqual({ active: false, disabled: true, tokenVersion: cadre.tokenVersion + 1 });
    expect((await call("/api/members?pageSize=1", { token })).status).toBe(401);
    expect(await chatPrincipal(prisma, identity)).toMatchObject({ role: null, cadreUserId: null, memberId: wu.id });
    const log = await prisma.auditLog.findFirstOrThrow({ where: { action: "cadre.disabled", targetType: "CadreUser", targetId: String(cadre.id) } });
    expect(log.detail).toMatchObject({ reason: "member_left_roster", memberId: wu.id });

    // Back on the roster: a member again in chat, but the console account stays off until an admin enables it.
    ok(await call(`/api/members/${wu.id}/status`, { token: tokens.town1, body: { status: "ACTIVE", effectiveOn: chinaDay() } }));
    expect((await prisma.cadreUser.findUniqueOrThrow({ where: { id: cadre.id } })).active).toBe(false);
    expect((await chatPrincipal(prisma, identity)).role).toBe("MEMBER");
  });
});
