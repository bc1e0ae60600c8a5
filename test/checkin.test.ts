// Study sessions and check-ins in a WeChat group, through the real Wechaty stack (wechaty-puppet-mock) against real
// PostgreSQL and Redis: a secretary publishes, members check in, ask for leave, acknowledge the notice; the group
// gets summaries, not one reply per member; the secretary sees who came and gets the final tally privately.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { startApi } from "../api/app.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { recordCheckins } from "../core/meetings/attendance.ts";
import { finalizeClosedMeetings } from "../core/meetings/finalize.ts";
import { CHINA_OFFSET_MS } from "../core/meetings/time.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ROOM = "checkin@chatroom";
const ROOM2 = "hexi@chatroom";
const ACCOUNT = "wx-checkin";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;
let county: SmallCounty;
let extra: { zhouba: number; wujiu: number };
let groupId: number;

const people = [
  { id: "wx_wangwu", name: "王五（书记）" },
  { id: "wx_zhangsan", name: "三哥" },
  { id: "wx_lisi", name: "老李" },
  { id: "wx_zhouba", name: "周八" },
  { id: "wx_wujiu", name: "吴九" },
  { id: "wx_stranger", name: "路人甲" },
];

/** "2026-11-25 19:30" in China time, minutes from now. */
function chinaClock(minutesFromNow: number) {
  const d = new Date(Date.now() + minutesFromNow * 60_000 + CHINA_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

async function ask(who: string, text: string, conversation: string = ROOM, match: (t: string) => boolean = () => true, mentions: string[] = []) {
  const reply = wechat.waitForBot(conversation, match);
  wechat.say(who, text, ROOM === conversation || conversation === ROOM2 ? conversation : undefined, mentions);
  return (await reply).text;
}

const saidIn = (room: string, re: RegExp) => wechat.said.filter((s) => s.conversationId === room && re.test(s.text));

beforeAll(async () => {
  ctx = await createTestContext("checkin", { env: { CHECKIN_ACK_INTERVAL_SEC: "2" } });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "CK");
  extra = {
    zhouba: (await prisma.member.create({ data: { name: "周八", branchId: county.branch1.id, phone: "13100001111" } })).id,
    wujiu: (await prisma.member.create({ data: { name: "吴九", branchId: county.branch1.id, phone: "13100002222" } })).id,
  };
  await linkWechat(prisma, ACCOUNT, "wx_wangwu", "王五（书记）", county.members.wangwu.id);
  await linkWechat(prisma, ACCOUNT, "wx_zhangsan", "三哥", county.members.zhangsan.id);
  await linkWechat(prisma, ACCOUNT, "wx_lisi", "老李", county.members.lisi.id);
  await linkWechat(prisma, ACCOUNT, "wx_zhouba", "周八", extra.zhouba);
  await linkWechat(prisma, ACCOUNT, "wx_wujiu", "吴九", extra.wujiu);
  await linkWechat(prisma, ACCOUNT, "wx_zhaoliu", "赵六", county.members.zhaoliu.id);
  await prisma.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 500, sendsPerHour: 5000 } });
  groupId = (await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村党员群", orgUnitId: county.branch1.id, kind: "BRANCH" } })).id;
  await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM2, topic: "河西村党员群", orgUnitId: county.branch2.id, kind: "BRANCH" } });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党员群", people);
  wechat.room(ROOM2, "河西村党员群", [{ id: "wx_zhaoliu", name: "赵六" }, { id: "wx_lisi", name: "老李" }]);
  bot = await startBot(ctx, { puppet: wechat.puppet, account: ACCOUNT });
  wechat.login();
  // The bot syncs its groups after login (GroupAccount links, memberships).
  await eventually(async () => expect(await prisma.groupAccount.count()).toBe(2));
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
});

