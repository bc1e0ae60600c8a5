// `npm run demo [-- --once]`: the whole system in one process against a simulated county.
// With DATABASE_URL / REDIS_URL unset it runs embedded: PGlite under ./data/pglite and in-process coordination.
// The chat side is a simulated WeChat (wechaty-puppet-mock): type a line and a member says it in a branch group.
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
        onProgress: (step, done, total) => {
          const line = `  正在加载模拟县：${SEED_STEP_LABELS[step as keyof typeof SEED_STEP_LABELS] ?? step} ${done}/${total}`;
          if (line !== last && process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
          last = line;
        },
      });
      if (process.stderr.isTTY && last) process.stderr.write("\r\x1b[K");
      if (seeded) out(`已加载模拟县（首次启动，用时 ${((Date.now() - t0) / 1000).toFixed(1)} 秒）`);
    },
  });
  const stop = async (code: number) => {
    await runtime.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    const room = await openDemoRoom(runtime, wechat);
    wechat.login();
    await printCounty(runtime);
    out(`管理控制台：${runtime.api!.url}/console/   API 地址：${runtime.api!.url}   接口文档：${runtime.api!.url}/api/docs`);
    out(`演示账号：county_admin 与 county_admin2 / ${DEMO_PASSWORDS.county}（县级，广播须另一人审批）  town01_admin / ${DEMO_PASSWORDS.town}（乡镇）`);
    out("");
    out(`模拟微信群「${room.topic}」（${room.members.length} 人）：`);
    wechat.onBotSaid((m) => {
      if (m.conversationId === room.id) out(`  【群】支部小助手：${m.text.replace(/\n/g, "\n      ")}`);
      else if (!m.conversationId.includes("@")) out(`  【私聊 ${m.conversationId}】支部小助手：${m.text.replace(/\n/g, "\n      ")}`);
    });
    const speaker = room.members[0];
    const reply = wechat.waitForBot(room.id, (t) => t.includes("可用命令"), REPLY_WAIT_MS);
    out(`  【群】${speaker.name}：帮助`);
    wechat.say(speaker.id, "帮助", room.id);
    await reply;
    await bindingScenario(runtime, wechat);
    await studyScenario(runtime, wechat, room);
    await complaintScenario(wechat, room);
    await calendarScenario(wechat, room);

    if (once) {
      await checkApi(runtime.api!.url);
      out("演示脚本完成。");
      await stop(0);
      return;
    }
    out("");
    out(`输入一句话，${speaker.name} 会在群里说出来（以“私聊 ”开头则私聊机器人）；Ctrl+C 退出。`);
    const rl = createInterface({ input: process.stdin });
    rl.on("line", (line) => {
      const text = line.trim();
      if (!text) return;
      if (text.startsWith("私聊 ")) wechat.say(speaker.id, text.slice(3).trim());
      else wechat.say(speaker.id, text, room.id);
    });
    rl.on("close", () => void 0);
  } catch (e) {
    console.error(`演示失败：${(e as Error).message}`);
    await stop(1);
  }
}

/**
 * A branch secretary brings a new WeChat group onto the system: 本群信息 (not bound yet), 绑定支部, a member's
 * 我是 against the roster, 本群信息 and 名单核对. Every reply travels through the outbox and the paced sender.
 */
async function bindingScenario(runtime: Runtime, wechat: MockWechat) {
  const { prisma } = runtime.ctx.db;
  const branch = await prisma.orgUnit.findFirstOrThrow({ where: { kind: "BRANCH" }, orderBy: { id: "asc" }, skip: 1 });
  const secretary = await prisma.member.findFirstOrThrow({ where: { branchId: branch.id, isSecretary: true }, include: { identities: true } });
  const newcomer = await prisma.member.findFirstOrThrow({ where: { branchId: branch.id, isSecretary: false, phone: { not: null } }, orderBy: { id: "asc" } });
  const sec = { id: secretary.identities[0].platformUserId, name: secretary.identities[0].displayName };
  const fresh = { id: "wxid_demo_newphone", name: `${newcomer.name}（新手机）` };
  const roomId = "demo-new-group@chatroom";
  const topic = `${branch.name}学习群`;
  wechat.room(roomId, topic, [sec, fresh]);
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
  members: { id: string; name: string }[];
  secretary?: { id: string; name: string };
}

/** The first branch's group of the simulated county, with its roster (and its secretary), as a mock WeChat room. */
async function openDemoRoom(runtime: Runtime, wechat: MockWechat): Promise<DemoRoom> {
  const { prisma } = runtime.ctx.db;
  const group = await prisma.chatGroup.findFirstOrThrow({
    where: { kind: "BRANCH", channel: "WECHAT" },
    orderBy: { id: "asc" },
    include: { memberships: { take: 40, orderBy: { identityId: "asc" }, include: { identity: true } } },
  });
  const members = group.memberships.map((m) => ({ id: m.identity.platformUserId, name: m.identity.displayName }));
  const sec = await prisma.chatIdentity.findFirst({
    where: { channel: "WECHAT", member: { branchId: group.orgUnitId ?? -1, isSecretary: true }, groupMemberships: { some: { groupId: group.id } } },
  });
  const secretary = sec ? { id: sec.platformUserId, name: sec.displayName } : undefined;
  if (secretary && !members.some((m) => m.id === secretary.id)) members.push(secretary);
  wechat.room(group.platformGroupId, group.topic, members);
  return { id: group.platformGroupId, topic: group.topic, members, secretary };
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

/** The scripted scenario's API half: health, readiness, a cadre login and who-am-I. */
async function checkApi(base: string) {
  const get = async (path: string, token?: string) => {
    const res = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) throw new Error(`GET ${path} 返回 ${res.status}：${await res.text()}`);
    return res.json() as Promise<any>;
  };
  await get("/healthz");
  const ready = await get("/readyz");
  out(`  /readyz：${JSON.stringify(ready.checks ?? ready)}`);
  const login = await fetch(base + "/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "county_admin", password: DEMO_PASSWORDS.county }),
  });
  const body = (await login.json()) as any;
  if (!login.ok) throw new Error(`登录失败：${JSON.stringify(body)}`);
  const token = body.accessToken ?? body.token ?? body.access_token;
  const me = await get("/api/auth/me", token);
  out(`  县级管理员登录成功：${JSON.stringify(me).slice(0, 160)}`);
}

main().catch((e) => {
  console.error(e instanceof ConfigError ? e.message : `演示启动失败：${(e as Error).message}`);
  process.exit(1);
});
