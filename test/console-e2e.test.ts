// The admin console end to end: the built page served by the API at /console/, driven in real headless Chromium
// (Debian's package, playwright-core) against real Postgres and Redis and a bot on the mock WeChat puppet.
// What a cadre must be able to rely on, and what is asserted: the dashboard's figures are the API's figures; a town
// cadre sees only the town; a broadcast drafted by one admin and approved by another reaches every group (100 %);
// a complaint is claimed and resolved from the board; a roster file's bad row is shown before anything is written and
// only the good rows land; a bot account waiting for a scan shows its QR and then turns online. Screenshots of every
// page go to test-results/console/.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { startApi, type RunningApi } from "../api/app.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { hashPassword } from "../core/auth/password.ts";
import { sendDueReports } from "../core/calendar/reports.ts";
import { fileComplaint } from "../core/complaints/complaints.ts";
import { addMeeting, CAL_ACCOUNT, calendarCounty, type CalendarCounty } from "./support/calendar-fixtures.ts";
import { startOnline } from "./support/broadcast-fixtures.ts";
import { launchChromium, screenshot } from "./support/browser.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { apiCaller } from "./support/http.ts";

const PASSWORD = "Console@2026";
let ctx: TestContext;
let api: RunningApi;
let county: CalendarCounty;
let browser: Browser;
let wechat: MockWechat;
const bots: BotHandle[] = [];
const contexts: BrowserContext[] = [];
const call = apiCaller(() => api.url);
const tokens: Record<string, string> = {};
const complaints: Record<"town1" | "town2", string> = { town1: "", town2: "" };

/** The dashboard's percentage format (web/src/ui.tsx pct), to compare the page with the API's numbers. */
const pct = (r: number | null | undefined) => (r === null || r === undefined ? "—" : `${Math.round(r * 1000) / 10}%`);
const shanghaiMonth = (d = new Date()) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 7);

async function cadre(username: string, displayName: string, role: "COUNTY_ADMIN" | "TOWN_ADMIN", orgUnitId: number) {
  await ctx.db.prisma.cadreUser.create({ data: { username, displayName, role, orgUnitId, passwordHash: await hashPassword(PASSWORD) } });
  tokens[username] = (await call("/api/auth/login", { body: { username, password: PASSWORD } })).json.accessToken;
}

async function loggedIn(username: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
  await page.goto(`${api.url}/console/`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=who]");
  return page;
}

const text = async (page: Page, selector: string) => (await page.locator(selector).first().innerText()).trim();

