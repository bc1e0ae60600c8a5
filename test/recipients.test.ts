// Who is told about a unit (core/kernel/recipients.ts), through the real Wechaty stack (wechaty-puppet-mock) against
// real PostgreSQL and Redis: the final tally of a meeting reaches every secretary of the branch and its linked console
// login, not only whoever published it; a new complaint and a calendar reminder for the same branch reach the same
// people; a branch nobody can be reached at passes a complaint one level up (here to the town's cadre group).
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { runCalendarReminders } from "../core/calendar/reminders.ts";
import { finalizeClosedMeetings } from "../core/meetings/finalize.ts";
import { CHINA_OFFSET_MS } from "../core/meetings/time.ts";
import { cn } from "./support/calendar-fixtures.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ACCOUNT = "wx-recipients";
const ROOM = "lijiazhuang-recipients@chatroom";
const ROOM2 = "hexi-recipients@chatroom";
const CADRE_ROOM2 = "xihe-cadres@chatroom";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;
let county: SmallCounty;
let town2Id: number;
/** Chat identities of branch 1's people: the publishing secretary, a second secretary, a linked console login. */
const ids = { wangwu: 0, chenshi: 0, qianba: 0 };

const prisma = () => ctx.db.prisma;

function chinaClock(minutesFromNow: number) {
  const d = new Date(Date.now() + minutesFromNow * 60_000 + CHINA_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** The identities a set of deliveries went to, by idempotency key prefix. */
async function identitiesUnder(prefix: string) {
  const rows = await prisma().delivery.findMany({ where: { idempotencyKey: { startsWith: prefix }, identityId: { not: null } }, select: { identityId: true } });
  return rows.map((r) => r.identityId!).sort((a, b) => a - b);
}

beforeAll(async () => {
  ctx = await createTestContext("recipients");
  const db = prisma();
  county = await smallCounty(db, "RC");
  const branch2 = await db.orgUnit.findUniqueOrThrow({ where: { id: county.branch2.id } });
  town2Id = branch2.path.split("/").filter(Boolean).map(Number)[1];
  // A second secretary of 李家庄, and 钱八: a plain member with a console login for the branch.
  const chen = await db.member.create({ data: { name: "陈十", branchId: county.branch1.id, phone: "13100003333", isSecretary: true } });
  const qian = await db.member.create({ data: { name: "钱八", branchId: county.branch1.id, phone: "13300008888" } });
  await db.cadreUser.create({ data: { username: "rc-qianba", passwordHash: "x", displayName: "钱八", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id, memberId: qian.id } });
  await db.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 1000, sendsPerHour: 20000, dailyBudget: 100000 } });
  ids.wangwu = (await linkWechat(db, ACCOUNT, "wx_wangwu", "王五（书记）", county.members.wangwu.id)).id;
  ids.chenshi = (await linkWechat(db, ACCOUNT, "wx_chenshi", "陈十", chen.id)).id;
  ids.qianba = (await linkWechat(db, ACCOUNT, "wx_qianba", "钱八", qian.id)).id;
  await linkWechat(db, ACCOUNT, "wx_zhangsan", "三哥", county.members.zhangsan.id);
  // 河西村's secretary 赵六 never linked WeChat or QQ: nobody at the branch can be reached privately.
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村群", orgUnitId: county.branch1.id, kind: "BRANCH" } });
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM2, topic: "河西村群", orgUnitId: county.branch2.id, kind: "BRANCH" } });
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: CADRE_ROOM2, topic: "西河乡干部群", orgUnitId: town2Id, kind: "CADRE" } });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村群", [
    { id: "wx_wangwu", name: "王五（书记）" },
    { id: "wx_chenshi", name: "陈十" },
    { id: "wx_qianba", name: "钱八" },
    { id: "wx_zhangsan", name: "三哥" },
  ]);
  wechat.room(ROOM2, "河西村群", [{ id: "wx_cunmin", name: "村民老赵" }]);
  wechat.room(CADRE_ROOM2, "西河乡干部群", [{ id: "wx_xihe", name: "西河乡干部" }]);
  bot = await startBot(ctx, { puppet: wechat.puppet, account: ACCOUNT });
  wechat.login();
  await eventually(async () => expect(await db.groupAccount.count()).toBe(3));
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
});

