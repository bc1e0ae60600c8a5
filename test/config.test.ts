// An operator's mistakes in the environment stop the process with one clear line naming the variable.
import { describe, expect, test } from "@jest/globals";
import { loadConfig, ConfigError } from "../core/config.ts";
import { checkDeployment } from "../core/runtime.ts";
import { runCommand } from "./support/run.ts";


describe("loadConfig", () => {
  test("defaults give embedded mode", () => {
    const c = loadConfig({});
    expect(c.dbMode).toBe("pglite");
    expect(c.coordMode).toBe("memory");
    expect(c.API_PORT).toBe(3000);
    expect(c.WECHATY_PUPPET).toBe("wechaty-puppet-mock");
  });

  test("DATABASE_URL and REDIS_URL switch to service mode", () => {
    const c = loadConfig({ DATABASE_URL: "postgresql://u@db:5432/nb", REDIS_URL: "redis://r:6379" });
    expect(c.dbMode).toBe("postgres");
    expect(c.coordMode).toBe("redis");
  });

  test("empty values count as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", API_PORT: "" }).API_PORT).toBe(3000);
  });

  test.each([
    [{ API_PORT: "abc" }, "API_PORT"],
    [{ API_PORT: "70000" }, "API_PORT"],
    [{ DATABASE_URL: "mysql://x/y" }, "DATABASE_URL"],
    [{ REDIS_URL: "not a url" }, "REDIS_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ WECHATY_PUPPET: "wechaty-puppet-foo" }, "WECHATY_PUPPET"],
    [{ WECHATY_PUPPET: "wechaty-puppet-service" }, "WECHATY_PUPPET_SERVICE_TOKEN"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ NODE_ENV: "production" }, "JWT_SECRET"],
    [{ JOBS_HEARTBEAT_CRON: "every minute" }, "JOBS_HEARTBEAT_CRON"],
    [{ BOT_ACCOUNT: "has space" }, "BOT_ACCOUNT"],
  ])("%j is refused naming %s", (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toMatch(new RegExp(`^配置错误：${name} `));
      expect(msg.split("\n")).toHaveLength(1);
    }
  });

  test("secrets are never echoed back", () => {
    expect(() => loadConfig({ JWT_SECRET: "tiny-secret" })).toThrow(/值已隐藏/);
    expect(() => loadConfig({ JWT_SECRET: "tiny-secret" })).not.toThrow(/tiny-secret/);
  });
});

describe("deployment", () => {
  test("all roles in one process may run embedded", () => {
    expect(() => checkDeployment(["api", "bot", "jobs"], loadConfig({}))).not.toThrow();
  });

  test("separate role processes need PostgreSQL and Redis", () => {
    expect(() => checkDeployment(["bot"], loadConfig({}))).toThrow(/DATABASE_URL/);
    expect(() => checkDeployment(["jobs"], loadConfig({ DATABASE_URL: "postgresql://x@h/db" }))).toThrow(/REDIS_URL/);
    expect(() => checkDeployment(["api"], loadConfig({ DATABASE_URL: "postgresql://x@h/db", REDIS_URL: "redis://h" }))).not.toThrow();
  });

  test("the real entry point exits 1 with one line naming the bad variable", async () => {
    const err = await runCommand("npx", ["tsx", "core/main.ts", "--role", "api"], { env: { ...process.env, API_PORT: "abc", NODE_OPTIONS: "" } });
    expect(err.code).toBe(1);
    expect(err.stderr.trim()).toMatch(/^配置错误：API_PORT 必须是整数/);
    expect(err.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("the real entry point refuses a lone role without Redis", async () => {
    const env = { ...process.env, NODE_OPTIONS: "" } as NodeJS.ProcessEnv;
    delete env.REDIS_URL;
    env.DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
    const err = await runCommand("npx", ["tsx", "core/main.ts", "--role", "jobs"], { env });
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/REDIS_URL/);
  });

  test("an unknown role is refused", async () => {
    const err = await runCommand("npx", ["tsx", "core/main.ts", "--role", "web"], { env: { ...process.env, NODE_OPTIONS: "" } });
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/--role 只能是/);
  });
});
