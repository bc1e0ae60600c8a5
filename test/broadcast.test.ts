// County broadcasts (core/broadcasts) against real PostgreSQL and Redis, sent through the real Wechaty stack
// (wechaty-puppet-mock) with several accounts and rooms: targeting, approval rules, scheduling with a controllable
// clock, fan-out once per group across accounts, waiting vs failed, cancel/pause races, retry, bad input.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import type { BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import type { BotAccount } from "../core/db/index.ts";
import { claimDue, markSent, wakeSenders } from "../core/delivery/outbox.ts";
import {
  approveBroadcast,
  broadcastReport,
  cancelBroadcast,
  draftBroadcast,
  pauseBroadcast,
  pendingBroadcasts,
  previewTarget,
  rejectBroadcast,
  resumeBroadcast,
  retryFailed,
  runDueBroadcasts,
  PLATFORM_TEXT_LIMIT,
  MAX_PARTS,
  type BroadcastActor,
  type BroadcastTarget,
} from "../core/broadcasts/broadcasts.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { botAccount, boundGroup, cadreActor, startOnline } from "./support/broadcast-fixtures.ts";

let ctx: TestContext;
let county: SmallCounty;
let started: BotHandle[] = [];
let admin1: BroadcastActor;
let admin2: BroadcastActor;
let townAdmin: BroadcastActor;
let seq = 0;

const people = [{ id: "wx_zhangsan", name: "张三" }];

beforeAll(async () => {
  ctx = await createTestContext("broadcast", { env: { SENDER_POLL_MS: "100", SENDER_MIN_GAP_MS: "0", SENDER_JITTER_MS: "0" } });
  county = await smallCounty(ctx.db.prisma, "B");
  admin1 = await cadreActor(ctx.db.prisma, "county-a", county.county);
  admin2 = await cadreActor(ctx.db.prisma, "county-b", county.county);
  townAdmin = await cadreActor(ctx.db.prisma, "town-a", county.town1, "TOWN_ADMIN");
});

afterEach(async () => {
  for (const bot of started) await bot.stop();
  started = [];
});

afterAll(async () => {
  for (const bot of started) await bot.stop();
  await ctx?.close();
});

const account = (name: string, budget: Partial<Pick<BotAccount, "sendsPerMinute" | "sendsPerHour">> = {}) => botAccount(ctx.db.prisma, name, budget);
const group = (room: string, unitId: number, accounts: BotAccount[], kind: "BRANCH" | "CADRE" = "BRANCH") => boundGroup(ctx.db.prisma, room, unitId, accounts, kind);
const online = (wechat: MockWechat, name: string) => startOnline(ctx, wechat, name, started);

const received = (wechat: MockWechat, room: string) => wechat.said.filter((s) => s.conversationId === room).map((s) => s.text);
const text = (label: string) => `【县委组织部通知】${label} #${++seq}`;
const deliveries = (broadcastId: number) => ctx.db.prisma.delivery.findMany({ where: { broadcastId }, orderBy: { id: "asc" } });

async function approved(target: BroadcastTarget, body: string) {
  const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body, target });
  const d = await approveBroadcast(ctx.db.prisma, admin2, broadcast.number);
  return { ...broadcast, queued: d.queued };
}

// Groups shared by the describes below (created once; later describes add their own).
let acctA: BotAccount;
let acctB: BotAccount;
const ROOMS = { t1a: "b-t1a@chatroom", t1b: "b-t1b@chatroom", t2a: "b-t2a@chatroom", cadre: "b-cadre@chatroom" };
let gT1a: number, gT1b: number, gT2a: number, gCadre: number;

