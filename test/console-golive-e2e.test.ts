// The console pages for going live, end to end: the built page served by the API at /console/, driven in Debian's
// Chromium through playwright-core against real Postgres and Redis. What a county operator must be able to rely on,
// asserted against the database and the API (not only the page): a one-time password is changed before anything else
// (and any time later from the top bar); towns, villages and branches are created, renamed, imported from Excel (a bad
// row shown before anything is written) and moved, and a non-empty unit is not deactivated; a 绑定码 is shown with what
// to say in the group, and who sends it is chosen when the branch has no single secretary; a town admin's one-time
// password is shown once, works, is reset, and that admin sees only their town; a member found by phone tail is
// transferred (history kept), one is made full (转正), one is added and their phone corrected. Screenshots go to
// test-results/console/.
import { execFileSync } from "node:child_process";
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startApi, type RunningApi } from "../api/app.ts";
import { hashPassword } from "../core/auth/password.ts";
import { launchChromium, screenshot } from "./support/browser.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller } from "./support/http.ts";

const ONE_TIME = "Kx7-temp-2026";
const CHOSEN = "Lujiang#2026go";
let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let browser: Browser;
const contexts: BrowserContext[] = [];
const call = apiCaller(() => api.url);
const created: { townId?: number; branchId?: number; townOtp?: string } = {};

const shanghaiDay = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
const text = async (page: Page, selector: string) => (await page.locator(selector).first().innerText()).trim();

async function openConsole(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
  await page.goto(`${api.url}/console/`);
  return page;
}

async function signIn(page: Page, username: string, password: string) {
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
}

/** The county administrator, signed in with the password chosen in the first test. */
async function admin(hash = "#/dashboard", viewport?: { width: number; height: number }) {
  const page = await openConsole(viewport);
  await signIn(page, "gl_admin", CHOSEN);
  await page.waitForSelector("[data-testid=who]");
  await page.goto(`${api.url}/console/${hash}`);
  return page;
}

beforeAll(async () => {
  // The test reads the console as built from the current sources.
  execFileSync(process.execPath, ["web/build.mjs"], { stdio: "pipe" });
  ctx = await createTestContext("console-golive");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "GL");
  // 孙七 is a probationary member (预备党员) since 2025, to be made full (转正).
  await prisma.member.update({ where: { id: county.members.sunqi.id }, data: { status: "PROBATIONARY", joinedPartyOn: new Date("2025-06-01T00:00:00Z") } });
  // As `npm run setup` leaves it: the first administrator with a one-time password.
  await prisma.cadreUser.create({
    data: { username: "gl_admin", displayName: "县委组织部 周明", role: "COUNTY_ADMIN", orgUnitId: county.county.id, passwordHash: await hashPassword(ONE_TIME), mustChangePassword: true },
  });
  // A branch group the bot lost after a WeChat re-login.
  await prisma.chatGroup.create({
    data: { channel: "WECHAT", platformGroupId: "@@lost-room", topic: "李家庄村党员群", kind: "BRANCH", orgUnitId: county.branch1.id, boundAt: new Date(), lostAt: new Date() },
  });
  api = await startApi(ctx);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await api?.close();
  await ctx?.close();
});

