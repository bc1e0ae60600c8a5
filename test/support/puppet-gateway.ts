// The gateway a bot process killed by a test reconnects to: wechaty-puppet-service's own PuppetServer over the
// simulated WeChat, and the environment a `bot` role needs to reach it and the test's database and Redis.
import { randomUUID } from "node:crypto";
import { PuppetServer } from "wechaty-puppet-service";
import type { MockWechat } from "../../bot/adapters/wechaty-mock.ts";
import { freePort } from "./crash-child.ts";
import type { TestContext } from "./context.ts";

export async function puppetGateway(wechat: MockWechat, ctx: TestContext, extraEnv: Record<string, string> = {}) {
  const token = `insecure_${randomUUID()}`;
  const endpoint = `127.0.0.1:${await freePort()}`;
  const server = new PuppetServer({ endpoint, puppet: wechat.puppet, token });
  await server.start();
  // Logged in before any client connects: the server replays the login to each bot process that connects later.
  wechat.login();
  const env: Record<string, string> = {
    DATABASE_URL: ctx.db.url,
    REDIS_URL: ctx.config.REDIS_URL!,
    REDIS_KEY_PREFIX: ctx.config.REDIS_KEY_PREFIX,
    WECHATY_PUPPET: "wechaty-puppet-service",
    WECHATY_PUPPET_SERVICE_TOKEN: token,
    WECHATY_PUPPET_SERVICE_ENDPOINT: endpoint,
    SENDER_MIN_GAP_MS: "50",
    SENDER_JITTER_MS: "0",
    SENDER_POLL_MS: "200",
    LOG_LEVEL: "warn",
    ...extraEnv,
  };
  return { server, env };
}