beforeAll(async () => {
  acctA = await account("wx-bc-a");
  acctB = await account("wx-bc-b");
  gT1a = (await group(ROOMS.t1a, county.branch1.id, [acctA, acctB])).id;
  gT1b = (await group(ROOMS.t1b, county.branch1.id, [acctA])).id;
  gT2a = (await group(ROOMS.t2a, county.branch2.id, [acctB])).id;
  gCadre = (await group(ROOMS.cadre, county.town1.id, [acctA], "CADRE")).id;
  // Not reached: inactive, or bound to no unit.
  await ctx.db.prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "b-off@chatroom", orgUnitId: county.branch1.id, active: false } });
  await ctx.db.prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "b-unbound@chatroom" } });
});

describe("targeting and preview", () => {
  test("whole county, towns, kinds and listed groups resolve to the right groups, with accounts and an estimate", async () => {
    const p = await previewTarget(ctx.db.prisma, county.county.path, { scope: "all" }, "通知");
    expect(p.groups).toBe(4);
    expect(p.perTown.map((t) => [t.townName, t.groups])).toEqual([
      ["东山镇", 3],
      ["西河乡", 1],
    ]);
    expect(p.accounts.map((a) => [a.name, a.groups])).toEqual([
      ["wx-bc-a", 3],
      ["wx-bc-b", 2],
    ]);
    expect(p.partsPerGroup).toBe(1);
    expect(p.estimatedSeconds).toBeGreaterThan(0);
    const town2 = (await ctx.db.prisma.orgUnit.findFirstOrThrow({ where: { code: "BC-T2" } })).id;
    expect((await previewTarget(ctx.db.prisma, county.county.path, { scope: "towns", townIds: [town2] }, "x")).groups).toBe(1);
    expect((await previewTarget(ctx.db.prisma, county.county.path, { scope: "kinds", kinds: ["CADRE"] }, "x")).groups).toBe(1);
    expect((await previewTarget(ctx.db.prisma, county.county.path, { scope: "groups", groupIds: [gT1b, gT2a] }, "x")).groups).toBe(2);
  });

  test("a long text is split into platform-sized parts; the estimate grows with the budget spent", async () => {
    const long = "长".repeat(PLATFORM_TEXT_LIMIT + 10);
    const p = await previewTarget(ctx.db.prisma, county.county.path, { scope: "all" }, long);
    expect(p.partsPerGroup).toBe(2);
    expect(p.messages).toBe(8);
  });
});

describe("bad input", () => {
  const expectCode = async (p: Promise<unknown>, code: string) => {
    await expect(p).rejects.toMatchObject({ code });
  };
  test("empty text, unknown target, past send time and over-long text are refused with clear codes", async () => {
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "  \n ", target: { scope: "all" } }), "BROADCAST_TEXT_EMPTY");
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "x", target: { scope: "towns", townIds: [987654] } }), "BROADCAST_TARGET_UNKNOWN");
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "x", target: { scope: "groups", groupIds: [987654] } }), "BROADCAST_TARGET_UNKNOWN");
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "x", target: { scope: "planet" } as unknown as BroadcastTarget }), "BROADCAST_TARGET_UNKNOWN");
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "x", target: { scope: "towns", townIds: [] } }), "BROADCAST_TARGET_EMPTY");
    await expectCode(draftBroadcast(ctx.db.prisma, admin1, { body: "x", target: { scope: "all" }, scheduledAt: new Date(Date.now() - 60_000) }), "BROADCAST_SEND_TIME_PAST");
    const err = await draftBroadcast(ctx.db.prisma, admin1, { body: "长".repeat(PLATFORM_TEXT_LIMIT * MAX_PARTS + 1), target: { scope: "all" } }).catch((e) => e);
    expect(err).toMatchObject({ code: "BROADCAST_TEXT_TOO_LONG", status: 400 });
    expect(err.message).toMatch(/过长/);
    await expectCode(draftBroadcast(ctx.db.prisma, townAdmin, { body: "x", target: { scope: "all" } }), "COUNTY_ADMIN_REQUIRED");
    expect(await ctx.db.prisma.broadcast.count()).toBe(0);
  });
});

