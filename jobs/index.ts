// The jobs role: node-cron schedules, always in Asia/Shanghai (the county's clock, whatever the server's TZ).
import cron, { type ScheduledTask } from "node-cron";
import type { AppContext } from "../core/context.ts";
import { cronRunCoordinator } from "../core/coord/cron-coordinator.ts";
import { runOnce } from "./run-once.ts";

export const TIMEZONE = "Asia/Shanghai";

export interface JobsHandle {
  tasks: ScheduledTask[];
  stop(): Promise<void>;
}

export async function startJobs(ctx: AppContext): Promise<JobsHandle> {
  const coordinator = cronRunCoordinator(ctx.coord);
  const tasks: ScheduledTask[] = [];
  const schedule = (name: string, expr: string, fn: (fireAt: Date) => Promise<Record<string, unknown> | void>) => {
    const task = cron.schedule(expr, ({ date }) => runOnce(ctx, name, date, () => fn(date)), {
      name,
      timezone: TIMEZONE,
      distributed: true,
      runCoordinator: coordinator,
      noOverlap: true,
    });
    tasks.push(task);
  };

  // Proves the scheduler runs in this deployment: one JobRun row per fire, visible to operators.
  schedule("heartbeat", ctx.config.JOBS_HEARTBEAT_CRON, async (fireAt) => {
    ctx.log.debug({ fireAt }, "jobs heartbeat");
    return { pid: process.pid, coordination: ctx.coord.kind, database: ctx.db.kind };
  });

  ctx.log.info({ timezone: TIMEZONE, tasks: tasks.map((t) => t.name) }, "定时任务已启动");
  return {
    tasks,
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}
