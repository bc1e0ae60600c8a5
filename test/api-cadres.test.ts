// Cadre accounts over the API as a town admin and a branch secretary use them: creating accounts strictly below
// their own rank inside their own subtree (with a one-time password that must be changed), listing, changing,
// disabling (which ends every session at once), re-enabling and resetting passwords; every change audited without
// the password. Real Postgres and Redis; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { chatPrincipal } from "../core/chat/principal.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, expectApiError } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let town2: { id: number; path: string };
let city: { id: number; path: string };
const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "member1" | "city", string>;
const call = apiCaller(() => api.url);

const login = (username: string, password: string) => call("/api/auth/login", { body: { username, password } });
const accountId = async (username: string) => (await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username } })).id;

beforeAll(async () => {
  ctx = await createTestContext("api-cadres");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AC");
  town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "ACC-T2" }, select: { id: true, path: true } });
  // A city above the county: its county administrator manages the county administrators below it.
  const cityRow = await prisma.orgUnit.create({ data: { code: "ACS", name: "测试市", kind: "CITY", path: "/", depth: 0 } });
  city = await prisma.orgUnit.update({ where: { id: cityRow.id }, data: { path: `/${cityRow.id}/` }, select: { id: true, path: true } });
  const county2 = await prisma.orgUnit.create({ data: { code: "ACS-C2", name: "市辖二县", kind: "COUNTY", parentId: city.id, path: "/", depth: 1 } });
  await prisma.orgUnit.update({ where: { id: county2.id }, data: { path: `${city.path}${county2.id}/` } });

  Object.assign(
    tokens,
    await cadreTokens(ctx, "ac", [
      { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
      { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
      { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
      { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
      { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
      { key: "city", role: "COUNTY_ADMIN", orgUnitId: city.id },
    ]),
  );
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

describe("a town admin creates accounts in their town", () => {
  let oneTimePassword: string;

  test("a branch secretary for a branch of their town, linked to the roster's secretary: 201 with a one-time password", async () => {
    const res = await call("/api/admin/cadres", {
      token: tokens.town1,
      body: { username: "lijz_sec", displayName: "王五", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id, memberId: county.members.wangwu.id },
    });
    expect(res.status).toBe(201);
    expect(res.json.user).toEqual({
      id: expect.any(Number),
      username: "lijz_sec",
      displayName: "王五",
      role: "BRANCH_SECRETARY",
      orgUnit: { id: county.branch1.id, code: "ACC-T1-V1-B", name: "李家庄村党支部", kind: "BRANCH" },
      member: { id: county.members.wangwu.id, name: "王五" },
      active: true,
      mustChangePassword: true,
      lastLoginAt: null,
      createdAt: expect.any(String),
    });
    oneTimePassword = res.json.oneTimePassword;
    expect(oneTimePassword.length).toBeGreaterThanOrEqual(8);

    const row = await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { username: "lijz_sec" } });
    expect(row.createdById).toBe(await accountId("ac-town1"));
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "cadre.created", targetId: String(row.id) } });
    expect(audit).toMatchObject({ actorId: row.createdById, channel: "api", requestId: res.headers.get("x-request-id") });
    expect(audit.detail).toMatchObject({ after: { username: "lijz_sec", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id, memberId: county.members.wangwu.id } });
    expect(JSON.stringify(audit.detail)).not.toContain(oneTimePassword);
  });

  test("the new secretary logs in with the one-time password and must change it first", async () => {
    const first = await login("lijz_sec", oneTimePassword);
    expect(first.status).toBe(200);
    expect(first.json.user.mustChangePassword).toBe(true);
    expectApiError(await call("/api/admin/cadres", { token: first.json.accessToken }), 403, "PASSWORD_CHANGE_REQUIRED");
    const changed = await call("/api/auth/password", { token: first.json.accessToken, body: { oldPassword: oneTimePassword, newPassword: "Lijiazhuang#1" } });
    expect(changed.status).toBe(200);
    expect((await call("/api/admin/cadres", { token: changed.json.accessToken })).status).toBe(200);
  });

  test("linking the member gives that member's chat identity the account's role in chat", async () => {
    const identity = await linkWechat(ctx.db.prisma, "wx-ac", "wx_wangwu", "王五", county.members.wangwu.id);
    const principal = await chatPrincipal(ctx.db.prisma, identity);
    expect(principal).toMatchObject({ role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id, cadreUserId: await accountId("lijz_sec") });
  });

  test("cannot create a town admin or a county admin (403 CADRE_ROLE_NOT_ALLOWED)", async () => {
    for (const [role, orgUnitId] of [
      ["TOWN_ADMIN", county.town1.id],
      ["COUNTY_ADMIN", county.town1.id],
    ] as const) {
      const err = expectApiError(await call("/api/admin/cadres", { token: tokens.town1, body: { username: `x_${role.toLowerCase()}`, displayName: "某某", role, orgUnitId } }), 403, "CADRE_ROLE_NOT_ALLOWED");
      expect(err.message).toMatch(/比您级别低/);
    }
  });

  test("cannot create anything outside their town (403 OUT_OF_SCOPE), nor link a member of another town", async () => {
    expectApiError(await call("/api/admin/cadres", { token: tokens.town1, body: { username: "hexi_sec", displayName: "赵六", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id } }), 403, "OUT_OF_SCOPE");
    expectApiError(
      await call("/api/admin/cadres", { token: tokens.town1, body: { username: "hexi_sec", displayName: "赵六", role: "MEMBER", orgUnitId: county.branch1.id, memberId: county.members.zhaoliu.id } }),
      403,
      "OUT_OF_SCOPE",
    );
    expect(await ctx.db.prisma.cadreUser.count({ where: { username: "hexi_sec" } })).toBe(0);
  });

  test("the role must fit the unit; usernames are unique whatever the case; one account per member", async () => {
    const mismatch = expectApiError(
      await call("/api/admin/cadres", { token: tokens.town1, body: { username: "dongshan_sec", displayName: "某某", role: "BRANCH_SECRETARY", orgUnitId: county.town1.id } }),
      400,
      "CADRE_ROLE_UNIT_MISMATCH",
    );
    expect(mismatch.message).toMatch(/支部书记账号只能设在党支部或村/);
    expectApiError(await call("/api/admin/cadres", { token: tokens.town1, body: { username: "LIJZ_SEC", displayName: "某某", role: "MEMBER", orgUnitId: county.branch1.id } }), 409, "CADRE_USERNAME_TAKEN");
    expectApiError(
      await call("/api/admin/cadres", { token: tokens.town1, body: { username: "wangwu2", displayName: "王五", role: "MEMBER", orgUnitId: county.branch1.id, memberId: county.members.wangwu.id } }),
      409,
      "CADRE_MEMBER_TAKEN",
    );
    const bad = expectApiError(await call("/api/admin/cadres", { token: tokens.town1, body: { username: "张三", displayName: "", role: "CHIEF", orgUnitId: 0 } }), 400, "VALIDATION_FAILED");
    expect(bad.fields!.map((f) => f.field).sort()).toEqual(["body.displayName", "body.orgUnitId", "body.role", "body.username"]);
    expect(bad.fields!.find((f) => f.field === "body.username")!.message).toMatch(/3-32 个字符/);
  });
});

