// A county-wide check-in: every one of the generated county's 25,000 members says 签到 in their branch's WeChat
// group (~250 groups of ~100), through the whole bot path (wechaty-puppet-mock → WechatyAdapter → handleMessage:
// parse, dedup in Redis, CheckinBatcher write-behind → one statement resolving identities / groups / open meetings
// and one writing the attendance; each handler returns only after its batch has committed) on a scratch PostgreSQL
// database and real Redis, while the summary loop and the sender run as in production.
//
// Baseline, the unavoidable part, timed in one run: a bare Wechaty bot on an identical mock whose `message` handler
// only reads each message the way our adapter does (as in inbound.bench.ts), fed the same 25,000 messages with the
// same window, PLUS one bare `INSERT … SELECT FROM unnest(…)` of the same 25,000 attendance rows (meeting, member,
// identity and group ids worked out in setup) into a scratch database with the same schema and the same county.
// Baseline = dispatch + insert. Goal: ours ≤ 1.5 × baseline.
//
// WINDOW (BENCH_CHECKIN_WINDOW, default 2000): at most that many messages said and not yet handled. A group
// check-in is not queued behind the inbound concurrency cap (the batch is its backpressure), so the write-behind
// can only batch what is in flight: with 32 in flight (inbound.bench.ts) each batch would hold ≤ 32 and a county
// burst would be a thousand round trips. 2000 is 20 groups answering a notice at once, and lets batches fill to
// CHECKIN_BATCH_MAX (500) while the previous ones are written. The baseline gets the same window. (Measured here:
// 1000 in flight made our side markedly slower, batches waiting on each other; 4000 made the bare dispatch slower.)
//
// WARM: both sides load every room (and so its members) before the clock, as a bot that has been up a while has
// (see inbound.bench.ts: a burst into a cold room times Wechaty's member sync, not the message path).
//
// Setup (untimed) per run and side: a migrated scratch database, loadCounty (the same loader `npm run seed` uses;
// it already creates one bound WeChat group per branch and a linked ChatIdentity per member, scoped to the account
// name, which is the bot's account here), one open meeting per branch, VACUUM ANALYZE + CHECKPOINT, and a MockWechat
// with the 250 rooms and 25,000 contacts (~7 s: wechaty-puppet-mock's createContact is slow).
//
// Check (untimed): every handler returned without error; exactly one PRESENT row per member, in their branch's
// meeting, from their branch's group; then, the bot stopped, whatever summaries were still due are flushed: every
// row is announced, each group got at most runMs / CHECKIN_ACK_INTERVAL_SEC + 2 summaries, the last one saying
// "已签到 n/n", and nothing else was sent (no reply per member).
import { randomBytes } from "node:crypto";
import { WechatyBuilder, type Wechaty, type Message } from "wechaty";
import type { mock } from "wechaty-puppet-mock";
import { loadConfig } from "../core/config.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { createLogger } from "../core/log.ts";
import { flushSummary, pendingSummaries } from "../core/meetings/summaries.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { WechatyAdapter } from "../bot/adapters/wechaty.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { generateCounty, mulberry32, type CountyData } from "../prisma/seed/county.ts";
import { loadCounty } from "../prisma/seed/load.ts";
import { median, positiveEnv, teardownBotRun, type BenchHarness, type BenchResult, type ScratchDatabase, waitUntil } from "./harness.ts";

const WINDOW = positiveEnv("BENCH_CHECKIN_WINDOW", 2000);
/** Members of the generated county (every one checks in once). */
const MEMBERS = positiveEnv("BENCH_CHECKIN_MEMBERS", 25_000);
/**
 * Runs per side: each builds a county database and 25,000 mock contacts (~15 s of setup), so 2 (a whole run of this
 * file takes about two minutes) unless BENCH_REPEAT says otherwise.
 */
