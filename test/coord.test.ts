// One contract, two implementations: whatever passes here for memory must pass for real Redis and vice versa.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import cron from "node-cron";
import { pino } from "pino";
import { createCoordination } from "../core/coord/index.ts";
import { cronRunCoordinator } from "../core/coord/cron-coordinator.ts";
import type { Coordination } from "../core/coord/types.ts";

const REDIS_URL = process.env.NETBRANCH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN_PREFIX = process.env.NETBRANCH_TEST_REDIS_PREFIX ?? `nbtest:${randomBytes(4).toString("hex")}:`;
const PREFIX = `${RUN_PREFIX}coord:`;
const logger = pino({ level: "silent" });

const uid = () => randomBytes(4).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Records log calls so tests can check that outages are logged once, not once per reconnect attempt. */
function recordingLogger() {
  const lines: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_obj: object, msg?: string) => void lines.push({ level, msg });
  return { lines, logger: { info: at("info"), warn: at("warn"), error: at("error") } };
}

const opened: Coordination[] = [];
function openRedis(prefix = PREFIX, name = `nbtest-${uid()}`, log: Parameters<typeof createCoordination>[1] = logger) {
  const coord = createCoordination({ REDIS_URL, REDIS_KEY_PREFIX: prefix }, log, { name });
  opened.push(coord);
  return coord;
}
function openMemory() {
  const coord = createCoordination({ REDIS_KEY_PREFIX: PREFIX }, logger);
  opened.push(coord);
  return coord;
}