describe("approval", () => {
  test("the drafter cannot approve; a town admin cannot; a second county admin can; approving twice sends once", async () => {
    const { broadcast, preview } = await draftBroadcast(ctx.db.prisma, admin1, { body: text("审批"), target: { scope: "all" } });
    expect(broadcast.number).toMatch(/^GB\d{8}-\d{4}$/);
    expect(preview.groups).toBe(4);
    expect((await pendingBroadcasts(ctx.db.prisma, admin2)).map((b) => b.id)).toContain(broadcast.id);
    await expect(approveBroadcast(ctx.db.prisma, admin1, broadcast.number)).rejects.toMatchObject({ code: "BROADCAST_SELF_APPROVAL", status: 403 });
    await expect(approveBroadcast(ctx.db.prisma, townAdmin, broadcast.number)).rejects.toMatchObject({ code: "COUNTY_ADMIN_REQUIRED" });
    expect(await deliveries(broadcast.id)).toHaveLength(0);

    const admin3 = await ctx.db.prisma.cadreUser.create({ data: { username: "county-c", passwordHash: "x", displayName: "c", role: "COUNTY_ADMIN", orgUnitId: county.county.id } });
    const actor3: BroadcastActor = { ...admin2, cadreUserId: admin3.id };
    // Two admins approve at the same moment: exactly one wins, and the groups get one row each.
    const results = await Promise.allSettled([approveBroadcast(ctx.db.prisma, admin2, broadcast.id), approveBroadcast(ctx.db.prisma, actor3, broadcast.id)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "BROADCAST_ALREADY_DECIDED" } });
    await expect(approveBroadcast(ctx.db.prisma, admin2, broadcast.id)).rejects.toMatchObject({ code: "BROADCAST_ALREADY_DECIDED" });
    const rows = await deliveries(broadcast.id);
    expect(rows.map((r) => r.groupId).sort()).toEqual([gT1a, gT1b, gT2a, gCadre].sort());
    expect(rows.every((r) => r.status === "QUEUED" && r.accountId === null && r.priority === 9)).toBe(true);
    expect(await ctx.db.prisma.auditLog.count({ where: { targetType: "Broadcast", targetId: String(broadcast.id) } })).toBe(2);
    await cancelBroadcast(ctx.db.prisma, admin1, broadcast.id); // keep the queue clean for the next tests
  });

  test("rejection needs a reason, records it, and the broadcast can no longer be approved", async () => {
    const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body: text("驳回"), target: { scope: "all" } });
    await expect(rejectBroadcast(ctx.db.prisma, admin2, broadcast.number, " ")).rejects.toMatchObject({ code: "BROADCAST_REASON_REQUIRED" });
    await rejectBroadcast(ctx.db.prisma, admin2, broadcast.number, "措辞需修改");
    const a = await ctx.db.prisma.broadcastApproval.findFirstOrThrow({ where: { broadcastId: broadcast.id } });
    expect(a).toMatchObject({ decision: "REJECTED", reason: "措辞需修改" });
    await expect(approveBroadcast(ctx.db.prisma, admin2, broadcast.number)).rejects.toMatchObject({ code: "BROADCAST_ALREADY_DECIDED" });
    expect(await deliveries(broadcast.id)).toHaveLength(0);
  });
});

describe("scheduling with a controllable clock", () => {
  test("approved for later: nothing is written until the tick at its time; a second tick changes nothing", async () => {
    const t0 = new Date();
    const at = new Date(t0.getTime() + 3600_000);
    const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body: text("定时"), target: { scope: "kinds", kinds: ["CADRE"] }, scheduledAt: at }, t0);
    const d = await approveBroadcast(ctx.db.prisma, admin2, broadcast.id, t0);
    expect(d).toMatchObject({ queued: 0, broadcast: { status: "SCHEDULED" } });
    expect((await runDueBroadcasts(ctx.db.prisma, new Date(at.getTime() - 1000))).started).toEqual([]);
    expect(await deliveries(broadcast.id)).toHaveLength(0);
    const [r1, r2] = await Promise.all([runDueBroadcasts(ctx.db.prisma, at), runDueBroadcasts(ctx.db.prisma, at)]);
    expect([...r1.started, ...r2.started]).toEqual([broadcast.id]);
    expect((await deliveries(broadcast.id)).map((r) => r.groupId)).toEqual([gCadre]);
    await cancelBroadcast(ctx.db.prisma, admin1, broadcast.id);
  });
});

