// Complaints (民情诉求) through the HTTP API: the mini-program files with photos (stored on disk under a temporary
// STORAGE_DIR, never half-accepted), reads, adds, withdraws and rates; the console reads the board, a ticket (with
// the privacy rule), acts on it, reads the metrics and exports the board. Real Postgres and Redis, the API on a
// random port; nothing of ours is mocked.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ExcelJS from "exceljs";
import { startApi, type RunningApi } from "../api/app.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { claimComplaint, fileComplaint, rateComplaint, resolveComplaint, setUrgent, withdrawComplaint } from "../core/complaints/complaints.ts";
import type { ComplaintActor } from "../core/complaints/transition.ts";
import type { CadreRole } from "../core/org/scope.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { linkWechat, smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
const NUMBER = /^LX\d{8}-\d{4,6}$/;
/** Small enough to make "too large" cheap to send. */
const UPLOAD_MAX_BYTES = 64 * 1024;

// A real 1×1 PNG and a real 1×1 JPEG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=",
  "base64",
);

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let storageDir: string;
let town2: { id: number; path: string };

const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "sec2" | "member1", string>;
const cadreIds = {} as Record<keyof typeof tokens, number>;
/** Mini-program logins: ChatIdentity ids and their tokens. */
const mp = {} as Record<"zhangsan" | "zhaoliu" | "lisi" | "stranger", { id: number; token: string }>;

