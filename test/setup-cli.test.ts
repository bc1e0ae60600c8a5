// `npm run setup` on an empty database, run as the operator would (the real CLI in a child process), then the first
// login with the one-time password it printed: every route but the password change answers 403 until the password
// is changed. Refusals (a second root, a taken code or username, missing flags without a terminal) and their exit
// codes. Real Postgres and Redis; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { apiCaller, expectApiError } from "./support/http.ts";
import { runCommand } from "./support/run.ts";

let ctx: TestContext;
let api: RunningApi;
const call = apiCaller(() => api.url);

/** The real CLI, with this test's database and no terminal on stdin. */
const setup = (...args: string[]) =>
  runCommand("npx", ["tsx", "app/setup.ts", ...args], { env: { ...process.env, DATABASE_URL: ctx.db.url, NODE_OPTIONS: "", LOG_LEVEL: "warn" }, timeoutMs: 120_000 });

const passwordIn = (stdout: string) => /一次性密码：(\S+)/.exec(stdout)?.[1];

beforeAll(async () => {
  ctx = await createTestContext("setup-cli");
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

describe("npm run setup", () => {
  let oneTimePassword: string;
  let cityPassword: string;
  let rootId: number;

  test("without a terminal and without the flags it prints the usage and exits 2, touching nothing", async () => {
    const [missing, badKind, badCode] = await Promise.all([
      setup("--root-name", "泸县"),
      setup("--root-name", "泸县", "--root-code", "C01", "--admin", "county_admin", "--root-kind", "province"),
      setup("--root-name", "泸县", "--root-code", "C 01", "--admin", "county_admin"),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/缺少参数：--root-code、--admin/);
    expect(missing.stderr).toMatch(/用法：npm run setup/);
    expect(missing.stderr).toMatch(/--add-root/);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toMatch(/--root-kind 只能是 county（县）或 city（市）/);
    expect(badCode.code).toBe(2);
    expect(badCode.stderr).toMatch(/组织编码/);
    expect(await ctx.db.prisma.orgUnit.count()).toBe(0);
    expect(await ctx.db.prisma.cadreUser.count()).toBe(0);
  }, 120_000);

  test("on an empty database it creates the county and its administrator and prints a one-time password once", async () => {
    const run = await setup("--root-name", "泸县", "--root-code", "C01", "--admin", "county_admin");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/已创建根组织：泸县（编码 C01，县级）/);
    expect(run.stdout).toMatch(/county_admin（泸县管理员，县级管理员）/);
    oneTimePassword = passwordIn(run.stdout)!;
    expect(oneTimePassword).toMatch(/^[A-Za-z0-9-]{12,}$/);
    expect(run.stdout.split(oneTimePassword)).toHaveLength(2);
    expect(run.stderr).not.toContain(oneTimePassword);

    const root = await ctx.db.prisma.orgUnit.findFirstOrThrow({ where: { parentId: null } });
    rootId = root.id;
    expect(root).toMatchObject({ code: "C01", name: "泸县", kind: "COUNTY", path: `/${root.id}/`, depth: 0, active: true });
    const admin = await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "county_admin" } });
    expect(admin).toMatchObject({ role: "COUNTY_ADMIN", orgUnitId: root.id, displayName: "泸县管理员", mustChangePassword: true, active: true, passwordChangedAt: null });
    expect(admin.passwordHash).toMatch(/^\$argon2id\$/);

    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "setup.root" } });
    expect(audit).toMatchObject({ channel: "cli", targetType: "OrgUnit", targetId: String(root.id) });
    expect(JSON.stringify(audit.detail)).toContain("county_admin");
    expect(JSON.stringify(audit.detail)).not.toContain(oneTimePassword);
  }, 120_000);

  test("a second run refuses with a Chinese message and exit 1 and adds nothing; a taken code or username too", async () => {
    const [again, codeTaken, userTaken] = await Promise.all([
      setup("--root-name", "泸县", "--root-code", "C02", "--admin", "other_admin"),
      setup("--root-name", "合江县", "--root-code", "c01", "--admin", "hejiang_admin", "--add-root"),
      setup("--root-name", "合江县", "--root-code", "C02", "--admin", "County_Admin", "--add-root"),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/拒绝执行：数据库中已有根组织：泸县（C01）/);
    expect(again.stderr).toMatch(/--add-root/);
    expect(codeTaken.code).toBe(1);
    expect(codeTaken.stderr).toMatch(/组织编码 c01 已被“泸县”使用/);
    expect(userTaken.code).toBe(1);
    expect(userTaken.stderr).toMatch(/用户名 County_Admin 已被使用/);
    for (const r of [again, codeTaken, userTaken]) expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+|Error:/);
    expect(await ctx.db.prisma.orgUnit.count()).toBe(1);
    expect(await ctx.db.prisma.cadreUser.count()).toBe(1);
  }, 120_000);

  test("--add-root adds a second root (a city here) with its own administrator", async () => {
    const run = await setup("--root-name", "泸州市", "--root-code", "S01", "--root-kind", "city", "--admin", "city_admin", "--admin-name", "市委组织部", "--add-root");
    expect(run.code).toBe(0);
    cityPassword = passwordIn(run.stdout)!;
    expect(cityPassword).toBeTruthy();
    const city = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "S01" } });
    expect(city).toMatchObject({ kind: "CITY", parentId: null, path: `/${city.id}/` });
    expect(await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "city_admin" } })).toMatchObject({
      displayName: "市委组织部",
      role: "COUNTY_ADMIN",
      orgUnitId: city.id,
      mustChangePassword: true,
    });
  }, 120_000);

  test("the first login must change the one-time password before anything else works", async () => {
    const first = await call("/api/auth/login", { body: { username: "county_admin", password: oneTimePassword } });
    expect(first.status).toBe(200);
    expect(first.json.user).toMatchObject({ username: "county_admin", role: "COUNTY_ADMIN", orgUnitId: rootId, mustChangePassword: true });
    const token = first.json.accessToken as string;

    // Who am I still answers (the console needs it to show the change form); everything else is refused.
    const me = await call("/api/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.json.user.mustChangePassword).toBe(true);
    for (const path of ["/api/admin/cadres", `/api/org/units/${rootId}/children`, "/api/complaints", "/api/meetings"]) {
      const refused = expectApiError(await call(path, { token }), 403, "PASSWORD_CHANGE_REQUIRED");
      expect(refused.message).toMatch(/修改密码/);
    }
    expectApiError(await call("/api/admin/cadres", { token, body: { username: "x_admin", displayName: "某某", role: "TOWN_ADMIN", orgUnitId: rootId } }), 403, "PASSWORD_CHANGE_REQUIRED");

    // The policy, each refusal with its own code and a Chinese message; nothing changes meanwhile.
    const change = (oldPassword: string, newPassword: string) => call("/api/auth/password", { token, body: { oldPassword, newPassword } });
    expectApiError(await change("not-the-password-1", "Luxian#2027go"), 400, "PASSWORD_WRONG");
    expectApiError(await change(oneTimePassword, "Lx#2027"), 400, "PASSWORD_TOO_SHORT");
    expectApiError(await change(oneTimePassword, "abcdefghijkl"), 400, "PASSWORD_TOO_WEAK");
    expectApiError(await change(oneTimePassword, "12345678901"), 400, "PASSWORD_TOO_WEAK");
    expectApiError(await change(oneTimePassword, "my-COUNTY_admin-2027"), 400, "PASSWORD_CONTAINS_USERNAME");
    expectApiError(await change(oneTimePassword, oneTimePassword), 400, "PASSWORD_REUSED");
    expectApiError(await change(oneTimePassword, `A1${"x".repeat(127)}`), 400, "PASSWORD_TOO_LONG");
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "county_admin" } })).mustChangePassword).toBe(true);

    const changed = await change(oneTimePassword, "Luxian#2027go");
    expect(changed.status).toBe(200);
    expect(changed.json.user).toMatchObject({ username: "county_admin", mustChangePassword: false });
    const fresh = changed.json.accessToken as string;
    expect(fresh).not.toBe(token);

    // The one-time session is revoked; the fresh token works everywhere.
    expectApiError(await call("/api/auth/me", { token }), 401, "TOKEN_REVOKED");
    expect((await call("/api/admin/cadres", { token: fresh })).status).toBe(200);
    expect((await call(`/api/org/units/${rootId}/children`, { token: fresh })).status).toBe(200);
    const meAfter = await call("/api/auth/me", { token: fresh });
    expect(meAfter.json.user.mustChangePassword).toBe(false);

    const user = await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "county_admin" } });
    expect(user.passwordChangedAt).not.toBeNull();
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "auth.password_changed", actorId: user.id } });
    expect(audit.detail).toMatchObject({ forced: true });
    expect(JSON.stringify(audit.detail)).not.toContain("Luxian#2027go");

    // The one-time password is gone; the new one logs in without a forced change.
    expectApiError(await call("/api/auth/login", { body: { username: "county_admin", password: oneTimePassword } }), 401, "INVALID_CREDENTIALS");
    const again = await call("/api/auth/login", { body: { username: "county_admin", password: "Luxian#2027go" } });
    expect(again.status).toBe(200);
    expect(again.json.user.mustChangePassword).toBe(false);
  });

  test("after the forced change a password can be changed again any time; logout works while forced too", async () => {
    const token = (await call("/api/auth/login", { body: { username: "county_admin", password: "Luxian#2027go" } })).json.accessToken;
    const changed = await call("/api/auth/password", { token, body: { oldPassword: "Luxian#2027go", newPassword: "泸县 组织部 2028" } });
    expect(changed.status).toBe(200);
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "auth.password_changed" }, orderBy: { id: "desc" } });
    expect(audit.detail).toMatchObject({ forced: false });
    expect((await call("/api/auth/login", { body: { username: "county_admin", password: "泸县 组织部 2028" } })).status).toBe(200);

    // The city administrator has not changed theirs yet: logging out is still allowed, and it revokes the session.
    const city = await call("/api/auth/login", { body: { username: "city_admin", password: cityPassword } });
    expect(city.json.user.mustChangePassword).toBe(true);
    expect((await call("/api/auth/logout", { method: "POST", token: city.json.accessToken })).status).toBe(200);
    expectApiError(await call("/api/auth/me", { token: city.json.accessToken }), 401, "TOKEN_REVOKED");
  });
});