const REPEAT = process.env.BENCH_REPEAT ? undefined : 2;
const ACCOUNT = "bench-checkin";
const TEXT = "签到";
/** A run that has not handled every message by then fails (lost or stuck messages). */
const DEADLINE_MS = positiveEnv("BENCH_CHECKIN_DEADLINE_MS", 180_000);
const REDIS_URL = process.env.BENCH_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379";
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || "silent";
/** Setup progress on stderr (BENCH_CHECKIN_VERBOSE=1). */
const VERBOSE = !!process.env.BENCH_CHECKIN_VERBOSE;
const note = (what: string, t0: number) => VERBOSE && process.stderr.write(`    [checkin] ${what}: ${Date.now() - t0} ms\n`);

// ---- the county, generated once (deterministic) ----

interface Person {
  wxid: string;
  name: string;
  identityId: number;
  memberId: number;
  room: Room;
}

interface Room {
  gid: string;
  topic: string;
  chatGroupId: number;
  orgUnitId: number;
  people: Person[];
}

interface County {
  data: CountyData;
  rooms: Room[];
  /** Every member once, in the order they speak: shuffled (fixed seed) so that each batch spans many groups. */
  lines: Person[];
}

let countyCache: County | undefined;

function county(): County {
  if (countyCache) return countyCache;
  const data = generateCounty({ accountName: ACCOUNT, members: MEMBERS });
  const rooms = new Map<number, Room>();
  for (const g of data.chatGroups) {
    if (g.kind === "BRANCH") rooms.set(g.id, { gid: g.platformGroupId, topic: g.topic, chatGroupId: g.id, orgUnitId: g.orgUnitId, people: [] });
  }
  const identities = new Map(data.chatIdentities.map((i) => [i.id, i]));
  const lines: Person[] = [];
  for (const gm of data.groupMemberships) {
    const room = rooms.get(gm.groupId);
    if (!room) continue; // the town cadre groups (secretaries sit there too): not where they check in
    const i = identities.get(gm.identityId)!;
    const p: Person = { wxid: i.platformUserId, name: i.displayName, identityId: i.id, memberId: i.memberId, room };
    room.people.push(p);
    lines.push(p);
  }
  if (lines.length !== data.members.length || new Set(lines.map((l) => l.memberId)).size !== lines.length) {
    throw new Error(`生成的县：期望每名党员恰好在一个支部群里（${data.members.length} 名党员，${lines.length} 个支部群成员）`);
  }
  const rnd = mulberry32(20_261_101);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  return (countyCache = { data, rooms: [...rooms.values()], lines });
}

// ---- the database side of setup (both sides) ----

interface Loaded {
  scratch: ScratchDatabase;
  /** Open meeting per branch (orgUnitId → meeting id). */
  meetings: Map<number, number>;
}

/** A scratch database with the county and one meeting per branch whose check-in window is open now. */
async function loadDatabase(h: BenchHarness, c: County): Promise<Loaded> {
  let t0 = Date.now();
  const scratch = await h.scratchDatabase();
  try {
    const p = scratch.db.prisma;
    await loadCounty(p, c.data);
    note("建库并导入种子数据", t0);
    t0 = Date.now();
    const rows = await p.$queryRawUnsafe<{ id: number; orgUnitId: number }[]>(
      `INSERT INTO "Meeting" ("orgUnitId", topic, place, "plannedAt", "checkinOpensAt", "checkinClosesAt", "updatedAt")
       SELECT g."orgUnitId", '十一月主题党日', '村委会会议室', now() AT TIME ZONE 'UTC' + interval '10 minutes',
              now() AT TIME ZONE 'UTC' - interval '20 minutes', now() AT TIME ZONE 'UTC' + interval '40 minutes', now() AT TIME ZONE 'UTC'
         FROM "ChatGroup" g WHERE g.kind = 'BRANCH' ORDER BY g.id
       RETURNING id, "orgUnitId"`,
    );
    if (rows.length !== c.rooms.length) throw new Error(`期望 ${c.rooms.length} 个会议，实际 ${rows.length} 个`);
    // A bot that has been up a while works on a database with statistics and set hint bits, not on one that was bulk
    // loaded a second ago (autovacuum and autoanalyze would otherwise start in the middle of the clock, at a random
    // moment, and the first read of every fresh page writes it back); the checkpoint starts each run with the same
    // amount of WAL behind it.
    await p.$executeRawUnsafe(`VACUUM ANALYZE`);
    await p.$executeRawUnsafe(`CHECKPOINT`);
    note("每个支部一个会议，VACUUM ANALYZE，CHECKPOINT", t0);
    return { scratch, meetings: new Map(rows.map((r) => [Number(r.orgUnitId), Number(r.id)])) };
  } catch (e) {
    await scratch.drop();
    throw e;
  }
}

