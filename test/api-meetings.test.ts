// Meetings, check-in and notices through the HTTP API: the console publishes, changes, cancels, lists and exports;
// the mini-program binds a member, checks in (once, whatever the channel) and reads notices. Real Postgres and
// Redis, the API on a random port; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { recordCheckins } from "../core/meetings/attendance.ts";
import { issueQrToken } from "../core/meetings/qr.ts";
import type { CadreRole } from "../core/org/scope.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
const MIN = 60_000;

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;

const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "sec2" | "member1", string>;
/** Mini-program logins: ChatIdentity ids and their tokens. */
const mp = {} as Record<"zhangsan" | "wangwu" | "sunqi" | "zhaoliu" | "lisi" | "stranger" | "guesser", { id: number; token: string }>;
const grp = {} as Record<"branch1" | "branch1Qq" | "branch2", number>;
let wangwuWechat: number;

beforeAll(async () => {
  ctx = await createTestContext("api-meetings");
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AM");
  const town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "AMC-T2" } });

  const users: Array<{ key: keyof typeof tokens; role: CadreRole; orgUnitId: number }> = [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "sec2", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ];
  for (const u of users) {
    const user = await prisma.cadreUser.create({ data: { username: u.key, passwordHash: "x", displayName: `${u.key} 用户`, role: u.role, orgUnitId: u.orgUnitId } });
    tokens[u.key] = (await issueAccessToken(ctx.config, { kind: "cadre", subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion })).token;
  }

  const group = (platformGroupId: string, orgUnitId: number, channel: "WECHAT" | "QQ" = "WECHAT") =>
    prisma.chatGroup.create({ data: { channel, platformGroupId, topic: platformGroupId, kind: "BRANCH", orgUnitId, boundAt: new Date() } }).then((g) => g.id);
  grp.branch1 = await group("r-ljz@chatroom", county.branch1.id);
  grp.branch1Qq = await group("5550001", county.branch1.id, "QQ");
  grp.branch2 = await group("r-hx@chatroom", county.branch2.id);
  // A group the bot has left: no notice goes there.
  await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "r-old@chatroom", topic: "旧群", kind: "BRANCH", orgUnitId: county.branch1.id, active: false } });

  // Mini-program logins, minted the way /api/mp/login does.
  const login = async (key: keyof typeof mp, memberId: number | null, branchId: number | null) => {
    const identity = await prisma.chatIdentity.create({ data: { channel: "MINIPROGRAM", platformUserId: `openid-${key}`, memberId, linkedAt: memberId ? new Date() : null } });
    const token = await issueAccessToken(ctx.config, { kind: "mp", subjectId: identity.id, role: memberId ? "MEMBER" : null, orgUnitId: branchId, tokenVersion: 0 });
    mp[key] = { id: identity.id, token: token.token };
  };
  const { members } = county;
  await login("zhangsan", members.zhangsan.id, county.branch1.id);
  await login("wangwu", members.wangwu.id, county.branch1.id);
  await login("sunqi", members.sunqi.id, county.branch1.id);
  await login("zhaoliu", members.zhaoliu.id, county.branch2.id);
  await login("lisi", null, null);
  await login("stranger", null, null);
  await login("guesser", null, null);
  wangwuWechat = (await linkWechat(prisma, "wx-main", "wx_wangwu", "王五（书记）", members.wangwu.id)).id;

  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

// ---- helpers ----

const call = apiCaller(() => api.url);

function expectOk(res: Answer, status = 200) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status, error: undefined });
  return res.json;
}


const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

let topicNo = 0;
/** Publishes a meeting of branch 1 through the API (window open now unless told otherwise). */
async function publish(body: Record<string, unknown> = {}, token = tokens.sec1) {
  const res = await call("/api/meetings", { token, body: { unitId: county.branch1.id, topic: `学习党章第${++topicNo}讲`, place: "村委会", plannedAt: at(10 * MIN), ...body } });
  return expectOk(res, 201) as { meeting: { id: number; topic: string; plannedAt: string; checkinOpensAt: string; checkinClosesAt: string; status: string }; noticeId: number; groupsNotified: number };
}

const checkin = (meetingId: number, who: keyof typeof mp, body: Record<string, unknown> = {}) => call(`/api/mp/meetings/${meetingId}/checkin`, { token: mp[who].token, body });

// ---- publishing ----

