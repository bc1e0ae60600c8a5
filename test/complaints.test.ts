// Complaints (民情诉求) in WeChat through the real Wechaty stack (wechaty-puppet-mock) against real PostgreSQL and
// Redis: a member files in the village group (the group sees only the number), gets the receipt privately, the
// secretary claims it, transfers it to the village it belongs to, that secretary claims, replies and resolves it,
// the member is unhappy once (it is handled again), then satisfied. Every step is an event and the stored status
// is what the events say. Plus privacy per role, bad input, two cadres claiming at once, and the deadlines on the
// official calendar across 国庆 2026 and an admin's override for 2027.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startBot, type BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { setOverride } from "../core/calendar/workdays.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { attachChatPhoto, attachRecentImage } from "../core/complaints/attachments.ts";
import { DiskBlobStore } from "../core/storage/index.ts";
import { claimComplaint, fileComplaint, resolveComplaint, rateComplaint, setUrgent } from "../core/complaints/complaints.ts";
import { complaintMetrics } from "../core/complaints/metrics.ts";
import { deriveState, sameState, stateOf } from "../core/complaints/state.ts";
import type { ComplaintActor } from "../core/complaints/transition.ts";
import { complaintInbox, listComplaints, viewComplaint, type ComplaintViewer } from "../core/complaints/view.ts";
import { isAppError } from "../core/kernel/errors.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { createBlobStore } from "../core/storage/index.ts";
import { eventually } from "./support/eventually.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";

const ROOM = "lijiazhuang-complaints@chatroom";
const ROOM2 = "hexi-complaints@chatroom";
const ACCOUNT = "wx-complaints";
let ctx: TestContext;
let wechat: MockWechat;
let bot: BotHandle;
let county: SmallCounty;
let town2: { id: number; path: string };
let qianba: { memberId: number; cadreUserId: number };
let town2AdminId: number;
let roomId: number;
let number: string;
let anon: string;

const people = [
  { id: "wx_wangwu", name: "王五（书记）" },
  { id: "wx_zhangsan", name: "三哥" },
  { id: "wx_lisi", name: "老李" },
  { id: "wx_cunmin", name: "村民老赵" },
];

/** Says `text` (in `room`, or privately) and returns the bot's next matching message in `answerIn`. */
async function ask(who: string, text: string, opts: { room?: string; answerIn?: string; match?: (t: string) => boolean } = {}) {
  const reply = wechat.waitForBot(opts.answerIn ?? opts.room ?? who, opts.match);
  wechat.say(who, text, opts.room);
  return (await reply).text;
}

const prisma = () => ctx.db.prisma;

async function ticket(n = number) {
  return prisma().complaint.findUniqueOrThrow({ where: { number: n }, include: { events: { orderBy: { id: "asc" } } } });
}

/** The stored state is exactly what the history derives; returns the ticket. */
async function consistent(n = number) {
  const t = await ticket(n);
  const derived = deriveState(t.events);
  expect(derived).not.toBeNull();
  expect(sameState(derived!, stateOf(t))).toBe(true);
  return t;
}

const kinds = (t: { events: { kind: string }[] }) => t.events.map((e) => e.kind);

