// In-process coordination for the embedded single-process mode. Same semantics as the Redis implementation
// (TTL expiry, owner tokens, fixed-window limits, asynchronous pub/sub), so code and tests cannot tell them apart.
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Logger } from "../log.ts";
import { checkTtl, limiterCache, wrapLimiter, type Coordination, type Lease } from "./types.ts";

/** How often expired leases/dedup marks are purged; reads never see an expired entry regardless. */
const SWEEP_INTERVAL_MS = 30_000;

export function createMemoryCoordination(logger?: Pick<Logger, "error">): Coordination {
  // One keyspace like Redis: "lock:<key>" and "seen:<key>" -> owner token + monotonic expiry.
  const entries = new Map<string, { token: string; expiresAt: number }>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0); // many in-process subscribers per channel is normal, not a leak
  let closed = false;

  const now = () => performance.now();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const setNx = (key: string, token: string, ttlMs: number): boolean => {
    if (live(key)) return false;
    entries.set(key, { token, expiresAt: now() + ttlMs });
    return true;
  };
  const ensureOpen = () => {
    if (closed) throw new Error("coordination is closed");
  };

  const sweeper = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  const rateLimiter = limiterCache((name, opts) =>
    wrapLimiter(new RateLimiterMemory({ keyPrefix: `rl:${name}`, points: opts.points, duration: opts.durationSec })),
  );

  return {
    kind: "memory",

    async acquire(key, ttlMs) {
      ensureOpen();
      checkTtl(ttlMs);
      const full = `lock:${key}`;
      const token = randomUUID();
      if (!setNx(full, token, ttlMs)) return null;
      const lease: Lease = {
        key,
        token,
        async release() {
          if (live(full)?.token !== token) return false;
          entries.delete(full);
          return true;
        },
        async extend(ms) {
          checkTtl(ms);
          const entry = live(full);
          if (entry?.token !== token) return false;
          entry.expiresAt = now() + ms;
          return true;
        },
      };
      return lease;
    },

    async seenBefore(key, ttlMs) {
      ensureOpen();
      checkTtl(ttlMs);
      return !setNx(`seen:${key}`, "1", ttlMs);
    },

    rateLimiter(name, opts) {
      ensureOpen();
      return rateLimiter(name, opts);
    },

    async publish(channel, message) {
      ensureOpen();
      // Deliver on a later turn like Redis does: a publisher never re-enters subscriber code synchronously.
      setImmediate(() => {
        if (!closed) bus.emit(channel, message);
      });
    },

    async subscribe(channel, handler) {
      ensureOpen();
      const listener = (message: string) => {
        try {
          handler(message);
        } catch (err) {
          logger?.error({ err, channel }, "订阅消息处理出错");
        }
      };
      bus.on(channel, listener);
      return async () => {
        bus.off(channel, listener);
      };
    },

    async ping() {
      ensureOpen();
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      bus.removeAllListeners();
      entries.clear();
    },
  };
}
