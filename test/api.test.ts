// The HTTP API end to end: a real Postgres database, real Redis coordination, the API listening on a random port,
// and a local stand-in for WeChat's code2Session. Nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import Koa from "koa";
import { pino } from "pino";
import { createApp, startApi, type RunningApi } from "../api/app.ts";
import { errorHandler } from "../api/middleware/errors.ts";
import { requestId } from "../api/middleware/request.ts";
import { hashPassword } from "../core/auth/password.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { ConfigError, loadConfig, type Config } from "../core/config.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { openDatabase, type Database } from "../core/db/index.ts";
import { LOGIN_FAILURE_LIMIT } from "../core/auth/login.ts";
import { createTestDatabase, testRedisPrefix, testRedisUrl, type TestDatabase } from "./support/db.ts";
import { startWechatStandin, type WechatStandin } from "./support/wechat-standin.ts";

const PASSWORD = "Zhibu-2026!";
const HAN = /[\u4e00-\u9fff]/;

// Log lines the API writes, to check the request log and that no token is ever logged.
const logLines: string[] = [];
const log = pino({ level: "info" }, { write: (line: string) => void logLines.push(line) });

let db: TestDatabase;
let wechat: WechatStandin;
let config: Config;
let deps: AppContext;
let api: RunningApi;
const extraApis: RunningApi[] = [];
const extraClosers: Array<() => Promise<void>> = [];

const units: Record<"county" | "town1" | "town2" | "branch1a" | "branch1b" | "branch2a", { id: number; path: string }> = {} as never;

function envFor(overrides: Record<string, string | undefined> = {}) {
  return {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: testRedisPrefix("api"),
    API_HOST: "127.0.0.1",
    API_PORT: "0",
    API_BODY_LIMIT: "2kb",
    JWT_SECRET: "test-secret-for-api-tests-0123456789abcdef",
    JWT_ACCESS_TTL_SECONDS: "3600",
    WECHAT_API_BASE: wechat.url,
    WECHAT_MP_APPID: wechat.appid,
    WECHAT_MP_SECRET: wechat.secret,
    ...overrides,
  };
}

async function createUnit(code: string, name: string, kind: "COUNTY" | "TOWN" | "BRANCH", parent?: { id: number; path: string }) {
  const row = await db.prisma.orgUnit.create({ data: { code, name, kind, parentId: parent?.id ?? null, path: "/", depth: parent ? parent.path.split("/").length - 2 : 0 } });
  const path = `${parent?.path ?? "/"}${row.id}/`;
  await db.prisma.orgUnit.update({ where: { id: row.id }, data: { path } });
  return { id: row.id, path };
}

beforeAll(async () => {
  [db, wechat] = await Promise.all([createTestDatabase(), startWechatStandin()]);
  config = loadConfig(envFor());
  deps = { config, db, coord: createCoordination(config, log, { name: "nbtest-api" }), log };

  units.county = await createUnit("C", "示范县", "COUNTY");
  units.town1 = await createUnit("C-T1", "东山镇", "TOWN", units.county);
  units.town2 = await createUnit("C-T2", "西河镇", "TOWN", units.county);
  units.branch1a = await createUnit("C-T1-B1", "东山村党支部", "BRANCH", units.town1);
  units.branch1b = await createUnit("C-T1-B2", "南岭村党支部", "BRANCH", units.town1);
  units.branch2a = await createUnit("C-T2-B1", "河口村党支部", "BRANCH", units.town2);

  const passwordHash = await hashPassword(PASSWORD);
  const users = [
    { username: "county", displayName: "县委组织部管理员", role: "COUNTY_ADMIN", orgUnitId: units.county.id },
    { username: "town1", displayName: "东山镇管理员", role: "TOWN_ADMIN", orgUnitId: units.town1.id },
    { username: "sec1a", displayName: "东山村书记", role: "BRANCH_SECRETARY", orgUnitId: units.branch1a.id },
    { username: "limited", displayName: "被限流的账号", role: "TOWN_ADMIN", orgUnitId: units.town2.id },
    { username: "leaver", displayName: "会退出的账号", role: "TOWN_ADMIN", orgUnitId: units.town2.id },
    { username: "disabled", displayName: "已停用账号", role: "TOWN_ADMIN", orgUnitId: units.town2.id, active: false },
  ] as const;
  await db.prisma.cadreUser.createMany({ data: users.map((u) => ({ ...u, passwordHash })) });

  api = await startApi(deps, { wechatTimeoutMs: 300 });
});

