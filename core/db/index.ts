// The database factory: PostgreSQL (service mode) or PGlite (embedded mode, real Postgres in-process).
// This and core/coord/index.ts are the only places that know which mode we run in.
import { mkdirSync } from "node:fs";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";
import { applyMigrations, type SqlRunner } from "./migrate.ts";
import type { Logger } from "../log.ts";

export { PrismaClient };
export * from "./generated/client.ts";

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  /** Raw SQL on the same database (migrations, benchmarks, SKIP LOCKED claims). */
  readonly sql: SqlRunner;
  /** Waits until the database answers (retrying with backoff), then applies pending migrations. */
  connect(opts?: { migrate?: boolean }): Promise<void>;
  /** Applies pending migrations on one session; returns the names applied. */
  migrate(): Promise<string[]>;
  /** Throws when the database does not answer (readiness check). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string;
  pgliteDir: string;
  retries?: number;
  logger?: Pick<Logger, "info" | "warn" | "error">;
  poolSize?: number;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts.pgliteDir, opts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeDatabase(
  kind: Database["kind"],
  prisma: PrismaClient,
  sql: SqlRunner,
  closeDriver: () => Promise<void>,
  opts: DatabaseOptions,
  /** Runs fn on one session: migrations need the same connection for BEGIN/COMMIT and the advisory lock. */
  withSession: <T>(fn: (session: SqlRunner) => Promise<T>) => Promise<T> = (fn) => fn(sql),
): Database {
  const log = opts.logger;
  const migrate = () => withSession((session) => applyMigrations(session));
  return {
    kind,
    migrate,
    prisma,
    sql,
    async ping() {
      await sql.query("SELECT 1");
    },
    async connect({ migrate: runMigrations = true } = {}) {
      const retries = opts.retries ?? 30;
      for (let attempt = 0; ; attempt++) {
        try {
          await sql.query("SELECT 1");
          break;
        } catch (e) {
          if (attempt >= retries) throw new Error(`数据库连接失败（已重试 ${retries} 次）：${(e as Error).message}`);
          const delay = Math.min(500 * 2 ** attempt, 10_000);
          log?.warn({ attempt: attempt + 1, retries, delayMs: delay, err: (e as Error).message }, "数据库暂不可达，稍后重试");
          await sleep(delay);
        }
      }
      if (runMigrations) {
        const applied = await migrate();
        if (applied.length) log?.info({ applied }, "已应用数据库迁移");
      }
    },
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}

async function openPostgres(url: string, opts: DatabaseOptions): Promise<Database> {
  // Prisma keeps DateTime as UTC in \`timestamp\` columns, and raw SQL compares them with now(): the session must be
  // in UTC whatever the server's default (often Asia/Shanghai on county servers), or due times shift by 8 hours.
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5_000, options: "-c TimeZone=UTC" });
  // An idle client losing its server (Postgres restart) emits 'error' on the pool: log it, never crash.
  pool.on("error", (err) => opts.logger?.warn({ err: err.message }, "数据库连接断开"));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const sql: SqlRunner = {
    query: (text, params) => pool.query(text, params as any[]),
    exec: (text) => pool.query(text),
  };
  return makeDatabase("postgres", prisma, sql, () => pool.end(), opts, async (fn) => {
    const client = await pool.connect();
    try {
      return await fn({ query: (text, params) => client.query(text, params as any[]), exec: (text) => client.query(text) });
    } finally {
      client.release();
    }
  });
}

async function openPglite(dir: string, opts: DatabaseOptions): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  // PGlite does not create parent directories itself (ENOENT on mkdir).
  if (!dir.includes("://")) mkdirSync(dir, { recursive: true });
  const pglite = new PGlite(dir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const sql: SqlRunner = {
    query: (text, params) => pglite.query(text, params as any[]),
    exec: (text) => pglite.exec(text),
  };
  // pglite.close() is mandatory: the adapter's dispose is a no-op and an open PGlite keeps Node alive forever.
  return makeDatabase("pglite", prisma, sql, () => pglite.close(), opts);
}
