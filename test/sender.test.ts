// The risk-aware outbound sender, through the real Wechaty stack (wechaty-puppet-mock) against real PostgreSQL and
// Redis: what a village group actually receives when the county sends, under WeChat's budgets, refusals, logouts and
// lost groups. Every scenario uses its own accounts and rooms, so the scenarios cannot see each other's rows.
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import type { AppContext } from "../core/context.ts";
import type { BotAccount } from "../core/db/index.ts";
import { enqueue, wakeSenders, PRIORITY } from "../core/delivery/outbox.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { RefusingWechat, sayThroughBoth } from "./support/sender-wechat.ts";

let ctx: TestContext;
let started: BotHandle[] = [];

const people = [
  { id: "wx_zhangsan", name: "张三" },
  { id: "wx_lisi", name: "李四" },
  { id: "wx_wangwu", name: "王五" },
  { id: "wx_zhaoliu", name: "赵六" },
  { id: "wx_sunqi", name: "孙七" },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ctx = await createTestContext("sender", { env: { SENDER_POLL_MS: "100", SENDER_MIN_GAP_MS: "0", SENDER_JITTER_MS: "0" } });
});

afterEach(async () => {
  for (const bot of started) await bot.stop();
  started = [];
});

afterAll(async () => {
  for (const bot of started) await bot.stop();
  await ctx?.close();
});

/** A bot account with its risk budgets (generous unless the scenario is about them). */
function account(name: string, budget: Partial<Pick<BotAccount, "sendsPerMinute" | "sendsPerHour" | "maxMentions">> = {}) {
  return ctx.db.prisma.botAccount.create({ data: { name, channel: "WECHAT", sendsPerMinute: 600, sendsPerHour: 10_000, ...budget } });
}

/** A WeChat room known to the system, reachable through the given accounts. */
async function group(platformGroupId: string, accounts: BotAccount[]) {
  const g = await ctx.db.prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId, topic: platformGroupId } });
  for (const a of accounts) await ctx.db.prisma.groupAccount.create({ data: { groupId: g.id, accountId: a.id } });
  return g;
}

const key = (groupId: number, body: string) => `${groupId}:${createHash("sha1").update(body).digest("hex")}`;

/** Queues group messages for an account through the outbox (as a command or a job would) and wakes the senders. */
async function notify(groupId: number, accountId: number, bodies: string[], opts: { priority?: number; mentions?: string[] } = {}) {
  for (const body of bodies) {
    await enqueue(ctx.db.prisma, { channel: "WECHAT", accountId, groupId, body, idempotencyKey: key(groupId, body), ...opts });
  }
  await wakeSenders(ctx.coord, accountId);
}

const row = (groupId: number, body: string) => ctx.db.prisma.delivery.findUniqueOrThrow({ where: { idempotencyKey: key(groupId, body) } });
const rows = (groupId: number) => ctx.db.prisma.delivery.findMany({ where: { groupId }, orderBy: { id: "asc" } });

/** Starts the bot for `name` on this simulated WeChat and waits until it is logged in (adapter and database). */
async function online(wechat: MockWechat, name: string, app: AppContext = ctx): Promise<BotHandle> {
  const bot = await startBot(app, { puppet: wechat.puppet, account: name });
  started.push(bot);
  wechat.login();
  await eventually(async () => {
    expect(bot.adapter.isOnline()).toBe(true);
    expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: bot.accountId } })).status).toBe("ONLINE");
  });
  return bot;
}

/** What the room received from the bot, in order. */
const received = (wechat: MockWechat, room: string) => wechat.said.filter((s) => s.conversationId === room).map((s) => s.text);

/** A config variant for one bot (the sender reads its pacing from the context's config). */
const withConfig = (patch: Partial<TestContext["config"]>): AppContext => ({ ...ctx, config: { ...ctx.config, ...patch } });