afterAll(async () => {
  await Promise.all([api?.close(), ...extraApis.map((a) => a.close())]);
  await Promise.all(extraClosers.map((c) => c()));
  await deps?.coord.close();
  await db?.close();
  await wechat?.close();
});

// ---- helpers ----

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(
  path: string,
  opts: { method?: string; token?: string; body?: unknown; raw?: string; headers?: Record<string, string>; base?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${opts.base ?? api.url}${path}`, { method: opts.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Every error: the agreed shape, a Chinese message, the request id, and nothing that looks like a stack. */
function expectError(res: Answer, status: number, code: string) {
  expect({ status: res.status, code: res.json?.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(typeof res.json.error.message).toBe("string");
  expect(res.json.error.message).toMatch(HAN);
  expect(res.json.error.requestId).toBe(res.headers.get("x-request-id"));
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack|node_modules|prisma|Error:/i);
  return res.json.error;
}

async function login(username: string, password = PASSWORD) {
  const res = await call("/api/auth/login", { body: { username, password } });
  expect(res.status).toBe(200);
  return res.json.accessToken as string;
}

/** A second API instance on other dependencies (the main one keeps working for the other tests). */
async function startExtra(partial: Partial<AppContext>, options: Parameters<typeof startApi>[1] = {}) {
  const extra = await startApi({ ...deps, ...partial }, options);
  extraApis.push(extra);
  return extra;
}

// ---- tests ----

describe("health", () => {
  test("GET /healthz answers while the process is up, with a request id", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("a sane incoming X-Request-Id is kept; an unsafe one is replaced", async () => {
    expect((await call("/healthz", { headers: { "x-request-id": "edge-42.abc" } })).headers.get("x-request-id")).toBe("edge-42.abc");
    const replaced = await call("/healthz", { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("GET /readyz is 200 when Postgres and Redis answer", async () => {
    const res = await call("/readyz");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "ready", checks: { database: "ok", coordination: "ok" } });
  });

  test("a database that is down: /readyz 503 NOT_READY, /healthz still 200, DB-backed routes 503 not 500", async () => {
    const downDb: Database = await openDatabase({ url: "postgresql://postgres@127.0.0.1:1/x", pgliteDir: "memory://", retries: 0 });
    extraClosers.push(() => downDb.close());
    // What start-up does: connect() retries with backoff and then fails with a clear message.
    await expect(downDb.connect()).rejects.toThrow(/数据库连接失败/);

    const extra = await startExtra({ db: downDb });
    expect((await call("/healthz", { base: extra.url })).status).toBe(200);
    const ready = await call("/readyz", { base: extra.url });
    const err = expectError(ready, 503, "NOT_READY");
    expect(err.message).toBe("服务尚未就绪：数据库不可达");
    expect(err.checks).toEqual({ database: "unreachable", coordination: "ok" });

    const loginRes = await call("/api/auth/login", { base: extra.url, body: { username: "county", password: PASSWORD } });
    expect(expectError(loginRes, 503, "SERVICE_UNAVAILABLE").message).toBe("数据库暂时不可用，请稍后再试");
  });

  test("Redis that is down: /readyz 503 naming Redis", async () => {
    const downCoord = createCoordination({ REDIS_URL: "redis://127.0.0.1:1", REDIS_KEY_PREFIX: "nbtest:down:" }, pino({ level: "silent" }));
    extraClosers.push(() => downCoord.close());
    const extra = await startExtra({ coord: downCoord });
    const started = Date.now();
    const err = expectError(await call("/readyz", { base: extra.url }), 503, "NOT_READY");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.checks).toEqual({ database: "ok", coordination: expect.stringMatching(/unreachable|timeout/) });
    expect(err.message).toMatch(/Redis/);
  });
});

describe("cadre login", () => {
  test("right password: token, user, lastLoginAt and an audit row", async () => {
    const res = await call("/api/auth/login", { body: { username: "town1", password: PASSWORD }, headers: { "user-agent": "jest" } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      tokenType: "Bearer",
      expiresIn: 3600,
      user: { username: "town1", displayName: "东山镇管理员", role: "TOWN_ADMIN", orgUnitId: units.town1.id },
    });
    expect(res.json.accessToken.split(".")).toHaveLength(3);
    expect(res.json.user.passwordHash).toBeUndefined();
    expect(res.headers.get("cache-control")).toBe("no-store");

    const user = await db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "town1" } });
    expect(user.lastLoginAt).not.toBeNull();
    const audit = await db.prisma.auditLog.findFirst({ where: { actorId: user.id, action: "auth.login" } });
    expect(audit).toMatchObject({ channel: "api", requestId: res.headers.get("x-request-id") });
  });

  test("wrong password and unknown user get the same answer", async () => {
    const wrong = expectError(await call("/api/auth/login", { body: { username: "county", password: "nope-nope" } }), 401, "INVALID_CREDENTIALS");
    const unknown = expectError(await call("/api/auth/login", { body: { username: "nobody", password: "nope-nope" } }), 401, "INVALID_CREDENTIALS");
    expect(wrong.message).toBe("用户名或密码错误");
    expect(unknown.message).toBe(wrong.message);
  });

  test("a disabled account cannot log in", async () => {
    expectError(await call("/api/auth/login", { body: { username: "disabled", password: PASSWORD } }), 403, "ACCOUNT_DISABLED");
  });

  test(`after ${LOGIN_FAILURE_LIMIT.points} failures the next attempt gets 429 with Retry-After, even with the right password`, async () => {
    for (let i = 0; i < LOGIN_FAILURE_LIMIT.points; i++) {
      expectError(await call("/api/auth/login", { body: { username: "limited", password: `wrong-${i}` } }), 401, "INVALID_CREDENTIALS");
    }
    const blocked = await call("/api/auth/login", { body: { username: "limited", password: "wrong-again" } });
    const err = expectError(blocked, 429, "TOO_MANY_ATTEMPTS");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(err.retryAfterSeconds).toBe(Number(blocked.headers.get("retry-after")));
    expectError(await call("/api/auth/login", { body: { username: "limited", password: PASSWORD } }), 429, "TOO_MANY_ATTEMPTS");
    // The limit is per username: another account from the same address is unaffected.
    await login("county");
  });

  test("the failure limit works the same with in-process coordination (embedded mode)", async () => {
    const memory = createCoordination({ REDIS_KEY_PREFIX: "unused:" }, log);
    extraClosers.push(() => memory.close());
    const extra = await startExtra({ coord: memory });
    for (let i = 0; i < LOGIN_FAILURE_LIMIT.points; i++) {
      expectError(await call("/api/auth/login", { base: extra.url, body: { username: "nobody-mem", password: "x" } }), 401, "INVALID_CREDENTIALS");
    }
    expectError(await call("/api/auth/login", { base: extra.url, body: { username: "nobody-mem", password: "x" } }), 429, "TOO_MANY_ATTEMPTS");
  });
});

describe("tokens", () => {
  test("GET /api/auth/me with a valid token: principal, user and org unit name", async () => {
    const token = await login("sec1a");
    const res = await call("/api/auth/me", { token });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      principal: { kind: "cadre", role: "BRANCH_SECRETARY", orgUnitId: units.branch1a.id },
      user: { username: "sec1a", displayName: "东山村书记" },
      orgUnit: { id: units.branch1a.id, name: "东山村党支部", kind: "BRANCH" },
    });
  });

  test("missing, malformed, wrongly signed and expired tokens get distinct 401s", async () => {
    const missing = await call("/api/auth/me");
    expect(expectError(missing, 401, "TOKEN_MISSING").message).toBe("请先登录");
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");

    expectError(await call("/api/auth/me", { headers: { authorization: "Basic Y291bnR5OnBhc3M=" } }), 401, "TOKEN_INVALID");
    expectError(await call("/api/auth/me", { token: "not-a-jwt" }), 401, "TOKEN_INVALID");
    // alg "none" with an empty signature.
    const unsigned = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"sub":"1"}').toString("base64url")}.`;
    expectError(await call("/api/auth/me", { token: unsigned }), 401, "TOKEN_INVALID");

    const user = await db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "county" } });
    const subject = { kind: "cadre" as const, subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion };
    const forged = await issueAccessToken({ ...config, JWT_SECRET: "another-secret-another-secret-0123456789" }, subject);
    expectError(await call("/api/auth/me", { token: forged.token }), 401, "TOKEN_INVALID");

    const expired = await issueAccessToken(config, subject, { now: new Date(Date.now() - 2 * 3600_000), ttlSeconds: 3600 });
    const res = await call("/api/auth/me", { token: expired.token });
    expect(expectError(res, 401, "TOKEN_EXPIRED").message).toBe("登录已过期，请重新登录");
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');

    // The same subject, correctly signed and current, is accepted: the rejections above are about the token.
    expect((await call("/api/auth/me", { token: (await issueAccessToken(config, subject)).token })).status).toBe(200);
  });

  test("logout revokes every token of the account; a new login works", async () => {
    const first = await login("leaver");
    const second = await login("leaver");
    const out = await call("/api/auth/logout", { method: "POST", token: first });
    expect(out.status).toBe(200);
    expect(out.json).toEqual({ ok: true });
    expectError(await call("/api/auth/me", { token: first }), 401, "TOKEN_REVOKED");
    expectError(await call("/api/auth/me", { token: second }), 401, "TOKEN_REVOKED");
    expect((await call("/api/auth/me", { token: await login("leaver") })).status).toBe(200);
  });

  test("tokens never appear in the logs; each request has one log line with its id", async () => {
    const token = await login("county");
    const res = await call("/api/auth/me", { token });
    const id = res.headers.get("x-request-id");
    const lines = logLines.map((l) => JSON.parse(l)).filter((l) => l.requestId === id && l.path === "/api/auth/me");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: "GET", status: 200, actor: expect.stringMatching(/^cadre:\d+$/) });
    expect(typeof lines[0].ms).toBe("number");
    expect(logLines.join("\n")).not.toContain(token);
    expect(logLines.join("\n")).not.toContain(PASSWORD);
  });
});

