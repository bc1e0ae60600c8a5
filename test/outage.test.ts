// Failure behaviour of the chat path. What must not be lost: a command a member sent while PostgreSQL was briefly
// away, or while Redis was unreachable, is still answered once the store is back (and only once).
import { afterAll, describe, expect, test } from "@jest/globals";
import { startBot } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { openDatabase } from "../core/db/index.ts";
import { createCoordination } from "../core/coord/index.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";
import { eventually } from "./support/eventually.ts";

const ROOM = "outage@chatroom";
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function setUp(label: string): Promise<{ ctx: TestContext; wechat: MockWechat }> {
  const ctx = await createTestContext(label);
  cleanups.push(() => ctx.close());
  const wechat = new MockWechat();
  wechat.room(ROOM, "停电测试群", [{ id: "wx_a", name: "张三" }]);
  return { ctx, wechat };
}

describe("PostgreSQL briefly down", () => {
  test("a 帮助 sent during the outage is answered after it, once", async () => {
    const { ctx, wechat } = await setUp("outage-pg");
    const url = new URL(ctx.db.url);
    const proxy: TcpProxy = await startTcpProxy(Number(url.port || 5432), url.hostname);
    cleanups.push(() => proxy.close());
    url.port = String(proxy.port);
    const db = await openDatabase({ url: url.toString(), pgliteDir: "memory://", retries: 0, poolSize: 5 });
    // A pool whose sockets the proxy cut can wait long on close; the test's database is dropped at teardown anyway.
    cleanups.push(() => Promise.race([db.close(), new Promise((r) => setTimeout(r, 3_000).unref())]));
    const bot = await startBot({ ...ctx, db }, { puppet: wechat.puppet });
    cleanups.push(() => bot.stop());
    wechat.login();

    let reply = wechat.waitForBot(ROOM);
    wechat.say("wx_a", "帮助", ROOM);
    await reply;

    await proxy.cut();
    reply = wechat.waitForBot(ROOM, (t) => t.includes("例如：我是 张三 1234"), 30_000);
    wechat.say("wx_a", "帮助 我是", ROOM);
    await new Promise((r) => setTimeout(r, 2_000));
    await proxy.restore();
    await reply;
    // Exactly one reply for that message: the retried handling wrote it once.
    expect(await ctx.db.prisma.delivery.count({ where: { body: { contains: "例如：我是 张三 1234" } } })).toBe(1);
    expect(wechat.said.filter((s) => s.text.includes("例如：我是 张三 1234"))).toHaveLength(1);
  }, 60_000);
});

describe("Redis unreachable", () => {
  test("commands are still answered: dedup and wake-ups fall back, the outbox is the truth", async () => {
    const { ctx, wechat } = await setUp("outage-redis");
    const coord = createCoordination({ REDIS_URL: "redis://127.0.0.1:1", REDIS_KEY_PREFIX: "nbtest:dead:" }, ctx.log);
    cleanups.push(() => coord.close());
    const bot = await startBot({ ...ctx, coord }, { puppet: wechat.puppet });
    cleanups.push(() => bot.stop());
    wechat.login();
    const reply = wechat.waitForBot(ROOM, (t) => t.includes("可用命令"), 30_000);
    wechat.say("wx_a", "帮助", ROOM);
    await reply;
    await eventually(async () => expect(await ctx.db.prisma.delivery.count({ where: { status: "SENT" } })).toBe(1));
  }, 60_000);
});

describe("a flood of messages", () => {
  test("200 members send commands at the same moment: every one gets its reply queued, exactly once", async () => {
    const { ctx, wechat } = await setUp("outage-flood");
    const members = Array.from({ length: 200 }, (_, i) => ({ id: `wx_flood_${i}`, name: `成员${i}` }));
    wechat.room("flood@chatroom", "洪峰测试群", members);
    const bot = await startBot(ctx, { puppet: wechat.puppet });
    cleanups.push(() => bot.stop());
    wechat.login();
    // Each asks about a different (unknown) command, so every message is distinct and gets one reply.
    members.forEach((m, i) => wechat.say(m.id, `帮助 第${i}项`, "flood@chatroom"));
    await eventually(async () => expect(await ctx.db.prisma.delivery.count({ where: { group: { platformGroupId: "flood@chatroom" } } })).toBe(200), 60_000, 250);
    const bodies = await ctx.db.prisma.delivery.findMany({ select: { body: true } });
    expect(new Set(bodies.map((b) => b.body)).size).toBe(200);
  }, 90_000);
});