describe("pacing under the account's budget", () => {
  test("an account allowed 3 messages a minute sends 3 of 6 notices now and holds the rest for the next minute", async () => {
    const ROOM = "budget@chatroom";
    const a = await account("wx-budget", { sendsPerMinute: 3 });
    const g = await group(ROOM, [a]);
    const wechat = new MockWechat();
    wechat.room(ROOM, "额度测试群", people);
    const bodies = [1, 2, 3, 4, 5, 6].map((i) => `额度通知 #${i}`);
    await notify(g.id, a.id, bodies);
    const start = Date.now();
    await online(wechat, a.name);

    await eventually(() => expect(received(wechat, ROOM)).toHaveLength(3));
    // Observation window: the sender keeps running, nothing above the budget goes out.
    await sleep(2_500);
    expect(received(wechat, ROOM)).toEqual(bodies.slice(0, 3));

    const all = await rows(g.id);
    expect(all.map((r) => r.status)).toEqual(["SENT", "SENT", "SENT", "QUEUED", "QUEUED", "QUEUED"]);
    const held = all.filter((r) => r.status === "QUEUED");
    // The one the sender tried is put off to the next window, without spending one of its attempts.
    const tried = held.filter((r) => r.errorClass === "budget");
    expect(tried).toHaveLength(1);
    // …to when the minute window ends (not an hour later).
    expect(tried[0].nextAttemptAt.getTime()).toBeGreaterThanOrEqual(start + 50_000);
    expect(tried[0].nextAttemptAt.getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
    expect(tried[0].attempts).toBe(0);
    // The others are not even tried while the budget is spent (the account pauses until the window ends).
    expect(held.every((r) => r.attempts === 0 && r.lockedBy === null)).toBe(true);
  });

  test("with a 150 ms minimum gap and no jitter, consecutive messages are at least ~140 ms apart", async () => {
    const ROOM = "pacing@chatroom";
    const a = await account("wx-pacing");
    const g = await group(ROOM, [a]);
    const wechat = new MockWechat();
    wechat.room(ROOM, "节奏测试群", people);
    const bodies = [1, 2, 3, 4, 5, 6].map((i) => `节奏通知 #${i}`);
    await notify(g.id, a.id, bodies);
    await online(wechat, a.name, withConfig({ SENDER_MIN_GAP_MS: 150, SENDER_JITTER_MS: 0 }));

    await eventually(() => expect(received(wechat, ROOM)).toEqual(bodies));
    const at = wechat.said.filter((s) => s.conversationId === ROOM).map((s) => s.at.getTime());
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // A lower bound on pacing (risk control), not a speed target.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(140);
  });
});

describe("priority", () => {
  test("a reply to a member goes out before the rest of a bulk broadcast already under way", async () => {
    const ROOM = "priority@chatroom";
    const a = await account("wx-priority");
    const g = await group(ROOM, [a]);
    const wechat = new MockWechat();
    wechat.room(ROOM, "优先级测试群", people);
    const bulk = [1, 2, 3, 4, 5, 6].map((i) => `全县通知 #${i}`);
    await notify(g.id, a.id, bulk, { priority: PRIORITY.bulk });
    const first = wechat.waitForBot(ROOM);
    // Paced so the broadcast is still under way when the reply is queued.
    await online(wechat, a.name, withConfig({ SENDER_MIN_GAP_MS: 300 }));
    await first;
    await notify(g.id, a.id, ["回复：您的请假已登记"], { priority: PRIORITY.reply });

    await eventually(() => expect(received(wechat, ROOM)).toHaveLength(7));
    const order = received(wechat, ROOM);
    const reply = order.indexOf("回复：您的请假已登记");
    expect(reply).toBeGreaterThanOrEqual(1);
    expect(reply).toBeLessThanOrEqual(2);
    // The broadcast itself keeps its order around the reply.
    expect(order.filter((t) => t !== "回复：您的请假已登记")).toEqual(bulk);
  });
});

describe("long messages and many mentions", () => {
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  const codePoints = (s: string) => Array.from(s).length;

  test("a ~4000-character notice with emoji arrives as several whole parts, each within the platform's limit", async () => {
    const LINES = "lines@chatroom";
    const DENSE = "dense@chatroom";
    const a = await account("wx-long");
    const gLines = await group(LINES, [a]);
    const gDense = await group(DENSE, [a]);
    const wechat = new MockWechat();
    wechat.room(LINES, "长通知测试群", people);
    wechat.room(DENSE, "表情测试群", people);
    // Lines of ~40 code points with emoji: the sender should cut at line breaks.
    const lined = Array.from({ length: 92 }, (_, i) => `${String(i + 1).padStart(3, "0")}. 各支部要认真学习贯彻会议精神，按时完成“三会一课”，做好记录并及时上报🎯📚✅`).join("\n");
    // No line break at all and mostly astral characters: any cut by UTF-16 length would land inside a pair.
    const dense = "党建🇨🇳引领🎉".repeat(572);
    expect(codePoints(lined)).toBeGreaterThan(3_900);
    expect(codePoints(dense)).toBeGreaterThan(3_900);
    await notify(gLines.id, a.id, [lined]);
    await notify(gDense.id, a.id, [dense]);
    const bot = await online(wechat, a.name);

    await eventually(async () => {
      expect((await row(gLines.id, lined)).status).toBe("SENT");
      expect((await row(gDense.id, dense)).status).toBe("SENT");
    });
    const max = bot.adapter.maxTextLength;
    const linedParts = received(wechat, LINES);
    const denseParts = received(wechat, DENSE);
    for (const parts of [linedParts, denseParts]) {
      expect(parts.length).toBeGreaterThanOrEqual(3);
      for (const p of parts) {
        expect(codePoints(p)).toBeLessThanOrEqual(max);
        expect(p).not.toMatch(LONE_SURROGATE);
      }
    }
    // Cut only at line breaks, and only those line breaks are dropped.
    expect(linedParts.join("\n")).toBe(lined);
    for (const p of linedParts) expect(p.endsWith("✅")).toBe(true);
    // Without line breaks nothing is dropped at all.
    expect(denseParts.join("")).toBe(dense);
    // Progress was recorded part by part, so a crash mid-notice resumes instead of repeating.
    expect((await row(gLines.id, lined)).payload).toMatchObject({ partsSent: linedParts.length - 1 });
  });

  test("mentions beyond the account's cap are spread over extra messages", async () => {
    const ROOM = "mentions@chatroom";
    const a = await account("wx-mentions", { maxMentions: 2 });
    const g = await group(ROOM, [a]);
    const wechat = new MockWechat();
    wechat.room(ROOM, "点名测试群", people);
    const body = "请以下同志周五前提交学习心得";
    await notify(g.id, a.id, [body], { mentions: people.map((p) => p.id) });
    await online(wechat, a.name);

    await eventually(async () => expect((await row(g.id, body)).status).toBe("SENT"));
    const said = received(wechat, ROOM);
    expect(said).toHaveLength(3);
    const mentioned = (text: string) => people.filter((p) => text.includes(`@${p.name}`)).map((p) => p.name);
    expect(said.map(mentioned)).toEqual([
      ["张三", "李四"],
      ["王五", "赵六"],
      ["孙七"],
    ]);
    expect(said[0]).toContain(body);
    expect(said[1]).toContain(`${body}（续）`);
    expect(said[2]).toContain(`${body}（续）`);
  });
});

describe("WeChat risk control (发送消息过于频繁)", () => {
  test("the account cools down, keeps the message, and a second account in the group sends the group's queue", async () => {
    const ROOM = "risk@chatroom";
    const a = await account("wx-risk-a");
    const b = await account("wx-risk-b");
    const g = await group(ROOM, [a]);
    const wa = new RefusingWechat();
    const wb = new MockWechat("支部小助手二号");
    wa.room(ROOM, "风控测试群", people);
    wb.room(ROOM, "风控测试群", people);
    wa.refuse(ROOM, "发送消息过于频繁，请稍后再试");
    await online(wa, a.name);

    const before = Date.now();
    await notify(g.id, a.id, ["风控通知 #1"]);
    // Only account A is up so far: the message waits, its attempts untouched; A rests.
    const held = await eventually(async () => {
      const r = await row(g.id, "风控通知 #1");
      expect(r).toMatchObject({ status: "QUEUED", errorClass: "rate_limited", attempts: 0 });
      return r;
    });
    expect(held.error).toContain("频繁");
    const acc = await eventually(async () => {
      const r = await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: a.id } });
      expect(r.status).toBe("COOLDOWN");
      return r;
    });
    expect(acc.cooldownUntil!.getTime()).toBeGreaterThanOrEqual(before + ctx.config.SENDER_COOLDOWN_MS - 1_000);
    expect(received(wa, ROOM)).toEqual([]);

    // Account B, also in the group, logs in while A cools down (its login registers it for the group), and another
    // notice is queued for A: both go out through B, at once and in order.
    await online(wb, b.name);
    await eventually(async () => {
      const link = await ctx.db.prisma.groupAccount.findUnique({ where: { groupId_accountId: { groupId: g.id, accountId: b.id } } });
      expect(link?.active).toBe(true);
    });
    await notify(g.id, a.id, ["风控通知 #2"]);
    await eventually(() => expect(received(wb, ROOM)).toEqual(["风控通知 #1", "风控通知 #2"]));
    await eventually(async () => {
      for (const r of await rows(g.id)) expect(r).toMatchObject({ status: "SENT", accountId: b.id, attempts: 1 });
    });
    // A never tried again during its cooldown: one refused attempt in all, nothing received through it.
    expect(wa.attempts).toHaveLength(1);
    expect(received(wa, ROOM)).toEqual([]);
    expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: a.id } })).status).toBe("COOLDOWN");
  });
});

