// `npm start -- --role api|bot|jobs|all [--account NAME]`: the production entry point.
import { parseArgs } from "node:util";
import { loadConfig, ConfigError, ROLES, type Role } from "./config.ts";
import { createLogger } from "./log.ts";
import { startRuntime } from "./runtime.ts";

function parseRoles(value: string): Role[] {
  const parts = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.includes("all")) return [...ROLES];
  const bad = parts.filter((p) => !(ROLES as readonly string[]).includes(p));
  if (bad.length || parts.length === 0) throw new ConfigError(`参数错误：--role 只能是 api、bot、jobs 或 all（可用逗号组合），收到 "${value}"`);
  return parts as Role[];
}

async function main() {
  const { values } = parseArgs({ options: { role: { type: "string", default: "all" }, account: { type: "string" } } });
  if (values.account) process.env.BOT_ACCOUNT = values.account;
  const config = loadConfig();
  const roles = parseRoles(values.role!);
  const log = createLogger(config.LOG_LEVEL);
  const runtime = await startRuntime({ roles, config, log });
  log.info({ roles, database: runtime.ctx.db.kind, coordination: runtime.ctx.coord.kind, api: runtime.api?.url }, "netbranch 已启动");
  if (runtime.api) console.log(`API 地址：${runtime.api.url}  （文档：${runtime.api.url}/api/docs）`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "正在停止…");
    await runtime.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((e) => {
  console.error(e instanceof ConfigError ? e.message : `启动失败：${(e as Error).message}`);
  process.exit(1);
});
