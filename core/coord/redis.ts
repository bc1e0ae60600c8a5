// Redis coordination for service mode (several api/bot/jobs processes sharing one Redis).
import { randomUUID } from "node:crypto";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import { createRedis, duplicateRedis, type Redis, type RedisLogger } from "../redis.ts";
import { checkTtl, limiterCache, wrapLimiter, type Coordination, type Lease } from "./types.ts";

export interface RedisCoordinationOptions {
  url: string;
  /** Applied to keys by ioredis and to channel names by us. */
  prefix: string;
  logger?: RedisLogger;
  /** CLIENT SETNAME for the command connection; the subscriber gets `<name>:sub`. */
  connectionName?: string;
}

// Compare-and-delete / compare-and-pexpire: only the token that took the lease may touch it, so a holder whose
// lease expired (GC pause, slow job) cannot release or prolong the lease its successor now holds.
const RELEASE_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND_LUA = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

type ScriptedRedis = Redis & {
  nbLeaseRelease(key: string, token: string): Promise<number>;
  nbLeaseExtend(key: string, token: string, ttlMs: number): Promise<number>;
};

export function createRedisCoordination(opts: RedisCoordinationOptions): Coordination {
  const { prefix, logger } = opts;
  const redis = createRedis(opts.url, prefix, { logger, connectionName: opts.connectionName }) as ScriptedRedis;
  // defineCommand (EVALSHA with EVAL fallback) so ioredis applies keyPrefix to KEYS[1].
  redis.defineCommand("nbLeaseRelease", { numberOfKeys: 1, lua: RELEASE_LUA });
  redis.defineCommand("nbLeaseExtend", { numberOfKeys: 1, lua: EXTEND_LUA });

  // SUBSCRIBE gets its own connection, created on first use: a subscribed RESP2 connection cannot run other
  // commands, and keeping it separate means a slow handler or resubscribe never delays locks and counters.
  let sub: Redis | undefined;
  // Per channel: local handlers plus the SUBSCRIBE reply every subscriber of that channel waits for.
  const channels = new Map<string, { handlers: Set<(message: string) => void>; ready: Promise<unknown> }>();
  const channelName = (channel: string) => `${prefix}${channel}`; // keyPrefix does not apply to channels
  const subscriber = () => {
    if (!sub) {
      sub = duplicateRedis(redis, opts.connectionName && `${opts.connectionName}:sub`, logger);
      sub.on("message", (channel: string, message: string) => {
        for (const handler of channels.get(channel)?.handlers ?? []) {
          try {
            handler(message);
          } catch (err) {
            logger?.error({ err, channel }, "订阅消息处理出错");
          }
        }
      });
    }
    return sub;
  };

  const rateLimiter = limiterCache((name, limit) => {
    const keyPrefix = `rl:${name}`;
    return wrapLimiter(
      new RateLimiterRedis({
        storeClient: redis, // ioredis: useRedisPackage stays false (that flag is for node-redis v4+)
        keyPrefix,
        points: limit.points,
        duration: limit.durationSec,
        // Redis down => fall back to a per-process memory limiter instead of failing closed. Limits here guard
        // logins and outgoing bot messages; refusing all of them would turn an outage of rebuildable state into an
        // outage of the whole service. Per-process limits still bound abuse (at most N x processes per window).
        // rejectIfRedisNotReady switches to the insurance immediately instead of waiting out commandTimeout.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points: limit.points, duration: limit.durationSec }),
      }),
    );
  });

  /**
   * SET NX with our own token. ioredis resends commands that were in flight when its connection dropped, and Redis
   * may already have run the first copy: then "already set" is our own write, which only the token can tell.
   * Without this a Redis hiccup made fresh messages look like duplicates (and dropped them).
   */
  const claim = async (full: string, token: string, ttlMs: number) =>
    (await redis.set(full, token, "PX", ttlMs, "NX")) === "OK" || (await redis.get(full)) === token;

  return {
    kind: "redis",

    async acquire(key, ttlMs) {
      checkTtl(ttlMs);
      const full = `lock:${key}`;
      const token = randomUUID();
      if (!(await claim(full, token, ttlMs))) return null;
      const lease: Lease = {
        key,
        token,
        release: async () => (await redis.nbLeaseRelease(full, token)) === 1,
        extend: async (ms) => {
          checkTtl(ms);
          return (await redis.nbLeaseExtend(full, token, ms)) === 1;
        },
      };
      return lease;
    },

    async seenBefore(key, ttlMs) {
      checkTtl(ttlMs);
      return !(await claim(`seen:${key}`, randomUUID(), ttlMs));
    },

    rateLimiter,

    async publish(channel, message) {
      await redis.publish(channelName(channel), message);
    },

    async subscribe(channel, handler) {
      const name = channelName(channel);
      const client = subscriber();
      let entry = channels.get(name);
      if (!entry) {
        const created = { handlers: new Set<(message: string) => void>(), ready: client.subscribe(name) };
        created.ready.catch(() => {
          if (channels.get(name) === created) channels.delete(name);
        });
        channels.set(name, created);
        entry = created;
      }
      entry.handlers.add(handler);
      try {
        await entry.ready;
      } catch (err) {
        entry.handlers.delete(handler);
        throw err;
      }
      const joined = entry;
      let active = true;
      return async () => {
        if (!active) return;
        active = false;
        joined.handlers.delete(handler);
        if (joined.handlers.size > 0 || channels.get(name) !== joined) return;
        channels.delete(name);
        // Commands on one connection run in order, so a re-subscribe issued after this one still wins.
        await client.unsubscribe(name);
      };
    },

    async ping() {
      await redis.ping();
      if (sub) await sub.ping();
    },

    async close() {
      channels.clear();
      // QUIT lets in-flight commands finish; if Redis is unreachable it would only time out, so just drop the socket.
      await Promise.all(
        [redis, sub].map(async (client) => {
          if (!client) return;
          await client.quit().catch(() => client.disconnect());
        }),
      );
    },
  };
}