describe("POST /api/meetings", () => {
  test("publishes: the meeting, a notice, and one delivery per active bound group in the same transaction", async () => {
    const plannedAt = at(10 * MIN);
    const res = await call("/api/meetings", { token: tokens.sec1, body: { unitId: county.branch1.id, type: "PARTY_LECTURE", topic: "  学习党章  ", place: "村委会", plannedAt } });
    const body = expectOk(res, 201);
    expect(body.groupsNotified).toBe(2);
    expect(body.meeting).toMatchObject({
      unit: { id: county.branch1.id, name: "李家庄村党支部", kind: "BRANCH" },
      type: "PARTY_LECTURE",
      typeLabel: "党课",
      topic: "学习党章",
      place: "村委会",
      status: "PLANNED",
      statusLabel: "计划中",
      durationMinutes: 90,
      qrRequired: false,
    });
    const planned = new Date(plannedAt).getTime();
    expect(new Date(body.meeting.checkinOpensAt).getTime()).toBe(planned - 30 * MIN);
    expect(new Date(body.meeting.checkinClosesAt).getTime()).toBe(planned + 30 * MIN);

    const prisma = ctx.db.prisma;
    const notice = await prisma.notice.findUniqueOrThrow({ where: { id: body.noticeId } });
    expect(notice).toMatchObject({ meetingId: body.meeting.id, orgUnitId: county.branch1.id, title: "【党课通知】学习党章" });
    const deliveries = await prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: `notice:${notice.id}:` } }, orderBy: { groupId: "asc" } });
    expect(deliveries.map((d) => [d.groupId, d.channel, d.status])).toEqual([
      [grp.branch1, "WECHAT", "QUEUED"],
      [grp.branch1Qq, "QQ", "QUEUED"],
    ]);
    expect(deliveries[0].body).toContain("学习党章");
    expect(deliveries[0].body).toContain("地点：村委会");
    const audit = await prisma.auditLog.findFirst({ where: { action: "meeting.publish", targetId: String(body.meeting.id) } });
    expect(audit).toMatchObject({ channel: "api" });
  });

  test("a town admin publishes for a branch of the town; the window and QR options are kept", async () => {
    const body = await publish({ opensBeforeMin: 60, closesAfterMin: 15, durationMinutes: 45, qrRequired: true }, tokens.town1);
    const planned = new Date(body.meeting.plannedAt).getTime();
    expect(new Date(body.meeting.checkinOpensAt).getTime()).toBe(planned - 60 * MIN);
    expect(new Date(body.meeting.checkinClosesAt).getTime()).toBe(planned + 15 * MIN);
    expect(body.meeting).toMatchObject({ durationMinutes: 45, qrRequired: true });
  });

  test("scope: another branch's secretary 403 OUT_OF_SCOPE; a member login or a mini-program login 403; no token 401", async () => {
    const body = { unitId: county.branch1.id, topic: "学习", plannedAt: at(10 * MIN) };
    const err = expectError(await call("/api/meetings", { token: tokens.sec2, body }), 403, "OUT_OF_SCOPE");
    expect(err.message).toContain("李家庄村党支部");
    expectError(await call("/api/meetings", { token: tokens.town2, body }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/meetings", { token: tokens.member1, body }), 403, "FORBIDDEN");
    expectError(await call("/api/meetings", { token: mp.zhangsan.token, body }), 403, "FORBIDDEN");
    expectError(await call("/api/meetings", { body }), 401, "TOKEN_MISSING");
    expectError(await call("/api/meetings", { token: tokens.county, body: { ...body, unitId: 99999999 } }), 404, "ORG_UNIT_NOT_FOUND");
    expect(await ctx.db.prisma.meeting.count({ where: { topic: "学习" } })).toBe(0);
  });

  test("validation: a start in the past, an unknown type, an empty topic, a time without offset — in Chinese", async () => {
    const base = { unitId: county.branch1.id, topic: "学习", plannedAt: at(10 * MIN) };
    const past = expectError(await call("/api/meetings", { token: tokens.sec1, body: { ...base, plannedAt: at(-2 * 3600_000) } }), 400, "TIME_IN_PAST");
    expect(past.message).toMatch(/已经过去了/);

    const bad = expectError(await call("/api/meetings", { token: tokens.sec1, body: { ...base, type: "PARTY", topic: "   ", plannedAt: "明天晚上" } }), 400, "VALIDATION_FAILED");
    const fields = Object.fromEntries((bad.fields as { field: string; message: string }[]).map((f) => [f.field, f.message]));
    expect(Object.keys(fields).sort()).toEqual(["body.plannedAt", "body.topic", "body.type"]);
    expect(fields["body.type"]).toMatch(/^会议类型只能是 STUDY（学习）/);
    expect(fields["body.topic"]).toBe("请填写会议主题");
    expect(fields["body.plannedAt"]).toMatch(/^开始时间须为带时区的 ISO 8601 时间/);

    const noOffset = expectError(await call("/api/meetings", { token: tokens.sec1, body: { ...base, plannedAt: "2030-01-01T19:30:00" } }), 400, "VALIDATION_FAILED");
    expect(noOffset.fields).toEqual([{ field: "body.plannedAt", message: expect.stringMatching(HAN) }]);
    const window = expectError(await call("/api/meetings", { token: tokens.sec1, body: { ...base, opensBeforeMin: 2000, durationMinutes: 5 } }), 400, "VALIDATION_FAILED");
    expect((window.fields as { field: string }[]).map((f) => f.field).sort()).toEqual(["body.durationMinutes", "body.opensBeforeMin"]);
    expectError(await call("/api/meetings", { token: tokens.sec1, body: { ...base, topic: "长".repeat(101) } }), 400, "VALIDATION_FAILED");
  });
});