describe("console pages for going live, in Chromium", () => {
  test("the first login with a one-time password shows only the password form until it is changed", async () => {
    const page = await openConsole();
    await signIn(page, "gl_admin", ONE_TIME);
    await page.waitForSelector("[data-testid=first-password]");
    expect(await page.locator("nav.sidebar").count()).toBe(0); // nothing else of the console
    // The API holds every other route until then.
    const token = (await call("/api/auth/login", { body: { username: "gl_admin", password: ONE_TIME } })).json.accessToken;
    expect((await call("/api/org/tree", { token })).json.error.code).toBe("PASSWORD_CHANGE_REQUIRED");

    // Two different new passwords: said on the page, nothing sent.
    await page.fill("input[name=oldPassword]", ONE_TIME);
    await page.fill("input[name=newPassword]", CHOSEN);
    await page.fill("input[name=newPassword2]", CHOSEN + "x");
    await page.click("[data-testid=password-form] button[type=submit]");
    expect(await text(page, "[data-testid=password-error]")).toContain("不一致");
    // Too short: the API's policy message, in Chinese.
    await page.fill("input[name=newPassword]", "abc1");
    await page.fill("input[name=newPassword2]", "abc1");
    await page.click("[data-testid=password-form] button[type=submit]");
    await eventually(async () => expect(await text(page, "[data-testid=password-error]")).toMatch(/至少.*8/));
    await screenshot(page, "20-first-login-change-password");
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "gl_admin" } })).mustChangePassword).toBe(true);

    await page.fill("input[name=newPassword]", CHOSEN);
    await page.fill("input[name=newPassword2]", CHOSEN);
    await page.click("[data-testid=password-form] button[type=submit]");
    await page.waitForSelector("[data-testid=who]");
    expect(await page.locator("nav.sidebar a", { hasText: "组织架构" }).count()).toBe(1);
    const user = await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "gl_admin" } });
    expect(user.mustChangePassword).toBe(false);
    expect(user.passwordChangedAt).not.toBeNull();
    // The old one-time password is gone, the new one works, and the console's own token still answers.
    expect((await call("/api/auth/login", { body: { username: "gl_admin", password: ONE_TIME } })).status).toBe(401);
    expect((await call("/api/auth/login", { body: { username: "gl_admin", password: CHOSEN } })).status).toBe(200);
    await page.goto(`${api.url}/console/#/org`);
    await page.waitForSelector(`[data-testid=unit-GLC]`);
  });

  test("org tree: a town, a village and a branch are created; a unit with members is not deactivated, with what is left", async () => {
    // The complaints board's unit picker has read the county's towns before any is added.
    const page = await admin("#/complaints");
    await page.waitForSelector(".unit-picker select option:has-text('东山镇')", { state: "attached" });
    await page.goto(`${api.url}/console/#/org`);
    await page.waitForSelector("[data-testid=unit-GLC-T1]");
    // The lost group is listed for 绑定 again.
    expect(await text(page, "[data-testid=lost-groups]")).toContain("李家庄村党员群");
    await page.click("[data-testid=unit-GLC]");
    await page.waitForSelector("[data-testid=unit-detail] >> text=新增下级单位");

    const addChild = async (category: string, name: string, code: string) => {
      await page.click("[data-testid=unit-detail] button:has-text('新增下级单位')");
      await page.selectOption("[data-testid=add-unit] select[name=category]", category);
      await page.fill("[data-testid=add-unit] input[name=name]", name);
      await page.fill("[data-testid=add-unit] input[name=code]", code);
      await page.click("[data-testid=add-unit] button[type=submit]");
      await eventually(async () => expect(await text(page, "[data-testid=unit-detail] [data-testid=unit-code]")).toBe(code));
    };
    await addChild("TOWN|镇", "南山镇", "GLC-T3");
    await addChild("VILLAGE|村", "南山村", "GLC-T3-V1");
    await addChild("BRANCH|村党支部", "南山村党支部", "GLC-T3-V1-B");
    const prisma = ctx.db.prisma;
    const town = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T3" } });
    const village = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T3-V1" } });
    const branch = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T3-V1-B" } });
    expect([town.kind, town.category, town.parentId]).toEqual(["TOWN", "镇", county.county.id]);
    expect([village.kind, village.parentId]).toEqual(["VILLAGE", town.id]);
    expect([branch.kind, branch.category, branch.parentId, branch.path]).toEqual(["BRANCH", "村党支部", village.id, `${village.path}${branch.id}/`]);
    created.townId = town.id;
    created.branchId = branch.id;
    // The tree shows them under the county.
    await page.waitForSelector("[data-testid=org-tree] [data-testid=unit-GLC-T3-V1-B]");
    await screenshot(page, "21-org-tree-created");

    // Without reloading the page, the pickers elsewhere offer the new town.
    await page.goto(`${api.url}/console/#/complaints`);
    await page.waitForSelector(".unit-picker select option:has-text('南山镇')", { state: "attached" });
    await page.goto(`${api.url}/console/#/org?id=${village.id}`);

    // The village is a 社区 in fact: renamed and recategorised, its code kept.
    await page.click("[data-testid=unit-detail] button:has-text('修改名称/编码/类别')");
    await page.fill("[data-testid=edit-unit] input[name=name]", "南山社区");
    await page.selectOption("[data-testid=edit-unit] select[name=category]", "社区");
    await page.click("[data-testid=edit-unit] button[type=submit]");
    await page.waitForSelector("[data-testid=org-tree] [data-testid=unit-GLC-T3-V1] >> text=南山社区");
    const renamed = await prisma.orgUnit.findUniqueOrThrow({ where: { id: village.id } });
    expect([renamed.name, renamed.category, renamed.code]).toEqual(["南山社区", "社区", "GLC-T3-V1"]);

    // 李家庄村党支部 still has members and a group: refused with what is left, nothing changed.
    await page.goto(`${api.url}/console/#/org?id=${county.branch1.id}`);
    await page.waitForSelector("[data-testid=unit-detail] >> text=撤销该单位");
    await page.click("[data-testid=unit-detail] button:has-text('撤销该单位')");
    await page.click("[data-testid=deactivate-unit] button:has-text('确认撤销')");
    const refusal = await eventually(async () => {
      const t = await text(page, "[data-testid=unit-error]");
      expect(t).toContain("暂不能撤销");
      return t;
    });
    expect(refusal).toMatch(/党员/);
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: county.branch1.id } })).active).toBe(true);
    await screenshot(page, "22-org-deactivate-refused");
  });

  test("绑定码: issued for a branch and shown large with what to send; a branch without a secretary asks who", async () => {
    const page = await admin(`#/org?id=${county.branch1.id}`);
    await page.click("[data-testid=bind-codes] button:has-text('生成绑定码')");
    const code = await eventually(async () => {
      const c = await text(page, "[data-testid=bind-code-value]");
      expect(c).toMatch(/^[A-Z0-9]{4,10}$/);
      return c;
    });
    expect(await text(page, "[data-testid=bind-code-say]")).toBe(`绑定 ${code}`);
    const row = await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { code } });
    expect([row.orgUnitId, row.memberId, row.usedAt, row.revokedAt]).toEqual([county.branch1.id, county.members.wangwu.id, null, null]);
    const hours = (row.expiresAt.getTime() - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(23);
    expect(hours).toBeLessThanOrEqual(24);
    // The expiry shown is the database's, in Shanghai time.
    const expiry = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false }).format(row.expiresAt);
    expect(await text(page, "[data-testid=bind-code-expiry]")).toBe(expiry);
    await page.waitForSelector(`[data-testid=bind-code-${code}] >> text=有效`);
    await screenshot(page, "23-bind-code");
    // A second code, revoked from the list: the first stays valid.
    await page.click("[data-testid=bind-codes] button:has-text('生成绑定码')");
    const second = await eventually(async () => {
      const c = await text(page, "[data-testid=bind-code-value]");
      expect(c).not.toBe(code);
      return c;
    });
    await page.click(`[data-testid=bind-code-${second}] button:has-text('作废')`);
    await page.waitForSelector(`[data-testid=bind-code-${second}] >> text=已作废`);
    expect((await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { code: second } })).revokedAt).not.toBeNull();
    expect((await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { code } })).revokedAt).toBeNull();

    // The new branch has nobody on its roster: the API's BIND_CODE_MEMBER_REQUIRED message, no code.
    await page.goto(`${api.url}/console/#/org?id=${created.branchId}`);
    await page.click("[data-testid=bind-codes] button:has-text('生成绑定码')");
    await page.waitForSelector("[data-testid=bind-member-required]");
    await screenshot(page, "23b-bind-code-member-required");
    expect(await ctx.db.prisma.bindCode.count({ where: { orgUnitId: created.branchId } })).toBe(0);
    // Once someone is on its roster (not marked 书记), the cadre chooses who will send the code.
    const token = (await call("/api/auth/login", { body: { username: "gl_admin", password: CHOSEN } })).json.accessToken;
    const added = await call("/api/members", { token, body: { name: "吴九", phone: "13712340000", branchId: created.branchId } });
    expect(added.status).toBe(201);
    await page.click("[data-testid=bind-codes] button:has-text('生成绑定码')");
    await page.selectOption("[data-testid=bind-member-required] select", { label: "吴九" });
    await page.click("[data-testid=bind-member-required] button:has-text('用所选党员生成')");
    const chosen = await eventually(async () => {
      const c = await text(page, "[data-testid=bind-code-value]");
      expect(c).toMatch(/^[A-Z0-9]{4,10}$/);
      return c;
    });
    expect(await text(page, "[data-testid=bind-code-fresh]")).toContain("吴九");
    expect((await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { code: chosen } })).memberId).toBe(added.json.id);
  });

  test("干部账号: a town admin is created with a one-time password shown once, which logs in and must be changed", async () => {
    const page = await admin("#/cadres");
    await page.click("button:has-text('新建账号')");
    await page.fill("[data-testid=create-cadre] input[name=username]", "nanshan_admin");
    await page.fill("[data-testid=create-cadre] input[name=displayName]", "南山镇 李强");
    await page.selectOption("[data-testid=create-cadre] select[name=role]", "TOWN_ADMIN");
    await page.locator("[data-testid=cadre-unit] select").first().selectOption({ label: "南山镇" });
    await page.click("[data-testid=create-cadre] button[type=submit]");
    const otp = await eventually(async () => {
      const v = await text(page, "[data-testid=otp-value]");
      expect(v.length).toBeGreaterThanOrEqual(8);
      return v;
    });
    await page.waitForSelector("[data-testid=cadre-nanshan_admin]");
    await screenshot(page, "24-cadre-created-one-time-password");
    created.townOtp = otp;
    const user = await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "nanshan_admin" } });
    expect([user.role, user.orgUnitId, user.mustChangePassword, user.active]).toEqual(["TOWN_ADMIN", created.townId, true, true]);
    const login = await call("/api/auth/login", { body: { username: "nanshan_admin", password: otp } });
    expect(login.status).toBe(200);
    expect(login.json.user.mustChangePassword).toBe(true);
    // Closed, the password is gone from the page.
    await page.click("[data-testid=one-time-password] button:has-text('我已记下')");
    expect(await page.locator("[data-testid=one-time-password]").count()).toBe(0);
    expect(await page.content()).not.toContain(otp);

    // Disabled from the list: the account can no longer log in; re-enabled, it can.
    await page.click("[data-testid=cadre-nanshan_admin] button.link");
    await page.click("[data-testid=cadre-detail] button:has-text('停用')");
    await eventually(async () => expect(await text(page, "[data-testid=cadre-state]")).toContain("已停用"));
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "nanshan_admin" } })).active).toBe(false);
    expect((await call("/api/auth/login", { body: { username: "nanshan_admin", password: otp } })).status).not.toBe(200);
    await page.click("[data-testid=cadre-detail] button:has-text('重新启用')");
    await eventually(async () => expect(await text(page, "[data-testid=cadre-state]")).toContain("启用"));
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "nanshan_admin" } })).active).toBe(true);
    await screenshot(page, "25-cadre-detail");

    // A forgotten password: reset, a new one-time password shown once; the old one no longer works.
    await page.click("[data-testid=cadre-detail] button:has-text('重置密码')");
    await page.click("[data-testid=cadre-detail] button:has-text('确认重置')");
    const fresh = await eventually(async () => {
      const v = await text(page, "[data-testid=otp-value]");
      expect(v).not.toBe(otp);
      return v;
    });
    expect((await call("/api/auth/login", { body: { username: "nanshan_admin", password: otp } })).status).toBe(401);
    expect((await call("/api/auth/login", { body: { username: "nanshan_admin", password: fresh } })).status).toBe(200);
    created.townOtp = fresh;
    // A role that does not fit the unit: the API's message, nothing changed.
    await page.click("[data-testid=cadre-detail] button:has-text('修改角色/单位/姓名')");
    await page.selectOption("[data-testid=edit-cadre] select[name=role]", "BRANCH_SECRETARY");
    await page.click("[data-testid=edit-cadre] button[type=submit]");
    expect(await text(page, "[data-testid=toast-error]")).toMatch(/[\u4e00-\u9fff]/);
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "nanshan_admin" } })).role).toBe("TOWN_ADMIN");
  });

  test("the new town admin changes the one-time password at first login, then sees only their town", async () => {
    const page = await openConsole();
    await signIn(page, "nanshan_admin", created.townOtp!);
    await page.waitForSelector("[data-testid=first-password]");
    await page.fill("input[name=oldPassword]", created.townOtp!);
    // The policy: not the username.
    await page.fill("input[name=newPassword]", "nanshan_admin1");
    await page.fill("input[name=newPassword2]", "nanshan_admin1");
    await page.click("[data-testid=password-form] button[type=submit]");
    await eventually(async () => expect(await text(page, "[data-testid=password-error]")).toContain("用户名"));
    await page.fill("input[name=newPassword]", "Nanshan-2026-ok");
    await page.fill("input[name=newPassword2]", "Nanshan-2026-ok");
    await page.click("[data-testid=password-form] button[type=submit]");
    await page.waitForSelector("[data-testid=who] >> text=南山镇");
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "nanshan_admin" } })).mustChangePassword).toBe(false);
    await page.goto(`${api.url}/console/#/org`);
    await page.waitForSelector("[data-testid=org-tree] [data-testid=unit-GLC-T3]");
    expect(await page.locator("[data-testid=org-tree] [data-testid=unit-GLC]").count()).toBe(0);
    expect(await page.locator("[data-testid=org-tree] [data-testid=unit-GLC-T1]").count()).toBe(0);
    await page.click("[data-testid=unit-GLC-T3]");
    await page.waitForSelector("[data-testid=unit-detail] >> text=新增下级单位");
    expect(await page.locator("[data-testid=unit-detail] button:has-text('撤销该单位')").count()).toBe(0);
    // Another town's unit, asked for by address: the API's refusal, shown.
    await page.goto(`${api.url}/console/#/org?id=${county.branch1.id}`);
    await page.waitForSelector("[data-testid=unit-detail] [data-testid=load-error]");
    // 干部账号 offers only the roles below a town admin.
    await page.goto(`${api.url}/console/#/cadres`);
    await page.click("button:has-text('新建账号')");
    const roles = await page.locator("[data-testid=create-cadre] select[name=role] option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(roles).toEqual(["BRANCH_SECRETARY", "MEMBER"]);
    await screenshot(page, "29-town-admin-own-town");

    // 修改密码 from the top bar, any time: the console keeps working with the new token.
    await page.click("header a:has-text('修改密码')");
    await page.fill("input[name=oldPassword]", "Nanshan-2026-ok");
    await page.fill("input[name=newPassword]", "Nanshan-2027-ok");
    await page.fill("input[name=newPassword2]", "Nanshan-2027-ok");
    await page.click("[data-testid=password-form] button[type=submit]");
    await page.waitForSelector("[data-testid=kpi-month-rate]"); // back on the dashboard, still signed in
    expect((await call("/api/auth/login", { body: { username: "nanshan_admin", password: "Nanshan-2027-ok" } })).status).toBe(200);
  });

  test("org import: the bad row is shown before anything is written; only good rows land", async () => {
    const page = await admin("#/org");
    const token = (await call("/api/auth/login", { body: { username: "gl_admin", password: CHOSEN } })).json.accessToken;
    const template = await call("/api/org/template.xlsx", { token });
    expect(template.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(template.bytes as never);
    const sheet = wb.worksheets[0];
    const header = Array.from(sheet.getRow(1).values as unknown[], (v) => String(v ?? ""));
    const col = (name: string) => header.findIndex((h) => h.startsWith(name));
    sheet.spliceRows(2, Math.max(sheet.rowCount - 1, 0));
    const rows = [
      { 单位编码: "GLC-T1-V2", 单位名称: "王家湾村", 类型: "村", 上级单位编码: "GLC-T1" },
      { 单位编码: "GLC-T1-V2-B", 单位名称: "王家湾村党支部", 类型: "村党支部", 上级单位编码: "GLC-T1-V2" },
      { 单位编码: "GLC-T1-V9", 单位名称: "无上级村", 类型: "村", 上级单位编码: "NOPE-404" },
    ];
    rows.forEach((r, i) => {
      const row = sheet.getRow(i + 2);
      for (const [k, v] of Object.entries(r)) row.getCell(col(k)).value = v;
      row.commit();
    });
    const file = Buffer.from(await wb.xlsx.writeBuffer());
    const before = await ctx.db.prisma.orgUnit.count();
    await page.setInputFiles("input[name=org]", { name: "组织架构.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: file });
    await page.click("[data-testid=org-import] button:has-text('检查文件')");
    await page.waitForSelector("[data-testid=org-preview]");
    expect(await text(page, "[data-testid=org-counts]")).toBe("共 3 行：新增 2，更新 0，无变化 0，有错误 1");
    expect(await text(page, "[data-testid=org-row-4]")).toContain("上级");
    expect(await ctx.db.prisma.orgUnit.count()).toBe(before); // a preview writes nothing
    await screenshot(page, "30-org-import-preview");
    await page.click("[data-testid=org-import] button:has-text('跳过 1 行错误')");
    await page.waitForSelector("[data-testid=org-done]");
    const v2 = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T1-V2" } });
    const b2 = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T1-V2-B" } });
    expect([v2.kind, v2.parentId, b2.kind, b2.parentId]).toEqual(["VILLAGE", county.town1.id, "BRANCH", v2.id]);
    expect(await ctx.db.prisma.orgUnit.count({ where: { code: "GLC-T1-V9" } })).toBe(0);
    // The tree shows the imported units without a reload of the page.
    await page.fill("[data-testid=org-tree] input[type=search]", "王家湾");
    await page.waitForSelector("[data-testid=org-tree] [data-testid=unit-GLC-T1-V2-B]");

    // 王家湾村 belongs to 西河乡 after all: moved with its branch.
    await page.click("[data-testid=org-tree] [data-testid=unit-GLC-T1-V2]");
    await page.click("[data-testid=unit-detail] button:has-text('移动到其他上级')");
    await page.locator("[data-testid=move-target] select").first().selectOption({ label: "西河乡" });
    await page.click("[data-testid=move-unit] button:has-text('移到 西河乡')");
    const town2 = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "GLC-T2" } });
    await eventually(async () => expect((await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { id: v2.id } })).parentId).toBe(town2.id));
    expect((await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { id: b2.id } })).path.startsWith(town2.path)).toBe(true);
    await eventually(async () => expect(await text(page, "[data-testid=unit-detail] .facts")).toContain("西河乡"));
  });

  test("党员: found by phone tail, transferred to another branch with the history kept, and a probationary member made full", async () => {
    const prisma = ctx.db.prisma;
    const { zhangsan, sunqi } = county.members;
    const page = await admin("#/members");
    await page.waitForSelector("[data-testid=member-list] tbody tr");
    await page.fill("input[name=q]", "1234");
    await eventually(async () => {
      expect(await page.locator("[data-testid=member-list] tbody tr").count()).toBe(1);
      expect(await page.locator(`[data-testid=member-${zhangsan.id}]`).count()).toBe(1);
    });
    // Phones are shown masked.
    expect(await text(page, `[data-testid=member-${zhangsan.id}]`)).toContain("138****1234");
    await page.click(`[data-testid=member-${zhangsan.id}] a`);
    await page.waitForSelector("[data-testid=member-detail] >> text=组织关系转接");
    await page.click("[data-testid=member-detail] button:has-text('组织关系转接')");
    await page.fill("[data-testid=transfer-member] input[name=toBranch]", "河西村党支部");
    await page.fill("[data-testid=transfer-member] input[name=reason]", "随子女迁居河西村");
    await page.click("[data-testid=transfer-member] button[type=submit]");
    await eventually(async () => expect(await text(page, "[data-testid=member-branch-name]")).toBe("河西村党支部"));
    await page.waitForSelector("[data-testid=member-history] >> text=李家庄村党支部");
    const moved = await prisma.member.findUniqueOrThrow({ where: { id: zhangsan.id }, include: { stints: true } });
    expect(moved.branchId).toBe(county.branch2.id);
    expect(moved.stints.map((s) => [s.branchId, s.endedBy])).toEqual([[county.branch1.id, "transfer"]]);
    await screenshot(page, "26-member-transferred");

    // 转正 of a probationary member, dated today.
    await page.goto(`${api.url}/console/#/members?id=${sunqi.id}`);
    await page.waitForSelector("[data-testid=member-detail] >> text=预备党员");
    await page.click("[data-testid=member-detail] button:has-text('状态变更')");
    await page.check("[data-testid=status-member] input[name=status][value=ACTIVE]");
    await page.click("[data-testid=status-member] button[type=submit]");
    await eventually(async () => expect(await text(page, "[data-testid=member-status]")).toBe("正式党员"));
    const full = await prisma.member.findUniqueOrThrow({ where: { id: sunqi.id } });
    expect(full.status).toBe("ACTIVE");
    expect(full.fullMemberOn?.toISOString().slice(0, 10)).toBe(shanghaiDay());
    await screenshot(page, "27-member-full");

    // A new member added by hand, then their phone corrected (audited).
    await page.goto(`${api.url}/console/#/members`);
    await page.click("button:has-text('新增党员')");
    const branchPicker = page.locator("[data-testid=add-member-branch] select");
    await branchPicker.nth(0).selectOption({ label: "东山镇" });
    await branchPicker.nth(1).selectOption({ label: "李家庄村" });
    await branchPicker.nth(2).selectOption({ label: "李家庄村党支部" });
    await page.fill("[data-testid=add-member] input[name=name]", "周八");
    await page.fill("[data-testid=add-member] input[name=phone]", "13512345678");
    await page.selectOption("[data-testid=add-member] select[name=status]", "PROBATIONARY");
    await page.click("[data-testid=add-member] button[type=submit]");
    await page.waitForSelector("[data-testid=member-detail] >> text=周八");
    const zhou = await prisma.member.findFirstOrThrow({ where: { name: "周八" } });
    expect([zhou.branchId, zhou.phone, zhou.status]).toEqual([county.branch1.id, "13512345678", "PROBATIONARY"]);
    await page.click("[data-testid=member-detail] button:has-text('修改信息')");
    await page.fill("[data-testid=edit-member] input[name=phone]", "13598765432");
    await page.click("[data-testid=edit-member] button[type=submit]");
    await eventually(async () => expect((await prisma.member.findUniqueOrThrow({ where: { id: zhou.id } })).phone).toBe("13598765432"));
    expect(await prisma.auditLog.count({ where: { targetType: "Member", targetId: String(zhou.id) } })).toBeGreaterThanOrEqual(2);
    // A wrong phone: the API's field message, nothing changed.
    await page.click("[data-testid=member-detail] button:has-text('修改信息')");
    await page.fill("[data-testid=edit-member] input[name=phone]", "12345");
    await page.click("[data-testid=edit-member] button[type=submit]");
    expect(await text(page, "[data-testid=toast-error]")).toContain("手机号");
    expect((await prisma.member.findUniqueOrThrow({ where: { id: zhou.id } })).phone).toBe("13598765432");
    await screenshot(page, "28-member-added-edited");

    // The filter by status: 预备党员 lists only 周八 now that 孙七 is full.
    await page.goto(`${api.url}/console/#/members`);
    await page.fill("input[name=q]", "");
    await page.selectOption("select[aria-label=状态]", "PROBATIONARY");
    await eventually(async () => expect(await page.locator("[data-testid=member-list] tbody tr").allInnerTexts()).toEqual([expect.stringContaining("周八")]));
    // The roster import stays one tab away.
    await page.click(".tabs a:has-text('导入名单')");
    await page.waitForSelector("[data-testid=roster-import]");
  });

  test("roster import: a known member listed under another branch is previewed and imported as a transfer, not a second person", async () => {
    const { lisi } = county.members;
    const page = await admin("#/roster");
    const token = (await call("/api/auth/login", { body: { username: "gl_admin", password: CHOSEN } })).json.accessToken;
    const template = await call("/api/roster/template.xlsx", { token });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(template.bytes as never);
    const sheet = wb.worksheets[0];
    const header = Array.from(sheet.getRow(1).values as unknown[], (v) => String(v ?? ""));
    const col = (name: string) => header.findIndex((h) => h.startsWith(name));
    // Row 2 holds the template's example (a person who does not exist): every cell is written over.
    const row = sheet.getRow(2);
    for (let c = 1; c < header.length; c++) row.getCell(c).value = null;
    row.getCell(col("姓名")).value = "李四";
    row.getCell(col("手机号")).value = "13900005678";
    row.getCell(col("所属支部")).value = county.branch2.code;
    row.commit();
    const file = Buffer.from(await wb.xlsx.writeBuffer());
    const members = await ctx.db.prisma.member.count();
    await page.setInputFiles("input[name=roster]", { name: "名单.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: file });
    await page.click("button:has-text('检查文件')");
    await page.waitForSelector("[data-testid=roster-preview]");
    expect(await text(page, "[data-testid=roster-counts]")).toContain("组织关系转接 1");
    expect(await text(page, "[data-testid=roster-row-2]")).toContain(`从「李家庄村党支部」转到「${county.branch2.name}」（支部）`);
    await screenshot(page, "33-roster-transfer-preview");
    await page.click("button:has-text('确认导入 1 人')");
    await page.waitForSelector("[data-testid=roster-done]");
    expect(await text(page, "[data-testid=roster-done]")).toContain("组织关系转接 1");
    const moved = await ctx.db.prisma.member.findUniqueOrThrow({ where: { id: lisi.id } });
    expect([moved.branchId, moved.birthYear, moved.joinedPartyOn]).toEqual([county.branch2.id, null, null]); // empty cells change nothing
    expect(await ctx.db.prisma.member.count()).toBe(members); // nobody added twice
  });

  test("a branch secretary sees only their branch: adds a party group there and lists only its members", async () => {
    const token = (await call("/api/auth/login", { body: { username: "gl_admin", password: CHOSEN } })).json.accessToken;
    const made = await call("/api/admin/cadres", {
      token,
      body: { username: "hexi_secretary", displayName: "河西村党支部 赵六", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id, memberId: county.members.zhaoliu.id },
    });
    expect(made.status).toBe(201);
    const page = await openConsole();
    await signIn(page, "hexi_secretary", made.json.oneTimePassword);
    await page.fill("input[name=oldPassword]", made.json.oneTimePassword);
    await page.fill("input[name=newPassword]", "Hexi-branch-2026");
    await page.fill("input[name=newPassword2]", "Hexi-branch-2026");
    await page.click("[data-testid=password-form] button[type=submit]");
    await page.waitForSelector("[data-testid=who]");
    expect(await page.locator("nav.sidebar a", { hasText: "县级广播" }).count()).toBe(0);

    await page.goto(`${api.url}/console/#/org`);
    await page.waitForSelector(`[data-testid=org-tree] [data-testid=unit-${county.branch2.code}]`);
    expect(await page.locator("[data-testid=org-tree] li").count()).toBe(1);
    expect(await page.locator("[data-testid=lost-groups]").count()).toBe(0);
    expect(await page.locator("[data-testid=org-import]").count()).toBe(0);
    await page.click(`[data-testid=unit-${county.branch2.code}]`);
    await page.click("[data-testid=unit-detail] button:has-text('新增下级单位')");
    await page.fill("[data-testid=add-unit] input[name=name]", "第一党小组");
    await page.fill("[data-testid=add-unit] input[name=code]", `${county.branch2.code}-G1`);
    await page.click("[data-testid=add-unit] button[type=submit]");
    await eventually(async () => expect(await text(page, "[data-testid=unit-detail] [data-testid=unit-code]")).toBe(`${county.branch2.code}-G1`));
    const group = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: `${county.branch2.code}-G1` } });
    expect([group.kind, group.parentId]).toEqual(["PARTY_GROUP", county.branch2.id]);
    await screenshot(page, "32-secretary-own-branch");

    // 党员: only the branch's own (赵六, and 张三 who was transferred in).
    await page.goto(`${api.url}/console/#/members`);
    await page.waitForSelector("[data-testid=member-list] tbody tr");
    const names = (await page.locator("[data-testid=member-list] tbody tr td:first-child").allInnerTexts()).map((t) => t.trim()).sort();
    const expected = (await ctx.db.prisma.member.findMany({ where: { branchId: county.branch2.id } })).map((m) => m.name).sort();
    expect(names).toEqual(expected);
    expect(names).toContain("张三");
  });

  test("phone width: the tree and a unit's detail stack in one column", async () => {
    const page = await admin(`#/org?id=${county.branch1.id}`, { width: 390, height: 844 });
    await page.waitForSelector("[data-testid=unit-detail] [data-testid=unit-code]");
    const tree = await page.locator("[data-testid=org-tree]").boundingBox();
    const detail = await page.locator("[data-testid=unit-detail]").boundingBox();
    expect(detail!.y).toBeGreaterThan(tree!.y + tree!.height - 1);
    expect(tree!.width).toBeLessThanOrEqual(390);
    await screenshot(page, "31-org-phone");
    // 修改密码 folds into the menu with the rest.
    expect(await page.locator("header a:has-text('修改密码')").isVisible()).toBe(false);
    await page.click("button.menu-btn");
    await page.click("nav.sidebar a:has-text('修改密码')");
    await page.waitForSelector("[data-testid=password-form]");
  });
});