beforeAll(async () => {
  // The test reads the console as built from the current sources, not a build left from an earlier install.
  execFileSync(process.execPath, ["web/build.mjs"], { stdio: "pipe" });
  ctx = await createTestContext("console-e2e", { env: { SENDER_POLL_MS: "100" } });
  const prisma = ctx.db.prisma;
  county = await calendarCounty(prisma, "CE");
  api = await startApi(ctx);
  await cadre("county_a", "县委组织部甲", "COUNTY_ADMIN", county.county.id);
  await cadre("county_b", "县委组织部乙", "COUNTY_ADMIN", county.county.id);
  await cadre("town_a", "东山镇管理员", "TOWN_ADMIN", county.town1.id);

  // This month: b1 held its 支委会 and a 党课 (everyone present), b3 held a 支委会; last month b2 held one.
  const monthStart = new Date(`${shanghaiMonth()}-01T00:00:00+08:00`).getTime();
  const heldAt = new Date(Math.max(monthStart + 60_000, Date.now() - 3600_000));
  await addMeeting(prisma, { unitId: county.b1.id, type: "COMMITTEE", plannedAt: heldAt, status: "HELD", topic: "研究冬季帮扶工作" });
  await addMeeting(prisma, { unitId: county.b1.id, type: "PARTY_LECTURE", plannedAt: heldAt, status: "HELD", topic: "书记讲党课" });
  await addMeeting(prisma, { unitId: county.b3.id, type: "COMMITTEE", plannedAt: heldAt, status: "HELD" });
  await addMeeting(prisma, { unitId: county.b2.id, type: "COMMITTEE", plannedAt: new Date(monthStart - 5 * 86_400_000), status: "HELD" });

  const member = async (branchId: number) => (await prisma.member.findFirstOrThrow({ where: { branchId, isSecretary: false } })).id;
  const file = async (branchId: number, content: string) => {
    const memberId = await member(branchId);
    return (await prisma.$transaction((tx) => fileComplaint(tx, { memberId, channel: "MINIPROGRAM" }, { content, unitId: branchId }, ctx.config))).complaint.number;
  };
  // The last quarter's 季通报, published as the job does on the first morning of this quarter.
  const [y, m] = shanghaiMonth().split("-").map(Number);
  const quarterStart = new Date(`${y}-${String(m - ((m - 1) % 3)).padStart(2, "0")}-01T10:00:00+08:00`);
  expect((await sendDueReports(prisma, ctx.config, quarterStart)).sent).toBeGreaterThan(0);
  complaints.town1 = await file(county.b1.id, "村东头路灯坏了三天，晚上出行不安全");
  complaints.town2 = await file(county.b3.id, "河西村垃圾清运不及时");

  wechat = new MockWechat();
  const people = [{ id: "wx_villager", name: "村民甲" }];
  for (const g of await prisma.chatGroup.findMany({ where: { orgUnit: { path: { startsWith: county.county.path } } } })) wechat.room(g.platformGroupId, g.topic, people);
  await startOnline(ctx, wechat, CAL_ACCOUNT, bots);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  for (const b of bots) await b.stop();
  await api?.close();
  await ctx?.close();
});

