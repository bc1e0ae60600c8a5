// Outbound throughput: M queued deliveries (BENCH_DELIVERIES, default 600: ~13 ms each on our side here, so a run
// stays a few seconds) for one account and one group, claimed and sent by our per-account sender (claimDue → budget
// check in Redis → WechatyAdapter.send on wechaty-puppet-mock → markSent) with the budgets effectively off (a billion
// sends per minute and per hour, no minimum gap, no jitter), against a bare loop calling the same adapter's send()
// M times on an identically set-up mock. The clock starts when the queued rows become due and stops when every row
// is SENT (ours) or every send has resolved (baseline); both sides must have put exactly M messages into the group.
import { randomBytes } from "node:crypto";
import { loadConfig } from "../core/config.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { wakeSenders, PRIORITY } from "../core/delivery/outbox.ts";
import { createLogger } from "../core/log.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { WechatyAdapter } from "../bot/adapters/wechaty.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { median, positiveEnv, teardownBotRun, type BenchHarness, type BenchResult, type ScratchDatabase, waitUntil } from "./harness.ts";

const M = (() => {
  const v = Number(process.env.BENCH_DELIVERIES ?? 600);
  if (!Number.isInteger(v) || v < 1) throw new Error("BENCH_DELIVERIES 必须是正整数");
  return v;
})();
const ROOM = "bench-delivery@chatroom";
const ACCOUNT = "bench-delivery";
/** Budgets "off": the limiters still run (two Redis round trips per send), they just never say no. */
const NO_BUDGET = 1_000_000_000;
const DEADLINE_MS = 45_000;
const REDIS_URL = process.env.BENCH_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379";
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || "silent";

const body = (i: number) => `【通知】第${i}条：本周六上午九点在村委会召开支部党员大会，请准时参加。`;

/** The village group the account sends to, with a few members as in real life. */
function mockGroup(): MockWechat {
  const wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党支部", Array.from({ length: 20 }, (_, i) => ({ id: `wxid_bench_${i}`, name: `村民${i}` })));
  return wechat;
}

/** Every one of the M texts arrived in the group exactly once. */
function checkSaid(wechat: MockWechat): void {
  const inRoom = wechat.said.filter((s) => s.conversationId === ROOM);
  if (inRoom.length !== M) throw new Error(`群里期望收到 ${M} 条消息，实际 ${inRoom.length} 条`);
  const distinct = new Set(inRoom.map((s) => s.text));
  if (distinct.size !== M || !distinct.has(body(0)) || !distinct.has(body(M - 1))) throw new Error(`群里收到的消息有重复或不对（${distinct.size} 种）`);
}

// ---- our side ----

interface Ours {
  scratch: ScratchDatabase;
  prefix: string;
  ctx: AppContext;
  wechat: MockWechat;
  bot: BotHandle;
  accountId: number;
}

async function oursSetup(h: BenchHarness): Promise<Ours> {
  const scratch = await h.scratchDatabase();
  const o: Partial<Ours> = { scratch, prefix: `nbbench:delivery:${randomBytes(4).toString("hex")}:` };
  try {
    const config = loadConfig({
      LOG_LEVEL,
      NODE_ENV: "test",
      DATABASE_URL: scratch.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: o.prefix,
      SENDER_MIN_GAP_MS: "0",
      SENDER_JITTER_MS: "0",
      SENDER_POLL_MS: "50",
    });
    const log = createLogger(config.LOG_LEVEL);
    o.ctx = { config, db: scratch.db, coord: createCoordination(config, log, { name: `nbbench:delivery:${process.pid}` }), log };
    const p = scratch.db.prisma;
    // The account exists before startBot (whose upsert keeps it as is) so the sender starts with these budgets.
    const account = await p.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: NO_BUDGET, sendsPerHour: NO_BUDGET } });
    const group = await p.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村党支部" } });
    await p.groupAccount.create({ data: { groupId: group.id, accountId: account.id } });
    // Queued but not due yet: the timed run makes them due at once.
    const later = new Date(Date.now() + 24 * 3600_000);
    await p.delivery.createMany({
      data: Array.from({ length: M }, (_, i) => ({
        channel: "WECHAT" as const,
        accountId: account.id,
        groupId: group.id,
        body: body(i),
        priority: PRIORITY.notice,
        idempotencyKey: `bench:delivery:${i}`,
        nextAttemptAt: later,
      })),
    });
    o.accountId = account.id;
    o.wechat = mockGroup();
    o.bot = await startBot(o.ctx, { puppet: o.wechat.puppet, account: ACCOUNT });
    if (o.bot.accountId !== account.id) throw new Error("startBot 用了另一个账号");
    o.wechat.login();
    const adapter = o.bot.adapter;
    await waitUntil("登录", () => adapter.isOnline(), 10_000);
    return o as Ours;
  } catch (e) {
    await oursTeardown(o);
    throw e;
  }
}