// ---- listing and detail ----

describe("GET /api/meetings and /api/meetings/:id", () => {
  let meetingId: number;
  let otherBranchMeeting: number;

  beforeAll(async () => {
    meetingId = (await publish({ type: "THEME_DAY", topic: "主题党日：重温入党誓词" })).meeting.id;
    otherBranchMeeting = (await publish({ unitId: county.branch2.id, topic: "河西村学习" }, tokens.sec2)).meeting.id;
    // 张三 in the mini-program, 王五 in the group, 李四 asks for leave, 孙七 does nothing; a stranger checks in unlinked.
    expectOk(await checkin(meetingId, "zhangsan"));
    await recordCheckins(ctx.db.prisma, [{ meetingId, memberId: county.members.wangwu.id, identityId: wangwuWechat, groupId: grp.branch1, source: "WECHAT", at: new Date() }]);
    await ctx.db.prisma.attendance.create({ data: { meetingId, memberId: county.members.lisi.id, status: "LEAVE", source: "WECHAT", note: "外出务工", leaveDecision: "PENDING" } });
    const nick = await ctx.db.prisma.chatIdentity.create({ data: { channel: "WECHAT", scope: "wx-main", platformUserId: "wx_nick", displayName: "老孙头" } });
    await recordCheckins(ctx.db.prisma, [{ meetingId, memberId: null, identityId: nick.id, groupId: grp.branch1, source: "WECHAT", at: new Date() }]);
    // 赵六 of branch 2 sits in (列席).
    await recordCheckins(ctx.db.prisma, [{ meetingId, memberId: county.members.zhaoliu.id, identityId: null, groupId: null, source: "CONSOLE", at: new Date() }]);
  });

  test("the list counts roster members only, for the page at once", async () => {
    const body = expectOk(await call(`/api/meetings?unitId=${county.branch1.id}&type=THEME_DAY`, { token: tokens.sec1 }));
    expect(body.total).toBe(1);
    expect(body.items[0]).toMatchObject({ id: meetingId, typeLabel: "主题党日", counts: { rosterCount: 4, present: 2, leave: 1, absent: 1 } });

    const all = expectOk(await call("/api/meetings?pageSize=100", { token: tokens.sec1 }));
    expect(all.items.map((m: { id: number }) => m.id)).toContain(meetingId);
    expect(all.items.map((m: { id: number }) => m.id)).not.toContain(otherBranchMeeting);
    expect(all.items.every((m: { unit: { id: number } }) => m.unit.id === county.branch1.id)).toBe(true);

    // The county sees both branches; a town only its own; from/to filter on the start time.
    const countyIds = expectOk(await call("/api/meetings?pageSize=100", { token: tokens.county })).items.map((m: { id: number }) => m.id);
    expect(countyIds).toEqual(expect.arrayContaining([meetingId, otherBranchMeeting]));
    const town2Ids = expectOk(await call("/api/meetings?pageSize=100", { token: tokens.town2 })).items.map((m: { id: number }) => m.id);
    expect(town2Ids).toEqual([otherBranchMeeting]);
    const later = expectOk(await call(`/api/meetings?from=${encodeURIComponent(at(3600_000))}`, { token: tokens.county }));
    expect(later.items.map((m: { id: number }) => m.id)).not.toContain(meetingId);

    expectError(await call(`/api/meetings?unitId=${county.branch2.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/meetings", { token: tokens.member1 }), 403, "FORBIDDEN");
    const badType = expectError(await call("/api/meetings?type=NOPE", { token: tokens.sec1 }), 400, "VALIDATION_FAILED");
    expect(badType.fields).toEqual([{ field: "query.type", message: expect.stringMatching(/^会议类型只能是/) }]);
    const badRange = expectError(await call(`/api/meetings?from=${encodeURIComponent(at(0))}&to=${encodeURIComponent(at(-MIN))}`, { token: tokens.sec1 }), 400, "VALIDATION_FAILED");
    expect(badRange.fields).toEqual([{ field: "query.to", message: "from 必须早于 to" }]);
  });

  test("the detail lists who came, who asked for leave, who is missing — without phone numbers", async () => {
    const res = await call(`/api/meetings/${meetingId}`, { token: tokens.sec1 });
    const body = expectOk(res);
    expect(body.rosterCount).toBe(4);
    expect(body.counts).toEqual({ present: 2, leave: 1, absent: 1, unlinked: 1, guests: 1 });
    expect(body.noticeId).toEqual(expect.any(Number));
    const names = (list: { name: string }[]) => list.map((p) => p.name).sort();
    expect(names(body.present)).toEqual(["张三", "王五"].sort());
    expect(body.present.find((p: { name: string }) => p.name === "张三")).toMatchObject({ source: "MINIPROGRAM", sourceLabel: "小程序", at: expect.stringMatching(/Z$/) });
    expect(body.leave).toEqual([expect.objectContaining({ name: "李四", note: "外出务工", leaveDecision: "PENDING", leaveDecisionLabel: "待审批" })]);
    expect(body.absent).toEqual([expect.objectContaining({ name: "孙七", memberId: county.members.sunqi.id, at: null })]);
    expect(body.unlinked).toEqual([expect.objectContaining({ name: "老孙头", memberId: null })]);
    expect(body.guests).toEqual([expect.objectContaining({ name: "赵六" })]);
    for (const phone of ["13800001234", "13900005678", "13700009999", "13600002222", "13500003333"]) expect(res.text).not.toContain(phone);
    expect(res.text).not.toMatch(/phone/i);

    expectError(await call(`/api/meetings/${meetingId}`, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/meetings/99999999", { token: tokens.sec1 }), 404, "MEETING_NOT_FOUND");
  });

  test("the 签到表 exports as .xlsx with a UTF-8 file name, every roster member and the unlinked check-ins", async () => {
    const res = await call(`/api/meetings/${meetingId}/attendance.xlsx`, { token: tokens.sec1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    const disposition = res.headers.get("content-disposition")!;
    expect(disposition).toMatch(/^attachment; filename="attendance-\d+-\d{4}-\d{2}-\d{2}\.xlsx"; filename\*=UTF-8''/);
    const encoded = /filename\*=UTF-8''(.+)$/.exec(disposition)![1];
    expect(encoded).toMatch(/^[A-Za-z0-9%!#$&+\-.^_`|~]+$/);
    expect(decodeURIComponent(encoded)).toMatch(/^签到表-李家庄村党支部-\d{4}-\d{2}-\d{2}\.xlsx$/);

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.bytes as any);
    const ws = wb.getWorksheet("签到表")!;
    const rows: string[][] = [];
    const rowNumbers: number[] = [];
    ws.eachRow((row) => {
      rowNumbers.push(row.number);
      rows.push((row.values as unknown[]).slice(1).map((v) => (v == null ? "" : String(v))));
    });
    expect(rows[0][0]).toBe("李家庄村党支部「主题党日：重温入党誓词」签到表");
    const info = Object.fromEntries(rows.slice(1, 6).map((r) => [r[0], r[1]]));
    expect(info["类型"]).toBe("主题党日");
    expect(info["时间"]).toMatch(/^\d{4}年\d{1,2}月\d{1,2}日（周.）\d{2}:\d{2}—/);
    expect(info["地点"]).toBe("村委会");
    expect(info["人数"]).toBe("应到 4 人，实到 2 人，请假 1 人，缺席 1 人");
    const headerAt = rows.findIndex((r) => r[0] === "序号");
    expect(rows[headerAt]).toEqual(["序号", "姓名", "状态", "签到时间", "方式", "备注"]);
    const table = rows.slice(headerAt + 1).map((r) => [r[0], r[1], r[2], r[4]]);
    expect(table.slice(0, 4).map((r) => r.slice(1, 3)).sort()).toEqual(
      [
        ["张三", "已签到"],
        ["王五", "已签到"],
        ["李四", "请假"],
        ["孙七", "缺席"],
      ].sort(),
    );
    expect(table.map((r) => r[0])).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(table.find((r) => r[1] === "张三")![3]).toBe("小程序");
    expect(rows.slice(headerAt + 1).find((r) => r[1] === "李四")![5]).toBe("外出务工；待审批");
    expect(table[4].slice(1, 3)).toEqual(["赵六", "列席"]);
    expect(table[5].slice(1, 3)).toEqual(["老孙头", "已签到（未登记）"]);
    // Header bold and frozen.
    const header = ws.getRow(rowNumbers[headerAt]);
    expect(header.getCell(1).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: "frozen", ySplit: rowNumbers[headerAt] });
    expect(ws.getColumn(6).width).toBeGreaterThan(ws.getColumn(1).width!);

    expectError(await call(`/api/meetings/${meetingId}/attendance.xlsx`, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    const missing = await call("/api/meetings/99999999/attendance.xlsx", { token: tokens.sec1 });
    expectError(missing, 404, "MEETING_NOT_FOUND");
    expect(missing.headers.get("content-disposition")).toBeNull();
  });
});

