// The only place that knows whether coordination runs on Redis (service mode) or in memory (embedded mode).
import type { Logger } from "../log.ts";
import { createMemoryCoordination } from "./memory.ts";
import { createRedisCoordination } from "./redis.ts";
import type { Coordination } from "./types.ts";

export type { Coordination, Lease, RateLimiter, RateLimitResult } from "./types.ts";

export interface CoordinationConfig {
  REDIS_URL?: string;
  REDIS_KEY_PREFIX: string;
}

export function createCoordination(
  config: CoordinationConfig,
  logger?: Pick<Logger, "info" | "warn" | "error">,
  /** `name` tags this process's Redis connections in CLIENT LIST (e.g. "netbranch:jobs:1234"). */
  opts: { name?: string } = {},
): Coordination {
  if (!config.REDIS_URL) return createMemoryCoordination(logger);
  return createRedisCoordination({
    url: config.REDIS_URL,
    prefix: config.REDIS_KEY_PREFIX,
    logger,
    connectionName: opts.name ?? `netbranch:${process.pid}`,
  });
}
