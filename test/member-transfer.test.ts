// A member's history through the HTTP API against real Postgres: 组织关系转接 from 李家庄村党支部 (A) to 河西村党支部 (B)
// leaves last month's 月报告 and meeting details of A as they were, and the member is expected only at B's meetings
// after the transfer; a 去世 from a date keeps the member at the meetings before it and drops them from the later ones.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { periodOf, previousPeriod } from "../core/calendar/periods.ts";
import type { MeetingType } from "../core/db/index.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
const tokens = {} as Record<"county" | "town1", string>;
const lastMonth = previousPeriod(periodOf("month", new Date()));
/** An instant on day `day` of last month at 09:00 China time. */
const lastMonthDay = (day: number) => new Date(lastMonth.start.getTime() + (day - 1) * 86_400_000 + 9 * 3600_000);
const m = {} as Record<"aEarly" | "aCongress" | "aLate" | "bBefore" | "aFuture" | "bFuture", number>;

async function meeting(unitId: number, type: MeetingType, at: Date, present: number[], planned = false) {
  const prisma = ctx.db.prisma;
  const row = await prisma.meeting.create({
    data: {
      orgUnitId: unitId,
      type,
      topic: `${type} ${at.toISOString()}`,
      plannedAt: at,
      checkinOpensAt: new Date(at.getTime() - 30 * 60_000),
      checkinClosesAt: new Date(at.getTime() + 30 * 60_000),
      status: planned ? "PLANNED" : "HELD",
      heldAt: planned ? null : at,
      finalizedAt: planned ? null : new Date(at.getTime() + 30 * 60_000),
    },
  });
  await prisma.attendance.createMany({ data: present.map((memberId) => ({ meetingId: row.id, memberId, status: "PRESENT" as const, source: "CONSOLE" as const })) });
  return row.id;
}