describe("publishing a session", () => {
  test("a plain member may not publish", async () => {
    expect(await ask("wx_zhangsan", `发布学习 ${chinaClock(60)} 学习党章`)).toContain("需要支部书记权限");
  });

  test("an unreadable or past time is refused, saying what was understood", async () => {
    expect(await ask("wx_wangwu", "发布学习 学习党章 明天")).toMatch(/没看懂“学习党章 明天”开头的时间.*明天19:30/s);
    expect(await ask("wx_wangwu", "发布学习 2020-01-01 19:30 学习党章")).toMatch(/理解为 2020年1月1日（周三）19:30，已经过去了/);
    expect(await ask("wx_wangwu", "发布学习 明天")).toContain("还没写几点钟");
    expect(await ask("wx_wangwu", "发布学习 明天19:30")).toContain("请在时间后面写上主题");
    expect(await ctx.db.prisma.meeting.count()).toBe(0);
  });

  test("the secretary publishes: the group gets the notice, the secretary a private confirmation", async () => {
    const notice = wechat.waitForBot(ROOM, (t) => t.startsWith("【学习通知】学习党章"));
    const confirm = wechat.waitForBot("wx_wangwu", (t) => t.startsWith("已发布"));
    wechat.say("wx_wangwu", `发布学习 ${chinaClock(10)} 学习党章 村委会会议室`, ROOM);
    const text = (await notice).text;
    expect(text).toContain("地点：村委会会议室");
    expect(text).toMatch(/签到：\d\d:\d\d—\d\d:\d\d，在群里发送“签到”/);
    expect((await confirm).text).toMatch(/已发布：「李家庄村党支部」.*学习「学习党章」（编号 \d+）.*通知已发到 1 个群/s);
    const meeting = await ctx.db.prisma.meeting.findFirstOrThrow({ include: { notices: true } });
    expect(meeting).toMatchObject({ orgUnitId: county.branch1.id, type: "STUDY", topic: "学习党章", place: "村委会会议室", status: "PLANNED" });
    // Default window: 30 minutes either side of the start.
    expect(meeting.plannedAt.getTime() - meeting.checkinOpensAt.getTime()).toBe(30 * 60_000);
    expect(meeting.checkinClosesAt.getTime() - meeting.plannedAt.getTime()).toBe(30 * 60_000);
    expect(meeting.notices).toHaveLength(1);
  });
});