async function codeOf(p: Promise<unknown>) {
  try {
    await p;
    return "OK";
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
}

let storageDir: string;
/** A 1×1 PNG, as a phone would send one (the type is read from the bytes). */
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

const secretary = (memberId: number, path: string, identityId: number | null = null): ComplaintActor => ({ role: "BRANCH_SECRETARY", orgPath: path, cadreUserId: null, memberId, identityId, channel: "WECHAT" });

beforeAll(async () => {
  storageDir = await mkdtemp(path.join(tmpdir(), "nb-complaint-photos-"));
  ctx = await createTestContext("complaints", { env: { STORAGE_DIR: storageDir } });
  const db = prisma();
  county = await smallCounty(db, "CP");
  const branch2 = await db.orgUnit.findUniqueOrThrow({ where: { id: county.branch2.id } });
  town2 = await db.orgUnit.findUniqueOrThrow({ where: { id: branch2.path.split("/").filter(Boolean).map(Number)[1] } });
  // A town admin of 东山镇 (town1) who chats with the bot, and a console-only admin of 西河乡 (town2).
  const qian = await db.member.create({ data: { name: "钱八", branchId: county.branch1.id, phone: "13300008888" } });
  const qianUser = await db.cadreUser.create({ data: { username: "qianba", passwordHash: "x", displayName: "钱八", role: "TOWN_ADMIN", orgUnitId: county.town1.id, memberId: qian.id } });
  qianba = { memberId: qian.id, cadreUserId: qianUser.id };
  town2AdminId = (await db.cadreUser.create({ data: { username: "xihe", passwordHash: "x", displayName: "西河乡管理员", role: "TOWN_ADMIN", orgUnitId: town2.id } })).id;
  await linkWechat(db, ACCOUNT, "wx_wangwu", "王五（书记）", county.members.wangwu.id);
  await linkWechat(db, ACCOUNT, "wx_zhangsan", "三哥", county.members.zhangsan.id);
  await linkWechat(db, ACCOUNT, "wx_lisi", "老李", county.members.lisi.id);
  await linkWechat(db, ACCOUNT, "wx_zhaoliu", "赵六", county.members.zhaoliu.id);
  await linkWechat(db, ACCOUNT, "wx_qianba", "钱八", qian.id);
  await db.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 1000, sendsPerHour: 20000, dailyBudget: 100000 } });
  roomId = (await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "李家庄村群", orgUnitId: county.branch1.id, kind: "BRANCH" } })).id;
  await db.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM2, topic: "河西村群", orgUnitId: county.branch2.id, kind: "BRANCH" } });
  wechat = new MockWechat();
  wechat.room(ROOM, "李家庄村群", people);
  wechat.room(ROOM2, "河西村群", [{ id: "wx_zhaoliu", name: "赵六" }]);
  wechat.contact("wx_qianba", "钱八");
  bot = await startBot(ctx, { puppet: wechat.puppet, account: ACCOUNT });
  wechat.login();
  await eventually(async () => expect(await db.groupAccount.count()).toBe(2));
});

afterAll(async () => {
  await bot?.stop();
  await ctx?.close();
  await rm(storageDir, { recursive: true, force: true }).catch(() => undefined);
});

