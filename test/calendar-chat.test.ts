// 三会一课 and 本月报告 in WeChat through the real Wechaty stack (wechaty-puppet-mock) against real PostgreSQL and
// Redis. A member asks the branch group how the branch stands this quarter; the secretary asks privately; a town admin
// asks for the month so far, privately and in the town's cadre group; people without the role are told why. The
// branch's meetings are laid out around today, so the answers are computed from the calendar, not from a fixed date.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { chinaParts, periodOf, periodsWithin, type Period } from "../core/calendar/periods.ts";
import { dueReminderAt } from "../core/calendar/rules.ts";
import type { MeetingType } from "../core/db/index.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ROOM = "lijiazhuang-calendar@chatroom";
const CADRE_ROOM = "dongshan-cadres@chatroom";
const ACCOUNT = "wx-calendar";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;
let county: SmallCounty;

// Today's quarter and month, and where this month sits in the quarter.
const now = new Date();
const quarter = periodOf("quarter", now);
const month = periodOf("month", now);
const months = periodsWithin("month", quarter);
const cur = months.findIndex((p) => p.key === month.key);
const mon = (p: Period) => `${chinaParts(p.start).month}月`;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Says `text` (in `room`, or privately) and returns the bot's next message there. */
async function ask(who: string, text: string, room?: string) {
  const reply = wechat.waitForBot(room ?? who);
  wechat.say(who, text, room);
  return (await reply).text;
}

async function meeting(unitId: number, type: MeetingType, at: Date, present: number[], planned = false) {
  const prisma = ctx.db.prisma;
  const row = await prisma.meeting.create({
    data: {
      orgUnitId: unitId,
      type,
      topic: `${type}`,
      plannedAt: at,
      checkinOpensAt: new Date(at.getTime() - HOUR / 2),
      checkinClosesAt: new Date(at.getTime() + HOUR / 2),
      status: planned ? "PLANNED" : "HELD",
      finalizedAt: planned ? null : new Date(at.getTime() + HOUR / 2),
    },
  });
  await prisma.attendance.createMany({ data: present.map((memberId) => ({ meetingId: row.id, memberId, status: "PRESENT" as const, source: "WECHAT" as const })) });
}

