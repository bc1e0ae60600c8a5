// `npm run demo [-- --once]`: the whole system in one process against a simulated county.
// With DATABASE_URL / REDIS_URL unset it runs embedded: PGlite under ./data/pglite and in-process coordination.
// The chat side is a simulated WeChat (wechaty-puppet-mock) holding every group of the simulated county: type a line
// and the current speaker says it in their group; `以 <姓名> 身份` speaks as anyone of the county (a secretary, a town
// admin, any member), `私聊 …` privately to the bot, `在 <群名> …` in another group of theirs.
import { parseArgs } from "node:util";
import { createInterface } from "node:readline";
import { loadConfig, ConfigError } from "./config.ts";
import { createLogger } from "./log.ts";
import { startRuntime, type Runtime } from "./runtime.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { seedIfEmpty, SEED_STEP_LABELS } from "../prisma/seed/load.ts";
import { DEMO_PASSWORDS } from "../prisma/seed/county.ts";
import { CHINA_OFFSET_MS } from "./meetings/time.ts";

/**
 * How long a scene waits for the bot. Longer than a minute: the bot honours its account's per-minute sending budget
 * (20 by default, counted from the database), so a demo started right after another one may wait for the window.
 */
const REPLY_WAIT_MS = 90_000;

/** Sending budgets of the simulated county's bot account, set when the demo seeds it. */
const DEMO_BUDGETS = { sendsPerMinute: 300, sendsPerHour: 6000, dailyBudget: 50_000 };

const { values } = parseArgs({ options: { once: { type: "boolean", default: false } } });
const once = values.once!;

// Demo pacing and quiet logs, unless the operator set them: the console shows the conversation.
process.env.LOG_LEVEL ??= "warn";
process.env.SENDER_MIN_GAP_MS ??= "200";
process.env.SENDER_JITTER_MS ??= "300";
process.env.SENDER_POLL_MS ??= "500";
if (once) process.env.API_PORT ??= "0";

const out = (line = "") => process.stdout.write(line + "\n");

