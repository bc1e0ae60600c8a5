// A county broadcast's sender killed with SIGKILL mid-fan-out, then restarted: every group gets the broadcast, at
// most one group twice (the message on the wire when the process died). Production shape, as in crash.test.ts: the
// bot is its own process (`tsx core/main.ts --role bot`) reaching the simulated WeChat through wechaty-puppet-service.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { log as wechatyLog, type PuppetServer } from "wechaty-puppet-service";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { approveBroadcast, broadcastReport, draftBroadcast, type BroadcastActor } from "../core/broadcasts/broadcasts.ts";
import { checkAttachment, storeAttachment } from "../core/broadcasts/attachments.ts";
import { createBlobStore } from "../core/storage/index.ts";
import type { SmallCounty } from "./support/fixtures.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { startRole, type RoleProcess } from "./support/crash-child.ts";
import { puppetGateway } from "./support/puppet-gateway.ts";
import { smallCounty } from "./support/fixtures.ts";
import { botAccount, boundGroup, cadreActor } from "./support/broadcast-fixtures.ts";

const ACCOUNT = "wx-bc-crash";
const GROUPS = 30;
const KILL_AFTER = 10;
const BODY = "【县委组织部通知】请各支部本周内完成党费收缴情况自查。";
const rooms = Array.from({ length: GROUPS }, (_, i) => `bc-crash-${i}@chatroom`);
// The second test: a broadcast with a document, to rooms of its own served by an account of its own.
const ATT_ACCOUNT = "wx-bc-crash-att";
const ATT_GROUPS = 20;
const ATT_KILL_AFTER = 7;
const attRooms = Array.from({ length: ATT_GROUPS }, (_, i) => `bc-crash-att-${i}@chatroom`);
const PDF = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");

let ctx: TestContext;
let wechat: MockWechat;
let server: PuppetServer | undefined;
let env: Record<string, string>;
let admin1: BroadcastActor;
let admin2: BroadcastActor;
let county: SmallCounty;
let storageDir: string;
const children: RoleProcess[] = [];

beforeAll(async () => {
  wechatyLog.level("error");
  storageDir = mkdtempSync(path.join(tmpdir(), "nb-broadcast-crash-"));
  ctx = await createTestContext("broadcast-crash", { env: { STORAGE_DIR: storageDir } });
  wechat = new MockWechat();
  for (const r of [...rooms, ...attRooms]) wechat.room(r, r, [{ id: "wx_zhangsan", name: "张三" }]);
  ({ server, env } = await puppetGateway(wechat, ctx, { STORAGE_DIR: storageDir }));

  const { prisma } = ctx.db;
  county = await smallCounty(prisma, "K");
  admin1 = await cadreActor(prisma, "k-county-1", county.county);
  admin2 = await cadreActor(prisma, "k-county-2", county.county);
  const account = await botAccount(prisma, ACCOUNT, { sendsPerMinute: 1_000 });
  for (const [i, r] of rooms.entries()) await boundGroup(prisma, r, i % 2 ? county.branch1.id : county.branch2.id, [account]);
});