describe("checking in", () => {
  test("check-ins are answered by a summary, not one reply each", async () => {
    const summary = wechat.waitForBot(ROOM, (t) => /已签到 2\/6/.test(t));
    wechat.say("wx_zhangsan", "签到", ROOM);
    wechat.say("wx_lisi", "到！", ROOM);
    const text = (await summary).text;
    expect(text).toContain("李四");
    const rows = await ctx.db.prisma.attendance.findMany({ where: { status: "PRESENT" } });
    expect(rows.map((r) => r.memberId).sort()).toEqual([county.members.zhangsan.id, county.members.lisi.id].sort());
    expect(rows.every((r) => r.source === "WECHAT" && r.groupId === groupId && r.ackedAt)).toBe(true);
    // Two check-ins, at most two summaries (the first may have gone out with one name), never a reply per person.
    expect(saidIn(ROOM, /已签到/).length).toBeLessThanOrEqual(2);
  });

  test("a second 签到 is acknowledged as already counted and not counted twice", async () => {
    const text = await ask("wx_zhangsan", "签到 我在路上", ROOM, (t) => t.includes("已经签过到了"));
    expect(text).toContain("张三已经签过到了");
    expect(text).toContain("已签到 2/6");
    expect(await ctx.db.prisma.attendance.count({ where: { memberId: county.members.zhangsan.id } })).toBe(1);
  });

  test("the same member checking in from the mini-program too is one attendance", async () => {
    const meeting = await ctx.db.prisma.meeting.findFirstOrThrow();
    const outcome = await recordCheckins(ctx.db.prisma, [
      { meetingId: meeting.id, memberId: county.members.lisi.id, identityId: null, groupId: null, source: "MINIPROGRAM", at: new Date() },
    ]);
    expect(outcome).toEqual(["repeat"]);
    expect(await ctx.db.prisma.attendance.count({ where: { memberId: county.members.lisi.id } })).toBe(1);
  });

  test("someone not yet on the roster is recorded, never dropped, and counted once the secretary registers them", async () => {
    const text = await ask("wx_stranger", "签到", ROOM, (t) => t.includes("路人甲"));
    expect(text).toMatch(/路人甲的签到已记录，但还没有登记党员身份/);
    const row = await ctx.db.prisma.attendance.findFirstOrThrow({ where: { identity: { platformUserId: "wx_stranger" } } });
    expect(row.memberId).toBeNull();
    expect(await ask("wx_wangwu", "登记 @路人甲 孙七", ROOM, (t) => t.includes("已登记"), ["wx_stranger"])).toContain("孙七");
    const after = await ctx.db.prisma.attendance.findUniqueOrThrow({ where: { id: row.id } });
    expect(after.memberId).toBe(county.members.sunqi.id);
  });

  test("请假 is recorded for the secretary to decide; 准假 approves it", async () => {
    expect(await ask("wx_zhouba", "请假", ROOM)).toContain("请写上请假原因");
    expect(await ask("wx_zhouba", "请假 家里有事", ROOM)).toMatch(/请假已登记.*原因：家里有事。等待支部书记审批/);
    expect(await ask("wx_zhangsan", "准假 @周八", ROOM, undefined, ["wx_zhouba"])).toContain("需要支部书记权限");
    expect(await ask("wx_wangwu", "准假 @周八", ROOM, undefined, ["wx_zhouba"])).toContain("已准假：周八");
    const row = await ctx.db.prisma.attendance.findFirstOrThrow({ where: { memberId: extra.zhouba } });
    expect(row).toMatchObject({ status: "LEAVE", note: "家里有事", leaveDecision: "APPROVED" });
    // Somebody already present cannot ask for leave.
    expect(await ask("wx_zhangsan", "请假 临时有事", ROOM)).toContain("您已经签到了");
  });

  test("统计 shows present, leave and absent; 未签到 @-mentions the absentees", async () => {
    const text = await ask("wx_wangwu", "统计", ROOM);
    expect(text).toContain("应到 6 人，已签到 3 人，请假 1 人，未签到 2 人");
    expect(text).toMatch(/未签到：王五、吴九|未签到：吴九、王五/);
    expect(text).toContain("周八（家里有事）");
    const nudge = await ask("wx_wangwu", "未签到", ROOM, (t) => t.includes("还有 2 人未签到"));
    expect(nudge).toContain("请抓紧发送“签到”");
    const d = await ctx.db.prisma.delivery.findFirstOrThrow({ where: { body: { contains: "还有 2 人未签到" } } });
    expect((d.payload as { mentions: string[] }).mentions.sort()).toEqual(["wx_wangwu", "wx_wujiu"]);
  });

  test("收到 records a read receipt silently", async () => {
    const before = wechat.said.length;
    wechat.say("wx_wujiu", "收到！", ROOM);
    await eventually(async () => expect(await ctx.db.prisma.noticeRead.count({ where: { memberId: extra.wujiu } })).toBe(1));
    // A later command's answer is the next thing the bot said: nothing for 收到.
    await ask("wx_wujiu", "帮助", ROOM);
    expect(wechat.said.slice(before).filter((s) => s.conversationId === ROOM)).toHaveLength(1);
  });

  test("签到 with no session open, or in private chat, gets a short explanation", async () => {
    expect(await ask("wx_zhaoliu", "签到", ROOM2)).toContain("现在没有需要签到的学习或会议");
    expect(await ctx.db.prisma.attendance.count({ where: { memberId: county.members.zhaoliu.id } })).toBe(0);
    expect(await ask("wx_zhangsan", "签到", "wx_zhangsan")).toContain("请在支部群里发送“签到”");
  });
});

