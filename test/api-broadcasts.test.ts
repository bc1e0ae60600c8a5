// County broadcasts through the HTTP API: preview, draft, the second admin's approval, rejection, cancel, the live
// report, and bad input answered with stable codes. Real Postgres and Redis; the API on a random port.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, type Answer, expectApiError as expectError } from "./support/http.ts";

const HAN = /[\u4e00-\u9fff]/;
let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let storageDir: string;
const UPLOAD_MAX_BYTES = 64 * 1024;
const tokens = {} as Record<"county1" | "county2" | "town1", string>;
const call = apiCaller(() => api.url);


beforeAll(async () => {
  storageDir = mkdtempSync(path.join(tmpdir(), "nb-api-broadcasts-"));
  ctx = await createTestContext("api-broadcasts", { env: { STORAGE_DIR: storageDir, UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES) } });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "AB");
  Object.assign(tokens, await cadreTokens(ctx, "ab", [
    { key: "county1", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "county2", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
    { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
  ]));
  const acct = await prisma.botAccount.create({ data: { name: "wx-ab", channel: "WECHAT", status: "ONLINE" } });
  for (const [room, unit] of [
    ["ab-1@chatroom", county.branch1.id],
    ["ab-2@chatroom", county.branch2.id],
  ] as const) {
    const g = await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: room, topic: room, kind: "BRANCH", orgUnitId: unit } });
    await prisma.groupAccount.create({ data: { groupId: g.id, accountId: acct.id } });
  }
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

