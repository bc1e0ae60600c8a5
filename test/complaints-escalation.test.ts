// The complaint escalation job with two jobs processes sharing PostgreSQL and Redis: an unclaimed ticket past its
// response limit is reminded to the secretary once, an overdue one goes to the town and then the county once each,
// whatever the number of processes or ticks; a catch-up after downtime takes every missed step, in order.
// The clock is passed in, except in the last test, which runs the real schedules of two startJobs.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startJobs } from "../jobs/index.ts";
import type { AppContext } from "../core/context.ts";
import { createCoordination } from "../core/coord/index.ts";
import { openDatabase, type Database } from "../core/db/index.ts";
import { runComplaintEscalation, type EscalationRun } from "../core/complaints/escalation.ts";
import { claimComplaint, decideExtension, fileComplaint, requestExtension, resolveComplaint } from "../core/complaints/complaints.ts";
import { deriveState, sameState, stateOf } from "../core/complaints/state.ts";
import type { ComplaintActor } from "../core/complaints/transition.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ACCOUNT = "wx-escalation";
/** China wall-clock time → instant. */
const cn = (s: string) => new Date(`${s}+08:00`);

interface Two {
  a: TestContext;
  /** A second "process": its own database pool and coordination client on the same database and Redis prefix. */
  b: AppContext;
  dbB: Database;
  county: SmallCounty;
  groups: { town1: number; county: number };
}

async function twoProcesses(label: string): Promise<Two> {
  const a = await createTestContext(label);
  const dbB = await openDatabase({ url: a.db.url, pgliteDir: "memory://", retries: 0 });
  const b: AppContext = { ...a, db: dbB, coord: createCoordination(a.config, a.log, { name: `nbtest:${label}:b` }) };
  const prisma = a.db.prisma;
  const county = await smallCounty(prisma, "ES");
  await prisma.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 1000, sendsPerHour: 20000 } });
  await linkWechat(prisma, ACCOUNT, "wx_wangwu", "王五", county.members.wangwu.id);
  await linkWechat(prisma, ACCOUNT, "wx_zhangsan", "张三", county.members.zhangsan.id);
  const town1 = (await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "dongshan-cadres@chatroom", topic: "东山镇干部群", orgUnitId: county.town1.id, kind: "CADRE" } })).id;
  const countyGroup = (await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "county-cadres@chatroom", topic: "县委组织部工作群", orgUnitId: county.county.id, kind: "CADRE" } })).id;
  return { a, b, dbB, county, groups: { town1, county: countyGroup } };
}

async function closeTwo(t: Two | undefined) {
  if (!t) return;
  await t.dbB.close();
  await t.b.coord.close();
  await t.a.close();
}

const sum = (runs: EscalationRun[]) => runs.reduce((s, r) => ({ reminded: s.reminded + r.reminded, escalated: s.escalated + r.escalated, closed: s.closed + r.closed }), { reminded: 0, escalated: 0, closed: 0 });

let t: Two;
let wangwu: ComplaintActor;
let townAdmin: ComplaintActor;

/** Both processes run the job at `now`, twice each, all at once. */
async function tick(now: Date) {
  const runs = await Promise.all([t.a, t.b, t.a, t.b].map((ctx) => runComplaintEscalation(ctx.db.prisma, ctx.config, now)));
  return sum(runs);
}

const file = (at: Date, content: string) =>
  t.a.db.prisma.$transaction((tx) => fileComplaint(tx, { memberId: t.county.members.zhangsan.id, channel: "WECHAT" }, { content }, t.a.config, at)).then((f) => f.complaint);

async function history(id: number) {
  const c = await t.a.db.prisma.complaint.findUniqueOrThrow({ where: { id }, include: { events: { orderBy: { id: "asc" } } } });
  expect(sameState(deriveState(c.events)!, stateOf(c))).toBe(true);
  return c;
}

const deliveries = (prefix: string) => t.a.db.prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: prefix } } });

beforeAll(async () => {
  t = await twoProcesses("complaint-esc");
  wangwu = { role: "BRANCH_SECRETARY", orgPath: t.county.branch1.path, cadreUserId: null, memberId: t.county.members.wangwu.id, identityId: null, channel: "WECHAT" };
  const admin = await t.a.db.prisma.cadreUser.create({ data: { username: "dongshan", passwordHash: "x", displayName: "东山镇管理员", role: "TOWN_ADMIN", orgUnitId: t.county.town1.id } });
  townAdmin = { role: "TOWN_ADMIN", orgPath: t.county.town1.path, cadreUserId: admin.id, memberId: null, identityId: null, channel: "api" };
});

afterAll(async () => closeTwo(t));

