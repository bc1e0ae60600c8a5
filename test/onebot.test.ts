// QQ groups through OneBot v11, end to end: a NapCat-like peer (test/support/onebot-peer.ts) connects to the reverse
// WebSocket our API port serves, or serves the forward one we dial, and members talk to the bot through it, against
// real PostgreSQL and Redis. The same branch also has a WeChat group (wechaty-puppet-mock), so one member with a
// WeChat and a QQ identity is seen checking in on both.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { pino } from "pino";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApi, type RunningApi } from "../api/app.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { OneBotAdapter } from "../bot/adapters/onebot.ts";
import { OneBotReverseHub } from "../bot/adapters/onebot-reverse.ts";
import { enqueue, wakeSenders } from "../core/delivery/outbox.ts";
import { runCalendarReminders } from "../core/calendar/reminders.ts";
import { CHINA_OFFSET_MS } from "../core/meetings/time.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { NapCatPeer, groupIncrease as groupIncreaseOf, groupMessage, kickedOut, type PeerGroup } from "./support/onebot-peer.ts";

const TOKEN = "s3cret-token";
const SELF = 10001;
const GROUP = 700001; // 李家庄村党员QQ群, bound to branch 1
const GROUP2 = 700002; // 河西村 QQ group, reached through the forward transport
const ROOM = "lijiazhuang@chatroom"; // the same branch's WeChat group
const QQ = { wangwu: 30001, zhangsan: 30002, lisi: 30003, sunqi: 30004, zhaoliu: 40001, newcomer: 30009 };

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let peer: NapCatPeer;
let qqBot: BotHandle;
let wechat: MockWechat;
let wxBot: BotHandle;
let qqAccountId: number;
const logs: { msg: string; [k: string]: unknown }[] = [];

const group1 = (): PeerGroup => ({
  group_id: GROUP,
  group_name: "李家庄村党员QQ群",
  members: [
    { user_id: QQ.wangwu, nickname: "王五", card: "王五（书记）", role: "owner" },
    { user_id: QQ.zhangsan, nickname: "三哥", card: "", role: "member" },
    { user_id: QQ.lisi, nickname: "老李", card: "", role: "member" },
    { user_id: QQ.sunqi, nickname: "孙七", card: "", role: "member" },
  ],
});

