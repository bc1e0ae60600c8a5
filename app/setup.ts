// `npm run setup`: creates the root of the organisation and its first administrator on an empty database
// (DATABASE_URL, else the embedded PGlite in PGLITE_DIR), then prints a one-time password once.
// Asks for what is missing when run in a terminal; with flags for scripts.
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { existingRoots, rootExistsMessage, setupRoot, SetupRefused, validateSetupField, type RootKind } from "../core/admin/setup.ts";
import { runCli, UsageError } from "../core/cli.ts";
import { loadConfig } from "../core/config.ts";
import { openDatabase } from "../core/db/index.ts";


const USAGE = `用法：npm run setup -- --root-name 名称 --root-code 编码 --admin 用户名 [--root-kind county|city] [--admin-name 姓名] [--add-root]
  在空数据库中创建根组织（县，或下辖多个县的市）及其第一个管理员账号（县级管理员），并显示一次性密码。
  数据库由 DATABASE_URL 指定；未设置时使用 PGLITE_DIR 下的内置数据库。
  在终端中运行且缺少参数时，会逐项询问。
  --root-name   根组织名称，例如 泸县
  --root-code   根组织编码（字母、数字、_ 或 -），例如 C01
  --root-kind   county（县，默认）或 city（市）
  --admin       管理员用户名（3-32 个字母、数字、_ . -），例如 county_admin
  --admin-name  管理员姓名（显示名），默认“<根组织名称>管理员”
  --add-root    数据库中已有根组织时，再添加一个根组织（例如同一系统服务的另一个县）；不加此参数时拒绝执行
示例：npm run setup -- --root-name 泸县 --root-code C01 --admin county_admin`;

const KINDS: Record<string, RootKind> = { county: "COUNTY", city: "CITY", 县: "COUNTY", 市: "CITY" };
const KIND_LABEL: Record<RootKind, string> = { COUNTY: "县", CITY: "市" };

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      "root-name": { type: "string" },
      "root-code": { type: "string" },
      "root-kind": { type: "string" },
      admin: { type: "string" },
      "admin-name": { type: "string" },
      "add-root": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  let rootKind: RootKind | undefined;
  if (values["root-kind"] !== undefined) {
    rootKind = KINDS[values["root-kind"].trim().toLowerCase()];
    if (!rootKind) throw new UsageError(`--root-kind 只能是 county（县）或 city（市）（当前值："${values["root-kind"]}"）`);
  }
  return {
    rootName: values["root-name"],
    rootCode: values["root-code"],
    rootKind,
    admin: values.admin,
    adminName: values["admin-name"],
    addRoot: values["add-root"],
    help: values.help,
  };
}

type Field = "rootName" | "rootCode" | "adminUsername" | "adminName";

/** Asks until the answer passes the same check setupRoot applies; Enter takes the default when there is one. */
async function askUntilValid(rl: ReturnType<typeof createInterface>, label: string, field: Field, fallback?: string): Promise<string> {
  for (;;) {
    const answer = (await rl.question(fallback ? `${label}（直接回车为“${fallback}”）：` : `${label}：`)).trim() || fallback || "";
    const problem = validateSetupField(field, answer);
    if (!problem) return answer;
    process.stdout.write(`  ${problem}\n`);
  }
}

async function askKind(rl: ReturnType<typeof createInterface>): Promise<RootKind> {
  for (;;) {
    const answer = (await rl.question("根组织级别：县 或 市（直接回车为“县”）：")).trim().toLowerCase();
    if (!answer) return "COUNTY";
    if (KINDS[answer]) return KINDS[answer];
    process.stdout.write("  请输入“县”或“市”\n");
  }
}

async function main(): Promise<number> {
  const args = parseCli(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const missing = !args.rootName || !args.rootCode || !args.admin;
  const interactive = missing && process.stdin.isTTY === true;
  if (missing && !interactive) {
    const names = [!args.rootName && "--root-name", !args.rootCode && "--root-code", !args.admin && "--admin"].filter(Boolean).join("、");
    throw new UsageError(`缺少参数：${names}（不在终端中运行时无法逐项询问）`);
  }
  // Bad flag values are usage errors, reported before connecting anywhere.
  for (const [field, value] of [
    ["rootName", args.rootName],
    ["rootCode", args.rootCode],
    ["adminUsername", args.admin],
    ["adminName", args.adminName],
  ] as const) {
    const problem = value === undefined ? null : validateSetupField(field, value);
    if (problem) throw new UsageError(problem);
  }

  const config = loadConfig();
  const logger = pino({ name: "setup", level: process.env.LOG_LEVEL ? config.LOG_LEVEL : "warn" }, pino.destination(2));
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, retries: config.DB_CONNECT_RETRIES, logger });
  try {
    const where = db.kind === "postgres" ? "PostgreSQL" : `内置数据库 PGlite（${config.PGLITE_DIR}）`;
    process.stderr.write(`连接 ${where} 并应用迁移…\n`);
    await db.connect();

    // Refuse before asking anything: nobody should type five answers to be told no.
    const roots = await existingRoots(db);
    if (roots.length && !args.addRoot) {
      process.stderr.write(`拒绝执行：${rootExistsMessage(roots)}\n`);
      return 1;
    }

    let { rootName, rootCode, rootKind, admin, adminName } = args;
    if (interactive) {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        process.stdout.write(roots.length ? "再添加一个根组织及其管理员账号。\n" : "初始化：创建根组织及其第一个管理员账号。\n");
        rootName ??= await askUntilValid(rl, "根组织名称（例如 泸县）", "rootName");
        rootCode ??= await askUntilValid(rl, "根组织编码（例如 C01）", "rootCode");
        rootKind ??= await askKind(rl);
        admin ??= await askUntilValid(rl, "管理员用户名（例如 county_admin）", "adminUsername");
        adminName ??= await askUntilValid(rl, "管理员姓名", "adminName", `${rootName.trim()}管理员`);
      } finally {
        rl.close();
      }
    }

    const { root, admin: user, oneTimePassword } = await setupRoot(db, {
      rootName: rootName!,
      rootCode: rootCode!,
      rootKind: rootKind ?? "COUNTY",
      adminUsername: admin!,
      adminName,
      addRoot: args.addRoot,
    });
    const kind = root.kind as RootKind;
    console.log(`已创建根组织：${root.name}（编码 ${root.code}，${KIND_LABEL[kind]}级）`);
    console.log(`已创建管理员账号：${user.username}（${user.displayName}，县级管理员）`);
    console.log(`一次性密码：${oneTimePassword}`);
    console.log("此密码只显示这一次，请立即记下并妥善交给管理员本人；首次登录管理后台后必须修改密码。");
    return 0;
  } finally {
    // PGlite keeps the event loop alive until closed.
    await db.close();
  }
}

runCli(main, {
  usage: USAGE,
  failedPrefix: "初始化失败",
  known: (e) => (e instanceof SetupRefused ? { message: `拒绝执行：${e.message}`, exitCode: e.exitCode, withUsage: e.exitCode === 2 } : undefined),
});
