// A real AppContext for a test file: its own Postgres database, real Redis (own key prefix) or in-process
// coordination, a silent logger and config from the same loader production uses.
import { loadConfig, type Config } from "../../core/config.ts";
import type { AppContext } from "../../core/context.ts";
import { createCoordination } from "../../core/coord/index.ts";
import { createLogger } from "../../core/log.ts";
import { createTestDatabase, testRedisPrefix, testRedisUrl, type TestDatabase } from "./db.ts";

export interface TestContext extends AppContext {
  db: TestDatabase;
  close(): Promise<void>;
}

export async function createTestContext(label: string, opts: { redis?: boolean; env?: Record<string, string> } = {}): Promise<TestContext> {
  const db = await createTestDatabase();
  const redis = opts.redis ?? true;
  const config: Config = loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    NODE_ENV: "test",
    DATABASE_URL: db.url,
    ...(redis ? { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: testRedisPrefix(label) } : {}),
    API_PORT: "0",
    API_HOST: "127.0.0.1",
    SENDER_MIN_GAP_MS: "0",
    SENDER_JITTER_MS: "0",
    SENDER_POLL_MS: "200",
    ...opts.env,
  });
  const log = createLogger(config.LOG_LEVEL);
  const coord = createCoordination(config, log, { name: `nbtest:${label}` });
  return {
    config,
    db,
    coord,
    log,
    async close() {
      await db.close();
      await coord.close();
    },
  };
}