/** Every stored file under STORAGE_DIR (temp files included), relative. */
const storedFiles = (): string[] =>
  (readdirSync(storageDir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(storageDir, path.join(e.parentPath, e.name)))
    .sort();

describe("county broadcasts API", () => {
  test("preview, draft, self-approval refused, approval by the second admin, report, cancel", async () => {
    const preview = await call("/api/broadcasts/preview", { token: tokens.county1, body: { text: "冬季安全生产通知", target: { scope: "all" } } });
    expect(preview.status).toBe(200);
    expect(preview.json).toMatchObject({ groups: 2, partsPerGroup: 1, messages: 2, groupsWithoutOnlineAccount: 0 });
    expect(preview.json.accounts).toEqual([expect.objectContaining({ name: "wx-ab", groups: 2 })]);

    const draft = await call("/api/broadcasts", { token: tokens.county1, body: { text: "冬季安全生产通知", target: { scope: "all" } } });
    expect(draft.status).toBe(201);
    const { number, id } = draft.json.broadcast;
    expect(draft.json.broadcast.status).toBe("PENDING_APPROVAL");

    const list = await call("/api/broadcasts", { token: tokens.county2 });
    expect(list.json.items.map((b: { number: string }) => b.number)).toEqual([number]);

    expectError(await call(`/api/broadcasts/${number}/approve`, { token: tokens.county1, body: {} }), 403, "BROADCAST_SELF_APPROVAL");
    expectError(await call(`/api/broadcasts/${number}/approve`, { token: tokens.town1, body: {} }), 403, "FORBIDDEN");
    const ok = await call(`/api/broadcasts/${number}/approve`, { token: tokens.county2, body: {} });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ status: "SENDING", queued: 2 });
    expect(ok.json.message).toMatch(HAN);
    expectError(await call(`/api/broadcasts/${id}/approve`, { token: tokens.county2, body: {} }), 409, "BROADCAST_ALREADY_DECIDED");

    const detail = await call(`/api/broadcasts/${id}`, { token: tokens.county1 });
    expect(detail.status).toBe(200);
    expect(detail.json.report.totals).toMatchObject({ total: 2, queued: 2, sent: 0 });
    expect(detail.json.report.perTown.map((t: { townName: string }) => t.townName)).toEqual(["东山镇", "西河乡"]);
    expect(detail.json.approvals).toEqual([expect.objectContaining({ decision: "APPROVED" })]);

    const cancel = await call(`/api/broadcasts/${id}/cancel`, { token: tokens.county1, body: {} });
    expect(cancel.json).toMatchObject({ status: "CANCELLED", cancelled: 2 });
    expectError(await call(`/api/broadcasts/${id}/cancel`, { token: tokens.county1, body: {} }), 409, "BROADCAST_NOT_CANCELLABLE");
    expect((await call(`/api/broadcasts/${id}`, { token: tokens.county1 })).json.report.totals).toMatchObject({ cancelled: 2, queued: 0 });
  });

  test("rejection with a reason; bad input answered with stable codes", async () => {
    const draft = await call("/api/broadcasts", { token: tokens.county1, body: { text: "待驳回", target: { scope: "kinds", kinds: ["BRANCH"] } } });
    expectError(await call(`/api/broadcasts/${draft.json.broadcast.id}/reject`, { token: tokens.county2, body: { reason: "" } }), 400, "VALIDATION_FAILED");
    const rej = await call(`/api/broadcasts/${draft.json.broadcast.id}/reject`, { token: tokens.county2, body: { reason: "请补充落款" } });
    expect(rej.json).toMatchObject({ status: "REJECTED" });

    expectError(await call("/api/broadcasts", { token: tokens.county1, body: { text: "   ", target: { scope: "all" } } }), 400, "BROADCAST_TEXT_EMPTY");
    expectError(await call("/api/broadcasts", { token: tokens.county1, body: { text: "x", target: { scope: "towns", townIds: [999999] } } }), 400, "BROADCAST_TARGET_UNKNOWN");
    expectError(await call("/api/broadcasts", { token: tokens.county1, body: { text: "x", target: { scope: "moon" } } }), 400, "VALIDATION_FAILED");
    expectError(await call("/api/broadcasts", { token: tokens.county1, body: { text: "x", target: { scope: "all" }, scheduledAt: "2020-01-01T00:00:00Z" } }), 400, "BROADCAST_SEND_TIME_PAST");
    expectError(await call("/api/broadcasts", { token: tokens.county1, body: { text: "长".repeat(9001), target: { scope: "all" } } }), 400, "BROADCAST_TEXT_TOO_LONG");
    expectError(await call("/api/broadcasts/GB20990101-9999", { token: tokens.county1 }), 404, "BROADCAST_NOT_FOUND");
  });

  test("the console's history: status=ALL lists every broadcast newest first; one status filters; pending stays the default", async () => {
    const draft = async (text: string) => (await call("/api/broadcasts", { token: tokens.county1, body: { text, target: { scope: "all" } } })).json.broadcast;
    const first = await draft("历史列表一");
    const second = await draft("历史列表二");
    expect((await call(`/api/broadcasts/${first.id}/reject`, { token: tokens.county2, body: { reason: "内容重复" } })).status).toBe(200);

    const all = await call("/api/broadcasts?status=ALL&limit=200", { token: tokens.county2 });
    expect(all.status).toBe(200);
    const ids = all.json.items.map((b: { id: number }) => b.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids).toEqual(expect.arrayContaining([first.id, second.id]));
    const rejected = await call("/api/broadcasts?status=REJECTED", { token: tokens.county2 });
    expect(rejected.json.items.map((b: { id: number }) => b.id)).toContain(first.id);
    expect(rejected.json.items.every((b: { status: string }) => b.status === "REJECTED")).toBe(true);
    const pending = await call("/api/broadcasts", { token: tokens.county2 });
    expect(pending.json.items.map((b: { id: number }) => b.id)).toContain(second.id);
    expect(pending.json.items.map((b: { id: number }) => b.id)).not.toContain(first.id);
    expect(expectError(await call("/api/broadcasts?status=DONE", { token: tokens.county2 }), 400, "VALIDATION_FAILED").fields![0].message).toMatch(/ALL/);
    expectError(await call("/api/broadcasts?status=ALL&limit=500", { token: tokens.county2 }), 400, "VALIDATION_FAILED");
    expectError(await call("/api/broadcasts?status=ALL", { token: tokens.town1 }), 403, "FORBIDDEN");
  });
});