describe("an account that is logged out", () => {
  test("holds its group's messages (not failed) and sends them once it logs in again", async () => {
    const ROOM = "offline@chatroom";
    const a = await account("wx-offline");
    const g = await group(ROOM, [a]);
    const wechat = new MockWechat();
    wechat.room(ROOM, "离线测试群", people);
    const bot = await online(wechat, a.name);
    wechat.logout();
    await eventually(async () => {
      expect(bot.adapter.isOnline()).toBe(false);
      expect((await ctx.db.prisma.botAccount.findUniqueOrThrow({ where: { id: a.id } })).status).toBe("OFFLINE");
    });

    await notify(g.id, a.id, ["离线通知 #1", "离线通知 #2"]);
    await sleep(1_000);
    expect(received(wechat, ROOM)).toEqual([]);
    for (const r of await rows(g.id)) expect(r).toMatchObject({ status: "QUEUED", attempts: 0 });

    wechat.login();
    await eventually(() => expect(received(wechat, ROOM)).toEqual(["离线通知 #1", "离线通知 #2"]));
    await eventually(async () => {
      for (const r of await rows(g.id)) expect(r).toMatchObject({ status: "SENT", accountId: a.id, attempts: 1 });
    });
  });

  test("fails over to a second account online in the same group", async () => {
    const ROOM = "failover@chatroom";
    const a = await account("wx-away-a");
    const b = await account("wx-away-b");
    const g = await group(ROOM, [a, b]);
    const wa = new MockWechat();
    const wb = new MockWechat("支部小助手二号");
    wa.room(ROOM, "离线转发测试群", people);
    wb.room(ROOM, "离线转发测试群", people);
    const botA = await online(wa, a.name);
    await online(wb, b.name);
    wa.logout();
    await eventually(() => expect(botA.adapter.isOnline()).toBe(false));

    // Queued for A after it went away (a reply, a reminder): B sends them.
    await notify(g.id, a.id, ["转发通知 #1", "转发通知 #2"]);
    await eventually(() => expect(received(wb, ROOM)).toEqual(["转发通知 #1", "转发通知 #2"]));
    await eventually(async () => {
      for (const r of await rows(g.id)) expect(r).toMatchObject({ status: "SENT", accountId: b.id });
    });
    expect(received(wa, ROOM)).toEqual([]);
  });
});

