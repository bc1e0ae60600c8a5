// County broadcasts under the Reliability section, against real PostgreSQL and Redis and the real Wechaty
// stack (wechaty-puppet-mock): Redis drops the bots' connections in the middle of a fan-out to many groups (nothing
// lost, nothing doubled), and the jobs `broadcasts` task starts a scheduled broadcast once across two jobs processes.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import { Redis } from "ioredis";
import type { BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import type { AppContext } from "../core/context.ts";
import type { BotAccount } from "../core/db/index.ts";
import { createCoordination } from "../core/coord/index.ts";
import type { Coordination } from "../core/coord/types.ts";
import { wakeSenders } from "../core/delivery/outbox.ts";
import { approveBroadcast, broadcastReport, draftBroadcast, type BroadcastActor } from "../core/broadcasts/broadcasts.ts";
import { startJobs } from "../jobs/index.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { testRedisUrl } from "./support/db.ts";
import { eventually } from "./support/eventually.ts";
import { botAccount, boundGroup, cadreActor, startOnline } from "./support/broadcast-fixtures.ts";

let ctx: TestContext;
let county: SmallCounty;
let admin1: BroadcastActor;
let admin2: BroadcastActor;
let started: BotHandle[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
const people = [{ id: "wx_zhangsan", name: "张三" }];

beforeAll(async () => {
  // A broadcasts tick every second (node-cron takes a seconds field), so the jobs test sees its fire quickly. A small
  // gap between sends so a fan-out to many groups lasts long enough for Redis to drop in its middle.
  ctx = await createTestContext("broadcast-rel", { env: { BROADCAST_TICK_CRON: "* * * * * *", SENDER_MIN_GAP_MS: "15", SENDER_JITTER_MS: "0", SENDER_POLL_MS: "100" } });
  county = await smallCounty(ctx.db.prisma, "R");
  admin1 = await cadreActor(ctx.db.prisma, "rel-county-1", county.county);
  admin2 = await cadreActor(ctx.db.prisma, "rel-county-2", county.county);
});

afterEach(async () => {
  for (const bot of started) await bot.stop();
  started = [];
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

afterAll(async () => {
  await ctx?.close();
});

const account = (name: string) => botAccount(ctx.db.prisma, name, { sendsPerMinute: 1_000 });

async function groups(prefix: string, n: number, accounts: BotAccount[], unitId = county.branch1.id) {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const room = `${prefix}-${i}@chatroom`;
    const g = await boundGroup(ctx.db.prisma, room, i % 2 ? unitId : county.branch2.id, accounts);
    ids.push(g.id);
  }
  return ids;
}

const online = (app: AppContext, wechat: MockWechat, name: string) => startOnline(app, wechat, name, started);

/** A bot process's own coordination client, its connections named so CLIENT KILL hits nobody else. */
function namedCoord(label: string): { coord: Coordination; name: string } {
  const name = `nbtest:${label}:${randomBytes(4).toString("hex")}`;
  const coord = createCoordination({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: ctx.config.REDIS_KEY_PREFIX }, ctx.log, { name });
  cleanups.push(() => coord.close());
  return { coord, name };
}

describe("Redis restart during fan-out", () => {
  test("Redis drops both bots' connections mid-fan-out to 60 groups: every group gets the broadcast exactly once", async () => {
    const N = 60;
    const KILL_AT = 15;
    const p = await account("wx-rel-p");
    const q = await account("wx-rel-q");
    // Every group is reachable by both accounts: each must still be sent once, by one of them.
    const ids = await groups("rel", N, [p, q]);
    const rooms = Array.from({ length: N }, (_, i) => `rel-${i}@chatroom`);
    const wp = new MockWechat();
    const wq = new MockWechat();
    for (const r of rooms) {
      wp.room(r, r, people);
      wq.room(r, r, people);
    }
    const cp = namedCoord("bcrel-p");
    const cq = namedCoord("bcrel-q");
    await online({ ...ctx, coord: cp.coord }, wp, p.name);
    await online({ ...ctx, coord: cq.coord }, wq, q.name);
    await cp.coord.ping();
    await cq.coord.ping();

    const admin = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    cleanups.push(() => admin.quit());
    const names = new Set([cp.name, `${cp.name}:sub`, cq.name, `${cq.name}:sub`]);
    const clients = async () =>
      ((await admin.client("LIST")) as string)
        .split("\n")
        .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1], name: /\bname=(\S*)/.exec(line)?.[1] }))
        .filter((c) => c.name && names.has(c.name));
    const ours = await clients();
    // Both command connections and both wake-up subscriptions.
    expect(ours.length).toBe(4);

    const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body: "【县委组织部通知】Redis 重启演练", target: { scope: "groups", groupIds: ids } });
    const body = broadcast.body;
    const sentTo = () => [...wp.said, ...wq.said].filter((s) => s.text === body).map((s) => s.conversationId);
    // The drop is timed by the fan-out itself: when KILL_AT groups have received it, Redis kills every connection of
    // both bots (as a Redis restart would), while the rest is still queued.
    let killedAt: number | undefined;
    let killing: Promise<unknown> | undefined;
    const drop = () => {
      if (killedAt !== undefined || sentTo().length < KILL_AT) return;
      killedAt = sentTo().length;
      killing = Promise.all(ours.map((c) => admin.client("KILL", "ID", c.id!).catch(() => undefined)));
    };
    const offs = [wp.onBotSaid(drop), wq.onBotSaid(drop)];
    cleanups.push(async () => offs.forEach((off) => off()));

    const d = await approveBroadcast(ctx.db.prisma, admin2, broadcast.id);
    expect(d.queued).toBe(N);
    await wakeSenders(ctx.coord);
    await eventually(async () => expect((await broadcastReport(ctx.db.prisma, admin1, broadcast.id)).totals).toMatchObject({ total: N, sent: N }), 60_000, 100);
    await killing;
    expect(killedAt).toBeGreaterThanOrEqual(KILL_AT);
    expect(killedAt).toBeLessThan(N);

    // Exactly once per group, across both accounts.
    const received = sentTo();
    expect(received.length).toBe(N);
    expect(new Set(received)).toEqual(new Set(rooms));
    const report = await broadcastReport(ctx.db.prisma, admin1, broadcast.id);
    expect(report.totals).toMatchObject({ total: N, sent: N, failed: 0, queued: 0, waiting: 0 });
    expect(report.broadcast.status).toBe("COMPLETED");
    // The connections were really dropped and the bots came back on new ones.
    await cp.coord.ping();
    await cq.coord.ping();
    const after = await clients();
    expect(after.length).toBeGreaterThanOrEqual(2);
    for (const c of after) expect(ours.map((o) => o.id)).not.toContain(c.id);
    // Wake-ups work again after the drop: a new broadcast goes out at once.
    const again = await draftBroadcast(ctx.db.prisma, admin1, { body: "【县委组织部通知】重连之后", target: { scope: "groups", groupIds: ids.slice(0, 3) } });
    await approveBroadcast(ctx.db.prisma, admin2, again.broadcast.id);
    await wakeSenders(ctx.coord);
    await eventually(async () => expect((await broadcastReport(ctx.db.prisma, admin1, again.broadcast.id)).totals).toMatchObject({ sent: 3 }), 15_000);
  }, 90_000);
});