// ---- changing and cancelling ----

describe("PATCH /api/meetings/:id and POST /api/meetings/:id/cancel", () => {
  test("moving the start shifts the window and tells the groups", async () => {
    const { meeting } = await publish();
    const newStart = at(3 * 3600_000);
    const body = expectOk(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.sec1, body: { plannedAt: newStart, place: "党群服务中心" } }));
    expect(body.groupsNotified).toBe(2);
    expect(body.changes).toEqual(expect.arrayContaining([expect.stringMatching(/^时间改为/), "地点改为 党群服务中心", expect.stringMatching(/^签到时间/)]));
    expect(new Date(body.meeting.checkinOpensAt).getTime()).toBe(new Date(newStart).getTime() - 30 * MIN);
    expect(new Date(body.meeting.checkinClosesAt).getTime()).toBe(new Date(newStart).getTime() + 30 * MIN);
    const sent = await ctx.db.prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: `meeting:${meeting.id}:update:` } } });
    expect(sent).toHaveLength(2);
    expect(sent[0].body).toMatch(/^【变更通知】/);
    // The notice follows the change.
    const notice = await ctx.db.prisma.notice.findFirstOrThrow({ where: { meetingId: meeting.id } });
    expect(notice.body).toContain("党群服务中心");

    expectError(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.sec1, body: {} }), 400, "NOTHING_TO_CHANGE");
    expectError(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.sec1, body: { plannedAt: at(-3600_000) } }), 400, "TIME_IN_PAST");
    expectError(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.sec2, body: { topic: "改" } }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.member1, body: { topic: "改" } }), 403, "FORBIDDEN");
  });

  test("cancelling tells the groups once; a cancelled meeting cannot be changed, checked into or shown as a QR code", async () => {
    const { meeting } = await publish();
    const body = expectOk(await call(`/api/meetings/${meeting.id}/cancel`, { token: tokens.sec1, body: { reason: "天气原因" } }));
    expect(body.meeting).toMatchObject({ status: "CANCELLED", statusLabel: "已取消", cancelReason: "天气原因", cancelledAt: expect.stringMatching(/Z$/) });
    expect(body.groupsNotified).toBe(2);
    const sent = await ctx.db.prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: `meeting:${meeting.id}:cancel` } } });
    expect(sent).toHaveLength(2);
    expect(sent[0].body).toContain("天气原因");

    expectError(await call(`/api/meetings/${meeting.id}/cancel`, { token: tokens.sec1, body: {} }), 409, "MEETING_CANCELLED");
    expectError(await call(`/api/meetings/${meeting.id}`, { method: "PATCH", token: tokens.sec1, body: { topic: "改" } }), 409, "MEETING_CANCELLED");
    expectError(await checkin(meeting.id, "zhangsan"), 409, "MEETING_CANCELLED");
    expectError(await call(`/api/meetings/${meeting.id}/qr-token`, { token: tokens.sec1 }), 409, "MEETING_CANCELLED");
    // Cancelling without a body works too.
    const other = await publish();
    const res = await fetch(`${api.url}/api/meetings/${other.meeting.id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${tokens.sec1}` } });
    expect(res.status).toBe(200);
  });
});