beforeAll(async () => {
  storageDir = mkdtempSync(path.join(tmpdir(), "nb-complaints-"));
  ctx = await createTestContext("api-complaints", { env: { STORAGE_DIR: storageDir, UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES) } });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AK");
  town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "AKC-T2" }, select: { id: true, path: true } });

  const users: Array<{ key: keyof typeof tokens; role: CadreRole; orgUnitId: number }> = [
    { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
    { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
    { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
    { key: "sec2", role: "BRANCH_SECRETARY", orgUnitId: county.branch2.id },
    { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
  ];
  for (const u of users) {
    const user = await prisma.cadreUser.create({ data: { username: `ak-${u.key}`, passwordHash: "x", displayName: `${u.key} 用户`, role: u.role, orgUnitId: u.orgUnitId } });
    cadreIds[u.key] = user.id;
    tokens[u.key] = (await issueAccessToken(ctx.config, { kind: "cadre", subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion })).token;
  }

  const login = async (key: keyof typeof mp, memberId: number | null, branchId: number | null) => {
    const identity = await prisma.chatIdentity.create({ data: { channel: "MINIPROGRAM", platformUserId: `openid-ak-${key}`, memberId, linkedAt: memberId ? new Date() : null } });
    const token = await issueAccessToken(ctx.config, { kind: "mp", subjectId: identity.id, role: memberId ? "MEMBER" : null, orgUnitId: branchId, tokenVersion: 0 });
    mp[key] = { id: identity.id, token: token.token };
  };
  await login("zhangsan", county.members.zhangsan.id, county.branch1.id);
  await login("zhaoliu", county.members.zhaoliu.id, county.branch2.id);
  await login("lisi", null, null);
  await login("stranger", null, null);
  // The filer and the branch secretary can be reached through the bot.
  await prisma.botAccount.create({ data: { name: "wx-main", channel: "WECHAT" } });
  await linkWechat(prisma, "wx-main", "wx_zhangsan", "张三", county.members.zhangsan.id);
  await linkWechat(prisma, "wx-main", "wx_wangwu", "王五（书记）", county.members.wangwu.id);

  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

// ---- helpers ----

const call = apiCaller(() => api.url);

function expectOk(res: Answer, status = 200) {
  expect({ status: res.status, error: res.json?.error }).toEqual({ status, error: undefined });
  return res.json;
}


/** Every file under STORAGE_DIR (temp files included), relative. */
function storedFiles(dir = storageDir, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? storedFiles(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

let seq = 0;
/** Files a ticket from the mini-program (JSON) and answers its number. */
async function fileTicket(who: keyof typeof mp = "zhangsan", body: Record<string, unknown> = {}) {
  const res = await call("/api/mp/complaints", { token: mp[who].token, body: { content: `村口路灯坏了第${++seq}盏`, ...body } });
  return expectOk(res, 201).complaint.number as string;
}

const act = (number: string, action: string, token: string, body: unknown = {}) => call(`/api/complaints/${number}/${action}`, { token, body });
const mpAct = (number: string, action: string, who: keyof typeof mp, body: unknown = {}) => call(`/api/mp/complaints/${number}/${action}`, { token: mp[who].token, body });

// ---- filing from the mini-program, photos ----

describe("POST /api/mp/complaints: filing with photos", () => {
  test("two photos: the ticket, both files on disk under STORAGE_DIR, attachment rows, readable by the filer and a handler only", async () => {
    const before = storedFiles().length;
    const res = await call("/api/mp/complaints", {
      token: mp.zhangsan.token,
      form: { content: "  村口路灯坏了一个星期，晚上看不见路  ", category: "道路照明", location: "村委会东边", anonymous: "false" },
      photos: [
        { data: PNG, name: "路灯.png", type: "image/png" },
        { data: JPEG, name: "IMG_0001.jpg", type: "image/jpeg" },
      ],
    });
    const body = expectOk(res, 201);
    const c = body.complaint;
    expect(c.number).toMatch(NUMBER);
    expect(c).toMatchObject({
      status: "SUBMITTED",
      statusLabel: "待认领",
      channel: "MINIPROGRAM",
      content: "村口路灯坏了一个星期，晚上看不见路",
      category: "道路照明",
      location: "村委会东边",
      anonymous: false,
      unit: { id: county.branch1.id, name: "李家庄村党支部" },
    });
    expect(c.photos).toHaveLength(2);
    expect(c.photos.map((p: { mimeType: string }) => p.mimeType)).toEqual(["image/png", "image/jpeg"]);
    expect(c.photos[0].url).toBe(`/api/complaints/${c.number}/photos/${c.photos[0].id}`);
    // The filer's own view leaves the internal fields out.
    expect(c.escalationLevel).toBeUndefined();
    expect(c.pendingExtension).toBeUndefined();
    expect(body.message).toContain(c.number);
    expect(body.message).toContain("已附照片 2 张");

    // Stored on disk, the bytes as sent; the rows say where.
    const rows = await ctx.db.prisma.complaintAttachment.findMany({ where: { complaint: { number: c.number } }, orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.kind, r.mimeType, r.sizeBytes])).toEqual([
      ["image", "image/png", PNG.length],
      ["image", "image/jpeg", JPEG.length],
    ]);
    for (const [i, r] of rows.entries()) {
      expect(r.location).toMatch(/^disk:complaints\/new\/\d{4}\/\d{2}\/[0-9a-f-]{36}\.(png|jpg)$/);
      expect(readFileSync(path.join(storageDir, r.location.slice("disk:".length)))).toEqual(i === 0 ? PNG : JPEG);
    }
    expect(storedFiles().length).toBe(before + 2);
    // The storage location never leaves the server.
    expect(res.text).not.toContain("disk:");

    // Readable back: the filer (mini-program) and a handler (the branch secretary, the town above).
    for (const token of [mp.zhangsan.token, tokens.sec1, tokens.town1]) {
      const img = await call(c.photos[0].url, { token });
      expect(img.status).toBe(200);
      expect(img.headers.get("content-type")).toBe("image/png");
      expect(img.headers.get("content-disposition")).toMatch(/^inline; filename="LX\d{8}-\d{4}-\d+\.png"/);
      expect(img.bytes).toEqual(PNG);
    }
    expect((await call(c.photos[1].url, { token: tokens.sec1 })).headers.get("content-type")).toBe("image/jpeg");
    // Not by a cadre of another town, nor another mini-program user, nor anonymously.
    expectError(await call(c.photos[0].url, { token: tokens.town2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(c.photos[0].url, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(c.photos[0].url, { token: mp.lisi.token }), 404, "COMPLAINT_NOT_FOUND");
    expectError(await call(c.photos[0].url), 401, "TOKEN_MISSING");
    expectError(await call(`/api/complaints/${c.number}/photos/99999999`, { token: tokens.sec1 }), 404, "PHOTO_NOT_FOUND");

    // The unit's secretary is told through the bot, in the same transaction.
    const told = await ctx.db.prisma.delivery.findMany({ where: { idempotencyKey: { startsWith: `complaint:${c.id}:filed` } } });
    expect(told).toHaveLength(1);
    expect(told[0].body).toContain(c.number);
  });

  test("an oversized photo → 413 FILE_TOO_LARGE; nothing stored, no ticket (even with a good photo before it)", async () => {
    const prisma = ctx.db.prisma;
    const [files, tickets] = [storedFiles().length, await prisma.complaint.count()];
    const big = Buffer.concat([PNG, Buffer.alloc(UPLOAD_MAX_BYTES + 10_000, 7)]);
    const err = expectError(
      await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "垃圾没人清运" }, photos: [{ data: PNG }, { data: big, name: "big.png" }] }),
      413,
      "FILE_TOO_LARGE",
    );
    expect(err.message).toContain("0.1 MB");
    expect(err.maxBytes).toBe(UPLOAD_MAX_BYTES);
    expect(storedFiles().length).toBe(files);
    expect(await prisma.complaint.count()).toBe(tickets);
    // The API still answers on a fresh connection.
    expect((await call("/api/mp/complaints", { token: mp.zhangsan.token })).status).toBe(200);
  });

  test("a non-image (whatever its name and type say) → 415 FILE_TYPE_NOT_ALLOWED; an empty file → 400 FILE_EMPTY; nothing stored", async () => {
    const prisma = ctx.db.prisma;
    const [files, tickets] = [storedFiles().length, await prisma.complaint.count()];
    const fake = Buffer.from("%PDF-1.4 definitely not a picture");
    const err = expectError(
      await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "垃圾没人清运" }, photos: [{ data: JPEG, type: "image/jpeg" }, { data: fake, name: "photo.png", type: "image/png" }] }),
      415,
      "FILE_TYPE_NOT_ALLOWED",
    );
    expect(err.allowed).toEqual(["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"]);
    expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "垃圾没人清运" }, photos: [{ data: Buffer.alloc(0) }] }), 400, "FILE_EMPTY");
    expect(storedFiles().length).toBe(files);
    expect(await prisma.complaint.count()).toBe(tickets);
  });

  test("more than 9 photos → 413 TOO_MANY_FILES; a file in another field → 400 UNEXPECTED_FILE_FIELD; multipart elsewhere → 415", async () => {
    const files = storedFiles().length;
    const ten = Array.from({ length: 10 }, () => ({ data: PNG }));
    expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "垃圾没人清运" }, photos: ten }), 413, "TOO_MANY_FILES");
    expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "垃圾没人清运" }, photos: [{ data: PNG, field: "avatar" }] }), 400, "UNEXPECTED_FILE_FIELD");
    const number = await fileTicket();
    expectError(await call(`/api/complaints/${number}/claim`, { token: tokens.sec1, form: { x: "1" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call("/api/meetings", { token: tokens.sec1, form: { topic: "学习" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(storedFiles().length).toBe(files);
  });

  test("validation: empty content → 400 (JSON and form alike), in Chinese; a bad anonymous flag; no unit known → 400 UNIT_UNKNOWN", async () => {
    const tickets = await ctx.db.prisma.complaint.count();
    const json = expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, body: { content: "   " } }), 400, "VALIDATION_FAILED");
    expect(json.fields).toEqual([{ field: "body.content", message: "请填写反映的内容" }]);
    const form = expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "" }, photos: [{ data: PNG }] }), 400, "VALIDATION_FAILED");
    expect(form.fields).toEqual([{ field: "body.content", message: "请填写反映的内容" }]);
    const missing = expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { category: "道路" } }), 400, "VALIDATION_FAILED");
    expect(missing.fields).toEqual([{ field: "body.content", message: "请填写反映的内容" }]);
    const flag = expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "路灯坏了", anonymous: "maybe" } }), 400, "VALIDATION_FAILED");
    expect(flag.fields).toEqual([{ field: "body.anonymous", message: "只能是 true 或 false" }]);
    const long = expectError(await call("/api/mp/complaints", { token: mp.zhangsan.token, body: { content: "长".repeat(1001) } }), 400, "VALIDATION_FAILED");
    expect(long.fields).toEqual([{ field: "body.content", message: "反映的内容最多 1000 个字" }]);

    // Not a member, in no bound group: the ticket needs a unit code.
    expectError(await call("/api/mp/complaints", { token: mp.lisi.token, body: { content: "河边垃圾堆" } }), 400, "UNIT_UNKNOWN");
    expectError(await call("/api/mp/complaints", { token: mp.lisi.token, body: { content: "河边垃圾堆", unitCode: "NO-SUCH" } }), 404, "UNIT_NOT_FOUND");
    expect(await ctx.db.prisma.complaint.count()).toBe(tickets);
    // With the village's code it goes to the village's branch.
    const ok = expectOk(await call("/api/mp/complaints", { token: mp.lisi.token, body: { content: "河边垃圾堆", unitCode: "AKC-T2-V1" } }), 201);
    expect(ok.complaint.unit).toMatchObject({ id: county.branch2.id, name: "河西村党支部" });

    // Cadre logins cannot file here; mini-program logins cannot use the console.
    expectError(await call("/api/mp/complaints", { token: tokens.sec1, body: { content: "路灯" } }), 403, "FORBIDDEN");
    expectError(await call("/api/complaints", { token: mp.zhangsan.token }), 403, "FORBIDDEN");
    expectError(await call("/api/complaints", { token: tokens.member1 }), 403, "FORBIDDEN");
  });

  test("adding photos later: the filer only, up to 9 per ticket, all or nothing", async () => {
    const prisma = ctx.db.prisma;
    const number = await fileTicket();
    const added = expectOk(await call(`/api/mp/complaints/${number}/photos`, { token: mp.zhangsan.token, photos: [{ data: PNG }, { data: JPEG, type: "image/jpeg" }] }), 201);
    expect(added).toMatchObject({ added: 2, photos: 2 });
    expect(added.complaint.photos).toHaveLength(2);
    const infoEvents = await prisma.complaintEvent.findMany({ where: { complaint: { number }, kind: "INFO_ADDED" } });
    expect(infoEvents.map((e) => [e.note, e.channel])).toEqual([
      ["照片", "MINIPROGRAM"],
      ["照片", "MINIPROGRAM"],
    ]);
    const keyDir = path.join(storageDir, "complaints", number);
    expect(storedFiles(keyDir)).toHaveLength(2);

    const files = storedFiles().length;
    // Somebody else's ticket is "not found"; no file in the request → 400.
    expectError(await call(`/api/mp/complaints/${number}/photos`, { token: mp.lisi.token, photos: [{ data: PNG }] }), 404, "COMPLAINT_NOT_FOUND");
    expectError(await call(`/api/mp/complaints/${number}/photos`, { token: mp.zhangsan.token, form: {} }), 400, "PHOTO_MISSING");
    // 2 + 8 > 9: refused, nothing stored.
    const many = Array.from({ length: 8 }, () => ({ data: PNG }));
    const err = expectError(await call(`/api/mp/complaints/${number}/photos`, { token: mp.zhangsan.token, photos: many }), 409, "TOO_MANY_PHOTOS");
    expect(err.message).toContain("9");
    // A bad one among good ones: nothing stored.
    expectError(await call(`/api/mp/complaints/${number}/photos`, { token: mp.zhangsan.token, photos: [{ data: PNG }, { data: Buffer.from("GIF? no") }] }), 415, "FILE_TYPE_NOT_ALLOWED");
    expect(storedFiles().length).toBe(files);
    expect(await prisma.complaintAttachment.count({ where: { complaint: { number } } })).toBe(2);

    // Once withdrawn, no more photos.
    expectOk(await mpAct(number, "withdraw", "zhangsan", { reason: "已经修好了" }));
    expectError(await call(`/api/mp/complaints/${number}/photos`, { token: mp.zhangsan.token, photos: [{ data: PNG }] }), 409, "COMPLAINT_CLOSED");
    expect(storedFiles().length).toBe(files);
  });
});

