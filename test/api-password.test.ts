// Passwords: the policy every password must meet (one function, Chinese messages), one-time passwords that meet
// it, and the two login limits as a person meets them: one client guessing (per username and address), and guessing
// spread over many addresses (the account is locked for a while, and the message says for how long). Real Postgres
// and Redis behind the real API; client addresses come from X-Forwarded-For as behind the production proxy.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { ACCOUNT_LOCK_LIMIT, LOGIN_FAILURE_LIMIT } from "../core/auth/login.ts";
import { checkPasswordPolicy, generateOneTimePassword, hashPassword, MIN_PASSWORD_LENGTH } from "../core/auth/password.ts";
import { AppError } from "../core/kernel/errors.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty } from "./support/fixtures.ts";
import { apiCaller, expectApiError, type Answer } from "./support/http.ts";

const PASSWORD = "Dongshan#2027";

let ctx: TestContext;
let api: RunningApi;
const call = apiCaller(() => api.url);

/** A login from client address `ip` (the API trusts X-Forwarded-For here, as behind nginx). */
async function loginFrom(ip: string, username: string, password: string): Promise<Answer> {
  const res = await fetch(`${api.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": ip },
    body: JSON.stringify({ username, password }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text), bytes: Buffer.from(text) };
}

const policyCode = (password: string, username = "dongshan", oldPassword?: string) => {
  try {
    checkPasswordPolicy(password, { username, oldPassword });
    return "OK";
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).status).toBe(400);
    expect((e as AppError).message).toMatch(/[\u4e00-\u9fff]/);
    return (e as AppError).code;
  }
};

beforeAll(async () => {
  ctx = await createTestContext("api-password", { env: { API_TRUST_PROXY: "true" } });
  const county = await smallCounty(ctx.db.prisma, "PW");
  const passwordHash = await hashPassword(PASSWORD);
  await ctx.db.prisma.cadreUser.createMany({
    data: ["guessed", "spread", "bystander", "changer"].map((username) => ({ username, passwordHash, displayName: username, role: "TOWN_ADMIN" as const, orgUnitId: county.town1.id })),
  });
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

describe("the password policy", () => {
  test(`at least ${MIN_PASSWORD_LENGTH} and at most 128 characters (Chinese characters count one each)`, () => {
    expect(policyCode("Ab1!xyz")).toBe("PASSWORD_TOO_SHORT");
    expect(policyCode("Ab1!xyzw")).toBe("OK");
    expect(policyCode("党建工作2027")).toBe("OK");
    expect(policyCode("党建2027")).toBe("PASSWORD_TOO_SHORT");
    expect(policyCode(`a1${"x".repeat(126)}`)).toBe("OK");
    expect(policyCode(`a1${"x".repeat(127)}`)).toBe("PASSWORD_TOO_LONG");
  });

  test("at least two of letters, digits and symbols", () => {
    expect(policyCode("abcdefghij")).toBe("PASSWORD_TOO_WEAK");
    expect(policyCode("1234567890")).toBe("PASSWORD_TOO_WEAK");
    expect(policyCode("!@#$%^&*()")).toBe("PASSWORD_TOO_WEAK");
    expect(policyCode("abcdefgh12")).toBe("OK");
    expect(policyCode("abcd efgh!")).toBe("OK");
    expect(policyCode("12345678-9")).toBe("OK");
  });

  test("not containing the username in any case, and not the old password again", () => {
    expect(policyCode("my-DongShan-2027")).toBe("PASSWORD_CONTAINS_USERNAME");
    expect(policyCode("Dongsha-2027")).toBe("OK");
    expect(policyCode("Same#Pass2027", "dongshan", "Same#Pass2027")).toBe("PASSWORD_REUSED");
    expect(policyCode("Same#Pass2028", "dongshan", "Same#Pass2027")).toBe("OK");
  });

  test("one-time passwords meet the policy, differ each time and avoid the username", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generateOneTimePassword("abc");
      expect(policyCode(p, "abc")).toBe("OK");
      expect(p).not.toMatch(/[0O1lI]/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});

describe("login limits", () => {
  test(`one address: after ${LOGIN_FAILURE_LIMIT.points} failures 429, and the message says how many minutes`, async () => {
    for (let i = 0; i < LOGIN_FAILURE_LIMIT.points; i++) expectApiError(await loginFrom("10.0.0.1", "guessed", `wrong-${i}`), 401, "INVALID_CREDENTIALS");
    const blocked = await loginFrom("10.0.0.1", "guessed", "wrong-again");
    const err = expectApiError(blocked, 429, "TOO_MANY_ATTEMPTS");
    expect(err.message).toBe(`登录失败次数过多，请 ${LOGIN_FAILURE_LIMIT.durationSec / 60} 分钟后再试`);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(LOGIN_FAILURE_LIMIT.durationSec - 60);
    // From then on even the right password, so guessing cannot continue behind the 429.
    expectApiError(await loginFrom("10.0.0.1", "guessed", PASSWORD), 429, "TOO_MANY_ATTEMPTS");
    // The same account from another address is not locked: one client guessing must not lock the owner out.
    expect((await loginFrom("10.0.0.2", "guessed", PASSWORD)).status).toBe(200);
  });

  test(`many addresses: ${ACCOUNT_LOCK_LIMIT.points} failures in all lock the account, even for the right password from a new address`, async () => {
    // Two per address: never reaching the per-address limit.
    const from = (i: number) => `10.1.0.${Math.floor(i / 2)}`;
    for (let i = 0; i < ACCOUNT_LOCK_LIMIT.points - 1; i++) expectApiError(await loginFrom(from(i), "spread", `wrong-${i}`), 401, "INVALID_CREDENTIALS");
    // The failure that reaches the limit already says the account is locked and for how long.
    const last = ACCOUNT_LOCK_LIMIT.points - 1;
    const tenth = expectApiError(await loginFrom(from(last), "spread", `wrong-${last}`), 429, "TOO_MANY_ATTEMPTS");
    expect(tenth.message).toMatch(/账号已临时锁定/);
    const locked = await loginFrom("10.1.9.9", "spread", PASSWORD);
    const err = expectApiError(locked, 429, "TOO_MANY_ATTEMPTS");
    expect(err.message).toBe(`登录失败次数过多，账号已临时锁定，请 ${ACCOUNT_LOCK_LIMIT.durationSec / 60} 分钟后再试`);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(ACCOUNT_LOCK_LIMIT.durationSec - 60);
    expect(err.retryAfterSeconds).toBe(Number(locked.headers.get("retry-after")));
    // Letter case does not get around it; other accounts are not affected.
    expectApiError(await loginFrom("10.1.9.10", "SPREAD", PASSWORD), 429, "TOO_MANY_ATTEMPTS");
    expect((await loginFrom("10.1.9.9", "bystander", PASSWORD)).status).toBe(200);
    // Every failure is in the audit log, with its address.
    const failures = await ctx.db.prisma.auditLog.count({ where: { action: "auth.login_failed", detail: { path: ["username"], equals: "spread" } } });
    expect(failures).toBe(ACCOUNT_LOCK_LIMIT.points);
  });

  test("wrong old passwords in the password change count towards the same limits", async () => {
    const token = (await loginFrom("10.2.0.1", "changer", PASSWORD)).json.accessToken;
    const change = (oldPassword: string) =>
      fetch(`${api.url}/api/auth/password`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-forwarded-for": "10.2.0.1" },
        body: JSON.stringify({ oldPassword, newPassword: "Another#2028" }),
      });
    for (let i = 0; i < LOGIN_FAILURE_LIMIT.points; i++) expect((await change(`guess-${i}`)).status).toBe(400);
    expect((await change("guess-last")).status).toBe(429);
    // Even the right old password: guessing cannot continue behind the 429.
    expect((await change(PASSWORD)).status).toBe(429);
    expect((await call("/api/auth/me", { token })).status).toBe(200);
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "auth.password_change_failed" } })).toBe(LOGIN_FAILURE_LIMIT.points + 1);
  });
});
