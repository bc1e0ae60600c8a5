// The 三会一课 calendar jobs as the county lives them: a branch group is reminded before its meeting, a secretary is
// told a week before the month ends what is still unplanned, the secretary and the town hear on the 1st what was
// missed, a secretary is nudged on the morning of the 主题党日 when nothing is planned; all on the Shanghai clock.
// What must not be lost or doubled: each of those once, with two jobs processes ticking at the same instants, with a
// process SIGKILLed in the middle of a sweep over 2,000 branches, and after three days with no jobs process at all.
// The clock is passed in (no waiting), except in the last test, which runs the real schedule of two jobs processes.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AppContext } from "../core/context.ts";
import { loadConfig } from "../core/config.ts";
import { createCoordination } from "../core/coord/index.ts";
import { openDatabase, type Database, type PrismaClient } from "../core/db/index.ts";
import { runCalendarReminders, type CalendarReminderRun } from "../core/calendar/reminders.ts";
import { cancelMeeting, publishMeeting, updateMeeting, type Actor } from "../core/meetings/meetings.ts";
import { formatZhDateTime } from "../core/meetings/time.ts";
import { chinaDate, chinaParts } from "../core/calendar/periods.ts";
import { startJobs } from "../jobs/index.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { addMeeting, calendarCounty, cn, manyBranches, type CalendarCounty } from "./support/calendar-fixtures.ts";

const MIN = 60_000;
const DAY = 86_400_000;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const withAppName = (url: string, name: string) => {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
};
const plus = (at: Date, minutes: number) => new Date(at.getTime() + minutes * MIN);
const GROUP_FALLBACK = "（支部书记还没有绑定微信或QQ，这条提醒发到支部群。书记在群里发送“我是 姓名 手机后四位”绑定后，今后改为私下提醒。）";
const HOW_TO_PUBLISH = "请及时安排，发送“发布学习 时间 主题 地点 类型”即可通知党员，例如：发布学习 明天19:30 学习党章 村委会 支委会";

const deliveries = (prisma: PrismaClient, prefix: string) => prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: prefix } }, orderBy: { idempotencyKey: "asc" } });
const note = (prisma: PrismaClient, key: string) => prisma.calendarNote.findUnique({ where: { key } });
const notesOf = (prisma: PrismaClient, kind: string) => prisma.calendarNote.findMany({ where: { kind }, orderBy: { key: "asc" } });

function ticker(ctx: AppContext) {
  return (now: Date, opts?: { catchUp?: boolean }) => runCalendarReminders(ctx.db.prisma, ctx.config, now, opts);
}