describe("changing and cancelling", () => {
  test("修改学习 moves an upcoming session and tells the group; 取消学习 cancels it", async () => {
    const published = wechat.waitForBot(ROOM, (t) => t.includes("【党课通知】"));
    wechat.say("wx_wangwu", `发布学习 ${chinaClock(3 * 24 * 60)} 党课 讲党史 党员活动室`, ROOM);
    await published;
    const lecture = await ctx.db.prisma.meeting.findFirstOrThrow({ where: { type: "PARTY_LECTURE" } });
    expect(lecture.topic).toBe("讲党史");

    const changed = wechat.waitForBot(ROOM, (t) => t.startsWith("【变更通知】"));
    wechat.say("wx_wangwu", `修改学习 ${lecture.id} 时间 ${chinaClock(4 * 24 * 60)}`, ROOM);
    expect((await changed).text).toContain("时间改为");
    const moved = await ctx.db.prisma.meeting.findUniqueOrThrow({ where: { id: lecture.id } });
    expect(moved.plannedAt.getTime() - lecture.plannedAt.getTime()).toBeGreaterThan(23 * 3600_000);
    expect(moved.checkinOpensAt.getTime()).toBe(moved.plannedAt.getTime() - 30 * 60_000);

    expect(await ask("wx_wangwu", `修改学习 ${lecture.id} 颜色 红色`, ROOM)).toContain("请写明要改什么");
    const cancelled = wechat.waitForBot(ROOM, (t) => t.startsWith("【取消通知】"));
    wechat.say("wx_wangwu", `取消学习 ${lecture.id} 因雨改期`, ROOM);
    expect((await cancelled).text).toContain("原因：因雨改期");
    expect((await ctx.db.prisma.meeting.findUniqueOrThrow({ where: { id: lecture.id } })).status).toBe("CANCELLED");
    expect(await ask("wx_wangwu", `取消学习 ${lecture.id}`, ROOM)).toContain("已经取消了");
  });

  test("a secretary of another branch cannot touch this branch's sessions", async () => {
    const meeting = await ctx.db.prisma.meeting.findFirstOrThrow({ where: { status: "PLANNED" } });
    expect(await ask("wx_zhaoliu", `取消学习 ${meeting.id}`, ROOM2)).toContain("无权访问");
  });
});

describe("on-site QR check-in", () => {
  test("签到码 sends the secretary a private link whose page shows the rotating token; a tampered link is refused", async () => {
    const api = await startApi(ctx);
    try {
      // Asked in the group, answered privately: the link must not reach the members.
      const privately = wechat.waitForBot("wx_wangwu", (t) => t.includes("现场签到码"));
      wechat.say("wx_wangwu", "签到码", ROOM);
      const text = (await privately).text;
      expect(saidIn(ROOM, /现场签到码/)).toHaveLength(0);
      const link = new URL(/http\S+/.exec(text)![0]);
      const res = await fetch(`${api.url}${link.pathname}${link.search}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("<svg");
      expect(html).toMatch(/<meta http-equiv="refresh" content="\d+">/);
      expect(html).toContain("学习党章");
      const meetingId = Number(link.pathname.split("/").pop());
      // The page's token is what the mini-program posts back: it verifies for this meeting now.
      const { issueQrToken, verifyQrToken } = await import("../core/meetings/qr.ts");
      expect(() => verifyQrToken(ctx.config.JWT_SECRET, meetingId, issueQrToken(ctx.config.JWT_SECRET, meetingId).token)).not.toThrow();
      link.searchParams.set("k", link.searchParams.get("k")!.replace(/.$/, (c) => (c === "A" ? "B" : "A")));
      const forged = await fetch(`${api.url}${link.pathname}${link.search}`);
      expect(forged.status).toBe(403);
      expect(await forged.text()).toContain("签到码链接无效");
      expect(await ask("wx_zhangsan", "签到码", ROOM)).toContain("需要支部书记权限");
    } finally {
      await api.close();
    }
  });
});

describe("when the window closes", () => {
  test("the meeting is recorded as held and the secretary gets the final attendance privately, once", async () => {
    const meeting = await ctx.db.prisma.meeting.findFirstOrThrow({ where: { type: "STUDY" } });
    // Jump to after the window instead of waiting an hour.
    const later = new Date(meeting.checkinClosesAt.getTime() + 1000);
    const tally = wechat.waitForBot("wx_wangwu", (t) => t.startsWith("签到已结束"));
    expect(await finalizeClosedMeetings(ctx.db.prisma, later)).toBe(1);
    expect(await finalizeClosedMeetings(ctx.db.prisma, later)).toBe(0);
    const text = (await tally).text;
    expect(text).toContain("应到 6 人，已签到 3 人，请假 1 人，未签到 2 人");
    const after = await ctx.db.prisma.meeting.findUniqueOrThrow({ where: { id: meeting.id } });
    expect(after.status).toBe("HELD");
    expect(after.finalizedAt).not.toBeNull();
  });
});