describe("a branch secretary and a member", () => {
  test("a secretary may create a member account in their branch, nothing above it", async () => {
    const res = await call("/api/admin/cadres", { token: tokens.sec1, body: { username: "zhangsan", displayName: "张三", role: "MEMBER", orgUnitId: county.branch1.id, memberId: county.members.zhangsan.id } });
    expect(res.status).toBe(201);
    expectApiError(await call("/api/admin/cadres", { token: tokens.sec1, body: { username: "lisi_sec", displayName: "李四", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id } }), 403, "CADRE_ROLE_NOT_ALLOWED");
  });

  test("a member account may not manage accounts at all", async () => {
    expectApiError(await call("/api/admin/cadres", { token: tokens.member1 }), 403, "FORBIDDEN");
    expectApiError(await call("/api/admin/cadres", { token: tokens.member1, body: { username: "lisi", displayName: "李四", role: "MEMBER", orgUnitId: county.branch1.id } }), 403, "FORBIDDEN");
  });
});

describe("listing", () => {
  test("a town admin lists the accounts of their town only, strongest role first, with filters and pages", async () => {
    const all = await call("/api/admin/cadres?pageSize=100", { token: tokens.town1 });
    expect(all.status).toBe(200);
    const names = all.json.items.map((u: { username: string }) => u.username);
    expect(names).toEqual(["ac-town1", "ac-sec1", "lijz_sec", "ac-member1", "zhangsan"]);
    expect(all.json).toMatchObject({ page: 1, pageSize: 100, total: 5 });
    expect(all.json.items[0]).not.toHaveProperty("passwordHash");

    const secretaries = await call("/api/admin/cadres?role=BRANCH_SECRETARY&q=LIJZ", { token: tokens.town1 });
    expect(secretaries.json.items.map((u: { username: string }) => u.username)).toEqual(["lijz_sec"]);
    const byName = await call(`/api/admin/cadres?q=${encodeURIComponent("张三")}`, { token: tokens.town1 });
    expect(byName.json.items.map((u: { username: string }) => u.username)).toEqual(["zhangsan"]);
    const page2 = await call("/api/admin/cadres?page=2&pageSize=2", { token: tokens.town1 });
    expect(page2.json).toMatchObject({ page: 2, pageSize: 2, total: 5 });
    expect(page2.json.items.map((u: { username: string }) => u.username)).toEqual(["lijz_sec", "ac-member1"]);
    const byUnit = await call(`/api/admin/cadres?unitId=${county.town1.id}`, { token: tokens.town1 });
    expect(byUnit.json.items.map((u: { username: string }) => u.username)).toEqual(["ac-town1"]);

    const county2 = await call("/api/admin/cadres?pageSize=100", { token: tokens.county });
    expect(county2.json.items.map((u: { username: string }) => u.username)).toContain("ac-town2");
    expect(county2.json.items.map((u: { username: string }) => u.username)).not.toContain("ac-city");
    expectApiError(await call("/api/admin/cadres?active=maybe", { token: tokens.town1 }), 400, "VALIDATION_FAILED");
  });
});

