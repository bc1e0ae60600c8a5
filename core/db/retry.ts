// Riding out a short database outage (a Postgres restart, a failover) instead of dropping the work in hand.
import { isDatabaseConnectionError } from "../errors.ts";
import type { Logger } from "../log.ts";

export interface RetryOptions {
  /** Total time to keep trying before giving up, in ms. */
  withinMs?: number;
  log?: Pick<Logger, "warn">;
  what?: string;
}

/** Runs fn; while it fails because the database is unreachable, retries with capped backoff for up to withinMs. */
export async function withDbRetry<T>(fn: () => Promise<T>, { withinMs = 60_000, log, what = "数据库操作" }: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isDatabaseConnectionError(e) || Date.now() >= deadline) throw e;
      const delay = Math.min(250 * 2 ** attempt, 5_000, Math.max(0, deadline - Date.now()));
      log?.warn({ attempt: attempt + 1, delayMs: delay, err: (e as Error).message }, `${what}：数据库暂不可达，稍后重试`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