describe("before a meeting, its group is reminded (default 24 h and 1 h)", () => {
  let ctx: TestContext;
  let k: CalendarCounty;
  let wangwu: Actor;
  let tick: ReturnType<typeof ticker>;
  /** The simulated clock starts at the machine's next whole minute: meetings are published (createdAt) before it. */
  const R = new Date(Math.ceil((Date.now() + 2 * MIN) / MIN) * MIN);
  /** `hh:mm` Shanghai time, `days` days after R. */
  const dayAfter = (days: number, hour: number, minute: number) => {
    const { year, month, day } = chinaParts(new Date(R.getTime() + days * DAY));
    return chinaDate(year, month, day, hour, minute);
  };
  const publish = (plannedAt: Date, type: "STUDY" | "COMMITTEE" = "STUDY", topic = "学习党章") =>
    ctx.db.prisma.$transaction((tx) => publishMeeting(tx, wangwu, { unitId: k.b1.id, type, topic, place: "村委会", plannedAt }, { opensBeforeMin: 30, closesAfterMin: 30 }, R)).then((r) => r.meeting);
  const key = (m: { id: number }, offset: number, plannedAt: Date) => `meeting:${m.id}:${offset}:${plannedAt.toISOString()}`;

  beforeAll(async () => {
    ctx = await createTestContext("cal-meeting");
    k = await calendarCounty(ctx.db.prisma, "KA");
    wangwu = { role: "BRANCH_SECRETARY", orgPath: k.b1.path, cadreUserId: null, identityId: k.identities.b1, channel: "WECHAT" };
    tick = ticker(ctx);
  });
  afterAll(async () => ctx?.close());

  test("at 24 h and at 1 h before, to the minute on the Shanghai clock; one minute early nothing; never twice", async () => {
    const P = dayAfter(3, 19, 30);
    const m = await publish(P);
    const at24 = plus(P, -1440);
    // 19:30 the evening before in Shanghai is 11:30 UTC.
    expect(at24.toISOString()).toMatch(/T11:30:00\.000Z$/);

    await tick(plus(at24, -1));
    expect(await note(ctx.db.prisma, key(m, 1440, P))).toBeNull();
    expect(await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).toHaveLength(0);

    expect((await tick(at24)).byKind.meeting).toEqual({ sent: 1, skipped: 0 });
    const [d24] = await deliveries(ctx.db.prisma, key(m, 1440, P));
    expect(d24).toMatchObject({ groupId: k.groups.b1, identityId: null, priority: 5, idempotencyKey: `${key(m, 1440, P)}:g${k.groups.b1}` });
    expect(d24.body).toBe(
      [`【学习提醒】学习党章`, `时间：${formatZhDateTime(P, at24)}（24 小时后开始）`, "地点：村委会", "签到：19:00—20:00，在群里发送“签到”", "不能参加请发送“请假 原因”。"].join("\n"),
    );
    expect(d24.body).toContain("19:30（24 小时后开始）");

    // Every minute after: nothing more until the hour before.
    for (const t of [plus(at24, 1), plus(at24, 7), plus(P, -61)]) expect((await tick(t)).byKind.meeting.sent).toBe(0);
    await tick(plus(P, -60));
    const [d1] = await deliveries(ctx.db.prisma, key(m, 60, P));
    expect(d1.body).toContain("19:30（1 小时后开始）");
    for (const t of [plus(P, -59), plus(P, 0), plus(P, 45)]) expect((await tick(t)).byKind.meeting.sent).toBe(0);

    // Lost: none; doubled: none. Exactly the two reminders, one group message each.
    expect((await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).map((d) => d.idempotencyKey)).toEqual([`${key(m, 1440, P)}:g${k.groups.b1}`, `${key(m, 60, P)}:g${k.groups.b1}`]);
    expect(await note(ctx.db.prisma, key(m, 60, P))).toMatchObject({ status: "SENT", deliveries: 1, kind: "meeting", orgUnitId: k.b1.id });
  });

  test("published three hours ahead: no 24 h reminder (on record as skipped), the 1 h one comes", async () => {
    const P = plus(R, 180);
    const m = await publish(P, "COMMITTEE", "研究秋收工作");
    await tick(plus(R, 1));
    expect(await note(ctx.db.prisma, key(m, 1440, P))).toMatchObject({ status: "SKIPPED", reason: "PUBLISHED_AFTER_REMINDER_TIME", deliveries: 0 });
    expect(await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).toHaveLength(0);
    await tick(plus(P, -60));
    const sent = await deliveries(ctx.db.prisma, `meeting:${m.id}:`);
    expect(sent.map((d) => d.idempotencyKey)).toEqual([`${key(m, 60, P)}:g${k.groups.b1}`]);
    expect(sent[0].body).toMatch(/^【支委会提醒】研究秋收工作\n/);
  });

  test("修改学习 to a new time: reminded again for the new time, never for the old one", async () => {
    const P = dayAfter(2, 19, 0);
    const m = await publish(P, "STUDY", "学习二十大精神");
    await tick(plus(P, -1440));
    expect(await deliveries(ctx.db.prisma, key(m, 1440, P))).toHaveLength(1);

    // The next morning the secretary moves it a day later.
    const moved = dayAfter(3, 19, 0);
    await ctx.db.prisma.$transaction((tx) => updateMeeting(tx, wangwu, m.id, { plannedAt: moved }, plus(P, -600)));
    await tick(plus(P, -60)); // the old hour-before: the meeting is no longer then
    expect(await note(ctx.db.prisma, key(m, 60, P))).toBeNull();
    await tick(plus(moved, -1440));
    await tick(plus(moved, -60));
    await tick(plus(moved, -30));
    const keys = (await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).map((d) => d.idempotencyKey).filter((x) => !x.includes(":update:"));
    expect(keys).toEqual([`${key(m, 1440, P)}:g${k.groups.b1}`, `${key(m, 1440, moved)}:g${k.groups.b1}`, `${key(m, 60, moved)}:g${k.groups.b1}`].sort());
  });

  test("moved to within 24 h: the 24 h reminder for the new time is skipped, not sent late", async () => {
    // Published two days ago for next week; moved now to three hours from now.
    const m = await addMeeting(ctx.db.prisma, { unitId: k.b1.id, type: "STUDY", plannedAt: plus(R, 7 * 1440), createdAt: new Date(R.getTime() - 2 * DAY) });
    const P = plus(R, 180);
    await ctx.db.prisma.$transaction((tx) => updateMeeting(tx, wangwu, m.id, { plannedAt: P }, R));
    await tick(plus(R, 1));
    expect(await note(ctx.db.prisma, key(m, 1440, P))).toMatchObject({ status: "SKIPPED", reason: "CHANGED_AFTER_REMINDER_TIME" });
    await tick(plus(P, -60));
    expect((await deliveries(ctx.db.prisma, `meeting:${m.id}:60:`)).map((d) => d.groupId)).toEqual([k.groups.b1]);
  });

  test("取消学习: a cancelled meeting is never reminded", async () => {
    const P = dayAfter(2, 9, 0);
    const m = await publish(P);
    await ctx.db.prisma.$transaction((tx) => cancelMeeting(tx, wangwu, m.id, "村里停电", R));
    for (const t of [plus(P, -1440), plus(P, -60)]) await tick(t);
    expect(await ctx.db.prisma.calendarNote.count({ where: { key: { startsWith: `meeting:${m.id}:` } } })).toBe(0);
    expect((await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).map((d) => d.idempotencyKey)).toEqual([`meeting:${m.id}:cancel:g${k.groups.b1}`]);
  });
});

