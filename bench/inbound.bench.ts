// Inbound chat throughput: distinct room messages said through wechaty-puppet-mock into our whole bot path
// (startBot → WechatyAdapter → handleMessage: dedup in Redis, identity/group upserts, command parse, reply written to
// the Delivery outbox in a transaction, sender wake-up) on a scratch PostgreSQL database and real Redis, against a
// bare Wechaty bot on the same mock whose `message` handler only reads each message the way our adapter does
// (talker, room, topic, mention list, mention text, mention-self): the platform's dispatch work without our router,
// Redis and database. The clock stops when the handler of every message has returned.
//
// Two workloads: every message a command that earns one reply, and a realistic mix of 90 % plain chat (ignored
// before any Redis or database work) and 10 % commands.
//
// Messages are fed with at most WINDOW of them unhandled at a time (a new one is said as soon as one is handled):
// the bot has no backpressure of its own (the adapter starts every message's handler at once), and a burst of
// hundreds of simultaneous commands into its 10-connection pool fails most of them on pool/transaction timeouts
// (BENCH_INBOUND_WINDOW=2000 reproduces that). The window measures what the path sustains, not that failure.
//
// WARM: both sides load the room (and so its members) before the clock starts, as a bot that has been up a while
// has. Into a cold room Wechaty's Room.ready() syncs every member for every message that arrives before the first
// sync finished: a burst into a cold 200-member room runs at ~100 messages/s even with an empty handler, which would
// time Wechaty's cache warm-up, not our path.
import { randomBytes } from "node:crypto";
import { WechatyBuilder, type Wechaty, type Message } from "wechaty";
import type { mock } from "wechaty-puppet-mock";
import { loadConfig } from "../core/config.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { createLogger } from "../core/log.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { WechatyAdapter } from "../bot/adapters/wechaty.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { median, positiveEnv, teardownBotRun, type BenchHarness, type BenchResult, type ScratchDatabase, waitUntil } from "./harness.ts";

/** Messages of the all-commands workload (each costs our path ~10 ms of CPU: keep a run a few seconds long). */
const COMMANDS = positiveEnv("BENCH_INBOUND_COMMANDS", 300);
/** Messages of the 90/10 mix. */
const MIXED = positiveEnv("BENCH_INBOUND_MESSAGES", 2_000);
const WINDOW = positiveEnv("BENCH_INBOUND_WINDOW", 32);
const MEMBERS = 200;
const ROOM = "bench-inbound@chatroom";
const ACCOUNT = "bench-inbound";
/** A run that has not handled every message by then fails (lost or stuck messages). */
const DEADLINE_MS = 45_000;
const REDIS_URL = process.env.BENCH_REDIS_URL || process.env.REDIS_URL || "redis://127.0.0.1:6379";
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || "silent";

interface Line {
  who: number;
  text: string;
  command: boolean;
}

/**
 * Message i comes from member i % MEMBERS. Commands are `帮助 <unknown name>` (one "not found" reply each), every
 * text distinct so neither dedup key (platform id; sender + text for 3 s) swallows one; plain chat is not a command.
 */
function workload(n: number, commandEvery: number): Line[] {
  return Array.from({ length: n }, (_, i) =>
    i % commandEvery === 0
      ? { who: i % MEMBERS, text: `帮助 第${i}项`, command: true }
      : { who: i % MEMBERS, text: `大家好，今天第${i}条`, command: false },
  );
}

/** A simulated WeChat with one village group of MEMBERS people, a counter of handled messages and the feeder. */
class MockRoom {
  readonly wechat = new MockWechat();
  readonly members: mock.ContactMock[];
  readonly room: mock.RoomMock;
  handled = 0;
  failed = 0;
  /** Failures by the first line of their message. */
  readonly errors = new Map<string, number>();
  private onHandled?: () => void;

