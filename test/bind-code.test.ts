// Groups come online from chat: a 绑定码 issued over the API, `绑定 <码>` sent in a fresh WeChat group (wechaty-puppet-
// mock) and a fresh QQ group (a OneBot v11 peer), private 我是 on either platform, and a WeChat re-login that gives
// every room a new id. Real PostgreSQL and Redis throughout.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { OneBotReverseHub } from "../bot/adapters/onebot-reverse.ts";
import { redeemBindCode } from "../core/chat/bind-codes.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { cadreTokens } from "./support/cadres.ts";
import { apiCaller, expectApiError } from "./support/http.ts";
import { NapCatPeer, type PeerGroup } from "./support/onebot-peer.ts";

const TOKEN = "bind-token";
const SELF = 20001;
const WX = "wx-bc";
const ROOM = "bc-lijiazhuang@chatroom"; // 李家庄村 (branch 1), bound by its secretary 王五
const OTHER = "bc-other@chatroom"; // where strangers try codes
const NEWB = "bc-newbranch@chatroom"; // a branch with no secretary yet
const RACE = "bc-race@chatroom";
const QQ_GROUP = 800001; // 河西村 (branch 2)
const QQ_RACE = 800002;

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let peer: NapCatPeer;
let wechat: MockWechat;
const bots: BotHandle[] = [];
let tokens: Record<"county" | "town1" | "sec1", string>;
let units: { b3: number; b4: number; qianba: number; zhoujiu: number; b3secs: number[] };
const call = apiCaller(() => api.url);
/** A code revoked over the API, and one used in chat: later tries with them. */
let revoked = "";
let used = { id: 0, code: "" };

const qqGroups = (): PeerGroup[] => [
  {
    group_id: QQ_GROUP,
    group_name: "河西村党员QQ群",
    members: [
      { user_id: 40001, nickname: "赵六", card: "", role: "owner" },
      { user_id: 40002, nickname: "小河", card: "", role: "member" },
    ],
  },
  { group_id: QQ_RACE, group_name: "抢码QQ群", members: [{ user_id: 40003, nickname: "快手", card: "", role: "owner" }] },
];

/** `who` says `text` in a WeChat room; the bot's next message there. */
async function sayWx(w: MockWechat, who: string, text: string, room: string, match: (t: string) => boolean = () => true) {
  const reply = w.waitForBot(room, match);
  w.say(who, text, room);
  return (await reply).text;
}

/** A QQ member says `text` in a group (or privately when groupId is omitted); the bot's next message back. */
async function sayQQ(userId: number, text: string, groupId?: number, nickname = "QQ用户") {
  const since = peer.sent.length;
  if (groupId) peer.say(groupId, userId, text);
  else peer.sayPrivately({ user_id: userId, nickname }, text);
  return (await peer.waitForSent((m) => (groupId ? m.group_id === groupId : m.user_id === userId && m.group_id === undefined), 15_000, since)).text;
}

const issue = async (unitId: number, body: Record<string, unknown> = {}, token = tokens.town1) => {
  const res = await call(`/api/org/units/${unitId}/bind-codes`, { token, body });
  expect(res.status).toBe(201);
  return res.json as { id: number; code: string; expiresAt: string; member: { id: number; name: string } | null };
};

const groupRow = (channel: "WECHAT" | "QQ", platformGroupId: string) =>
  ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel, platformGroupId } } });