beforeAll(async () => {
  ctx = await createTestContext("member-transfer");
  county = await smallCounty(ctx.db.prisma, "MT");
  const { zhangsan, lisi, wangwu, zhaoliu } = county.members;
  const a = county.branch1.id;
  const b = county.branch2.id;
  m.aEarly = await meeting(a, "THEME_DAY", lastMonthDay(5), [zhangsan.id, lisi.id]);
  // Half of four present: the 党员大会 makes its quorum (at least half of the branch's members).
  m.aCongress = await meeting(a, "MEMBER_CONGRESS", lastMonthDay(8), [zhangsan.id, lisi.id]);
  m.aLate = await meeting(a, "COMMITTEE", lastMonthDay(20), [wangwu.id]);
  m.bBefore = await meeting(b, "THEME_DAY", lastMonthDay(6), [zhaoliu.id]);
  const soon = new Date(Date.now() + 2 * 86_400_000);
  m.aFuture = await meeting(a, "STUDY", soon, [], true);
  m.bFuture = await meeting(b, "STUDY", soon, [], true);
  Object.assign(
    tokens,
    await cadreTokens(ctx, "mt", [
      { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
      { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    ]),
  );
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

const call = apiCaller(() => api.url);

function ok(res: Answer) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status: 200, error: undefined });
  return res.json;
}

async function monthly() {
  const r = ok(await call(`/api/reports/monthly?period=${lastMonth.key}`, { token: tokens.county }));
  const row = (id: number) => r.branches.find((x: any) => x.id === id);
  return { a: row(county.branch1.id), b: row(county.branch2.id), towns: r.towns, total: r.total };
}

/** A's 党员大会 cell for last month's quarter: held and counted, or not counted for want of a quorum. */
async function congressCell() {
  const quarter = periodOf("quarter", lastMonth.start).key;
  const r = ok(await call(`/api/calendar/compliance?period=${quarter}`, { token: tokens.county }));
  const cell = r.branches.find((x: any) => x.id === county.branch1.id).cells.find((c: any) => c.type === "MEMBER_CONGRESS");
  return { state: cell.state, heldMeetingIds: cell.heldMeetingIds, notCounted: cell.notCounted };
}

async function detail(meetingId: number) {
  const r = ok(await call(`/api/meetings/${meetingId}`, { token: tokens.county }));
  const names = (list: any[]) => list.map((p) => p.name).sort();
  return { rosterCount: r.rosterCount, present: names(r.present), absent: names(r.absent), guests: names(r.guests) };
}

describe("组织关系转接 keeps the past", () => {
  test("张三 moves from A to B: last month's 参会率 and 应到 of A are unchanged, and only B's later meetings expect him", async () => {
    const before = await monthly();
    expect(before.a.attendance).toEqual({ meetings: 3, expected: 12, present: 5, leave: 0, rate: 0.4167 });
    expect(before.b.attendance).toEqual({ meetings: 1, expected: 1, present: 1, leave: 0, rate: 1 });
    const aEarly = await detail(m.aEarly);
    expect(aEarly).toEqual({ rosterCount: 4, present: ["张三", "李四"], absent: ["孙七", "王五"], guests: [] });
    expect(await detail(m.bBefore)).toEqual({ rosterCount: 1, present: ["赵六"], absent: [], guests: [] });
    expect((await detail(m.aFuture)).absent).toContain("张三");
    const congress = await congressCell();
    expect(congress).toEqual({ state: "HELD", heldMeetingIds: [m.aCongress], notCounted: [] });

    const moved = ok(await call(`/api/members/${county.members.zhangsan.id}/transfer`, { token: tokens.county, body: { toBranch: county.branch2.code, reason: "外出务工，组织关系转入" } }));
    expect(moved).toMatchObject({ branch: { id: county.branch2.id, code: county.branch2.code }, status: "ACTIVE", phone: "138****1234" });
    expect(moved.history).toEqual([
      expect.objectContaining({ branch: expect.objectContaining({ id: county.branch1.id }), status: "ACTIVE", from: null, to: moved.rosterSince, endedBy: "transfer" }),
    ]);

    // The past of A and B: the same report, the same 应到 and attendance.
    const after = await monthly();
    expect(after.a).toEqual(before.a);
    expect(after.b).toEqual(before.b);
    expect(after.towns).toEqual(before.towns);
    expect(await detail(m.aEarly)).toEqual(aEarly);
    // The 党员大会 keeps its quorum: 张三 was one of A's members, present, when it met.
    expect(await congressCell()).toEqual(congress);
    // B's meeting before the transfer does not list him; B's next one does, A's next one no longer.
    expect(await detail(m.bBefore)).toEqual({ rosterCount: 1, present: ["赵六"], absent: [], guests: [] });
    expect(await detail(m.bFuture)).toEqual({ rosterCount: 2, present: [], absent: ["张三", "赵六"], guests: [] });
    expect(await detail(m.aFuture)).toEqual({ rosterCount: 3, present: [], absent: ["孙七", "李四", "王五"], guests: [] });
    // The meeting list's counts agree with the details.
    const list = ok(await call(`/api/meetings?unitId=${county.branch1.id}&pageSize=50`, { token: tokens.county }));
    expect(list.items.find((x: any) => x.id === m.aEarly).counts).toMatchObject({ rosterCount: 4, present: 2 });
    expect(list.items.find((x: any) => x.id === m.aFuture).counts).toMatchObject({ rosterCount: 3 });

    // Audited, with both ends.
    const log = await ctx.db.prisma.auditLog.findFirstOrThrow({ where: { action: "member.transfer", targetId: String(county.members.zhangsan.id) } });
    expect(log.detail).toMatchObject({ from: { branchId: county.branch1.id }, to: { branchId: county.branch2.id }, reason: "外出务工，组织关系转入" });

    // Moving him again to where he is: refused.
    expectApiError(await call(`/api/members/${county.members.zhangsan.id}/transfer`, { token: tokens.county, body: { toBranchId: county.branch2.id } }), 400, "TRANSFER_SAME_BRANCH");
  });

  test("李四 去世 from the 12th of last month: still expected at the 5th's and 8th's meetings, not at the 20th's, nor at any later one", async () => {
    const lisi = county.members.lisi.id;
    const day = (d: number) => new Date(lastMonthDay(d).getTime() + 8 * 3600_000).toISOString().slice(0, 10);
    const res = ok(await call(`/api/members/${lisi}/status`, { token: tokens.town1, body: { status: "DECEASED", effectiveOn: day(12), reason: "病故" } }));
    expect(res).toMatchObject({ status: "DECEASED", statusLabel: "已去世" });
    expect(res.history[0]).toMatchObject({ status: "ACTIVE", endedBy: "status" });

    expect((await detail(m.aEarly)).absent).toEqual(["孙七", "王五"]); // present at the 5th, still counted there
    expect((await detail(m.aEarly)).present).toEqual(["张三", "李四"]);
    expect((await detail(m.aLate)).absent).toEqual(["孙七", "张三"]); // 张三 had not moved yet; 李四 had died
    expect((await detail(m.aLate)).rosterCount).toBe(3);
    expect((await detail(m.aFuture)).absent).toEqual(["孙七", "王五"]);
    const r = await monthly();
    expect(r.a.attendance).toEqual({ meetings: 3, expected: 11, present: 5, leave: 0, rate: 0.4545 });
    expect((await detail(m.aCongress)).rosterCount).toBe(4); // the 8th: 李四 still alive

    // 去世 cannot be undone or dated ahead; another change needs a real date.
    expectApiError(await call(`/api/members/${lisi}/status`, { token: tokens.town1, body: { status: "ACTIVE", effectiveOn: day(13) } }), 400, "STATUS_CHANGE_INVALID");
    const sunqi = county.members.sunqi.id;
    const tomorrow = new Date(Date.now() + 8 * 3600_000 + 86_400_000).toISOString().slice(0, 10);
    const e = expectApiError(await call(`/api/members/${sunqi}/status`, { token: tokens.town1, body: { status: "DECEASED", effectiveOn: tomorrow } }), 400, "DATE_IN_FUTURE");
    expect(e.message).toContain("不能晚于今天");
    expectApiError(await call(`/api/members/${sunqi}/status`, { token: tokens.town1, body: { status: "SUSPENDED", effectiveOn: "2026-02-30" } }), 400, "DATE_INVALID");
    expect((await ctx.db.prisma.member.findUniqueOrThrow({ where: { id: sunqi } })).status).toBe("ACTIVE");
  });
});