// ---- the filer's own tickets ----

describe("mini-program: my tickets, detail, add info, withdraw", () => {
  test("my tickets list, the detail with history (filer only), adding information", async () => {
    const number = await fileTicket("zhaoliu", { content: "自来水管漏水", location: "河西村二组" });
    const mine = expectOk(await call("/api/mp/complaints?limit=50", { token: mp.zhaoliu.token }));
    expect(mine.items[0]).toMatchObject({ number, status: "SUBMITTED", statusLabel: "待认领", unitName: "河西村党支部", excerpt: "自来水管漏水" });
    expect(mine.total).toBe(mine.items.length);
    expect((await call("/api/mp/complaints", { token: mp.stranger.token })).json).toEqual({ total: 0, items: [] });

    expectOk(await mpAct(number, "info", "zhaoliu", { info: "漏水点在二组路口" }));
    const detail = expectOk(await call(`/api/mp/complaints/${number}`, { token: mp.zhaoliu.token }));
    expect(detail.events.map((e: { kind: string; actor: string }) => [e.kind, e.actor])).toEqual([
      ["FILED", "反映人"],
      ["INFO_ADDED", "反映人"],
    ]);
    expect(detail.events[1].note).toBe("漏水点在二组路口");
    expect(detail.filer).toMatchObject({ name: "赵六", anonymous: false });

    expectError(await call(`/api/mp/complaints/${number}`, { token: mp.zhangsan.token }), 404, "COMPLAINT_NOT_FOUND");
    expectError(await mpAct(number, "info", "stranger", { info: "我也看到了" }), 404, "COMPLAINT_NOT_FOUND");
    expectError(await mpAct(number, "info", "zhaoliu", { info: "" }), 400, "VALIDATION_FAILED");
    expectError(await call("/api/mp/complaints/LX99990101-0001", { token: mp.zhaoliu.token }), 404, "COMPLAINT_NOT_FOUND");
    const bad = expectError(await call("/api/mp/complaints/abc", { token: mp.zhaoliu.token }), 400, "VALIDATION_FAILED");
    expect(bad.fields).toEqual([{ field: "params.number", message: "诉求编号形如 LX20261125-0007" }]);
    // The number may be written without the LX.
    expect((await call(`/api/mp/complaints/${number.slice(2)}`, { token: mp.zhaoliu.token })).json.number).toBe(number);
  });
});