// ---- the simulated WeChat (both sides) ----

/** 250 rooms, 25,000 contacts, a counter of handled messages and the feeder. */
class MockCounty {
  readonly wechat = new MockWechat();
  readonly rooms: mock.RoomMock[];
  /** Per line: who says it, and where. */
  private readonly speakers: { contact: mock.ContactMock; room: mock.RoomMock }[];
  handled = 0;
  failed = 0;
  readonly errors = new Map<string, number>();
  private onHandled?: () => void;

  constructor(readonly c: County) {
    const t0 = Date.now();
    const byGid = new Map<string, mock.RoomMock>();
    this.rooms = c.rooms.map((r) => {
      const room = this.wechat.room(r.gid, r.topic, r.people.map((p) => ({ id: p.wxid, name: p.name })));
      byGid.set(r.gid, room);
      return room;
    });
    const contacts = this.wechat.mocker.ContactMock;
    this.speakers = c.lines.map((p) => ({ contact: contacts.load(p.wxid), room: byGid.get(p.room.gid)! }));
    note(`模拟微信 ${this.rooms.length} 个群、${c.lines.length} 个联系人`, t0);
  }

  /** Wraps a message handler so that every return (or throw) is counted. */
  counted<A extends unknown[]>(handler: (...args: A) => Promise<void>) {
    return async (...args: A) => {
      try {
        await handler(...args);
      } catch (e) {
        this.failed++;
        const what = String((e as Error)?.message ?? e).trim().split("\n")[0].slice(0, 160);
        this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
        throw e;
      } finally {
        this.handled++;
        this.onHandled?.();
      }
    };
  }

  failures(): string {
    return `${this.failed} 条消息处理失败：${[...this.errors].map(([m, n]) => `${n} × ${m}`).join("；")}`;
  }