// ---- the mini-program ----

describe("POST /api/mp/bind", () => {
  test("binds to the roster member with that name and phone ending, and returns a member-scoped token", async () => {
    const wrong = expectError(await call("/api/mp/bind", { token: mp.lisi.token, body: { branchCode: county.branch1.code, name: "李四", phoneTail: "0000" } }), 404, "MEMBER_NOT_FOUND");
    expect(wrong.message).toMatch(/手机后四位/);
    expectError(await call("/api/mp/bind", { token: mp.lisi.token, body: { branchCode: "NO-SUCH", name: "李四", phoneTail: "5678" } }), 404, "UNIT_NOT_FOUND");
    expectError(await call("/api/mp/bind", { token: mp.lisi.token, body: { branchCode: "AMC-T1", name: "李四", phoneTail: "5678" } }), 400, "UNIT_NOT_A_BRANCH");
    // Before binding the member-only endpoints say how to bind.
    expect(expectError(await call("/api/mp/meetings", { token: mp.lisi.token }), 403, "MEMBER_NOT_LINKED").message).toMatch(/绑定/);

    const body = expectOk(await call("/api/mp/bind", { token: mp.lisi.token, body: { branchCode: county.branch1.code, name: "李四", phoneTail: "5678" } }));
    expect(body.member).toEqual({ id: county.members.lisi.id, name: "李四", branchId: county.branch1.id, branchName: "李家庄村党支部" });
    expect(body.tokenType).toBe("Bearer");
    const me = expectOk(await call("/api/auth/me", { token: body.accessToken }));
    expect(me.principal).toMatchObject({ kind: "mp", role: "MEMBER", orgUnitId: county.branch1.id, memberId: county.members.lisi.id });
    expectOk(await call("/api/mp/meetings", { token: body.accessToken }));
    expect((await ctx.db.prisma.chatIdentity.findUniqueOrThrow({ where: { id: mp.lisi.id } })).memberId).toBe(county.members.lisi.id);
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "identity.link", targetId: String(mp.lisi.id), channel: "MINIPROGRAM" } })).toBe(1);

    expectError(await call("/api/mp/bind", { token: body.accessToken, body: { branchCode: county.branch1.code, name: "李四", phoneTail: "5678" } }), 409, "ALREADY_LINKED");
    expectError(await call("/api/mp/bind", { token: tokens.sec1, body: { branchCode: county.branch1.code, name: "李四", phoneTail: "5678" } }), 403, "FORBIDDEN");
  });

  test("badly formed input is refused before it counts; five wrong guesses an hour, then 429", async () => {
    const bad = expectError(await call("/api/mp/bind", { token: mp.guesser.token, body: { branchCode: "", name: "张三1", phoneTail: "12" } }), 400, "VALIDATION_FAILED");
    expect((bad.fields as { field: string }[]).map((f) => f.field).sort()).toEqual(["body.branchCode", "body.name", "body.phoneTail"]);
    for (let i = 0; i < 5; i++) {
      expectError(await call("/api/mp/bind", { token: mp.guesser.token, body: { branchCode: county.branch1.code, name: "张三", phoneTail: `000${i}` } }), 404, "MEMBER_NOT_FOUND");
    }
    const res = await call("/api/mp/bind", { token: mp.guesser.token, body: { branchCode: county.branch1.code, name: "张三", phoneTail: "1234" } });
    expect(expectError(res, 429, "TOO_MANY_ATTEMPTS").message).toMatch(/一小时后/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await ctx.db.prisma.chatIdentity.findUniqueOrThrow({ where: { id: mp.guesser.id } })).memberId).toBeNull();
  });
});