beforeAll(async () => {
  ctx = await createTestContext("calendar-chat");
  const db = ctx.db.prisma;
  county = await smallCounty(db, "CC");
  const { zhangsan, lisi, wangwu, sunqi } = county.members;
  const group = async (code: string, name: string) => {
    const row = await db.orgUnit.create({ data: { code, name, kind: "PARTY_GROUP", parentId: county.branch1.id, path: "/", depth: 5 } });
    return db.orgUnit.update({ where: { id: row.id }, data: { path: `${county.branch1.path}${row.id}/` } });
  };
  const g1 = await group("CCC-T1-V1-B-G1", "第一党小组");
  const g2 = await group("CCC-T1-V1-B-G2", "第二党小组");
  await db.member.updateMany({ where: { id: { in: [zhangsan.id, lisi.id] } }, data: { partyGroupId: g1.id } });
  await db.member.updateMany({ where: { id: { in: [wangwu.id, sunqi.id] } }, data: { partyGroupId: g2.id } });

  // Cadres who chat with the bot: 钱八 (东山镇) and 丁一 (the county). Their member records are in 河西村, so that
  // 李家庄村's roster stays the four above.
  const qian = await db.member.create({ data: { name: "钱八", branchId: county.branch2.id, phone: "13300008888" } });
  await db.cadreUser.create({ data: { username: "cc-qianba", passwordHash: "x", displayName: "钱八", role: "TOWN_ADMIN", orgUnitId: county.town1.id, memberId: qian.id } });
  const ding = await db.member.create({ data: { name: "丁一", branchId: county.branch2.id, phone: "13300001111" } });
  await db.cadreUser.create({ data: { username: "cc-dingyi", passwordHash: "x", displayName: "丁一", role: "COUNTY_ADMIN", orgUnitId: county.county.id, memberId: ding.id } });

  // 李家庄村 this quarter: 党员大会 held at its start; this month 主题党日 held, the first party group met, the 支委会
  // is planned; months before this one in the quarter have nothing (overdue); 党课 not yet arranged.
  const b1 = county.branch1.id;
  await meeting(b1, "MEMBER_CONGRESS", new Date(quarter.start.getTime() + DAY + 11 * HOUR), [zhangsan.id, lisi.id, wangwu.id, sunqi.id]);
  await meeting(b1, "THEME_DAY", new Date(month.start.getTime() + 9 * DAY + 9 * HOUR), [zhangsan.id, lisi.id, wangwu.id]);
  await meeting(g1.id, "PARTY_GROUP", new Date(month.start.getTime() + 12 * DAY + 11 * HOUR), [zhangsan.id]);
  await meeting(b1, "COMMITTEE", new Date(month.start.getTime() + HOUR), [], true);
  await meeting(b1, "STUDY", new Date(month.start.getTime() + 2 * DAY + 11 * HOUR), [lisi.id, sunqi.id]);
  // One complaint this month, not yet claimed.
  await db.complaint.create({
    data: { number: "LX20990101-0001", orgUnitId: b1, channel: "WECHAT", content: "路灯", createdAt: new Date(Math.max(month.start.getTime(), now.getTime() - HOUR)), responseDueAt: new Date(now.getTime() + DAY), resolveDueAt: new Date(now.getTime() + 5 * DAY) },
  });

  await linkWechat(db, ACCOUNT, "wx_wangwu", "王五（书记）", wangwu.id);
  await linkWechat(db, ACCOUNT, "wx_zhangsan", "三哥", zhangsan.id);
  await linkWechat(db, ACCOUNT, "wx_qianba", "钱八", qian.id);
  await linkWechat(db, ACCOUNT, "wx_dingyi", "丁一", ding.id);
  await db.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 1000, sendsPerHour: 20000, dailyBudget: 100000 } });
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村党员群", orgUnitId: b1, kind: "BRANCH" } });
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: CADRE_ROOM, topic: "东山镇干部群", orgUnitId: county.town1.id, kind: "CADRE" } });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村党员群", [
    { id: "wx_wangwu", name: "王五（书记）" },
    { id: "wx_zhangsan", name: "三哥" },
    { id: "wx_cunmin", name: "村民老赵" },
    { id: "wx_qianba", name: "钱八" },
  ]);
  wechat.room(CADRE_ROOM, "东山镇干部群", [
    { id: "wx_qianba", name: "钱八" },
    { id: "wx_dingyi", name: "丁一" },
  ]);
  bot = await startBot(ctx, { puppet: wechat.puppet, account: ACCOUNT });
  wechat.login();
  await eventually(async () => expect(await db.groupAccount.count()).toBe(2));
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
});

/** What 三会一课 must say about 李家庄村 today. */
function expectedQuarter(): string {
  const byMonth = (current: string) => months.map((p, i) => `${mon(p)}${i < cur ? "已逾期" : i === cur ? current : "未开始"}`).join(" ");
  const attention = [
    ...(now >= dueReminderAt(month, 7, 0) ? [`党小组会（${mon(month)}）`] : []),
    ...(now >= dueReminderAt(quarter, 7, 0) ? ["党课"] : []),
  ];
  return [
    `「李家庄村党支部」${quarter.label}三会一课：`,
    "党员大会：✓",
    `支委会：${byMonth("计划中")}`,
    `党小组会：${byMonth("（第一党小组✓、第二党小组待安排）")}`,
    "党课：待安排",
    `主题党日（每月10日）：${byMonth("✓")}`,
    ...(attention.length ? [`即将到期还没有安排：${attention.join("、")}，请尽快发布。`] : []),
  ].join("\n");
}

