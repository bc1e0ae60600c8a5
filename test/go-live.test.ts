// Going live, as a county operator would: an empty database, the README's `npm run setup`, the API the console uses,
// and chat through the real peers only — a wechaty-puppet-service gateway (a `bot` process started exactly as in
// production) and a NapCat-like OneBot v11 peer on the API's reverse WebSocket. No SQL and no simulated seed: every
// row below is made by a command, a route or a chat message.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { OneBotReverseHub } from "../bot/adapters/onebot-reverse.ts";
import { CHINA_OFFSET_MS } from "../core/meetings/time.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { apiCaller, expectApiError } from "./support/http.ts";
import { startRole, type RoleProcess } from "./support/crash-child.ts";
import { puppetGateway } from "./support/puppet-gateway.ts";
import { runCommand } from "./support/run.ts";
import { NapCatPeer, type PeerGroup } from "./support/onebot-peer.ts";
import { eventually } from "./support/eventually.ts";

const QQ_TOKEN = "golive-token";
const QQ_SELF = 20001;
const QQ_GROUP = 880001;
const ROOM = "golive-new-room@chatroom";
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

let ctx: TestContext;
let api: RunningApi;
let wechat: MockWechat;
let gateway: Awaited<ReturnType<typeof puppetGateway>>;
let wxBot: RoleProcess;
let qqBot: BotHandle;
let peer: NapCatPeer;
const call = apiCaller(() => api.url);

/** What the operator and the people in the story know as they go. */
const s = {
  adminToken: "",
  townAdminToken: "",
  towns: {} as Record<"east" | "west", number>,
  branches: {} as Record<"e1" | "e2" | "w1" | "w2", number>,
};