describe("due, overdue and 主题党日 reminders on the Shanghai clock", () => {
  let ctx: TestContext;
  let k: CalendarCounty;
  let tick: ReturnType<typeof ticker>;
  let g1Meeting: number;

  beforeAll(async () => {
    ctx = await createTestContext("cal-sweeps");
    k = await calendarCounty(ctx.db.prisma, "KB");
    const p = ctx.db.prisma;
    // November: 李家庄村 held its 支委会 and 主题党日, the first party group has its meeting planned, the second nothing;
    // 河西村 held everything; 王家村 and 河东村 nothing.
    await addMeeting(p, { unitId: k.b1.id, type: "COMMITTEE", plannedAt: cn("2026-11-05T19:00"), status: "HELD" });
    await addMeeting(p, { unitId: k.b1.id, type: "THEME_DAY", plannedAt: cn("2026-11-10T19:00"), status: "HELD" });
    g1Meeting = (await addMeeting(p, { unitId: k.b1.g1.id, type: "PARTY_GROUP", plannedAt: cn("2026-11-26T19:00"), createdAt: cn("2026-11-20T10:00") })).id;
    await addMeeting(p, { unitId: k.b3.id, type: "COMMITTEE", plannedAt: cn("2026-11-05T19:00"), status: "HELD" });
    await addMeeting(p, { unitId: k.b3.g1.id, type: "PARTY_GROUP", plannedAt: cn("2026-11-08T19:00"), status: "HELD" });
    await addMeeting(p, { unitId: k.b3.id, type: "THEME_DAY", plannedAt: cn("2026-11-10T19:00"), status: "HELD" });
    tick = ticker(ctx);
  });
  afterAll(async () => ctx?.close());

  test("seven days before the month ends, 09:00 Shanghai: each secretary is told what is still unplanned, once", async () => {
    await tick(cn("2026-11-24T08:59"));
    expect(await notesOf(ctx.db.prisma, "due")).toHaveLength(0);

    const run = await tick(cn("2026-11-24T09:00"));
    expect(run.byKind.due).toEqual({ sent: 3, skipped: 0 });
    const notes = await notesOf(ctx.db.prisma, "due");
    // 河西村 held everything: nothing to say to it.
    expect(notes.map((n) => n.key)).toEqual([`due:${k.b1.id}:2026-11`, `due:${k.b2.id}:2026-11`, `due:${k.b4.id}:2026-11`].sort());
    for (const n of notes) expect(n).toMatchObject({ status: "SENT", deliveries: 1, period: "2026-11", dueAt: new Date("2026-11-24T01:00:00.000Z") });

    const [b1] = await deliveries(ctx.db.prisma, `due:${k.b1.id}:`);
    expect(b1).toMatchObject({ identityId: k.identities.b1, accountId: k.accountId, groupId: null, channel: "WECHAT", priority: 5 });
    expect(b1.body).toBe(
      ["【三会一课提醒】李家庄村党支部：以下会议还没有召开，也还没有安排：", "· 2026年11月：第二党小组 党小组会", `以上会议须在 11月30日 之前召开（含当天，还有 7 天）。${HOW_TO_PUBLISH}`].join("\n"),
    );
    const [b2] = await deliveries(ctx.db.prisma, `due:${k.b2.id}:`);
    expect(b2.identityId).toBe(k.identities.b2);
    expect(b2.body).toContain("· 2026年11月：支委会、主题党日\n");
    // 河东村's secretary has no chat identity: its group hears it, with how to get it privately next time.
    const [b4] = await deliveries(ctx.db.prisma, `due:${k.b4.id}:`);
    expect(b4).toMatchObject({ groupId: k.groups.b4, identityId: null });
    expect(b4.body.endsWith(`\n${GROUP_FALLBACK}`)).toBe(true);

    for (const t of ["2026-11-24T09:01", "2026-11-24T15:00", "2026-11-27T09:00"]) expect((await tick(cn(t))).byKind.due.sent).toBe(0);
    expect(await deliveries(ctx.db.prisma, "due:")).toHaveLength(3);
  });

  test("the 1st at 09:00: what November missed, to each secretary and, one list per town, to the town cadre group", async () => {
    // The first party group's meeting took place (its check-in closed with people present).
    await ctx.db.prisma.meeting.update({ where: { id: g1Meeting }, data: { status: "HELD", finalizedAt: cn("2026-11-26T19:30") } });
    await tick(cn("2026-11-30T23:59"));
    await tick(cn("2026-12-01T08:59"));
    expect(await notesOf(ctx.db.prisma, "overdue")).toHaveLength(0);

    const run = await tick(cn("2026-12-01T09:00"));
    expect(run.byKind.overdue).toEqual({ sent: 3, skipped: 0 });
    expect(run.byKind["overdue-town"]).toEqual({ sent: 2, skipped: 0 });
    const [b1] = await deliveries(ctx.db.prisma, `overdue:${k.b1.id}:2026-11:`);
    expect(b1).toMatchObject({ identityId: k.identities.b1 });
    expect(b1.body).toBe(
      ["【三会一课逾期】李家庄村党支部：2026年11月已经结束，以下会议没有按期召开：", "· 2026年11月：第二党小组 党小组会", "已通报东山镇。请尽快安排召开；已经召开但没有签到记录的，请在管理后台补录。"].join("\n"),
    );
    expect((await deliveries(ctx.db.prisma, `overdue:${k.b2.id}:2026-11:`))[0].body).toContain("· 2026年11月：支委会、主题党日\n");
    expect(await deliveries(ctx.db.prisma, `overdue:${k.b3.id}:`)).toHaveLength(0);

    const town1 = await deliveries(ctx.db.prisma, `overdue-town:${k.town1.id}:2026-11:`);
    expect(town1.map((d) => d.groupId)).toEqual([k.groups.town1]);
    expect(town1[0].body).toBe(
      ["【三会一课逾期通报】东山镇：2026年11月有 2 个支部没有按期完成三会一课：", "· 李家庄村党支部：第二党小组 党小组会", "· 王家村党支部：支委会、主题党日", "已分别提醒各支部书记，请督促落实。"].join("\n"),
    );
    const town2 = await deliveries(ctx.db.prisma, `overdue-town:${k.town2.id}:2026-11:`);
    expect(town2.map((d) => d.groupId)).toEqual([k.groups.town2]);
    expect(town2[0].body).toContain("西河乡：2026年11月有 1 个支部");
    expect(town2[0].body).toContain("· 河东村党支部：支委会、主题党日");

    await tick(cn("2026-12-01T09:01"));
    await tick(cn("2026-12-02T09:00"));
    expect(await deliveries(ctx.db.prisma, "overdue")).toHaveLength(5);
  });

  test("主题党日 morning, 08:00: only the branches with nothing planned or held that month are reminded", async () => {
    await addMeeting(ctx.db.prisma, { unitId: k.b1.id, type: "THEME_DAY", plannedAt: cn("2026-12-10T15:00"), createdAt: cn("2026-12-01T10:00") });
    await tick(cn("2026-12-10T07:59"));
    expect(await notesOf(ctx.db.prisma, "theme-day")).toHaveLength(0);
    await tick(cn("2026-12-10T08:00"));
    const notes = await notesOf(ctx.db.prisma, "theme-day");
    expect(notes.map((n) => n.orgUnitId).sort()).toEqual([k.b2.id, k.b3.id, k.b4.id].sort());
    const [b2] = await deliveries(ctx.db.prisma, `theme-day:${k.b2.id}:2026-12:`);
    expect(b2).toMatchObject({ identityId: k.identities.b2 });
    expect(b2.body).toBe(
      ["【主题党日提醒】今天（12月10日）是王家村党支部的主题党日，本月的主题党日活动还没有安排。", "请及时组织，发送“发布学习 今天19:30 主题 地点 主题党日”即可通知党员。"].join("\n"),
    );
    expect((await deliveries(ctx.db.prisma, `theme-day:${k.b4.id}:`))[0].groupId).toBe(k.groups.b4);
    await tick(cn("2026-12-10T08:30"));
    expect(await deliveries(ctx.db.prisma, "theme-day:")).toHaveLength(3);
  });

  test("across a quarter end: the due reminder lists the quarter's 党员大会 and 党课 too", async () => {
    // 河西村 holds its December meetings; the quarter's 党员大会 and 党课 are still open.
    await addMeeting(ctx.db.prisma, { unitId: k.b3.id, type: "COMMITTEE", plannedAt: cn("2026-12-03T19:00"), status: "HELD" });
    await addMeeting(ctx.db.prisma, { unitId: k.b3.g1.id, type: "PARTY_GROUP", plannedAt: cn("2026-12-04T19:00"), status: "HELD" });
    await addMeeting(ctx.db.prisma, { unitId: k.b3.id, type: "THEME_DAY", plannedAt: cn("2026-12-10T19:00"), status: "HELD" });
    // December has 31 days: seven days before its end is the 25th.
    await tick(cn("2026-12-25T08:59"));
    expect(await note(ctx.db.prisma, `due:${k.b3.id}:2026-12`)).toBeNull();
    await tick(cn("2026-12-25T09:00"));
    const [b3] = await deliveries(ctx.db.prisma, `due:${k.b3.id}:2026-12:`);
    expect(b3.body).toBe(
      ["【三会一课提醒】河西村党支部：以下会议还没有召开，也还没有安排：", "· 2026年第四季度：党员大会、党课", `以上会议须在 12月31日 之前召开（含当天，还有 7 天）。${HOW_TO_PUBLISH}`].join("\n"),
    );
    const [b1] = await deliveries(ctx.db.prisma, `due:${k.b1.id}:2026-12:`);
    expect(b1.body).toContain("· 2026年12月：支委会、第一党小组 党小组会、第二党小组 党小组会\n· 2026年第四季度：党员大会、党课\n");
  });

  test("Dec 31 → Jan 1 09:00: the overdue alert rolls the year and includes the quarter", async () => {
    await tick(cn("2026-12-31T23:59"));
    await tick(cn("2027-01-01T08:59"));
    expect(await note(ctx.db.prisma, `overdue:${k.b3.id}:2026-12`)).toBeNull();
    await tick(cn("2027-01-01T09:00"));
    expect(await note(ctx.db.prisma, `overdue:${k.b3.id}:2026-12`)).toMatchObject({ status: "SENT", dueAt: new Date("2027-01-01T01:00:00.000Z") });
    const [b3] = await deliveries(ctx.db.prisma, `overdue:${k.b3.id}:2026-12:`);
    expect(b3).toMatchObject({ identityId: k.identities.b3 });
    expect(b3.body).toBe(
      ["【三会一课逾期】河西村党支部：2026年12月已经结束，以下会议没有按期召开：", "· 2026年第四季度：党员大会、党课", "已通报西河乡。请尽快安排召开；已经召开但没有签到记录的，请在管理后台补录。"].join("\n"),
    );
    const [town2] = await deliveries(ctx.db.prisma, `overdue-town:${k.town2.id}:2026-12:`);
    expect(town2.body).toContain("· 河西村党支部：党员大会（第四季度）、党课（第四季度）");
    expect(town2.body).toContain("有 2 个支部");
    // Each branch and town once for December, as for November.
    expect((await notesOf(ctx.db.prisma, "overdue")).filter((n) => n.period === "2026-12")).toHaveLength(4);
    await tick(cn("2027-01-01T09:30"));
    expect(await deliveries(ctx.db.prisma, "overdue-town:")).toHaveLength(4);
  });
});