afterAll(async () => {
  for (const c of children) await c.kill();
  await server?.stop();
  await ctx?.close();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

const said = () => wechat.said.filter((s) => s.text === BODY).map((s) => s.conversationId);

async function whileAlive(child: RoleProcess, done: () => boolean | Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    child.assertAlive();
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${said().length}; bot output:\n${child.output().slice(-4_000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("SIGKILL mid-fan-out, restart: every group gets the broadcast, at most one twice", async () => {
  const { broadcast } = await draftBroadcast(ctx.db.prisma, admin1, { body: BODY, target: { scope: "all" } });
  const d = await approveBroadcast(ctx.db.prisma, admin2, broadcast.number);
  expect(d.queued).toBe(GROUPS);

  const first = startRole(["--role", "bot", "--account", ACCOUNT], env);
  children.push(first);
  let killing: Promise<void> | undefined;
  const off = wechat.onBotSaid(() => {
    if (!killing && said().length >= KILL_AFTER) killing = first.kill();
  });
  await whileAlive(first, () => killing !== undefined, `${KILL_AFTER} groups from the first process`, 25_000);
  off();
  await killing;
  expect(first.exited()?.signal).toBe("SIGKILL");
  const atKill = said().length;
  expect(atKill).toBeLessThan(GROUPS);
  const mid = await broadcastReport(ctx.db.prisma, admin1, broadcast.id);
  expect(mid.totals.failed).toBe(0);
  expect(mid.totals.sending).toBeLessThanOrEqual(1);

  const second = startRole(["--role", "bot", "--account", ACCOUNT], env);
  children.push(second);
  await whileAlive(
    second,
    async () => (await broadcastReport(ctx.db.prisma, admin1, broadcast.id)).totals.sent === GROUPS && new Set(said()).size === GROUPS,
    "every group SENT after the restart",
    30_000,
  );
  const received = said();
  expect(new Set(received)).toEqual(new Set(rooms));
  expect(received.length - GROUPS).toBeLessThanOrEqual(1);
  const report = await broadcastReport(ctx.db.prisma, admin1, broadcast.id);
  expect(report.totals).toMatchObject({ total: GROUPS, sent: GROUPS, failed: 0, queued: 0, waiting: 0 });
  expect(report.broadcast.status).toBe("COMPLETED");
}, 75_000);

test("with a document: SIGKILL mid-fan-out, restart: every group gets the text and then the file, at most one message twice", async () => {
  // The first test's last bot process is done: out of the way.
  for (const c of children.splice(0)) await c.kill();
  const { prisma } = ctx.db;
  const account = await prisma.botAccount.create({ data: { name: ATT_ACCOUNT, channel: "WECHAT", sendsPerMinute: 1_000, sendsPerHour: 10_000 } });
  const groupIds: number[] = [];
  for (const r of attRooms) {
    // The first test's bot saw these rooms at its login (unbound then): bind them, reachable by this account only.
    const g = await prisma.chatGroup.upsert({
      where: { channel_platformGroupId: { channel: "WECHAT", platformGroupId: r } },
      create: { channel: "WECHAT", platformGroupId: r, topic: r, kind: "BRANCH", orgUnitId: county.branch1.id },
      update: { kind: "BRANCH", orgUnitId: county.branch1.id },
    });
    await prisma.groupAccount.deleteMany({ where: { groupId: g.id } });
    await prisma.groupAccount.create({ data: { groupId: g.id, accountId: account.id } });
    groupIds.push(g.id);
  }
  const attachment = await storeAttachment(createBlobStore(ctx.config), checkAttachment(PDF, "党费自查表.pdf", { maxBytes: ctx.config.UPLOAD_MAX_BYTES }));
  const body = "【县委组织部通知】请各支部填写附件中的党费自查表。";
  const { broadcast } = await draftBroadcast(prisma, admin1, { body, target: { scope: "groups", groupIds }, attachment });
  expect((await approveBroadcast(prisma, admin2, broadcast.number)).queued).toBe(ATT_GROUPS);

  const texts = () => wechat.said.filter((m) => m.text === body);
  const files = () => wechat.files.filter((f) => f.name === "党费自查表.pdf");
  const first = startRole(["--role", "bot", "--account", ATT_ACCOUNT], env);
  children.push(first);
  let killing: Promise<void> | undefined;
  const off = wechat.onBotFile(() => {
    if (!killing && files().length >= ATT_KILL_AFTER) killing = first.kill();
  });
  await whileAlive(first, () => killing !== undefined, `${ATT_KILL_AFTER} files from the first process`, 25_000);
  off();
  await killing;
  expect(first.exited()?.signal).toBe("SIGKILL");
  expect(files().length).toBeLessThan(ATT_GROUPS);

  const second = startRole(["--role", "bot", "--account", ATT_ACCOUNT], env);
  children.push(second);
  await whileAlive(
    second,
    async () => (await broadcastReport(prisma, admin1, broadcast.id)).totals.sent === ATT_GROUPS && new Set(files().map((f) => f.conversationId)).size === ATT_GROUPS,
    "every group SENT with its file after the restart",
    30_000,
  );
  for (const r of attRooms) {
    const t = texts().filter((m) => m.conversationId === r);
    const f = files().filter((x) => x.conversationId === r);
    expect(t.length).toBeGreaterThanOrEqual(1);
    expect(f.length).toBeGreaterThanOrEqual(1);
    // The text first, then the file, with the bytes that were uploaded.
    expect(f[0].seq).toBeGreaterThan(t[0].seq!);
    expect(f[0].data?.equals(PDF)).toBe(true);
  }
  // At most one message (the one on the wire at the kill, text or file) went out twice.
  expect(texts().length + files().length - 2 * ATT_GROUPS).toBeLessThanOrEqual(1);
  const report = await broadcastReport(prisma, admin1, broadcast.id);
  expect(report.totals).toMatchObject({ total: ATT_GROUPS, sent: ATT_GROUPS, failed: 0, queued: 0, waiting: 0 });
}, 75_000);