describe("a broadcast with an attachment (multipart)", () => {
  const PDF = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n");
  const form = (text: string) => ({ text, target: JSON.stringify({ scope: "all" }), title: "带附件的通知" });

  test("the file is checked by its bytes, stored, shown without its location, and referenced by every delivery", async () => {
    const before = storedFiles();
    const draft = await call("/api/broadcasts", {
      token: tokens.county1,
      form: form("请查收附件中的冬季安全通知"),
      photos: [{ field: "attachment", data: PDF, name: "冬季安全通知.pdf", type: "application/pdf" }],
    });
    expect(draft.status).toBe(201);
    expect(draft.json.broadcast.attachment).toEqual({ kind: "file", name: "冬季安全通知.pdf", mimeType: "application/pdf", size: PDF.length });
    expect(draft.text).not.toMatch(/disk:|broadcasts\//);
    // Text and attachment: two messages per group.
    expect(draft.json.preview).toMatchObject({ groups: 2, partsPerGroup: 2, messages: 4 });
    const added = storedFiles().filter((f) => !before.includes(f));
    expect(added).toEqual([expect.stringMatching(/^broadcasts\/\d{4}\/\d{2}\/[0-9a-f-]+\.pdf$/)]);

    const ok = await call(`/api/broadcasts/${draft.json.broadcast.id}/approve`, { token: tokens.county2, body: {} });
    expect(ok.json).toMatchObject({ status: "SENDING", queued: 2 });
    const rows = await ctx.db.prisma.delivery.findMany({ where: { broadcastId: draft.json.broadcast.id } });
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.payload).toMatchObject({ attachment: { kind: "file", name: "冬季安全通知.pdf", location: `disk:${added[0]}` } });
    const detail = await call(`/api/broadcasts/${draft.json.broadcast.id}`, { token: tokens.county1 });
    expect(detail.json.broadcast.attachment).toMatchObject({ kind: "file", name: "冬季安全通知.pdf" });
    await call(`/api/broadcasts/${draft.json.broadcast.id}/cancel`, { token: tokens.county1, body: {} });
  });

  test("a preview can count the attachment; an image is accepted by its bytes whatever its name", async () => {
    const p = await call("/api/broadcasts/preview", { token: tokens.county1, body: { text: "通知", target: { scope: "all" }, withAttachment: true } });
    expect(p.json).toMatchObject({ partsPerGroup: 2, messages: 4 });
    const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32, 1)]);
    const draft = await call("/api/broadcasts", { token: tokens.county1, form: form("海报"), photos: [{ field: "attachment", data: PNG, name: "海报.jpg", type: "image/jpeg" }] });
    expect(draft.status).toBe(201);
    expect(draft.json.broadcast.attachment).toMatchObject({ kind: "image", name: "海报.png", mimeType: "image/png" });
  });

  test("refused with stable codes, and nothing is left stored: wrong type, too large, two files, a refused draft", async () => {
    const before = storedFiles();
    const count = await ctx.db.prisma.broadcast.count();
    const exe = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(100)]);
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("x"), photos: [{ field: "attachment", data: exe, name: "通知.pdf" }] }), 415, "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED");
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("x"), photos: [{ field: "attachment", data: Buffer.from("hello"), name: "a.txt" }] }), 415, "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED");
    const big = Buffer.concat([PDF, Buffer.alloc(UPLOAD_MAX_BYTES)]);
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("x"), photos: [{ field: "attachment", data: big, name: "大.pdf" }] }), 413, "FILE_TOO_LARGE");
    const two = [
      { field: "attachment", data: PDF, name: "a.pdf" },
      { field: "attachment", data: PDF, name: "b.pdf" },
    ];
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("x"), photos: two }), 413, "TOO_MANY_FILES");
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("x"), photos: [{ field: "photos", data: PDF, name: "a.pdf" }] }), 400, "UNEXPECTED_FILE_FIELD");
    // A valid file with a draft the rules refuse: the stored file is removed again.
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: form("   "), photos: [{ field: "attachment", data: PDF, name: "a.pdf" }] }), 400, "BROADCAST_TEXT_EMPTY");
    expectError(await call("/api/broadcasts", { token: tokens.county1, form: { text: "x", target: "{not json" }, photos: [{ field: "attachment", data: PDF, name: "a.pdf" }] }), 400, "VALIDATION_FAILED");
    expect(storedFiles()).toEqual(before);
    expect(await ctx.db.prisma.broadcast.count()).toBe(count);
  });
});