// ---- privacy ----

describe("GET /api/complaints/:number: privacy", () => {
  test("handlers see the filer's name and phone; another branch 403; a handler who transferred it away sees them masked; anonymous shows nobody", async () => {
    const filed = expectOk(await call("/api/mp/complaints", { token: mp.zhangsan.token, form: { content: "邻居占道堆放柴草" }, photos: [{ data: PNG }] }), 201);
    const number = filed.complaint.number as string;
    const photoUrl = filed.complaint.photos[0].url as string;
    const sec1 = expectOk(await call(`/api/complaints/${number}`, { token: tokens.sec1 }));
    expect(sec1.filer).toEqual({ name: "张三", phone: "13800001234", masked: false, anonymous: false });
    expect(sec1.access).toBe("handler");
    expect(sec1).toMatchObject({ escalationLevel: 0, pendingExtension: null });
    expect(expectOk(await call(`/api/complaints/${number}`, { token: tokens.town1 })).filer.phone).toBe("13800001234");
    expect(expectOk(await call(`/api/complaints/${number}`, { token: tokens.county })).filer.name).toBe("张三");
    const other = expectError(await call(`/api/complaints/${number}`, { token: tokens.sec2 }), 403, "OUT_OF_SCOPE");
    expect(other.message).toContain(number);
    expect(other.message).not.toContain("张三");
    expectError(await call(`/api/complaints/${number}`, { token: tokens.town2 }), 403, "OUT_OF_SCOPE");

    // Transferred to the other town: sec1 handled it before and now sees it masked; sec2 now handles it.
    expectOk(await act(number, "transfer", tokens.sec1, { toUnitId: county.branch2.id, reason: "占道位置属河西村" }));
    const former = expectOk(await call(`/api/complaints/${number}`, { token: tokens.sec1 }));
    expect(former.access).toBe("former");
    expect(former.filer).toEqual({ name: "张*", phone: "138****1234", masked: true, anonymous: false });
    expect(former.photos).toEqual([]);
    expectError(await call(photoUrl, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    expect((await call(photoUrl, { token: tokens.sec2 })).status).toBe(200);
    expect(expectOk(await call(`/api/complaints/${number}`, { token: tokens.sec2 })).filer.phone).toBe("13800001234");

    // Anonymous: nobody sees the filer, not even the county; nothing is kept.
    const anon = await fileTicket("zhangsan", { content: "有人在河里电鱼", anonymous: true });
    for (const token of [tokens.sec1, tokens.county]) {
      expect(expectOk(await call(`/api/complaints/${anon}`, { token })).filer).toEqual({ name: null, phone: null, masked: false, anonymous: true });
    }
    expect(expectOk(await call(`/api/mp/complaints/${anon}`, { token: mp.zhangsan.token })).filer.anonymous).toBe(true);
    const row = await ctx.db.prisma.complaint.findUniqueOrThrow({ where: { number: anon } });
    expect(row).toMatchObject({ anonymous: true, filerName: "", filerPhone: null, filerMemberId: null });
    // The board and its items follow the same rule.
    const board = expectOk(await call(`/api/complaints?q=${encodeURIComponent("电鱼")}`, { token: tokens.sec1 }));
    expect(board.items.map((i: { number: string; filer: unknown }) => [i.number, i.filer])).toEqual([[anon, { name: null, phone: null, masked: false, anonymous: true }]]);
  });
});

// ---- cadre actions ----

describe("cadre actions through the API", () => {
  test("claim → reply → extension (decided by the town) → urgent → resolve → rate, with illegal steps refused by core's codes", async () => {
    const prisma = ctx.db.prisma;
    const number = await fileTicket("zhangsan", { content: "村口桥栏杆断了" });

    expectError(await act(number, "resolve", tokens.sec1, { result: "修好了" }), 409, "COMPLAINT_NOT_CLAIMED");
    expectError(await act(number, "reply", tokens.sec1, { message: "马上去看" }), 409, "COMPLAINT_NOT_CLAIMED");
    expectError(await mpAct(number, "rating", "zhangsan", { rating: "SATISFIED" }), 409, "COMPLAINT_NOT_RESOLVED");
    expectError(await act(number, "claim", tokens.sec2), 403, "OUT_OF_SCOPE");

    const claimed = expectOk(await act(number, "claim", tokens.sec1));
    expect(claimed.complaint).toMatchObject({ status: "CLAIMED", owner: { name: "sec1 用户" } });
    expect(claimed.message).toContain("首问负责");
    expectError(await act(number, "claim", tokens.town1), 409, "COMPLAINT_ALREADY_CLAIMED");
    const audit = await prisma.auditLog.findFirst({ where: { action: "complaint.claim", targetId: String(claimed.complaint.id) } });
    expect(audit).toMatchObject({ actorId: cadreIds.sec1, channel: "api" });

    const reply = expectOk(await act(number, "reply", tokens.sec1, { message: "明天上午安排人维修" }));
    expect(reply.delivered).toBe(true);
    const toFiler = await prisma.delivery.findFirst({ where: { body: { contains: "明天上午安排人维修" } } });
    expect(toFiler?.body).toContain(number);
    expectError(await act(number, "reply", tokens.sec1, { message: "" }), 400, "VALIDATION_FAILED");

    const ext = expectOk(await act(number, "extension", tokens.sec1, { days: 3, reason: "需等钢材到货" }));
    expect(ext.complaint.pendingExtension).toMatchObject({ days: 3, reason: "需等钢材到货" });
    expect(ext.message).toContain("东山镇");
    expectError(await act(number, "extension", tokens.sec1, { days: 2, reason: "再等等" }), 409, "EXTENSION_PENDING");
    expectError(await act(number, "extension", tokens.sec1, { days: 0, reason: "x" }), 400, "VALIDATION_FAILED");
    expectError(await act(number, "extension/decision", tokens.sec1, { approve: true }), 403, "NOT_APPROVER");
    expectError(await act(number, "extension/decision", tokens.town2, { approve: true }), 403, "OUT_OF_SCOPE");
    const due = new Date(ext.complaint.resolveDueAt).getTime();
    const approved = expectOk(await act(number, "extension/decision", tokens.town1, { approve: true, reason: "同意" }));
    expect(new Date(approved.complaint.resolveDueAt).getTime()).toBeGreaterThan(due);
    expect(approved.complaint.pendingExtension).toBeNull();
    expectError(await act(number, "extension/decision", tokens.town1, { approve: false }), 409, "NO_EXTENSION_PENDING");

    expect(expectOk(await act(number, "urgent", tokens.town1, { urgent: true })).complaint.urgent).toBe(true);
    expectError(await act(number, "urgent", tokens.town1, { urgent: true }), 400, "NOTHING_TO_CHANGE");
    expectError(await act(number, "urgent", tokens.town1, { urgent: "yes" }), 400, "VALIDATION_FAILED");

    // 首问负责: another cadre of the same branch may not resolve it; the owner and superiors may.
    const resolved = expectOk(await act(number, "resolve", tokens.sec1, { result: "栏杆已焊好" }));
    expect(resolved.complaint).toMatchObject({ status: "RESOLVED", resolution: "栏杆已焊好" });
    expectError(await act(number, "resolve", tokens.sec1, { result: "再办一次" }), 409, "COMPLAINT_RESOLVED");
    expectError(await mpAct(number, "withdraw", "zhangsan"), 409, "COMPLAINT_RESOLVED");

    expectError(await mpAct(number, "rating", "lisi", { rating: "SATISFIED" }), 404, "COMPLAINT_NOT_FOUND");
    expectError(await mpAct(number, "rating", "zhangsan", { rating: "GOOD" }), 400, "VALIDATION_FAILED");
    const rated = expectOk(await mpAct(number, "rating", "zhangsan", { rating: "BASICALLY_SATISFIED", comment: "还算及时" }));
    expect(rated.complaint).toMatchObject({ status: "CLOSED", rating: "BASICALLY_SATISFIED", ratingLabel: "基本满意", ratingComment: "还算及时" });
    expect(rated.message).toContain("基本满意");
    expectError(await mpAct(number, "rating", "zhangsan", { rating: "SATISFIED" }), 409, "COMPLAINT_ALREADY_RATED");
    expectError(await act(number, "claim", tokens.sec1), 409, "COMPLAINT_CLOSED");

    // The whole story, in order, as the handler sees it.
    const detail = expectOk(await call(`/api/complaints/${number}`, { token: tokens.town1 }));
    expect(detail.events.map((e: { kind: string }) => e.kind)).toEqual(["FILED", "CLAIMED", "REPLIED", "EXTENSION_REQUESTED", "EXTENSION_APPROVED", "URGENT_SET", "RESOLVED", "RATED"]);
    expect(detail.events[1]).toMatchObject({ actor: "sec1 用户", channel: "api" });
    // The filer's history leaves out the internal steps.
    const mine = expectOk(await call(`/api/mp/complaints/${number}`, { token: mp.zhangsan.token }));
    expect(mine.events.map((e: { kind: string }) => e.kind)).toEqual(["FILED", "CLAIMED", "REPLIED", "EXTENSION_APPROVED", "RESOLVED", "RATED"]);
  });

  test("dissatisfied the first time reopens for the same owner; transfer needs a reason and another unit", async () => {
    const number = await fileTicket("zhangsan", { content: "路面坑洼积水" });
    expectOk(await act(number, "claim", tokens.sec1));
    expectOk(await act(number, "resolve", tokens.sec1, { result: "已填平" }));
    const reopened = expectOk(await mpAct(number, "rating", "zhangsan", { rating: "DISSATISFIED", comment: "下雨又积水" }));
    expect(reopened.complaint).toMatchObject({ status: "REOPENED", reopenCount: 1, rating: null });
    expect(reopened.message).toContain("重新办理");

    const bad = expectError(await act(number, "transfer", tokens.sec1, { toUnitId: county.branch2.id }), 400, "VALIDATION_FAILED");
    expect(bad.fields).toEqual([{ field: "body.reason", message: "请填写转办理由" }]);
    expectError(await act(number, "transfer", tokens.sec1, { toUnitId: county.branch1.id, reason: "再看看" }), 400, "SAME_UNIT");
    expectError(await act(number, "transfer", tokens.sec1, { toUnitId: 99999999, reason: "转走" }), 404, "ORG_UNIT_NOT_FOUND");
    expect(expectError(await act(number, "transfer", tokens.sec1, { reason: "转走" }), 400, "VALIDATION_FAILED").fields).toEqual([{ field: "body.toUnitId", message: "请选择转给哪个单位（toUnitId 或 toUnit 二选一）" }]);
    expectError(await act(number, "transfer", tokens.sec1, { toUnit: "不存在的村党支部", reason: "转走" }), 404, "UNIT_NOT_FOUND");
    // By name, as in the chat command 转办 (the console's transfer box).
    const moved = expectOk(await act(number, "transfer", tokens.town1, { toUnit: "西河乡", reason: "涉及乡道，由西河乡办理" }));
    expect(moved.complaint).toMatchObject({ status: "SUBMITTED", unit: { id: town2.id, name: "西河乡" }, owner: null, access: "former" });
    expect(moved.message).toContain("西河乡");
    // The new unit claims it afresh.
    expectError(await act(number, "resolve", tokens.town2, { result: "好了" }), 409, "COMPLAINT_NOT_CLAIMED");
    expect(expectOk(await act(number, "claim", tokens.town2)).complaint.owner).toEqual({ name: "town2 用户" });
  });

  test("two concurrent claims → exactly one 200, the other 409 COMPLAINT_ALREADY_CLAIMED", async () => {
    const number = await fileTicket("zhangsan", { content: "广场音响扰民" });
    const answers = await Promise.all([act(number, "claim", tokens.sec1), act(number, "claim", tokens.town1), act(number, "claim", tokens.county)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.json.error.code).toMatch(/^COMPLAINT_(ALREADY_CLAIMED|CHANGED)$/);
    expect(await ctx.db.prisma.complaintEvent.count({ where: { complaint: { number }, kind: "CLAIMED" } })).toBe(1);
  });
});

// ---- board, metrics and export on a known data set (filed in June 2025) ----

describe("board, metrics and export", () => {
  const from = "2025-06-01T00:00:00%2B08:00";
  const to = "2025-07-01T00:00:00%2B08:00";
  const window = `from=${from}&to=${to}`;
  const t = (s: string) => new Date(`${s}+08:00`);
  const numbers = {} as Record<"t1" | "t2" | "t3" | "t4" | "t5" | "t6" | "t7", string>;

  beforeAll(async () => {
    const prisma = ctx.db.prisma;
    const config = ctx.config;
    const sec1: ComplaintActor = { role: "BRANCH_SECRETARY", orgPath: county.branch1.path, cadreUserId: cadreIds.sec1, memberId: null, identityId: null, channel: "api" };
    const sec2: ComplaintActor = { role: "BRANCH_SECRETARY", orgPath: county.branch2.path, cadreUserId: cadreIds.sec2, memberId: null, identityId: null, channel: "api" };
    const zhangsan = { identityId: mp.zhangsan.id, memberId: county.members.zhangsan.id, channel: "MINIPROGRAM" as const };
    const zhaoliu = { identityId: mp.zhaoliu.id, memberId: county.members.zhaoliu.id, channel: "MINIPROGRAM" as const };
    const filed = t("2025-06-10T09:00:00");
    const file = async (filer: typeof zhangsan, content: string, anonymous = false) =>
      (await prisma.$transaction((tx) => fileComplaint(tx, filer, { content, anonymous }, config, filed))).complaint.number;
    const run = <T>(fn: (tx: Parameters<Parameters<typeof prisma.$transaction>[0]>[0]) => Promise<T>) => prisma.$transaction(fn);

    // Branch 1: claimed in time, resolved in 24 h, 满意.
    numbers.t1 = await file(zhangsan, "六月一号诉求");
    await run((tx) => claimComplaint(tx, sec1, numbers.t1, t("2025-06-10T10:00:00")));
    await run((tx) => resolveComplaint(tx, sec1, numbers.t1, "已办", t("2025-06-11T09:00:00")));
    await run((tx) => rateComplaint(tx, zhangsan, numbers.t1, "SATISFIED", null, config, t("2025-06-11T10:00:00")));
    // Claimed late (20 days), resolved after 492 h, 基本满意.
    numbers.t2 = await file(zhangsan, "六月二号诉求");
    await run((tx) => claimComplaint(tx, sec1, numbers.t2, t("2025-06-30T09:00:00")));
    await run((tx) => resolveComplaint(tx, sec1, numbers.t2, "已办", t("2025-06-30T21:00:00")));
    await run((tx) => rateComplaint(tx, zhangsan, numbers.t2, "BASICALLY_SATISFIED", null, config, t("2025-07-01T10:00:00")));
    // Claimed in time, resolved after 48 h, not rated yet.
    numbers.t3 = await file(zhangsan, "六月三号诉求");
    await run((tx) => claimComplaint(tx, sec1, numbers.t3, t("2025-06-10T09:30:00")));
    await run((tx) => resolveComplaint(tx, sec1, numbers.t3, "已办", t("2025-06-12T09:00:00")));
    // Never claimed, urgent: open and overdue.
    numbers.t4 = await file(zhangsan, "六月四号诉求");
    await run((tx) => setUrgent(tx, sec1, numbers.t4, true, config, t("2025-06-10T09:10:00")));
    // Anonymous, withdrawn.
    numbers.t5 = await file(zhangsan, "六月五号诉求", true);
    await run((tx) => withdrawComplaint(tx, zhangsan, numbers.t5, null, t("2025-06-10T12:00:00")));
    // Branch 2: resolved in 12 h, 满意.
    numbers.t6 = await file(zhaoliu, "六月六号诉求");
    await run((tx) => claimComplaint(tx, sec2, numbers.t6, t("2025-06-10T10:00:00")));
    await run((tx) => resolveComplaint(tx, sec2, numbers.t6, "已办", t("2025-06-10T21:00:00")));
    await run((tx) => rateComplaint(tx, zhaoliu, numbers.t6, "SATISFIED", null, config, t("2025-06-11T09:00:00")));
    // 不满意 (reopened), resolved again 30 h after filing, 不满意 again: closed.
    numbers.t7 = await file(zhaoliu, "六月七号诉求");
    await run((tx) => claimComplaint(tx, sec2, numbers.t7, t("2025-06-10T10:00:00")));
    await run((tx) => resolveComplaint(tx, sec2, numbers.t7, "已办", t("2025-06-10T15:00:00")));
    await run((tx) => rateComplaint(tx, zhaoliu, numbers.t7, "DISSATISFIED", "没修好", config, t("2025-06-10T16:00:00")));
    await run((tx) => resolveComplaint(tx, sec2, numbers.t7, "重新修好", t("2025-06-11T15:00:00")));
    await run((tx) => rateComplaint(tx, zhaoliu, numbers.t7, "DISSATISFIED", "还是不行", config, t("2025-06-11T16:00:00")));
  });

  const list = (res: Answer) => (expectOk(res).items as { number: string }[]).map((i) => i.number).sort();

  test("board filters: status, overdue, urgent, unit scope (another town sees none and gets 403 for a unit outside its scope)", async () => {
    const { t1, t2, t3, t4, t5, t6, t7 } = numbers;
    const all = expectOk(await call(`/api/complaints?${window}`, { token: tokens.sec1 }));
    expect(all.total).toBe(5);
    expect(all.items.map((i: { number: string }) => i.number)).toEqual([t5, t4, t3, t2, t1]); // newest first
    const item = all.items.find((i: { number: string }) => i.number === t1);
    expect(item).toMatchObject({ status: "CLOSED", unit: { id: county.branch1.id }, filer: { name: "张三", phone: "13800001234", masked: false }, owner: { name: "sec1 用户" }, mine: true, rating: "SATISFIED", overdue: false, photos: 0 });

    expect(list(await call(`/api/complaints?${window}&status=SUBMITTED`, { token: tokens.sec1 }))).toEqual([t4]);
    expect(list(await call(`/api/complaints?${window}&status=RESOLVED,CLOSED`, { token: tokens.sec1 }))).toEqual([t1, t2, t3].sort());
    expect(list(await call(`/api/complaints?${window}&status=RESOLVED&status=WITHDRAWN`, { token: tokens.sec1 }))).toEqual([t3, t5].sort());
    expect(list(await call(`/api/complaints?${window}&overdue=true`, { token: tokens.sec1 }))).toEqual([t4]);
    expect(list(await call(`/api/complaints?${window}&overdue=false`, { token: tokens.sec1 }))).toEqual([t1, t2, t3, t5].sort());
    expect(list(await call(`/api/complaints?${window}&urgent=true`, { token: tokens.sec1 }))).toEqual([t4]);
    expect(list(await call(`/api/complaints?${window}&mine=true`, { token: tokens.sec1 }))).toEqual([t1, t2, t3].sort());
    expect(list(await call(`/api/complaints?q=${t2.slice(2)}`, { token: tokens.sec1 }))).toEqual([t2]);
    const paged = expectOk(await call(`/api/complaints?${window}&page=2&pageSize=2`, { token: tokens.sec1 }));
    expect(paged).toMatchObject({ page: 2, pageSize: 2, total: 5 });
    expect(paged.items.map((i: { number: string }) => i.number)).toEqual([t3, t2]);

    // Scope: the other town sees its own only, and none of these; a unit outside its scope is 403.
    expect(list(await call(`/api/complaints?${window}`, { token: tokens.town2 }))).toEqual([t6, t7].sort());
    expectError(await call(`/api/complaints?${window}&unitId=${county.branch1.id}`, { token: tokens.town2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/complaints?unitId=${county.town1.id}`, { token: tokens.sec1 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/complaints?unitId=99999999`, { token: tokens.county }), 404, "ORG_UNIT_NOT_FOUND");
    expect(expectOk(await call(`/api/complaints?${window}`, { token: tokens.county })).total).toBe(7);
    expect(list(await call(`/api/complaints?${window}&unitId=${county.town1.id}`, { token: tokens.county }))).toEqual([t1, t2, t3, t4, t5].sort());

    const bad = expectError(await call(`/api/complaints?status=OPEN&overdue=yes`, { token: tokens.sec1 }), 400, "VALIDATION_FAILED");
    expect((bad.fields as { field: string }[]).map((f) => f.field).sort()).toEqual(["query.overdue", "query.status.0"]);
    const period = expectError(await call(`/api/complaints?from=${to}&to=${from}`, { token: tokens.sec1 }), 400, "VALIDATION_FAILED");
    expect(period.fields).toEqual([{ field: "query.to", message: "from 必须早于 to" }]);
  });

  test("metrics per unit and per town: 响应率, 办结率, 满意率, overdue, average hours to resolve — counts only", async () => {
    const res = expectOk(await call(`/api/complaints/metrics?${window}`, { token: tokens.county }));
    expect(res.groupBy).toBe("unit");
    expect(res.from).toBe("2025-05-31T16:00:00.000Z");
    const b1 = { filed: 4, withdrawn: 1, respondedInTime: 2, responseRate: 0.5, resolved: 3, resolveRate: 0.75, rated: 2, satisfied: 2, satisfactionRate: 1, overdueOpen: 1, avgResolveHours: 188 };
    const b2 = { filed: 2, withdrawn: 0, respondedInTime: 2, responseRate: 1, resolved: 2, resolveRate: 1, rated: 2, satisfied: 1, satisfactionRate: 0.5, overdueOpen: 0, avgResolveHours: 21 };
    expect(res.units).toEqual([
      { unitId: county.branch1.id, code: "AKC-T1-V1-B", name: "李家庄村党支部", kind: "BRANCH", ...b1 },
      { unitId: county.branch2.id, code: "AKC-T2-V1-B", name: "河西村党支部", kind: "BRANCH", ...b2 },
    ]);
    expect(res.total).toEqual({ filed: 6, withdrawn: 1, respondedInTime: 4, responseRate: 0.6667, resolved: 5, resolveRate: 0.8333, rated: 4, satisfied: 3, satisfactionRate: 0.75, overdueOpen: 1, avgResolveHours: 121.2 });
    // Counts only: no names, no phones.
    expect(JSON.stringify(res)).not.toMatch(/张三|赵六|138|135/);

    const towns = expectOk(await call(`/api/complaints/metrics?${window}&groupBy=town`, { token: tokens.county }));
    expect(towns.units.map((u: { name: string; filed: number; avgResolveHours: number }) => [u.name, u.filed, u.avgResolveHours])).toEqual([
      ["东山镇", 4, 188],
      ["西河乡", 2, 21],
    ]);
    // A secretary sees their branch only; a town admin cannot ask about another town.
    const own = expectOk(await call(`/api/complaints/metrics?${window}`, { token: tokens.sec1 }));
    expect(own.units.map((u: { unitId: number }) => u.unitId)).toEqual([county.branch1.id]);
    expect(own.total).toMatchObject(b1);
    expectError(await call(`/api/complaints/metrics?${window}&unitId=${county.branch1.id}`, { token: tokens.town2 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/complaints/metrics?groupBy=village`, { token: tokens.county }), 400, "VALIDATION_FAILED");
    // Without a period: the last 30 days.
    const recent = expectOk(await call("/api/complaints/metrics", { token: tokens.county }));
    expect(new Date(recent.to).getTime() - new Date(recent.from).getTime()).toBe(30 * 86_400_000);
    expect(recent.total.filed).toBeGreaterThan(0);
  });

  test("export.xlsx: the filtered board as a spreadsheet that parses back, filer names where the caller may see them", async () => {
    const res = await call(`/api/complaints/export.xlsx?${window}&unitId=${county.town1.id}`, { token: tokens.town1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    const disposition = res.headers.get("content-disposition")!;
    expect(disposition).toMatch(/^attachment; filename="complaints-\d{4}-\d{2}-\d{2}\.xlsx"; filename\*=UTF-8''/);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(disposition)![1])).toMatch(/^诉求台账-东山镇-\d{4}-\d{2}-\d{2}\.xlsx$/);

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.bytes as any);
    const ws = wb.getWorksheet("诉求台账")!;
    const rows: string[][] = [];
    ws.eachRow((row) => rows.push((row.values as unknown[]).slice(1).map((v) => (v == null ? "" : String(v)))));
    expect(rows[0][0]).toBe("东山镇民情诉求台账");
    expect(rows[1][0]).toContain("范围：东山镇");
    expect(rows[1][0]).toContain("共 5 条");
    const header = rows[2];
    expect(header.slice(0, 6)).toEqual(["序号", "编号", "承办单位", "状态", "加急", "逾期"]);
    const col = (name: string) => header.indexOf(name);
    const data = rows.slice(3);
    expect(data.map((r) => r[col("编号")])).toEqual([numbers.t1, numbers.t2, numbers.t3, numbers.t4, numbers.t5]);
    const byNumber = Object.fromEntries(data.map((r) => [r[col("编号")], r]));
    expect(byNumber[numbers.t1][col("反映人")]).toBe("张三");
    expect(byNumber[numbers.t1][col("联系电话")]).toBe("13800001234");
    expect(byNumber[numbers.t1][col("状态")]).toBe("已结案");
    expect(byNumber[numbers.t1][col("评价")]).toBe("满意");
    expect(byNumber[numbers.t1][col("提交时间")]).toBe("2025-06-10 09:00");
    expect(byNumber[numbers.t1][col("认领人")]).toBe("sec1 用户");
    expect(byNumber[numbers.t4][col("加急")]).toBe("是");
    expect(byNumber[numbers.t4][col("逾期")]).toBe("是");
    expect(byNumber[numbers.t5][col("反映人")]).toBe("匿名");
    expect(byNumber[numbers.t5][col("联系电话")]).toBe("");

    // Same filters and scope as the board.
    const overdue = await call(`/api/complaints/export.xlsx?${window}&overdue=true`, { token: tokens.sec1 });
    const wb2 = new ExcelJS.Workbook();
    await wb2.xlsx.load(overdue.bytes as any);
    expect(wb2.getWorksheet("诉求台账")!.rowCount).toBe(4);
    expectError(await call(`/api/complaints/export.xlsx?unitId=${county.branch1.id}`, { token: tokens.town2 }), 403, "OUT_OF_SCOPE");
    const denied = await call("/api/complaints/export.xlsx", { token: mp.zhangsan.token });
    expectError(denied, 403, "FORBIDDEN");
    expect(denied.headers.get("content-disposition")).toBeNull();
  });
});