  /** Timed part: every member says 签到 once, at most WINDOW unhandled; resolves once every one has been handled. */
  async feed(): Promise<void> {
    const total = this.speakers.length;
    const start = this.handled;
    let next = 0;
    // Straight through the mocker, not MockWechat.say() (that scans the whole payload cache per message).
    const say = () => {
      const s = this.speakers[next++];
      s.contact.say(TEXT).to(s.room);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${DEADLINE_MS} ms 内只处理了 ${this.handled - start}/${total} 条消息`)), DEADLINE_MS);
        this.onHandled = () => {
          if (this.handled - start >= total) resolve();
          else if (next < total) say();
        };
        while (next < Math.min(WINDOW, total)) say();
      });
    } finally {
      clearTimeout(timer);
      this.onHandled = undefined;
    }
  }
}

// ---- our side ----

interface Ours extends Loaded {
  prefix: string;
  ctx: AppContext;
  mock: MockCounty;
  bot: BotHandle;
  stopped: boolean;
}

async function oursSetup(h: BenchHarness): Promise<Ours> {
  const c = county();
  const loaded = await loadDatabase(h, c);
  const o: Partial<Ours> = { ...loaded, prefix: `nbbench:checkin:${randomBytes(4).toString("hex")}:`, stopped: false };
  try {
    const config = loadConfig({ LOG_LEVEL, NODE_ENV: "test", DATABASE_URL: loaded.scratch.url, REDIS_URL, REDIS_KEY_PREFIX: o.prefix });
    const log = createLogger(config.LOG_LEVEL);
    o.ctx = { config, db: loaded.scratch.db, coord: createCoordination(config, log, { name: `nbbench:checkin:${process.pid}` }), log };
    const m = (o.mock = new MockCounty(c));
    // The adapter startBot would build from config, except that each return of the handler startBot registers on
    // it (handleMessage) is counted.
    const adapter = new WechatyAdapter({ account: ACCOUNT, puppetName: "wechaty-puppet-mock", puppet: m.wechat.puppet, log });
    const register = adapter.onMessage.bind(adapter);
    adapter.onMessage = (handler) => register(m.counted(handler));
    o.bot = await startBot(o.ctx, { adapter });
    m.wechat.login();
    await waitUntil("登录", () => adapter.isOnline());
    // WARM (see the top of the file).
    const t0 = Date.now();
    for (const r of c.rooms) {
      if ((await adapter.groupMembers(r.gid)).length !== r.people.length) throw new Error(`群 ${r.topic} 成员不全`);
    }
    note("预热全部群成员", t0);
    return o as Ours;
  } catch (e) {
    await oursTeardown(o);
    throw e;
  }
}

async function oursTeardown(o: Partial<Ours>): Promise<void> {
  await teardownBotRun({ ...o, bot: o.stopped ? undefined : o.bot }, REDIS_URL);
}

/** CPU time of this process during each timed part (user + system), for the absolute line. */
const cpuMs = { ours: [] as number[], dispatch: [] as number[] };
const cpuSince = (t0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / 1000;
};

async function oursRun(o: Ours): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await o.mock.feed();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  cpuMs.ours.push(cpuSince(cpu0));
  return ms;
}

/** Untimed: every member counted once, in the right meeting and group, and the groups told in a few summaries. */
async function oursCheck(o: Ours, runMs: number): Promise<void> {
  const c = county();
  const n = c.lines.length;
  if (o.mock.failed) throw new Error(o.mock.failures());
  if (o.mock.handled !== n) throw new Error(`期望处理 ${n} 条消息，实际 ${o.mock.handled} 条`);
  const p = o.scratch.db.prisma;
  const [a] = await p.$queryRawUnsafe<{ rows: number; present: number; members: number; grouped: number; right: number }[]>(
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE a.status = 'PRESENT')::int AS present,
            count(DISTINCT a."memberId")::int AS members, count(a."groupId")::int AS grouped,
            count(*) FILTER (WHERE i."memberId" = a."memberId" AND g."orgUnitId" = m."orgUnitId" AND a.source = 'WECHAT')::int AS right
       FROM "Attendance" a
       JOIN "Meeting" m ON m.id = a."meetingId"
       LEFT JOIN "ChatIdentity" i ON i.id = a."identityId"
       LEFT JOIN "ChatGroup" g ON g.id = a."groupId"`,
  );
  if (a.rows !== n || a.present !== n || a.members !== n || a.grouped !== n || a.right !== n) {
    throw new Error(`期望 ${n} 条出席记录（每名党员一条，在本支部的会议、来自本支部的群），实际 ${JSON.stringify(a)}`);
  }
  // Summaries: what the loop sent during the run, then (bot stopped) whatever was still pending, flushed directly.
  // Each group is told at most once per CHECKIN_ACK_INTERVAL_SEC, so a group gets about runMs / interval of them.
  await o.bot.stop();
  o.stopped = true;
  for (const s of await pendingSummaries(p, 10_000)) await flushSummary(p, s.meetingId, s.groupId, o.ctx.config.CHECKIN_ACK_NAMES);
  const unacked = await p.attendance.count({ where: { ackedAt: null } });
  if (unacked) throw new Error(`${unacked} 条签到没有进入任何群汇总`);
  const perGroup = await p.$queryRawUnsafe<{ groupId: number; n: number }[]>(
    `SELECT "groupId", count(*)::int AS n FROM "Delivery" WHERE "groupId" IS NOT NULL AND body LIKE '已签到%' GROUP BY "groupId"`,
  );
  const most = Math.max(0, ...perGroup.map((g) => g.n));
  const allowed = Math.ceil(runMs / (o.ctx.config.CHECKIN_ACK_INTERVAL_SEC * 1000)) + 2;
  if (perGroup.length !== c.rooms.length || most > allowed) {
    throw new Error(`期望 ${c.rooms.length} 个群各收到 1–${allowed} 条签到汇总，实际 ${perGroup.length} 个群、最多 ${most} 条`);
  }
  const other = await p.delivery.count({ where: { NOT: { body: { startsWith: "已签到" } } } });
  if (other) throw new Error(`意外的 ${other} 条其他消息（每人一条回复？）`);
  // Counted from the database: each group's last summary says the whole branch is there.
  const last = await p.$queryRawUnsafe<{ groupId: number; body: string }[]>(
    `SELECT DISTINCT ON ("groupId") "groupId", body FROM "Delivery" WHERE "groupId" IS NOT NULL ORDER BY "groupId", id DESC`,
  );
  const size = new Map(c.rooms.map((r) => [r.chatGroupId, r.people.length]));
  const wrong = last.find((d) => !d.body.startsWith(`已签到 ${size.get(Number(d.groupId))}/${size.get(Number(d.groupId))}`));
  if (wrong) throw new Error(`群 ${wrong.groupId} 的最后一条汇总不是全员签到：${wrong.body.split("\n")[0]}`);
}

// ---- baseline: bare Wechaty on the same mock + one bare batched insert ----

interface Bare extends Loaded {
  mock: MockCounty;
  bot: Wechaty;
  /** Messages whose text was read. */
  read: number;
  /** The attendance rows, as parameter arrays (worked out in setup). */
  rows: [number[], number[], number[], number[], string[]];
}

/** Timings of the two baseline parts per run, for the absolute line. */
const bareParts: { dispatch: number; insert: number }[] = [];

async function bareSetup(h: BenchHarness): Promise<Bare> {
  const c = county();
  const loaded = await loadDatabase(h, c);
  const at = new Date().toISOString();
  const rows: Bare["rows"] = [
    c.lines.map((p) => loaded.meetings.get(p.room.orgUnitId)!),
    c.lines.map((p) => p.memberId),
    c.lines.map((p) => p.identityId),
    c.lines.map((p) => p.room.chatGroupId),
    c.lines.map(() => at),
  ];
  let bot: Wechaty | undefined;
  try {
    const mockCounty = new MockCounty(c);
    bot = WechatyBuilder.build({ puppet: mockCounty.wechat.puppet } as any);
    const b: Bare = { ...loaded, mock: mockCounty, bot, read: 0, rows };
    bot.on("error", () => undefined);
    // What WechatyAdapter.dispatch reads from a message before handing it to our handler.
    const read = mockCounty.counted(async (msg: Message) => {
      if (msg.self() || msg.type() !== bot!.Message.Type.Text) return;
      const talker = msg.talker();
      const room = msg.room();
      const mentioned = room ? await msg.mentionList() : [];
      const message = {
        groupId: room?.id,
        topic: room ? await room.topic() : undefined,
        sender: { platformUserId: talker.id, displayName: talker.name() },
        text: room ? await msg.mentionText() : msg.text(),
        mentions: mentioned.map((x) => x.id),
        mentionsMe: room ? await msg.mentionSelf() : false,
        platformMessageId: msg.id,
        at: msg.date(),
      };
      if (message.text) b.read++;
    });
    bot.on("message", (msg) => void read(msg).catch(() => undefined));
    const login = new Promise<void>((resolve) => bot!.once("login", () => resolve()));
    await bot.start();
    mockCounty.wechat.login();
    await login;
    // WARM, as on our side.
    const t0 = Date.now();
    for (const r of c.rooms) {
      const room = await bot.Room.find({ id: r.gid });
      if (!room || (await room.memberAll()).length !== r.people.length + 1) throw new Error(`群 ${r.topic} 成员不全`);
    }
    note("预热全部群成员（基线）", t0);
    return b;
  } catch (e) {
    await bot?.stop().catch(() => undefined);
    await loaded.scratch.drop();
    throw e;
  }
}

async function bareRun(b: Bare): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await b.mock.feed();
  const t1 = process.hrtime.bigint();
  cpuMs.dispatch.push(cpuSince(cpu0));
  await b.scratch.db.prisma.$executeRawUnsafe(
    `INSERT INTO "Attendance" ("meetingId", "memberId", "identityId", "groupId", status, source, "recordedAt", "updatedAt")
     SELECT m, mem, ident, g, 'PRESENT', 'WECHAT', at AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
       FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::timestamptz[]) AS t(m, mem, ident, g, at)`,
    ...b.rows,
  );
  const t2 = process.hrtime.bigint();
  bareParts.push({ dispatch: Number(t1 - t0) / 1e6, insert: Number(t2 - t1) / 1e6 });
}