describe("a group the account can no longer reach", () => {
  test("is failed and recorded when no other account reaches it, and sent through another account when one does", async () => {
    const LOST = "lost@chatroom";
    const SHARED = "shared@chatroom";
    const a = await account("wx-removed-a");
    const b = await account("wx-removed-b");
    const gLost = await group(LOST, [a]);
    const gShared = await group(SHARED, [a, b]);
    // Account A was removed from both rooms on the platform (its WeChat no longer has them); B is still in SHARED.
    const wa = new MockWechat();
    const wb = new MockWechat("支部小助手二号");
    wb.room(SHARED, "共享测试群", people);
    await online(wa, a.name);
    await online(wb, b.name);

    await notify(gLost.id, a.id, ["失联通知"]);
    await notify(gShared.id, a.id, ["共享通知"]);

    await eventually(async () => expect(await row(gLost.id, "失联通知")).toMatchObject({ status: "FAILED", errorClass: "not_found" }));
    await eventually(() => expect(received(wb, SHARED)).toEqual(["共享通知"]));
    await eventually(async () => expect(await row(gShared.id, "共享通知")).toMatchObject({ status: "SENT", accountId: b.id, attempts: 1 }));
    const links = await ctx.db.prisma.groupAccount.findMany({ where: { groupId: { in: [gLost.id, gShared.id] } } });
    const active = (groupId: number, accountId: number) => links.find((l) => l.groupId === groupId && l.accountId === accountId)?.active;
    // A is no longer routed to either group; B still is.
    expect(active(gLost.id, a.id)).toBe(false);
    expect(active(gShared.id, a.id)).toBe(false);
    expect(active(gShared.id, b.id)).toBe(true);
  });
});

