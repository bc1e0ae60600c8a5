// GET /api/reports/attendance-trend through the HTTP API against real Postgres: months on the Shanghai clock ending
// with this one, oldest first; each month's 参会率 equal to the 月报告's for the same scope (county, a town, one
// branch), with the meetings that must not count (学习, cancelled, planned, guests) seeded beside the ones that do.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { periodOf, previousPeriod } from "../core/calendar/periods.ts";
import type { AttendanceStatus, MeetingStatus, MeetingType } from "../core/db/index.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";


let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let g1: number;
const tokens = {} as Record<"county" | "town1" | "sec1" | "member1", string>;
const call = apiCaller(() => api.url);
const thisMonth = periodOf("month", new Date());
const lastMonth = previousPeriod(thisMonth);


/** A meeting `days` into `month` with these attendance rows. */
async function meeting(unitId: number, type: MeetingType, month: typeof thisMonth, days: number, attendance: [number, AttendanceStatus][], status: MeetingStatus = "HELD") {
  const at = new Date(month.start.getTime() + days * 86_400_000 + 11 * 3600_000);
  const row = await ctx.db.prisma.meeting.create({
    data: {
      orgUnitId: unitId,
      type,
      topic: `${type}`,
      plannedAt: at,
      checkinOpensAt: new Date(at.getTime() - 30 * 60_000),
      checkinClosesAt: new Date(at.getTime() + 30 * 60_000),
      status,
      heldAt: status === "HELD" ? at : null,
      cancelledAt: status === "CANCELLED" ? at : null,
    },
  });
  await ctx.db.prisma.attendance.createMany({ data: attendance.map(([memberId, s]) => ({ meetingId: row.id, memberId, status: s, source: "CONSOLE" as const })) });
}