describe("bad input", () => {
  test("malformed JSON → 400 INVALID_JSON", async () => {
    const res = await call("/api/auth/login", { raw: '{"username": "county", "password": ', headers: { "content-type": "application/json" } });
    expectError(res, 400, "INVALID_JSON");
    expectError(await call("/api/auth/login", { raw: '"just a string"', headers: { "content-type": "application/json" } }), 400, "INVALID_JSON");
  });

  test("a body over API_BODY_LIMIT → 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await call("/api/auth/login", { body: { username: "county", password: "x".repeat(4096) } });
    expectError(res, 413, "PAYLOAD_TOO_LARGE");
  });

  test("a body that is not JSON → 415", async () => {
    expectError(await call("/api/auth/login", { raw: "username=county&password=x", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call("/api/auth/login", { raw: '{"username":"county"}' }), 415, "UNSUPPORTED_MEDIA_TYPE"); // fetch: text/plain
  });

  test("schema violations → 400 VALIDATION_FAILED with per-field Chinese messages", async () => {
    const err = expectError(await call("/api/auth/login", { body: { username: "", password: 12345 } }), 400, "VALIDATION_FAILED");
    expect(err.fields).toEqual([
      { field: "body.username", message: "请输入用户名" },
      { field: "body.password", message: "请输入密码" },
    ]);
    const empty = expectError(await call("/api/mp/login", { body: {} }), 400, "VALIDATION_FAILED");
    expect(empty.fields).toEqual([{ field: "body.code", message: "缺少登录凭证 code" }]);

    const token = await login("county");
    const query = expectError(await call(`/api/org/units/${units.county.id}/children?pageSize=1000&page=0`, { token }), 400, "VALIDATION_FAILED");
    expect(query.fields).toEqual([
      { field: "query.page", message: "不能小于 1" },
      { field: "query.pageSize", message: "不能大于 100" },
    ]);
    const param = expectError(await call("/api/org/units/abc/children", { token }), 400, "VALIDATION_FAILED");
    expect(param.fields).toEqual([{ field: "params.id", message: "必须是正整数" }]);
  });

  test("unknown route → 404 JSON; wrong method → 405 with Allow", async () => {
    expectError(await call("/api/nothing-here"), 404, "NOT_FOUND");
    expectError(await call("/nothing"), 404, "NOT_FOUND");
    const res = await call("/api/auth/login", { method: "DELETE" });
    expectError(res, 405, "METHOD_NOT_ALLOWED");
    expect(res.headers.get("allow")).toContain("POST");
  });

  test("an unexpected exception → 500 INTERNAL_ERROR with the request id; the stack stays in the log", async () => {
    // The same request-id and error middleware createApp uses, around a handler that throws like a bug would.
    const app = new Koa();
    Object.assign(app.context, { deps });
    app.use(requestId() as Koa.Middleware);
    app.use(errorHandler() as Koa.Middleware);
    app.use(() => {
      throw new TypeError("Cannot read properties of undefined (reading 'secretInternalField')");
    });
    const server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    extraClosers.push(() => new Promise((r) => server.close(() => r())));
    const res = await call("/boom", { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const err = expectError(res, 500, "INTERNAL_ERROR");
    expect(res.text).not.toContain("secretInternalField");
    expect(err.message).toMatch(/请求编号/);
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.requestId === err.requestId && l.err);
    expect(logged.err.stack).toContain("secretInternalField");
  });
});

describe("org scope", () => {
  let town1: string;
  let county: string;
  let sec1a: string;
  beforeAll(async () => {
    [town1, county, sec1a] = await Promise.all([login("town1"), login("county"), login("sec1a")]);
  });

  test("a town admin lists units inside their own town", async () => {
    const res = await call(`/api/org/units/${units.town1.id}/children`, { token: town1 });
    expect(res.status).toBe(200);
    expect(res.json.parent).toMatchObject({ id: units.town1.id, name: "东山镇" });
    expect(res.json.items.map((u: { name: string }) => u.name)).toEqual(["东山村党支部", "南岭村党支部"]);
    expect(res.json).toMatchObject({ page: 1, pageSize: 20, total: 2 });
    const paged = await call(`/api/org/units/${units.town1.id}/children?page=2&pageSize=1`, { token: town1 });
    expect(paged.json).toMatchObject({ page: 2, pageSize: 1, total: 2, items: [{ id: units.branch1b.id }] });
  });

  test("a town admin reading a unit in another town → 403 OUT_OF_SCOPE; above their town too", async () => {
    const err = expectError(await call(`/api/org/units/${units.town2.id}/children`, { token: town1 }), 403, "OUT_OF_SCOPE");
    expect(err.message).toBe("无权访问该单位的数据");
    expectError(await call(`/api/org/units/${units.county.id}/children`, { token: town1 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/org/units/${units.town1.id}/children`, { token: sec1a }), 403, "OUT_OF_SCOPE");
  });

  test("the county admin sees every town", async () => {
    const towns = await call(`/api/org/units/${units.county.id}/children`, { token: county });
    expect(towns.json.items.map((u: { id: number; childCount: number }) => [u.id, u.childCount])).toEqual([
      [units.town1.id, 2],
      [units.town2.id, 1],
    ]);
    const t2 = await call(`/api/org/units/${units.town2.id}/children`, { token: county });
    expect(t2.json.items).toEqual([expect.objectContaining({ id: units.branch2a.id, path: units.branch2a.path })]);
  });

  test("a unit that does not exist → 404", async () => {
    expectError(await call("/api/org/units/99999999/children", { token: county }), 404, "ORG_UNIT_NOT_FOUND");
  });

  test("moving a cadre to another unit changes their scope at once (scope comes from the DB, not the token)", async () => {
    const token = await login("sec1a");
    expect((await call(`/api/org/units/${units.branch1a.id}/children`, { token })).status).toBe(200);
    await db.prisma.cadreUser.update({ where: { username: "sec1a" }, data: { orgUnitId: units.branch2a.id } });
    try {
      expectError(await call(`/api/org/units/${units.branch1a.id}/children`, { token }), 403, "OUT_OF_SCOPE");
    } finally {
      await db.prisma.cadreUser.update({ where: { username: "sec1a" }, data: { orgUnitId: units.branch1a.id } });
    }
  });
});

describe("mini-program login", () => {
  test("a valid code creates the identity; the next login finds the same one", async () => {
    const user = { openid: `o-${randomBytes(6).toString("hex")}`, unionid: `u-${randomBytes(6).toString("hex")}` };
    const first = await call("/api/mp/login", { body: { code: wechat.issueCode(user) } });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ tokenType: "Bearer", identity: { isNew: true }, member: null });
    expect(first.text).not.toMatch(/session_key|openid/);

    const second = await call("/api/mp/login", { body: { code: wechat.issueCode(user) } });
    expect(second.json.identity).toEqual({ id: first.json.identity.id, isNew: false });
    const identity = await db.prisma.chatIdentity.findUniqueOrThrow({ where: { id: first.json.identity.id } });
    expect(identity).toMatchObject({ channel: "MINIPROGRAM", scope: "", platformUserId: user.openid, unionId: user.unionid });

    // An mp token identifies the user but is not a cadre login.
    const me = await call("/api/auth/me", { token: second.json.accessToken });
    expect(me.json).toMatchObject({ principal: { kind: "mp", role: null, orgUnitId: null }, user: null });
    expectError(await call(`/api/org/units/${units.county.id}/children`, { token: second.json.accessToken }), 403, "FORBIDDEN");
  });

  test("a linked member gets their branch in the answer and in the token's scope", async () => {
    const user = { openid: `o-${randomBytes(6).toString("hex")}` };
    const member = await db.prisma.member.create({ data: { name: "李明", branchId: units.branch2a.id } });
    await db.prisma.chatIdentity.create({ data: { channel: "MINIPROGRAM", scope: "", platformUserId: user.openid, memberId: member.id } });
    const res = await call("/api/mp/login", { body: { code: wechat.issueCode(user) } });
    expect(res.json.member).toEqual({ id: member.id, name: "李明", branchId: units.branch2a.id, branchName: "河口村党支部" });
    const me = await call("/api/auth/me", { token: res.json.accessToken });
    expect(me.json).toMatchObject({ principal: { kind: "mp", role: "MEMBER", orgUnitId: units.branch2a.id }, member: { id: member.id } });
  });

  test("invalid (40029) and reused (40163) codes → 400 MP_CODE_INVALID", async () => {
    const err = expectError(await call("/api/mp/login", { body: { code: "never-issued-code" } }), 400, "MP_CODE_INVALID");
    expect(err.message).toBe("登录凭证无效或已过期，请重新进入小程序");
    const code = wechat.issueCode({ openid: `o-${randomBytes(6).toString("hex")}` });
    expect((await call("/api/mp/login", { body: { code } })).status).toBe(200);
    expectError(await call("/api/mp/login", { body: { code } }), 400, "MP_CODE_INVALID");
  });

  test("WeChat quota (45011) → 429, risky user (40226) → 403, busy (-1) → 503", async () => {
    const quota = await call("/api/mp/login", { body: { code: wechat.codes.quota } });
    expectError(quota, 429, "MP_RATE_LIMITED");
    expect(quota.headers.get("retry-after")).toBe("60");
    expectError(await call("/api/mp/login", { body: { code: wechat.codes.risky } }), 403, "MP_USER_BLOCKED");
    expectError(await call("/api/mp/login", { body: { code: wechat.codes.busy } }), 503, "WECHAT_BUSY");
  });

  test("WeChat not answering within the timeout → 503 WECHAT_UNAVAILABLE", async () => {
    const started = Date.now();
    expectError(await call("/api/mp/login", { body: { code: wechat.codes.hang } }), 503, "WECHAT_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("WeChat unreachable → 503 WECHAT_UNAVAILABLE", async () => {
    const extra = await startExtra({ config: { ...config, WECHAT_API_BASE: "http://127.0.0.1:1" } });
    expectError(await call("/api/mp/login", { base: extra.url, body: { code: "any-code" } }), 503, "WECHAT_UNAVAILABLE");
  });

  test("AppID/AppSecret missing → 503 MP_NOT_CONFIGURED without calling WeChat; wrong secret → 503 MP_MISCONFIGURED", async () => {
    const before = wechat.calls;
    const unconfigured = await startExtra({ config: { ...config, WECHAT_MP_APPID: undefined, WECHAT_MP_SECRET: undefined } });
    expectError(await call("/api/mp/login", { base: unconfigured.url, body: { code: "any-code" } }), 503, "MP_NOT_CONFIGURED");
    expect(wechat.calls).toBe(before);

    const misconfigured = await startExtra({ config: { ...config, WECHAT_MP_SECRET: "wrong-secret" } });
    const code = wechat.issueCode({ openid: "o-unused" });
    expectError(await call("/api/mp/login", { base: misconfigured.url, body: { code } }), 503, "MP_MISCONFIGURED");
  });
});

describe("OpenAPI and docs", () => {
  test("GET /api/openapi.json: OpenAPI 3.1 with every route, schemas and the bearer scheme", async () => {
    const res = await call("/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toMatch(HAN);
    expect(doc.info.title).toMatch(/API/);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/healthz",
        "/readyz",
        "/api/auth/login",
        "/api/auth/me",
        "/api/auth/logout",
        "/api/mp/login",
        "/api/org/units/{id}/children",
        "/api/auth/password",
        "/api/admin/cadres",
        "/api/admin/cadres/{id}",
        "/api/admin/cadres/{id}/reset-password",
        "/api/org/tree",
        "/api/org/units",
        "/api/org/units/{id}",
        "/api/org/categories",
        "/api/org/template.xlsx",
        "/api/org/import/preview",
        "/api/org/import",
        "/api/org/units/{id}/bind-codes",
        "/api/bind-codes/{id}/revoke",
        "/api/members",
        "/api/members/{id}",
        "/api/members/{id}/transfer",
        "/api/members/{id}/status",
        "/api/admin/accounts",
        "/api/admin/accounts/{id}/login-qr",
        "/api/groups",
        "/api/groups/{id}/roster-report",
        "/api/meetings",
        "/api/meetings/{id}",
        "/api/meetings/{id}/cancel",
        "/api/meetings/{id}/attendance.xlsx",
        "/api/meetings/{id}/qr-token",
        "/api/mp/bind",
        "/api/mp/meetings",
        "/api/mp/meetings/{id}/checkin",
        "/api/mp/meetings/{id}/leave",
        "/api/complaints",
        "/api/complaints/metrics",
        "/api/complaints/export.xlsx",
        "/api/complaints/{number}",
        "/api/complaints/{number}/claim",
        "/api/complaints/{number}/transfer",
        "/api/complaints/{number}/reply",
        "/api/complaints/{number}/resolve",
        "/api/complaints/{number}/urgent",
        "/api/complaints/{number}/extension",
        "/api/complaints/{number}/extension/decision",
        "/api/complaints/{number}/photos/{id}",
        "/api/mp/complaints",
        "/api/mp/complaints/{number}",
        "/api/mp/complaints/{number}/info",
        "/api/mp/complaints/{number}/withdraw",
        "/api/mp/complaints/{number}/rating",
        "/api/mp/complaints/{number}/photos",
        "/api/notices",
        "/api/notices/{id}",
        "/api/notices/{id}/reads",
        "/api/broadcasts",
        "/api/broadcasts/preview",
        "/api/broadcasts/{id}",
        "/api/broadcasts/{id}/approve",
        "/api/broadcasts/{id}/reject",
        "/api/broadcasts/{id}/cancel",
        "/api/broadcasts/{id}/pause",
        "/api/broadcasts/{id}/resume",
        "/api/broadcasts/{id}/retry",
        "/qr/{id}",
        "/api/calendar",
        "/api/admin/calendar/{date}",
        "/api/calendar/compliance",
        "/api/calendar/rules",
        "/api/calendar/branches/{id}/rules",
        "/api/reports/monthly",
        "/api/reports/monthly.xlsx",
        "/api/reports/quarterly",
        "/api/reports/quarterly.xlsx",
        "/api/reports/rankings",
        "/api/reports/attendance-trend",
        "/api/roster/template.xlsx",
        "/api/roster/import/preview",
        "/api/roster/import",
        "/api/openapi.json",
        "/api/docs",
      ].sort(),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const name of ["ApiError", "LoginRequest", "LoginResult", "MpLoginRequest", "ChildUnitsPage"]) expect(doc.components.schemas[name]).toBeDefined();

    const children = doc.paths["/api/org/units/{id}/children"].get;
    expect(children.security).toEqual([{ bearerAuth: [] }]);
    expect(children.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`).sort()).toEqual(["path:id", "query:page", "query:pageSize"]);
    expect(children.responses["403"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ApiError" });
    const loginOp = doc.paths["/api/auth/login"].post;
    expect(loginOp.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/LoginRequest" });
    expect(loginOp.security).toBeUndefined();
  });

  test("GET /api/docs serves Swagger UI from local assets (no CDN)", async () => {
    const page = await call("/api/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual(expect.arrayContaining(["/api/docs/assets/swagger-ui.css", "/api/docs/assets/swagger-ui-bundle.js", "/api/docs/init.js"]));
    expect(refs.every((r) => r.startsWith("/"))).toBe(true);
    for (const ref of refs) {
      const res = await fetch(`${api.url}${ref}`);
      expect({ ref, status: res.status }).toEqual({ ref, status: 200 });
      await res.arrayBuffer();
    }
    const init = await call("/api/docs/init.js");
    expect(init.text).toContain("/api/openapi.json");
    expectError(await call("/api/docs/assets/package.json"), 404, "NOT_FOUND");
    expectError(await call("/api/docs/assets/..%2F..%2Fpackage.json"), 404, "NOT_FOUND");
  });
});

describe("configuration", () => {
  test("bad API settings stop start-up with a message naming the variable", () => {
    const base = { DATABASE_URL: "postgresql://x@127.0.0.1/x" };
    expect(() => loadConfig({ ...base, API_PORT: "70000" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, API_PORT: "70000" })).toThrow(/API_PORT.*70000/);
    expect(() => loadConfig({ ...base, API_BODY_LIMIT: "huge" })).toThrow(/API_BODY_LIMIT/);
    expect(() => loadConfig({ ...base, JWT_SECRET: "short" })).toThrow(/JWT_SECRET.*值已隐藏/);
    expect(() => loadConfig({ ...base, WECHAT_API_BASE: "ftp://x" })).toThrow(/WECHAT_API_BASE/);
  });

  test("the API refuses to start on a port that is taken, saying so", async () => {
    const port = Number(new URL(api.url).port);
    await expect(startApi({ ...deps, config: { ...config, API_PORT: port } })).rejects.toThrow(`端口 ${port} 已被占用`);
  });

  test("createApp gives a Koa app usable without listening (for embedding)", () => {
    expect(typeof createApp(deps).callback()).toBe("function");
  });
});