describe("the jobs `broadcasts` task", () => {
  test("two jobs processes: a scheduled broadcast starts once at its time, one delivery per group, and completes", async () => {
    const acct = await account("wx-rel-jobs");
    const ids = await groups("reljobs", 5, [acct]);
    const t0 = new Date();
    const at = new Date(t0.getTime() + 2_500);
    const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body: "【县委组织部通知】定时广播", target: { scope: "groups", groupIds: ids }, scheduledAt: at }, t0);
    expect((await approveBroadcast(ctx.db.prisma, admin2, broadcast.id, t0)).broadcast.status).toBe("SCHEDULED");

    // A second "process": its own coordination client on the same Redis prefix and the same database.
    const coord2 = createCoordination(ctx.config, ctx.log, { name: "nbtest:bcrel-jobs2" });
    cleanups.push(() => coord2.close());
    const a = await startJobs(ctx);
    const b = await startJobs({ ...ctx, coord: coord2 });
    cleanups.push(async () => {
      await a.stop();
      await b.stop();
    });
    const status = async () => (await ctx.db.prisma.broadcast.findUniqueOrThrow({ where: { id: broadcast.id } })).status;
    // Not before its time.
    await new Promise((r) => setTimeout(r, 1_200));
    if (Date.now() < at.getTime() - 200) {
      expect(await status()).toBe("SCHEDULED");
      expect(await ctx.db.prisma.delivery.count({ where: { broadcastId: broadcast.id } })).toBe(0);
    }
    await eventually(async () => expect(await status()).toBe("SENDING"), 10_000);
    const startedAt = Date.now();
    // Let both processes tick a few more times: nothing more is written.
    await eventually(async () => {
      const fires = await ctx.db.prisma.jobRun.count({ where: { job: "broadcasts", status: "DONE", startedAt: { gt: new Date(startedAt) } } });
      expect(fires).toBeGreaterThanOrEqual(3);
    }, 10_000);
    const rows = await ctx.db.prisma.delivery.findMany({ where: { broadcastId: broadcast.id } });
    expect(rows.map((r) => r.groupId).sort()).toEqual([...ids].sort());
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "broadcast.start", targetId: String(broadcast.id) } })).toBe(1);
    const runs = await ctx.db.prisma.jobRun.findMany({ where: { job: "broadcasts" } });
    // One run per slot across both processes, and exactly one of them started it, at or after its time.
    const slots = runs.map((r) => r.fireAt.getTime());
    expect(new Set(slots).size).toBe(slots.length);
    const starters = runs.filter((r) => ((r.result as { started?: number[] } | null)?.started ?? []).includes(broadcast.id));
    expect(starters).toHaveLength(1);
    expect(starters[0].fireAt.getTime()).toBeGreaterThanOrEqual(at.getTime() - 1_000);

    // The sender sends it; a later tick marks the broadcast completed.
    const wechat = new MockWechat();
    for (let i = 0; i < 5; i++) wechat.room(`reljobs-${i}@chatroom`, `reljobs-${i}`, people);
    await online(ctx, wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(async () => expect(await status()).toBe("COMPLETED"), 15_000);
    expect(wechat.said.filter((s) => s.text === broadcast.body)).toHaveLength(5);
  }, 60_000);
});
