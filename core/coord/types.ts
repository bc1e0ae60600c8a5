// Cross-process coordination. Everything behind this interface is rebuildable: losing it (Redis flush or restart)
// may cause one duplicate job run or one extra message, never data loss. Durable state lives in the database.
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";

/** An exclusive, expiring claim on a key. Only the holder's token can release or extend it. */
export interface Lease {
  readonly key: string;
  readonly token: string;
  /** Gives the key up; false when the lease had already expired (and maybe been taken by someone else). */
  release(): Promise<boolean>;
  /** Resets the TTL to ttlMs from now; false when the lease is no longer ours. */
  extend(ttlMs: number): Promise<boolean>;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Points left in the current window (0 when refused). */
  remaining: number;
  /** When refused: ms until enough points are free again; 0 when allowed. */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Takes `points` (default 1) from `key`'s budget for the current window. */
  consume(key: string, points?: number): Promise<RateLimitResult>;
}

export interface Coordination {
  /** For logs and health output only; callers must not branch on it. */
  readonly kind: "redis" | "memory";
  /** Exclusive lease with TTL (SET NX PX + token-checked release/extend); null when someone else holds it. */
  acquire(key: string, ttlMs: number): Promise<Lease | null>;
  /** Atomically marks `key` seen for ttlMs; true if it had already been seen within its TTL (dedup). */
  seenBefore(key: string, ttlMs: number): Promise<boolean>;
  /** Fixed-window limiter shared by every process using the same `name`; same name must mean same options. */
  rateLimiter(name: string, opts: { points: number; durationSec: number }): RateLimiter;
  /** Fire-and-forget wake-up to every current subscriber of `channel` (at-most-once; lost while disconnected). */
  publish(channel: string, message: string): Promise<void>;
  /** Calls handler asynchronously for each message; resolves once subscribed, to a function that unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** Resolves when the backend answers; rejects quickly when it is unreachable (readiness check). */
  ping(): Promise<void>;
  /** Releases connections and timers; the instance is unusable afterwards. */
  close(): Promise<void>;
}

// ---- Helpers shared by both implementations, so their semantics cannot drift apart. ----

/** Redis rejects PX values that are not positive integers; the memory implementation must refuse them too. */
export function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
}

export function checkLimiterOptions(name: string, opts: { points: number; durationSec: number }): void {
  // RateLimiterRedis floors the duration to whole seconds and never expires a 0-second window.
  if (!Number.isInteger(opts.durationSec) || opts.durationSec < 1) throw new RangeError(`rate limiter ${name}: durationSec must be an integer >= 1`);
  if (!Number.isInteger(opts.points) || opts.points < 1) throw new RangeError(`rate limiter ${name}: points must be an integer >= 1`);
}

/** Adapts rate-limiter-flexible (which rejects with RateLimiterRes when over budget) to RateLimitResult. */
export function wrapLimiter(limiter: RateLimiterAbstract): RateLimiter {
  return {
    async consume(key, points = 1) {
      try {
        const res = await limiter.consume(key, points);
        return { allowed: true, remaining: res.remainingPoints, retryAfterMs: 0 };
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, err.msBeforeNext) };
      }
    },
  };
}

/** Per-instance cache so repeated rateLimiter(name) calls share one limiter, and conflicting options fail loudly. */
export function limiterCache(create: (name: string, opts: { points: number; durationSec: number }) => RateLimiter) {
  const limiters = new Map<string, { opts: string; limiter: RateLimiter }>();
  return (name: string, opts: { points: number; durationSec: number }): RateLimiter => {
    checkLimiterOptions(name, opts);
    const fingerprint = `${opts.points}/${opts.durationSec}`;
    const existing = limiters.get(name);
    if (existing) {
      if (existing.opts !== fingerprint) throw new Error(`rate limiter ${name} already defined as ${existing.opts} points/sec, not ${fingerprint}`);
      return existing.limiter;
    }
    const limiter = create(name, opts);
    limiters.set(name, { opts: fingerprint, limiter });
    return limiter;
  };
}
