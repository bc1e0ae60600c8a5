// The messaging platform through the HTTP API: bot accounts (load, budgets, login QR) for the county office, chat
// groups scoped to the caller's subtree, and the roster check of one group. Real Postgres and Redis, the API on a
// random port; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { LOGIN_QR_TTL_MS, shanghaiMidnight } from "../core/chat/accounts.ts";
import { rosterReport } from "../core/chat/binding.ts";
import type { CadreRole } from "../core/org/scope.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const HAN = /[\u4e00-\u9fff]/;
const QR_PAYLOAD = "https://login.weixin.qq.com/l/Ab3dEfGhIw==";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let town2: { id: number; path: string };
/** Asia/Shanghai midnight when the fixtures were written. */
let dayStart: Date;

const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "sec2" | "member1", string>;
const acc = {} as Record<"online" | "fresh" | "stale" | "noQr" | "cool", number>;
const grp = {} as Record<"branch1" | "town1Cadre" | "branch2" | "branch2Qq" | "unbound", number>;

beforeAll(async () => {
  ctx = await createTestContext("api-chat");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AC");
  town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "ACC-T2" }, select: { id: true, path: true } });

  // Cadre logins, with tokens minted the way /api/auth/login does.
  const users: Array<{ key: keyof typeof tokens; role: CadreRole; orgUnitId: number }> = [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "sec2", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ];
  for (const u of users) {
    const user = await prisma.cadreUser.create({ data: { username: u.key, passwordHash: "x", displayName: `${u.key} 用户`, role: u.role, orgUnitId: u.orgUnitId } });
    tokens[u.key] = (await issueAccessToken(ctx.config, { kind: "cadre", subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion })).token;
  }

  // Bot accounts in the states an operator meets.
  const now = Date.now();
  const account = (data: Parameters<typeof prisma.botAccount.create>[0]["data"]) => prisma.botAccount.create({ data }).then((a) => a.id);
  acc.online = await account({ name: "wx-online", channel: "WECHAT", displayName: "支部助手", status: "ONLINE", dailyBudget: 100, sendsPerMinute: 12, sendsPerHour: 200, lastSeenAt: new Date(now - 30_000) });
  acc.fresh = await account({ name: "wx-fresh", channel: "WECHAT", status: "NEED_LOGIN", loginQr: QR_PAYLOAD, loginQrAt: new Date(now - 60_000) });
  acc.stale = await account({ name: "wx-stale", channel: "WECHAT", status: "NEED_LOGIN", loginQr: "https://login.weixin.qq.com/l/old==", loginQrAt: new Date(now - LOGIN_QR_TTL_MS - 5 * 60_000) });
  acc.noQr = await account({ name: "wx-starting", channel: "WECHAT", status: "NEED_LOGIN" });
  acc.cool = await account({ name: "qq-cool", channel: "QQ", status: "COOLDOWN", statusReason: "发送过快，触发风控", cooldownUntil: new Date(now + 30 * 60_000), dailyBudget: 50 });

  // Groups: two in town 1 (a branch group, a cadre group), two in town 2, one nobody has bound.
  const group = (platformGroupId: string, topic: string, kind: "BRANCH" | "CADRE" | "OTHER", orgUnitId: number | null, memberCount: number, channel: "WECHAT" | "QQ" = "WECHAT") =>
    prisma.chatGroup.create({ data: { channel, platformGroupId, topic, kind, orgUnitId, memberCount, boundAt: orgUnitId ? new Date() : null } }).then((g) => g.id);
  grp.branch1 = await group("r-lijiazhuang@chatroom", "李家庄村党员群", "BRANCH", county.branch1.id, 16);
  grp.town1Cadre = await group("r-dongshan@chatroom", "东山镇干部群", "CADRE", county.town1.id, 30);
  grp.branch2 = await group("r-hexi@chatroom", "河西村党员群", "BRANCH", county.branch2.id, 20);
  grp.branch2Qq = await group("123456789", "河西村QQ群", "BRANCH", county.branch2.id, 8, "QQ");
  grp.unbound = await group("r-new@chatroom", "新建的群", "OTHER", null, 3);

  await prisma.groupAccount.createMany({
    data: [
      { groupId: grp.branch1, accountId: acc.online },
      { groupId: grp.branch1, accountId: acc.fresh },
      { groupId: grp.branch1, accountId: acc.stale, active: false },
      { groupId: grp.town1Cadre, accountId: acc.online },
      { groupId: grp.branch2, accountId: acc.online },
      { groupId: grp.branch2Qq, accountId: acc.cool },
      { groupId: grp.unbound, accountId: acc.fresh },
    ],
  });

  // Deliveries around Asia/Shanghai midnight.
  dayStart = shanghaiMidnight(new Date());
  let n = 0;
  const delivery = (accountId: number | null, status: "SENT" | "QUEUED" | "FAILED", sentAt: Date | null, groupId = grp.branch1) =>
    prisma.delivery.create({ data: { channel: "WECHAT", accountId, groupId, body: `消息 ${++n}`, status, sentAt, idempotencyKey: `test:${n}` } });
  const at = (ms: number) => new Date(dayStart.getTime() + ms);
  for (let i = 0; i < 3; i++) await delivery(acc.online, "SENT", at(i * 1000));
  await delivery(acc.online, "SENT", at(-1)); // one millisecond before local midnight: yesterday
  await delivery(acc.online, "SENT", at(-3 * 3600_000));
  await delivery(acc.online, "FAILED", null);
  await delivery(acc.online, "QUEUED", null);
  await delivery(acc.online, "QUEUED", null, grp.branch2);
  await delivery(acc.fresh, "QUEUED", null);
  await delivery(null, "QUEUED", null); // unassigned: any account may take it
  await delivery(acc.cool, "SENT", at(500), grp.branch2Qq);
  await delivery(acc.cool, "SENT", at(-24 * 3600_000), grp.branch2Qq);

  // Who is in the branch 1 group: two linked roster members, one member of another branch, a stranger, twelve
  // unregistered newcomers (more than the chat command's 10 names), and one who has left.
  const joined = async (identityId: number, leftAt: Date | null = null) => prisma.groupMembership.create({ data: { groupId: grp.branch1, identityId, leftAt } });
  await joined((await linkWechat(prisma, "wx-online", "wx_wangwu", "王五（书记）", county.members.wangwu.id)).id);
  await joined((await linkWechat(prisma, "wx-online", "wx_zhangsan", "三哥", county.members.zhangsan.id)).id);
  await joined((await linkWechat(prisma, "wx-online", "wx_zhaoliu", "赵六", county.members.zhaoliu.id)).id);
  await joined((await linkWechat(prisma, "wx-online", "wx_lisi", "老李", county.members.lisi.id)).id, new Date());
  const stranger = await prisma.chatIdentity.create({ data: { channel: "WECHAT", scope: "wx-online", platformUserId: "wx_stranger", displayName: "路人甲" } });
  await joined(stranger.id);
  for (let i = 1; i <= 12; i++) {
    const id = await prisma.chatIdentity.create({ data: { channel: "WECHAT", scope: "wx-online", platformUserId: `wx_new${i}`, displayName: `新成员${i}` } });
    await joined(id.id);
  }

  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

