// 三会一课 compliance, 月报告 and 季通报 through the HTTP API, against a county whose third quarter of 2026 is known
// meeting by meeting: the matrix's states and colours, the roll-ups per town and county, the reports' figures, the
// Excel files parsed back, the ranking and its history once the reports went out, the rules and their validation,
// and who may see what. Then the report job on the Shanghai clock: not a minute early, once across two processes,
// skipped past the catch-up horizon. Real Postgres and Redis; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { chinaDate, periodOf, nextPeriod, chinaParts } from "../core/calendar/periods.ts";
import { rankTowns, reportNoteKey, sendDueReports, townScore, type PeriodSummary } from "../core/calendar/reports.ts";
import { emptyTally } from "../core/calendar/compliance.ts";
import { DEFAULT_RULES } from "../core/calendar/rules.ts";
import type { MeetingType, PrismaClient } from "../core/db/index.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
/** An instant at China wall-clock time. */
const cn = (local: string) => new Date(`${local}+08:00`);

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
const units = {} as Record<"town2" | "town3" | "branch3" | "g1" | "g2", { id: number; path: string }>;
const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "member1", string>;
/** Meeting ids by name. */
const m = {} as Record<string, number>;

async function createUnit(prisma: PrismaClient, code: string, name: string, kind: "TOWN" | "BRANCH" | "PARTY_GROUP", parent: { id: number; path: string }) {
  const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent.id, path: "/", depth: parent.path.split("/").length - 2 } });
  return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent.path}${row.id}/` }, select: { id: true, path: true } });
}

/** A meeting at China time `local`: HELD with these members present (finalized), or PLANNED (never finalized). */
async function meeting(unitId: number, type: MeetingType, local: string, present: number[], opts: { planned?: boolean; unlinked?: number } = {}) {
  const prisma = ctx.db.prisma;
  const at = cn(local);
  const row = await prisma.meeting.create({
    data: {
      orgUnitId: unitId,
      type,
      topic: `${type} ${local}`,
      plannedAt: at,
      checkinOpensAt: new Date(at.getTime() - 30 * 60_000),
      checkinClosesAt: new Date(at.getTime() + 30 * 60_000),
      status: opts.planned ? "PLANNED" : "HELD",
      heldAt: opts.planned ? null : at,
      finalizedAt: opts.planned ? null : new Date(at.getTime() + 30 * 60_000),
    },
  });
  await prisma.attendance.createMany({ data: present.map((memberId) => ({ meetingId: row.id, memberId, status: "PRESENT" as const, source: "CONSOLE" as const })) });
  for (let i = 0; i < (opts.unlinked ?? 0); i++) {
    const identity = await prisma.chatIdentity.create({ data: { channel: "WECHAT", scope: "wx-rc", platformUserId: `wx_unlinked_${row.id}_${i}`, displayName: "路人" } });
    await prisma.attendance.create({ data: { meetingId: row.id, identityId: identity.id, status: "PRESENT", source: "WECHAT" } });
  }
  return row.id;
}

beforeAll(async () => {
  ctx = await createTestContext("api-calendar");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "RC");
  units.town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "RCC-T2" }, select: { id: true, path: true } });
  units.town3 = await createUnit(prisma, "RCC-T3", "北坡镇", "TOWN", county.county);
  units.branch3 = await createUnit(prisma, "RCC-T1-B3", "南岭村党支部", "BRANCH", county.town1);
  units.g1 = await createUnit(prisma, "RCC-T1-V1-B-G1", "第一党小组", "PARTY_GROUP", county.branch1);
  units.g2 = await createUnit(prisma, "RCC-T1-V1-B-G2", "第二党小组", "PARTY_GROUP", county.branch1);
  const { zhangsan, lisi, wangwu, sunqi, zhaoliu } = county.members;
  await prisma.member.updateMany({ where: { id: { in: [zhangsan.id, lisi.id] } }, data: { partyGroupId: units.g1.id } });
  await prisma.member.updateMany({ where: { id: { in: [wangwu.id, sunqi.id] } }, data: { partyGroupId: units.g2.id } });
  await prisma.member.createMany({ data: [{ name: "周一", branchId: units.branch3.id }, { name: "吴二", branchId: units.branch3.id }] });

  Object.assign(tokens, await cadreTokens(ctx, "rc", [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "town2", role: "TOWN_ADMIN", orgUnitId: units.town2.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ]));

  // 李家庄村党支部 (东山镇), 2026 Q3: 4 members in two party groups.
  const b1 = county.branch1.id;
  const all = [zhangsan.id, lisi.id, wangwu.id, sunqi.id];
  m.congressJul = await meeting(b1, "MEMBER_CONGRESS", "2026-07-20T19:30:00", [wangwu.id]); // 1 of 4: below the quorum
  m.congressAug = await meeting(b1, "MEMBER_CONGRESS", "2026-08-15T19:30:00", [zhangsan.id, lisi.id, wangwu.id]);
  m.committeeJul = await meeting(b1, "COMMITTEE", "2026-07-05T19:30:00", [wangwu.id, lisi.id]);
  m.committeeAug = await meeting(b1, "COMMITTEE", "2026-08-05T19:30:00", [wangwu.id, lisi.id]);
  m.committeeSep = await meeting(b1, "COMMITTEE", "2026-09-25T19:30:00", [], { planned: true }); // planned, never held
  m.groupJul = await meeting(b1, "PARTY_GROUP", "2026-07-12T19:30:00", all); // joint: counts for both groups
  m.groupAug = await meeting(units.g1.id, "PARTY_GROUP", "2026-08-12T19:30:00", [zhangsan.id, lisi.id]);
  m.themeJul = await meeting(b1, "THEME_DAY", "2026-07-10T09:00:00", all);
  m.themeAug = await meeting(b1, "THEME_DAY", "2026-08-10T09:00:00", [zhangsan.id, lisi.id, wangwu.id]);
  m.themeSep = await meeting(b1, "THEME_DAY", "2026-09-10T09:00:00", all);
  m.studyAug = await meeting(b1, "STUDY", "2026-08-20T19:30:00", [zhangsan.id, lisi.id, sunqi.id], { unlinked: 1 });
  // 河西村党支部 (西河乡): everything held, no party groups.
  const b2 = county.branch2.id;
  for (const [type, local] of [
    ["MEMBER_CONGRESS", "2026-08-01T19:30:00"],
    ["PARTY_LECTURE", "2026-09-01T19:30:00"],
    ["COMMITTEE", "2026-07-03T19:30:00"],
    ["COMMITTEE", "2026-08-03T19:30:00"],
    ["COMMITTEE", "2026-09-03T19:30:00"],
    ["THEME_DAY", "2026-07-10T09:00:00"],
    ["THEME_DAY", "2026-08-10T09:00:00"],
    ["THEME_DAY", "2026-09-10T09:00:00"],
  ] as const)
    await meeting(b2, type, local, [zhaoliu.id]);
  // 南岭村党支部: nothing at all. 北坡镇: no branches.

  // Complaints of 李家庄村 in Q3: one answered in time, resolved and rated 满意; one never claimed.
  await prisma.complaint.create({
    data: {
      number: "LX20260805-0001",
      orgUnitId: b1,
      channel: "WECHAT",
      content: "路灯坏了",
      createdAt: cn("2026-08-05T10:00:00"),
      responseDueAt: cn("2026-08-06T10:00:00"),
      resolveDueAt: cn("2026-08-12T10:00:00"),
      status: "CLOSED",
      claimedAt: cn("2026-08-05T12:00:00"),
      resolvedAt: cn("2026-08-08T10:00:00"),
      rating: "SATISFIED",
      ratedAt: cn("2026-08-09T10:00:00"),
    },
  });
  await prisma.complaint.create({
    data: { number: "LX20260910-0001", orgUnitId: b1, channel: "WECHAT", content: "水管漏水", createdAt: cn("2026-09-10T10:00:00"), responseDueAt: cn("2026-09-11T10:00:00"), resolveDueAt: cn("2026-09-17T10:00:00") },
  });

  // Cadre groups of the county and of 东山镇: the reports go there.
  await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "rc-county@chatroom", topic: "县委组织部工作群", kind: "CADRE", orgUnitId: county.county.id } });
  await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "rc-town1@chatroom", topic: "东山镇干部群", kind: "CADRE", orgUnitId: county.town1.id } });

  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

// ---- helpers ----

const call = apiCaller(() => api.url);

function expectOk(res: Answer) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status: 200, error: undefined });
  return res.json;
}


const cellsOf = (matrix: any, branchId: number, type: string) => matrix.branches.find((b: any) => b.id === branchId).cells.filter((c: any) => c.type === type);
const stateRow = (cells: any[]) => cells.map((c) => `${c.period.key}:${c.state}:${c.color}`);

async function sheetRows(bytes: Buffer, name: string) {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as any);
  const ws = wb.getWorksheet(name);
  expect(ws).toBeDefined();
  const rows: unknown[][] = [];
  ws!.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return rows;
}

describe("the compliance matrix", () => {
  test("a quarter that is over: every cell's state and colour, the meetings behind it, 党小组会 per party group", async () => {
    const x = expectOk(await call("/api/calendar/compliance?period=2026-Q3", { token: tokens.town1 }));
    expect(x.period).toMatchObject({ kind: "quarter", key: "2026-Q3", label: "2026年第三季度", start: cn("2026-07-01T00:00:00").toISOString(), end: cn("2026-10-01T00:00:00").toISOString() });
    expect(x.unit).toMatchObject({ id: county.town1.id, name: "东山镇" });
    expect(x.branches.map((b: any) => b.name)).toEqual(["李家庄村党支部", "南岭村党支部"]); // 河西村 is another town's
    const b1 = county.branch1.id;

    const [congress] = cellsOf(x, b1, "MEMBER_CONGRESS");
    expect(congress).toMatchObject({ state: "HELD", color: "green", stateLabel: "已召开", heldMeetingIds: [m.congressAug], notCounted: [{ id: m.congressJul, reason: "NO_QUORUM" }], counted: true });
    expect(stateRow(cellsOf(x, b1, "COMMITTEE"))).toEqual(["2026-07:HELD:green", "2026-08:HELD:green", "2026-09:OVERDUE:red"]);
    // Planned and never held: still overdue once the month is over, and the planned meeting is named.
    expect(cellsOf(x, b1, "COMMITTEE")[2]).toMatchObject({ plannedMeetingIds: [m.committeeSep], heldMeetingIds: [], stateLabel: "已逾期" });
    const groups = cellsOf(x, b1, "PARTY_GROUP");
    expect(stateRow(groups)).toEqual(["2026-07:HELD:green", "2026-08:OVERDUE:red", "2026-09:OVERDUE:red"]);
    expect(groups[0]).toMatchObject({ obligations: 2, heldObligations: 2, heldMeetingIds: [m.groupJul] });
    expect(groups[1]).toMatchObject({ obligations: 2, heldObligations: 1, heldMeetingIds: [m.groupAug] });
    expect(groups[1].partyGroups).toEqual([
      { id: units.g1.id, name: "第一党小组", state: "HELD", color: "green", heldMeetingIds: [m.groupAug], plannedMeetingIds: [] },
      { id: units.g2.id, name: "第二党小组", state: "OVERDUE", color: "red", heldMeetingIds: [], plannedMeetingIds: [] },
    ]);
    expect(stateRow(cellsOf(x, b1, "PARTY_LECTURE"))).toEqual(["2026-Q3:OVERDUE:red"]);
    const themes = cellsOf(x, b1, "THEME_DAY");
    expect(stateRow(themes)).toEqual(["2026-07:HELD:green", "2026-08:HELD:green", "2026-09:HELD:green"]);
    expect(themes[0].fixedDay).toBe(cn("2026-07-10T00:00:00").toISOString());

    // A branch without party groups owes no 党小组会.
    expect(cellsOf(x, units.branch3.id, "PARTY_GROUP")).toEqual([expect.objectContaining({ state: "NOT_REQUIRED", color: "none", stateLabel: "未设党小组", counted: false })]);
    expect(x.columns.find((c: any) => c.type === "COMMITTEE").periods.map((p: any) => p.key)).toEqual(["2026-07", "2026-08", "2026-09"]);

    // Roll-ups: 李家庄 14 obligations (9 held, 5 overdue), 南岭 8 overdue.
    const b1Row = x.branches.find((b: any) => b.id === b1);
    expect(b1Row).toMatchObject({ color: "red", compliant: false, themeDay: 10, tally: { obligations: 14, held: 9, overdue: 5, settled: 14, complianceRate: 0.6429 } });
    expect(x.towns).toEqual([
      expect.objectContaining({ id: county.town1.id, name: "东山镇", branches: 2, compliantBranches: 0, obligations: 22, held: 9, overdue: 13, complianceRate: 0.4091, colors: { green: 9, yellow: 0, red: 13, grey: 0 }, branchColors: { green: 0, yellow: 0, red: 2, grey: 0 } }),
    ]);
    expect(x.total).toMatchObject({ branches: 2, obligations: 22, held: 9, overdue: 13 });
  });

  test("the county sees every town (one without branches too); a month counts the quarter's meetings only in its last month", async () => {
    const x = expectOk(await call("/api/calendar/compliance?period=2026-Q3", { token: tokens.county }));
    expect(x.towns.map((t: any) => [t.name, t.branches, t.obligations, t.held, t.overdue, t.complianceRate])).toEqual([
      ["东山镇", 2, 22, 9, 13, 0.4091],
      ["西河乡", 1, 8, 8, 0, 1],
      ["北坡镇", 0, 0, 0, 0, null],
    ]);
    expect(x.total).toMatchObject({ branches: 3, compliantBranches: 1, obligations: 30, held: 17, overdue: 13, complianceRate: 0.5667, branchColors: { green: 1, yellow: 0, red: 2, grey: 0 } });

    const sep = expectOk(await call(`/api/calendar/compliance?period=2026-09&unitId=${county.branch1.id}`, { token: tokens.county }));
    expect(sep.branches).toHaveLength(1);
    expect(sep.branches[0].tally).toMatchObject({ obligations: 6, held: 2, overdue: 4 });
    expect(cellsOf(sep, county.branch1.id, "MEMBER_CONGRESS")[0]).toMatchObject({ period: { key: "2026-Q3" }, counted: true });
    const aug = expectOk(await call(`/api/calendar/compliance?period=2026-08&unitId=${county.branch1.id}`, { token: tokens.county }));
    expect(aug.branches[0].tally).toMatchObject({ obligations: 4, held: 3, overdue: 1 });
    expect(cellsOf(aug, county.branch1.id, "MEMBER_CONGRESS")[0]).toMatchObject({ state: "HELD", counted: false });
  });

  test("a running month is yellow, a quarter not started grey, a meeting planned there yellow", async () => {
    const now = new Date();
    const next = nextPeriod(periodOf("quarter", now));
    const { year, month } = chinaParts(next.start);
    const planned = await meeting(county.branch2.id, "COMMITTEE", `${year}-${String(month).padStart(2, "0")}-05T19:30:00`, [], { planned: true });

    const current = expectOk(await call(`/api/calendar/compliance?unitId=${units.town2.id}`, { token: tokens.town2 }));
    expect(current.period.key).toBe(periodOf("quarter", now).key); // the default: this quarter
    const thisMonth = cellsOf(current, county.branch2.id, "COMMITTEE").find((c: any) => c.period.key === periodOf("month", now).key);
    expect(thisMonth).toMatchObject({ state: "DUE", color: "yellow", stateLabel: "待安排" });

    const later = expectOk(await call(`/api/calendar/compliance?period=${next.key}`, { token: tokens.town2 }));
    const cells = later.branches[0].cells;
    expect(cells.find((c: any) => c.type === "COMMITTEE" && c.plannedMeetingIds.includes(planned))).toMatchObject({ state: "PLANNED", color: "yellow" });
    expect(cells.filter((c: any) => c.state === "UPCOMING").every((c: any) => c.color === "grey")).toBe(true);
    expect(later.total).toMatchObject({ obligations: 8, planned: 1, upcoming: 7, settled: 0, complianceRate: null, branchColors: { yellow: 1 } });
  });

  test("scoping: a secretary sees the branch only; another town's unit is 403, an unknown one 404, a member 403", async () => {
    const own = expectOk(await call("/api/calendar/compliance?period=2026-Q3", { token: tokens.sec1 }));
    expect(own.branches.map((b: any) => b.id)).toEqual([county.branch1.id]);
    expectError(await call(`/api/calendar/compliance?period=2026-Q3&unitId=${county.branch2.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/calendar/compliance?period=2026-Q3&unitId=${units.town2.id}`, { token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/calendar/compliance?period=2026-Q3&unitId=999999", { token: tokens.county }), 404, "ORG_UNIT_NOT_FOUND");
    expectError(await call("/api/calendar/compliance?period=2026-Q3", { token: tokens.member1 }), 403, "FORBIDDEN");
    expectError(await call("/api/calendar/compliance?period=2026-Q3"), 401, "TOKEN_MISSING");
  });

  test("a bad period is 400 PERIOD_INVALID with a sentence that shows the right form", async () => {
    for (const bad of ["2026-13", "2026-Q5", "26-11", "2026/11", "next"]) {
      const e = expectError(await call(`/api/calendar/compliance?period=${encodeURIComponent(bad)}`, { token: tokens.county }), 400, "PERIOD_INVALID");
      expect(e.message).toContain("2026-11");
    }
    expectError(await call("/api/reports/monthly?period=2026-Q3", { token: tokens.county }), 400, "PERIOD_INVALID");
    expectError(await call("/api/reports/quarterly?period=2026-09", { token: tokens.county }), 400, "PERIOD_INVALID");
    expectError(await call("/api/reports/quarterly.xlsx?period=2026", { token: tokens.county }), 400, "PERIOD_INVALID");
  });
});

describe("月报告", () => {
  test("per branch, town and total: obligations, attendance, check-ins, complaints", async () => {
    const r = expectOk(await call("/api/reports/monthly?period=2026-08", { token: tokens.town1 }));
    expect(r).toMatchObject({ kind: "MONTHLY", period: { key: "2026-08", label: "2026年8月" }, unit: { name: "东山镇" } });
    const b1 = r.branches.find((b: any) => b.id === county.branch1.id);
    // August: 支委会 held, 党小组会 held by the first group only, 主题党日 held (the quarter's meetings settle in September).
    expect(b1).toMatchObject({ compliant: false, color: "red", meetingsHeld: 4, overdue: ["党小组会（第二党小组，8月）"], due: [] });
    expect(b1.compliance).toMatchObject({ obligations: 4, held: 3, overdue: 1, complianceRate: 0.75 });
    // 党员大会 3/4, 支委会 2/4, 第一党小组 2/2, 主题党日 3/4 (the 学习 is not a 三会一课 meeting).
    expect(b1.attendance).toEqual({ meetings: 4, expected: 14, present: 10, leave: 0, rate: 0.7143 });
    // Every meeting, 学习 included; the unlinked check-in counts as a check-in.
    expect(b1.checkins).toEqual({ meetings: 5, held: 5, studies: 1, checkins: 14 });
    expect(b1.complaints).toMatchObject({ filed: 1, respondedInTime: 1, responseRate: 1, resolveRate: 1, satisfactionRate: 1 });

    const b3 = r.branches.find((b: any) => b.id === units.branch3.id);
    expect(b3).toMatchObject({ compliant: false, overdue: ["支委会（8月）", "主题党日（8月）"], attendance: { meetings: 0, rate: null }, complaints: { filed: 0, responseRate: null } });
    expect(r.towns).toHaveLength(1);
    expect(r.towns[0]).toMatchObject({ id: county.town1.id, compliance: { branches: 2, obligations: 6, held: 3, overdue: 3, complianceRate: 0.5 }, attendance: { expected: 14, present: 10 } });
    expect(r.total.complaints).toMatchObject({ filed: 1 });
  });

  test("monthly.xlsx parses back: the towns sheet and the branches sheet", async () => {
    const res = await call("/api/reports/monthly.xlsx?period=2026-08", { token: tokens.town1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    const disposition = res.headers.get("content-disposition")!;
    expect(disposition).toMatch(/^attachment; filename="monthly-report-2026-08\.xlsx"; filename\*=UTF-8''/);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(disposition)![1])).toBe("月报告-东山镇-2026-08.xlsx");

    const towns = await sheetRows(res.bytes, "乡镇汇总");
    expect(towns[0][0]).toBe("东山镇2026年8月三会一课和民情诉求月报告");
    const header = towns[2] as string[];
    const row = towns.find((r) => r[0] === "东山镇")!;
    const at = (name: string) => row[header.indexOf(name)];
    expect([at("支部数"), at("三会一课应开（项）"), at("已开"), at("逾期"), at("完成率"), at("应到人次"), at("实到人次"), at("诉求（件）")]).toEqual([2, 6, 3, 3, 0.5, 14, 10, 1]);
    expect(towns.at(-1)![0]).toBe("合计");

    const branches = await sheetRows(res.bytes, "支部明细");
    const bh = branches[2] as string[];
    const nanling = branches.find((r) => r[1] === "南岭村党支部")!;
    expect(nanling[bh.indexOf("状态")]).toBe("有逾期");
    expect(nanling[bh.indexOf("逾期未开")]).toBe("支委会（8月）、主题党日（8月）");
    expect(nanling[bh.indexOf("参会率")]).toBe("—");
  });

  test("a secretary's report is the branch; another town is 403", async () => {
    const r = expectOk(await call("/api/reports/monthly?period=2026-08", { token: tokens.sec1 }));
    expect(r.branches.map((b: any) => b.id)).toEqual([county.branch1.id]);
    expectError(await call(`/api/reports/monthly?period=2026-08&unitId=${units.town2.id}`, { token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/reports/monthly.xlsx?period=2026-08&unitId=${units.town2.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
  });
});

describe("季通报", () => {
  test("towns ranked by the documented score; best and worst named; a town without branches unranked", async () => {
    const b = expectOk(await call("/api/reports/quarterly?period=2026-Q3", { token: tokens.town1 }));
    expect(b).toMatchObject({ kind: "QUARTERLY", source: "live", period: { key: "2026-Q3" }, weights: { compliance: 0.6, attendance: 0.2, complaints: 0.2 } });
    // 东山镇: 完成率 9/22, 参会率 25/34, 诉求办理 (0.5 + 0.5) / 2 → 100 × (0.6·0.4091 + 0.2·0.7353 + 0.2·0.5) = 49.3.
    // 西河乡: 完成率 1, 参会率 1, no complaints (left out, weights rescaled) → 100.
    expect(b.towns.map((t: any) => [t.rank, t.name, t.score, t.named])).toEqual([
      [1, "西河乡", 100, "BEST"],
      [2, "东山镇", 49.3, "WORST"],
      [null, "北坡镇", null, null],
    ]);
    expect(b.towns[1]).toMatchObject({ complianceRate: 0.4091, attendanceRate: 0.7353, complaintsFiled: 2, responseRate: 0.5, resolveRate: 0.5, handlingRate: 0.5 });
    expect(townScore(0.4091, 0.7353, 0.5)).toBe(49.3);
    expect(townScore(1, 1, null)).toBe(100);
    expect(townScore(null, 1, 1)).toBeNull();
    expect(b.best).toEqual([{ id: units.town2.id, name: "西河乡", rank: 1, score: 100 }]);
    expect(b.worst).toEqual([{ id: county.town1.id, name: "东山镇", rank: 2, score: 49.3 }]);
    expect(b.formula).toContain("60%");
  });

  test("quarterly.xlsx parses back; a secretary may not read the bulletin", async () => {
    const res = await call("/api/reports/quarterly.xlsx?period=2026-Q3", { token: tokens.county });
    expect(res.status).toBe(200);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(res.headers.get("content-disposition")!)![1])).toBe("季通报-2026-Q3.xlsx");
    const rows = await sheetRows(res.bytes, "乡镇排名");
    expect(rows[0][0]).toBe("测试县2026年第三季度乡镇工作通报");
    expect(String(rows[1][0])).toContain("60%");
    const header = rows[2] as string[];
    expect(rows.slice(3).map((r) => [r[0], r[1], r[2], r[header.indexOf("通报")]])).toEqual([
      [1, "西河乡", 100, "先进"],
      [2, "东山镇", 49.3, "靠后"],
      ["—", "北坡镇", "—", "未排名"],
    ]);
    expectError(await call("/api/reports/quarterly?period=2026-Q3", { token: tokens.sec1 }), 403, "FORBIDDEN");
    expectError(await call("/api/reports/rankings", { token: tokens.sec1 }), 403, "FORBIDDEN");
  });

  test("once the reports went out (1 October 09:30 Shanghai): snapshots, the cadre groups' messages, the ranking history", async () => {
    expect(expectOk(await call("/api/reports/rankings", { token: tokens.county })).items).toEqual([]);
    const at = chinaDate(2026, 10, 1, 9, 30);
    // September's 月报告 (due 09:00) and Q3's 季通报 (09:30) go out; August's and Q2's are past the 48 h horizon.
    expect(await sendDueReports(ctx.db.prisma, ctx.config, at)).toEqual({ sent: 2, skipped: 2 });
    expect(await sendDueReports(ctx.db.prisma, ctx.config, new Date(at.getTime() + 60_000))).toEqual({ sent: 0, skipped: 0 });
    const notes = await ctx.db.prisma.calendarNote.findMany({ orderBy: { key: "asc" } });
    expect(notes.map((n) => [n.key, n.status, n.reason, n.deliveries])).toEqual([
      ["report-monthly:2026-08", "SKIPPED", "PAST_CATCHUP_HORIZON", 0],
      ["report-monthly:2026-09", "SENT", null, 2],
      ["report-quarterly:2026-Q2", "SKIPPED", "PAST_CATCHUP_HORIZON", 0],
      ["report-quarterly:2026-Q3", "SENT", null, 2],
    ]);

    const said = await ctx.db.prisma.delivery.findMany({ include: { group: true }, orderBy: { id: "asc" } });
    const to = (group: string, head: string) => said.find((d) => d.group?.platformGroupId === group && d.body.startsWith(head))!.body;
    expect(to("rc-county@chatroom", "【月报告】")).toMatch(/^【月报告】2026年9月 测试县\n3 个乡镇、3 个支部，三会一课全部按时完成 1 个支部。/);
    expect(to("rc-town1@chatroom", "【月报告】")).toContain("逾期未开：李家庄村党支部（支委会、党小组会、党课）、南岭村党支部（党员大会、支委会、党课、主题党日），请督促补开。");
    const countyBulletin = to("rc-county@chatroom", "【季通报】");
    expect(countyBulletin).toContain("先进：1. 西河乡 100.0 分");
    expect(countyBulletin).toContain("靠后：2. 东山镇 49.3 分");
    expect(to("rc-town1@chatroom", "【季通报】")).toBe(
      "【季通报】2026年第三季度 东山镇综合得分 49.3，全县第 2 名（共 2 个乡镇）。\n三会一课完成率 40.9%（逾期 13 项），参会率 73.5%，诉求办理 50.0%。\n本季度排名靠后，请对照逾期事项抓紧整改。",
    );
    expect(said.every((d) => d.body.length < 600)).toBe(true);

    // Later corrections do not rewrite what was sent: the bulletin is read from its snapshot.
    await meeting(units.branch3.id, "PARTY_LECTURE", "2026-09-28T19:30:00", []);
    const b = expectOk(await call("/api/reports/quarterly?period=2026-Q3", { token: tokens.town2 }));
    expect(b).toMatchObject({ source: "snapshot", generatedAt: at.toISOString() });
    expect(b.towns[1]).toMatchObject({ name: "东山镇", score: 49.3 });
    const history = expectOk(await call("/api/reports/rankings", { token: tokens.town2 }));
    expect(history.items).toEqual([
      {
        period: "2026-Q3",
        label: "2026年第三季度",
        generatedAt: at.toISOString(),
        towns: [
          { rank: 1, id: units.town2.id, name: "西河乡", score: 100, named: "BEST" },
          { rank: 2, id: county.town1.id, name: "东山镇", score: 49.3, named: "WORST" },
          { rank: null, id: units.town3.id, name: "北坡镇", score: null, named: null },
        ],
      },
    ]);
    expect(await ctx.db.prisma.reportSnapshot.count()).toBe(2);
  });
});

describe("ranking rules (pure)", () => {
  /** A summary whose towns have these 完成率 (参会率 and complaints empty, so the score is 100 × 完成率). */
  const summary = (rates: (number | null)[]) =>
    ({
      towns: rates.map((rate, i) => ({
        id: i + 1,
        code: `T${String(i + 1).padStart(2, "0")}`,
        name: `镇${i + 1}`,
        compliance: { ...emptyTally(), complianceRate: rate },
        attendance: { meetings: 0, expected: 0, present: 0, leave: 0, rate: null },
        checkins: { meetings: 0, held: 0, studies: 0, checkins: 0 },
        complaints: { filed: 0, withdrawn: 0, respondedInTime: 0, responseRate: null, resolved: 0, resolveRate: null, rated: 0, satisfied: 0, satisfactionRate: null, overdueOpen: 0, avgResolveHours: null },
      })),
    }) as unknown as PeriodSummary;
  const view = (r: ReturnType<typeof rankTowns>) => r.towns.map((t) => `${t.rank ?? "-"}:${t.name}:${t.score ?? "-"}:${t.named ?? ""}`);

  test("equal scores share a rank; three best and three worst of eight; a tie at the cut names all in it", () => {
    expect(view(rankTowns(summary([0.9, 0.5, 0.9, 0.7, 0.6, 0.4, 0.8, 0.3])))).toEqual([
      "1:镇1:90:BEST",
      "1:镇3:90:BEST",
      "3:镇7:80:BEST",
      "4:镇4:70:",
      "5:镇5:60:",
      "6:镇2:50:WORST",
      "7:镇6:40:WORST",
      "8:镇8:30:WORST",
    ]);
    // Three share the third place: all three are named.
    expect(view(rankTowns(summary([0.9, 0.8, 0.8, 0.8, 0.6, 0.5, 0.4, 0.3]))).filter((x) => x.endsWith("BEST"))).toEqual(["1:镇1:90:BEST", "2:镇2:80:BEST", "2:镇3:80:BEST", "2:镇4:80:BEST"]);
    // A tie reaching both cuts separates nobody: only the clear ends are named.
    expect(view(rankTowns(summary([0.9, 0.8, 0.8, 0.8, 0.5])))).toEqual(["1:镇1:90:BEST", "2:镇2:80:", "2:镇3:80:", "2:镇4:80:", "5:镇5:50:WORST"]);
  });

  test("all equal: nobody is named; one town: it is the best; no 完成率: unranked, last", () => {
    expect(rankTowns(summary([0, 0, 0, 0]))).toMatchObject({ best: [], worst: [] });
    expect(view(rankTowns(summary([0.5])))).toEqual(["1:镇1:50:BEST"]);
    expect(view(rankTowns(summary([null, 0.5, 1])))).toEqual(["1:镇3:100:BEST", "2:镇2:50:WORST", "-:镇1:-:"]);
  });
});

describe("rules", () => {
  test("the county's rules: read by cadres, changed by the county admin only, validated field by field", async () => {
    expect(expectOk(await call("/api/calendar/rules", { token: tokens.sec1 }))).toEqual({ patch: null, effective: DEFAULT_RULES });
    expectError(await call("/api/calendar/rules", { method: "PUT", token: tokens.town1, body: { themeDay: 15 } }), 403, "FORBIDDEN");

    const bad = expectError(await call("/api/calendar/rules", { method: "PUT", token: tokens.county, body: { themeDay: 40, types: { COMMITTEE: { period: "week" } } } }), 400, "VALIDATION_FAILED");
    expect(bad.fields).toEqual(
      expect.arrayContaining([
        { field: "body.themeDay", message: "主题党日应为每月 1 到 28 日中的一天" },
        { field: "body.types.COMMITTEE.period", message: "周期只能是 month（每月）或 quarter（每季度）" },
      ]),
    );
    const unknown = expectError(await call("/api/calendar/rules", { method: "PUT", token: tokens.county, body: { themeday: 5 } }), 400, "VALIDATION_FAILED");
    expect(unknown.fields![0].message).toMatch(HAN);

    // 党课 every month: 西河乡's single 党课 in September leaves July and August overdue.
    const set = expectOk(await call("/api/calendar/rules", { method: "PUT", token: tokens.county, body: { types: { PARTY_LECTURE: { period: "month" } } } }));
    expect(set.patch).toEqual({ types: { PARTY_LECTURE: { period: "month" } } });
    expect(set.effective.types.PARTY_LECTURE).toEqual({ period: "month", count: 1, quorum: 0 });
    const x = expectOk(await call(`/api/calendar/compliance?period=2026-Q3&unitId=${county.branch2.id}`, { token: tokens.county }));
    expect(stateRow(cellsOf(x, county.branch2.id, "PARTY_LECTURE"))).toEqual(["2026-07:OVERDUE:red", "2026-08:OVERDUE:red", "2026-09:HELD:green"]);
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "calendar.rules.county" } })).toBe(1);

    expect(expectOk(await call("/api/calendar/rules", { method: "PUT", token: tokens.county, body: {} }))).toEqual({ patch: null, effective: DEFAULT_RULES });
  });

  test("a branch's override and fixed 主题党日: by the town admin for the town's branches; read by its secretary", async () => {
    const b1 = county.branch1.id;
    const view = expectOk(await call(`/api/calendar/branches/${b1}/rules`, { token: tokens.sec1 }));
    expect(view).toEqual({ branch: expect.objectContaining({ id: b1, name: "李家庄村党支部" }), county: DEFAULT_RULES, override: null, themeDay: null, effective: DEFAULT_RULES });

    expectError(await call(`/api/calendar/branches/${b1}/rules`, { method: "PUT", token: tokens.sec1, body: { themeDay: 15 } }), 403, "FORBIDDEN");
    expectError(await call(`/api/calendar/branches/${county.branch2.id}/rules`, { method: "PUT", token: tokens.town1, body: { themeDay: 15 } }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/calendar/branches/${county.town1.id}/rules`, { method: "PUT", token: tokens.town1, body: { themeDay: 15 } }), 400, "NOT_A_BRANCH");
    const bad = expectError(await call(`/api/calendar/branches/${b1}/rules`, { method: "PUT", token: tokens.town1, body: { themeDay: 0 } }), 400, "VALIDATION_FAILED");
    expect(bad.fields).toEqual([{ field: "body.themeDay", message: "主题党日应为每月 1 到 28 日中的一天" }]);

    // No committee in this branch, and its 主题党日 is the 15th.
    const set = expectOk(await call(`/api/calendar/branches/${b1}/rules`, { method: "PUT", token: tokens.town1, body: { themeDay: 15, types: { COMMITTEE: null } } }));
    expect(set).toMatchObject({ override: { types: { COMMITTEE: null } }, themeDay: 15, effective: { themeDay: 15, types: { COMMITTEE: null, THEME_DAY: DEFAULT_RULES.types.THEME_DAY } } });
    const stored = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { id: b1 } });
    expect({ override: stored.rulesOverride, day: stored.themeDayOfMonth }).toEqual({ override: { types: { COMMITTEE: null } }, day: 15 });
    const x = expectOk(await call(`/api/calendar/compliance?period=2026-Q3&unitId=${b1}`, { token: tokens.sec1 }));
    expect(cellsOf(x, b1, "COMMITTEE")).toEqual([expect.objectContaining({ state: "NOT_REQUIRED", stateLabel: "无需召开" })]);
    expect(cellsOf(x, b1, "THEME_DAY")[0].fixedDay).toBe(cn("2026-07-15T00:00:00").toISOString());
    expect(x.branches[0]).toMatchObject({ themeDay: 15, tally: { obligations: 11, held: 7, overdue: 4 } });

    const reset = expectOk(await call(`/api/calendar/branches/${b1}/rules`, { method: "PUT", token: tokens.county, body: {} }));
    expect(reset).toMatchObject({ override: null, themeDay: null, effective: DEFAULT_RULES });
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "calendar.rules.branch", targetId: String(b1) } })).toBe(2);
  });
});

