// Cadres and members in WeChat groups, through the real Wechaty stack (wechaty-puppet-mock) against real
// PostgreSQL and Redis: binding a group, linking people to the roster, group info and roster reconciliation,
// permissions, dedup, bad input.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ROOM = "lijiazhuang@chatroom";
const ACCOUNT = "wx-a";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;
let county: SmallCounty;

const people = [
  { id: "wx_wangwu", name: "王五（书记）" },
  { id: "wx_zhangsan", name: "三哥" },
  { id: "wx_lisi", name: "老李" },
  { id: "wx_stranger", name: "路人甲" },
  { id: "wx_zhaoliu", name: "赵六" },
];

/** Says text and returns the bot's next reply in the same conversation. */
async function ask(who: string, text: string, room: string | undefined = ROOM, mentions: string[] = []) {
  const reply = wechat.waitForBot(room ?? who);
  wechat.say(who, text, room, mentions);
  return (await reply).text;
}

beforeAll(async () => {
  ctx = await createTestContext("messaging");
  county = await smallCounty(ctx.db.prisma);
  await linkWechat(ctx.db.prisma, ACCOUNT, "wx_wangwu", "王五（书记）", county.members.wangwu.id);
  await linkWechat(ctx.db.prisma, ACCOUNT, "wx_zhaoliu", "赵六", county.members.zhaoliu.id);
  // A generous budget: this file is about conversations, test/sender.test.ts about pacing.
  await ctx.db.prisma.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 500, sendsPerHour: 5000 } });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党员群", people);
  bot = await startBot(ctx, { puppet: wechat.puppet, account: ACCOUNT });
  wechat.login();
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
});

describe("a group not yet bound", () => {
  test("本群信息 explains how to bind it", async () => {
    expect(await ask("wx_zhangsan", "本群信息")).toMatch(/还没有绑定支部.*绑定支部 支部编码/s);
  });

  test("a member who is not a cadre cannot bind it, and is told why only once", async () => {
    expect(await ask("wx_stranger", "绑定支部 " + county.branch1.code)).toMatch(/需要支部书记权限.*我是 姓名 手机后四位/s);
    // The same refusal again (typed differently, so it is not a duplicate message) stays silent; a different
    // command is still answered.
    wechat.say("wx_stranger", "/绑定支部 " + county.branch1.code, ROOM);
    expect(await ask("wx_stranger", "帮助")).toContain("可用命令");
    expect(wechat.said.filter((s) => s.text.includes("需要支部书记权限"))).toHaveLength(1);
  });

  test("a secretary of another town's branch cannot bind it to this branch", async () => {
    expect(await ask("wx_zhaoliu", `绑定支部 ${county.branch1.code}`)).toContain("不在您（支部书记）的管辖范围内");
  });

  test("a missing or unknown code gets a clear answer", async () => {
    expect(await ask("wx_wangwu", "绑定支部")).toContain("请在命令后写上支部编码");
    expect(await ask("wx_wangwu", "绑定支部 NOPE-123")).toContain("没有找到编码或名称为“NOPE-123”的单位");
  });

  test("the branch secretary binds it; the binding is audited", async () => {
    expect(await ask("wx_wangwu", `绑定支部 ${county.branch1.code}`)).toContain("已将本群绑定到「李家庄村党支部」");
    const group = await ctx.db.prisma.chatGroup.findFirstOrThrow({ where: { platformGroupId: ROOM } });
    expect(group).toMatchObject({ orgUnitId: county.branch1.id, kind: "BRANCH" });
    const log = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "group.bind" } });
    expect(log).toMatchObject({ channel: "WECHAT", targetId: String(group.id), detail: { orgUnitId: county.branch1.id } });
    // Binding synced the group's members from the platform.
    expect(await ctx.db.prisma.groupMembership.count({ where: { groupId: group.id, leftAt: null } })).toBe(people.length);
    expect(await ask("wx_wangwu", `/绑定支部 ${county.branch1.code}`)).toContain("无需重复绑定");
  });
});

