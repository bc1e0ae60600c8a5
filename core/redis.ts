// The one place that builds ioredis clients. Redis only holds rebuildable state (locks, counters, dedup, wake-ups),
// so the client is tuned to fail fast and keep reconnecting rather than to wait for Redis at any cost.
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "./log.ts";

export type { Redis };
export type RedisLogger = Pick<Logger, "info" | "warn" | "error">;

export interface RedisClientOptions {
  logger?: RedisLogger;
  /** Shown in CLIENT LIST; lets operators (and tests) find this process's connections. */
  connectionName?: string;
  /** Upper bound for any single command, including time spent queued while reconnecting. */
  commandTimeoutMs?: number;
}

/** Reconnect forever: 50 ms, 100 ms, 200 ms ... capped at 2 s, plus jitter so a fleet does not reconnect in lockstep. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt - 1, 10), 2000) + Math.floor(Math.random() * 100);
}

/**
 * `prefix` becomes ioredis `keyPrefix`: it is applied to every key argument (also in pipelines and defined Lua
 * commands) but NOT to pub/sub channel names or SCAN/KEYS patterns; callers prefix those themselves.
 */
export function createRedis(url: string, prefix: string, opts: RedisClientOptions = {}): Redis {
  const client = new Redis(url, {
    keyPrefix: prefix,
    connectionName: opts.connectionName,
    retryStrategy: reconnectDelay,
    // Pending commands are failed after one unsuccessful reconnect attempt instead of the default 20, so callers
    // get an error within a few hundred ms while Redis is down.
    maxRetriesPerRequest: 1,
    // Offline queue stays ON: it covers the first milliseconds after start-up and sub-second reconnects (failover,
    // server-side idle/CLIENT KILL), which are the common case and should be invisible to callers. It cannot turn
    // into an unbounded wait because maxRetriesPerRequest flushes it and commandTimeout caps every command.
    enableOfflineQueue: true,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    connectTimeout: 5000,
    // How long a closing socket may linger before being destroyed. ioredis also arms this timer for a socket that
    // is already dead (closing while reconnecting), which would hold process exit for the default 2 s.
    disconnectTimeout: 300,
    autoResubscribe: true,
  } satisfies RedisOptions);
  attachLogging(client, opts.logger, opts.connectionName);
  return client;
}

/** A second connection with the same options (used for SUBSCRIBE, which monopolises a RESP2 connection). */
export function duplicateRedis(base: Redis, connectionName: string | undefined, logger?: RedisLogger): Redis {
  const client = base.duplicate({ connectionName });
  attachLogging(client, logger, connectionName);
  return client;
}

// Without an `error` listener ioredis stays silent; with one that throws, the process would die. Log the first
// failure of an outage and the recovery, not every reconnect attempt (which would flood logs every 2 s).
function attachLogging(client: Redis, logger: RedisLogger | undefined, name: string | undefined) {
  let failing = false;
  client.on("error", (err: Error) => {
    if (failing) return;
    failing = true;
    logger?.error({ err: err.message, redis: name }, "Redis 连接出错，正在重连");
  });
  // A dropped connection (server restart, CLIENT KILL) does not always come with an error event.
  client.on("reconnecting", () => {
    if (failing) return;
    failing = true;
    logger?.warn({ redis: name }, "Redis 连接断开，正在重连");
  });
  client.on("ready", () => {
    if (!failing) return;
    failing = false;
    logger?.info({ redis: name }, "Redis 连接已恢复");
  });
}

/** Deletes every key under `prefix` (a test run's or a benchmark's namespace); SCAN, never KEYS, so it is safe on a shared server. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const redis = createRedis(url, "", { connectionName: "netbranch:cleanup" });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  return deleted;
}