describe("the final tally of a meeting", () => {
  test("reaches the secretary who published it, the branch's other secretary and its linked console login", async () => {
    const published = wechat.waitForBot("wx_wangwu", (t) => t.startsWith("已发布"));
    wechat.say("wx_wangwu", `发布学习 ${chinaClock(10)} 学习党章 村委会会议室`, ROOM);
    await published;
    const meeting = await prisma().meeting.findFirstOrThrow({ where: { orgUnitId: county.branch1.id } });
    const tallies = ["wx_wangwu", "wx_chenshi", "wx_qianba"].map((who) => wechat.waitForBot(who, (t) => t.startsWith("签到已结束")));
    expect(await finalizeClosedMeetings(prisma(), new Date(meeting.checkinClosesAt.getTime() + 1000))).toBe(1);
    for (const tally of tallies) expect((await tally).text).toContain("学习党章");
    expect(await identitiesUnder(`meeting:${meeting.id}:final:`)).toEqual([ids.wangwu, ids.chenshi, ids.qianba].sort((a, b) => a - b));
    // Nothing about the tally went to the branch group.
    expect(wechat.said.filter((s) => s.conversationId === ROOM && s.text.startsWith("签到已结束"))).toHaveLength(0);
  });
});

describe("a complaint and a reminder for the same branch", () => {
  test("reach the same people", async () => {
    const told = ["wx_wangwu", "wx_chenshi", "wx_qianba"].map((who) => wechat.waitForBot(who, (t) => t.startsWith("【新诉求】")));
    const receipt = wechat.waitForBot("wx_zhangsan", (t) => t.includes("编号："));
    wechat.say("wx_zhangsan", "反映 村口的路灯坏了", ROOM);
    await receipt;
    for (const t of told) await t;
    const complaint = await prisma().complaint.findFirstOrThrow({ where: { orgUnitId: county.branch1.id } });
    const complaintPeople = await identitiesUnder(`complaint:${complaint.id}:filed:`);

    // A month later, a week before the month ends (January: the 25th): the 三会一课 reminder of what is neither held nor planned.
    const reminded = ["wx_wangwu", "wx_chenshi", "wx_qianba"].map((who) => wechat.waitForBot(who, (t) => t.startsWith("【三会一课提醒】李家庄村党支部"), 30_000));
    const run = await runCalendarReminders(prisma(), ctx.config, cn("2027-01-25T09:00"));
    expect(run.byKind.due.sent).toBeGreaterThanOrEqual(1);
    for (const r of reminded) await r;
    const reminderPeople = await identitiesUnder(`due:${county.branch1.id}:2027-01:`);

    expect(complaintPeople).toEqual([ids.wangwu, ids.chenshi, ids.qianba].sort((a, b) => a - b));
    expect(reminderPeople).toEqual(complaintPeople);
  });
});

describe("a branch nobody can be reached at", () => {
  test("a complaint goes one level up, to the town's cadre group, never to the branch group", async () => {
    const up = wechat.waitForBot(CADRE_ROOM2, (t) => t.includes("【新诉求】"));
    const ack = wechat.waitForBot(ROOM2, (t) => t.includes("已收到您的反映"));
    wechat.say("wx_cunmin", "反映 河堤有裂缝", ROOM2);
    await ack;
    const text = (await up).text;
    expect(text).toMatch(/^（「河西村党支部」暂无可联系的负责人，转告上级）\n【新诉求】/);
    expect(text).toContain("河堤有裂缝");
    const complaint = await prisma().complaint.findFirstOrThrow({ where: { orgUnitId: county.branch2.id } });
    const rows = await prisma().delivery.findMany({ where: { idempotencyKey: { startsWith: `complaint:${complaint.id}:filed` } } });
    expect(rows.map((r) => r.groupId)).toEqual([(await prisma().chatGroup.findFirstOrThrow({ where: { platformGroupId: CADRE_ROOM2 } })).id]);
    expect(wechat.said.filter((s) => s.conversationId === ROOM2 && s.text.includes("河堤"))).toHaveLength(0);
  });

  test("the calendar's reminder, by its own documented fallback, goes to the branch group instead", async () => {
    // Sent in the run above (the same sweep covered 河西村党支部).
    const rows = await prisma().delivery.findMany({ where: { idempotencyKey: { startsWith: `due:${county.branch2.id}:2027-01:` } } });
    expect(rows).toHaveLength(1);
    expect(rows[0].groupId).toBe((await prisma().chatGroup.findFirstOrThrow({ where: { platformGroupId: ROOM2 } })).id);
    expect(rows[0].body).toContain("支部书记还没有绑定微信或QQ");
  });
});