describe("cancel, pause and retry are race-free with the sender's claims", () => {
  test("cancelling while claims run: no delivery is both claimed and cancelled", async () => {
    const acct = await account("wx-race");
    const gs = [];
    for (let i = 0; i < 60; i++) gs.push((await group(`race-${i}@chatroom`, county.branch2.id, [acct])).id);
    const b = await approved({ scope: "groups", groupIds: gs }, text("竞争"));
    expect(b.queued).toBe(60);
    const claimed = new Set<string>();
    const claimer = (async () => {
      for (let i = 0; i < 30; i++) for (const d of await claimDue(ctx.db.prisma, acct.id, `wx-race:${i}`, 2)) claimed.add(String(d.id));
    })();
    await new Promise((r) => setTimeout(r, 5));
    const c = await cancelBroadcast(ctx.db.prisma, admin1, b.id);
    await claimer;
    const rows = await deliveries(b.id);
    const cancelled = rows.filter((r) => r.status === "CANCELLED").map((r) => String(r.id));
    expect(cancelled.length).toBe(c.cancelled);
    for (const id of cancelled) expect(claimed.has(id)).toBe(false);
    // Everything is either claimed (on its way) or cancelled; after the cancel nothing more can be claimed.
    expect(rows.filter((r) => r.status === "SENDING").length + cancelled.length).toBe(60);
    expect(await claimDue(ctx.db.prisma, acct.id, "wx-race:late", 100)).toHaveLength(0);
    // A claimed row that fails and is put back in the queue after the cancel is not claimed again.
    const sending = rows.filter((r) => r.status === "SENDING");
    if (sending.length) {
      await ctx.db.prisma.delivery.update({ where: { id: sending[0].id }, data: { status: "QUEUED", lockedBy: null, lockedUntil: null, nextAttemptAt: new Date(0) } });
      expect(await claimDue(ctx.db.prisma, acct.id, "wx-race:late", 100)).toHaveLength(0);
      const report = await broadcastReport(ctx.db.prisma, admin1, b.id);
      expect(report.totals.cancelled).toBe(cancelled.length + 1);
    }
  });

  test("pause holds the rows from every sender; resume releases them; retry requeues only the failed", async () => {
    const acct = await account("wx-pause");
    const gs = [];
    for (let i = 0; i < 4; i++) gs.push((await group(`pause-${i}@chatroom`, county.branch2.id, [acct])).id);
    const b = await approved({ scope: "groups", groupIds: gs }, text("暂停"));
    await pauseBroadcast(ctx.db.prisma, admin1, b.id);
    await expect(pauseBroadcast(ctx.db.prisma, admin1, b.id)).rejects.toMatchObject({ code: "BROADCAST_NOT_SENDING" });
    expect(await claimDue(ctx.db.prisma, acct.id, "wx-pause:1", 10)).toHaveLength(0);
    await resumeBroadcast(ctx.db.prisma, admin1, b.id);
    const claimed = await claimDue(ctx.db.prisma, acct.id, "wx-pause:1", 10);
    expect(claimed).toHaveLength(4);
    await markSent(ctx.db.prisma, claimed[0].id, acct.id);
    await markSent(ctx.db.prisma, claimed[1].id, acct.id);
    await ctx.db.prisma.delivery.updateMany({ where: { id: { in: [claimed[2].id, claimed[3].id] } }, data: { status: "FAILED", errorClass: "not_found", error: "机器人已不在群里" } });
    let report = await broadcastReport(ctx.db.prisma, admin1, b.id);
    expect(report.totals).toMatchObject({ total: 4, sent: 2, failed: 2, queued: 0 });
    expect(report.broadcast.status).toBe("COMPLETED");
    expect(report.failed.map((f) => f.errorClass)).toEqual(["not_found", "not_found"]);
    expect(report.perTown).toEqual([expect.objectContaining({ townName: "西河乡", sent: 2, failed: 2 })]);
    const r = await retryFailed(ctx.db.prisma, admin1, b.id);
    expect(r.requeued).toBe(2);
    report = await broadcastReport(ctx.db.prisma, admin1, b.id);
    expect(report.broadcast.status).toBe("SENDING");
    expect(report.totals).toMatchObject({ sent: 2, failed: 0 });
    expect((await claimDue(ctx.db.prisma, acct.id, "wx-pause:2", 10)).map((d) => d.groupId).sort()).toEqual(gs.slice(2).sort());
  });
});