async function main() {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  out(`netbranch 演示 · 数据库：${config.DATABASE_URL ? "PostgreSQL（DATABASE_URL）" : `内置 PGlite（${config.PGLITE_DIR}）`} · 协调：${config.REDIS_URL ? "Redis" : "进程内"}`);
  const wechat = new MockWechat();
  const t0 = Date.now();
  const runtime = await startRuntime({
    roles: ["api", "bot", "jobs"],
    config,
    log,
    bot: { puppet: wechat.puppet },
    beforeRoles: async (ctx) => {
      let last = "";
      const seeded = await seedIfEmpty(ctx.db.prisma, {
        accountName: config.BOT_ACCOUNT,
        history: true,
        onProgress: (step, done, total) => {
          const line = `  正在加载模拟县：${SEED_STEP_LABELS[step as keyof typeof SEED_STEP_LABELS] ?? step} ${done}/${total}`;
          if (line !== last && process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
          last = line;
        },
      });
      if (process.stderr.isTTY && last) process.stderr.write("\r\x1b[K");
      if (seeded) {
        // The simulated WeChat has no risk control: a county broadcast to 271 groups should arrive in a minute or
        // two, not the hours the conservative budgets of a real account (20 a minute, 300 an hour) would take.
        await ctx.db.prisma.botAccount.updateMany({ where: { name: config.BOT_ACCOUNT }, data: DEMO_BUDGETS });
        out(`已加载模拟县（首次启动，含近六个月的会议、签到和民情诉求，用时 ${((Date.now() - t0) / 1000).toFixed(1)} 秒）`);
      }
    },
  });
  const stop = async (code: number) => {
    await runtime.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    const t1 = Date.now();
    const county = await loadCountyRooms(runtime, wechat, config.BOT_ACCOUNT);
    const room = county.demoRoom;
    wechat.login();
    await printCounty(runtime);
    out(`模拟微信：已载入全部 ${county.rooms} 个群、${county.people} 位成员（用时 ${((Date.now() - t1) / 1000).toFixed(1)} 秒），县级广播会送到每个群。`);
    out(`管理控制台：${runtime.api!.url}/console/   API 地址：${runtime.api!.url}   接口文档：${runtime.api!.url}/api/docs`);
    const logins = await demoLogins(runtime, room.orgUnitId);
    printLogins(logins);
    out("");
    out(`模拟微信群「${room.topic}」（${room.members.length} 人）：`);
    const chat = new ChatView(wechat);
    chat.homeRoomId = room.id;
    chat.speaker = { id: room.members[0].id, name: room.members[0].name, groupId: room.id, groupTopic: room.topic };
    const speaker = room.members[0];
    const reply = wechat.waitForBot(room.id, (t) => t.includes("可用命令"), REPLY_WAIT_MS);
    out(`  【群】${speaker.name}：帮助`);
    wechat.say(speaker.id, "帮助", room.id);
    await reply;
    await bindingScenario(runtime, wechat, chat);
    await studyScenario(runtime, wechat, room);
    await complaintScenario(wechat, room);
    await calendarScenario(wechat, room);
    await townAdminScenario(runtime, wechat, chat, logins.town, config.BOT_ACCOUNT);

    if (once) {
      await checkApi(runtime.api!.url, logins);
      out("演示脚本完成。");
      await stop(0);
      return;
    }
    const speakAs = new SpeakerSwitch(runtime, wechat, chat, config.BOT_ACCOUNT);
    chat.allPrivate = false;
    chat.quiet.clear();
    chat.speaker = { id: speaker.id, name: speaker.name, groupId: room.id, groupTopic: room.topic };
    out("");
    out("现在轮到您了：输入一句话，当前发言人就在群里说出来。");
    out("  以 <姓名> 身份     换一个人发言（县里任何一位党员，例如支部书记、乡镇管理员；重名时加支部名：以 王伟 桃园村 身份）");
    out("  私聊 <内容>        以当前发言人的身份私聊机器人（例如：私聊 本月报告、私聊 我的诉求）");
    out("  在 <群名> <内容>   到当前发言人所在的另一个群里说（之后的话也在那里说；例如：在 城关镇党建工作群 本月报告）");
    out("  Ctrl+C 退出");
    const [asSecretary, asTown] = await Promise.all([
      speakAsLine(runtime, logins.secretary?.memberId ?? null, config.BOT_ACCOUNT),
      speakAsLine(runtime, logins.town?.memberId ?? null, config.BOT_ACCOUNT),
    ]);
    if (asSecretary) out(`  试试：${asSecretary}（支部书记）→ 三会一课`);
    if (asTown) out(`  试试：${asTown}（乡镇管理员）→ 私聊 本月报告，或 在 ${logins.town!.unitName}党建工作群 本月报告`);
    out(`当前发言人：${speaker.name}（在「${room.topic}」）`);
    const rl = createInterface({ input: process.stdin });
    let queue = Promise.resolve();
    rl.on("line", (line) => {
      const text = line.trim();
      if (!text) return;
      // One line after the other: a switch must be done before the next line is said as the new person.
      queue = queue.then(() => speakAs.handle(text)).catch((e: Error) => void out(`  （演示出错：${e.message}）`));
    });
    rl.on("close", () => void 0);
  } catch (e) {
    console.error(`演示失败：${(e as Error).message}`);
    await stop(1);
  }
}

interface Login {
  username: string;
  password: string;
  displayName: string;
  unitName: string;
  memberId: number | null;
}

interface DemoLogins {
  county: Login;
  town: Login | null;
  secretary: Login | null;
}

/** The console logins of the demo's county, its town (the demo branch's) and its branch, as seeded. */
async function demoLogins(runtime: Runtime, branchId: number): Promise<DemoLogins> {
  const { prisma } = runtime.ctx.db;
  const branch = await prisma.orgUnit.findUniqueOrThrow({ where: { id: branchId }, select: { path: true } });
  const townId = Number(branch.path.split("/").filter(Boolean)[1]);
  const find = (where: object, password: string) =>
    prisma.cadreUser
      .findFirst({ where: { ...where, active: true }, orderBy: { id: "asc" }, include: { orgUnit: { select: { name: true } } } })
      .then((u) => (u ? { username: u.username, password, displayName: u.displayName, unitName: u.orgUnit.name, memberId: u.memberId } : null));
  const [county, town, secretary] = await Promise.all([
    find({ username: "county_admin" }, DEMO_PASSWORDS.county),
    find({ role: "TOWN_ADMIN", orgUnitId: townId }, DEMO_PASSWORDS.town),
    find({ role: "BRANCH_SECRETARY", orgUnitId: branchId }, DEMO_PASSWORDS.secretary),
  ]);
  if (!county) throw new Error("数据库中没有县级管理员 county_admin：演示需要 npm run seed 生成的模拟县（请使用空的数据库目录）");
  return { county, town, secretary };
}

function printLogins(l: DemoLogins) {
  out("控制台演示账号（仅供演示，可直接登录）：");
  out(`  县级管理员  ${l.county.username} / ${l.county.password}（${l.county.unitName}；广播须另一人审批：county_admin2，密码相同）`);
  if (l.town) out(`  乡镇管理员  ${l.town.username} / ${l.town.password}（${l.town.unitName}，${l.town.displayName}）`);
  if (l.secretary) out(`  支部书记    ${l.secretary.username} / ${l.secretary.password}（${l.secretary.unitName}，${l.secretary.displayName}）`);
}

/** Who types in the demo now, and where. */
interface Speaker {
  id: string;
  name: string;
  groupId: string;
  groupTopic: string;
}

/**
 * Prints what the bot says: in full in the current speaker's group and to the speaker privately; for the other
 * 270 groups and people, a short line, and one summary line for a burst (a broadcast reaching every group).
 */
class ChatView {
  speaker: Speaker | null = null;
  /** The demo's own branch group: its lines say just 【群】. */
  homeRoomId = "";
  private burst: { started: number; first: string; firstConv: string; convs: Set<string>; n: number; timer: NodeJS.Timeout | undefined } | null = null;
  constructor(private readonly wechat: MockWechat) {
    wechat.onBotSaid((m) => this.show(m.conversationId, m.text));
  }

  /** Conversations a scripted scene prints itself. */
  readonly quiet = new Set<string>();
  /** During the scripted scenes every private answer is shown in full (the filer's receipt, the secretary's). */
  allPrivate = true;

  private show(conversationId: string, text: string) {
    if (this.quiet.has(conversationId)) return;
    const body = text.replace(/\n/g, "\n      ");
    const sp = this.speaker;
    if (sp && conversationId === sp.groupId) return void out(`  【群${conversationId === this.homeRoomId ? "" : `「${sp.groupTopic}」`}】支部小助手：${body}`);
    if (!conversationId.includes("@") && (conversationId === sp?.id || this.allPrivate)) {
      return void out(`  【私聊 ${this.wechat.contactName(conversationId) ?? conversationId}】支部小助手：${body}`);
    }
    const where = conversationId.includes("@") ? `群「${this.topic(conversationId)}」` : `私聊 ${this.wechat.contactName(conversationId) ?? conversationId}`;
    const line = `【${where}】支部小助手：${text.split("\n")[0].slice(0, 60)}`;
    const now = Date.now();
    if (!this.burst) this.burst = { started: now, first: line, firstConv: conversationId, convs: new Set(), n: 0, timer: undefined };
    else {
      this.burst.n++;
      if (conversationId !== this.burst.firstConv) this.burst.convs.add(conversationId);
    }
    // A burst (a broadcast going out to every group at a few a second) ends after 2 s of quiet, or 20 s at most.
    clearTimeout(this.burst.timer);
    this.burst.timer = setTimeout(() => this.flush(), now - this.burst.started > 20_000 ? 0 : 2000);
  }

  private flush() {
    const b = this.burst;
    this.burst = null;
    if (!b) return;
    out(`  ${b.first}${b.n ? `\n  ……另有 ${b.n} 条，发往另外 ${b.convs.size} 个群或个人` : ""}`);
  }

  private topic(roomId: string): string {
    return this.wechat.roomTopic(roomId) ?? roomId;
  }
}

/** The demo prompt: `以 X 身份`, `私聊 …`, `在 <群名> …`, anything else said in the speaker's group. */
class SpeakerSwitch {
  constructor(
    private readonly runtime: Runtime,
    private readonly wechat: MockWechat,
    private readonly chat: ChatView,
    private readonly account: string,
  ) {}

  async handle(text: string) {
    const sp = this.chat.speaker!;
    const as = /^以\s*(.+?)\s*身份$/u.exec(text);
    if (as) return this.switchTo(as[1]);
    if (text.startsWith("私聊 ") || text.startsWith("私聊\u3000")) {
      out(`  【私聊】${sp.name}：${text.slice(3).trim()}`);
      return void this.wechat.say(sp.id, text.slice(3).trim());
    }
    const inGroup = /^在\s*(\S+)\s+(.+)$/su.exec(text);
    if (inGroup) return this.sayIn(inGroup[1], inGroup[2].trim());
    if (!sp.groupId) {
      out(`  （${sp.name} 不在任何群里，请用“私聊 …”）`);
      return;
    }
    this.wechat.say(sp.id, text, sp.groupId);
  }

  private async sayIn(name: string, text: string) {
    const sp = this.chat.speaker!;
    const groups = await this.groupsOf(sp.id);
    const group = groups.find((g) => g.topic === name) ?? groups.find((g) => g.topic.includes(name));
    if (!group) {
      out(`  （${sp.name} 不在「${name}」里。${sp.name} 所在的群：${groups.map((g) => g.topic).join("、") || "无"}）`);
      return;
    }
    if (group.id !== sp.groupId) out(`  （${sp.name} 接下来的话都在「${group.topic}」里说）`);
    out(`  【群「${group.topic}」】${sp.name}：${text}`);
    this.chat.speaker = { ...sp, groupId: group.id, groupTopic: group.topic };
    this.wechat.say(sp.id, text, group.id);
  }

  private async groupsOf(platformUserId: string) {
    const rows = await this.runtime.ctx.db.prisma.groupMembership.findMany({
      where: { leftAt: null, identity: { channel: "WECHAT", scope: this.account, platformUserId }, group: { channel: "WECHAT" } },
      select: { group: { select: { platformGroupId: true, topic: true, kind: true } } },
      orderBy: { groupId: "asc" },
    });
    return rows.map((r) => ({ id: r.group.platformGroupId, topic: r.group.topic, kind: r.group.kind })).filter((g) => this.wechat.hasRoom(g.id));
  }

  /** `以 董东 身份`, `以 王伟 桃园村 身份` (a name shared by several: narrowed by branch or village name). */
  async switchTo(query: string) {
    const [name, ...rest] = query.split(/[\s\u3000（(）)]+/u).filter(Boolean);
    const where = rest.join("");
    const { prisma } = this.runtime.ctx.db;
    const found = await prisma.member.findMany({
      where: { name, identities: { some: { channel: "WECHAT", scope: this.account } } },
      include: {
        branch: { select: { name: true, parent: { select: { name: true } } } },
        cadreUser: { select: { role: true, username: true, active: true, orgUnit: { select: { name: true } } } },
        identities: { where: { channel: "WECHAT", scope: this.account }, select: { platformUserId: true, displayName: true }, take: 1 },
      },
      orderBy: { id: "asc" },
      take: 50,
    });
    const byNumber = /^\d+$/.test(where) ? found[Number(where) - 1] : undefined;
    const matches = byNumber ? [byNumber] : where ? found.filter((m) => m.branch.name.includes(where) || (m.branch.parent?.name.includes(where) ?? false)) : found;
    if (matches.length === 0) {
      out(found.length ? `  （没有在「${where}」的${name}。）` : `  （模拟县里没有叫「${name}」的党员（或他没有微信身份）。可以换成支部书记或乡镇管理员的名字，启动时已列出。）`);
      return;
    }
    if (matches.length > 1) {
      out(`  （有 ${matches.length} 位党员叫「${name}」，请加上支部或村名，例如：）`);
      for (const m of matches.slice(0, 10)) out(`    ${speakAsCommand(found, m)}   ——${m.branch.name}，${roleLabel(m)}`);
      if (matches.length > 10) out(`    ……等 ${matches.length} 位`);
      return;
    }
    const m = matches[0];
    const who = m.identities[0];
    this.wechat.contact(who.platformUserId, who.displayName || m.name);
    const groups = await this.groupsOf(who.platformUserId);
    // Members speak in their branch's group first; someone in no group of ours can still talk privately.
    const home = groups.find((g) => g.kind === "BRANCH") ?? groups[0];
    this.chat.speaker = { id: who.platformUserId, name: m.name, groupId: home?.id ?? "", groupTopic: home?.topic ?? "" };
    const login = m.cadreUser?.active ? `；控制台账号 ${m.cadreUser.username}` : "";
    out(`  现在以 ${m.name}（${m.branch.name}，${roleLabel(m)}${login}）身份发言${home ? `，在「${home.topic}」` : "，只能私聊"}。`);
    const others = groups.filter((g) => g !== home);
    if (others.length) out(`  ${m.name} 还在：${others.map((g) => g.topic).join("、")}（用“在 <群名> <内容>”在那里说）`);
  }
}

/** What to type to speak as `m` among the people of the same name: the name, the name and village, or its number. */
function speakAsCommand(sameName: { id: number; name: string; branch: { name: string; parent: { name: string } | null } }[], m: (typeof sameName)[number]): string {
  if (sameName.length <= 1) return `以 ${m.name} 身份`;
  const place = (x: (typeof sameName)[number]) => x.branch.parent?.name ?? x.branch.name;
  if (sameName.filter((x) => place(x) === place(m)).length === 1) return `以 ${m.name} ${place(m)} 身份`;
  return `以 ${m.name} ${sameName.findIndex((x) => x.id === m.id) + 1} 身份`;
}

/** The exact `以 … 身份` line for a seeded member (names repeat in a county of 25,000). */
async function speakAsLine(runtime: Runtime, memberId: number | null, account: string): Promise<string | null> {
  if (memberId == null) return null;
  const { prisma } = runtime.ctx.db;
  const m = await prisma.member.findUnique({ where: { id: memberId }, select: { name: true } });
  if (!m) return null;
  const same = await prisma.member.findMany({
    where: { name: m.name, identities: { some: { channel: "WECHAT", scope: account } } },
    select: { id: true, name: true, branch: { select: { name: true, parent: { select: { name: true } } } } },
    orderBy: { id: "asc" },
    take: 50,
  });
  const me = same.find((x) => x.id === memberId);
  return me ? speakAsCommand(same, me) : null;
}

const ROLE_LABEL = { COUNTY_ADMIN: "县级管理员", TOWN_ADMIN: "乡镇管理员", BRANCH_SECRETARY: "支部书记", MEMBER: "党员" } as const;

function roleLabel(m: { isSecretary: boolean; cadreUser: { role: keyof typeof ROLE_LABEL; active: boolean; orgUnit: { name: string } } | null }) {
  if (m.cadreUser?.active && m.cadreUser.role === "TOWN_ADMIN") return `${m.cadreUser.orgUnit.name}管理员`;
  if (m.cadreUser?.active) return ROLE_LABEL[m.cadreUser.role];
  return m.isSecretary ? "支部书记" : "党员";
}

/**
 * The demo branch's town admin is a member with a chat identity too: speaking as them, 本月报告 privately gives the
 * town's month so far (the seeded history makes it more than zeros).
 */
async function townAdminScenario(runtime: Runtime, wechat: MockWechat, chat: ChatView, town: Login | null, account: string) {
  if (!town) return;
  const admin = await runtime.ctx.db.prisma.cadreUser.findUnique({
    where: { username: town.username },
    select: { member: { select: { name: true, identities: { where: { channel: "WECHAT" }, select: { platformUserId: true }, take: 1 } } } },
  });
  const id = admin?.member?.identities[0]?.platformUserId;
  if (!admin?.member || !id) return;
  out("");
  out(`换一个人：${(await speakAsLine(runtime, town.memberId, account)) ?? `以 ${admin.member.name} 身份`}（${town.unitName}管理员），私聊机器人查看本月报告：`);
  const previous = chat.speaker;
  chat.speaker = { id, name: admin.member.name, groupId: "", groupTopic: "" };
  const report = wechat.waitForBot(id, (t) => t.includes("报告（截至"), REPLY_WAIT_MS);
  out(`  【私聊】${admin.member.name}：本月报告`);
  wechat.say(id, "本月报告");
  await report;
  chat.speaker = previous;
}

/**
 * A branch secretary brings a new WeChat group onto the system: 本群信息 (not bound yet), 绑定支部, a member's
 * 我是 against the roster, 本群信息 and 名单核对. Every reply travels through the outbox and the paced sender.
 */
async function bindingScenario(runtime: Runtime, wechat: MockWechat, chat: ChatView) {
  const { prisma } = runtime.ctx.db;
  const branch = await prisma.orgUnit.findFirstOrThrow({ where: { kind: "BRANCH" }, orderBy: { id: "asc" }, skip: 1 });
  const secretary = await prisma.member.findFirstOrThrow({ where: { branchId: branch.id, isSecretary: true }, include: { identities: true } });
  const newcomer = await prisma.member.findFirstOrThrow({ where: { branchId: branch.id, isSecretary: false, phone: { not: null } }, orderBy: { id: "asc" } });
  const sec = { id: secretary.identities[0].platformUserId, name: secretary.identities[0].displayName };
  const fresh = { id: "wxid_demo_newphone", name: `${newcomer.name}（新手机）` };
  const roomId = "demo-new-group@chatroom";
  const topic = `${branch.name}学习群`;
  wechat.room(roomId, topic, [sec, fresh]);
  chat.quiet.add(roomId);
  out("");
  out(`新建的微信群「${topic}」，支部书记 ${secretary.name} 把它接入系统：`);
  // Each line waits for its own answer, so a reply left queued by an interrupted earlier run cannot stand in for it.
  const say = async (who: { id: string; name: string }, text: string, expect: (t: string) => boolean) => {
    const reply = wechat.waitForBot(roomId, expect, REPLY_WAIT_MS);
    out(`  【新群】${who.name}：${text}`);
    wechat.say(who.id, text, roomId);
    out(`  【新群】支部小助手：${(await reply).text.replace(/\n/g, "\n      ")}`);
  };
  const group = await prisma.chatGroup.findUnique({ where: { channel_platformGroupId: { channel: "WECHAT", platformGroupId: roomId } } });
  if (group?.orgUnitId) await say(sec, "解绑", (t) => t.includes("解除")); // a demo run before this one left it bound
  await say(sec, "本群信息", (t) => t.includes("还没有绑定"));
  await say(sec, `绑定支部 ${branch.code}`, (t) => t.startsWith("已将本群绑定"));
  await say(fresh, `我是 ${newcomer.name} ${newcomer.phone!.slice(-4)}`, (t) => t.includes(newcomer.name));
  await say(sec, "本群信息", (t) => t.startsWith("本群绑定"));
  await say(sec, "名单核对", (t) => t.includes("名单核对"));
}

/**
 * A study session in the first branch's group: the secretary publishes it (the notice goes to the group), members
 * check in and one asks for leave, the bot answers with one summary instead of a reply each, 统计 shows the tally.
 */
async function studyScenario(runtime: Runtime, wechat: MockWechat, room: DemoRoom) {
  const sec = room.secretary;
  if (!sec) return;
  const start = new Date(Date.now() + 10 * 60_000 + CHINA_OFFSET_MS);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const when = `${start.getUTCFullYear()}-${p2(start.getUTCMonth() + 1)}-${p2(start.getUTCDate())} ${p2(start.getUTCHours())}:${p2(start.getUTCMinutes())}`;
  out("");
  out(`学习签到：支部书记 ${sec.name} 发布一次学习，党员在群里签到（机器人汇总回复，不逐条回复）：`);
  const line = (who: { name: string }, text: string) => out(`  【群】${who.name}：${text}`);
  const notice = wechat.waitForBot(room.id, (t) => t.startsWith("【学习通知】"), REPLY_WAIT_MS);
  line(sec, `发布学习 ${when} 学习党的二十届四中全会精神 村委会会议室`);
  wechat.say(sec.id, `发布学习 ${when} 学习党的二十届四中全会精神 村委会会议室`, room.id);
  await notice;
  const members = room.members.filter((m) => m.id !== sec.id);
  const summary = wechat.waitForBot(room.id, (t) => t.includes("已签到"), REPLY_WAIT_MS);
  for (const m of members.slice(0, 8)) {
    line(m, "签到");
    wechat.say(m.id, "签到", room.id);
  }
  line(members[8], "请假 外出务工");
  wechat.say(members[8].id, "请假 外出务工", room.id);
  await summary;
  const stats = wechat.waitForBot(room.id, (t) => t.includes("签到情况"), REPLY_WAIT_MS);
  line(sec, "统计");
  wechat.say(sec.id, "统计", room.id);
  await stats;
}

/**
 * A villager's complaint (民情诉求): filed in the group (only a short acknowledgement there, the receipt privately),
 * claimed by the secretary (首问负责), resolved, and rated by the filer. Every answer goes through the outbox.
 */
async function complaintScenario(wechat: MockWechat, room: DemoRoom) {
  const sec = room.secretary;
  const filer = room.members.find((m) => m.id !== sec?.id && m.id !== room.members[0].id) ?? room.members[0];
  if (!sec) return;
  out("");
  out(`民情诉求：${filer.name} 在群里反映问题，支部书记 ${sec.name} 认领并办结，反映人评价：`);
  const receipt = wechat.waitForBot(filer.id, (t) => /LX\d{8}-\d{4}/.test(t), REPLY_WAIT_MS);
  out(`  【群】${filer.name}：反映 村东头路灯坏了三天了，晚上出行不安全`);
  wechat.say(filer.id, "反映 村东头路灯坏了三天了，晚上出行不安全", room.id);
  const number = /LX\d{8}-\d{4}/.exec((await receipt).text)![0];
  const privately = async (who: { id: string; name: string }, text: string, expect: (t: string) => boolean, from = who.id) => {
    const reply = wechat.waitForBot(from, expect, REPLY_WAIT_MS);
    out(`  【私聊】${who.name}：${text}`);
    wechat.say(who.id, text);
    await reply;
  };
  await privately(sec, `认领 ${number}`, (t) => t.includes("已认领"));
  await privately(sec, `办结 ${number} 已联系电工更换灯泡，今晚恢复照明`, (t) => t.includes("已请反映人评价"));
  await privately(filer, `满意 ${number} 修得很及时`, (t) => t.includes(number) && t.includes("评价"));
}

/** The branch's 三会一课 this quarter, from the same rules engine that drives the reminders and the reports. */
async function calendarScenario(wechat: MockWechat, room: DemoRoom) {
  const sec = room.secretary;
  if (!sec) return;
  out("");
  out(`三会一课：支部书记 ${sec.name} 查看本支部本季度的落实情况（到期前 7 天提醒书记，逾期通报乡镇，每月 1 日发月报告）：`);
  const state = wechat.waitForBot(room.id, (t) => t.includes("三会一课："), REPLY_WAIT_MS);
  out(`  【群】${sec.name}：三会一课`);
  wechat.say(sec.id, "三会一课", room.id);
  await state;
}

interface DemoRoom {
  id: string;
  topic: string;
  orgUnitId: number;
  members: { id: string; name: string }[];
  secretary?: { id: string; name: string };
}

/**
 * Every group of the simulated county, with its members, into the simulated WeChat (one query), so the bot's group
 * sync at login finds them all and a county broadcast reaches each. The demo room is the first branch's group.
 */
async function loadCountyRooms(runtime: Runtime, wechat: MockWechat, account: string): Promise<{ demoRoom: DemoRoom; rooms: number; people: number }> {
  const { prisma } = runtime.ctx.db;
  const rows = await prisma.$queryRaw<{ gid: string; topic: string; kind: string; orgUnitId: number | null; uid: string | null; name: string | null; memberId: number | null }[]>`
    SELECT g."platformGroupId" AS gid, g.topic, g.kind::text AS kind, g."orgUnitId", i."platformUserId" AS uid, i."displayName" AS name, i."memberId"
      FROM "ChatGroup" g
      LEFT JOIN "GroupMembership" gm ON gm."groupId" = g.id AND gm."leftAt" IS NULL
      LEFT JOIN "ChatIdentity" i ON i.id = gm."identityId" AND i.channel = 'WECHAT' AND i.scope = ${account}
     WHERE g.channel = 'WECHAT' AND g.active AND strpos(g."platformGroupId", '@') > 0
     ORDER BY g.id, i.id`;
  const rooms = new Map<string, { id: string; topic: string; kind: string; orgUnitId: number | null; members: { id: string; name: string; memberId: number | null }[] }>();
  const people = new Set<string>();
  for (const r of rows) {
    let room = rooms.get(r.gid);
    if (!room) rooms.set(r.gid, (room = { id: r.gid, topic: r.topic, kind: r.kind, orgUnitId: r.orgUnitId, members: [] }));
    if (r.uid) {
      room.members.push({ id: r.uid, name: r.name ?? "", memberId: r.memberId });
      people.add(r.uid);
    }
  }
  wechat.rooms([...rooms.values()]);
  const first = [...rooms.values()].find((r) => r.kind === "BRANCH" && r.orgUnitId != null && r.members.length > 9);
  if (!first) throw new Error("数据库中没有模拟县的支部群：演示需要 npm run seed 生成的模拟县（请使用空的数据库目录，首次启动会自动生成）");
  const sec = await prisma.member.findFirst({ where: { branchId: first.orgUnitId!, isSecretary: true }, select: { id: true } });
  const secretary = first.members.find((m) => m.memberId === sec?.id);
  return {
    demoRoom: { id: first.id, topic: first.topic, orgUnitId: first.orgUnitId!, members: first.members.map(({ id, name }) => ({ id, name })), secretary },
    rooms: rooms.size,
    people: people.size,
  };
}

async function printCounty(runtime: Runtime) {
  const { prisma } = runtime.ctx.db;
  const [towns, branches, members, groups] = await Promise.all([
    prisma.orgUnit.count({ where: { kind: "TOWN" } }),
    prisma.orgUnit.count({ where: { kind: "BRANCH" } }),
    prisma.member.count(),
    prisma.chatGroup.count(),
  ]);
  out(`模拟县：${towns} 个乡镇、${branches} 个党支部、${members} 名党员、${groups} 个微信群`);
}

/** The scripted scenario's API half: health, readiness, and each printed login with who-am-I. */
async function checkApi(base: string, logins: DemoLogins) {
  const get = async (path: string, token?: string) => {
    const res = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) throw new Error(`GET ${path} 返回 ${res.status}：${await res.text()}`);
    return res.json() as Promise<any>;
  };
  await get("/healthz");
  const ready = await get("/readyz");
  out(`  /readyz：${JSON.stringify(ready.checks ?? ready)}`);
  for (const [label, l] of [["县级管理员", logins.county], ["乡镇管理员", logins.town], ["支部书记", logins.secretary]] as const) {
    if (!l) throw new Error(`没有找到演示用的${label}账号`);
    const login = await fetch(base + "/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: l.username, password: l.password }),
    });
    const body = (await login.json()) as any;
    if (!login.ok) throw new Error(`${label} ${l.username} 登录失败：${JSON.stringify(body)}`);
    const token = body.accessToken ?? body.token ?? body.access_token;
    const me = await get("/api/auth/me", token);
    const p = me.principal ?? me;
    out(`  ${label} ${l.username} 登录成功：${p.displayName ?? ""}（${p.role ?? ""}）`);
  }
}

main().catch((e) => {
  console.error(e instanceof ConfigError ? e.message : `演示启动失败：${(e as Error).message}`);
  process.exit(1);
});
