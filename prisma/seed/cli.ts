// `npm run seed [-- --members N] [--seed N] [--force]`: loads the simulated county, with six months of history, into
// the configured database (DATABASE_URL, else embedded PGlite in PGLITE_DIR), then prints counts and demo logins.
// Only into an empty database: anything there already (units, logins, the bot account a started process creates)
// makes it refuse with exit code 1, and nothing is written.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { runCli, UsageError } from "../../core/cli.ts";
import { loadConfig } from "../../core/config.ts";
import { openDatabase, type Database } from "../../core/db/index.ts";
import { DEFAULT_MEMBERS, DEFAULT_SEED, DEMO_PASSWORDS, generateCounty } from "./county.ts";
import { SEED_STEP_LABELS, SeedError, existingData, isSeeded, loadCounty, notEmptyError, type SeedStep } from "./load.ts";


function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: "string" },
      seed: { type: "string" },
      force: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} 必须是 ${min} 到 ${max} 之间的整数（当前值："${v}"）`);
    return n;
  };
  return {
    members: int("members", values.members, 0, 200_000),
    seed: int("seed", values.seed, 0, 2 ** 32 - 1),
    force: values.force,
    help: values.help,
  };
}

const USAGE = `用法：npm run seed -- [--members N] [--seed N] [--force]
  向数据库导入模拟县数据（1 个县、20 个镇街、约 250 个党支部及党员、微信群、干部账号）。
  数据库由 DATABASE_URL 指定；未设置时使用 PGLITE_DIR 下的内置数据库。
  --members N  党员人数（默认 ${DEFAULT_MEMBERS}）
  --seed N     随机种子（默认 ${DEFAULT_SEED}）；同一种子总是生成同样的数据
  --force      不会清空已有数据：数据库非空时仍然拒绝导入
  只能导入从未使用过的空数据库：已有组织、干部账号或机器人账号（启动过 netbranch 就会有）时拒绝导入，退出码 1。`;

/** Why nothing is imported, and what to do instead (a fresh database, or `npm run setup` for a real county). */
function refuse(existing: string, pgliteDir: string | null) {
  process.stderr.write(
    `${notEmptyError(existing).message}\n` +
      (pgliteDir
        ? `如需演示数据：先停止所有 netbranch 进程，删除目录 ${pgliteDir}（或设置另一个 PGLITE_DIR），再运行 npm run seed；npm run demo 在空目录上会自动导入。\n`
        : "如需演示数据：请新建一个空数据库并把 DATABASE_URL 指向它，再运行 npm run seed（先导入、后启动 netbranch）。\n") +
      "正式上线请不要导入模拟数据，改用 npm run setup 创建组织和第一个管理员。\n",
  );
}

/** Progress on stderr: rewritten in place on a terminal, one line per finished step otherwise (CI logs). */
function progressPrinter() {
  const tty = process.stderr.isTTY;
  return (step: SeedStep, done: number, total: number) => {
    const line = `${SEED_STEP_LABELS[step]} ${done}/${total}`;
    if (tty) process.stderr.write(`\r\x1b[K${line}${done === total ? "\n" : ""}`);
    else if (done === total) process.stderr.write(`${line}\n`);
  };
}

async function printSummary(db: Database) {
  const p = db.prisma;
  const [county, towns, branches, groups, members, identities, chatGroups, users] = await Promise.all([
    p.orgUnit.findFirst({ where: { kind: "COUNTY" }, select: { name: true } }),
    p.orgUnit.count({ where: { kind: "TOWN" } }),
    p.orgUnit.count({ where: { kind: "BRANCH" } }),
    p.orgUnit.count({ where: { kind: "PARTY_GROUP" } }),
    p.member.count(),
    p.chatIdentity.count(),
    p.chatGroup.count(),
    p.cadreUser.count(),
  ]);
  console.log(`${county?.name ?? "（无县级组织）"}：镇街 ${towns} 个，党支部 ${branches} 个，党小组 ${groups} 个，党员 ${members} 名`);
  console.log(`微信身份 ${identities} 个，群 ${chatGroups} 个，干部账号 ${users} 个`);
}

async function printLogins(db: Database) {
  const [town, secretary] = await Promise.all([
    db.prisma.cadreUser.findFirst({ where: { role: "TOWN_ADMIN" }, orderBy: { id: "asc" }, include: { orgUnit: true } }),
    db.prisma.cadreUser.findFirst({ where: { role: "BRANCH_SECRETARY" }, orderBy: { id: "asc" }, include: { orgUnit: true } }),
  ]);
  console.log("\n演示账号（仅供演示，切勿用于生产）：");
  console.log(`  县委组织部  county_admin / ${DEMO_PASSWORDS.county}（第二审核人 county_admin2，密码相同）`);
  if (town) console.log(`  镇街管理员  ${town.username} / ${DEMO_PASSWORDS.town}（${town.orgUnit.name}，${town.displayName}；其他镇街为 town02_admin … town20_admin）`);
  if (secretary) {
    console.log(`  支部书记    ${secretary.username} / ${DEMO_PASSWORDS.secretary}（${secretary.orgUnit.name}，${secretary.displayName}；每个支部一个 sec_tXXvYY 账号）`);
  }
}

async function main(): Promise<number> {
  const args = parseCli(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  // Our own lines say what happens; the database layer's info logs (migrations applied) would only repeat it.
  const logger = pino({ name: "seed", level: process.env.LOG_LEVEL ? config.LOG_LEVEL : "warn" }, pino.destination(2));
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, retries: config.DB_CONNECT_RETRIES, logger });
  try {
    const where = db.kind === "postgres" ? "PostgreSQL" : `内置数据库 PGlite（${config.PGLITE_DIR}）`;
    process.stderr.write(`连接 ${where} 并应用迁移…\n`);
    await db.connect();

    const existing = await existingData(db.prisma);
    if (existing) {
      // Wiping a database that may hold real attendance and complaints is not a seed script's call, --force or not.
      refuse(existing, db.kind === "pglite" ? config.PGLITE_DIR : null);
      if (await isSeeded(db.prisma)) {
        await printSummary(db);
        await printLogins(db);
      }
      return 1;
    }

    const members = args.members ?? DEFAULT_MEMBERS;
    const seed = args.seed ?? DEFAULT_SEED;
    const started = performance.now();
    const data = generateCounty({ seed, members, accountName: config.BOT_ACCOUNT, history: true });
    process.stderr.write(`已生成模拟县数据（种子 ${seed}，党员 ${members} 名），开始导入…\n`);
    try {
      await loadCounty(db.prisma, data, { onProgress: progressPrinter() });
    } catch (e) {
      // Something was written between the check and the load (a process started meanwhile).
      if (!(e instanceof SeedError)) throw e;
      process.stderr.write(`\n${e.message}\n`);
      return 1;
    }
    process.stderr.write(`导入完成，用时 ${((performance.now() - started) / 1000).toFixed(1)} 秒\n`);
    await printSummary(db);
    await printLogins(db);
    return 0;
  } finally {
    // PGlite keeps the event loop alive until closed.
    await db.close();
  }
}

runCli(main, { usage: USAGE, failedPrefix: "导入失败", known: (e) => (e instanceof SeedError ? { message: e.message, exitCode: 1 } : undefined) });
