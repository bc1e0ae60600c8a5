// A county broadcast's attachment (a picture or a document) end to end, against real PostgreSQL and Redis and the
// real Wechaty stack (wechaty-puppet-mock): checked by its bytes, stored through the BlobStore, referenced from each
// delivery, and sent to each room after the text. A failed attempt or a crash never repeats what already went out,
// and a platform without file sending fails the delivery visibly instead of dropping the file.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "@jest/globals";
import * as PUPPET from "wechaty-puppet";
import type { BotHandle } from "../bot/index.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import type { ChatAdapter, SendTarget } from "../bot/adapters/types.ts";
import { startSender } from "../bot/sender.ts";
import type { BotAccount } from "../core/db/index.ts";
import { claimDue, markPartsSent, wakeSenders } from "../core/delivery/outbox.ts";
import { approveBroadcast, broadcastReport, draftBroadcast, type BroadcastActor } from "../core/broadcasts/broadcasts.ts";
import { checkAttachment, storeAttachment, type BroadcastAttachment } from "../core/broadcasts/attachments.ts";
import { createBlobStore, type BlobStore } from "../core/storage/index.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";
import { botAccount, boundGroup, cadreActor, startOnline } from "./support/broadcast-fixtures.ts";

let ctx: TestContext;
let county: SmallCounty;
let store: BlobStore;
let storageDir: string;
let admin1: BroadcastActor;
let admin2: BroadcastActor;
let started: BotHandle[] = [];
let seq = 0;

const people = [{ id: "wx_zhangsan", name: "张三" }];
const PDF = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);

beforeAll(async () => {
  storageDir = mkdtempSync(path.join(tmpdir(), "nb-broadcast-att-"));
  ctx = await createTestContext("broadcast-att", { env: { STORAGE_DIR: storageDir, UPLOAD_MAX_BYTES: String(64 * 1024) } });
  store = createBlobStore(ctx.config);
  county = await smallCounty(ctx.db.prisma, "F");
  admin1 = await cadreActor(ctx.db.prisma, "att-county-1", county.county);
  admin2 = await cadreActor(ctx.db.prisma, "att-county-2", county.county);
});

afterEach(async () => {
  for (const bot of started) await bot.stop();
  started = [];
});

afterAll(async () => {
  for (const bot of started) await bot.stop();
  await ctx?.close();
  rmSync(storageDir, { recursive: true, force: true });
});

const account = (name: string) => botAccount(ctx.db.prisma, name);
const group = (room: string, accounts: BotAccount[]) => boundGroup(ctx.db.prisma, room, county.branch1.id, accounts);
const online = (wechat: MockWechat, name: string) => startOnline(ctx, wechat, name, started);

async function approvedWith(groupIds: number[], body: string, attachment: BroadcastAttachment) {
  const { broadcast, preview } = await draftBroadcast(ctx.db.prisma, admin1, { body, target: { scope: "groups", groupIds }, attachment });
  expect(preview.partsPerGroup).toBe(2); // the text and the attachment
  const d = await approveBroadcast(ctx.db.prisma, admin2, broadcast.id);
  expect(d.queued).toBe(groupIds.length);
  return broadcast;
}

const text = (label: string) => `【县委组织部通知】${label} #${++seq}`;
const textsIn = (w: MockWechat, room: string) => w.said.filter((s) => s.conversationId === room);
const filesIn = (w: MockWechat, room: string) => w.files.filter((f) => f.conversationId === room);

