// The scheduler runs in Asia/Shanghai and each fire happens once, even with several jobs processes.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { runOnce } from "../jobs/run-once.ts";
import { startJobs } from "../jobs/index.ts";
import { createCoordination } from "../core/coord/index.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";

let ctx: TestContext;
beforeAll(async () => {
  // A heartbeat every second (node-cron accepts a seconds field) so the test sees fires quickly.
  ctx = await createTestContext("jobs", { env: { JOBS_HEARTBEAT_CRON: "* * * * * *" } });
});
afterAll(async () => ctx?.close());

describe("runOnce", () => {
  test("the same slot runs once however many callers race for it; a failure is recorded", async () => {
    const slot = new Date("2026-11-25T01:00:00.000Z");
    let runs = 0;
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        runOnce(ctx, "race", slot, async () => {
          runs++;
          return { ok: true };
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(outcomes.filter((o) => o === "ran")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already-ran")).toHaveLength(7);

    const failed = await runOnce(ctx, "broken", slot, async () => {
      throw new Error("boom");
    });
    expect(failed).toBe("failed");
    const row = await ctx.db.prisma.jobRun.findUniqueOrThrow({ where: { job_fireAt: { job: "broken", fireAt: slot } } });
    expect(row).toMatchObject({ status: "FAILED", error: "boom" });
  });
});

describe("heartbeat", () => {
  test("two jobs processes sharing Postgres and Redis record each fire exactly once", async () => {
    // A second "process": its own coordination client on the same Redis prefix and the same database.
    const coord2 = createCoordination(ctx.config, ctx.log, { name: "nbtest:jobs2" });
    const a = await startJobs(ctx);
    const b = await startJobs({ ...ctx, coord: coord2 });
    try {
      await eventually(async () => {
        expect(await ctx.db.prisma.jobRun.count({ where: { job: "heartbeat", status: "DONE" } })).toBeGreaterThanOrEqual(3);
      }, 10_000);
    } finally {
      await a.stop();
      await b.stop();
      await coord2.close();
    }
    const runs = await ctx.db.prisma.jobRun.findMany({ where: { job: "heartbeat" }, orderBy: { fireAt: "asc" } });
    const slots = runs.map((r) => r.fireAt.getTime());
    expect(new Set(slots).size).toBe(slots.length);
    for (const r of runs) expect(r.fireAt.getMilliseconds()).toBe(0);
    expect(runs[0].result).toMatchObject({ coordination: "redis", database: "postgres" });
  });

  test("schedules are set in Asia/Shanghai", async () => {
    const handle = await startJobs({ ...ctx, config: { ...ctx.config, JOBS_HEARTBEAT_CRON: "0 9 * * *" } });
    try {
      const next = handle.tasks[0].getNextRun()!;
      // 09:00 in Shanghai is 01:00 UTC, whatever the machine's own time zone.
      expect(next.getUTCHours()).toBe(1);
      expect(next.getUTCMinutes()).toBe(0);
    } finally {
      await handle.stop();
    }
  });
});