describe("三会一课", () => {
  test("a member asks in the branch group: this quarter, type by type and month by month", async () => {
    expect(await ask("wx_zhangsan", "三会一课", ROOM)).toBe(expectedQuarter());
  });

  test("the secretary asks privately (own branch by default); another town's branch is refused", async () => {
    expect(await ask("wx_wangwu", "三会一课")).toBe(expectedQuarter());
    expect(await ask("wx_wangwu", `三会一课 ${county.branch2.code}`)).toBe("抱歉，「河西村党支部」不在您的管辖范围内。");
  });

  test("a town admin names the branch (by name or code); without one, privately or in the town's cadre group, is asked for it", async () => {
    expect(await ask("wx_qianba", "三会一课")).toBe("请写明要查看的支部编码或名称，例如：三会一课 C01-T01-V01-B");
    expect(await ask("wx_qianba", "三会一课 李家庄村党支部")).toBe(expectedQuarter());
    expect(await ask("wx_qianba", "三会一课", CADRE_ROOM)).toBe("本群绑定的是「东山镇」，请写明支部编码，例如：三会一课 C01-T01-V01-B");
  });

  test("someone not registered is told politely why not", async () => {
    expect(await ask("wx_cunmin", "三会一课", ROOM)).toBe("抱歉，“三会一课”需要党员权限。您还没有登记，可发送“我是 姓名 手机后四位”。");
  });
});

describe("本月报告", () => {
  const first = cur === 0; // the quarter's first month holds the 党员大会
  const last = cur === months.length - 1; // the quarter's last month counts the quarter's meetings
  const expected = () => {
    const [exp, pres, held, checkins] = first ? [10, 8, 3, 10] : [6, 4, 2, 6];
    return [
      "支部 1 个：本月事项全部完成 0 个，有逾期 0 个。",
      `三会一课：应开 ${last ? 6 : 4} 项，已开 ${last ? 3 : 2} 项，计划中 1 项，待安排 ${last ? 2 : 1} 项。`,
      `参会率 ${((pres / exp) * 100).toFixed(1)}%（已召开 ${held} 次，应到 ${exp} 人次，实到 ${pres} 人次）；会议和学习签到 ${checkins} 人次。`,
      "民情诉求 1 件：响应率 0.0%，办结率 0.0%，满意率 —，逾期未办结 0 件。",
      `待安排或逾期：李家庄村党支部（${last ? "党小组会、党课" : "党小组会"}）。`,
      "明细和 Excel 见管理后台“月报告”。",
    ];
  };

  test("a town admin privately: the town's month so far", async () => {
    const lines = (await ask("wx_qianba", "本月报告")).split("\n");
    expect(lines[0]).toMatch(new RegExp(`^「东山镇」${month.label}报告（截至.+\\d{2}:\\d{2}）$`));
    expect(lines.slice(1)).toEqual(expected());
  });

  test("in the town's cadre group it answers the group", async () => {
    const text = await ask("wx_qianba", "月报告", CADRE_ROOM);
    expect(text.startsWith(`「东山镇」${month.label}报告`)).toBe(true);
    expect(text.split("\n").slice(1)).toEqual(expected());
  });

  test("the county admin gets the county, or a town by name; a town admin may not look at another town", async () => {
    const county = (await ask("wx_dingyi", "本月报告")).split("\n");
    expect(county[0]).toMatch(new RegExp(`^「测试县」${month.label}报告`));
    expect(county[1]).toBe("乡镇 2 个，支部 2 个：本月事项全部完成 0 个，有逾期 0 个。");
    expect((await ask("wx_dingyi", "本月报告 西河乡")).split("\n")[1]).toBe("支部 1 个：本月事项全部完成 0 个，有逾期 0 个。");
    expect(await ask("wx_qianba", "本月报告 西河乡")).toBe("抱歉，「西河乡」不在您的管辖范围内。");
  });

  test("a secretary is refused politely; in a branch group even a town admin is asked to use private chat", async () => {
    expect(await ask("wx_wangwu", "本月报告")).toBe("抱歉，“本月报告”需要乡镇管理员权限。");
    expect(await ask("wx_qianba", "本月报告", ROOM)).toBe("月报告请私聊我查看，或在乡镇、县的干部群里发送。");
  });

  test("帮助 lists 三会一课 for a member, and 本月报告 only for cadres who may use it", async () => {
    const member = await ask("wx_zhangsan", "帮助");
    expect(member).toContain("· 三会一课 [支部编码] — ");
    expect(member).not.toContain("本月报告");
    expect(await ask("wx_qianba", "帮助")).toContain("· 本月报告 [乡镇] — ");
  });
});
