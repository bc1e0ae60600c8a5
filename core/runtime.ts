// Starts the roles asked for (api, bot, jobs) on one config, database and coordination; stops them in reverse.
// Used by the CLI (core/main.ts), the demo and the tests, so all three start the system the same way.
import type { Config, Role } from "./config.ts";
import { ConfigError } from "./config.ts";
import type { AppContext } from "./context.ts";
import { createCoordination } from "./coord/index.ts";
import { openDatabase } from "./db/index.ts";
import { createLogger, type Logger } from "./log.ts";
import { startApi } from "../api/app.ts";
import { startBot, type BotHandle, type StartBotOptions } from "../bot/index.ts";
import { startJobs, type JobsHandle } from "../jobs/index.ts";

export interface Runtime {
  ctx: AppContext;
  api?: { url: string; server?: import("node:http").Server; close(): Promise<void> };
  bot?: BotHandle;
  jobs?: JobsHandle;
  stop(): Promise<void>;
}

export interface StartOptions {
  roles: Role[];
  config: Config;
  log?: Logger;
  /** Bot options: a ready adapter or Wechaty puppet instead of the one config names (demo and tests). */
  bot?: StartBotOptions;
  /** Runs after the database is connected and migrated, before bot and jobs start (the demo seeds here). */
  beforeRoles?: (ctx: AppContext) => Promise<void>;
}

/** Separate role processes share state only through PostgreSQL and Redis; PGlite and in-memory locks are per process. */
export function checkDeployment(roles: Role[], config: Config) {
  const all = (["api", "bot", "jobs"] as Role[]).every((r) => roles.includes(r));
  if (all) return;
  if (!config.DATABASE_URL) throw new ConfigError(`配置错误：只运行 ${roles.join("、")} 角色（分进程部署）时必须设置 DATABASE_URL（各进程共用一个 PostgreSQL）`);
  if (!config.REDIS_URL) throw new ConfigError(`配置错误：只运行 ${roles.join("、")} 角色（分进程部署）时必须设置 REDIS_URL（进程间的锁、限流和去重需要 Redis）`);
}

export async function startRuntime(opts: StartOptions): Promise<Runtime> {
  const { config, roles } = opts;
  checkDeployment(roles, config);
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const coord = createCoordination(config, log, { name: `netbranch:${roles.join("+")}:${process.pid}` });
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, retries: config.DB_CONNECT_RETRIES, logger: log });
  const ctx: AppContext = { config, db, coord, log };
  const runtime: Runtime = {
    ctx,
    async stop() {
      // Reverse order: stop taking work, finish what is in flight, then close the stores.
      await runtime.jobs?.stop().catch((e) => log.warn({ err: e.message }, "停止定时任务出错"));
      await runtime.bot?.stop().catch((e) => log.warn({ err: e.message }, "停止机器人出错"));
      await runtime.api?.close().catch((e) => log.warn({ err: e.message }, "停止 API 出错"));
      await db.close().catch((e) => log.warn({ err: e.message }, "关闭数据库出错"));
      await coord.close().catch((e) => log.warn({ err: e.message }, "关闭协调服务出错"));
    },
  };
  try {
    // The API comes up first, so /healthz answers and /readyz says 503 while the database is still unreachable.
    if (roles.includes("api")) runtime.api = await startApi(ctx);
    await db.connect({ migrate: true });
    await opts.beforeRoles?.(ctx);
    // A QQ account on the reverse transport is served on the API's port (/onebot/v11/ws) when the API runs here.
    if (roles.includes("bot")) runtime.bot = await startBot(ctx, { httpServer: runtime.api?.server, ...opts.bot });
    if (roles.includes("jobs")) runtime.jobs = await startJobs(ctx);
  } catch (e) {
    await runtime.stop();
    throw e;
  }
  return runtime;
}