// ---- helpers ----

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function get(path: string, token?: string): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function expectOk(res: Answer) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status: 200, error: undefined });
  return res.json;
}

/** Every error: {error:{code,message}} with a Chinese message and the request id, nothing that looks like a stack. */
function expectError(res: Answer, status: number, code: string) {
  expect({ status: res.status, code: res.json?.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.json.error.message).toMatch(HAN);
  expect(res.json.error.requestId).toBe(res.headers.get("x-request-id"));
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack|node_modules|prisma|Error:/i);
  return res.json.error as { code: string; message: string; [k: string]: unknown };
}

// ---- tests ----

describe("the county's day", () => {
  test("shanghaiMidnight is local midnight in Asia/Shanghai whatever the server's TZ", () => {
    expect(shanghaiMidnight(new Date("2026-03-10T15:59:59.999Z")).toISOString()).toBe("2026-03-09T16:00:00.000Z");
    expect(shanghaiMidnight(new Date("2026-03-10T16:00:00.000Z")).toISOString()).toBe("2026-03-10T16:00:00.000Z");
    expect(shanghaiMidnight(new Date("2026-03-10T02:00:00.000Z")).toISOString()).toBe("2026-03-09T16:00:00.000Z");
  });
});

describe("GET /api/admin/accounts", () => {
  test("the county admin sees every account with status, load and budgets", async () => {
    const body = expectOk(await get("/api/admin/accounts", tokens.county));
    expect(body.dayStart).toBe(dayStart.toISOString());
    expect(body.items.map((a: { name: string }) => a.name)).toEqual(["wx-fresh", "wx-online", "wx-stale", "wx-starting", "qq-cool"]);
    const byName = Object.fromEntries(body.items.map((a: { name: string }) => [a.name, a]));

    expect(byName["wx-online"]).toEqual({
      id: acc.online,
      name: "wx-online",
      channel: "WECHAT",
      displayName: "支部助手",
      status: "ONLINE",
      statusLabel: "在线",
      statusReason: null,
      cooldownUntil: null,
      lastSeenAt: expect.stringMatching(/Z$/),
      groupsServed: 3,
      sentToday: 3,
      dailyBudget: 100,
      remainingToday: 97,
      sendsPerMinute: 12,
      sendsPerHour: 200,
      maxMentions: 10,
      queued: 2,
      needsLogin: false,
      loginQrAvailable: false,
    });
    expect(byName["wx-fresh"]).toMatchObject({ status: "NEED_LOGIN", statusLabel: "待扫码登录", needsLogin: true, loginQrAvailable: true, groupsServed: 2, sentToday: 0, queued: 1 });
    // The inactive link to the branch 1 group does not count.
    expect(byName["wx-stale"]).toMatchObject({ needsLogin: true, loginQrAvailable: false, groupsServed: 0, queued: 0 });
    expect(byName["wx-starting"]).toMatchObject({ needsLogin: true, loginQrAvailable: false });
    expect(byName["qq-cool"]).toMatchObject({
      channel: "QQ",
      status: "COOLDOWN",
      statusLabel: "风控冷却中",
      statusReason: "发送过快，触发风控",
      cooldownUntil: expect.stringMatching(/Z$/),
      groupsServed: 1,
      sentToday: 1,
      dailyBudget: 50,
      remainingToday: 49,
      needsLogin: false,
    });
    // Never the QR payload itself in the list.
    expect(JSON.stringify(body)).not.toContain(QR_PAYLOAD);
  });

  test("only the county admin: town admins and secretaries get 403, no token 401", async () => {
    for (const who of ["town1", "sec1", "member1"] as const) {
      expect(expectError(await get("/api/admin/accounts", tokens[who]), 403, "FORBIDDEN").message).toBe("您没有执行此操作的权限");
      expectError(await get(`/api/admin/accounts/${acc.fresh}/login-qr`, tokens[who]), 403, "FORBIDDEN");
    }
    expectError(await get("/api/admin/accounts"), 401, "TOKEN_MISSING");
    expectError(await get(`/api/admin/accounts/${acc.fresh}/login-qr`), 401, "TOKEN_MISSING");
  });
});