describe("POST /api/mp/meetings/:id/checkin", () => {
  test("new, then repeat: counted once", async () => {
    const { meeting } = await publish();
    const first = expectOk(await checkin(meeting.id, "zhangsan"));
    expect(first).toMatchObject({ outcome: "new", meetingId: meeting.id, recordedAt: expect.stringMatching(/Z$/) });
    expect(first.message).toMatch(/签到成功/);
    const again = expectOk(await checkin(meeting.id, "zhangsan"));
    expect(again).toMatchObject({ outcome: "repeat", recordedAt: first.recordedAt });
    const rows = await ctx.db.prisma.attendance.findMany({ where: { meetingId: meeting.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ memberId: county.members.zhangsan.id, identityId: mp.zhangsan.id, source: "MINIPROGRAM", status: "PRESENT", groupId: null });
  });

  test("a member who checked in from the group first gets repeat, and there is one row", async () => {
    const { meeting } = await publish();
    const [outcome] = await recordCheckins(ctx.db.prisma, [{ meetingId: meeting.id, memberId: county.members.wangwu.id, identityId: wangwuWechat, groupId: grp.branch1, source: "WECHAT", at: new Date() }]);
    expect(outcome).toBe("new");
    expect(expectOk(await checkin(meeting.id, "wangwu")).outcome).toBe("repeat");
    const rows = await ctx.db.prisma.attendance.findMany({ where: { meetingId: meeting.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: "WECHAT", identityId: wangwuWechat });
    const detail = expectOk(await call(`/api/meetings/${meeting.id}`, { token: tokens.sec1 }));
    expect(detail.counts.present).toBe(1);
  });

  test("leave first, then check in: upgraded", async () => {
    const { meeting } = await publish();
    const leave = expectOk(await call(`/api/mp/meetings/${meeting.id}/leave`, { token: mp.sunqi.token, body: { reason: "  照顾老人  " } }));
    expect(leave).toMatchObject({ status: "LEAVE", leaveDecision: "PENDING", updated: false });
    expect((await ctx.db.prisma.attendance.findFirstOrThrow({ where: { meetingId: meeting.id } })).note).toBe("照顾老人");
    expect(expectOk(await checkin(meeting.id, "sunqi")).outcome).toBe("upgraded");
    expectError(await call(`/api/mp/meetings/${meeting.id}/leave`, { token: mp.sunqi.token, body: { reason: "又有事" } }), 409, "ALREADY_CHECKED_IN");
    const empty = expectError(await call(`/api/mp/meetings/${meeting.id}/leave`, { token: mp.sunqi.token, body: { reason: " " } }), 400, "VALIDATION_FAILED");
    expect(empty.fields).toEqual([{ field: "body.reason", message: "请填写请假原因" }]);
  });

  test("refusals: not linked, no such meeting, another branch's meeting, before and after the window", async () => {
    const { meeting } = await publish();
    expect(expectError(await checkin(meeting.id, "stranger"), 403, "MEMBER_NOT_LINKED").message).toMatch(/支部编码/);
    expectError(await checkin(99999999, "zhangsan"), 404, "MEETING_NOT_FOUND");
    expectError(await checkin(meeting.id, "zhaoliu"), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/mp/meetings/${meeting.id}/checkin`, { token: tokens.sec1, body: {} }), 403, "FORBIDDEN");

    const later = await publish({ plannedAt: at(3 * 3600_000) });
    const early = expectError(await checkin(later.meeting.id, "zhangsan"), 409, "CHECKIN_NOT_OPEN");
    expect(early.opensAt).toBe(later.meeting.checkinOpensAt);
    expect(early.message).toMatch(/\d{1,2}月\d{1,2}日（周.）\d{2}:\d{2}/);
    expect(early.message).toMatch(/北京时间/);

    // A window that has closed (moved into the past behind the API's back).
    await ctx.db.prisma.meeting.update({ where: { id: later.meeting.id }, data: { plannedAt: new Date(Date.now() - 2 * 3600_000), checkinOpensAt: new Date(Date.now() - 3 * 3600_000), checkinClosesAt: new Date(Date.now() - 3600_000) } });
    expectError(await checkin(later.meeting.id, "zhangsan"), 409, "CHECKIN_CLOSED");
    expectError(await call(`/api/meetings/${later.meeting.id}/qr-token`, { token: tokens.sec1 }), 409, "CHECKIN_CLOSED");
    expectError(await call(`/api/mp/meetings/${later.meeting.id}/leave`, { token: mp.zhangsan.token, body: { reason: "有事" } }), 409, "MEETING_CLOSED");
    expect(await ctx.db.prisma.attendance.count({ where: { meetingId: { in: [meeting.id, later.meeting.id] } } })).toBe(0);
  });

  test("a member may check in to a meeting of a unit above their branch", async () => {
    const town = await publish({ unitId: county.town1.id, topic: "全镇党员大会" }, tokens.town1);
    expect(town.groupsNotified).toBe(0);
    expect(expectOk(await checkin(town.meeting.id, "zhangsan")).outcome).toBe("new");
    expectError(await checkin(town.meeting.id, "zhaoliu"), 403, "OUT_OF_SCOPE");
  });

  test("QR required: missing, forged, expired, another meeting's — refused; the screen's current token — accepted", async () => {
    const { meeting } = await publish({ qrRequired: true });
    const other = await publish();
    const secret = ctx.config.JWT_SECRET;
    expectError(await checkin(meeting.id, "zhangsan"), 400, "QR_TOKEN_REQUIRED");
    const slot = Math.floor(Date.now() / 30_000);
    expectError(await checkin(meeting.id, "zhangsan", { qrToken: `NBQ1.${meeting.id}.${slot}.AAAAAAAAAAAAAAAAAAAAAA` }), 400, "QR_TOKEN_INVALID");
    expectError(await checkin(meeting.id, "zhangsan", { qrToken: "not-a-token" }), 400, "QR_TOKEN_INVALID");
    expectError(await checkin(meeting.id, "zhangsan", { qrToken: issueQrToken(secret, meeting.id, Date.now() - 2 * MIN).token }), 400, "QR_TOKEN_EXPIRED");
    expectError(await checkin(meeting.id, "zhangsan", { qrToken: issueQrToken(secret, other.meeting.id).token }), 400, "QR_TOKEN_WRONG_MEETING");
    // A token given for a meeting that does not require one is still checked.
    expectError(await checkin(other.meeting.id, "zhangsan", { qrToken: issueQrToken(secret, meeting.id).token }), 400, "QR_TOKEN_WRONG_MEETING");
    expect(await ctx.db.prisma.attendance.count({ where: { meetingId: meeting.id } })).toBe(0);

    const qr = expectOk(await call(`/api/meetings/${meeting.id}/qr-token`, { token: tokens.sec1 }));
    expect(qr).toMatchObject({ meetingId: meeting.id, checkinState: "OPEN", token: expect.stringMatching(new RegExp(`^NBQ1\\.${meeting.id}\\.`)) });
    expect(new Date(qr.expiresAt).getTime() - new Date(qr.rotatesAt).getTime()).toBe(30_000);
    expect(qr.qrSvg).toMatch(/<svg[\s\S]*<\/svg>/);
    expect(expectOk(await checkin(meeting.id, "zhangsan", { qrToken: qr.token })).outcome).toBe("new");

    expectError(await call(`/api/meetings/${meeting.id}/qr-token`, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/meetings/${meeting.id}/qr-token`, { token: tokens.member1 }), 403, "FORBIDDEN");
  });
});

describe("GET /api/mp/meetings", () => {
  test("upcoming and recent meetings of the member's branch and the units above, with their own state", async () => {
    const mine = await publish({ topic: "我的会议" });
    expectOk(await checkin(mine.meeting.id, "zhangsan"));
    const branch2 = await publish({ unitId: county.branch2.id, topic: "别的支部" }, tokens.sec2);
    const body = expectOk(await call("/api/mp/meetings", { token: mp.zhangsan.token }));
    expect(body.member).toMatchObject({ id: county.members.zhangsan.id, name: "张三", branchName: "李家庄村党支部" });
    const ids = body.upcoming.map((m: { id: number }) => m.id);
    expect(ids).toContain(mine.meeting.id);
    expect(ids).not.toContain(branch2.meeting.id);
    expect(body.upcoming.some((m: { unit: { kind: string } }) => m.unit.kind === "TOWN")).toBe(true);
    const item = body.upcoming.find((m: { id: number }) => m.id === mine.meeting.id);
    expect(item).toMatchObject({ checkinState: "OPEN", mine: { status: "PRESENT", statusLabel: "已签到", source: "MINIPROGRAM" } });
    // The meeting whose window was moved into the past shows as recent and closed.
    expect(body.recent.length).toBeGreaterThan(0);
    expect(body.recent.every((m: { checkinState: string }) => m.checkinState === "CLOSED")).toBe(true);
    const sunqi = expectOk(await call("/api/mp/meetings", { token: mp.sunqi.token }));
    expect(sunqi.upcoming.find((m: { id: number }) => m.id === mine.meeting.id).mine).toBeNull();
  });
});

// ---- notices ----

describe("notices", () => {
  test("a member lists their notices, reading one marks it read; the secretary sees who has read it", async () => {
    const { meeting, noticeId } = await publish({ topic: "通知阅读测试" });
    const other = await publish({ unitId: county.branch2.id, topic: "河西村的通知" }, tokens.sec2);

    const list = expectOk(await call("/api/notices?limit=50", { token: mp.zhangsan.token }));
    const ids = list.items.map((n: { id: number }) => n.id);
    expect(ids).toContain(noticeId);
    expect(ids).not.toContain(other.noticeId);
    const item = list.items.find((n: { id: number }) => n.id === noticeId);
    expect(item).toMatchObject({ title: "【学习通知】通知阅读测试", readAt: null, unit: { id: county.branch1.id }, meeting: { id: meeting.id, type: "STUDY", typeLabel: "学习" } });

    const opened = expectOk(await call(`/api/notices/${noticeId}`, { token: mp.zhangsan.token }));
    expect(opened).toMatchObject({ id: noticeId, place: "村委会", readAt: expect.stringMatching(/Z$/) });
    expect(opened.body).toContain("通知阅读测试");
    const reopened = expectOk(await call(`/api/notices/${noticeId}`, { token: mp.zhangsan.token }));
    expect(reopened.readAt).toBe(opened.readAt);
    const again = expectOk(await call("/api/notices?limit=50", { token: mp.zhangsan.token }));
    expect(again.items.find((n: { id: number }) => n.id === noticeId).readAt).toBe(opened.readAt);

    // A cadre opening it in the console does not count as reading.
    expectOk(await call(`/api/notices/${noticeId}`, { token: tokens.sec1 }));
    const reads = expectOk(await call(`/api/notices/${noticeId}/reads`, { token: tokens.sec1 }));
    expect(reads).toMatchObject({ noticeId, rosterCount: 4, readCount: 1 });
    expect(reads.read).toEqual([{ memberId: county.members.zhangsan.id, name: "张三", via: "MINIPROGRAM", readAt: opened.readAt }]);
    expect(reads.unread.map((m: { name: string }) => m.name).sort()).toEqual(["李四", "王五", "孙七"].sort());

    expectError(await call(`/api/notices/${noticeId}/reads`, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/notices/${noticeId}/reads`, { token: tokens.member1 }), 403, "FORBIDDEN");
    expectError(await call(`/api/notices/${noticeId}/reads`, { token: mp.zhangsan.token }), 403, "FORBIDDEN");
    expectError(await call(`/api/notices/${noticeId}`, { token: mp.zhaoliu.token }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/notices/${noticeId}`, { token: mp.stranger.token }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/notices/99999999", { token: mp.zhangsan.token }), 404, "NOTICE_NOT_FOUND");
  });

  test("cadres list their subtree's notices, page by page; another unit's is refused; an unlinked login sees none", async () => {
    const county1 = expectOk(await call("/api/notices?limit=100", { token: tokens.county }));
    const town2 = expectOk(await call("/api/notices?limit=100", { token: tokens.town2 }));
    expect(town2.items.length).toBeGreaterThan(0);
    expect(town2.items.every((n: { unit: { id: number } }) => n.unit.id === county.branch2.id)).toBe(true);
    expect(county1.items.length).toBeGreaterThan(town2.items.length);

    const first = expectOk(await call("/api/notices?limit=2", { token: tokens.sec1 }));
    expect(first.items).toHaveLength(2);
    expect(first.items[0].id).toBeGreaterThan(first.items[1].id);
    const second = expectOk(await call(`/api/notices?limit=2&before=${first.nextBefore}`, { token: tokens.sec1 }));
    expect(second.items[0].id).toBeLessThan(first.items[1].id);
    const byUnit = expectOk(await call(`/api/notices?unitId=${county.branch1.id}&limit=100`, { token: tokens.town1 }));
    expect(byUnit.items.every((n: { unit: { id: number } }) => n.unit.id === county.branch1.id)).toBe(true);
    expectError(await call(`/api/notices?unitId=${county.branch2.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");

    expect(expectOk(await call("/api/notices", { token: mp.stranger.token })).items).toEqual([]);
  });
});

describe("OpenAPI", () => {
  test("the export is documented as a binary .xlsx answer; request bodies as their JSON input", async () => {
    const doc = expectOk(await call("/api/openapi.json"));
    const xlsx = doc.paths["/api/meetings/{id}/attendance.xlsx"].get;
    expect(Object.keys(xlsx.responses["200"].content)).toEqual(["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]);
    expect(xlsx.responses["200"].content["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"].schema).toEqual({ type: "string", format: "binary" });
    expect(xlsx.responses["200"].headers["Content-Disposition"]).toBeDefined();
    expect(xlsx.responses["404"].content["application/json"]).toBeDefined();
    const create = doc.components.schemas.MeetingCreate;
    expect(create.properties.plannedAt).toMatchObject({ type: "string", format: "date-time" });
    expect(create.required.sort()).toEqual(["plannedAt", "topic", "unitId"]);
    expect(doc.paths["/api/mp/meetings/{id}/checkin"].post.security).toEqual([{ bearerAuth: [] }]);
  });
});