describe("changing, disabling and resetting", () => {
  test("not their own account, not a peer's, not one in another town", async () => {
    expectApiError(await call(`/api/admin/cadres/${await accountId("ac-town1")}`, { method: "PATCH", token: tokens.town1, body: { displayName: "我自己" } }), 403, "CADRE_SELF");
    expectApiError(await call(`/api/admin/cadres/${await accountId("ac-town2")}`, { method: "PATCH", token: tokens.town1, body: { active: false } }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/admin/cadres/${await accountId("ac-county")}/reset-password`, { method: "POST", token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectApiError(await call(`/api/admin/cadres/${await accountId("lijz_sec")}`, { method: "PATCH", token: tokens.sec1, body: { displayName: "王五书记" } }), 403, "CADRE_ROLE_NOT_ALLOWED");
    expectApiError(await call("/api/admin/cadres/999999", { method: "PATCH", token: tokens.town1, body: { active: false } }), 404, "CADRE_NOT_FOUND");
    // Promoting someone to one's own rank is refused too.
    expectApiError(await call(`/api/admin/cadres/${await accountId("zhangsan")}`, { method: "PATCH", token: tokens.town1, body: { role: "TOWN_ADMIN", orgUnitId: county.town1.id } }), 403, "CADRE_ROLE_NOT_ALLOWED");
    expectApiError(await call(`/api/admin/cadres/${await accountId("zhangsan")}`, { method: "PATCH", token: tokens.town1, body: { role: "BRANCH_SECRETARY", orgUnitId: county.town1.id } }), 400, "CADRE_ROLE_UNIT_MISMATCH");
  });

  test("a change is audited with the before and after of the changed fields only", async () => {
    const id = await accountId("zhangsan");
    const res = await call(`/api/admin/cadres/${id}`, { method: "PATCH", token: tokens.town1, body: { displayName: "张三（组织委员）", role: "MEMBER", memberId: null } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ displayName: "张三（组织委员）", role: "MEMBER", member: null });
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "cadre.updated", targetId: String(id) } });
    expect(audit.detail).toEqual({
      username: "zhangsan",
      before: { displayName: "张三", memberId: county.members.zhangsan.id },
      after: { displayName: "张三（组织委员）", memberId: null },
    });
  });

  test("a disabled account cannot log in and its tokens stop working at once; re-enabled it can again", async () => {
    const id = await accountId("lijz_sec");
    const session = await login("lijz_sec", "Lijiazhuang#1");
    expect(session.status).toBe(200);
    const token = session.json.accessToken;
    expect((await call("/api/auth/me", { token })).status).toBe(200);

    const off = await call(`/api/admin/cadres/${id}`, { method: "PATCH", token: tokens.town1, body: { active: false } });
    expect(off.status).toBe(200);
    expect(off.json.active).toBe(false);
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { id } })).disabledAt).not.toBeNull();
    expectApiError(await call("/api/auth/me", { token }), 401, "TOKEN_REVOKED");
    expectApiError(await login("lijz_sec", "Lijiazhuang#1"), 403, "ACCOUNT_DISABLED");
    // A disabled login no longer lends its role to the member in chat.
    const identity = await ctx.db.prisma.chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_wangwu" } });
    expect((await chatPrincipal(ctx.db.prisma, identity)).cadreUserId).toBeNull();
    const listed = await call("/api/admin/cadres?active=false", { token: tokens.town1 });
    expect(listed.json.items.map((u: { username: string }) => u.username)).toEqual(["lijz_sec"]);

    const on = await call(`/api/admin/cadres/${id}`, { method: "PATCH", token: tokens.town1, body: { active: true } });
    expect(on.json.active).toBe(true);
    expect((await ctx.db.prisma.cadreUser.findUniqueOrThrow({ where: { id } })).disabledAt).toBeNull();
    expect((await login("lijz_sec", "Lijiazhuang#1")).status).toBe(200);
    const actions = (await ctx.db.prisma.auditLog.findMany({ where: { targetType: "CadreUser", targetId: String(id) }, orderBy: { id: "asc" } })).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["cadre.created", "cadre.disabled", "cadre.enabled"]));
  });

  test("reset password: a new one-time password, the old password and sessions stop working, the change is forced again", async () => {
    const id = await accountId("lijz_sec");
    const token = (await login("lijz_sec", "Lijiazhuang#1")).json.accessToken;
    const res = await call(`/api/admin/cadres/${id}/reset-password`, { method: "POST", token: tokens.town1 });
    expect(res.status).toBe(200);
    expect(res.json.user).toMatchObject({ username: "lijz_sec", mustChangePassword: true });
    const otp = res.json.oneTimePassword as string;
    expectApiError(await call("/api/auth/me", { token }), 401, "TOKEN_REVOKED");
    expectApiError(await login("lijz_sec", "Lijiazhuang#1"), 401, "INVALID_CREDENTIALS");
    const first = await login("lijz_sec", otp);
    expect(first.json.user.mustChangePassword).toBe(true);
    const audit = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "cadre.password_reset", targetId: String(id) } });
    expect(JSON.stringify(audit.detail)).not.toContain(otp);
  });
});

describe("a city above counties", () => {
  test("the city's administrator creates a county administrator for a county below; a county admin cannot", async () => {
    const county2 = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "ACS-C2" } });
    const res = await call("/api/admin/cadres", { token: tokens.city, body: { username: "c2_admin", displayName: "二县组织部", role: "COUNTY_ADMIN", orgUnitId: county2.id } });
    expect(res.status).toBe(201);
    // A county administrator may not make one for another county, only the city may.
    const county2Admin = { username: "c2_admin_b", displayName: "二县", role: "COUNTY_ADMIN", orgUnitId: county2.id };
    expectApiError(await call("/api/admin/cadres", { token: tokens.county, body: county2Admin }), 403, "OUT_OF_SCOPE");
    // The county administrator it made cannot touch the city's.
    const c2 = await login("c2_admin", res.json.oneTimePassword);
    const c2Token = (await call("/api/auth/password", { token: c2.json.accessToken, body: { oldPassword: res.json.oneTimePassword, newPassword: "Erxian#2027" } })).json.accessToken;
    expectApiError(await call(`/api/admin/cadres/${await accountId("ac-city")}`, { method: "PATCH", token: c2Token, body: { active: false } }), 403, "OUT_OF_SCOPE");
  });
});

describe("a second county administrator", () => {
  test("the first creates a peer at the county itself (broadcasts need a second one to approve them), but cannot disable or reset that peer", async () => {
    const created = await call("/api/admin/cadres", { token: tokens.county, body: { username: "c1_admin2", displayName: "县委组织部 副部长", role: "COUNTY_ADMIN", orgUnitId: county.county.id } });
    expect(created.status).toBe(201);
    expect(created.json.user).toMatchObject({ role: "COUNTY_ADMIN", mustChangePassword: true });
    // Nowhere else: a county admin at a town below is still refused.
    expectApiError(
      await call("/api/admin/cadres", { token: tokens.county, body: { username: "c1_admin3", displayName: "镇里", role: "COUNTY_ADMIN", orgUnitId: county.town1.id } }),
      403,
      "CADRE_ROLE_NOT_ALLOWED",
    );
    expectApiError(await call(`/api/admin/cadres/${created.json.user.id}`, { method: "PATCH", token: tokens.county, body: { active: false } }), 403, "CADRE_ROLE_NOT_ALLOWED");
    expectApiError(await call(`/api/admin/cadres/${created.json.user.id}/reset-password`, { method: "POST", token: tokens.county }), 403, "CADRE_ROLE_NOT_ALLOWED");
  });
});