describe("two jobs processes ticking at the same 100 instants", () => {
  let ctx: TestContext;
  let dbB: Database;
  let k: CalendarCounty;

  beforeAll(async () => {
    ctx = await createTestContext("cal-two");
    dbB = await openDatabase({ url: ctx.db.url, pgliteDir: "memory://", retries: 0 });
    k = await calendarCounty(ctx.db.prisma, "KC");
  });
  afterAll(async () => {
    await dbB?.close();
    await ctx?.close();
  });

  test("every reminder exactly once: nothing lost, nothing doubled", async () => {
    const p = ctx.db.prisma;
    await p.orgUnit.update({ where: { id: k.b2.id }, data: { themeDayOfMonth: 1 } });
    await addMeeting(p, { unitId: k.b3.id, type: "COMMITTEE", plannedAt: cn("2026-11-05T19:00"), status: "HELD" });
    await addMeeting(p, { unitId: k.b3.g1.id, type: "PARTY_GROUP", plannedAt: cn("2026-11-08T19:00"), status: "HELD" });
    await addMeeting(p, { unitId: k.b3.id, type: "THEME_DAY", plannedAt: cn("2026-11-10T19:00"), status: "HELD" });
    const published = cn("2026-11-20T10:00");
    const meetings = [
      await addMeeting(p, { unitId: k.b1.id, type: "STUDY", plannedAt: cn("2026-11-25T19:30"), createdAt: published }),
      await addMeeting(p, { unitId: k.b3.id, type: "STUDY", plannedAt: cn("2026-11-28T10:00"), createdAt: published }),
      await addMeeting(p, { unitId: k.b4.id, type: "STUDY", plannedAt: cn("2026-12-01T19:00"), createdAt: published }),
    ];
    const cancelled = await addMeeting(p, { unitId: k.b2.id, type: "STUDY", plannedAt: cn("2026-11-27T19:00"), createdAt: published, status: "CANCELLED" });

    // 100 instants from Nov 23 noon to Dec 2 noon: each reminder's own minute, a minute and five minutes after, the rest
    // spread evenly between.
    const exact = [cn("2026-11-24T09:00"), cn("2026-12-01T08:00"), cn("2026-12-01T09:00"), ...meetings.flatMap((m) => [plus(m.plannedAt, -1440), plus(m.plannedAt, -60)])];
    const instants = new Set(exact.flatMap((t) => [0, 1, 5].map((d) => plus(t, d).getTime())));
    const from = cn("2026-11-23T12:00").getTime();
    const to = cn("2026-12-02T12:00").getTime();
    for (let i = 0; instants.size < 100; i++) instants.add(from + Math.round(((to - from) * i) / 80 / MIN) * MIN);
    const fireTimes = [...instants].sort((a, b) => a - b).map((t) => new Date(t));
    expect(fireTimes).toHaveLength(100);

    // Process A and process B (each its own connection pool) both tick at every instant, each twice, all at once.
    const runs: CalendarReminderRun[] = [];
    for (const t of fireTimes) {
      runs.push(...(await Promise.all([ctx.db.prisma, dbB.prisma, ctx.db.prisma, dbB.prisma].map((prisma) => runCalendarReminders(prisma, ctx.config, t)))));
    }

    const meetingKeys = meetings.flatMap((m) => [1440, 60].map((o) => `meeting:${m.id}:${o}:${m.plannedAt.toISOString()}`));
    const expected: Record<string, number> = Object.fromEntries([
      ...meetingKeys.map((key) => [key, 1]),
      ...[k.b1, k.b2, k.b4].map((b) => [`due:${b.id}:2026-11`, 1]),
      [`theme-day:${k.b2.id}:2026-12`, 1],
      ...[k.b1, k.b2, k.b4].map((b) => [`overdue:${b.id}:2026-11`, 1]),
      [`overdue-town:${k.town1.id}:2026-11`, 1],
      [`overdue-town:${k.town2.id}:2026-11`, 1],
    ]);
    const notes = await p.calendarNote.findMany({ where: { kind: { not: "sweep" } } });
    expect(notes.map((n) => n.key).sort()).toEqual(Object.keys(expected).sort());
    for (const n of notes) expect(n).toMatchObject({ status: "SENT", deliveries: expected[n.key] });
    const calendarDeliveries = (await p.delivery.findMany()).filter((d) => !d.idempotencyKey.startsWith("notice:"));
    for (const key of Object.keys(expected)) expect([key, calendarDeliveries.filter((d) => d.idempotencyKey.startsWith(`${key}:`)).length]).toEqual([key, expected[key]]);
    expect(calendarDeliveries).toHaveLength(Object.values(expected).reduce((s, n) => s + n, 0));
    expect(await p.calendarNote.count({ where: { key: { startsWith: `meeting:${cancelled.id}:` } } })).toBe(0);
    // Across all 400 runs, each note was counted as sent by exactly one of them.
    expect(runs.reduce((s, r) => s + r.sent, 0)).toBe(Object.keys(expected).length);
  }, 120_000);
});