describe("reminders and escalation, two processes, a controllable clock", () => {
  let id: number;

  test("unclaimed past the response limit: the secretary is reminded once", async () => {
    // Monday 10:00: respond by Tuesday 10:00, resolve by Monday 30th 10:00 (five working days).
    const c = await file(cn("2026-11-23T10:00"), "水渠堵了");
    id = c.id;
    expect(c.responseDueAt).toEqual(cn("2026-11-24T10:00"));
    expect(c.resolveDueAt).toEqual(cn("2026-11-30T10:00"));
    expect(await tick(cn("2026-11-24T09:59"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    expect(await tick(cn("2026-11-24T10:05"))).toEqual({ reminded: 1, escalated: 0, closed: 0 });
    expect(await tick(cn("2026-11-25T10:05"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    const h = await history(id);
    expect(h.events.map((e) => e.kind)).toEqual(["FILED", "REMINDED"]);
    expect(h.events[1]).toMatchObject({ channel: "jobs", actorId: null, toUnitId: t.county.branch1.id });
    const sent = await deliveries(`complaint:${id}:remind:`);
    expect(sent).toHaveLength(1);
    expect(sent[0].body).toContain("【催办】");
    expect(sent[0].identityId).not.toBeNull();
  });

  test("overdue: to the town at the deadline, to the county two working days later, once each", async () => {
    expect(await tick(cn("2026-11-30T10:01"))).toEqual({ reminded: 0, escalated: 1, closed: 0 });
    let h = await history(id);
    expect(h.escalationLevel).toBe(1);
    expect(h.events.at(-1)).toMatchObject({ kind: "ESCALATED", toUnitId: t.county.town1.id, data: { level: 1 } });
    const town = await deliveries(`complaint:${id}:escalate:L1:`);
    expect(town.filter((d) => d.groupId === t.groups.town1)).toHaveLength(1);
    expect(town.find((d) => d.groupId === t.groups.town1)!.body).toMatch(/【诉求逾期】.*现报乡镇督办/);

    // Tuesday: not yet (the county follows two working days after the deadline).
    expect(await tick(cn("2026-12-01T12:00"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    expect(await tick(cn("2026-12-02T10:01"))).toEqual({ reminded: 0, escalated: 1, closed: 0 });
    expect(await tick(cn("2026-12-09T10:01"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    h = await history(id);
    expect(h.escalationLevel).toBe(2);
    expect(h.events.map((e) => e.kind)).toEqual(["FILED", "REMINDED", "ESCALATED", "ESCALATED"]);
    expect(h.events.at(-1)).toMatchObject({ toUnitId: t.county.county.id, data: { level: 2 } });
    const county = await deliveries(`complaint:${id}:escalate:L2:`);
    expect(county.filter((d) => d.groupId === t.groups.county)).toHaveLength(1);
    // Everything this ticket ever sent: the filing notice, the reminder, the town, the county; one each.
    const all = await deliveries(`complaint:${id}:`);
    expect(all.map((d) => d.idempotencyKey.split(":")[2]).sort()).toEqual(["escalate", "escalate", "filed", "remind"]);
  });

  test("claimed in time: no reminder; an approved extension moves the escalation with the deadline", async () => {
    const c = await file(cn("2026-11-23T10:00"), "路面塌陷");
    await t.a.db.prisma.$transaction(async (tx) => {
      await claimComplaint(tx, wangwu, c.id, cn("2026-11-23T11:00"));
      await requestExtension(tx, wangwu, c.id, 3, "需等施工队", cn("2026-11-27T09:00"));
      await decideExtension(tx, townAdmin, c.id, true, null, cn("2026-11-27T10:00"));
    });
    expect((await history(c.id)).resolveDueAt).toEqual(cn("2026-12-03T10:00"));
    expect(await tick(cn("2026-11-30T10:05"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
    expect(await tick(cn("2026-12-03T10:05"))).toEqual({ reminded: 0, escalated: 1, closed: 0 });
    expect((await history(c.id)).events.map((e) => e.kind)).toEqual(["FILED", "CLAIMED", "EXTENSION_REQUESTED", "EXTENSION_APPROVED", "ESCALATED"]);
    // Resolved now: nothing more happens to it, however late.
    await t.a.db.prisma.$transaction((tx) => resolveComplaint(tx, wangwu, c.id, "已修复", cn("2026-12-04T09:00")));
    expect(await tick(cn("2026-12-07T10:05"))).toEqual({ reminded: 0, escalated: 0, closed: 0 });
  });

  test("after downtime every missed step is taken once, in order", async () => {
    const c = await file(cn("2026-11-02T10:00"), "垃圾没人收");
    expect(await tick(cn("2026-11-20T08:00"))).toEqual({ reminded: 1, escalated: 2, closed: 0 });
    const h = await history(c.id);
    expect(h.events.map((e) => e.kind)).toEqual(["FILED", "REMINDED", "ESCALATED", "ESCALATED"]);
    expect(h.events.slice(2).map((e) => (e.data as { level: number }).level)).toEqual([1, 2]);
  });

  test("a resolved ticket nobody rates is closed once the rating window has passed", async () => {
    const c = await file(cn("2026-11-02T10:00"), "井盖丢了");
    await t.a.db.prisma.$transaction(async (tx) => {
      await claimComplaint(tx, wangwu, c.id, cn("2026-11-02T11:00"));
      await resolveComplaint(tx, wangwu, c.id, "已补上井盖", cn("2026-11-03T10:00"));
    });
    expect((await tick(cn("2026-11-09T10:00"))).closed).toBe(0);
    expect((await tick(cn("2026-11-10T10:01"))).closed).toBe(1);
    const h = await history(c.id);
    expect(h.status).toBe("CLOSED");
    expect(h.rating).toBeNull();
    expect(h.events.at(-1)).toMatchObject({ kind: "CLOSED", channel: "jobs" });
    expect((await deliveries(`complaint:${c.id}:e${h.events.at(-1)!.id}:filer`))[0].body).toContain("已自动结案");
  });
});

describe("who hears about it", () => {
  test("a branch whose secretary cannot be reached passes the notice up until someone can be", async () => {
    // 河西村党支部: its secretary has no chat identity, 西河乡 has no cadre group nor admins: the county hears of it.
    const c = await t.a.db.prisma.$transaction((tx) => fileComplaint(tx, { memberId: t.county.members.zhaoliu.id, channel: "WECHAT" }, { content: "河西村的路灯" }, t.a.config));
    expect(c.unit.id).toBe(t.county.branch2.id);
    expect(c.notified).toBe(1);
    const sent = await deliveries(`complaint:${c.complaint.id}:filed`);
    expect(sent).toHaveLength(1);
    expect(sent[0].groupId).toBe(t.groups.county);
    expect(sent[0].body).toMatch(/^（「河西村党支部」暂无可联系的负责人，转告上级）\n【新诉求】/);
  });

  test("nobody approves their own extension", async () => {
    const c = await file(new Date(), "自己批自己");
    const countyAdmin: ComplaintActor = { role: "COUNTY_ADMIN", orgPath: t.county.county.path, cadreUserId: null, memberId: t.county.members.sunqi.id, identityId: null, channel: "api" };
    await t.a.db.prisma.$transaction(async (tx) => {
      await claimComplaint(tx, townAdmin, c.id);
      await requestExtension(tx, townAdmin, c.id, 2, "等材料");
    });
    await expect(t.a.db.prisma.$transaction((tx) => decideExtension(tx, townAdmin, c.id, true, null))).rejects.toMatchObject({ code: "SELF_APPROVAL" });
    await expect(t.a.db.prisma.$transaction((tx) => decideExtension(tx, wangwu, c.id, true, null))).rejects.toMatchObject({ code: "NOT_APPROVER" });
    const r = await t.a.db.prisma.$transaction((tx) => decideExtension(tx, countyAdmin, c.id, true, null));
    expect(r.complaint.extensionDays).toBeNull();
    expect((await history(c.id)).events.map((e) => e.kind)).toEqual(["FILED", "CLAIMED", "EXTENSION_REQUESTED", "EXTENSION_APPROVED"]);
  });
});

describe("the real schedule in two jobs processes", () => {
  let u: Two;
  afterAll(async () => closeTwo(u));

  test("each reminder and escalation happens exactly once", async () => {
    u = await twoProcesses("complaint-esc-cron");
    const every = { ...u.a.config, COMPLAINT_ESCALATION_CRON: "* * * * * *" };
    // Filed three weeks ago and forgotten: reminder, town and county are all due.
    const filedAt = new Date(Date.now() - 21 * 86_400_000);
    const c = await u.a.db.prisma.$transaction((tx) => fileComplaint(tx, { memberId: u.county.members.zhangsan.id, channel: "WECHAT" }, { content: "桥栏杆断了" }, every, filedAt)).then((f) => f.complaint);
    const jobsA = await startJobs({ ...u.a, config: every });
    const jobsB = await startJobs({ ...u.b, config: every });
    try {
      await eventually(async () => expect((await u.a.db.prisma.complaint.findUniqueOrThrow({ where: { id: c.id } })).escalationLevel).toBe(2), 15_000);
      // A few more fires in both processes change nothing.
      const fires = await u.a.db.prisma.jobRun.count({ where: { job: "complaint-escalation" } });
      await eventually(async () => expect(await u.a.db.prisma.jobRun.count({ where: { job: "complaint-escalation" } })).toBeGreaterThanOrEqual(fires + 2), 10_000);
    } finally {
      await jobsA.stop();
      await jobsB.stop();
    }
    const events = await u.a.db.prisma.complaintEvent.groupBy({ by: ["kind"], where: { complaintId: c.id }, _count: true });
    expect(Object.fromEntries(events.map((e) => [e.kind, e._count]))).toEqual({ FILED: 1, REMINDED: 1, ESCALATED: 2 });
    const keys = (await u.a.db.prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: `complaint:${c.id}:` } } })).map((d) => d.idempotencyKey);
    expect(keys.filter((k) => k.includes(":remind:"))).toHaveLength(1);
    expect(keys.filter((k) => k.includes(":escalate:L1:") && k.endsWith(`:g${u.groups.town1}`))).toHaveLength(1);
    expect(keys.filter((k) => k.includes(":escalate:L2:") && k.endsWith(`:g${u.groups.county}`))).toHaveLength(1);
    const runs = await u.a.db.prisma.jobRun.findMany({ where: { job: "complaint-escalation" } });
    expect(new Set(runs.map((r) => r.fireAt.getTime())).size).toBe(runs.length);
  });
});