describe("the whole life of a complaint, from chat", () => {
  test("filed in the group: the group sees only the number; the receipt comes privately; the secretary is told", async () => {
    const ack = wechat.waitForBot(ROOM, (t) => t.includes("已收到您的反映"));
    const receipt = wechat.waitForBot("wx_zhangsan", (t) => t.includes("编号："));
    const notice = wechat.waitForBot("wx_wangwu", (t) => t.startsWith("【新诉求】"));
    wechat.say("wx_zhangsan", "反映 村口路灯坏了一个星期，晚上看不见路", ROOM);
    const ackText = (await ack).text;
    expect(ackText).toMatch(/已收到您的反映（编号 LX\d{8}-\d{4}），请私聊我补充详情。$/);
    const text = (await receipt).text;
    number = /编号：(LX\d{8}-\d{4})/.exec(text)![1];
    expect(ackText).toContain(number);
    expect(text).toContain("承办单位：李家庄村党支部");
    expect(text).toMatch(/响应时限：.+前/);
    expect(text).toMatch(/办结时限：.+前/);
    expect((await notice).text).toContain(number);

    // The content never reached the group, neither as a message nor as a queued delivery.
    expect(wechat.said.filter((s) => s.conversationId === ROOM && s.text.includes("路灯"))).toHaveLength(0);
    expect(await prisma().delivery.count({ where: { groupId: roomId, body: { contains: "路灯" } } })).toBe(0);

    const t = await consistent();
    expect(t).toMatchObject({ status: "SUBMITTED", orgUnitId: county.branch1.id, filerMemberId: county.members.zhangsan.id, filerName: "张三", filerPhone: "13800001234", channel: "WECHAT" });
    expect(kinds(t)).toEqual(["FILED"]);
    expect(t.events[0]).toMatchObject({ channel: "WECHAT", actorMemberId: county.members.zhangsan.id });
  });

  test("photos sent right after filing attach to the ticket; an oversized one is refused", async () => {
    const identity = await prisma().chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_zhangsan" } });
    // Through the platform: two photos privately, one acknowledgement; the bytes are kept in the blob store.
    const ack = wechat.waitForBot("wx_zhangsan", (t) => t.includes("照片已收到"));
    await wechat.sayImage("wx_zhangsan", PNG);
    expect((await ack).text).toContain(`已附在诉求 ${number} 上`);
    await wechat.sayImage("wx_zhangsan", PNG);
    const chatPhotos = await eventually(async () => {
      const rows = await prisma().complaintAttachment.findMany({ where: { complaint: { number } } });
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(chatPhotos.every((a) => a.mimeType === "image/png" && a.sizeBytes === PNG.length)).toBe(true);
    const stored = await createBlobStore(ctx.config).get(chatPhotos[0].location);
    expect(stored?.data.equals(PNG)).toBe(true);
    expect(wechat.said.filter((x) => x.text.includes("照片已收到"))).toHaveLength(1);
    const photo = await prisma().$transaction((tx) => attachRecentImage(tx, identity.id, { location: "complaints/2026/lamp.jpg", mimeType: "image/jpeg", sizeBytes: 300_000 }, ctx.config));
    expect(photo?.complaint.number).toBe(number);
    expect(await codeOf(prisma().$transaction((tx) => attachRecentImage(tx, identity.id, { location: "x.jpg", mimeType: "image/jpeg", sizeBytes: 20 * 1024 * 1024 }, ctx.config)))).toBe("FILE_TOO_LARGE");
    // Someone who filed nothing recently: a photo is none of our business.
    const lisi = await prisma().chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_lisi" } });
    expect(await prisma().$transaction((tx) => attachRecentImage(tx, lisi.id, { location: "y.jpg", sizeBytes: 1000 }, ctx.config))).toBeNull();
    // Too late: outside the window.
    const later = new Date(Date.now() + (ctx.config.COMPLAINT_PHOTO_WINDOW_MIN + 1) * 60_000);
    expect(await prisma().$transaction((tx) => attachRecentImage(tx, identity.id, { location: "z.jpg", sizeBytes: 1000 }, ctx.config, later))).toBeNull();
    const t = await consistent();
    expect(kinds(t)).toEqual(["FILED", "INFO_ADDED", "INFO_ADDED", "INFO_ADDED"]);
    expect(await prisma().complaintAttachment.count({ where: { complaintId: t.id } })).toBe(3);
  });

  test("我的诉求 lists it; rating or closing before it is claimed and resolved is refused with the reason", async () => {
    const mine = await ask("wx_zhangsan", "我的诉求");
    expect(mine).toContain(`${number} 待认领`);
    expect(await ask("wx_zhangsan", `满意 ${number}`)).toContain("还没有办结，办结后才能评价");
    expect(await ask("wx_wangwu", `办结 ${number} 已经修好了`)).toContain("还没有人认领，不能办结");
    expect(kinds(await consistent())).toEqual(["FILED", "INFO_ADDED", "INFO_ADDED", "INFO_ADDED"]);
  });

  test("the secretary claims it (首问); a second claim is refused; the filer is told", async () => {
    const told = wechat.waitForBot("wx_zhangsan", (t) => t.includes("已由"));
    expect(await ask("wx_wangwu", `认领 ${number}`)).toContain(`已认领诉求 ${number}`);
    expect((await told).text).toMatch(new RegExp(`您反映的 ${number} 已由「李家庄村党支部」王五认领办理`));
    expect(await ask("wx_qianba", `认领 ${number}`)).toContain("已经有人认领了");
    // Said again by the first claimer (in other words: the same text within a second is one message to the bot).
    expect(await ask("wx_wangwu", `认领诉求 ${number}`)).toContain("已经有人认领了");
    const t = await consistent();
    expect(t).toMatchObject({ status: "CLAIMED", ownerMemberId: county.members.wangwu.id, ownerId: null });
    expect(kinds(t)).toEqual(["FILED", "INFO_ADDED", "INFO_ADDED", "INFO_ADDED", "CLAIMED"]);
    expect(await prisma().auditLog.count({ where: { action: "complaint.claim", targetId: String(t.id) } })).toBe(1);
  });

  test("待办 shows the secretary's open tickets; a secretary of another village cannot touch it", async () => {
    expect(await ask("wx_wangwu", "待办")).toMatch(new RegExp(`${number}.*【我认领的】 办理中`));
    // (Worded differently from his later claim: the same text from the same person within a second is one message.)
    expect(await ask("wx_zhaoliu", `认领诉求 ${number}`)).toContain("不在您的管辖范围内");
  });

  test("transfer needs a reason; with one, the ticket and its ownership move to the other village", async () => {
    expect(await ask("wx_wangwu", `转办 ${number} 河西村党支部`)).toContain("请写明转办理由");
    const told = wechat.waitForBot("wx_zhangsan", (t) => t.includes("已转交"));
    const there = wechat.waitForBot("wx_zhaoliu", (t) => t.startsWith("【转办诉求】"));
    expect(await ask("wx_wangwu", `转办 ${number} 河西村党支部 路灯属河西村管护`)).toContain("已将诉求");
    expect((await told).text).toContain("已转交「河西村党支部」办理（路灯属河西村管护）");
    expect((await there).text).toContain("理由：路灯属河西村管护");
    const t = await consistent();
    expect(t).toMatchObject({ status: "SUBMITTED", orgUnitId: county.branch2.id, ownerId: null, ownerMemberId: null, claimedAt: null });
    expect(t.events.at(-1)).toMatchObject({ kind: "TRANSFERRED", fromUnitId: county.branch1.id, toUnitId: county.branch2.id, note: "路灯属河西村管护", actorMemberId: county.members.wangwu.id });
    // The old owner has no say any more.
    expect(await ask("wx_wangwu", `办结 ${number} 修好了`)).toContain("不在您的管辖范围内");
  });

  test("the other secretary claims, replies to the filer through the bot and resolves it", async () => {
    expect(await ask("wx_zhaoliu", `认领 ${number}`)).toContain("已认领");
    const reply = wechat.waitForBot("wx_zhangsan", (t) => t.startsWith("关于您反映的"));
    expect(await ask("wx_zhaoliu", `回复 ${number} 明天上午安排电工上门`)).toContain("已将回复发给");
    expect((await reply).text).toContain(`关于您反映的 ${number}，「河西村党支部」回复：明天上午安排电工上门`);
    const resolved = wechat.waitForBot("wx_zhangsan", (t) => t.includes("已办结"));
    expect(await ask("wx_zhaoliu", `办结 ${number} 路灯已修好`)).toContain("已办结");
    expect((await resolved).text).toMatch(/已办结：路灯已修好\n请回复“满意”、“基本满意”或“不满意 意见”/);
    const t = await consistent();
    expect(t).toMatchObject({ status: "RESOLVED", ownerMemberId: county.members.zhaoliu.id, resolution: "路灯已修好" });
    expect(kinds(t).slice(-3)).toEqual(["CLAIMED", "REPLIED", "RESOLVED"]);
  });

  test("不满意 reopens it once (回访 then 重办) for the same owner; resolved again, 满意 closes it; rating twice is refused", async () => {
    const redo = wechat.waitForBot("wx_zhaoliu", (t) => t.startsWith("【重办】"));
    expect(await ask("wx_zhangsan", "不满意 修好第二天又不亮了")).toContain("将重新办理");
    expect((await redo).text).toContain("修好第二天又不亮了");
    let t = await consistent();
    expect(t).toMatchObject({ status: "REOPENED", reopenCount: 1, ownerMemberId: county.members.zhaoliu.id, rating: null, resolvedAt: null });
    expect(kinds(t).slice(-2)).toEqual(["RATED", "REOPENED"]);
    expect(t.events.at(-2)).toMatchObject({ note: "修好第二天又不亮了", data: { rating: "DISSATISFIED" } });

    expect(await ask("wx_zhaoliu", `办结 ${number} 已更换整套灯具`)).toContain("已办结");
    expect(await ask("wx_zhangsan", "满意")).toContain(`感谢您的评价（满意），诉求 ${number} 已结案`);
    t = await consistent();
    expect(t).toMatchObject({ status: "CLOSED", rating: "SATISFIED", resolution: "已更换整套灯具" });
    expect(await ask("wx_zhangsan", `满意 ${number} 再评一次`)).toContain("已经评价过了");
    expect(await ask("wx_zhangsan", `补充 ${number} 还有一盏`)).toContain("已结案");
    expect(kinds(await consistent())).toEqual(["FILED", "INFO_ADDED", "INFO_ADDED", "INFO_ADDED", "CLAIMED", "TRANSFERRED", "CLAIMED", "REPLIED", "RESOLVED", "RATED", "REOPENED", "RESOLVED", "RATED"]);
  });

  test("诉求 <编号> shows the history to the filer; 我的诉求 shows it closed", async () => {
    const detail = await ask("wx_zhangsan", `诉求 ${number}`);
    expect(detail).toContain(`诉求 ${number}（已结案）`);
    expect(detail).toMatch(/转办 李家庄村党支部 → 河西村党支部（王五）：路灯属河西村管护/);
    expect(detail).toContain("评价：满意");
    expect(detail).not.toContain("反映人：");
    // A question about it is not a new complaint.
    const count = await prisma().complaint.count();
    expect(await ask("wx_zhangsan", `诉求 ${number} 现在怎么样了`)).toContain(`诉求 ${number}（已结案）`);
    expect(await prisma().complaint.count()).toBe(count);
    expect(await ask("wx_zhangsan", "我的反映")).toContain(`${number} 已结案`);
  });
});

describe("privacy", () => {
  const viewer = (v: Partial<ComplaintViewer> & Pick<ComplaintViewer, "role" | "orgPath">): ComplaintViewer => ({ cadreUserId: null, memberId: null, identityId: null, ...v });

  test("handlers see the filer's name and phone; the former handler sees them masked; another town gets OUT_OF_SCOPE; others nothing", async () => {
    // 赵六 handles it now (河西村), the 西河乡 admin is above it: full.
    const here = await ask("wx_zhaoliu", `诉求 ${number}`);
    expect(here).toContain("反映人：张三 13800001234");
    const town2View = await viewComplaint(prisma(), viewer({ role: "TOWN_ADMIN", orgPath: town2.path, cadreUserId: town2AdminId }), number);
    expect(town2View.filer).toEqual({ name: "张三", phone: "13800001234", masked: false, anonymous: false });
    // 王五 transferred it away: he still sees his part of the history, but masked.
    const before = await ask("wx_wangwu", `诉求 ${number}`);
    expect(before).toContain("反映人：张* 138****1234");
    expect(before).not.toContain("13800001234");
    // The 东山镇 admin (another town): refused, in chat and in the core; his 待办 and metrics do not include it.
    expect(await ask("wx_qianba", `诉求 ${number}`)).toContain("不在您的管辖范围内");
    expect(await codeOf(viewComplaint(prisma(), viewer({ role: "TOWN_ADMIN", orgPath: county.town1.path, cadreUserId: qianba.cadreUserId, memberId: qianba.memberId }), number))).toBe("OUT_OF_SCOPE");
    const inbox = await complaintInbox(prisma(), viewer({ role: "TOWN_ADMIN", orgPath: county.town1.path, cadreUserId: qianba.cadreUserId }));
    expect(inbox.items.map((i) => i.number)).not.toContain(number);
    expect((await listComplaints(prisma(), viewer({ role: "TOWN_ADMIN", orgPath: county.town1.path }))).items.map((i) => i.number)).not.toContain(number);
    // The console list of the town it belongs to has it, without the filer.
    const list = await listComplaints(prisma(), viewer({ role: "TOWN_ADMIN", orgPath: town2.path, cadreUserId: town2AdminId }));
    expect(list.items.map((i) => i.number)).toContain(number);
    expect(JSON.stringify(list)).not.toMatch(/张三|13800001234/);
    expect(await codeOf(complaintMetrics(prisma(), { role: "TOWN_ADMIN", orgPath: county.town1.path }, { from: new Date(0), to: new Date(Date.now() + 3600_000), unitId: county.branch2.id }))).toBe("OUT_OF_SCOPE");
    // A plain member who did not file it: as if it did not exist.
    expect(await ask("wx_lisi", `诉求 ${number}`)).toContain("没有找到您反映的诉求");
  });

  test("an anonymous complaint shows nobody the filer, yet the filer still gets updates through the bot", async () => {
    const receipt = await ask("wx_lisi", "反映 匿名 有人在河边倒建筑垃圾", { match: (t) => t.includes("编号：") });
    expect(receipt).toContain("已受理（匿名）");
    anon = /编号：(LX\d{8}-\d{4})/.exec(receipt)![1];
    const t = await consistent(anon);
    expect(t).toMatchObject({ anonymous: true, filerName: "", filerPhone: null, filerMemberId: null, orgUnitId: county.branch1.id });
    expect(t.events[0].actorMemberId).toBeNull();
    const detail = await ask("wx_wangwu", `诉求 ${anon}`, { match: (x) => x.startsWith(`诉求 ${anon}`) });
    expect(detail).toContain("反映人：匿名");
    expect(detail).not.toContain("李四");
    const view = await viewComplaint(prisma(), { role: "COUNTY_ADMIN", orgPath: county.county.path, cadreUserId: null, memberId: null, identityId: null }, anon);
    expect(view.filer).toEqual({ name: null, phone: null, masked: false, anonymous: true });
    const told = wechat.waitForBot("wx_lisi", (x) => x.includes("认领办理"));
    await ask("wx_wangwu", `认领 ${anon}`, { match: (x) => x.startsWith("已认领") });
    expect((await told).text).toContain(anon);
    expect(await ask("wx_lisi", "我的诉求")).toContain(anon);
  });

  test("延期 goes to the town for approval; 批准延期 moves the deadline by working days; 加急 shortens it", async () => {
    const asked = wechat.waitForBot("wx_qianba", (x) => x.startsWith("【延期申请】"));
    expect(await ask("wx_wangwu", `延期 ${anon} 3 需要联系环保部门`, { match: (x) => x.includes("延期申请") })).toContain("等待「东山镇」审批");
    expect((await asked).text).toContain("延长 3 个工作日，理由：需要联系环保部门");
    expect(await ask("wx_wangwu", `延期 ${anon} 2 再延`, { match: (x) => x.includes("延期") })).toContain("已有一个延期 3 个工作日的申请");
    expect(await ask("wx_wangwu", `批准延期 ${anon}`, { match: (x) => x.includes("权限") })).toContain("需要乡镇管理员权限");
    const before = await consistent(anon);
    expect(before.extensionDays).toBe(3);
    expect(await ask("wx_qianba", `批准延期 ${anon}`)).toContain("已批准");
    const after = await consistent(anon);
    expect(after.extensionDays).toBeNull();
    expect(after.resolveDueAt.getTime()).toBeGreaterThanOrEqual(before.resolveDueAt.getTime() + 3 * 86_400_000);
    expect(await ask("wx_qianba", `驳回延期 ${anon}`)).toContain("没有待审批的延期申请");
    expect(await ask("wx_wangwu", `加急 ${anon}`, { match: (x) => x.includes("加急") })).toMatch(/已加急：办结时限/);
    const urgent = await consistent(anon);
    expect(urgent.urgent).toBe(true);
    expect(urgent.resolveDueAt.getTime()).toBeLessThan(after.resolveDueAt.getTime());
    expect(kinds(urgent).slice(-3)).toEqual(["EXTENSION_REQUESTED", "EXTENSION_APPROVED", "URGENT_SET"]);
  });

  test("a villager who is not a member files privately: the unit is the bound group they are in", async () => {
    // 老赵 said nothing yet; the bot knows him from the group roster it synced at login.
    const receipt = await ask("wx_cunmin", "投诉 小卖部门口积水一周了", { match: (t) => t.includes("编号：") });
    expect(receipt).toContain("承办单位：李家庄村党支部");
    const n = /编号：(LX\d{8}-\d{4})/.exec(receipt)![1];
    expect(await ticket(n)).toMatchObject({ filerMemberId: null, filerName: "村民老赵", orgUnitId: county.branch1.id });

    // Then he sends photos from his phone: stored in the blob store and attached, checked by their bytes and size.
    const dir = await mkdtemp(path.join(tmpdir(), "nb-complaints-"));
    try {
      const store = new DiskBlobStore(dir);
      const identity = await prisma().chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_cunmin" } });
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]);
      const photo = (data: Buffer, mime = "image/jpeg") => ({ fetch: async () => ({ data, mime }) });
      const r = await attachChatPhoto(prisma(), store, identity.id, photo(jpeg), ctx.config);
      expect(r?.complaint.number).toBe(n);
      expect(r?.attachment).toMatchObject({ mimeType: "image/jpeg", sizeBytes: jpeg.length });
      expect(r!.attachment.location).toMatch(new RegExp(`^disk:complaints/${n}/`));
      expect(await readFile(path.join(dir, r!.attachment.location.slice("disk:".length)))).toEqual(jpeg);
      const huge = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(ctx.config.COMPLAINT_PHOTO_MAX_BYTES, 1)]);
      expect(await codeOf(attachChatPhoto(prisma(), store, identity.id, photo(huge), ctx.config))).toBe("FILE_TOO_LARGE");
      expect(await codeOf(attachChatPhoto(prisma(), store, identity.id, photo(Buffer.from("not a picture"), "image/png"), ctx.config))).toBe("FILE_TYPE_NOT_ALLOWED");
      // Nobody filed anything: the picture is not even downloaded.
      const wangwuIdentity = await prisma().chatIdentity.findFirstOrThrow({ where: { platformUserId: "wx_wangwu" } });
      let fetched = false;
      expect(await attachChatPhoto(prisma(), store, wangwuIdentity.id, { fetch: async () => ((fetched = true), { data: jpeg, mime: "image/jpeg" }) }, ctx.config)).toBeNull();
      expect(fetched).toBe(false);
      const t = await consistent(n);
      expect(kinds(t)).toEqual(["FILED", "INFO_ADDED"]);
      expect(await prisma().complaintAttachment.count({ where: { complaintId: t.id } })).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("bad input", () => {
  test("empty content, unknown numbers, missing arguments and plain members acting as cadres get a clear answer", async () => {
    const before = await prisma().complaint.count();
    expect(await ask("wx_zhangsan", "反映")).toContain("请写上您要反映的内容");
    expect(await ask("wx_zhangsan", "反映 匿名")).toContain("请写上您要反映的内容");
    expect(await prisma().complaint.count()).toBe(before);
    expect(await ask("wx_zhangsan", "诉求 LX20990101-9999")).toContain("没有找到诉求 LX20990101-9999");
    expect(await ask("wx_wangwu", "认领 LX20990101-9999")).toContain("没有找到诉求");
    expect(await ask("wx_wangwu", "认领")).toContain("请写上诉求编号");
    expect(await ask("wx_wangwu", "办结 12345")).toContain("不是诉求编号");
    expect(await ask("wx_zhangsan", "认领 LX20990101-9999")).toContain("需要支部书记权限");
    expect(await ask("wx_wangwu", `延期 ${number} 很多天 没空`)).toContain("请写上延期的工作日数");
  });

  test("满意 in a group with nothing to rate stays quiet", async () => {
    const n = wechat.said.length;
    wechat.say("wx_lisi", "满意", ROOM);
    await ask("wx_lisi", "帮助 满意", { room: ROOM });
    expect(wechat.said.slice(n).filter((s) => s.conversationId === ROOM)).toHaveLength(1);
  });
});

describe("two cadres claim the same ticket at the same moment", () => {
  test("exactly one wins, every time", async () => {
    const wangwu = secretary(county.members.wangwu.id, county.branch1.path);
    const town = { role: "TOWN_ADMIN" as const, orgPath: county.town1.path, cadreUserId: qianba.cadreUserId, memberId: qianba.memberId, identityId: null, channel: "api" };
    for (let i = 0; i < 5; i++) {
      const { complaint } = await prisma().$transaction((tx) => fileComplaint(tx, { memberId: county.members.sunqi.id, channel: "WECHAT" }, { content: `并发认领测试 ${i}` }, ctx.config));
      const results = await Promise.allSettled([
        prisma().$transaction((tx) => claimComplaint(tx, wangwu, complaint.id)),
        prisma().$transaction((tx) => claimComplaint(tx, town, complaint.id)),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ status: 409, code: "COMPLAINT_ALREADY_CLAIMED" });
      const t = await consistent(complaint.number);
      expect(kinds(t)).toEqual(["FILED", "CLAIMED"]);
    }
  });

  test("ticket numbers stay unique when many are filed at once", async () => {
    const filed = await Promise.all(
      Array.from({ length: 12 }, (_, i) => prisma().$transaction((tx) => fileComplaint(tx, { memberId: county.members.sunqi.id, channel: "WECHAT" }, { content: `编号测试 ${i}` }, ctx.config))),
    );
    const numbers = filed.map((f) => f.complaint.number);
    expect(new Set(numbers).size).toBe(12);
    for (const n of numbers) expect(n).toMatch(/^LX\d{8}-\d{4}$/);
  });
});

describe("time limits on the official calendar", () => {
  /** China wall-clock time → instant. */
  const cn = (s: string) => new Date(`${s}+08:00`);
  const file = (at: Date, content = "时限测试") => prisma().$transaction((tx) => fileComplaint(tx, { memberId: county.members.lisi.id, channel: "WECHAT" }, { content }, ctx.config, at));

  test("across 国庆 2026: Oct 1–7 are off, Saturday Oct 10 is a 调休 working day", async () => {
    // Filed on the last working day before the holiday.
    const a = (await file(cn("2026-09-30T10:00"))).complaint;
    expect(a.number).toMatch(/^LX20260930-\d{4}$/);
    expect(a.responseDueAt).toEqual(cn("2026-10-08T10:00"));
    // Oct 8 (1), 9 (2), Sat 10 (3, make-up day), 12 (4), 13 (5).
    expect(a.resolveDueAt).toEqual(cn("2026-10-13T10:00"));
    // Friday afternoon before the make-up Saturday: one working day later is that Saturday.
    const b = (await file(cn("2026-10-09T15:00"))).complaint;
    expect(b.responseDueAt).toEqual(cn("2026-10-10T15:00"));
    expect(b.resolveDueAt).toEqual(cn("2026-10-15T15:00"));
    // Filed during the holiday: counting starts on Oct 8, so one working day ends when Oct 8 ends.
    const c = (await file(cn("2026-10-03T11:00"))).complaint;
    expect(c.responseDueAt).toEqual(cn("2026-10-09T00:00"));
    expect(c.resolveDueAt).toEqual(cn("2026-10-14T00:00"));
  });

  test("加急 shortens the limits: response in 2 hours, resolution in 1 working day", async () => {
    const a = (await file(cn("2026-09-30T10:00"), "加急测试")).complaint;
    const wangwu = secretary(county.members.wangwu.id, county.branch1.path);
    const r = await prisma().$transaction((tx) => setUrgent(tx, wangwu, a.id, true, ctx.config, cn("2026-09-30T10:30")));
    expect(r.complaint).toMatchObject({ urgent: true, responseDueAt: cn("2026-09-30T12:30"), resolveDueAt: cn("2026-10-08T10:30") });
    expect(kinds(await consistent(a.number))).toEqual(["FILED", "URGENT_SET"]);
  });

  test("a year the package does not cover yet follows the admin's overrides", async () => {
    const at = cn("2027-06-10T09:00"); // Thursday
    const plain = (await file(at)).complaint;
    expect(plain.responseDueAt).toEqual(cn("2027-06-11T09:00"));
    expect(plain.resolveDueAt).toEqual(cn("2027-06-17T09:00"));
    await setOverride(prisma(), "2027-06-11", false, "端午节");
    await setOverride(prisma(), "2027-06-14", false, "端午节");
    await setOverride(prisma(), "2027-06-12", true, "调休上班");
    const overridden = (await file(at)).complaint;
    // Fri 11 off → Sat 12 (make-up) is the next working day; then 15, 16, 17, 18 (Mon 14 off).
    expect(overridden.responseDueAt).toEqual(cn("2027-06-12T09:00"));
    expect(overridden.resolveDueAt).toEqual(cn("2027-06-18T09:00"));
  });
});

describe("metrics", () => {
  test("per unit: 响应率, 办结率, 满意率 and overdue counts, no names", async () => {
    const cn = (s: string) => new Date(`${s}+08:00`);
    const wangwu = secretary(county.members.wangwu.id, county.branch1.path);
    const filer = { identityId: null, memberId: county.members.sunqi.id, channel: "WECHAT" };
    const file = (at: string, content: string) => prisma().$transaction((tx) => fileComplaint(tx, { memberId: county.members.sunqi.id, channel: "WECHAT" }, { content }, ctx.config, cn(at)));
    // March 2026: Monday 2nd. a: claimed in time, resolved, satisfied. b: claimed late, resolved, dissatisfied twice.
    // c: never claimed (overdue).
    const a = (await file("2026-03-02T09:00", "统计甲")).complaint;
    const b = (await file("2026-03-02T09:00", "统计乙")).complaint;
    await file("2026-03-02T09:00", "统计丙");
    await prisma().$transaction(async (tx) => {
      await claimComplaint(tx, wangwu, a.id, cn("2026-03-02T10:00"));
      await resolveComplaint(tx, wangwu, a.id, "已处理", cn("2026-03-03T09:00"));
      await rateComplaint(tx, filer, a.id, "SATISFIED", null, ctx.config, cn("2026-03-03T10:00"));
      await claimComplaint(tx, wangwu, b.id, cn("2026-03-04T09:00"));
      await resolveComplaint(tx, wangwu, b.id, "已处理", cn("2026-03-05T09:00"));
      await rateComplaint(tx, filer, b.id, "DISSATISFIED", "没修好", ctx.config, cn("2026-03-05T10:00"));
      await resolveComplaint(tx, wangwu, b.id, "再次处理", cn("2026-03-06T09:00"));
      await rateComplaint(tx, filer, b.id, "DISSATISFIED", "还是不行", ctx.config, cn("2026-03-06T10:00"));
    });
    const m = await complaintMetrics(prisma(), { role: "COUNTY_ADMIN", orgPath: county.county.path }, { from: cn("2026-03-01T00:00"), to: cn("2026-04-01T00:00"), now: cn("2026-04-01T00:00") });
    expect(m.units).toHaveLength(1);
    expect(m.units[0]).toMatchObject({ unitId: county.branch1.id, name: "李家庄村党支部", filed: 3, respondedInTime: 1, resolved: 2, rated: 2, satisfied: 1, overdueOpen: 1 });
    expect(m.units[0].responseRate).toBeCloseTo(1 / 3, 3);
    expect(m.units[0].resolveRate).toBeCloseTo(2 / 3, 3);
    expect(m.units[0].satisfactionRate).toBe(0.5);
    // a: 24 h; b: 4 days and 0 h (filing to the final resolution).
    expect(m.units[0].avgResolveHours).toBe((24 + 96) / 2);
    expect(JSON.stringify(m)).not.toMatch(/孙七|136/);
    const byTown = await complaintMetrics(prisma(), { role: "COUNTY_ADMIN", orgPath: county.county.path }, { from: cn("2026-03-01T00:00"), to: cn("2026-04-01T00:00"), groupBy: "town", now: cn("2026-04-01T00:00") });
    expect(byTown.units.map((u) => u.name)).toEqual(["东山镇"]);
    expect(byTown.total.filed).toBe(3);
  });
});