describe("checking an attachment by its bytes", () => {
  test("pictures whatever their name; pdf/doc(x)/xls(x) with matching bytes; anything else, empty or too big refused", () => {
    expect(checkAttachment(PNG, "海报.jpg", { maxBytes: 1024 })).toMatchObject({ kind: "image", mime: "image/png", ext: "png", name: "海报.png" });
    expect(checkAttachment(PDF, "C:\\文件\\通知.pdf", { maxBytes: 1024 })).toMatchObject({ kind: "file", mime: "application/pdf", name: "通知.pdf" });
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(20)]);
    expect(checkAttachment(zip, "名单.xlsx", { maxBytes: 1024 })).toMatchObject({ kind: "file", ext: "xlsx" });
    const ole = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(20)]);
    expect(checkAttachment(ole, "旧表.doc", { maxBytes: 1024 })).toMatchObject({ kind: "file", ext: "doc" });
    const refused = (data: Buffer, name: string | null, maxBytes = 1024) => {
      try {
        checkAttachment(data, name, { maxBytes });
      } catch (e) {
        return { status: (e as { status: number }).status, code: (e as { code: string }).code };
      }
      return null;
    };
    const exe = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(40)]);
    expect(refused(exe, "通知.pdf")).toEqual({ status: 415, code: "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED" });
    expect(refused(exe, "setup.exe")).toEqual({ status: 415, code: "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED" });
    expect(refused(zip, "a.zip")).toEqual({ status: 415, code: "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED" });
    expect(refused(PDF, null)).toEqual({ status: 415, code: "BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED" });
    expect(refused(Buffer.alloc(0), "a.pdf")).toEqual({ status: 400, code: "FILE_EMPTY" });
    expect(refused(PDF, "a.pdf", 10)).toEqual({ status: 413, code: "FILE_TOO_LARGE" });
  });
});