async function oursRun(o: Ours): Promise<void> {
  const due = await o.ctx.db.sql.query(`UPDATE "Delivery" SET "nextAttemptAt" = now() WHERE status = 'QUEUED'`);
  if ((due as { rowCount?: number }).rowCount !== M) throw new Error(`只有 ${(due as { rowCount?: number }).rowCount} 行变为到期`);
  await wakeSenders(o.ctx.coord, o.accountId);
  // The mock shows each send in the group; once all are there, the last markSent is at most one round trip away.
  await waitUntil(`发出 ${M} 条消息`, () => o.wechat.said.length >= M, DEADLINE_MS);
  const sent = async () => (await o.ctx.db.prisma.delivery.count({ where: { status: "SENT" } })) === M;
  await waitUntil(`把 ${M} 行标记为已发送`, sent, 5_000, 2);
}

async function oursCheck(o: Ours): Promise<void> {
  checkSaid(o.wechat);
  const rows = await o.ctx.db.prisma.delivery.groupBy({ by: ["status", "attempts"], _count: { _all: true } });
  const ok = rows.length === 1 && rows[0].status === "SENT" && rows[0].attempts === 1 && rows[0]._count._all === M;
  if (!ok) throw new Error(`投递状态不对：${JSON.stringify(rows.map((r) => [r.status, r.attempts, r._count._all]))}`);
}

async function oursTeardown(o: Partial<Ours>): Promise<void> {
  await teardownBotRun(o, REDIS_URL);
}

// ---- baseline: the same adapter on the same mock, called in a plain loop ----

interface Bare {
  wechat: MockWechat;
  adapter: WechatyAdapter;
}

async function bareSetup(): Promise<Bare> {
  const wechat = mockGroup();
  const adapter = new WechatyAdapter({ account: ACCOUNT, puppetName: "wechaty-puppet-mock", puppet: wechat.puppet, log: createLogger(LOG_LEVEL) });
  try {
    await adapter.start();
    wechat.login();
    await waitUntil("登录", () => adapter.isOnline(), 10_000);
  } catch (e) {
    await adapter.stop().catch(() => undefined);
    throw e;
  }
  return { wechat, adapter };
}

async function bareRun(b: Bare): Promise<void> {
  for (let i = 0; i < M; i++) await b.adapter.send({ kind: "group", groupId: ROOM }, body(i));
}

function perSecond(r: BenchResult): string {
  const ours = (r.rows! * 1000) / median(r.ours);
  const base = (r.rows! * 1000) / median(r.baseline!);
  return `  → 本实现 ${Math.round(ours).toLocaleString("en-US")} 条/s，基线 ${Math.round(base).toLocaleString("en-US")} 条/s，吞吐为基线的 ${(ours / base).toFixed(3)} 倍`;
}

export default async function deliveryBench(h: BenchHarness): Promise<void> {
  const r = await h.compare<Ours, Bare>({
    name: `投递 ${M} 条（一个账号、一个群，发送额度关闭）认领 + 发送 + 标记 vs 裸循环 adapter.send`,
    rows: M,
    ours: {
      setup: () => oursSetup(h),
      run: oursRun,
      check: oursCheck,
      teardown: oursTeardown,
    },
    baseline: {
      setup: bareSetup,
      run: bareRun,
      check: async (b) => checkSaid(b.wechat),
      teardown: (b) => b.adapter.stop().catch(() => undefined),
    },
  });
  console.log(perSecond(r));
}
