// The error catalog (core/kernel/errors.ts) is the one place an error code gets its HTTP status: what the API
// answers over real HTTP is the catalog's status for a sample of codes raised in core, in the API middleware and by
// the error mapping, including codes that used to be answered with two different statuses.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { AppError, ERRORS, type ErrorCode } from "../core/kernel/errors.ts";
import type { CadreRole } from "../core/org/scope.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, expectApiError, type Answer } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let unboundGroup: number;
const tokens = {} as Record<"county" | "sec1" | "member1", string>;
const call = apiCaller(() => api.url);

beforeAll(async () => {
  ctx = await createTestContext("error-catalog");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "EC");
  const users: Array<{ key: keyof typeof tokens; role: CadreRole; orgUnitId: number }> = [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ];
  for (const u of users) {
    const user = await prisma.cadreUser.create({ data: { username: `ec-${u.key}`, passwordHash: "x", displayName: `${u.key} 用户`, role: u.role, orgUnitId: u.orgUnitId } });
    tokens[u.key] = (await issueAccessToken(ctx.config, { kind: "cadre", subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion })).token;
  }
  unboundGroup = (await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "r-ec-new@chatroom", topic: "新建的群", kind: "OTHER", memberCount: 3 } })).id;
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

/** The answer carries `code` with exactly the status the catalog gives it; returns the message. */
function expectCatalogued(res: Answer, code: ErrorCode): string {
  expectApiError(res, ERRORS[code].status, code);
  return res.json.error.message;
}

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const rosterPreview = (data: Buffer) => call("/api/roster/import/preview", { token: tokens.sec1, form: {}, photos: [{ field: "file", data, name: "名单.xlsx", type: XLSX }] });

describe("an error code is answered with the catalog's status", () => {
  test("GROUP_NOT_BOUND is a 409 (the chat commands once used 400 for it)", async () => {
    expect(ERRORS.GROUP_NOT_BOUND.status).toBe(409);
    const message = expectCatalogued(await call(`/api/groups/${unboundGroup}/roster-report`, { token: tokens.county }), "GROUP_NOT_BOUND");
    expect(message).toContain("绑定");
  });

  test("an import file that is not an .xlsx and one that cannot be read have their own codes and statuses", async () => {
    expect(ERRORS.ROSTER_FILE_INVALID.status).toBe(415);
    expect(ERRORS.ROSTER_FILE_UNREADABLE.status).toBe(400);
    expectCatalogued(await rosterPreview(Buffer.from("姓名,所属支部\n张三,ECC-T1-V1-B\n")), "ROSTER_FILE_INVALID");
    expectCatalogued(await rosterPreview(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6])), "ROSTER_FILE_UNREADABLE");
  });

  test("login, role and scope refusals, with the catalog's default message where the code has one wording", async () => {
    expect(expectCatalogued(await call("/api/groups"), "TOKEN_MISSING")).toBe(ERRORS.TOKEN_MISSING.message);
    expect(expectCatalogued(await call("/api/groups", { token: "not-a-token" }), "TOKEN_INVALID")).toBe(ERRORS.TOKEN_INVALID.message);
    expect(expectCatalogued(await call("/api/admin/accounts", { token: tokens.sec1 }), "FORBIDDEN")).toBe(ERRORS.FORBIDDEN.message);
    expectCatalogued(await call(`/api/org/units/${county.branch2.id}/children`, { token: tokens.sec1 }), "OUT_OF_SCOPE");
  });

  test("the HTTP edge and the error mapping: unknown route, bad JSON, failed validation, a number too large", async () => {
    expect(expectCatalogued(await call("/api/no-such-route"), "NOT_FOUND")).toMatch(/接口/);
    const badJson = await fetch(`${api.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    const text = await badJson.text();
    expectCatalogued({ status: badJson.status, headers: badJson.headers, text, json: JSON.parse(text), bytes: Buffer.from(text) }, "INVALID_JSON");
    expectCatalogued(await call("/api/auth/login", { body: { username: "" } }), "VALIDATION_FAILED");
    expectCatalogued(await call("/api/groups/99999999999/roster-report", { token: tokens.county }), "VALUE_OUT_OF_RANGE");
  });
});

describe("the catalog itself", () => {
  test("an AppError takes its status and default message from the catalog; a throw site may only sharpen the message", () => {
    const plain = new AppError("MEETING_CANCELLED");
    expect({ status: plain.status, message: plain.message }).toEqual({ status: ERRORS.MEETING_CANCELLED.status, message: ERRORS.MEETING_CANCELLED.message });
    const specific = new AppError("MEETING_CANCELLED", "「学习党章」已经取消了。");
    expect({ status: specific.status, message: specific.message }).toEqual({ status: 409, message: "「学习党章」已经取消了。" });
    // @ts-expect-error a throw site cannot choose the status: the code alone decides it
    expect(() => new AppError(400, "GROUP_NOT_BOUND")).toThrow();
  });

  test("every code has a Chinese message and the OpenAPI document lists exactly the catalog's codes", async () => {
    for (const [code, e] of Object.entries(ERRORS)) expect({ code, chinese: /[\u4e00-\u9fff]/.test(e.message) }).toEqual({ code, chinese: true });
    const doc = (await call("/api/openapi.json")).json;
    const codeSchema = doc.components.schemas.ApiError.properties.error.properties.code;
    expect([...codeSchema.enum].sort()).toEqual(Object.keys(ERRORS).sort());
    expect(codeSchema.description).toContain(`\`GROUP_NOT_BOUND\` (409) ${ERRORS.GROUP_NOT_BOUND.message}`);
  });
});
