// Ids larger than the database's 32-bit columns, on the going-live routes a console or a script may call: each gets a
// 400 or 404 with a stable code and a Chinese message, never a 500 (no such record can exist).
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty } from "./support/fixtures.ts";
import { apiCaller } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let token = "";
const call = apiCaller(() => api.url);
const HUGE = 3_000_000_000;

beforeAll(async () => {
  ctx = await createTestContext("api-huge-ids");
  const county = await smallCounty(ctx.db.prisma, "HI");
  ({ county: token } = await cadreTokens(ctx, "hi", [{ key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id }]));
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

test.each([
  ["GET", `/api/members?branchId=${HUGE}`, undefined],
  ["GET", `/api/members/${HUGE}`, undefined],
  ["POST", `/api/members/${HUGE}/transfer`, { toBranchId: HUGE }],
  ["POST", "/api/admin/cadres", { username: "big_id", displayName: "某某", role: "TOWN_ADMIN", orgUnitId: HUGE }],
  ["PATCH", `/api/admin/cadres/${HUGE}`, { active: false }],
  ["POST", "/api/org/units", { parentId: HUGE, kind: "TOWN", name: "某镇", code: "HI-BIG" }],
  ["GET", `/api/org/units/${HUGE}`, undefined],
  ["POST", `/api/org/units/${HUGE}/bind-codes`, {}],
  ["POST", `/api/bind-codes/${HUGE}/revoke`, undefined],
])("%s %s answers 400 or 404, not 500", async (method, path, body) => {
  const res = await call(path, { method, token, body });
  expect([400, 404]).toContain(res.status);
  expect(res.json.error.code).toMatch(/^[A-Z_]+$/);
  expect(res.json.error.message).toMatch(/[\u4e00-\u9fff]/);
});
