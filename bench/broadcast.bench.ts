// County broadcasts, two figures:
// 1. Fan-out: a whole-county broadcast over N groups (BENCH_BROADCAST_GROUPS, default 10,000; 20 towns, 25 branches
//    each, N/500 groups per branch, three accounts) is started by the jobs tick — the target resolved from the org
//    tree and one delivery per group written in one transaction (runDueBroadcasts) — against a bare
//    `prisma.delivery.createMany` of the same N rows (group ids known in advance). Goal: ≤ 1.5× the baseline.
// 2. Sending: M broadcast deliveries (BENCH_BROADCAST_SENDS, default 300; one per room, any account may take them,
//    so every claim goes through the failover and paused/cancelled checks) sent by our sender with the budgets off,
//    against a bare loop of the same adapter's send() to the same M rooms.
import { randomBytes } from "node:crypto";
import { loadConfig } from "../core/config.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { wakeSenders, PRIORITY } from "../core/delivery/outbox.ts";
import { runDueBroadcasts } from "../core/broadcasts/broadcasts.ts";
import { createLogger } from "../core/log.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { WechatyAdapter } from "../bot/adapters/wechaty.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { median, positiveEnv, teardownBotRun, type BenchHarness, type ScratchDatabase, waitUntil } from "./harness.ts";

const N = positiveEnv("BENCH_BROADCAST_GROUPS", 10_000);
const M = positiveEnv("BENCH_BROADCAST_SENDS", 300);
const REDIS_URL = process.env.BENCH_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379";
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || "silent";
const BODY = "【县委组织部通知】请各支部于本周五前完成年度组织生活会准备工作。";
const NO_BUDGET = 1_000_000_000;

// ---- 1. fan-out ----

interface County {
  scratch: ScratchDatabase;
  groupIds: number[];
  broadcastId: number;
}