describe("a transient failure", () => {
  test("is retried after its backoff and then sent, on the second attempt", async () => {
    const ROOM = "flaky@chatroom";
    const a = await account("wx-flaky");
    const g = await group(ROOM, [a]);
    const wechat = new RefusingWechat();
    wechat.room(ROOM, "网络抖动测试群", people);
    wechat.refuse(ROOM, "socket hang up");
    await online(wechat, a.name);

    const before = Date.now();
    await notify(g.id, a.id, ["重试通知"]);
    const failed = await eventually(async () => {
      const r = await row(g.id, "重试通知");
      expect(r).toMatchObject({ status: "QUEUED", errorClass: "transient", attempts: 1 });
      return r;
    });
    // Exponential backoff: the first retry is 5 s away.
    expect(failed.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(before + 4_000);
    expect(received(wechat, ROOM)).toEqual([]);

    // Skip the wait: make the retry due now (the backoff itself was checked above) and wake the sender.
    await ctx.db.prisma.delivery.update({ where: { id: failed.id }, data: { nextAttemptAt: new Date() } });
    await wakeSenders(ctx.coord, a.id);
    await eventually(async () => expect(await row(g.id, "重试通知")).toMatchObject({ status: "SENT", attempts: 2, errorClass: null }));
    expect(received(wechat, ROOM)).toEqual(["重试通知"]);
    expect(wechat.attempts.map((t) => t.refused)).toEqual([true, false]);
  });
});

describe("two of our accounts in one group", () => {
  test("a member's 帮助, seen by both accounts, is answered exactly once", async () => {
    const ROOM = "twobots@chatroom";
    await account("wx-both-x");
    await account("wx-both-y");
    const wx = new MockWechat();
    const wy = new MockWechat("支部小助手二号");
    // The same room and the same people, seen through two WeChat accounts.
    wx.room(ROOM, "双号测试群", people);
    wy.room(ROOM, "双号测试群", people);
    await online(wx, "wx-both-x");
    await online(wy, "wx-both-y");

    sayThroughBoth(wx, wy, "wx_lisi", "帮助", ROOM);
    await eventually(() => expect([...received(wx, ROOM), ...received(wy, ROOM)]).toHaveLength(1));
    expect([...received(wx, ROOM), ...received(wy, ROOM)][0]).toContain("可用命令");
    // Give a second (duplicate) answer every chance to show up.
    await sleep(1_500);
    expect([...received(wx, ROOM), ...received(wy, ROOM)]).toHaveLength(1);
    const g = await ctx.db.prisma.chatGroup.findFirstOrThrow({ where: { platformGroupId: ROOM } });
    expect(await rows(g.id)).toHaveLength(1);
  });
});