describe("sent through the mock puppet", () => {
  test("each room gets the text, then the file with its bytes and name; deliveries carry the reference", async () => {
    const acct = await account("wx-att-a");
    const rooms = ["att-1@chatroom", "att-2@chatroom"];
    const gs = [];
    for (const r of rooms) gs.push((await group(r, [acct])).id);
    const wechat = new MockWechat();
    for (const r of rooms) wechat.room(r, r, people);
    const attachment = await storeAttachment(store, checkAttachment(PDF, "冬季安全通知.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    expect(attachment.location).toMatch(/^disk:broadcasts\/\d{4}\/\d{2}\/[0-9a-f-]+\.pdf$/);
    const body = text("附件");
    const b = await approvedWith(gs, body, attachment);
    const rows = await ctx.db.prisma.delivery.findMany({ where: { broadcastId: b.id } });
    for (const r of rows) expect(r.payload).toEqual({ attachment });

    await online(wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(async () => {
      const report = await broadcastReport(ctx.db.prisma, admin1, b.id);
      expect(report.totals).toMatchObject({ total: 2, sent: 2, failed: 0 });
    });
    for (const r of rooms) {
      const [said] = textsIn(wechat, r);
      const files = filesIn(wechat, r);
      expect(textsIn(wechat, r).map((s) => s.text)).toEqual([body]);
      expect(files).toHaveLength(1);
      expect(files[0].name).toBe("冬季安全通知.pdf");
      expect(files[0].data?.equals(PDF)).toBe(true);
      // The text first, then the file.
      expect(files[0].seq).toBeGreaterThan(said.seq!);
    }
  });

  test("a picture goes as an image message", async () => {
    const acct = await account("wx-att-img");
    const g = await group("att-img@chatroom", [acct]);
    const wechat = new MockWechat();
    wechat.room("att-img@chatroom", "att-img", people);
    const attachment = await storeAttachment(store, checkAttachment(PNG, "海报.png", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    await approvedWith([g.id], text("图片"), attachment);
    await online(wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(() => expect(filesIn(wechat, "att-img@chatroom")).toHaveLength(1));
    const [file] = filesIn(wechat, "att-img@chatroom");
    expect(file.data?.equals(PNG)).toBe(true);
    expect(file.type).toBe(PUPPET.types.Message.Image);
  });
});

describe("retries and crashes never repeat what already went out", () => {
  test("the platform refuses the file once: the retry sends only the file, not the text again", async () => {
    const acct = await account("wx-att-retry");
    const g = await group("att-retry@chatroom", [acct]);
    const wechat = new MockWechat();
    wechat.room("att-retry@chatroom", "att-retry", people);
    const attachment = await storeAttachment(store, checkAttachment(PDF, "重发.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    // The platform (the puppet) fails the first file send, as a network error would.
    const original = wechat.puppet.messageSendFile.bind(wechat.puppet);
    let refused = 0;
    wechat.puppet.messageSendFile = async (...args: Parameters<typeof original>) => {
      if (refused++ === 0) throw new Error("network reset");
      return original(...args);
    };
    const body = text("重试");
    const b = await approvedWith([g.id], body, attachment);
    await online(wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(async () => {
      const [row] = await ctx.db.prisma.delivery.findMany({ where: { broadcastId: b.id } });
      expect(row).toMatchObject({ status: "QUEUED", errorClass: "transient" });
      expect(row.payload).toMatchObject({ partsSent: 1, attachment });
    });
    // The backoff after a first failed attempt is 5 s.
    await eventually(async () => expect((await broadcastReport(ctx.db.prisma, admin1, b.id)).totals).toMatchObject({ sent: 1 }), 20_000);
    expect(textsIn(wechat, "att-retry@chatroom").map((s) => s.text)).toEqual([body]);
    expect(filesIn(wechat, "att-retry@chatroom")).toHaveLength(1);
    expect(refused).toBe(2);
  }, 30_000);

  test("a process died after the text: the restarted one sends only the file; a delivery already SENT is never sent again", async () => {
    const acct = await account("wx-att-crash");
    const g1 = await group("att-crash-1@chatroom", [acct]);
    const g2 = await group("att-crash-2@chatroom", [acct]);
    const attachment = await storeAttachment(store, checkAttachment(PDF, "崩溃.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    const body = text("崩溃");
    const b = await approvedWith([g1.id, g2.id], body, attachment);
    // A previous process of this account claimed both: it sent room 1 completely (SENT), and only the text of room 2
    // before it died (the row is left SENDING under its worker name, with the text recorded as out).
    const claimed = await claimDue(ctx.db.prisma, acct.id, `${acct.name}:99999:dead`, 2);
    expect(claimed).toHaveLength(2);
    const d1 = claimed.find((d) => d.groupId === g1.id)!;
    const d2 = claimed.find((d) => d.groupId === g2.id)!;
    await ctx.db.prisma.delivery.update({ where: { id: d1.id }, data: { status: "SENT", sentAt: new Date(), lockedBy: null, lockedUntil: null, accountId: acct.id } });
    await markPartsSent(ctx.db.prisma, d2, 1);

    const wechat = new MockWechat();
    for (const r of ["att-crash-1@chatroom", "att-crash-2@chatroom"]) wechat.room(r, r, people);
    await online(wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(async () => expect((await broadcastReport(ctx.db.prisma, admin1, b.id)).totals).toMatchObject({ total: 2, sent: 2 }));
    expect(textsIn(wechat, "att-crash-2@chatroom")).toEqual([]);
    expect(filesIn(wechat, "att-crash-2@chatroom")).toHaveLength(1);
    expect(textsIn(wechat, "att-crash-1@chatroom")).toEqual([]);
    expect(filesIn(wechat, "att-crash-1@chatroom")).toEqual([]);

    // Another restart: both are SENT, nothing goes out again.
    await started.pop()!.stop();
    const again = new MockWechat();
    for (const r of ["att-crash-1@chatroom", "att-crash-2@chatroom"]) again.room(r, r, people);
    await online(again, acct.name);
    await wakeSenders(ctx.coord);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(again.files).toEqual([]);
    expect(again.said.filter((s) => s.text === body)).toEqual([]);
  });
});

describe("a platform adapter without file sending", () => {
  test("the delivery fails as 'unsupported' before any text goes out; the group stays reachable", async () => {
    const acct = await account("qq-att-nofile");
    const g = await group("att-nofile@chatroom", [acct]);
    const attachment = await storeAttachment(store, checkAttachment(PDF, "不支持.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    const b = await approvedWith([g.id], text("无文件"), attachment);
    const sent: { target: SendTarget; text: string }[] = [];
    // Another platform's adapter that has not (yet) got sendFile: a double of the platform side only.
    const adapter: ChatAdapter = {
      channel: "WECHAT",
      account: acct.name,
      maxTextLength: 1800,
      start: async () => undefined,
      stop: async () => undefined,
      onMessage: () => undefined,
      onGroupEvent: () => undefined,
      groupMembers: async () => [],
      groups: async () => [],
      isOnline: () => true,
      send: async (target, t) => {
        sent.push({ target, text: t });
        return {};
      },
    };
    const sender = await startSender(ctx, adapter, acct, { store });
    try {
      await eventually(async () => {
        const report = await broadcastReport(ctx.db.prisma, admin1, b.id);
        expect(report.totals).toMatchObject({ total: 1, failed: 1, sent: 0 });
        expect(report.failed[0]).toMatchObject({ errorClass: "unsupported" });
        expect(report.failed[0].error).toMatch(/不支持发送文件/);
      });
    } finally {
      await sender.stop();
    }
    expect(sent).toEqual([]);
    expect(await ctx.db.prisma.groupAccount.findFirstOrThrow({ where: { groupId: g.id, accountId: acct.id } })).toMatchObject({ active: true });
  });

  test("an attachment whose file is gone fails as 'attachment_missing' (permanent), not retried forever", async () => {
    const acct = await account("wx-att-gone");
    const g = await group("att-gone@chatroom", [acct]);
    const attachment = await storeAttachment(store, checkAttachment(PDF, "已删除.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
    const b = await approvedWith([g.id], text("文件丢失"), attachment);
    await store.delete(attachment.location);
    const wechat = new MockWechat();
    wechat.room("att-gone@chatroom", "att-gone", people);
    await online(wechat, acct.name);
    await wakeSenders(ctx.coord);
    await eventually(async () => {
      const report = await broadcastReport(ctx.db.prisma, admin1, b.id);
      expect(report.failed.map((f) => f.errorClass)).toEqual(["attachment_missing"]);
    });
    // Checked before the text: the group got nothing rather than half a broadcast.
    expect(textsIn(wechat, "att-gone@chatroom")).toEqual([]);
  });
});

describe("the CLI's --attach", () => {
  const ROOT = fileURLToPath(new URL("..", import.meta.url));
  const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) =>
      execFile(
        "npx",
        ["tsx", "core/broadcasts/cli.ts", ...args],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: ctx.db.url, STORAGE_DIR: storageDir, UPLOAD_MAX_BYTES: String(ctx.config.UPLOAD_MAX_BYTES), LOG_LEVEL: "warn" },
        },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );

  test("dry run names the file and counts it; a draft stores it; a wrong type is refused with its code", async () => {
    const acct = await account("wx-att-cli");
    const g = await group("att-cli@chatroom", [acct]);
    const dir = mkdtempSync(path.join(tmpdir(), "nb-cli-att-"));
    try {
      writeFileSync(path.join(dir, "notice.txt"), "【县委组织部通知】请查收附件");
      writeFileSync(path.join(dir, "通知.pdf"), PDF);
      writeFileSync(path.join(dir, "假的.pdf"), Buffer.concat([Buffer.from("MZ"), Buffer.alloc(64)]));
      const base = ["--file", path.join(dir, "notice.txt"), "--target", `groups:${g.id}`];
      const before = await ctx.db.prisma.broadcast.count();

      const dry = await cli([...base, "--attach", path.join(dir, "通知.pdf"), "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/每群 2 条/);
      expect(dry.stdout).toMatch(/附件：通知\.pdf（文档/);
      expect(await ctx.db.prisma.broadcast.count()).toBe(before);

      const bad = await cli([...base, "--attach", path.join(dir, "假的.pdf"), "--as", "att-county-1"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED/);
      expect(await ctx.db.prisma.broadcast.count()).toBe(before);

      const ok = await cli([...base, "--attach", path.join(dir, "通知.pdf"), "--as", "att-county-1"]);
      expect(ok).toMatchObject({ code: 0 });
      expect(ok.stdout).toMatch(/已起草广播 GB\d{8}-\d{4}/);
      const b = await ctx.db.prisma.broadcast.findFirstOrThrow({ orderBy: { id: "desc" } });
      expect(b.attachment).toMatchObject({ kind: "file", name: "通知.pdf", mimeType: "application/pdf" });
      const stored = await store.get((b.attachment as { location: string }).location);
      expect(stored?.data.equals(PDF)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