/** "2026-11-25 19:30" in China time, minutes from now. */
function chinaClock(minutesFromNow: number) {
  const d = new Date(Date.now() + minutesFromNow * 60_000 + CHINA_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** A member says `text` in the QQ group; resolves with the bot's next matching message there (or privately to `privately`). */
async function ask(userId: number, text: string, match: (t: string) => boolean = () => true, privately?: number) {
  const since = peer.sent.length;
  peer.say(GROUP, userId, text);
  return peer.waitForSent((m) => (privately ? m.user_id === privately : m.group_id === GROUP) && match(m.text), 15_000, since);
}

const linkQQ = (qq: number, name: string, memberId: number) =>
  ctx.db.prisma.chatIdentity.create({ data: { channel: "QQ", scope: "", platformUserId: String(qq), displayName: name, memberId, linkedAt: new Date() } });

beforeAll(async () => {
  ctx = await createTestContext("onebot", {
    env: {
      BOT_PLATFORM: "qq",
      ONEBOT_ACCESS_TOKEN: TOKEN,
      ONEBOT_SELF_ID: String(SELF),
      ONEBOT_ACTION_TIMEOUT_MS: "1500",
      CHECKIN_ACK_INTERVAL_SEC: "1",
      SENDER_COOLDOWN_MS: "1500",
      STORAGE_DIR: mkdtempSync(join(tmpdir(), "nb-onebot-")),
    },
  });
  // Operators' alerts are log lines: keep them to look at.
  ctx.log = pino({ level: "info" }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "OB");
  await linkQQ(QQ.wangwu, "王五（书记）", county.members.wangwu.id);
  await linkQQ(QQ.zhangsan, "三哥", county.members.zhangsan.id);
  // 张三 is in the WeChat group too, linked to the same roster member.
  await linkWechat(prisma, "wx-ob", "wx_zhangsan", "三哥", county.members.zhangsan.id);
  await linkWechat(prisma, "wx-ob", "wx_wangwu", "王五", county.members.wangwu.id);
  qqAccountId = (await prisma.botAccount.create({ data: { name: "qq-1", channel: "QQ", sendsPerMinute: 500, sendsPerHour: 5000 } })).id;
  await prisma.botAccount.create({ data: { name: "wx-ob", channel: "WECHAT", sendsPerMinute: 500, sendsPerHour: 5000 } });
  await prisma.botAccount.create({ data: { name: "qq-fwd", channel: "QQ", sendsPerMinute: 500, sendsPerHour: 5000 } });
  await prisma.chatGroup.create({ data: { channel: "QQ", platformGroupId: String(GROUP), topic: "李家庄村党员QQ群", orgUnitId: county.branch1.id, kind: "BRANCH" } });
  await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村党员群", orgUnitId: county.branch1.id, kind: "BRANCH" } });
  await prisma.chatGroup.create({ data: { channel: "QQ", platformGroupId: String(GROUP2), topic: "河西村QQ群", orgUnitId: county.branch2.id, kind: "BRANCH" } });

  // The API port serves the reverse WebSocket; the bot process is configured for QQ (BOT_PLATFORM=qq).
  api = await startApi(ctx);
  qqBot = await startBot(ctx, { account: "qq-1", httpServer: api.server });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党员群", [
    { id: "wx_wangwu", name: "王五" },
    { id: "wx_zhangsan", name: "三哥" },
  ]);
  wxBot = await startBot(ctx, { puppet: wechat.puppet, account: "wx-ob" });
  wechat.login();
  peer = new NapCatPeer({ selfId: SELF, nickname: "支部小助手QQ", token: TOKEN, heartbeatMs: 500, reconnectMs: 100, groups: [group1()] });
});

afterAll(async () => {
  await peer?.close();
  await qqBot?.stop();
  await wxBot?.stop();
  await api?.close();
  await ctx?.close();
});

describe("reverse WebSocket handshake", () => {
  const url = () => OneBotReverseHub.on(api.server, ctx.log).url;

  test("the endpoint is on the API port", () => {
    expect(url()).toBe(`${api.url.replace("http", "ws")}/onebot/v11/ws`);
  });

  test("a missing token is refused with 401, a wrong one with 403, an unknown QQ with 404, before any event", async () => {
    const intruder = new NapCatPeer({ selfId: SELF, heartbeatMs: 0, groups: [group1()] });
    await expect(intruder.connectReverse(url(), { tokenVia: "none" })).rejects.toMatchObject({ status: 401 });
    await expect(intruder.connectReverse(url(), { token: "guess" })).rejects.toMatchObject({ status: 403 });
    await expect(intruder.connectReverse(url(), { token: "guess", tokenVia: "query" })).rejects.toMatchObject({ status: 403 });
    const stranger = new NapCatPeer({ selfId: 99999, token: TOKEN, heartbeatMs: 0 });
    await expect(stranger.connectReverse(url())).rejects.toMatchObject({ status: 404 });
    await intruder.close();
    await stranger.close();
    expect(qqBot.adapter.isOnline()).toBe(false);
    expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "qq-1" } })).toMatchObject({ status: "OFFLINE" });
  });

  test("the right token connects: lifecycle, get_login_info, then the groups and their members are synced", async () => {
    await peer.connectReverse(url());
    await eventually(async () =>
      expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "qq-1" } })).toMatchObject({ status: "ONLINE", platformSelfId: String(SELF), displayName: "支部小助手QQ" }),
    );
    expect(peer.actions[0].action).toBe("get_login_info");
    await eventually(async () => {
      const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(GROUP) } } });
      expect(g.memberCount).toBe(4);
      // QQ numbers are global: identities have no per-account scope.
      const ids = await ctx.db.prisma.chatIdentity.findMany({ where: { channel: "QQ" } });
      expect(ids.map((i) => i.scope)).toEqual(ids.map(() => ""));
      expect(ids.find((i) => i.platformUserId === String(QQ.lisi))?.displayName).toBe("老李");
    });
    expect(peer.actions.map((a) => a.action)).toEqual(expect.arrayContaining(["get_group_list", "get_group_member_list"]));
    expect(peer.actions.find((a) => a.action === "get_group_member_list")?.params).toEqual({ group_id: GROUP });
  });
});