describe("a jobs process killed in the middle of a sweep over 2,000 branches", () => {
  let ctx: TestContext;
  afterAll(async () => ctx?.close());

  test("run again, every branch has its due reminder exactly once: none lost with the killed process, none doubled", async () => {
    ctx = await createTestContext("cal-kill");
    const many = await manyBranches(ctx.db.prisma, 4, 500);
    const at = cn("2026-11-24T09:00");
    const child = spawn("npx", ["tsx", "test/support/calendar-child.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: withAppName(ctx.db.url, "calendar-child"), CALENDAR_NOW: at.toISOString(), CALENDAR_BATCH: "5" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    let exited: { code: number | null; signal: string | null } | undefined;
    const gone = new Promise<void>((resolve) => child.once("exit", (code, signal) => ((exited = { code, signal }), resolve())));

    // Kill it (the whole process group, as a container stop would) once it has written some of the branches.
    let atKill = 0;
    await eventually(async () => {
      if (exited) throw new Error(`the jobs process ended before it was killed: ${JSON.stringify(exited)}\n${output}`);
      atKill = await ctx.db.prisma.calendarNote.count({ where: { kind: "due" } });
      expect(atKill).toBeGreaterThanOrEqual(50);
    }, 60_000, 10);
    const childSessions = async () =>
      (await ctx.db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'calendar-child'`))[0].n;
    expect(await childSessions()).toBeGreaterThan(0);
    process.kill(-child.pid!, "SIGKILL");
    await gone;
    expect(exited?.signal).toBe("SIGKILL");
    // Its sessions end with it (a transaction cut off is rolled back); then what it left is fixed.
    await eventually(async () => expect(await childSessions()).toBe(0), 10_000);
    const [{ left, sent }] = await ctx.db.prisma.$queryRawUnsafe<{ left: number; sent: number }[]>(
      `SELECT (SELECT count(*) FROM "CalendarNote" WHERE kind = 'due')::int AS left,
              (SELECT count(*) FROM "Delivery" WHERE "idempotencyKey" LIKE 'due:%')::int AS sent`,
    );
    expect(left).toBeGreaterThanOrEqual(atKill);
    expect(left).toBeLessThan(many.branchIds.length);
    expect(await note(ctx.db.prisma, "sweep:due:2026-11:7d")).toBeNull();
    // What it wrote is whole: every note it took has its delivery (claim and outbox commit together).
    expect(sent).toBe(left);

    // The next tick (this process) redoes the sweep; the branches already told are not told again.
    const run = await runCalendarReminders(ctx.db.prisma, ctx.config, plus(at, 1));
    expect(run.byKind.due.sent).toBe(many.branchIds.length - left);
    const notes = await notesOf(ctx.db.prisma, "due");
    expect(notes).toHaveLength(many.branchIds.length);
    expect(notes.every((n) => n.status === "SENT" && n.deliveries === 1)).toBe(true);
    const keys = (await deliveries(ctx.db.prisma, "due:")).map((d) => d.idempotencyKey);
    expect(keys.sort()).toEqual(many.branchIds.map((b) => `due:${b}:2026-11:i${many.identityOf.get(b)}`).sort());
    expect(await note(ctx.db.prisma, "sweep:due:2026-11:7d")).toMatchObject({ status: "SENT" });
    expect((await runCalendarReminders(ctx.db.prisma, ctx.config, plus(at, 2))).sent).toBe(0);
  }, 120_000);
});

describe("catch-up after three days with no jobs process (CALENDAR_CATCHUP_HOURS=48)", () => {
  let ctx: TestContext;
  let k: CalendarCounty;
  let tick: ReturnType<typeof ticker>;
  afterAll(async () => ctx?.close());

  test("on start, what fell due in the last 48 h is sent; older or expired is on record as skipped; nothing twice", async () => {
    ctx = await createTestContext("cal-catchup");
    expect(ctx.config.CALENDAR_CATCHUP_HOURS).toBe(48);
    k = await calendarCounty(ctx.db.prisma, "KD");
    tick = ticker(ctx);
    const p = ctx.db.prisma;
    await p.orgUnit.update({ where: { id: k.b2.id }, data: { themeDayOfMonth: 2 } });
    await p.orgUnit.update({ where: { id: k.b3.id }, data: { themeDayOfMonth: 3 } });
    const published = cn("2026-11-20T10:00");
    const ma = await addMeeting(p, { unitId: k.b1.id, type: "STUDY", plannedAt: cn("2026-12-02T19:30"), createdAt: published });
    const mb = await addMeeting(p, { unitId: k.b1.id, type: "COMMITTEE", plannedAt: cn("2026-12-03T18:00"), createdAt: published });
    const mc = await addMeeting(p, { unitId: k.b3.id, type: "STUDY", plannedAt: cn("2026-12-03T10:30"), createdAt: published });
    const key = (m: { id: number; plannedAt: Date }, o: number) => `meeting:${m.id}:${o}:${m.plannedAt.toISOString()}`;

    // Running normally until Monday morning, Nov 30.
    for (const t of ["2026-11-24T09:00", "2026-11-30T09:00"]) await tick(cn(t));
    const before = await p.delivery.count();
    expect(await deliveries(p, "due:")).toHaveLength(4);

    // Down from then until Thursday Dec 3, 10:00; the jobs role starts and runs its catch-up tick.
    const restart = cn("2026-12-03T10:00");
    const run = await tick(restart, { catchUp: true });

    // Sent: due within the last 48 h and still useful.
    expect((await deliveries(p, `theme-day:${k.b3.id}:2026-12:`)).map((d) => d.identityId)).toEqual([k.identities.b3]); // 08:00 today
    const [mb24] = await deliveries(p, key(mb, 1440)); // due yesterday 18:00
    expect(mb24.body).toContain("（8 小时后开始）");
    const [mc1] = await deliveries(p, key(mc, 60)); // due 09:30 today
    expect(mc1.body).toContain("（30 分钟后开始）");
    // Skipped, with the reason on record.
    expect(await note(p, "sweep:overdue:2026-11")).toMatchObject({ status: "SKIPPED", reason: "PAST_CATCHUP_HORIZON", dueAt: new Date("2026-12-01T01:00:00.000Z") }); // 49 h ago
    expect(await notesOf(p, "overdue")).toHaveLength(0);
    expect(await note(p, "sweep:theme-day:2026-12:2")).toMatchObject({ status: "SKIPPED", reason: "EXPIRED" }); // yesterday was the day
    // Last night's meeting took place meanwhile: both its reminders are too late to be of use.
    for (const o of [1440, 60]) expect(await note(p, key(ma, o))).toMatchObject({ status: "SKIPPED", reason: "EXPIRED" });
    expect(await deliveries(p, `meeting:${ma.id}:`)).toHaveLength(0);
    expect(await note(p, key(mc, 1440))).toMatchObject({ status: "SKIPPED", reason: "SUPERSEDED" }); // the 1 h reminder says it
    expect(run).toMatchObject({ sent: 3, deliveries: 3 });
    expect(await p.delivery.count()).toBe(before + 3);

    // The next ticks send nothing twice; the 1 h reminder of the evening meeting comes at its time.
    expect(await tick(plus(restart, 1))).toMatchObject({ sent: 0, skipped: 0 });
    await tick(cn("2026-12-03T17:00"));
    expect(await deliveries(p, key(mb, 60))).toHaveLength(1);
    expect(await p.delivery.count()).toBe(before + 4);
  });

  test("an alert 47 h late is still sent on start", async () => {
    const other = await createTestContext("cal-catchup-47");
    try {
      const k2 = await calendarCounty(other.db.prisma, "KE");
      await runCalendarReminders(other.db.prisma, other.config, cn("2026-11-30T09:00"));
      const run = await runCalendarReminders(other.db.prisma, other.config, cn("2026-12-03T08:00"), { catchUp: true });
      expect(run.byKind.overdue.sent).toBe(4);
      expect(run.byKind["overdue-town"].sent).toBe(2);
      expect((await deliveries(other.db.prisma, `overdue:${k2.b3.id}:2026-11:`)).map((d) => d.identityId)).toEqual([k2.identities.b3]);
    } finally {
      await other.close();
    }
  });
});

describe("the embedded database (PGlite) runs the same sweep", () => {
  test("due reminders written and not repeated", async () => {
    const db = await openDatabase({ pgliteDir: "memory://", retries: 0 });
    try {
      await db.connect({ migrate: true });
      const k = await calendarCounty(db.prisma, "KP");
      const config = loadConfig({ LOG_LEVEL: "silent" });
      const run = await runCalendarReminders(db.prisma, config, cn("2026-11-24T09:00"));
      expect(run.byKind.due.sent).toBe(4);
      expect((await deliveries(db.prisma, `due:${k.b4.id}:`)).map((d) => d.groupId)).toEqual([k.groups.b4]);
      expect((await runCalendarReminders(db.prisma, config, cn("2026-11-24T09:05"))).sent).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe("the jobs role: the real schedule in two processes", () => {
  let ctx: TestContext;
  afterAll(async () => ctx?.close());

  test("the start-up tick catches up, the per-second ticks send the next reminder, each once across both", async () => {
    ctx = await createTestContext("cal-cron", { env: { CALENDAR_TICK_CRON: "* * * * * *" } });
    const k = await calendarCounty(ctx.db.prisma, "KF");
    // Published yesterday for an hour from now: the 24 h reminder was missed while no jobs process ran; the 1 h
    // reminder falls due a few seconds after the processes start.
    const plannedAt = new Date(Math.ceil((Date.now() + 60 * MIN + 4_000) / 1000) * 1000);
    const m = await addMeeting(ctx.db.prisma, { unitId: k.b1.id, type: "STUDY", plannedAt, createdAt: new Date(Date.now() - DAY) });
    const dbB = await openDatabase({ url: ctx.db.url, pgliteDir: "memory://", retries: 0 });
    const b: AppContext = { ...ctx, db: dbB, coord: createCoordination(ctx.config, ctx.log, { name: "nbtest:cal-cron:b" }) };
    const jobsA = await startJobs(ctx);
    const jobsB = await startJobs(b);
    try {
      expect(await jobsA.startup).not.toBe("failed");
      expect(await jobsB.startup).not.toBe("failed");
      await eventually(async () => expect(await deliveries(ctx.db.prisma, `meeting:${m.id}:60:`)).toHaveLength(1), 20_000);
      const fires = await ctx.db.prisma.jobRun.count({ where: { job: "calendar" } });
      await eventually(async () => expect(await ctx.db.prisma.jobRun.count({ where: { job: "calendar" } })).toBeGreaterThanOrEqual(fires + 2), 10_000);
    } finally {
      await jobsA.stop();
      await jobsB.stop();
      await dbB.close();
      await b.coord.close();
    }
    expect((await deliveries(ctx.db.prisma, `meeting:${m.id}:`)).map((d) => d.idempotencyKey)).toEqual([
      `meeting:${m.id}:1440:${plannedAt.toISOString()}:g${k.groups.b1}`,
      `meeting:${m.id}:60:${plannedAt.toISOString()}:g${k.groups.b1}`,
    ]);
    const runs = await ctx.db.prisma.jobRun.findMany({ where: { job: "calendar" } });
    expect(new Set(runs.map((r) => r.fireAt.getTime())).size).toBe(runs.length);
    // The start-up tick ran with catch-up, and the 月报告/季通报 ran in the same tick, right after the reminders.
    const startups = runs.filter((r) => (r.result as { catchUp?: boolean } | null)?.catchUp === true);
    expect(startups.length).toBeGreaterThanOrEqual(1);
    expect(startups[0].result).toMatchObject({ reminders: { sent: expect.any(Number) }, reports: { sent: expect.any(Number), skipped: expect.any(Number) } });
    expect(runs.filter((r) => r.status === "FAILED")).toEqual([]);
  }, 60_000);
});