/** The county in SQL (fast to build): county → 20 towns → 25 branches each → N/500 groups per branch. */
async function countySetup(h: BenchHarness): Promise<County> {
  const scratch = await h.scratchDatabase();
  try {
    const q = (sql: string, params: unknown[] = []) => scratch.db.sql.query(sql, params);
    await q(`INSERT INTO "OrgUnit" (code, name, kind, path, depth, "updatedAt") VALUES ('C', '测试县', 'COUNTY', '/', 0, now())`);
    await q(`UPDATE "OrgUnit" SET path = '/' || id || '/' WHERE code = 'C'`);
    await q(`INSERT INTO "OrgUnit" (code, name, kind, "parentId", path, depth, "updatedAt")
             SELECT 'T' || t, '第' || t || '镇', 'TOWN', c.id, '/', 1, now() FROM "OrgUnit" c, generate_series(1, 20) t WHERE c.code = 'C'`);
    await q(`UPDATE "OrgUnit" u SET path = p.path || u.id || '/' FROM "OrgUnit" p WHERE u."parentId" = p.id AND u.kind = 'TOWN'`);
    await q(`INSERT INTO "OrgUnit" (code, name, kind, "parentId", path, depth, "updatedAt")
             SELECT t.code || '-B' || b, t.name || b || '村党支部', 'BRANCH', t.id, '/', 2, now() FROM "OrgUnit" t, generate_series(1, 25) b WHERE t.kind = 'TOWN'`);
    await q(`UPDATE "OrgUnit" u SET path = p.path || u.id || '/' FROM "OrgUnit" p WHERE u."parentId" = p.id AND u.kind = 'BRANCH'`);
    await q(`INSERT INTO "BotAccount" (name, channel, status, "updatedAt") VALUES ('wx-1', 'WECHAT', 'ONLINE', now()), ('wx-2', 'WECHAT', 'ONLINE', now()), ('wx-3', 'WECHAT', 'OFFLINE', now())`);
    await q(
      `INSERT INTO "ChatGroup" (channel, "platformGroupId", topic, kind, "orgUnitId", "updatedAt")
       SELECT 'WECHAT', 'g' || i || '@chatroom', '群' || i, 'BRANCH', b.id, now()
         FROM generate_series(1, $1::int) i
         JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM "OrgUnit" WHERE kind = 'BRANCH') b ON b.n = (i - 1) % 500`,
      [N],
    );
    await q(`INSERT INTO "GroupAccount" ("groupId", "accountId") SELECT g.id, a.id FROM "ChatGroup" g JOIN "BotAccount" a ON a.name = 'wx-' || (1 + g.id % 3)`);
    await q(`INSERT INTO "GroupAccount" ("groupId", "accountId") SELECT g.id, a.id FROM "ChatGroup" g JOIN "BotAccount" a ON a.name = 'wx-1' WHERE g.id % 3 = 1 ON CONFLICT DO NOTHING`);
    await q(`INSERT INTO "CadreUser" (username, "passwordHash", "displayName", role, "orgUnitId", "updatedAt") SELECT 'county', 'x', '县管理员', 'COUNTY_ADMIN', id, now() FROM "OrgUnit" WHERE code = 'C'`);
    const p = scratch.db.prisma;
    const drafter = await p.cadreUser.findFirstOrThrow();
    const b = await p.broadcast.create({
      data: { number: "GB20261130-0001", title: "基准", body: BODY, target: { scope: "all" }, status: "SCHEDULED", scheduledAt: new Date(Date.now() - 1000), drafterId: drafter.id },
    });
    const groupIds = (await p.chatGroup.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((g) => g.id);
    if (groupIds.length !== N) throw new Error(`期望 ${N} 个群，实际 ${groupIds.length}`);
    return { scratch, groupIds, broadcastId: b.id };
  } catch (e) {
    await scratch.drop();
    throw e;
  }
}

async function checkRows(c: County) {
  const n = await c.scratch.db.prisma.delivery.count({ where: { status: "QUEUED" } });
  if (n !== N) throw new Error(`期望写入 ${N} 条投递，实际 ${n} 条`);
}

// ---- 2. sending ----

interface Send {
  scratch?: ScratchDatabase;
  prefix?: string;
  ctx?: AppContext;
  wechat: MockWechat;
  bot?: BotHandle;
  adapter?: WechatyAdapter;
  accountId?: number;
}

const room = (i: number) => `bc-bench-${i}@chatroom`;

function mockRooms(): MockWechat {
  const wechat = new MockWechat();
  for (let i = 0; i < M; i++) wechat.room(room(i), `群${i}`, [{ id: "wxid_bench_0", name: "村民" }]);
  return wechat;
}

function checkSaid(wechat: MockWechat) {
  const rooms = new Set(wechat.said.filter((s) => s.text === BODY).map((s) => s.conversationId));
  if (wechat.said.length !== M || rooms.size !== M) throw new Error(`期望 ${M} 个群各收到一条，实际 ${wechat.said.length} 条、${rooms.size} 个群`);
}

async function sendSetup(h: BenchHarness): Promise<Send> {
  const scratch = await h.scratchDatabase();
  const o: Send = { scratch, prefix: `nbbench:broadcast:${randomBytes(4).toString("hex")}:`, wechat: mockRooms() };
  try {
    const config = loadConfig({ LOG_LEVEL, NODE_ENV: "test", DATABASE_URL: scratch.url, REDIS_URL, REDIS_KEY_PREFIX: o.prefix!, SENDER_MIN_GAP_MS: "0", SENDER_JITTER_MS: "0", SENDER_POLL_MS: "50" });
    const log = createLogger(config.LOG_LEVEL);
    o.ctx = { config, db: scratch.db, coord: createCoordination(config, log, { name: `nbbench:broadcast:${process.pid}` }), log };
    const p = scratch.db.prisma;
    const account = await p.botAccount.create({ data: { name: "bench-broadcast", channel: "WECHAT", sendsPerMinute: NO_BUDGET, sendsPerHour: NO_BUDGET, dailyBudget: NO_BUDGET } });
    const county = await p.orgUnit.create({ data: { code: "C", name: "县", kind: "COUNTY", path: "/", depth: 0 } });
    const drafter = await p.cadreUser.create({ data: { username: "c", passwordHash: "x", displayName: "c", role: "COUNTY_ADMIN", orgUnitId: county.id } });
    const b = await p.broadcast.create({ data: { number: "GB20261130-0001", title: "基准", body: BODY, target: { scope: "all" }, status: "SENDING", drafterId: drafter.id } });
    const later = new Date(Date.now() + 24 * 3600_000);
    for (let i = 0; i < M; i++) {
      const g = await p.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: room(i), topic: `群${i}` } });
      await p.groupAccount.create({ data: { groupId: g.id, accountId: account.id } });
      await p.delivery.create({ data: { channel: "WECHAT", groupId: g.id, body: BODY, priority: PRIORITY.bulk, idempotencyKey: `broadcast:${b.id}:group:${g.id}`, nextAttemptAt: later, broadcastId: b.id } });
    }
    o.accountId = account.id;
    o.bot = await startBot(o.ctx, { puppet: o.wechat.puppet, account: "bench-broadcast" });
    o.wechat.login();
    await waitUntil("登录", () => o.bot!.adapter.isOnline(), 10_000);
    return o;
  } catch (e) {
    await sendTeardown(o);
    throw e;
  }
}