describe("GET /api/admin/accounts/:id/login-qr", () => {
  test("a fresh QR comes back as the payload and an SVG, not cached", async () => {
    const res = await get(`/api/admin/accounts/${acc.fresh}/login-qr`, tokens.county);
    const body = expectOk(res);
    expect(body).toMatchObject({ accountId: acc.fresh, name: "wx-fresh", channel: "WECHAT", status: "NEED_LOGIN", statusLabel: "待扫码登录", qr: QR_PAYLOAD });
    const qrAt = new Date(body.qrAt).getTime();
    expect(Date.now() - qrAt).toBeGreaterThanOrEqual(60_000);
    expect(new Date(body.expiresAt).getTime() - qrAt).toBe(LOGIN_QR_TTL_MS);
    expect(body.svg).toMatch(/^\s*(<\?xml[^>]*>\s*)?<svg/);
    expect(body.svg).toContain("</svg>");
    expect(body.svg).toMatch(/<path/);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("unknown account: 404 ACCOUNT_NOT_FOUND; a bad id: 400", async () => {
    expect(expectError(await get("/api/admin/accounts/999999/login-qr", tokens.county), 404, "ACCOUNT_NOT_FOUND").message).toBe("该机器人账号不存在");
    const bad = expectError(await get("/api/admin/accounts/abc/login-qr", tokens.county), 400, "VALIDATION_FAILED");
    expect(bad.fields).toEqual([{ field: "params.id", message: "必须是正整数" }]);
  });

  test("an online account, or one waiting without a QR yet: 409 LOGIN_NOT_NEEDED", async () => {
    for (const id of [acc.online, acc.cool, acc.noQr]) {
      expect(expectError(await get(`/api/admin/accounts/${id}/login-qr`, tokens.county), 409, "LOGIN_NOT_NEEDED").message).toBe("该账号当前无需扫码登录");
    }
  });

  test("a QR older than about five minutes: 409 LOGIN_QR_EXPIRED, asking to wait for a fresh one", async () => {
    const err = expectError(await get(`/api/admin/accounts/${acc.stale}/login-qr`, tokens.county), 409, "LOGIN_QR_EXPIRED");
    expect(err.message).toMatch(/过期/);
    expect(err.message).toMatch(/新的二维码/);
    expect(JSON.stringify(err)).not.toContain("login.weixin.qq.com");
  });
});

describe("GET /api/groups", () => {
  const ids = (body: { items: Array<{ id: number }> }) => body.items.map((g) => g.id);

  test("a town admin sees only the groups bound inside the town", async () => {
    const body = expectOk(await get("/api/groups", tokens.town1));
    expect(ids(body)).toEqual([grp.branch1, grp.town1Cadre]);
    expect(body).toMatchObject({ page: 1, pageSize: 20, total: 2 });
    const g = body.items[0];
    expect(g).toEqual({
      id: grp.branch1,
      channel: "WECHAT",
      platformGroupId: "r-lijiazhuang@chatroom",
      topic: "李家庄村党员群",
      kind: "BRANCH",
      memberCount: 16,
      active: true,
      boundAt: expect.stringMatching(/Z$/),
      lostAt: null,
      orgUnit: { id: county.branch1.id, code: county.branch1.code, name: "李家庄村党支部", kind: "BRANCH" },
      accounts: [
        { id: acc.online, name: "wx-online", status: "ONLINE", statusLabel: "在线" },
        { id: acc.fresh, name: "wx-fresh", status: "NEED_LOGIN", statusLabel: "待扫码登录" },
      ],
    });
    expect(ids(expectOk(await get("/api/groups", tokens.town2)))).toEqual([grp.branch2, grp.branch2Qq]);
    expect(ids(expectOk(await get("/api/groups?bound=true&kind=CADRE", tokens.town1)))).toEqual([grp.town1Cadre]);
  });

  test("the county admin sees every group, the unbound ones with bound=false", async () => {
    const all = expectOk(await get("/api/groups", tokens.county));
    expect(ids(all)).toEqual([grp.branch1, grp.town1Cadre, grp.branch2, grp.branch2Qq, grp.unbound]);
    expect(all.total).toBe(5);

    const unbound = expectOk(await get("/api/groups?bound=false", tokens.county));
    expect(ids(unbound)).toEqual([grp.unbound]);
    expect(unbound.items[0]).toMatchObject({ orgUnit: null, boundAt: null, kind: "OTHER", accounts: [{ name: "wx-fresh" }] });

    expect(ids(expectOk(await get("/api/groups?bound=true", tokens.county)))).toEqual([grp.branch1, grp.town1Cadre, grp.branch2, grp.branch2Qq]);
    expect(ids(expectOk(await get(`/api/groups?orgUnitId=${town2.id}`, tokens.county)))).toEqual([grp.branch2, grp.branch2Qq]);
    expect(ids(expectOk(await get(`/api/groups?orgUnitId=${county.branch1.id}`, tokens.county)))).toEqual([grp.branch1]);
    expect(expectOk(await get("/api/groups?kind=BRANCH", tokens.county)).total).toBe(3);

    const page2 = expectOk(await get("/api/groups?page=2&pageSize=2", tokens.county));
    expect(page2).toMatchObject({ page: 2, pageSize: 2, total: 5 });
    expect(ids(page2)).toEqual([grp.branch2, grp.branch2Qq]);
  });

  test("outside the caller's reach: 403; below town admin: 403; bad filters: 400", async () => {
    expect(expectError(await get("/api/groups?bound=false", tokens.town1), 403, "FORBIDDEN").message).toBe("只有县级管理员可以查看未绑定单位的群");
    expectError(await get(`/api/groups?orgUnitId=${county.branch2.id}`, tokens.town1), 403, "OUT_OF_SCOPE");
    expectError(await get(`/api/groups?orgUnitId=999999`, tokens.county), 404, "ORG_UNIT_NOT_FOUND");
    expectError(await get("/api/groups", tokens.sec1), 403, "FORBIDDEN");
    expectError(await get("/api/groups"), 401, "TOKEN_MISSING");

    const bad = expectError(await get("/api/groups?kind=NOPE&bound=maybe&pageSize=500", tokens.county), 400, "VALIDATION_FAILED");
    const fields = (bad.fields as Array<{ field: string; message: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(["query.bound", "query.kind", "query.pageSize"]);
    for (const f of bad.fields as Array<{ message: string }>) expect(f.message).toMatch(HAN);
  });
});

describe("GET /api/groups/:id/roster-report", () => {
  test("the branch secretary gets the same numbers as 名单核对, with more names", async () => {
    const body = expectOk(await get(`/api/groups/${grp.branch1}/roster-report`, tokens.sec1));
    const strangers = ["赵六", "路人甲", ...Array.from({ length: 12 }, (_, i) => `新成员${i + 1}`)];
    expect(body).toEqual({
      groupId: grp.branch1,
      unit: { id: county.branch1.id, code: county.branch1.code, name: "李家庄村党支部", kind: "BRANCH" },
      rosterCount: 4,
      groupCount: 16,
      linkedInGroup: 2,
      missingFromGroup: { count: 2, names: ["李四", "孙七"] },
      notOnRoster: { count: 14, names: strangers },
    });

    // The chat command's numbers, computed the same way; it lists only the first 10 names.
    const chat = await rosterReport(ctx.db.prisma, grp.branch1, 10);
    expect({ ...chat, missingFromGroup: chat.missingFromGroup.count, notOnRoster: chat.notOnRoster.count }).toEqual({
      unit: body.unit,
      rosterCount: body.rosterCount,
      groupCount: body.groupCount,
      linkedInGroup: body.linkedInGroup,
      missingFromGroup: body.missingFromGroup.count,
      notOnRoster: body.notOnRoster.count,
    });
    expect(chat.notOnRoster.names).toEqual(strangers.slice(0, 10));

    // Those above the branch see it too.
    expect(expectOk(await get(`/api/groups/${grp.branch1}/roster-report`, tokens.town1))).toEqual(body);
    expect(expectOk(await get(`/api/groups/${grp.branch1}/roster-report`, tokens.county))).toEqual(body);
  });

  test("a town cadre group counts the town's secretaries and cadres", async () => {
    const body = expectOk(await get(`/api/groups/${grp.town1Cadre}/roster-report`, tokens.town1));
    // 王五 is the only secretary in town 1; nobody is in that group yet.
    expect(body).toMatchObject({ unit: { id: county.town1.id, kind: "TOWN" }, rosterCount: 1, groupCount: 0, linkedInGroup: 0, missingFromGroup: { count: 1, names: ["王五"] } });
  });

  test("a group bound outside the caller's subtree: 403 OUT_OF_SCOPE", async () => {
    const err = expectError(await get(`/api/groups/${grp.branch2}/roster-report`, tokens.sec1), 403, "OUT_OF_SCOPE");
    expect(err.message).toBe("无权访问该单位的数据");
    expectError(await get(`/api/groups/${grp.branch1}/roster-report`, tokens.town2), 403, "OUT_OF_SCOPE");
    // A secretary is below the town, so the town's cadre group is out of reach too.
    expectError(await get(`/api/groups/${grp.town1Cadre}/roster-report`, tokens.sec1), 403, "OUT_OF_SCOPE");
    expectOk(await get(`/api/groups/${grp.branch2}/roster-report`, tokens.sec2));
  });

  test("members: 403; unknown group: 404; unbound group: 409 with guidance", async () => {
    expectError(await get(`/api/groups/${grp.branch1}/roster-report`, tokens.member1), 403, "FORBIDDEN");
    expect(expectError(await get("/api/groups/999999/roster-report", tokens.county), 404, "GROUP_NOT_FOUND").message).toBe("该群不存在");
    const err = expectError(await get(`/api/groups/${grp.unbound}/roster-report`, tokens.county), 409, "GROUP_NOT_BOUND");
    expect(err.message).toContain("绑定支部 支部编码");
    expectError(await get("/api/groups/0/roster-report", tokens.county), 400, "VALIDATION_FAILED");
  });
});

describe("OpenAPI", () => {
  test("the new routes, their schemas and error answers are in /api/openapi.json", async () => {
    const doc = expectOk(await get("/api/openapi.json"));
    for (const path of ["/api/admin/accounts", "/api/admin/accounts/{id}/login-qr", "/api/groups", "/api/groups/{id}/roster-report"]) {
      const op = doc.paths[path]?.get;
      expect({ path, defined: !!op }).toEqual({ path, defined: true });
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(op.summary).toMatch(HAN);
      expect(op.responses["403"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ApiError" });
    }
    for (const name of ["BotAccountList", "BotLoginQr", "ChatGroupPage", "GroupRosterReport", "AccountStatus", "GroupKind", "Channel"]) {
      expect({ name, defined: !!doc.components.schemas[name] }).toEqual({ name, defined: true });
    }
    expect(Object.keys(doc.paths["/api/admin/accounts/{id}/login-qr"].get.responses)).toEqual(expect.arrayContaining(["200", "404", "409"]));
    expect(Object.keys(doc.paths["/api/groups/{id}/roster-report"].get.responses)).toEqual(expect.arrayContaining(["200", "403", "404", "409"]));
    const params = doc.paths["/api/groups"].get.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`).sort();
    expect(params).toEqual(["query:bound", "query:kind", "query:lost", "query:orgUnitId", "query:page", "query:pageSize"]);
    expect(doc.components.schemas.BotLoginQr.properties.svg).toBeDefined();
  });
});