describe("the report job on the Shanghai clock", () => {
  let sc: TestContext;
  let scCounty: SmallCounty;

  beforeAll(async () => {
    // Its own database: the notes of the tests above must not decide what is due here.
    sc = await createTestContext("calendar-send", { env: { REPORT_MONTHLY_AT: "5 14:30", REPORT_QUARTERLY_AT: "6 10:00", CALENDAR_CATCHUP_HOURS: "48" } });
    scCounty = await smallCounty(sc.db.prisma, "SD");
    await sc.db.prisma.chatGroup.createMany({
      data: [
        { channel: "WECHAT", platformGroupId: "sd-county@chatroom", kind: "CADRE", orgUnitId: scCounty.county.id },
        { channel: "QQ", platformGroupId: "sd-town1", kind: "CADRE", orgUnitId: scCounty.town1.id },
        { channel: "WECHAT", platformGroupId: "sd-branch1@chatroom", kind: "BRANCH", orgUnitId: scCounty.branch1.id },
      ],
    });
  });

  afterAll(async () => {
    await sc?.close();
  });

  test("one minute before its time nothing is sent; at 14:30 Shanghai (06:30 UTC) it goes out once, across two callers", async () => {
    const prisma = sc.db.prisma;
    const key = reportNoteKey("MONTHLY", "2030-03");
    // 2030-04-05 14:29 in Shanghai. (February's report, due 5 March, is long past the horizon: recorded as skipped.)
    const before = await sendDueReports(prisma, sc.config, new Date("2030-04-05T06:29:00Z"));
    expect(before.sent).toBe(0);
    expect(await prisma.calendarNote.findUnique({ where: { key } })).toBeNull();
    expect(await prisma.reportSnapshot.count()).toBe(0);

    const at = new Date("2030-04-05T06:30:00Z");
    const [a, b] = await Promise.all([sendDueReports(prisma, sc.config, at), sendDueReports(prisma, sc.config, at)]);
    expect(a.sent + b.sent).toBe(1);
    expect(await prisma.reportSnapshot.findMany({ select: { kind: true, period: true } })).toEqual([{ kind: "MONTHLY", period: "2030-03" }]);
    const note = await prisma.calendarNote.findUniqueOrThrow({ where: { key } });
    expect(note).toMatchObject({ status: "SENT", kind: "report-monthly", period: "2030-03", dueAt: at, deliveries: 2, orgUnitId: scCounty.county.id });
    const said = await prisma.delivery.findMany({ include: { group: true }, orderBy: { id: "asc" } });
    // The county's and 东山镇's cadre groups (one WeChat, one QQ); never a branch group; 西河乡 has no cadre group.
    expect(said.map((d) => [d.group?.platformGroupId, d.channel, d.body.split("\n")[0]])).toEqual([
      ["sd-county@chatroom", "WECHAT", "【月报告】2030年3月 测试县"],
      ["sd-town1", "QQ", "【月报告】2030年3月 东山镇"],
    ]);
    expect(await sendDueReports(prisma, sc.config, new Date("2030-04-05T07:30:00Z"))).toEqual({ sent: 0, skipped: 0 });
    expect(await prisma.delivery.count()).toBe(2);
  });

  test("past the catch-up horizon it is recorded as skipped and never sent", async () => {
    const prisma = sc.db.prisma;
    // Q1's 季通报 was due 2030-04-06 10:00 Shanghai; the jobs were down until 48 h and a minute later.
    const late = chinaDate(2030, 4, 8, 10, 1);
    const r = await sendDueReports(prisma, sc.config, late);
    expect(r.sent).toBe(0);
    expect(await prisma.calendarNote.findUniqueOrThrow({ where: { key: reportNoteKey("QUARTERLY", "2030-Q1") } })).toMatchObject({ status: "SKIPPED", reason: "PAST_CATCHUP_HORIZON", deliveries: 0 });
    expect(await sendDueReports(prisma, sc.config, new Date(late.getTime() + 3600_000))).toEqual({ sent: 0, skipped: 0 });
    expect(await prisma.reportSnapshot.count({ where: { kind: "QUARTERLY" } })).toBe(0);
    expect(await prisma.delivery.count({ where: { body: { startsWith: "【季通报】" } } })).toBe(0);
  });

  test("within the horizon a missed report is caught up", async () => {
    const prisma = sc.db.prisma;
    // April's 月报告 was due 2030-05-05 14:30; the first tick after downtime comes 47 h later.
    expect((await sendDueReports(prisma, sc.config, chinaDate(2030, 5, 7, 13, 30))).sent).toBe(1);
    expect(await prisma.reportSnapshot.findUnique({ where: { kind_period: { kind: "MONTHLY", period: "2030-04" } } })).not.toBeNull();
  });
});
