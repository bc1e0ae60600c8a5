// A member in a village WeChat group talks to the bot through the real Wechaty stack (wechaty-puppet-mock).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";

const ROOM = "branch-demo@chatroom";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;

beforeAll(async () => {
  ctx = await createTestContext("bot");
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党支部", [
    { id: "wxid_zhangsan", name: "张三" },
    { id: "wxid_lisi", name: "李四" },
  ]);
  bot = await startBot(ctx, { puppet: wechat.puppet });
  wechat.login();
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
});

describe("帮助 in a group", () => {
  test("a member who says 帮助 gets the command list back in the group", async () => {
    const reply = wechat.waitForBot(ROOM);
    wechat.say("wxid_zhangsan", "帮助", ROOM);
    const said = await reply;
    expect(said.text).toContain("可用命令");
    expect(said.text).toContain("帮助");
    // The reply went through the outbox: written first, then sent.
    await eventually(async () => {
      const rows = await ctx.db.prisma.delivery.findMany({ where: { group: { platformGroupId: ROOM } } });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "SENT", priority: 0, body: said.text, attempts: 1 });
    });
  });

  test("works with a leading / or # and when the bot is @-mentioned", async () => {
    for (const text of ["/帮助", "#help"]) {
      const reply = wechat.waitForBot(ROOM, (t) => t.includes("可用命令"));
      wechat.say("wxid_lisi", text, ROOM);
      await reply;
    }
    const reply = wechat.waitForBot(ROOM, (t) => t.includes("可用命令"));
    wechat.say("wxid_lisi", "@支部小助手 帮助", ROOM, [wechat.bot.id]);
    await reply;
  });

  test("帮助 <命令> explains one command; an unknown one says so politely", async () => {
    let reply = wechat.waitForBot(ROOM, (t) => t.includes("也可以说"));
    wechat.say("wxid_zhangsan", "帮助 帮助", ROOM);
    expect((await reply).text).toContain("帮助 [命令]");
    reply = wechat.waitForBot(ROOM, (t) => t.includes("没有找到命令"));
    wechat.say("wxid_zhangsan", "帮助 飞行", ROOM);
    await reply;
  });

  test("plain chat in the group is ignored silently", async () => {
    const before = await ctx.db.prisma.delivery.count();
    wechat.say("wxid_zhangsan", "今天天气不错", ROOM);
    // A command sent after it is answered, and nothing was sent for the chat line in between.
    const reply = wechat.waitForBot(ROOM, (t) => t.includes("可用命令"));
    wechat.say("wxid_lisi", "菜单", ROOM);
    await reply;
    expect(await ctx.db.prisma.delivery.count()).toBe(before + 1);
  });

  test("the group and the members who spoke are recorded", async () => {
    const group = await ctx.db.prisma.chatGroup.findUnique({
      where: { channel_platformGroupId: { channel: "WECHAT", platformGroupId: ROOM } },
      include: { accounts: true },
    });
    expect(group?.topic).toBe("李家庄村党支部");
    expect(group?.accounts.map((a) => a.accountId)).toEqual([bot.accountId]);
    const ids = await ctx.db.prisma.chatIdentity.findMany({ orderBy: { platformUserId: "asc" } });
    expect(ids.map((i) => [i.platformUserId, i.displayName])).toEqual([
      ["wxid_lisi", "李四"],
      ["wxid_zhangsan", "张三"],
    ]);
  });
});

describe("private chat", () => {
  test("帮助 privately is answered privately; other text gets a hint, not silence", async () => {
    let reply = wechat.waitForBot("wxid_zhangsan", (t) => t.includes("可用命令"));
    wechat.say("wxid_zhangsan", "帮助");
    await reply;
    reply = wechat.waitForBot("wxid_zhangsan", (t) => t.includes("发送“帮助”"));
    wechat.say("wxid_zhangsan", "你好");
    await reply;
  });
});

describe("the account status", () => {
  test("is recorded as online with the bot's WeChat identity", async () => {
    const account = await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: bot.accountId } });
    expect(account.status).toBe("ONLINE");
    expect(account.platformSelfId).toBe(wechat.bot.id);
  });
});