describe("linking people to the roster", () => {
  test("我是 with the right name and phone tail links the sender", async () => {
    expect(await ask("wx_zhangsan", "我是 张三 1234")).toContain("登记成功，欢迎您，张三同志");
    const id = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_zhangsan" } });
    expect(id.memberId).toBe(county.members.zhangsan.id);
    expect(await ask("wx_zhangsan", "认证 张三 1234")).toContain("您已登记为“张三”");
  });

  test("a wrong phone tail or name is refused without revealing the roster", async () => {
    const text = await ask("wx_stranger", "我是 李四 0000");
    expect(text).toContain("没有找到匹配的党员");
    expect(text).not.toContain("5678");
    expect(await ask("wx_stranger", "我是 李四")).toContain("请写上姓名和手机号后四位");
    expect(await ask("wx_stranger", "我是 <script> 1234")).toContain("姓名格式不对");
  });

  test("guessing phone tails is rate limited", async () => {
    const answers: string[] = [];
    for (const tail of ["1111", "2223", "3333", "4444"]) answers.push(await ask("wx_stranger", `我是 孙七 ${tail}`));
    expect(answers.every((a) => a.includes("没有找到匹配的党员"))).toBe(true);
    // 4 tries above + 1 well-formed one in the previous test = 5 per hour: the sixth is refused even with the right
    // digits. Malformed input (no phone tail, a bad name) is answered without counting.
    expect(await ask("wx_stranger", "我是 孙七 2222")).toContain("尝试次数过多");
  });

  test("the secretary registers someone with 登记 @某人 姓名", async () => {
    expect(await ask("wx_wangwu", "登记 @老李 李四", ROOM, ["wx_lisi"])).toContain("已登记：老李 → 李四（李家庄村党支部）");
    const id = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_lisi" } });
    expect(id.memberId).toBe(county.members.lisi.id);
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "identity.link" } })).toBe(2);
    expect(await ask("wx_wangwu", "登记 李四")).toContain("请 @ 一位要登记的群成员");
    expect(await ask("wx_wangwu", "登记 @路人甲 不存在", ROOM, ["wx_stranger"])).toContain("名单中没有找到“不存在”");
  });
});

describe("group info and roster reconciliation", () => {
  test("本群信息 shows the unit and how many are linked", async () => {
    const text = await ask("wx_stranger", "本群信息");
    expect(text).toContain("本群绑定：「李家庄村党支部」");
    expect(text).toContain("名单人数：4；群成员：5");
    expect(text).toContain("已登记：3；未登记：2");
  });

  test("名单核对 names roster members missing from the group and group members not on the roster", async () => {
    const text = await ask("wx_wangwu", "名单核对");
    expect(text).toContain("名单中不在群里（1）：孙七");
    expect(text).toMatch(/群里未登记或不在名单中（2）：(路人甲、赵六|赵六、路人甲)/);
  });

  test("a member who leaves the group is off the roster report", async () => {
    wechat.mocker.RoomMock.load(ROOM).remove(wechat.mocker.ContactMock.load("wx_zhaoliu")).by(wechat.mocker.ContactMock.load("wx_wangwu"));
    await eventually(async () => {
      const m = await ctx.db.prisma.groupMembership.findFirstOrThrow({ where: { identity: { platformUserId: "wx_zhaoliu" } } });
      expect(m.leftAt).not.toBeNull();
    });
  });
});

describe("room events keep the roster current", () => {
  test("the bot added to a new group records the group and its members; a topic change is stored", async () => {
    const ROOM2 = "newly-added@chatroom";
    const room2 = wechat.mocker.createRoom({ id: ROOM2, topic: "河西村议事群", memberIdList: ["wx_zhaoliu", "wx_stranger"] });
    room2.add(wechat.bot).by(wechat.mocker.ContactMock.load("wx_zhaoliu"));
    await eventually(async () => {
      const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({
        where: { channel_platformGroupId: { channel: "WECHAT", platformGroupId: ROOM2 } },
        include: { memberships: { where: { leftAt: null }, include: { identity: true } }, accounts: true },
      });
      expect(g.topic).toBe("河西村议事群");
      expect(g.accounts.map((a) => a.accountId)).toEqual([bot.accountId]);
      expect(g.memberships.map((m) => m.identity.platformUserId).sort()).toEqual(["wx_stranger", "wx_zhaoliu"]);
    });
    room2.topic("河西村党员议事群").by(wechat.mocker.ContactMock.load("wx_zhaoliu"));
    await eventually(async () => {
      const g = await ctx.db.prisma.chatGroup.findUniqueOrThrow({ where: { channel_platformGroupId: { channel: "WECHAT", platformGroupId: ROOM2 } } });
      expect(g.topic).toBe("河西村党员议事群");
    });
  });
});

describe("robustness", () => {
  test("the same platform message delivered twice (a redelivery after reconnect) is answered once", async () => {
    const before = await ctx.db.prisma.delivery.count();
    const reply = wechat.waitForBot(ROOM);
    const id = wechat.say("wx_lisi", "帮助", ROOM);
    await reply;
    wechat.redeliver(id);
    // A later command is answered, and nothing was queued for the redelivered one in between.
    expect(await ask("wx_lisi", "帮助 我是")).toContain("我是 <姓名> <手机后四位>");
    expect(await ctx.db.prisma.delivery.count()).toBe(before + 2);
  });

  test("emoji and odd Unicode in arguments do not break parsing", async () => {
    expect(await ask("wx_wangwu", "帮助\u3000绑定支部")).toContain("绑定支部 <支部编码>");
    expect(await ask("wx_stranger", "我是 👨‍🌾张 1234")).toContain("姓名格式不对");
  });

  test("unbinding is audited and the group is unbound", async () => {
    expect(await ask("wx_wangwu", "解绑")).toContain("已解除本群与「李家庄村党支部」的绑定");
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "group.unbind" } })).toBe(1);
    expect(await ask("wx_wangwu", "解除绑定")).toContain("还没有绑定任何单位");
  });
});
