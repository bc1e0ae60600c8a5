// Riding out a short database outage (a Postgres restart, a failover) instead of dropping the work in hand.
import { isDatabaseConnectionError } from "../kernel/errors.ts";
import type { Logger } from "../log.ts";

export interface RetryOptions {
  /** Total time to keep trying before giving up, in ms. */
  withinMs?: number;
  log?: Pick<Logger, "warn">;
  what?: string;
}

/**
 * The database is away or saturated, not the request at fault: unreachable, or Prisma could not get a connection
 * to start a transaction in time (P2028, all pool connections busy during a burst).
 */
export function isTransientDbError(e: unknown): boolean {
  return isDatabaseConnectionError(e) || (e as { code?: unknown } | null)?.code === "P2028";
}

/** Runs fn; while it fails because the database is unreachable or saturated, retries with capped backoff for up to withinMs. */
export async function withDbRetry<T>(fn: () => Promise<T>, { withinMs = 60_000, log, what = "数据库操作" }: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransientDbError(e) || Date.now() >= deadline) throw e;
      const delay = Math.min(250 * 2 ** attempt, 5_000, Math.max(0, deadline - Date.now()));
      log?.warn({ attempt: attempt + 1, delayMs: delay, err: (e as Error).message }, `${what}：数据库暂不可达，稍后重试`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