describe("messages and commands", () => {
  test("a group command is answered with send_group_msg; plain chat, message_sent and the bot's own messages are ignored", async () => {
    const since = peer.sent.length;
    peer.say(GROUP, QQ.lisi, "今天天气不错");
    // NapCat's reportSelfMessage: our own messages come back as message_sent (and some builds as message from self_id).
    const self = { user_id: SELF, nickname: "支部小助手QQ", card: "", role: "member" as const };
    const own = groupMessage(SELF, 1, peer.groups.get(GROUP)!, self, [{ type: "text", data: { text: "帮助" } }], "array");
    peer.post({ ...own, post_type: "message_sent" });
    peer.post(own);
    const reply = await ask(QQ.zhangsan, "帮助");
    expect(reply.action).toBe("send_group_msg");
    expect(reply.text).toContain("签到");
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.sent.slice(since).filter((s) => s.text.startsWith("可用命令"))).toHaveLength(1);
    expect(peer.sent.filter((s) => s.text.includes("天气"))).toHaveLength(0);
    expect(peer.violations).toEqual([]);
  });

  test("@-mentions arrive as mentions and go out as at segments", async () => {
    // 我是 links 老李 (not yet registered) privately, as in WeChat.
    const since = peer.sent.length;
    peer.sayPrivately({ user_id: QQ.lisi, nickname: "老李" }, "我是 李四 5678");
    const linked = await peer.waitForSent((m) => m.user_id === QQ.lisi, 10_000, since);
    expect(linked.action).toBe("send_private_msg");
    expect(linked.text).toContain("登记成功，欢迎您，李四同志");
    // 登记 @孙七: the secretary registers someone by @-mentioning them (segments: text, at, text).
    const before = peer.sent.length;
    peer.say(GROUP, QQ.wangwu, [
      { type: "text", data: { text: "登记 " } },
      { type: "at", data: { qq: String(QQ.sunqi) } },
      { type: "text", data: { text: " 孙七" } },
    ]);
    const reply = await peer.waitForSent((m) => m.group_id === GROUP && m.text.includes("已登记"), 10_000, before);
    expect(reply.message[0]).toEqual({ type: "at", data: { qq: String(QQ.sunqi) } });
    expect(reply.message[1]).toEqual({ type: "text", data: { text: " 已登记：孙七 → 孙七（李家庄村党支部）。" } });
    const sunqi = await ctx.db.prisma.chatIdentity.findUniqueOrThrow({ where: { channel_scope_platformUserId: { channel: "QQ", scope: "", platformUserId: String(QQ.sunqi) } } });
    expect(sunqi.memberId).toBe(county.members.sunqi.id);
  });

  test("an @ of the bot itself is 'mentions me', not a mention", async () => {
    const since = peer.sent.length;
    peer.say(GROUP, QQ.zhangsan, [
      { type: "at", data: { qq: String(SELF) } },
      { type: "text", data: { text: " 你好" } },
    ]);
    const reply = await peer.waitForSent((m) => m.group_id === GROUP, 10_000, since);
    expect(reply.text).toContain("帮助");
  });

  test("string-format (CQ code) messages: escaped text and codes are read back exactly", async () => {
    const since = peer.sent.length;
    // NapCat with messagePostFormat "string": "反映 路灯[坏了]&没人修,快来" travels as 路灯&#91;坏了&#93;&amp;没人修,快来.
    peer.say(GROUP, QQ.zhangsan, "反映 村口路灯[坏了]&没人修,快来", "string");
    const ack = await peer.waitForSent((m) => m.group_id === GROUP && m.text.includes("已收到您的反映"), 10_000, since);
    expect(ack.mentions).toEqual([String(QQ.zhangsan)]);
    const receipt = await peer.waitForSent((m) => m.user_id === QQ.zhangsan, 10_000, since);
    expect(receipt.action).toBe("send_private_msg");
    const complaint = await ctx.db.prisma.complaint.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(complaint.content).toBe("村口路灯[坏了]&没人修,快来");
    expect(complaint.channel).toBe("QQ");
    expect(receipt.text).toContain(complaint.number);
    // A CQ @ in string form ("准假 [CQ:at,qq=40001]") is a mention too: the command finds its target and looks for the leave.
    const before = peer.sent.length;
    peer.say(GROUP, QQ.wangwu, [{ type: "text", data: { text: "准假 " } }, { type: "at", data: { qq: String(QQ.zhaoliu) } }], "string");
    expect((await peer.waitForSent((m) => m.group_id === GROUP, 10_000, before)).text).toContain("没有找到这位成员的请假");
    // Text that merely looks like a code (escaped on the wire) stays text: no mention, so the command asks for one.
    const after = peer.sent.length;
    peer.say(GROUP, QQ.wangwu, `准假 [CQ:at,qq=${QQ.zhaoliu}]`, "string");
    expect((await peer.waitForSent((m) => m.group_id === GROUP, 10_000, after)).text).toContain("请 @ 一位请假的群成员");
  });

  test("a photo sent privately right after filing attaches to the complaint (downloaded from the image segment's url)", async () => {
    const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
    const files = createServer((_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(PNG));
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", () => r()));
    try {
      const since = peer.sent.length;
      const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/download?fileid=abc`;
      peer.sayPrivately({ user_id: QQ.zhangsan, nickname: "三哥" }, [{ type: "image", data: { file: "abc.png", url, summary: "", sub_type: 0, file_size: String(PNG.length) } }]);
      const ack = await peer.waitForSent((m) => m.user_id === QQ.zhangsan && m.text.includes("照片已收到"), 10_000, since);
      const complaint = await ctx.db.prisma.complaint.findFirstOrThrow({ orderBy: { id: "desc" }, include: { attachments: true } });
      expect(ack.text).toContain(complaint.number);
      expect(complaint.attachments).toHaveLength(1);
      expect(complaint.attachments[0]).toMatchObject({ mimeType: "image/png", sizeBytes: PNG.length });
    } finally {
      await new Promise((r) => files.close(r));
    }
  });
});

describe("the same check-in flow as WeChat", () => {
  test("the secretary publishes in the QQ group: both of the branch's groups get the notice, the secretary a private confirmation", async () => {
    const since = peer.sent.length;
    const wxNotice = wechat.waitForBot(ROOM, (t) => t.startsWith("【学习通知】学习党章"));
    peer.say(GROUP, QQ.wangwu, `发布学习 ${chinaClock(10)} 学习党章 村委会会议室`);
    const notice = await peer.waitForSent((m) => m.group_id === GROUP && m.text.startsWith("【学习通知】学习党章"), 15_000, since);
    expect(notice.text).toMatch(/签到：\d\d:\d\d—\d\d:\d\d，在群里发送“签到”/);
    const confirm = await peer.waitForSent((m) => m.user_id === QQ.wangwu && m.text.startsWith("已发布"), 15_000, since);
    expect(confirm.text).toContain("通知已发到 2 个群");
    await wxNotice;
  });

  test("check-ins are summarised, a repeat is acknowledged and not counted twice", async () => {
    const since = peer.sent.length;
    peer.say(GROUP, QQ.zhangsan, "签到");
    peer.say(GROUP, QQ.lisi, "到！");
    const summary = await peer.waitForSent((m) => m.group_id === GROUP && /已签到 2\/4/.test(m.text), 15_000, since);
    expect(summary.text).toMatch(/张三|李四/);
    const rows = await ctx.db.prisma.attendance.findMany({ where: { status: "PRESENT" } });
    expect(rows.map((r) => r.memberId).sort()).toEqual([county.members.zhangsan.id, county.members.lisi.id].sort());
    expect(rows.every((r) => r.source === "QQ")).toBe(true);
    // Never one reply per member.
    expect(peer.sent.slice(since).filter((m) => /已签到/.test(m.text)).length).toBeLessThanOrEqual(2);
    // QQ message times are whole seconds, and the same person at the same message time is the same check-in (the copy
    // a second account in the group receives): a real second 签到 comes at least a second later.
    await new Promise((r) => setTimeout(r, 1100));
    const repeat = await ask(QQ.zhangsan, "签到 我在路上", (t) => t.includes("已经签过到了"));
    expect(repeat.text).toContain("张三已经签过到了");
    expect(await ctx.db.prisma.attendance.count({ where: { memberId: county.members.zhangsan.id } })).toBe(1);
  });

  test("one member with a WeChat and a QQ identity checking in on both is counted once", async () => {
    const reply = wechat.waitForBot(ROOM, (t) => t.includes("已经签过到了"));
    wechat.say("wx_zhangsan", "签到", ROOM);
    expect((await reply).text).toContain("张三已经签过到了");
    expect(await ctx.db.prisma.attendance.count({ where: { memberId: county.members.zhangsan.id } })).toBe(1);
    const stats = await ask(QQ.wangwu, "统计", (t) => t.includes("应到"));
    expect(stats.text).toContain("应到 4 人，已签到 2 人");
  });

  test("请假, and 未签到 @-mentions the absentees with at segments", async () => {
    expect((await ask(QQ.sunqi, "请假 家里有事", (t) => t.includes("请假"))).text).toMatch(/请假已登记.*家里有事/);
    const nudge = await ask(QQ.wangwu, "未签到", (t) => t.includes("未签到"));
    expect(nudge.mentions).toEqual([String(QQ.wangwu)]);
    expect(nudge.message[0]).toEqual({ type: "at", data: { qq: String(QQ.wangwu) } });
  });
});

describe("reminders reach QQ groups", () => {
  test("the calendar's 24 h reminder for a 党课 published in the QQ group goes to the QQ and the WeChat group", async () => {
    const since = peer.sent.length;
    peer.say(GROUP, QQ.wangwu, `发布学习 ${chinaClock(3 * 24 * 60)} 党课 讲党史 党员活动室`);
    await peer.waitForSent((m) => m.group_id === GROUP && m.text.includes("【党课通知】"), 15_000, since);
    const lecture = await ctx.db.prisma.meeting.findFirstOrThrow({ where: { type: "PARTY_LECTURE" } });
    const wx = wechat.waitForBot(ROOM, (t) => t.includes("讲党史") && t.includes("提醒】"));
    await runCalendarReminders(ctx.db.prisma, ctx.config, new Date(lecture.plannedAt.getTime() - 24 * 3600_000 + 1000));
    await wakeSenders(ctx.coord, null);
    const qq = await peer.waitForSent((m) => m.group_id === GROUP && m.text.includes("讲党史") && m.text.includes("提醒】"), 15_000, since);
    expect(qq.action).toBe("send_group_msg");
    await wx;
  });
});

describe("failures are classified like WeChat's", () => {
  const sendNotice = async (body: string, key: string, platformGroupId = String(GROUP)) => {
    const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId } } });
    await ctx.db.prisma.$transaction((tx) => enqueue(tx, { channel: "QQ", groupId: g.id, body, idempotencyKey: key }));
    await wakeSenders(ctx.coord, null);
    return () => ctx.db.prisma.delivery.findUniqueOrThrow({ where: { idempotencyKey: key } });
  };

  test("NapCat's risk-control answer (retcode 1200, sendMsg timeout) cools the account down; the message goes out after", async () => {
    peer.respondOnce("send_group_msg", () => ({ status: "failed", retcode: 1200, data: null, message: "Timeout: NTEvent serviceAndMethod:NodeIKernelMsgService/sendMsg ListenerName:NodeIKernelMsgListener/onMsgInfoListUpdate EventRet: {}" }));
    const row = await sendNotice("【通知】风控测试", "ob-risk");
    await eventually(async () => expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: qqAccountId } })).toMatchObject({ status: "COOLDOWN" }));
    expect((await row()).errorClass).toBe("rate_limited");
    await peer.waitForSent((m) => m.text === "【通知】风控测试", 20_000);
    await eventually(async () => expect((await row()).status).toBe("SENT"), 10_000);
  });

  test("a send nobody answers times out and backs off the same way (no hammering)", async () => {
    peer.respondOnce("send_group_msg", () => "silence");
    const row = await sendNotice("【通知】超时测试", "ob-timeout");
    await eventually(async () => expect((await row()).errorClass).toBe("rate_limited"), 10_000);
    const attemptsAfterTimeout = peer.actions.filter((a) => a.action === "send_group_msg" && JSON.stringify(a.params).includes("超时测试")).length;
    expect(attemptsAfterTimeout).toBe(1);
    await peer.waitForSent((m) => m.text === "【通知】超时测试", 20_000);
  });

  test("an ordinary failure is retried later; a group the account is not in fails as not_found", async () => {
    peer.respondOnce("send_group_msg", () => ({ status: "failed", retcode: 100, data: null, message: "网络错误" }));
    const row = await sendNotice("【通知】重试测试", "ob-transient");
    await eventually(async () => expect((await row()).errorClass).toBe("transient"), 10_000);
    await peer.waitForSent((m) => m.text === "【通知】重试测试", 20_000);
    await eventually(async () => expect(await row()).toMatchObject({ status: "SENT", attempts: 2 }), 10_000);

    const gone = await ctx.db.prisma.chatGroup.create({ data: { channel: "QQ", platformGroupId: "799999", topic: "已退出的群", kind: "OTHER" } });
    await ctx.db.prisma.groupAccount.create({ data: { groupId: gone.id, accountId: qqAccountId } });
    const lost = await sendNotice("【通知】无此群", "ob-notfound", "799999");
    await eventually(async () => expect(await lost()).toMatchObject({ status: "FAILED", errorClass: "not_found" }), 10_000);
    expect((await ctx.db.prisma.groupAccount.findFirstOrThrow({ where: { groupId: gone.id } })).active).toBe(false);
  });
});

describe("roster notices", () => {
  const membership = async (qq: number) =>
    ctx.db.prisma.groupMembership.findFirst({ where: { identity: { channel: "QQ", platformUserId: String(qq) }, group: { platformGroupId: String(GROUP) } }, include: { identity: true } });

  test("group_increase adds the newcomer (named by get_group_member_info), group_decrease marks them gone", async () => {
    peer.join(GROUP, { user_id: QQ.newcomer, nickname: "新人", card: "新来的小刘", role: "member" });
    await eventually(async () => expect((await membership(QQ.newcomer))?.identity.displayName).toBe("新来的小刘"));
    expect((await membership(QQ.newcomer))?.leftAt).toBeNull();
    peer.leave(GROUP, QQ.newcomer);
    await eventually(async () => expect((await membership(QQ.newcomer))?.leftAt).not.toBeNull());
  });
});

describe("long texts", () => {
  test("a notice longer than QQ's limit goes out in parts, each within the limit, in order", async () => {
    const body = Array.from({ length: 150 }, (_, i) => `第${i + 1}条：${"学习贯彻".repeat(12)}`).join("\n");
    const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(GROUP) } } });
    const since = peer.sent.length;
    await ctx.db.prisma.$transaction((tx) => enqueue(tx, { channel: "QQ", groupId: g.id, body, idempotencyKey: "ob-long" }));
    await wakeSenders(ctx.coord, null);
    await eventually(async () => expect((await ctx.db.prisma.delivery.findUniqueOrThrow({ where: { idempotencyKey: "ob-long" } })).status).toBe("SENT"));
    const parts = peer.sent.slice(since).filter((m) => m.group_id === GROUP).map((m) => m.text);
    expect(parts.length).toBeGreaterThanOrEqual(Math.ceil(Array.from(body).length / qqBot.adapter.maxTextLength));
    expect(parts.every((t) => Array.from(t).length <= qqBot.adapter.maxTextLength)).toBe(true);
    expect(parts.join("\n")).toBe(body);
  });
});

describe("dead links and reconnects", () => {
  test("a link silent for 3 heartbeats is dead: the account goes offline, operators are alerted, messages wait, then flow after NapCat reconnects", async () => {
    peer.opts.reconnectMs = 2_000;
    const connections = peer.connections;
    peer.hang();
    await eventually(async () => expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: qqAccountId } })).toMatchObject({ status: "OFFLINE", statusReason: "heartbeat" }), 5_000);
    expect(qqBot.adapter.isOnline()).toBe(false);
    expect(logs.some((l) => String(l.msg).includes("心跳超时"))).toBe(true);
    const row = await (async () => {
      const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(GROUP) } } });
      await ctx.db.prisma.$transaction((tx) => enqueue(tx, { channel: "QQ", groupId: g.id, body: "【通知】断线期间的通知", idempotencyKey: "ob-offline" }));
      return () => ctx.db.prisma.delivery.findUniqueOrThrow({ where: { idempotencyKey: "ob-offline" } });
    })();
    await new Promise((r) => setTimeout(r, 500));
    expect((await row()).status).not.toBe("SENT");
    await eventually(() => expect(logs.some((l) => String(l.msg).includes("账号离线"))).toBe(true), 5_000);
    // NapCat dials again (reconnectInterval): online, and the waiting message goes out.
    await peer.waitForSent((m) => m.text === "【通知】断线期间的通知", 20_000);
    expect(peer.connections).toBe(connections + 1);
    await eventually(async () => expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: qqAccountId } })).status).toBe("ONLINE"));
  });

  test("the peer drops the socket with a send unanswered: that send waits as offline (no risk-control backoff), then goes out after the reconnect", async () => {
    peer.opts.reconnectMs = 100;
    peer.respondOnce("send_group_msg", () => "silence");
    const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(GROUP) } } });
    await ctx.db.prisma.$transaction((tx) => enqueue(tx, { channel: "QQ", groupId: g.id, body: "【通知】发送中断线", idempotencyKey: "ob-inflight" }));
    await wakeSenders(ctx.coord, null);
    await eventually(() => expect(peer.actions.some((a) => JSON.stringify(a.params).includes("发送中断线"))).toBe(true));
    peer.drop();
    await eventually(async () => expect((await ctx.db.prisma.delivery.findUniqueOrThrow({ where: { idempotencyKey: "ob-inflight" } })).errorClass).toBe("offline"));
    await peer.waitForSent((m) => m.text === "【通知】发送中断线", 20_000);
    expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: qqAccountId } })).status).not.toBe("COOLDOWN");
  });

  test("the peer drops the socket: it reconnects and commands work again", async () => {
    peer.opts.reconnectMs = 100;
    peer.drop();
    await eventually(() => expect(peer.connected).toBe(true));
    await eventually(() => expect(qqBot.adapter.isOnline()).toBe(true));
    expect((await ask(QQ.zhangsan, "帮助")).text).toContain("签到");
  });

  test("kicked out of a group: the account no longer reaches it", async () => {
    peer.post(kickedOut(SELF, GROUP, QQ.wangwu));
    await eventually(async () => {
      const link = await ctx.db.prisma.groupAccount.findFirstOrThrow({ where: { accountId: qqAccountId, group: { platformGroupId: String(GROUP) } } });
      expect(link.active).toBe(false);
    });
  });
});

describe("binding a new QQ group", () => {
  test("绑定支部 in a group the bot has just been added to binds it; 本群信息 then names the branch; 解绑 undoes it", async () => {
    const NEW = 700003;
    peer.groups.set(NEW, { group_id: NEW, group_name: "李家庄村第二党小组", members: [{ user_id: QQ.wangwu, nickname: "王五", card: "", role: "owner" }] });
    peer.post(groupIncreaseOf(SELF, NEW, SELF));
    await eventually(async () => expect(await ctx.db.prisma.chatGroup.findUnique({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(NEW) } } })).not.toBeNull());
    const say = async (text: string) => {
      const since = peer.sent.length;
      peer.say(NEW, QQ.wangwu, text);
      return (await peer.waitForSent((m) => m.group_id === NEW, 10_000, since)).text;
    };
    expect(await say(`绑定支部 ${county.branch1.code}`)).toContain("已将本群绑定到「李家庄村党支部」");
    const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "QQ", platformGroupId: String(NEW) } } });
    expect(g).toMatchObject({ orgUnitId: county.branch1.id, topic: "李家庄村第二党小组" });
    expect(await say("本群信息")).toContain("李家庄村党支部");
    expect(await say("解绑")).toContain("已解除本群与「李家庄村党支部」的绑定");
  });
});

describe("forward WebSocket (we dial NapCat's server)", () => {
  let fwd: NapCatPeer;
  let bot: BotHandle;
  const g2 = (): PeerGroup => ({ group_id: GROUP2, group_name: "河西村QQ群", members: [{ user_id: QQ.zhaoliu, nickname: "赵六", card: "", role: "owner" }] });

  afterAll(async () => {
    await bot?.stop();
    await fwd?.close();
  });

  test("a wrong token is refused by the server and the account stays offline", async () => {
    const server = new NapCatPeer({ selfId: 20002, token: "fwd-token", heartbeatMs: 0, groups: [g2()] });
    const url = await server.listenForward();
    const adapter = new OneBotAdapter({ account: "qq-bad", transport: { kind: "forward", url, reconnectMinMs: 200, reconnectMaxMs: 400 }, accessToken: "wrong", log: ctx.log });
    await adapter.start();
    await eventually(() => expect(logs.some((l) => String(l.msg).includes("令牌错误"))).toBe(true));
    expect(adapter.isOnline()).toBe(false);
    expect(server.actions).toHaveLength(0);
    await adapter.stop();
    await server.close();
  });

  test("connects with the token in the header, answers in the group, and reconnects with backoff after NapCat restarts", async () => {
    fwd = new NapCatPeer({ selfId: 20002, nickname: "河西助手", token: "fwd-token", heartbeatMs: 500, groups: [g2()] });
    const url = await fwd.listenForward();
    const adapter = new OneBotAdapter({ account: "qq-fwd", transport: { kind: "forward", url, reconnectMinMs: 100, reconnectMaxMs: 500 }, accessToken: "fwd-token", log: ctx.log, actionTimeoutMs: 1500 });
    bot = await startBot(ctx, { adapter });
    await eventually(async () => expect(await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "qq-fwd" } })).toMatchObject({ status: "ONLINE", platformSelfId: "20002" }));
    const ask2 = async (text: string) => {
      const since = fwd.sent.length;
      fwd.say(GROUP2, QQ.zhaoliu, text);
      return fwd.waitForSent((m) => m.group_id === GROUP2, 10_000, since);
    };
    expect((await ask2("本群信息")).text).toContain("河西村党支部");
    await fwd.restartForward(600);
    await eventually(() => expect(fwd.connected).toBe(true), 10_000);
    await eventually(() => expect(adapter.isOnline()).toBe(true));
    expect((await ask2("帮助")).text).toContain("签到");
    expect(fwd.violations).toEqual([]);
  });
});