describe("sending through the mock puppet with several accounts", () => {
  test("a group both accounts reach gets it once; a group whose only account is offline waits, then gets it", async () => {
    // Fresh accounts and rooms: X reaches r1 and r2, Y reaches r2 and r3 (Y stays offline at first).
    const x = await account("wx-fan-x");
    const y = await account("wx-fan-y");
    const r1 = await group("fan-1@chatroom", county.branch1.id, [x]);
    const r2 = await group("fan-2@chatroom", county.branch1.id, [x, y]);
    const r3 = await group("fan-3@chatroom", county.branch2.id, [y]);
    const wx = new MockWechat();
    const wy = new MockWechat();
    for (const [w, rooms] of [
      [wx, ["fan-1@chatroom", "fan-2@chatroom"]],
      [wy, ["fan-2@chatroom", "fan-3@chatroom"]],
    ] as const) {
      for (const room of rooms) w.room(room, room, people);
    }
    await online(wx, x.name);
    const body = text("扇出");
    const b = await approved({ scope: "groups", groupIds: [r1.id, r2.id, r3.id] }, body);
    await wakeSenders(ctx.coord);
    await eventually(() => {
      expect(received(wx, "fan-1@chatroom")).toEqual([body]);
      expect(received(wx, "fan-2@chatroom")).toEqual([body]);
    });
    let report = await broadcastReport(ctx.db.prisma, admin1, b.id);
    expect(report.totals).toMatchObject({ total: 3, sent: 2, waiting: 1, failed: 0 });
    expect(report.waiting.map((w) => w.groupId)).toEqual([r3.id]);
    expect(report.perTown).toEqual([expect.objectContaining({ townName: "东山镇", sent: 2 }), expect.objectContaining({ townName: "西河乡", waiting: 1 })]);

    await online(wy, y.name);
    await eventually(() => expect(received(wy, "fan-3@chatroom")).toEqual([body]));
    expect(received(wy, "fan-2@chatroom")).toEqual([]);
    await eventually(async () => {
      report = await broadcastReport(ctx.db.prisma, admin1, b.id);
      expect(report.totals).toMatchObject({ total: 3, sent: 3, waiting: 0 });
      expect(report.broadcast.status).toBe("COMPLETED");
    });
  });
});