let admin: Redis;
beforeAll(async () => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  await admin.ping();
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${RUN_PREFIX}coord*`, "COUNT", 500);
    if (keys.length) await admin.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  await admin.quit();
});

// `peer` plays a second process: a separate Redis client on the same prefix, or (in memory, where there is only
// one process by definition) the same instance.
describe.each([
  { kind: "memory", open: openMemory, peerOf: (c: Coordination) => c },
  { kind: "redis", open: () => openRedis(), peerOf: () => openRedis() },
])("coordination contract: $kind", ({ kind, open, peerOf }) => {
  let coord: Coordination;
  let peer: Coordination;
  beforeAll(async () => {
    coord = open();
    peer = peerOf(coord);
    await Promise.all([coord.ping(), peer.ping()]);
  });

  test("reports its kind", () => {
    expect(coord.kind).toBe(kind);
  });

  test("lease is exclusive across processes and released only by its owner", async () => {
    const key = `job-${uid()}`;
    const lease = await coord.acquire(key, 5000);
    expect(lease).not.toBeNull();
    expect(lease!.key).toBe(key);
    expect(await peer.acquire(key, 5000)).toBeNull();
    expect(await coord.acquire(key, 5000)).toBeNull();
    expect(await lease!.release()).toBe(true);
    expect(await lease!.release()).toBe(false);
    const next = await peer.acquire(key, 5000);
    expect(next).not.toBeNull();
    expect(next!.token).not.toBe(lease!.token);
    await next!.release();
  });

  test("lease expires after its TTL; the stale owner can neither release nor extend the successor's lease", async () => {
    const key = `job-${uid()}`;
    const stale = (await coord.acquire(key, 80))!;
    expect(stale).not.toBeNull();
    await sleep(150);
    const successor = await peer.acquire(key, 5000);
    expect(successor).not.toBeNull();
    expect(await stale.release()).toBe(false);
    expect(await stale.extend(5000)).toBe(false);
    expect(await coord.acquire(key, 5000)).toBeNull(); // successor still holds it
    expect(await successor!.release()).toBe(true);
  });

  test("extend keeps a lease alive past its original TTL", async () => {
    const key = `job-${uid()}`;
    const lease = (await coord.acquire(key, 150))!;
    expect(await lease.extend(2000)).toBe(true);
    await sleep(250);
    expect(await peer.acquire(key, 1000)).toBeNull();
    expect(await lease.release()).toBe(true);
  });

  test("rejects TTLs Redis would reject", async () => {
    await expect(coord.acquire(`bad-${uid()}`, 0)).rejects.toThrow(RangeError);
    await expect(coord.seenBefore(`bad-${uid()}`, 1.5)).rejects.toThrow(RangeError);
  });

  test("seenBefore is false first, true on repeats (from any process), false again after the TTL", async () => {
    const key = `msg-${uid()}`;
    expect(await coord.seenBefore(key, 200)).toBe(false);
    expect(await coord.seenBefore(key, 200)).toBe(true);
    expect(await peer.seenBefore(key, 200)).toBe(true);
    expect(await coord.seenBefore(`msg-${uid()}`, 200)).toBe(false);
    await sleep(250);
    expect(await peer.seenBefore(key, 200)).toBe(false);
  });

  test("rate limiter allows N per window across processes, then refuses with retryAfterMs, then recovers", async () => {
    const name = `login-${uid()}`;
    const limiter = coord.rateLimiter(name, { points: 3, durationSec: 1 });
    const shared = peer.rateLimiter(name, { points: 3, durationSec: 1 });
    expect(await limiter.consume("u1")).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect((await shared.consume("u1")).remaining).toBe(1);
    expect((await limiter.consume("u1")).allowed).toBe(true);
    const refused = await shared.consume("u1");
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
    expect((await limiter.consume("u2")).allowed).toBe(true); // keys are independent
    expect((await limiter.consume("u1", 5)).allowed).toBe(false);
    expect(() => coord.rateLimiter(name, { points: 4, durationSec: 1 })).toThrow(/already defined/);
    expect(() => coord.rateLimiter(`x-${uid()}`, { points: 3, durationSec: 0.5 })).toThrow(RangeError);
    await sleep(refused.retryAfterMs + 50);
    expect(await limiter.consume("u1")).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
  });

  test("pub/sub delivers asynchronously to every subscriber; unsubscribe stops delivery", async () => {
    const channel = `wake-${uid()}`;
    const a: string[] = [];
    const b: string[] = [];
    const c: string[] = [];
    const offA = await peer.subscribe(channel, (m) => a.push(m));
    const offB = await peer.subscribe(channel, (m) => b.push(m));
    const offC = await coord.subscribe(channel, (m) => c.push(m));
    const publishing = coord.publish(channel, "one");
    expect(a).toEqual([]); // never synchronously inside publish()
    await publishing;
    await waitFor(() => a.length === 1 && b.length === 1 && c.length === 1, "first delivery");
    expect([a, b, c]).toEqual([["one"], ["one"], ["one"]]);

    await offA();
    await offA(); // idempotent
    await coord.publish(channel, "two");
    // b shares a's instance (and, for Redis, its connection): once b has "two", a would have it too.
    await waitFor(() => b.length === 2 && c.length === 2, "second delivery");
    expect(a).toEqual(["one"]);
    expect(b).toEqual(["one", "two"]);

    await Promise.all([offB(), offC()]);
    const again: string[] = [];
    const offAgain = await peer.subscribe(channel, (m) => again.push(m));
    await coord.publish(channel, "three");
    await waitFor(() => again.length === 1, "delivery after resubscribe");
    expect(b).toEqual(["one", "two"]);
    await offAgain();
  });

  test("a throwing handler does not stop delivery to the others", async () => {
    const channel = `wake-${uid()}`;
    const got: string[] = [];
    const offBad = await peer.subscribe(channel, () => {
      throw new Error("boom");
    });
    const offGood = await peer.subscribe(channel, (m) => got.push(m));
    await coord.publish(channel, "x");
    await coord.publish(channel, "y");
    await waitFor(() => got.length === 2, "delivery past a throwing handler");
    expect(got).toEqual(["x", "y"]);
    await Promise.all([offBad(), offGood()]);
  });

  test("node-cron distributed task fires once per slot across processes", async () => {
    const name = `tick-${uid()}`;
    const runs = new Map<string, number>();
    const skips = new Map<string, number>();
    const bump = (m: Map<string, number>, slot: string) => m.set(slot, (m.get(slot) ?? 0) + 1);
    const tasks = [coord, peer].map((c) => {
      const task = cron.createTask("* * * * * *", (ctx) => void bump(runs, ctx.date.toISOString()), {
        name,
        distributed: true,
        runCoordinator: cronRunCoordinator(c),
        distributedLease: 5000,
      });
      task.on("execution:skipped", (ctx) => void bump(skips, ctx.date.toISOString()));
      return task;
    });
    try {
      await Promise.all(tasks.map((t) => t.start()));
      const decided = () => [...new Set([...runs.keys(), ...skips.keys()])].filter((s) => (runs.get(s) ?? 0) + (skips.get(s) ?? 0) === 2);
      await waitFor(() => decided().length >= 1, "one fully decided cron slot", 3000);
      for (const slot of decided()) {
        expect(runs.get(slot)).toBe(1);
        expect(skips.get(slot)).toBe(1);
      }
    } finally {
      await Promise.all(tasks.map((t) => t.destroy()));
    }
  });
});

describe("redis coordination specifics", () => {
  test("keys land under the configured prefix", async () => {
    const coord = openRedis();
    const key = `job-${uid()}`;
    await coord.acquire(key, 5000);
    await coord.seenBefore(key, 5000);
    expect(await admin.exists(`${PREFIX}lock:${key}`, `${PREFIX}seen:${key}`)).toBe(2);
    const ttl = await admin.pttl(`${PREFIX}lock:${key}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  test("channels are isolated by prefix", async () => {
    const mine = openRedis();
    const sameNamespace = openRedis();
    const otherNamespace = openRedis(`${RUN_PREFIX}coord-other:`);
    const channel = `wake-${uid()}`;
    const same: string[] = [];
    const other: string[] = [];
    await sameNamespace.subscribe(channel, (m) => same.push(m));
    await otherNamespace.subscribe(channel, (m) => other.push(m));
    await mine.publish(channel, "hello");
    await waitFor(() => same.length === 1, "same-prefix delivery");
    await otherNamespace.publish(channel, "from-other");
    await sleep(100);
    expect(same).toEqual(["hello"]);
    expect(other).toEqual(["from-other"]);
  });

  test("recovers after its server connections are killed (restart-like)", async () => {
    const name = `nbtest-kill-${uid()}`;
    const log = recordingLogger();
    const coord = openRedis(PREFIX, name, log.logger);
    const channel = `wake-${uid()}`;
    const got: string[] = [];
    await coord.subscribe(channel, (m) => got.push(m));
    await coord.publish(channel, "before");
    await waitFor(() => got.includes("before"), "delivery before the kill");

    const ours = async () =>
      (await admin.client("LIST") as string)
        .split("\n")
        .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1], name: /\bname=(\S*)/.exec(line)?.[1] }))
        .filter((c) => c.name === name || c.name === `${name}:sub`);
    const killed = await ours();
    expect(killed.map((c) => c.name).sort()).toEqual([name, `${name}:sub`]);
    for (const c of killed) await admin.client("KILL", "ID", c.id!);

    // Commands issued right after the drop wait in the offline queue for the reconnect instead of failing.
    const key = `job-${uid()}`;
    const lease = await coord.acquire(key, 5000);
    expect(lease).not.toBeNull();
    expect(await coord.seenBefore(key, 5000)).toBe(false);
    expect(await coord.seenBefore(key, 5000)).toBe(true);
    await coord.ping();
    const reconnected = await ours();
    expect(reconnected).toHaveLength(2);
    expect(reconnected.some((c) => killed.some((k) => k.id === c.id))).toBe(false);

    // The subscriber resubscribes by itself; pub/sub is at-most-once, so publish until a message gets through.
    let n = 0;
    await waitFor(async () => {
      await coord.publish(channel, `after-${n++}`);
      return got.some((m) => m.startsWith("after-"));
    }, "delivery after resubscribe");
    expect(await lease!.release()).toBe(true);
    // One warning per dropped connection and one recovery line each, not a line per retry.
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(2);
    expect(log.lines.filter((l) => l.level === "info")).toHaveLength(2);
  });

  test("unreachable Redis: ping rejects quickly, rate limits degrade to per-process, close does not hang", async () => {
    const log = recordingLogger();
    const coord = createCoordination({ REDIS_URL: "redis://127.0.0.1:1", REDIS_KEY_PREFIX: PREFIX }, log.logger, { name: "nbtest-down" });
    try {
      const started = Date.now();
      await expect(coord.ping()).rejects.toThrow();
      await expect(coord.acquire(`job-${uid()}`, 1000)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(3000);

      const limiter = coord.rateLimiter("down", { points: 2, durationSec: 1 });
      const t0 = Date.now();
      expect((await limiter.consume("u")).allowed).toBe(true);
      expect((await limiter.consume("u")).allowed).toBe(true);
      const refused = await limiter.consume("u");
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(Date.now() - t0).toBeLessThan(200); // no per-call wait for the dead connection
      expect(log.lines).toEqual([{ level: "error", msg: expect.stringContaining("Redis") }]); // logged once, not per retry
    } finally {
      const t = Date.now();
      await coord.close();
      expect(Date.now() - t).toBeLessThan(3000);
    }
  });
});
