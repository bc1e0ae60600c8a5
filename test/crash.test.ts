// A sender process killed with SIGKILL in the middle of a batch: restarted, it sends every delivery, loses none, and
// repeats at most one (the message that was on the wire when it died).
//
// Production shape end to end: the bot runs as its own process (`npx tsx core/main.ts --role bot --account …`),
// configured only by environment, and reaches WeChat through wechaty-puppet-service, the gRPC client of the hosted
// gateways. The "gateway" here is wechaty-puppet-service's own PuppetServer in the test process, wrapping the
// simulated WeChat, so the test sees exactly what the group received.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { log as wechatyLog, type PuppetServer } from "wechaty-puppet-service";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import { enqueue } from "../core/delivery/outbox.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { startRole, type RoleProcess } from "./support/crash-child.ts";
import { puppetGateway } from "./support/puppet-gateway.ts";

const ROOM = "crash@chatroom";
const ACCOUNT = "wx-crash";
const TOTAL = 40;
const KILL_AFTER = 12;
const bodies = Array.from({ length: TOTAL }, (_, i) => `通知 #${String(i + 1).padStart(2, "0")}`);

let ctx: TestContext;
let wechat: MockWechat;
let server: PuppetServer | undefined;
let env: Record<string, string>;
const children: RoleProcess[] = [];

beforeAll(async () => {
  // The gateway side's own chatter (stream closed when a client dies, start() on a started puppet) is expected here.
  wechatyLog.level("error");
  ctx = await createTestContext("crash");
  wechat = new MockWechat();
  wechat.room(ROOM, "断电测试群", [
    { id: "wx_zhangsan", name: "张三" },
    { id: "wx_lisi", name: "李四" },
  ]);
  ({ server, env } = await puppetGateway(wechat, ctx));

  const { prisma } = ctx.db;
  const account = await prisma.botAccount.create({ data: { name: ACCOUNT, channel: "WECHAT", sendsPerMinute: 1_000, sendsPerHour: 10_000 } });
  const group = await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: ROOM, topic: "断电测试群" } });
  await prisma.groupAccount.create({ data: { groupId: group.id, accountId: account.id } });
  for (const body of bodies) {
    await enqueue(prisma, { channel: "WECHAT", accountId: account.id, groupId: group.id, body, idempotencyKey: `crash:${body}` });
  }

});

afterAll(async () => {
  for (const c of children) await c.kill();
  await server?.stop();
  await ctx?.close();
});

function startBotProcess() {
  const child = startRole(["--role", "bot", "--account", ACCOUNT], env);
  children.push(child);
  return child;
}

/** Waits for `done()` while the bot process is alive; fails with its output if it dies or time runs out. */
async function whileAlive(child: RoleProcess, done: () => boolean | Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    child.assertAlive();
    if (Date.now() > deadline) {
      const missing = bodies.filter((b) => !receivedBodies().includes(b));
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; outbox: ${JSON.stringify(await statuses())}, ` +
          `not received: ${missing.length ? missing.join("、") : "none"}; bot output:\n${child.output().slice(-4_000) || "(none)"}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const receivedBodies = () => wechat.said.filter((s) => s.conversationId === ROOM).map((s) => s.text);
const statuses = async () => {
  const rows = await ctx.db.prisma.delivery.groupBy({ by: ["status"], _count: { _all: true } });
  return Object.fromEntries(rows.map((r) => [r.status, r._count._all])) as Record<string, number>;
};

test("a bot process killed with SIGKILL mid-batch and restarted sends every delivery, at most one twice", async () => {
  // First process: killed the moment the group has received KILL_AFTER messages, while it is mid-batch (most
  // likely between handing a message to the platform and recording it as sent: the worst moment).
  const first = startBotProcess();
  let killing: Promise<void> | undefined;
  const off = wechat.onBotSaid(() => {
    if (!killing && receivedBodies().length >= KILL_AFTER) killing = first.kill();
  });
  await whileAlive(first, () => killing !== undefined, `${KILL_AFTER} messages from the first bot process`, 25_000);
  off();
  await killing;
  expect(first.exited()?.signal).toBe("SIGKILL");

  const atKill = receivedBodies().length;
  expect(atKill).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(atKill).toBeLessThan(TOTAL);
  const afterKill = await statuses();
  // The batch really was cut short: work is left in the outbox, and at most the one in-flight row is claimed.
  expect((afterKill.QUEUED ?? 0) + (afterKill.SENDING ?? 0)).toBeGreaterThan(0);
  expect(afterKill.SENDING ?? 0).toBeLessThanOrEqual(1);
  expect(afterKill.FAILED ?? 0).toBe(0);

  // Second process: picks up where the first died. The row the dead worker held is taken back at once: waiting out
  // its lease (60 s) would not fit in the 30 s allowed here (start-up plus ~30 sends take ~8 s on a quiet machine).
  const second = startBotProcess();
  await whileAlive(
    second,
    async () => (await statuses()).SENT === TOTAL && bodies.every((b) => receivedBodies().includes(b)),
    "every delivery SENT and received after the restart",
    30_000,
  );

  const received = receivedBodies();
  const counts = new Map<string, number>();
  for (const b of received) counts.set(b, (counts.get(b) ?? 0) + 1);
  // None lost, nothing foreign.
  expect(bodies.filter((b) => !counts.has(b))).toEqual([]);
  expect([...counts.keys()].filter((b) => !bodies.includes(b))).toEqual([]);
  // At most one duplicate for the one crash.
  const duplicates = received.length - counts.size;
  expect(duplicates).toBeLessThanOrEqual(1);
  // Every row SENT, none failed or still claimed.
  expect(await statuses()).toEqual({ SENT: TOTAL });
  // The restarted process said that it took back the dead worker's row.
  if (afterKill.SENDING) expect(second.output()).toContain("收回上次进程未发完的消息");
}, 75_000);