  constructor() {
    const people = Array.from({ length: MEMBERS }, (_, i) => ({ id: `wxid_bench_${i}`, name: `村民${i}` }));
    this.room = this.wechat.room(ROOM, "李家庄村党支部", people);
    this.members = people.map((p) => this.wechat.contact(p.id, p.name));
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

  /** Timed part: says the lines keeping at most WINDOW unhandled; resolves once every one has been handled. */
  async feed(lines: Line[]): Promise<void> {
    const start = this.handled;
    let next = 0;
    // Straight through the mocker, not MockWechat.say(): that finds the new message id by spreading the whole
    // payload cache, which is quadratic over a run and would time the mock rather than the bot.
    const say = () => {
      const l = lines[next++];
      this.members[l.who].say(l.text).to(this.room);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${DEADLINE_MS} ms 内只处理了 ${this.handled - start}/${lines.length} 条消息`)), DEADLINE_MS);
        this.onHandled = () => {
          if (this.handled - start >= lines.length) resolve();
          else if (next < lines.length) say();
        };
        while (next < Math.min(WINDOW, lines.length)) say();
      });
    } finally {
      clearTimeout(timer);
      this.onHandled = undefined;
    }
  }
}

// ---- our side ----

interface Ours {
  scratch: ScratchDatabase;
  prefix: string;
  ctx: AppContext;
  mock: MockRoom;
  bot: BotHandle;
}

/** A real AppContext assembled as production does (core/runtime.ts), on a scratch database and its own Redis prefix. */
async function oursSetup(h: BenchHarness): Promise<Ours> {
  const scratch = await h.scratchDatabase();
  const o: Partial<Ours> = { scratch, prefix: `nbbench:inbound:${randomBytes(4).toString("hex")}:` };
  try {
    // Sender pacing stays at production defaults: during the run it sends about one reply every 2 s, as it would.
    const config = loadConfig({ LOG_LEVEL, NODE_ENV: "test", DATABASE_URL: scratch.url, REDIS_URL, REDIS_KEY_PREFIX: o.prefix });
    const log = createLogger(config.LOG_LEVEL);
    o.ctx = { config, db: scratch.db, coord: createCoordination(config, log, { name: `nbbench:inbound:${process.pid}` }), log };
    const mockRoom = (o.mock = new MockRoom());
    // The adapter startBot would build from config, except that each return of the handler startBot registers on
    // it (handleMessage) is counted.
    const adapter = new WechatyAdapter({ account: ACCOUNT, puppetName: "wechaty-puppet-mock", puppet: mockRoom.wechat.puppet, log });
    const register = adapter.onMessage.bind(adapter);
    adapter.onMessage = (handler) => register(mockRoom.counted(handler));
    o.bot = await startBot(o.ctx, { adapter });
    mockRoom.wechat.login();
    await waitUntil("登录", () => adapter.isOnline());
    // WARM (see the top of the file).
    if ((await adapter.groupMembers(ROOM)).length !== MEMBERS) throw new Error("群成员不全");
    return o as Ours;
  } catch (e) {
    await oursTeardown(o);
    throw e;
  }
}

async function oursTeardown(o: Partial<Ours>): Promise<void> {
  await teardownBotRun(o, REDIS_URL);
}

async function oursCheck(o: Ours, lines: Line[]): Promise<void> {
  if (o.mock.failed) throw new Error(o.mock.failures());
  if (o.mock.handled !== lines.length) throw new Error(`期望处理 ${lines.length} 条消息，实际 ${o.mock.handled} 条`);
  const commands = lines.filter((l) => l.command);
  const p = o.ctx.db.prisma;
  const replies = await p.delivery.findMany({ select: { body: true, groupId: true } });
  if (replies.length !== commands.length) throw new Error(`期望 ${commands.length} 条回复，实际 ${replies.length} 条`);
  const wrong = replies.find((r) => !r.body.includes("没有找到命令") || r.groupId == null);
  if (wrong) throw new Error(`意外的回复：${wrong.body}`);
  // Plain chat must not have touched the database: only the people who sent commands are known.
  const speakers = new Set(commands.map((l) => l.who)).size;
  const identities = await p.chatIdentity.count();
  const memberships = await p.groupMembership.count();
  if (identities !== speakers || memberships !== speakers) {
    throw new Error(`期望 ${speakers} 个聊天身份和群成员记录，实际 ${identities} 个身份、${memberships} 条成员记录`);
  }
}

// ---- baseline: bare Wechaty on the same mock ----

interface Bare {
  mock: MockRoom;
  bot: Wechaty;
  /** Messages whose text was read. */
  read: number;
}

async function bareSetup(): Promise<Bare> {
  const mockRoom = new MockRoom();
  const bot = WechatyBuilder.build({ puppet: mockRoom.wechat.puppet } as any);
  const b: Bare = { mock: mockRoom, bot, read: 0 };
  bot.on("error", () => undefined);
  // What WechatyAdapter.dispatch reads from a message before handing it to our handler.
  const read = mockRoom.counted(async (msg: Message) => {
    if (msg.self() || msg.type() !== bot.Message.Type.Text) return;
    const talker = msg.talker();
    const room = msg.room();
    const mentioned = room ? await msg.mentionList() : [];
    const message = {
      groupId: room?.id,
      topic: room ? await room.topic() : undefined,
      sender: { platformUserId: talker.id, displayName: talker.name() },
      text: room ? await msg.mentionText() : msg.text(),
      mentions: mentioned.map((c) => c.id),
      mentionsMe: room ? await msg.mentionSelf() : false,
      platformMessageId: msg.id,
      at: msg.date(),
    };
    if (message.text) b.read++;
  });
  bot.on("message", (msg) => void read(msg).catch(() => undefined));
  try {
    const login = new Promise<void>((resolve) => bot.once("login", () => resolve()));
    await bot.start();
    mockRoom.wechat.login();
    await login;
    // WARM, as on our side.
    const room = await bot.Room.find({ id: ROOM });
    if (!room || (await room.memberAll()).length !== MEMBERS + 1) throw new Error("群成员不全");
  } catch (e) {
    await bot.stop().catch(() => undefined);
    throw e;
  }
  return b;
}

async function bareCheck(b: Bare, lines: Line[]): Promise<void> {
  if (b.mock.failed) throw new Error(b.mock.failures());
  if (b.read !== lines.length) throw new Error(`期望读到 ${lines.length} 条消息，实际 ${b.read} 条`);
}

/** The harness prints times; the issue asks for messages/s, so say it in those words too. */
function perSecond(r: BenchResult): string {
  const ours = (r.rows! * 1000) / median(r.ours);
  const base = (r.rows! * 1000) / median(r.baseline!);
  return `  → 本实现 ${Math.round(ours).toLocaleString("en-US")} 条/s，基线 ${Math.round(base).toLocaleString("en-US")} 条/s，吞吐为基线的 ${(ours / base).toFixed(3)} 倍`;
}

export default async function inboundBench(h: BenchHarness): Promise<void> {
  const scenarios = [
    { label: "全是命令，每条一条回复", lines: workload(COMMANDS, 1) },
    { label: "90% 闲聊（不查库不访问 Redis）+ 10% 命令", lines: workload(MIXED, 10) },
  ];
  for (const { label, lines } of scenarios) {
    const commands = lines.filter((l) => l.command).length;
    const r = await h.compare<Ours, Bare>({
      name: `入站群消息 ${lines.length} 条（${label}：${commands} 命令 / ${lines.length - commands} 闲聊，最多 ${WINDOW} 条在途）mock puppet → 路由 → 处理 vs 裸 Wechaty 分发`,
      rows: lines.length,
      ours: {
        setup: () => oursSetup(h),
        run: (o) => o.mock.feed(lines),
        check: (o) => oursCheck(o, lines),
        teardown: (o) => oursTeardown(o),
      },
      baseline: {
        setup: () => bareSetup(),
        run: (b) => b.mock.feed(lines),
        check: (b) => bareCheck(b, lines),
        teardown: (b) => b.bot.stop().catch(() => undefined),
      },
    });
    console.log(perSecond(r));
  }
}
