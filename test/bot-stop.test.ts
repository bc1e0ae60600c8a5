// stop() and the work a platform starts on its own (the group sync after a login): a clean shutdown waits for it, so
// the database is not closed under a half-done write, but a platform call that never answers cannot hold it for ever.
// The platform here is a test double of the chat platform (an adapter), never of our own code.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { ChatAdapter, ChatPerson, LoginState } from "../bot/adapters/types.ts";
import { startBot } from "../bot/index.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext("bot-stop");
});

afterAll(async () => {
  await ctx?.close();
});

/** A platform that logs in at once and answers "who is in this group" only when the test lets it. */
class SlowPlatform implements ChatAdapter {
  readonly channel = "WECHAT" as const;
  readonly maxTextLength = 1800;
  asked = false;
  private login?: (s: LoginState) => void;
  private answer!: () => void;
  private readonly answered = new Promise<void>((r) => (this.answer = r));
  constructor(readonly account: string, readonly room: string) {}
  async start() {
    setTimeout(() => this.login?.({ status: "ONLINE", selfId: "wxid_self", selfName: "支部小助手" }), 0);
  }
  async stop() {}
  onMessage() {}
  onGroupEvent() {}
  onLoginState(handler: (s: LoginState) => void) {
    this.login = handler;
  }
  async groups() {
    return [{ groupId: this.room, topic: "慢慢同步的群" }];
  }
  async groupMembers(): Promise<ChatPerson[]> {
    this.asked = true;
    await this.answered;
    return [{ platformUserId: "wx_slow_a", displayName: "甲" }, { platformUserId: "wx_slow_b", displayName: "乙" }];
  }
  release() {
    this.answer();
  }
  async send() {
    return {};
  }
  isOnline() {
    return true;
  }
}

const members = (room: string) => ctx.db.prisma.groupMembership.count({ where: { group: { platformGroupId: room } } });

test("stop() during the group sync after login waits for it: the members the platform reported are written", async () => {
  const platform = new SlowPlatform("wx-slow", "slow-1@chatroom");
  const bot = await startBot(ctx, { adapter: platform });
  await eventually(() => expect(platform.asked).toBe(true));
  const stopped = bot.stop();
  setTimeout(() => platform.release(), 300); // the platform answers while stop() is under way
  await stopped;
  // What must not be lost: the sync's writes are done before stop() returns (the caller may close the database next).
  expect(await members("slow-1@chatroom")).toBe(2);
  expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "wx-slow" } })).status).toBe("OFFLINE");
});

test("a platform that never answers cannot hold stop() for ever: it gives up after its bound and marks the account offline", async () => {
  const platform = new SlowPlatform("wx-stuck", "stuck-1@chatroom");
  const bot = await startBot(ctx, { adapter: platform });
  await eventually(() => expect(platform.asked).toBe(true));
  await bot.stop(); // a hang here fails the test by its timeout
  expect(await members("stuck-1@chatroom")).toBe(0);
  expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { name: "wx-stuck" } })).status).toBe("OFFLINE");
  platform.release();
});