describe("chat commands for county admins", () => {
  test("待审广播 lists, the drafter's 批准广播 is refused, 驳回广播 needs a reason, the second admin's 批准广播 sends", async () => {
    const prisma = ctx.db.prisma;
    await prisma.cadreUser.update({ where: { id: admin1.cadreUserId! }, data: { memberId: county.members.lisi.id } });
    await prisma.cadreUser.update({ where: { id: admin2.cadreUserId! }, data: { memberId: county.members.zhaoliu.id } });
    const acct = await account("wx-bc-chat");
    const room = await group("chat-1@chatroom", county.branch1.id, [acct]);
    const wechat = new MockWechat();
    wechat.contact("wx_lisi", "李四");
    wechat.contact("wx_zhaoliu", "赵六");
    wechat.room("chat-1@chatroom", "聊天测试群", people);
    await linkWechat(prisma, acct.name, "wx_lisi", "李四", county.members.lisi.id);
    await linkWechat(prisma, acct.name, "wx_zhaoliu", "赵六", county.members.zhaoliu.id);
    await online(wechat, acct.name);

    const body = text("聊天审批");
    const { broadcast } = await draftBroadcast(prisma, admin1, { title: "聊天审批", body, target: { scope: "groups", groupIds: [room.id] } });
    const toLisi = () => received(wechat, "wx_lisi");
    const toZhao = () => received(wechat, "wx_zhaoliu");

    wechat.say("wx_zhaoliu", "待审广播");
    await eventually(() => expect(toZhao().join("\n")).toContain(broadcast.number));
    expect(toZhao().at(-1)).toMatch(/待审批的广播 \d+ 条[\s\S]*聊天审批[\s\S]*1 个群/);

    wechat.say("wx_lisi", `批准广播 ${broadcast.number}`);
    await eventually(() => expect(toLisi().at(-1)).toMatch(/不能批准自己起草的广播/));

    wechat.say("wx_zhaoliu", `驳回广播 ${broadcast.number}`);
    await eventually(() => expect(toZhao().at(-1)).toMatch(/驳回时请写明理由/));

    wechat.say("wx_zhaoliu", `批准广播 ${broadcast.number}`);
    await eventually(() => expect(toZhao().at(-1)).toMatch(new RegExp(`已批准广播 ${broadcast.number}，正在向 1 个群发送`)));
    await eventually(() => expect(received(wechat, "chat-1@chatroom")).toEqual([body]));
    // Again (by its id this time: the same text twice would be taken for a redelivered message).
    wechat.say("wx_zhaoliu", `批准广播 ${broadcast.id}`);
    await eventually(() => expect(toZhao().at(-1)).toMatch(/无需再审批/));
    wechat.say("wx_zhaoliu", `广播进度 ${broadcast.number}`);
    await eventually(() => expect(toZhao().at(-1)).toMatch(/共 1 个群：已发送 1/));
    expect(received(wechat, "chat-1@chatroom")).toEqual([body]);
  });
});

describe("budgets across accounts", () => {
  test("two accounts allowed 3 a minute each share 6 groups both reach: 3 each, every group once", async () => {
    const p = await account("wx-bud-p", { sendsPerMinute: 3 });
    const q = await account("wx-bud-q", { sendsPerMinute: 3 });
    const rooms = Array.from({ length: 6 }, (_, i) => `bud-${i}@chatroom`);
    const gs = [];
    for (const r of rooms) gs.push((await group(r, county.branch1.id, [p, q])).id);
    const wp = new MockWechat();
    const wq = new MockWechat();
    for (const r of rooms) {
      wp.room(r, r, people);
      wq.room(r, r, people);
    }
    await online(wp, p.name);
    await online(wq, q.name);
    const body = text("额度");
    const b = await approved({ scope: "groups", groupIds: gs }, body);
    const preview = await previewTarget(ctx.db.prisma, county.county.path, { scope: "groups", groupIds: gs }, body, { minGapMs: 0, jitterMs: 0 });
    // 6 messages at 3 + 3 a minute: about a minute.
    expect(preview.estimatedSeconds).toBe(60);
    await wakeSenders(ctx.coord);
    const sentBy = (w: MockWechat) => w.said.filter((s) => s.text === body).map((s) => s.conversationId);
    await eventually(() => expect(sentBy(wp).length + sentBy(wq).length).toBe(6));
    expect(sentBy(wp)).toHaveLength(3);
    expect(sentBy(wq)).toHaveLength(3);
    expect(new Set([...sentBy(wp), ...sentBy(wq)])).toEqual(new Set(rooms));
    const report = await broadcastReport(ctx.db.prisma, admin1, b.id);
    expect(report.totals).toMatchObject({ total: 6, sent: 6 });
  });
});