async function bareCheck(b: Bare): Promise<void> {
  const n = county().lines.length;
  if (b.mock.failed) throw new Error(b.mock.failures());
  if (b.read !== n) throw new Error(`期望读到 ${n} 条消息，实际 ${b.read} 条`);
  const rows = await b.scratch.db.prisma.attendance.count({ where: { status: "PRESENT", groupId: { not: null } } });
  if (rows !== n) throw new Error(`期望插入 ${n} 条出席记录，实际 ${rows} 条`);
}

async function bareTeardown(b: Bare): Promise<void> {
  await b.bot.stop().catch(() => undefined);
  await b.scratch.drop();
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * The issue asks for messages/s and the absolute times of both baseline parts. The CPU figures are this process's
 * (Wechaty, the mock, our handler, Redis and database clients) during the timed part: on a small machine they, not
 * the database, set the pace.
 */
function absolute(r: BenchResult): string {
  const ours = (r.rows! * 1000) / median(r.ours);
  const base = (r.rows! * 1000) / median(r.baseline!);
  const dispatch = median(bareParts.map((x) => x.dispatch));
  const insert = median(bareParts.map((x) => x.insert));
  return (
    `  → 本实现 ${fmt(median(r.ours))} ms（${fmt(ours)} 条/s，进程 CPU ${fmt(median(cpuMs.ours))} ms），` +
    `基线 ${fmt(median(r.baseline!))} ms（${fmt(base)} 条/s）= 裸 Wechaty 分发 ${fmt(dispatch)} ms（进程 CPU ${fmt(median(cpuMs.dispatch))} ms）` +
    ` + 一次批量插入 ${fmt(insert)} ms；比值 x${(median(r.ours) / median(r.baseline!)).toFixed(2)}（目标 ≤ 1.5）`
  );
}

export default async function checkinBench(h: BenchHarness): Promise<void> {
  const c = county();
  bareParts.length = 0;
  cpuMs.ours.length = cpuMs.dispatch.length = 0;
  const r = await h.compare<Ours, Bare>({
    name: `全县签到 ${c.lines.length} 条（${c.rooms.length} 个支部群，最多 ${WINDOW} 条在途）mock puppet → 路由 → 批量写入 vs 裸 Wechaty 分发 + 一次批量插入`,
    rows: c.lines.length,
    repeat: REPEAT,
    ours: {
      setup: () => oursSetup(h),
      run: (o) => oursRun(o),
      check: (o, ms) => oursCheck(o, ms as number),
      teardown: (o) => oursTeardown(o),
    },
    baseline: {
      setup: () => bareSetup(h),
      run: (b) => bareRun(b),
      check: (b) => bareCheck(b),
      teardown: (b) => bareTeardown(b),
    },
  });
  console.log(absolute(r));
}