/** "2026-12-03 20:15" on the Shanghai clock, minutes from now: how a secretary types a time. */
function chinaClock(minutesFromNow: number) {
  const d = new Date(Date.now() + minutesFromNow * 60_000 + CHINA_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

const monthKey = () => chinaClock(0).slice(0, 7);

/** A person says `text` in the WeChat room; resolves with the bot's next message there that matches. */
async function sayInRoom(who: string, text: string, match: (t: string) => boolean, conversation = ROOM) {
  const reply = wechat.waitForBot(conversation, match, 30_000);
  wechat.say(who, text, ROOM);
  return (await reply).text;
}

async function loginAndChange(username: string, oneTimePassword: string, newPassword: string) {
  const first = await call("/api/auth/login", { body: { username, password: oneTimePassword } });
  expect(first.status).toBe(200);
  expect(first.json.user.mustChangePassword).toBe(true);
  // Nothing but the password change until then.
  expectApiError(await call("/api/org/tree", { token: first.json.accessToken }), 403, "PASSWORD_CHANGE_REQUIRED");
  const changed = await call("/api/auth/password", { token: first.json.accessToken, body: { oldPassword: oneTimePassword, newPassword } });
  expect(changed.status).toBe(200);
  // The change revokes the one-time session; the new token works.
  expectApiError(await call("/api/auth/me", { token: first.json.accessToken }), 401, "TOKEN_REVOKED");
  const me = await call("/api/auth/me", { token: changed.json.accessToken });
  expect(me.json.user.mustChangePassword).toBe(false);
  return changed.json.accessToken as string;
}

beforeAll(async () => {
  ctx = await createTestContext("golive", {
    env: {
      BOT_PLATFORM: "qq",
      ONEBOT_ACCESS_TOKEN: QQ_TOKEN,
      ONEBOT_SELF_ID: String(QQ_SELF),
      CHECKIN_ACK_INTERVAL_SEC: "1",
      STORAGE_DIR: mkdtempSync(join(tmpdir(), "nb-golive-")),
    },
  });
  api = await startApi(ctx);
  // The WeChat account lives on a gateway (padlocal-like); its `bot` process is a separate OS process.
  wechat = new MockWechat("支部小助手");
  gateway = await puppetGateway(wechat, ctx, { SENDER_MIN_GAP_MS: "0", CHECKIN_ACK_INTERVAL_SEC: "1", STORAGE_DIR: ctx.config.STORAGE_DIR });
  qqBot = await startBot(ctx, { account: "qq-1", httpServer: api.server });
}, 120_000);

afterAll(async () => {
  await peer?.close();
  await wxBot?.kill();
  await qqBot?.stop();
  await gateway?.server.stop();
  await api?.close();
  await ctx?.close();
});

describe("a county goes live from an empty database", () => {
  test("the database starts empty: no unit, no login", async () => {
    expect(await ctx.db.prisma.orgUnit.count()).toBe(0);
    expect(await ctx.db.prisma.cadreUser.count()).toBe(0);
  });

  test("npm run setup creates the root and its administrator, prints the one-time password once, and refuses a second time", async () => {
    const env = { ...process.env, DATABASE_URL: ctx.db.url, NODE_OPTIONS: "", LOG_LEVEL: "warn" };
    const setup = await runCommand("npx", ["tsx", "app/setup.ts", "--root-name", "泸县", "--root-code", "C01", "--admin", "county_admin"], { env, timeoutMs: 120_000 });
    expect(setup.code).toBe(0);
    const password = /(?:一次性密码|初始密码)[^\S\n]*[:：]?[^\S\n]*(\S+)/.exec(setup.stdout)?.[1];
    expect(password).toBeTruthy();
    const again = await runCommand("npx", ["tsx", "app/setup.ts", "--root-name", "泸县", "--root-code", "C02", "--admin", "other_admin"], { env, timeoutMs: 120_000 });
    expect(again.code).not.toBe(0);
    expect(again.stderr + again.stdout).toMatch(/[\u4e00-\u9fff]/);
    expect(await ctx.db.prisma.orgUnit.count()).toBe(1);

    s.adminToken = await loginAndChange("county_admin", password!, "Luxian#2027go");
  });

  test("the county admin creates two towns, a village in each, and four branches over the API", async () => {
    const me = await call("/api/auth/me", { token: s.adminToken });
    const rootId = me.json.orgUnit.id as number;
    const create = async (body: Record<string, unknown>) => {
      const res = await call("/api/org/units", { token: s.adminToken, body });
      expect(res.status).toBe(201);
      return res.json.id as number;
    };
    s.towns.east = await create({ parentId: rootId, kind: "TOWN", name: "玉蟾街道", code: "C01-T01" });
    s.towns.west = await create({ parentId: rootId, kind: "TOWN", name: "福集镇", code: "C01-T02" });
    const eastVillage = await create({ parentId: s.towns.east, kind: "VILLAGE", name: "东门社区", code: "C01-T01-V01" });
    const westVillage = await create({ parentId: s.towns.west, kind: "VILLAGE", name: "龙桥村", code: "C01-T02-V01" });
    s.branches.e1 = await create({ parentId: eastVillage, kind: "BRANCH", name: "东门社区党支部", code: "C01-T01-V01-B" });
    s.branches.e2 = await create({ parentId: s.towns.east, kind: "BRANCH", name: "玉蟾茶叶专业合作社党支部", code: "C01-T01-B02", category: "合作社党支部" });
    s.branches.w1 = await create({ parentId: westVillage, kind: "BRANCH", name: "龙桥村党支部", code: "C01-T02-V01-B" });
    s.branches.w2 = await create({ parentId: s.towns.west, kind: "BRANCH", name: "福集镇机关党支部", code: "C01-T02-B02", category: "机关党支部" });
    const tree = await call("/api/org/tree", { token: s.adminToken });
    expect(tree.status).toBe(200);
    expect(tree.json.items.filter((u: { kind: string }) => u.kind === "BRANCH")).toHaveLength(4);
    // A village branch belongs under its village: straight under a town it must be a functional one, and the answer says so.
    const misplaced = await call("/api/org/units", { token: s.adminToken, body: { parentId: s.towns.west, kind: "BRANCH", name: "龙桥村第二党支部", code: "C01-T02-B03" } });
    expectApiError(misplaced, 400, "UNIT_KIND_INVALID");
    expect(misplaced.json.error.message).toContain("村（社区）党支部请建在对应的村（社区）下");
  });

  test("a town admin is created for 玉蟾街道 and sees only that town", async () => {
    const created = await call("/api/admin/cadres", {
      token: s.adminToken,
      body: { username: "yuchan_admin", displayName: "玉蟾街道组织委员", role: "TOWN_ADMIN", orgUnitId: s.towns.east },
    });
    expect(created.status).toBe(201);
    s.townAdminToken = await loginAndChange("yuchan_admin", created.json.oneTimePassword, "Yuchan@2027ok");
    const tree = await call("/api/org/tree", { token: s.townAdminToken });
    const ids = tree.json.items.map((u: { id: number }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([s.towns.east, s.branches.e1, s.branches.e2]));
    expect(ids).not.toContain(s.towns.west);
    expect(ids).not.toContain(s.branches.w1);
    expectApiError(await call(`/api/org/units/${s.branches.w1}`, { token: s.townAdminToken }), 403, "OUT_OF_SCOPE");
  });

  test("the town admin imports the branch roster from the template (its example row is not a person)", async () => {
    const template = await call("/api/roster/template.xlsx", { token: s.townAdminToken });
    expect(template.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(template.bytes as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0];
    const header = (sheet.getRow(1).values as unknown[]).slice(1).map(String);
    const rows: Record<string, string>[] = [
      { 姓名: "董东", 性别: "男", 手机号: "13900001111", 所属支部: "C01-T01-V01-B", 党员类别: "正式党员", 职务: "书记" },
      { 姓名: "刘芳", 性别: "女", 手机号: "13900002222", 所属支部: "C01-T01-V01-B", 党员类别: "正式党员" },
      { 姓名: "陈强", 性别: "男", 手机号: "13900003333", 所属支部: "C01-T01-V01-B", 党员类别: "预备党员" },
      { 姓名: "周敏", 性别: "女", 手机号: "13900004444", 所属支部: "C01-T01-V01-B", 党员类别: "正式党员" },
    ];
    // The operator fills in below the example row and leaves it there.
    for (const r of rows) sheet.addRow(header.map((h) => r[h] ?? ""));
    const file = Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
    const upload = (path: string) => call(path, { token: s.townAdminToken, form: {}, photos: [{ field: "file", data: file, name: "名单.xlsx", type: XLSX }] });
    const preview = await upload("/api/roster/import/preview");
    expect(preview.status).toBe(200);
    expect(preview.json.counts.create).toBe(4);
    const imported = await upload("/api/roster/import");
    expect(imported.status).toBe(200);
    expect(imported.json.created).toBe(4);
    const names = (await ctx.db.prisma.member.findMany({ where: { branchId: s.branches.e1 }, orderBy: { id: "asc" } })).map((m) => m.name);
    expect(names).toEqual(["董东", "刘芳", "陈强", "周敏"]);
    expect(await ctx.db.prisma.member.count()).toBe(4);
  });

  test("the secretary brings a fresh WeChat group online with 绑定 <码>, and members register with 我是", async () => {
    const code = await call(`/api/org/units/${s.branches.e1}/bind-codes`, { token: s.townAdminToken, body: {} });
    expect(code.status).toBe(201);
    expect(code.json.member.name).toBe("董东");
    expect(new Date(code.json.expiresAt).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);

    wechat.room(ROOM, "东门社区党员群", [
      { id: "wx_dongdong", name: "董东" },
      { id: "wx_liufang", name: "芳芳" },
      { id: "wx_chenqiang", name: "陈强" },
    ]);
    wxBot = startRole(["--role", "bot", "--account", "wx-1"], gateway.env);
    await eventually(async () => {
      wxBot.assertAlive();
      expect(await ctx.db.prisma.botAccount.findUnique({ where: { name: "wx-1" } })).toMatchObject({ status: "ONLINE" });
    }, 90_000);

    // A wrong code first: answered, nothing bound.
    expect(await sayInRoom("wx_dongdong", "绑定 ZZZZZZ", (t) => t.includes("绑定码"))).toMatch(/绑定码/);
    const bound = await sayInRoom("wx_dongdong", `绑定 ${code.json.code}`, (t) => t.includes("东门社区党支部"));
    expect(bound).toContain("我是");
    const group = await ctx.db.prisma.chatGroup.findFirstOrThrow({ where: { channel: "WECHAT", platformGroupId: ROOM }, include: { orgUnit: true } });
    expect(group.orgUnit?.id).toBe(s.branches.e1);
    const secretary = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { channel: "WECHAT", platformUserId: "wx_dongdong" }, include: { member: true } });
    expect(secretary.member).toMatchObject({ name: "董东", isSecretary: true });

    expect(await sayInRoom("wx_liufang", "我是 刘芳 2222", (t) => t.includes("刘芳"))).toContain("登记成功");
    expect(await sayInRoom("wx_chenqiang", "我是 陈强 3333", (t) => t.includes("陈强"))).toContain("登记成功");
  }, 180_000);

  test("the secretary brings a fresh QQ group online the same way; a QQ member registers privately and is told about QQ群", async () => {
    const code = await call(`/api/org/units/${s.branches.e1}/bind-codes`, { token: s.townAdminToken, body: {} });
    expect(code.status).toBe(201);
    const qqGroup: PeerGroup = {
      group_id: QQ_GROUP,
      group_name: "东门社区党员QQ群",
      members: [
        { user_id: 50001, nickname: "董东", card: "", role: "owner" },
        { user_id: 50004, nickname: "周敏", card: "", role: "member" },
      ],
    };
    peer = new NapCatPeer({ selfId: QQ_SELF, nickname: "支部小助手QQ", token: QQ_TOKEN, heartbeatMs: 500, reconnectMs: 100, groups: [qqGroup] });
    await peer.connectReverse(OneBotReverseHub.on(api.server, ctx.log).url);
    await eventually(async () => expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "qq-1" } })).toMatchObject({ status: "ONLINE" }));

    let since = peer.sent.length;
    peer.say(QQ_GROUP, 50001, `绑定 ${code.json.code}`);
    const bound = await peer.waitForSent((m) => m.group_id === QQ_GROUP && m.text.includes("东门社区党支部"), 30_000, since);
    expect(bound.text).toContain("我是");
    const group = await ctx.db.prisma.chatGroup.findFirstOrThrow({ where: { channel: "QQ", platformGroupId: String(QQ_GROUP) } });
    expect(group.orgUnitId).toBe(s.branches.e1);

    since = peer.sent.length;
    peer.sayPrivately({ user_id: 50004, nickname: "周敏" }, "我是 周敏 4444");
    const linked = await peer.waitForSent((m) => m.user_id === 50004, 30_000, since);
    expect(linked.text).toContain("登记成功");
    // A stranger privately: pointed to the QQ group, not a WeChat one.
    since = peer.sent.length;
    peer.sayPrivately({ user_id: 50099, nickname: "路人" }, "我是 王小二 9999");
    const stranger = await peer.waitForSent((m) => m.user_id === 50099, 30_000, since);
    expect(stranger.text).not.toContain("微信群");
  }, 120_000);

  test("a session is published in the WeChat group and checked in to from WeChat and QQ; the town admin's 本月报告 counts it", async () => {
    const published = await sayInRoom("wx_dongdong", `发布学习 ${chinaClock(10)} 学习党的二十届四中全会精神`, (t) => t.includes("学习") && /编号|签到/.test(t));
    expect(published).toMatch(/签到/);
    const meeting = await ctx.db.prisma.meeting.findFirstOrThrow({ where: { orgUnitId: s.branches.e1 } });

    const summary = wechat.waitForBot(ROOM, (t) => /已签到 \d+\/4/.test(t) && t.includes("陈强"), 30_000);
    wechat.say("wx_liufang", "签到", ROOM);
    wechat.say("wx_chenqiang", "签到", ROOM);
    await summary;
    peer.say(QQ_GROUP, 50004, "签到");
    await peer.waitForSent((m) => m.group_id === QQ_GROUP && /已签到 \d+\/4/.test(m.text), 30_000);

    // What must not be lost: every check-in is a row, once per member.
    await eventually(async () => expect(await ctx.db.prisma.attendance.count({ where: { meetingId: meeting.id, status: "PRESENT" } })).toBe(3));

    const report = await call(`/api/reports/monthly?period=${monthKey()}&unitId=${s.towns.east}`, { token: s.townAdminToken });
    expect(report.status).toBe(200);
    expect(report.json.total.checkins.checkins).toBe(3);
    const branchRow = report.json.branches.find((b: { id: number }) => b.id === s.branches.e1);
    expect(branchRow.checkins).toMatchObject({ meetings: 1, studies: 1, checkins: 3 });
    // The west town's branches are not the town admin's business.
    expectApiError(await call(`/api/reports/monthly?period=${monthKey()}&unitId=${s.towns.west}`, { token: s.townAdminToken }), 403, "OUT_OF_SCOPE");
  }, 120_000);

  test("no row in this story came from SQL or the seed: the logins are the two made by setup and the API", async () => {
    const users = await ctx.db.prisma.cadreUser.findMany({ orderBy: { id: "asc" }, select: { username: true } });
    expect(users.map((u) => u.username)).toEqual(["county_admin", "yuchan_admin"]);
    const audited = await ctx.db.prisma.auditLog.findMany({ select: { action: true } });
    const actions = new Set(audited.map((a) => a.action));
    for (const a of ["org.unit_create", "roster.import", "group.bind_by_code", "identity.link"]) expect(actions).toContain(a);
  });
});