/** "K7M4PX" as someone might type it on a phone: lower case, full-width, with a full-width space inside. */
const sloppy = (code: string) =>
  [...code.toLowerCase()].map((c, i) => (i === 3 ? "\u3000" : "") + String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join("");

beforeAll(async () => {
  ctx = await createTestContext("bindcode", { env: { BOT_PLATFORM: "qq", ONEBOT_ACCESS_TOKEN: TOKEN, ONEBOT_SELF_ID: String(SELF), SENDER_COOLDOWN_MS: "1500" } });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "BC");
  // Two more branches under 东山镇: one with two secretaries, one with none yet.
  const unit = async (code: string, name: string, kind: "VILLAGE" | "BRANCH", parent: { id: number; path: string }) => {
    const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent.id, path: "/", depth: parent.path.split("/").length - 2 } });
    return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent.path}${row.id}/` } });
  };
  const b3 = await unit("BCC-T1-V3-B", "王家村党支部", "BRANCH", await unit("BCC-T1-V3", "王家村", "VILLAGE", county.town1));
  const b4 = await unit("BCC-T1-V4-B", "新建村党支部", "BRANCH", await unit("BCC-T1-V4", "新建村", "VILLAGE", county.town1));
  const m = (name: string, branchId: number, phone: string, isSecretary = false) => prisma.member.create({ data: { name, branchId, phone, isSecretary, gender: "MALE" } });
  const b3secs = [(await m("王大", b3.id, "13100001111", true)).id, (await m("王二", b3.id, "13100002222", true)).id];
  const qianba = await m("钱八", county.branch2.id, "13600008888");
  const zhoujiu = await m("周九", b4.id, "13400009999");
  units = { b3: b3.id, b4: b4.id, qianba: qianba.id, zhoujiu: zhoujiu.id, b3secs };
  tokens = await cadreTokens(ctx, "bc", [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
  ]);
  for (const [name, channel] of [["qq-bc", "QQ"], [WX, "WECHAT"], ["wx-re", "WECHAT"]] as const) {
    await prisma.botAccount.create({ data: { name, channel, sendsPerMinute: 1000, sendsPerHour: 20000 } });
  }

  api = await startApi(ctx);
  bots.push(await startBot(ctx, { account: "qq-bc", httpServer: api.server }));
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党员群", [
    { id: "wx_wangwu", name: "王五" },
    { id: "wx_zhangsan", name: "三哥" },
    { id: "wx_lisi", name: "老李" },
  ]);
  wechat.room(OTHER, "测试二群", [
    { id: "wx_stranger", name: "路人甲" },
    { id: "wx_s2", name: "路人乙" },
    { id: "wx_s3", name: "路人丙" },
    { id: "wx_wangwu", name: "王五" },
  ]);
  wechat.room(NEWB, "新建村党员群", [{ id: "wx_zhoujiu", name: "周九" }]);
  wechat.room(RACE, "抢码群", [{ id: "wx_racer", name: "快手" }]);
  bots.push(await startBot(ctx, { puppet: wechat.puppet, account: WX }));
  wechat.login();
  peer = new NapCatPeer({ selfId: SELF, nickname: "支部小助手QQ", token: TOKEN, heartbeatMs: 500, reconnectMs: 100, groups: qqGroups() });
  await peer.connectReverse(OneBotReverseHub.on(api.server, ctx.log).url);
  await eventually(async () => {
    for (const name of ["qq-bc", WX]) expect(await prisma.botAccount.findUniqueOrThrow({ where: { name } })).toMatchObject({ status: "ONLINE" });
    expect(await prisma.groupAccount.count()).toBe(6);
  });
});

afterAll(async () => {
  await peer?.close();
  for (const b of bots.reverse()) await b.stop();
  await api?.close();
  await ctx?.close();
});

describe("issuing a 绑定码 over the API", () => {
  test("a town admin issues one for a branch: it names the roster's one secretary, lasts 24 hours and is listed", async () => {
    const before = Date.now();
    const code = await issue(county.branch1.id);
    expect(code.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/);
    expect(code.member).toEqual({ id: county.members.wangwu.id, name: "王五" });
    const ttl = new Date(code.expiresAt).getTime() - before;
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
    const list = await call(`/api/org/units/${county.branch1.id}/bind-codes`, { token: tokens.sec1 });
    expect(list.status).toBe(200);
    expect(list.json.items[0]).toMatchObject({ id: code.id, code: code.code, usedAt: null, revokedAt: null, group: null, member: { name: "王五" }, createdBy: { displayName: "town1 用户" } });
    const audited = await ctx.db.prisma.auditLog.findFirst({ where: { action: "bind_code.issue", targetId: String(code.id) } });
    expect(audited).not.toBeNull();
  });

  test("several secretaries or none: a member must be chosen; a member of another branch, a unit out of scope and a party group are refused", async () => {
    const several = expectApiError(await call(`/api/org/units/${units.b3}/bind-codes`, { token: tokens.town1, body: {} }), 400, "BIND_CODE_MEMBER_REQUIRED");
    expect(several.message).toContain("王大、王二");
    expect(several.message).toContain("请选择");
    expect(expectApiError(await call(`/api/org/units/${units.b4}/bind-codes`, { token: tokens.town1, body: {} }), 400, "BIND_CODE_MEMBER_REQUIRED").message).toContain("请选择");
    expect((await issue(units.b3, { memberId: units.b3secs[1] })).member?.name).toBe("王二");
    expectApiError(await call(`/api/org/units/${county.branch1.id}/bind-codes`, { token: tokens.town1, body: { memberId: county.members.zhaoliu.id } }), 400, "BIND_CODE_MEMBER_NOT_ON_ROSTER");
    expectApiError(await call(`/api/org/units/${county.branch2.id}/bind-codes`, { token: tokens.sec1, body: {} }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/org/units/${county.branch2.id}/bind-codes`, { token: tokens.town1, body: {} }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/org/units/${county.branch1.id}/bind-codes`, { token: tokens.sec1, body: { memberId: "三" } }), 400, "VALIDATION_FAILED");
    // A town's cadre group: nobody has to be named.
    expect((await issue(county.town1.id)).member).toBeNull();
  });

  test("an unused code can be revoked (twice is the same); it is then listed as revoked", async () => {
    const code = await issue(county.branch1.id, {}, tokens.sec1);
    const first = await call(`/api/bind-codes/${code.id}/revoke`, { token: tokens.sec1, method: "POST" });
    expect(first.status).toBe(200);
    expect(first.json.revokedAt).toEqual(expect.any(String));
    const again = await call(`/api/bind-codes/${code.id}/revoke`, { token: tokens.sec1, method: "POST" });
    expect(again.json.revokedAt).toBe(first.json.revokedAt);
    expectApiError(await call(`/api/bind-codes/999999/revoke`, { token: tokens.sec1, method: "POST" }), 404, "BIND_CODE_NOT_FOUND");
    revoked = code.code;
  });
});

describe("a fresh WeChat group comes online with 绑定 <码>", () => {
  test("the secretary sends it (lower case, full-width, spaced): the group is bound, he is linked as secretary and can run 名单核对", async () => {
    const code = await issue(county.branch1.id);
    used = { id: code.id, code: code.code };
    const reply = await sayWx(wechat, "wx_wangwu", `绑定 ${sloppy(code.code)}`, ROOM);
    expect(reply).toContain("绑定成功！本微信群已绑定到「李家庄村党支部」");
    expect(reply).toContain("王五同志已登记为本支部书记");
    expect(reply).toContain("我是 姓名 手机后四位");

    const group = await groupRow("WECHAT", ROOM);
    const identity = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { channel: "WECHAT", platformUserId: "wx_wangwu" } });
    expect(group).toMatchObject({ orgUnitId: county.branch1.id, kind: "BRANCH", boundByIdentityId: identity.id });
    expect(identity.memberId).toBe(county.members.wangwu.id);
    expect(await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { id: code.id } })).toMatchObject({ usedByIdentityId: identity.id, usedGroupId: group.id, usedAt: expect.any(Date) });
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "group.bind_by_code", targetId: String(group.id) } });
    expect(audit).toMatchObject({ channel: "WECHAT", actorIdentityId: identity.id });

    expect(await sayWx(wechat, "wx_wangwu", "名单核对", ROOM)).toContain("「李家庄村党支部」名单核对");
    const list = await call(`/api/org/units/${county.branch1.id}/bind-codes`, { token: tokens.sec1 });
    expect(list.json.items.find((i: { id: number }) => i.id === code.id)).toMatchObject({ usedAt: expect.any(String), group: { id: group.id, topic: "李家庄村党员群", channel: "WECHAT" } });
  });

  test("a member named on the code for a branch without a secretary becomes its secretary", async () => {
    const code = await issue(units.b4, { memberId: units.zhoujiu });
    expect(await sayWx(wechat, "wx_zhoujiu", `绑定 ${code.code}`, NEWB)).toContain("周九同志已登记为本支部书记");
    expect((await ctx.db.prisma.member.findUniqueOrThrow({ where: { id: units.zhoujiu } })).isSecretary).toBe(true);
    expect(await sayWx(wechat, "wx_zhoujiu", "名单核对", NEWB)).toContain("「新建村党支部」名单核对");
  });

  test("the same code a second time is refused, saying where it was used; the group stays unbound and a used code cannot be revoked", async () => {
    const reply = await sayWx(wechat, "wx_stranger", `绑定 ${used.code}`, OTHER);
    expect(reply).toContain("用于绑定“李家庄村党员群”");
    expect(reply).toContain("只能使用一次");
    expect((await groupRow("WECHAT", OTHER)).orgUnitId).toBeNull();
    expect((await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_stranger" } })).memberId).toBeNull();
    expectApiError(await call(`/api/bind-codes/${used.id}/revoke`, { token: tokens.sec1, method: "POST" }), 409, "BIND_CODE_USED");
  });

  test("a code for another unit, sent in a group already bound, is refused and revoked: everyone there has seen it", async () => {
    const other = await issue(county.branch2.id, {}, tokens.county);
    const reply = await sayWx(wechat, "wx_zhangsan", `绑定 ${other.code}`, ROOM);
    expect(reply).toContain("本群已绑定到「李家庄村党支部」，不能再绑定到「河西村党支部」");
    expect(reply).toContain("该绑定码已作废，请在管理后台重新生成");
    expect((await groupRow("WECHAT", ROOM)).orgUnitId).toBe(county.branch1.id);
    expect(await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { id: other.id } })).toMatchObject({ usedAt: null, revokedAt: expect.any(Date) });
    const zhangsan = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_zhangsan" } });
    expect(await ctx.db.prisma.auditLog.findFirst({ where: { action: "bind_code.revoke", targetId: String(other.id) } })).toMatchObject({
      actorIdentityId: zhangsan.id,
      detail: expect.objectContaining({ reason: "refused_in_chat", refusal: "GROUP_ALREADY_BOUND" }),
    });
    // Whoever saw it cannot use it elsewhere.
    expect(await sayWx(wechat, "wx_zhoujiu", `绑定 ${other.code}`, NEWB)).toContain("该绑定码已作废");
    expect((await groupRow("WECHAT", NEWB)).orgUnitId).toBe(units.b4);
    expect((await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_zhangsan" } })).memberId).toBeNull();
  });

  test("wrong, expired and revoked codes get their own answers; tries are limited per person and per group", async () => {
    // wx_stranger's second try (the used code above was the first).
    expect(await sayWx(wechat, "wx_stranger", "绑定 ZZZZZZ", OTHER)).toContain("绑定码“ZZZZZZ”不正确");
    const expired = await issue(county.branch1.id);
    await ctx.db.prisma.bindCode.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    const expiredReply = await sayWx(wechat, "wx_stranger", `绑定 ${expired.code}`, OTHER);
    expect(expiredReply).toContain("过期");
    expect(expiredReply).not.toContain("只能使用一次");
    expect(await sayWx(wechat, "wx_stranger", `绑定 ${revoked}`, OTHER)).toContain("已作废");
    expect(await sayWx(wechat, "wx_stranger", "绑定 hello", OTHER)).toContain("不正确");
    // The sixth try within ten minutes is refused, even with a good code, which stays unused.
    const good = await issue(county.branch1.id);
    expect(await sayWx(wechat, "wx_stranger", `绑定 ${good.code}`, OTHER)).toMatch(/尝试次数过多，请 (9|10) 分钟后再试/);
    expect((await groupRow("WECHAT", OTHER)).orgUnitId).toBeNull();
    expect((await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { id: good.id } })).usedAt).toBeNull();

    // The group's own limit: five more tries by a second person fill it; a third person is then refused.
    for (let i = 0; i < 5; i++) expect(await sayWx(wechat, "wx_s2", `绑定 WRONG${"ABCDE"[i]}`, OTHER)).toContain("不正确");
    expect(await sayWx(wechat, "wx_s3", `绑定 ${good.code}`, OTHER)).toMatch(/尝试次数过多，请 (9|10) 分钟后再试/);
    expect((await groupRow("WECHAT", OTHER)).orgUnitId).toBeNull();
  });

  test("a linked secretary may still bind by the unit's code (绑定 <支部编码>), whatever the try limit", async () => {
    expect(await sayWx(wechat, "wx_wangwu", `绑定 ${county.branch1.code}`, OTHER)).toContain("已将本群绑定到「李家庄村党支部」");
    expect((await groupRow("WECHAT", OTHER)).orgUnitId).toBe(county.branch1.id);
  });

  test("privately on WeChat, a stranger's 我是 is pointed to 微信群", async () => {
    const reply = wechat.waitForBot("wx_racer");
    wechat.say("wx_racer", "我是 王小二 9999");
    const text = (await reply).text;
    expect(text).toContain("微信群");
    expect(text).not.toContain("QQ群");
  });
});

describe("a fresh QQ group comes online the same way", () => {
  test("赵六 sends 绑定 <码> in a new QQ group: bound to 河西村党支部, linked as its secretary, 名单核对 works", async () => {
    const code = await issue(county.branch2.id, {}, tokens.county);
    const reply = await sayQQ(40001, `绑定 ${code.code}`, QQ_GROUP);
    expect(reply).toContain("绑定成功！本QQ群已绑定到「河西村党支部」");
    expect(reply).toContain("赵六同志已登记为本支部书记");
    expect(reply).not.toContain("微信");
    expect(await groupRow("QQ", String(QQ_GROUP))).toMatchObject({ orgUnitId: county.branch2.id, kind: "BRANCH" });
    expect((await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { channel: "QQ", platformUserId: "40001" } })).memberId).toBe(county.members.zhaoliu.id);
    expect(await sayQQ(40001, "名单核对", QQ_GROUP)).toContain("「河西村党支部」名单核对");
  });

  test("privately on QQ, 我是 links a member of any branch with a bound group (without being in it); a stranger is told about QQ群", async () => {
    expect(await sayQQ(40005, "我是 钱八 8888", undefined, "钱八")).toContain("登记成功，欢迎您，钱八同志（河西村党支部）");
    expect((await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { channel: "QQ", platformUserId: "40005" } })).memberId).toBe(units.qianba);
    // 王大's branch (王家村) has no bound group yet: not reachable privately.
    const stranger = await sayQQ(40009, "我是 王大 1111", undefined, "路人");
    expect(stranger).toContain("QQ群");
    expect(stranger).not.toContain("微信群");
  });
});

describe("two redemptions of one code at the same time", () => {
  test("from a WeChat and a QQ group at once: exactly one group is bound, the other is told the code is used", async () => {
    const code = await issue(units.b3, { memberId: units.b3secs[0] });
    const since = peer.sent.length;
    const wxReply = wechat.waitForBot(RACE);
    wechat.say("wx_racer", `绑定 ${code.code}`, RACE);
    peer.say(QQ_RACE, 40003, `绑定 ${code.code}`);
    const texts = [(await wxReply).text, (await peer.waitForSent((m) => m.group_id === QQ_RACE, 15_000, since)).text];
    expect(texts.filter((t) => t.includes("绑定成功"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("使用"))).toHaveLength(1);
    const bound = await ctx.db.prisma.chatGroup.findMany({ where: { orgUnitId: units.b3 } });
    expect(bound).toHaveLength(1);
    expect((await ctx.db.prisma.bindCode.findUniqueOrThrow({ where: { id: code.id } })).usedGroupId).toBe(bound[0].id);
  });

  test("two transactions racing on one code: one wins, the other gets BIND_CODE_USED and writes nothing", async () => {
    const prisma = ctx.db.prisma;
    const code = await issue(county.branch1.id, { memberId: county.members.sunqi.id });
    const contenders = await Promise.all(
      [1, 2].map(async (i) => ({
        group: await prisma.chatGroup.create({ data: { channel: "QQ", platformGroupId: `race-tx-${i}`, topic: `竞争群${i}` } }),
        identity: await prisma.chatIdentity.create({ data: { channel: "QQ", platformUserId: `race-tx-user-${i}`, displayName: `竞争者${i}` } }),
      })),
    );
    const results = await Promise.allSettled(
      contenders.map((c) => prisma.$transaction((tx) => redeemBindCode(tx, { identityId: c.identity.id, memberId: null }, { text: code.code, groupId: c.group.id, channel: "QQ" }))),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ code: "BIND_CODE_USED" });
    const groups = await prisma.chatGroup.findMany({ where: { id: { in: contenders.map((c) => c.group.id) } }, orderBy: { id: "asc" } });
    expect(groups.filter((g) => g.orgUnitId === county.branch1.id)).toHaveLength(1);
    expect(groups.filter((g) => g.orgUnitId === null)).toHaveLength(1);
    const ids = await prisma.chatIdentity.findMany({ where: { id: { in: contenders.map((c) => c.identity.id) } } });
    expect(ids.filter((i) => i.memberId === county.members.sunqi.id)).toHaveLength(1);
  });
});

describe("a WeChat re-login that gives every room a new id", () => {
  const people = [
    { id: "wr_a", name: "赵六" },
    { id: "wr_b", name: "老孙" },
    { id: "wr_c", name: "小钱" },
    { id: "wr_d", name: "小周" },
    { id: "wr_e", name: "小吴" },
  ];
  const cadres = [
    { id: "wr_a", name: "赵六" },
    { id: "wr_f", name: "丁一" },
  ];

  test("a bound group with the same topic and most of its members is found again; a renamed one is only listed as lost (still active, kept in notices)", async () => {
    const prisma = ctx.db.prisma;
    const wr = new MockWechat("支部小助手三号");
    wr.room("re-1@chatroom", "河西村党员微信群", people);
    wr.room("re-cadre-1@chatroom", "东山镇干部群", cadres);
    const bot = await startBot(ctx, { puppet: wr.puppet, account: "wx-re" });
    bots.push(bot);
    wr.login();
    await eventually(async () => expect(await prisma.groupAccount.count({ where: { accountId: bot.accountId, active: true } })).toBe(2));
    expect(await sayWx(wr, "wr_a", `绑定 ${(await issue(county.branch2.id, {}, tokens.county)).code}`, "re-1@chatroom")).toContain("绑定成功");
    expect(await sayWx(wr, "wr_f", `绑定 ${(await issue(county.town1.id)).code}`, "re-cadre-1@chatroom")).toContain("绑定成功！本微信群已绑定到「东山镇」");

    // wechat4u: log out, and the next login lists the same rooms under new ids (one member changed, one room renamed).
    wr.logout();
    await eventually(async () => expect((await prisma.botAccount.findUniqueOrThrow({ where: { id: bot.accountId } })).status).toBe("OFFLINE"));
    wr.forgetRoom("re-1@chatroom");
    wr.forgetRoom("re-cadre-1@chatroom");
    wr.room("re-2@chatroom", "河西村党员微信群", [...people.slice(0, 4), { id: "wr_g", name: "小郑" }]);
    wr.room("re-cadre-2@chatroom", "东山镇党建工作群", cadres);
    wr.login();

    const [old, moved, oldCadre] = await eventually(async () => {
      const rows = await Promise.all(["re-1@chatroom", "re-2@chatroom", "re-cadre-1@chatroom"].map((id) => groupRow("WECHAT", id)));
      expect(rows[1]).toMatchObject({ orgUnitId: county.branch2.id, kind: "BRANCH", active: true, lostAt: null });
      expect(rows[2].lostAt).not.toBeNull();
      return rows;
    }, 20_000);
    expect(old).toMatchObject({ active: false, lostAt: null });
    expect(moved.boundAt?.getTime()).toBe(old.boundAt?.getTime());
    // Only listed as lost: still active, so a list that was merely incomplete does not drop it from notices.
    expect(oldCadre).toMatchObject({ active: true, orgUnitId: county.town1.id });
    expect(await prisma.auditLog.findFirst({ where: { action: "group.rebind_after_relogin", targetId: String(moved.id) } })).toMatchObject({ detail: expect.objectContaining({ fromGroupId: old.id }) });
    expect(await sayWx(wr, "wr_b", "本群信息", "re-2@chatroom")).toContain("本群绑定：「河西村党支部」");

    // The console lists the lost one for the town (and the county), with when it was lost.
    const lost = await call("/api/groups?lost=true", { token: tokens.town1 });
    expect(lost.status).toBe(200);
    expect(lost.json.items.map((g: { id: number }) => g.id)).toEqual([oldCadre.id]);
    expect(lost.json.items[0]).toMatchObject({ topic: "东山镇干部群", lostAt: oldCadre.lostAt!.toISOString(), orgUnit: { id: county.town1.id } });
    expect((await call("/api/groups?lost=true", { token: tokens.county })).json.total).toBe(1);
    expect((await call("/api/groups", { token: tokens.county })).json.items.find((g: { id: number }) => g.id === moved.id)).toMatchObject({ lostAt: null });

    // 绑定 <码> in the renamed group binds it; the old one has another name (a town may have several groups), so it
    // stays listed as lost for the console to deal with.
    expect(await sayWx(wr, "wr_f", `绑定 ${(await issue(county.town1.id)).code}`, "re-cadre-2@chatroom")).toContain("绑定成功");
    expect((await groupRow("WECHAT", "re-cadre-1@chatroom")).lostAt).not.toBeNull();
    expect((await call("/api/groups?lost=true", { token: tokens.town1 })).json.items.map((g: { id: number }) => g.id)).toEqual([oldCadre.id]);
  }, 90_000);
});
