// The published 季通报 history (GET /api/reports/rankings) on a city of several counties: each reader sees the
// rankings of their own area — a town admin their county's ranking of towns, a county admin not the city's ranking
// of the counties, the city admin the city's.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let tokens: Record<"city" | "county" | "town", string>;
const call = apiCaller(() => api.url);

const bulletin = (unit: { id: number; name?: string }, period: string, ranked: { id: number; name?: string }[]) => ({
  kind: "QUARTERLY",
  period: { key: period, label: period.replace("-Q", "年第") + "季度" },
  county: { id: unit.id, code: "", name: unit.name ?? "" },
  towns: ranked.map((t, i) => ({ rank: i + 1, id: t.id, name: t.name ?? "", score: 90 - i, named: null })),
});

beforeAll(async () => {
  ctx = await createTestContext("rankings-scope");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "RK");
  // Put the county under a city, with a second county beside it.
  const city = await prisma.orgUnit.create({ data: { code: "RK-CITY", name: "测试市", kind: "CITY", path: "/", depth: 0 } });
  await prisma.orgUnit.update({ where: { id: city.id }, data: { path: `/${city.id}/` } });
  await prisma.$executeRaw`UPDATE "OrgUnit" SET path = ${`/${city.id}`} || path, depth = depth + 1 WHERE id <> ${city.id}`;
  await prisma.orgUnit.update({ where: { id: county.county.id }, data: { parentId: city.id } });
  const other = await prisma.orgUnit.create({ data: { code: "RK-C2", name: "二县", kind: "COUNTY", parentId: city.id, path: "/", depth: 1 } });
  await prisma.orgUnit.update({ where: { id: other.id }, data: { path: `/${city.id}/${other.id}/` } });
  // What the report job stored: the city's ranking of the counties, and (an earlier quarter) the county's of its towns.
  await prisma.reportSnapshot.create({ data: { kind: "QUARTERLY", period: "2026-Q3", data: bulletin(city, "2026-Q3", [other, county.county]) } });
  await prisma.reportSnapshot.create({ data: { kind: "QUARTERLY", period: "2026-Q2", data: bulletin(county.county, "2026-Q2", [county.town1]) } });
  tokens = await cadreTokens(ctx, "rk", [
    { key: "city", role: "COUNTY_ADMIN", orgUnitId: city.id },
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
  ]);
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

const periods = async (token: string) => ((await call("/api/reports/rankings", { token })).json.items as { period: string }[]).map((i) => i.period);

test("the city admin sees the city's ranking of counties and the county's of towns", async () => {
  expect(await periods(tokens.city)).toEqual(["2026-Q3", "2026-Q2"]);
});

test("a county admin under the city sees the county's own ranking, not the city's ranking of the counties", async () => {
  expect(await periods(tokens.county)).toEqual(["2026-Q2"]);
});

test("a town admin sees the ranking of the towns of their county", async () => {
  expect(await periods(tokens.town)).toEqual(["2026-Q2"]);
});
