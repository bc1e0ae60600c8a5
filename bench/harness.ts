// A tiny benchmark harness: each case runs on a fresh context (usually a scratch PostgreSQL database) that is set
// up and torn down outside the timed region; the median of N runs is reported next to a baseline.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../core/db/index.ts";
import { applyMigrations } from "../core/db/migrate.ts";
import { deleteKeysWithPrefix } from "../core/redis.ts";

export const DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

export interface BenchCase<C> {
  /** Untimed: builds the context of one run (a fresh database, loaded fixtures). */
  setup(): Promise<C>;
  /** Timed. */
  run(ctx: C): Promise<unknown>;
  /** Untimed, after each run: throws when the run did not do the work it claims (so a fast wrong run cannot win). */
  check?(ctx: C, result: unknown): Promise<void>;
  /** Untimed, always runs, also after a failure. */
  teardown?(ctx: C): Promise<void>;
}

export interface CompareSpec<C, B> {
  name: string;
  /** Rows the case writes or reads per run, for the rows/s column. */
  rows?: number;
  /** Runs per side; the median is reported. Default BENCH_REPEAT or 3. */
  repeat?: number;
  ours: BenchCase<C>;
  baseline?: BenchCase<B>;
}

export interface BenchResult {
  name: string;
  rows?: number;
  /** Milliseconds of each run. */
  ours: number[];
  baseline?: number[];
}

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Opened on the migrated database (Prisma + raw SQL); not connected through `connect()`, nothing to migrate. */
  db: Database;
  /** Closes the connections and drops the database; idempotent. */
  drop(): Promise<void>;
}

/** A positive integer from the environment (benchmark sizes and windows), or `fallback`. */
export function positiveEnv(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} 必须是正整数`);
  return v;
}

/** Undoes a bot run's setup, whatever part of it was reached: the bot, its coordination client, its scratch database and its Redis keys. */
export async function teardownBotRun(
  o: { bot?: { stop(): Promise<void> }; ctx?: { coord: { close(): Promise<void> } }; scratch?: ScratchDatabase; prefix?: string },
  redisUrl: string,
): Promise<void> {
  try {
    await o.bot?.stop().catch(() => undefined);
    await o.ctx?.coord.close().catch(() => undefined);
    await o.scratch?.drop();
  } finally {
    if (o.prefix) await deleteKeysWithPrefix(redisUrl, o.prefix);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function figure(runs: number[], rows?: number): string {
  const ms = median(runs);
  return rows ? `${fmt(ms)} ms (${fmt((rows * 1000) / ms)} rows/s)` : `${fmt(ms, ms < 10 ? 2 : 0)} ms`;
}

/** One table line: name, our median, baseline median, ratio of the medians (lower is better). */
export function formatResult(r: BenchResult): string {
  const ours = `本实现 ${figure(r.ours, r.rows)}`;
  if (!r.baseline) return `${r.name}  ${ours}`;
  const ratio = median(r.ours) / median(r.baseline);
  return `${r.name}  ${ours}  基线 ${figure(r.baseline, r.rows)}  x${ratio.toFixed(2)} of baseline`;
}

export class BenchHarness {
  readonly results: BenchResult[] = [];
  /** Scratch databases not dropped yet, by name. */
  private readonly scratch = new Map<string, () => Promise<void>>();
  private readonly adminUrl: string;
  private readonly log: (line: string) => void;
  private readonly defaultRepeat: number;

  constructor(opts: { adminUrl?: string; log?: (line: string) => void; repeat?: number } = {}) {
    this.adminUrl = opts.adminUrl ?? DEFAULT_ADMIN_URL;
    this.log = opts.log ?? ((line) => process.stdout.write(`${line}\n`));
    this.defaultRepeat = opts.repeat ?? 3;
  }

  /** Runs both sides `repeat` times, interleaved so drift on the machine (other load, cache warm-up) hits both. */
  async compare<C, B>(spec: CompareSpec<C, B>): Promise<BenchResult> {
    const repeat = spec.repeat ?? this.defaultRepeat;
    const result: BenchResult = { name: spec.name, rows: spec.rows, ours: [], baseline: spec.baseline ? [] : undefined };
    for (let i = 0; i < repeat; i++) {
      const ms = await this.timeOnce(spec.ours);
      result.ours.push(ms);
      this.log(`  · 第 ${i + 1}/${repeat} 次  本实现 ${fmt(ms)} ms`);
      if (spec.baseline) {
        const bms = await this.timeOnce(spec.baseline);
        result.baseline!.push(bms);
        this.log(`  · 第 ${i + 1}/${repeat} 次  基线 ${fmt(bms)} ms`);
      }
    }
    this.results.push(result);
    this.log(formatResult(result));
    return result;
  }

  private async timeOnce<C>(c: BenchCase<C>): Promise<number> {
    const ctx = await c.setup();
    try {
      const t0 = process.hrtime.bigint();
      const out = await c.run(ctx);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      await c.check?.(ctx, out);
      return ms;
    } finally {
      await c.teardown?.(ctx);
    }
  }

  /** A new, migrated PostgreSQL database, dropped by `drop()` or at the latest by `cleanup()`. */
  async scratchDatabase(): Promise<ScratchDatabase> {
    const name = `bench_${randomBytes(5).toString("hex")}`;
    const url = new URL(this.adminUrl);
    url.pathname = `/${name}`;
    let db: Database | undefined;
    let dropping: Promise<void> | undefined;
    const drop = () =>
      (dropping ??= (async () => {
        this.scratch.delete(name);
        // A run interrupted mid-query never returns its pooled connection, and closing would wait for it forever:
        // give the close a moment, then FORCE terminates whatever is left.
        if (db) await Promise.race([db.close().catch(() => undefined), sleep(2000)]);
        await this.admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      })());
    // Registered before it exists: an interrupt between CREATE and the end of migrations must still drop it.
    this.scratch.set(name, drop);
    try {
      await this.admin((c) => c.query(`CREATE DATABASE "${name}"`));
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        await applyMigrations({ query: (sql, params) => client.query(sql, params as any[]), exec: (sql) => client.query(sql) });
      } finally {
        await client.end();
      }
      db = await openDatabase({ url: url.toString(), pgliteDir: "memory://", retries: 0 });
      return { name, url: url.toString(), db, drop };
    } catch (e) {
      await drop().catch(() => undefined);
      throw e;
    }
  }

  /** Drops every scratch database still alive (a benchmark that threw before its teardown, or an interrupt). */
  async cleanup(): Promise<void> {
    for (const [name, drop] of [...this.scratch]) {
      await drop().catch((e) => this.log(`删除临时数据库 ${name} 失败：${(e as Error).message}`));
    }
  }

  /** Fails fast with a clear message when the server is not there. */
  async checkServer(): Promise<void> {
    await this.admin((c) => c.query("SELECT 1"));
  }

  private async admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
}

/** Polls until `ok` holds, or throws naming what did not happen in time. */
export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 5): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${timeoutMs} ms 内未能${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