describe("admin console in Chromium", () => {
  test("the console is served at /console/ with its assets, and a wrong password gets the API's Chinese message", async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${api.url}/console`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${api.url}/console/`);
    await page.fill("input[name=username]", "county_a");
    await page.fill("input[name=password]", "wrong-password");
    await page.click("button[type=submit]");
    const err = await text(page, "[data-testid=login-error]");
    expect(err).toMatch(/[\u4e00-\u9fff]/);
    await screenshot(page, "01-login-error");
    await page.close();
  });

  test("dashboard: every figure is the API's, and a town cadre sees only the town", async () => {
    const page = await loggedIn("county_a");
    const month = shanghaiMonth();
    const [y, m] = month.split("-").map(Number);
    const quarter = `${y}-Q${Math.ceil(m / 3)}`;
    const from = new Date(`${month}-01T00:00:00+08:00`).toISOString();
    const to = new Date(m === 12 ? `${y + 1}-01-01T00:00:00+08:00` : `${y}-${String(m + 1).padStart(2, "0")}-01T00:00:00+08:00`).toISOString();
    const get = async (p: string, token = tokens.county_a) => (await call(p, { token })).json;
    const monthly = await get(`/api/calendar/compliance?period=${month}`);
    const quarterly = await get(`/api/calendar/compliance?period=${quarter}`);
    const metrics = await get(`/api/complaints/metrics?groupBy=town&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    const trend = await get("/api/reports/attendance-trend?months=6");
    expect(monthly.total.held).toBeGreaterThan(0); // the fixture's meetings count, so the comparison is not all dashes

    await eventually(async () => {
      expect(await text(page, "[data-testid=kpi-month-rate]")).toBe(pct(monthly.total.complianceRate));
      expect(await text(page, "[data-testid=kpi-quarter-rate]")).toBe(pct(quarterly.total.complianceRate));
      expect(await text(page, "[data-testid=kpi-attendance]")).toBe(pct(trend.items.at(-1).rate));
      expect(await text(page, "[data-testid=kpi-response]")).toBe(pct(metrics.total.responseRate));
      expect(await text(page, "[data-testid=kpi-overdue]")).toBe(String(metrics.total.overdueOpen));
    });
    expect(trend.items.at(-1).rate).not.toBeNull();
    for (const t of monthly.towns) {
      expect(await text(page, `[data-testid=town-${t.id}] [data-testid=month-rate]`)).toBe(pct(t.complianceRate));
      const q = quarterly.towns.find((x: { id: number }) => x.id === t.id);
      expect(await text(page, `[data-testid=town-${t.id}] [data-testid=quarter-rate]`)).toBe(pct(q.complianceRate));
    }
    expect(await page.locator("[data-testid^=town-]").count()).toBe(monthly.towns.length + 1);
    // The latest 季通报: the published snapshot's towns, in rank order, with their scores.
    const latest = (await get("/api/reports/rankings?limit=1")).items[0];
    const bulletin = await get(`/api/reports/quarterly?period=${latest.period}`);
    const rows = page.locator("[data-testid=ranking-row]");
    await eventually(async () => expect(await rows.count()).toBe(bulletin.towns.length));
    for (const [i, t] of bulletin.towns.entries()) {
      const cells = await rows.nth(i).locator("td").allInnerTexts();
      expect([cells[0], cells[1].trim().split(" ")[0], cells[2], cells[3]]).toEqual([String(t.rank ?? "不排名"), t.name, String(t.score ?? "—"), pct(t.complianceRate)]);
    }
    await page.waitForTimeout(300); // charts draw after the data arrives
    await screenshot(page, "02-dashboard-county");

    const town = await loggedIn("town_a");
    await town.waitForSelector(`[data-testid=town-${county.town1.id}]`);
    expect(await town.locator("[data-testid^=town-]").count()).toBe(2); // 东山镇 and the total, never 西河乡
    expect(await town.locator(`[data-testid=town-${county.town2.id}]`).count()).toBe(0);
    expect(await town.locator("nav a", { hasText: "县级广播" }).count()).toBe(0);
    expect(await town.locator("nav a", { hasText: "机器人账号" }).count()).toBe(0);
    await town.goto(`${api.url}/console/#/broadcasts`);
    await town.waitForSelector("text=该页面不存在或您无权访问");
    await town.goto(`${api.url}/console/#/dashboard`);
    await town.waitForSelector(`[data-testid=town-${county.town1.id}]`);
    await screenshot(town, "03-dashboard-town");

    // Phone width: the menu folds behind a button and opens on tap.
    const phone = await loggedIn("county_a", { width: 390, height: 844 });
    await phone.waitForSelector("[data-testid=kpi-month-rate]");
    expect(await phone.locator("nav.sidebar").isVisible()).toBe(false);
    await phone.click("button.menu-btn");
    expect(await phone.locator("nav.sidebar").isVisible()).toBe(true);
    await screenshot(phone, "04-phone-menu");
  });

  test("broadcast: drafted by one admin, approved by another, delivered to every group (100 %)", async () => {
    const drafter = await loggedIn("county_a");
    await drafter.goto(`${api.url}/console/#/broadcasts`);
    const body = "【县委组织部通知】请各支部本周内完成冬季安全生产检查。";
    await drafter.fill("textarea[name=text]", body);
    const preview = (await call("/api/broadcasts/preview", { token: tokens.county_a, body: { text: body, target: { scope: "all" } } })).json;
    expect(preview.groups).toBe(6);
    await eventually(async () => expect(await text(drafter, "[data-testid=preview-groups]")).toBe(String(preview.groups)));
    await screenshot(drafter, "05-broadcast-compose");
    await drafter.click("[data-testid=compose] button[type=submit]");
    const ok = await text(drafter, "[data-testid=toast-ok]");
    const number = /[A-Z]{2}\d{8}-\d{4}/.exec(ok)![0];
    await drafter.waitForSelector(`[data-testid=approval-${number}] >> text=需由另一位县级管理员审批`);

    const approver = await loggedIn("county_b");
    await approver.goto(`${api.url}/console/#/broadcasts`);
    const card = approver.locator(`[data-testid=approval-${number}]`);
    // Rejecting without a reason is refused by the API; its message is what the admin sees.
    await card.locator("button", { hasText: "驳回" }).click();
    expect(await text(approver, "[data-testid=toast-error]")).toMatch(/理由/);
    await screenshot(approver, "06-broadcast-approval-queue");
    await card.locator("button", { hasText: "批准发送" }).click();
    await approver.waitForSelector("[data-testid=report]");
    await eventually(async () => {
      expect(await text(approver, "[data-testid=report-totals]")).toContain(`已发送 ${preview.groups} / ${preview.groups}`);
      expect(await text(approver, "[data-testid=report-status]")).toBe("已完成");
    }, 30_000);
    expect(await text(approver, "[data-testid=report] .progress span")).toBe("100%");
    await screenshot(approver, "07-broadcast-report-100");
    const rooms = await ctx.db.prisma.chatGroup.findMany({ where: { orgUnit: { path: { startsWith: county.county.path } } } });
    for (const g of rooms) expect(wechat.said.filter((s) => s.conversationId === g.platformGroupId && s.text.includes("冬季安全生产检查"))).toHaveLength(1);
  });

  test("complaints board: a town cadre claims and resolves a ticket of the town; another town's ticket is not listed", async () => {
    const page = await loggedIn("town_a");
    await page.goto(`${api.url}/console/#/complaints`);
    await page.waitForSelector(`[data-testid=complaint-${complaints.town1}]`);
    expect(await page.locator(`[data-testid=complaint-${complaints.town2}]`).count()).toBe(0);
    await page.click(`[data-testid=complaint-${complaints.town1}] a`);
    await page.waitForSelector("[data-testid=complaint-detail] >> text=认领（首问负责）");
    await page.click("[data-testid=complaint-detail] >> text=认领（首问负责）");
    await eventually(async () => expect(await text(page, "[data-testid=detail-owner]")).toBe("东山镇管理员"));
    await page.fill("input[name=result]", "已联系电工更换灯泡，当晚恢复照明");
    await page.click("[data-testid=complaint-detail] button:has-text('办结')");
    await eventually(async () => expect(await text(page, "[data-testid=detail-status]")).toMatch(/^已办结/));
    expect(await text(page, "[data-testid=timeline]")).toContain("已联系电工更换灯泡");
    await screenshot(page, "08-complaint-resolved");
    const row = await ctx.db.prisma.complaint.findUniqueOrThrow({ where: { number: complaints.town1 } });
    expect(row.status).toBe("RESOLVED");
    expect(row.resolution).toBe("已联系电工更换灯泡，当晚恢复照明");

    // The county transfers the other town's ticket by typing the unit, as in the chat command; a wrong name is refused.
    const county_ = await loggedIn("county_a");
    await county_.goto(`${api.url}/console/#/complaints?n=${complaints.town2}`);
    await county_.waitForSelector("[data-testid=complaint-detail] input[name=toUnit]");
    await county_.fill("input[name=toUnit]", "不存在的村党支部");
    await county_.fill("input[name=reason]", "垃圾站属王家村管理");
    await county_.click("[data-testid=complaint-detail] button:has-text('转办')");
    expect(await text(county_, "[data-testid=toast-error]")).toContain("没有找到");
    await county_.fill("input[name=toUnit]", "王家村党支部");
    await county_.click("[data-testid=complaint-detail] button:has-text('转办')");
    expect(await text(county_, "[data-testid=toast-ok]")).toContain("王家村党支部");
    await eventually(async () => expect(await text(county_, "[data-testid=timeline]")).toContain("王家村党支部"));
    expect((await ctx.db.prisma.complaint.findUniqueOrThrow({ where: { number: complaints.town2 } })).orgUnitId).toBe(county.b2.id);
  });

  test("meetings: a branch's month calendar, a meeting's attendance and its Excel export", async () => {
    const page = await loggedIn("county_a");
    await page.goto(`${api.url}/console/#/meetings`);
    const picker = page.locator("[data-testid=meeting-unit] select");
    await picker.nth(0).selectOption({ label: "东山镇" });
    await picker.nth(1).selectOption({ label: "李家庄村" });
    await picker.nth(2).selectOption({ label: "李家庄村党支部" });
    const item = page.locator(".cal-item", { hasText: "支委会" });
    await item.first().click();
    const members = await ctx.db.prisma.member.count({ where: { branchId: county.b1.id } });
    await eventually(async () => expect(await text(page, "[data-testid=attendance-counts]")).toContain(`已签到 ${members}`));
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("button:has-text('导出签到表 Excel')")]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await import("node:fs")).readFileSync((await download.path())!) as never);
    expect(wb.worksheets.length).toBeGreaterThan(0);
    await screenshot(page, "09-meetings");
  });

  test("roster import: the bad row is shown before anything is written; only good rows land", async () => {
    const page = await loggedIn("county_a");
    await page.goto(`${api.url}/console/#/roster`);
    // The template the page offers, filled in as a secretary would.
    const template = await call("/api/roster/template.xlsx", { token: tokens.county_a });
    expect(template.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(template.bytes as never);
    const sheet = wb.worksheets[0];
    const header = (sheet.getRow(1).values as unknown[]).map((v) => String(v ?? ""));
    const col = (name: string) => header.indexOf(name);
    sheet.spliceRows(2, sheet.rowCount);
    const rows = [
      { 姓名: "陈一", 手机号: "13811112222", 所属支部: county.b1.code },
      { 姓名: "陈二", 手机号: "12345", 所属支部: county.b1.code },
      { 姓名: "陈三", 手机号: "13833334444", 所属支部: county.b1.code },
    ];
    rows.forEach((r, i) => {
      const row = sheet.getRow(i + 2);
      for (const [k, v] of Object.entries(r)) row.getCell(col(k)).value = v;
      row.commit();
    });
    const file = Buffer.from(await wb.xlsx.writeBuffer());
    const before = await ctx.db.prisma.member.count();

    await page.setInputFiles("input[name=roster]", { name: "名单.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: file });
    await page.click("button:has-text('检查文件')");
    await page.waitForSelector("[data-testid=roster-preview]");
    expect(await text(page, "[data-testid=roster-counts]")).toBe("共 3 行：新增 2，更新 0，无变化 0，有错误 1");
    expect(await text(page, "[data-testid=roster-row-3]")).toMatch(/手机号/);
    expect(await ctx.db.prisma.member.count()).toBe(before); // a preview writes nothing
    await screenshot(page, "10-roster-preview");
    await page.click("button:has-text('跳过 1 行错误')");
    await page.waitForSelector("[data-testid=roster-done]");
    expect(await text(page, "[data-testid=roster-done]")).toContain("新增 2");
    const names = (await ctx.db.prisma.member.findMany({ where: { branchId: county.b1.id, name: { startsWith: "陈" } }, select: { name: true } })).map((m) => m.name).sort();
    expect(names).toEqual(["陈一", "陈三"]);
    await screenshot(page, "11-roster-imported");
  });

  test("bot accounts: an account waiting for a scan shows its login QR live, then turns online", async () => {
    const page = await loggedIn("county_a");
    const second = new MockWechat("支部小助手二号");
    bots.push(await startBot(ctx, { puppet: second.puppet, account: "wx-scan" }));
    second.mocker.scan("https://login.weixin.qq.com/l/console-e2e==");
    await page.goto(`${api.url}/console/#/accounts`);
    const card = page.locator("[data-testid=account-wx-scan]");
    await eventually(async () => expect(await card.locator("[data-testid=login-qr] img").count()).toBe(1), 20_000);
    expect(await card.locator("[data-testid=account-status]").innerText()).toBe("待扫码登录");
    expect(await text(page, `[data-testid=account-${CAL_ACCOUNT}] [data-testid=account-status]`)).toBe("在线");
    await screenshot(page, "12-accounts-scan");
    second.login();
    await eventually(async () => expect((await card.locator("[data-testid=account-status]").innerText()).trim()).toBe("在线"), 20_000);
    expect(await card.locator("[data-testid=login-qr]").count()).toBe(0);
    await screenshot(page, "13-accounts-online");
  });
});