async function sendTeardown(o: Send): Promise<void> {
  await teardownBotRun(o, REDIS_URL);
}

export default async function broadcastBench(h: BenchHarness): Promise<void> {
  const fan = await h.compare<County, County>({
    name: `全县广播 ${N} 个群：解析范围 + 一个事务写入投递 vs 裸 createMany`,
    rows: N,
    ours: {
      setup: () => countySetup(h),
      run: (c) => runDueBroadcasts(c.scratch.db.prisma, new Date()),
      check: async (c, r) => {
        await checkRows(c);
        if ((r as { started: number[] }).started[0] !== c.broadcastId) throw new Error("广播没有开始发送");
      },
      teardown: (c) => c.scratch.drop(),
    },
    baseline: {
      setup: () => countySetup(h),
      run: (c) =>
        c.scratch.db.prisma.delivery.createMany({
          data: c.groupIds.map((g) => ({ channel: "WECHAT" as const, groupId: g, body: BODY, priority: PRIORITY.bulk, idempotencyKey: `broadcast:${c.broadcastId}:group:${g}`, broadcastId: c.broadcastId })),
          skipDuplicates: true,
        }),
      check: checkRows,
      teardown: (c) => c.scratch.drop(),
    },
  });
  const ratio = median(fan.ours) / median(fan.baseline!);
  console.log(`  → 写入为基线的 ${ratio.toFixed(2)} 倍（目标 ≤ 1.5）${ratio <= 1.5 ? " ✓" : " ✗"}`);

  const send = await h.compare<Send, Send>({
    name: `广播发送 ${M} 个群（一个账号，额度关闭）认领 + 发送 + 标记 vs 裸循环 adapter.send`,
    rows: M,
    ours: {
      setup: () => sendSetup(h),
      run: async (o) => {
        const p = o.ctx!.db.prisma;
        await p.delivery.updateMany({ where: { status: "QUEUED" }, data: { nextAttemptAt: new Date() } });
        await wakeSenders(o.ctx!.coord, o.accountId);
        await waitUntil(`发出 ${M} 条`, () => o.wechat.said.length >= M, 60_000);
        await waitUntil("全部标记为已发送", async () => (await p.delivery.count({ where: { status: "SENT" } })) === M, 5_000, 2);
      },
      check: async (o) => checkSaid(o.wechat),
      teardown: sendTeardown,
    },
    baseline: {
      setup: async () => {
        const wechat = mockRooms();
        const adapter = new WechatyAdapter({ account: "bench-broadcast", puppetName: "wechaty-puppet-mock", puppet: wechat.puppet, log: createLogger(LOG_LEVEL) });
        await adapter.start();
        wechat.login();
        await waitUntil("登录", () => adapter.isOnline(), 10_000);
        return { wechat, adapter };
      },
      run: async (b) => {
        for (let i = 0; i < M; i++) await b.adapter!.send({ kind: "group", groupId: room(i) }, BODY);
      },
      check: async (b) => checkSaid(b.wechat),
      teardown: async (b) => void (await b.adapter?.stop().catch(() => undefined)),
    },
  });
  const ours = (M * 1000) / median(send.ours);
  const base = (M * 1000) / median(send.baseline!);
  console.log(`  → 本实现 ${Math.round(ours)} 条/s，基线 ${Math.round(base)} 条/s，吞吐为基线的 ${(ours / base).toFixed(3)} 倍`);
}