beforeAll(async () => {
  ctx = await createTestContext("api-trend", { redis: false });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "TR");
  const g = await prisma.orgUnit.create({ data: { code: "TRC-T1-V1-B-G1", name: "第一党小组", kind: "PARTY_GROUP", parentId: county.branch1.id, path: "/", depth: 4 } });
  g1 = (await prisma.orgUnit.update({ where: { id: g.id }, data: { path: `${county.branch1.path}${g.id}/` } })).id;
  const { zhangsan, lisi, wangwu, sunqi, zhaoliu } = county.members;
  await prisma.member.updateMany({ where: { id: { in: [zhangsan.id, lisi.id] } }, data: { partyGroupId: g1 } });
  // A member who left: neither expected nor counted.
  const gone = await prisma.member.create({ data: { name: "离开的", branchId: county.branch1.id, status: "TRANSFERRED_OUT" } });

  Object.assign(tokens, await cadreTokens(ctx, "tr", [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ]));

  const b1 = county.branch1.id;
  // Last month, 李家庄村 (4 current members, 2 in 第一党小组): 支委会 2 present + 1 leave + a guest + a former member;
  // 党小组会 of 第一党小组 1 of 2; and what does not count: a 学习, a cancelled and a planned meeting.
  await meeting(b1, "COMMITTEE", lastMonth, 3, [[wangwu.id, "PRESENT"], [lisi.id, "PRESENT"], [sunqi.id, "LEAVE"], [zhaoliu.id, "PRESENT"], [gone.id, "PRESENT"]]);
  await meeting(g1, "PARTY_GROUP", lastMonth, 5, [[zhangsan.id, "PRESENT"]]);
  await meeting(b1, "STUDY", lastMonth, 6, [[zhangsan.id, "PRESENT"], [lisi.id, "PRESENT"]]);
  await meeting(b1, "COMMITTEE", lastMonth, 7, [[zhangsan.id, "PRESENT"]], "CANCELLED");
  await meeting(b1, "THEME_DAY", lastMonth, 9, [], "PLANNED");
  // 河西村 (1 member): 主题党日 held with him.
  await meeting(county.branch2.id, "THEME_DAY", lastMonth, 9, [[zhaoliu.id, "PRESENT"]]);
  // This month: 李家庄村's 主题党日, everyone there.
  await meeting(b1, "THEME_DAY", thisMonth, 0, [[zhangsan.id, "PRESENT"], [lisi.id, "PRESENT"], [wangwu.id, "PRESENT"], [sunqi.id, "PRESENT"]]);
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

const trend = (token: string, query = "") => call(`/api/reports/attendance-trend${query}`, { token });
const monthly = (token: string, period: string, unitId?: number) => call(`/api/reports/monthly?period=${period}${unitId ? `&unitId=${unitId}` : ""}`, { token });

describe("attendance trend", () => {
  test("six months by default, oldest first, ending with this month (Shanghai); months without meetings are null", async () => {
    const res = await trend(tokens.county);
    expect(res.status).toBe(200);
    expect(res.json.unit).toMatchObject({ id: county.county.id, kind: "COUNTY" });
    const items = res.json.items as { month: string; label: string; meetings: number; expected: number; attended: number; leave: number; rate: number | null }[];
    expect(items).toHaveLength(6);
    let p = thisMonth;
    const keys = [p.key];
    for (let i = 0; i < 5; i++) keys.unshift((p = previousPeriod(p)).key);
    expect(items.map((i) => i.month)).toEqual(keys);
    expect(items[0]).toEqual({ month: keys[0], label: expect.stringMatching(/^\d{4}年\d{1,2}月$/), meetings: 0, expected: 0, attended: 0, leave: 0, rate: null });
    // Last month: 支委会 (4 expected, 2 present, 1 leave), 党小组会 (2, 1), 河西村 主题党日 (1, 1) → 4 / 7.
    expect(items[4]).toMatchObject({ month: lastMonth.key, meetings: 3, expected: 7, attended: 4, leave: 1, rate: 0.5714 });
    expect(items[5]).toMatchObject({ month: thisMonth.key, meetings: 1, expected: 4, attended: 4, leave: 0, rate: 1 });

    const one = await trend(tokens.county, "?months=1");
    expect(one.json.items.map((i: { month: string }) => i.month)).toEqual([thisMonth.key]);
    expect((await trend(tokens.county, "?months=24")).json.items).toHaveLength(24);
  });

  test("each month's rate equals the 月报告's for the same scope: the county, a town, a branch", async () => {
    const cases: [string, string, number | undefined][] = [
      ["county", tokens.county, undefined],
      ["town1", tokens.town1, undefined],
      ["sec1", tokens.sec1, undefined],
      ["county→branch2", tokens.county, county.branch2.id],
    ];
    for (const [label, token, unitId] of cases) {
      const t = await trend(token, `?months=3${unitId ? `&orgUnitId=${unitId}` : ""}`);
      expect(t.status).toBe(200);
      for (const item of t.json.items) {
        const r = await monthly(token, item.month, unitId);
        expect(r.status).toBe(200);
        const a = r.json.total.attendance;
        expect({ label, month: item.month, meetings: item.meetings, expected: item.expected, attended: item.attended, leave: item.leave, rate: item.rate }).toEqual({
          label,
          month: item.month,
          meetings: a.meetings,
          expected: a.expected,
          attended: a.present,
          leave: a.leave,
          rate: a.rate,
        });
      }
    }
    // The town's last month: only 李家庄村 → 3 / 6.
    const town = await trend(tokens.town1, "?months=2");
    expect(town.json.items[0]).toMatchObject({ month: lastMonth.key, meetings: 2, expected: 6, attended: 3, rate: 0.5 });
  });

  test("scope, roles and validation", async () => {
    expectError(await trend(tokens.town1, `?orgUnitId=${county.branch2.id}`), 403, "OUT_OF_SCOPE");
    expectError(await trend(tokens.county, "?orgUnitId=999999"), 404, "ORG_UNIT_NOT_FOUND");
    expectError(await trend(tokens.member1), 403, "FORBIDDEN");
    expectError(await trend(""), 401, "TOKEN_MISSING");
    for (const q of ["?months=0", "?months=25", "?months=abc", "?months=1.5", "?orgUnitId=-1"]) expectError(await trend(tokens.county, q), 400, "VALIDATION_FAILED");
  });
});
