// The jobs role: node-cron schedules, always in Asia/Shanghai (the county's clock, whatever the server's TZ).
import cron, { type ScheduledTask } from "node-cron";
import type { AppContext } from "../core/context.ts";
import { cronRunCoordinator } from "../core/coord/cron-coordinator.ts";
import { runOnce } from "./run-once.ts";
import { finalizeClosedMeetings } from "../core/meetings/finalize.ts";
import { wakeSenders } from "../core/delivery/outbox.ts";
import { runComplaintEscalation } from "../core/complaints/escalation.ts";

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

  // Closed check-in windows: the meeting record is fixed and the organisers get the final attendance privately.
  // Level-triggered (each meeting is claimed by its finalizedAt), so a missed minute is caught up by the next.
  schedule("meeting-finalize", ctx.config.MEETING_FINALIZE_CRON, async (fireAt) => {
    const finalized = await finalizeClosedMeetings(ctx.db.prisma, new Date(Math.max(Date.now(), fireAt.getTime())));
    if (finalized) await wakeSenders(ctx.coord);
    return { finalized };
  });

  // Complaints: unclaimed past the response limit → reminder to the unit; overdue → town, then county; resolved and
  // unrated for long → closed. Level-triggered and compare-and-set per ticket, so a second process changes nothing.
  schedule("complaint-escalation", ctx.config.COMPLAINT_ESCALATION_CRON, async (fireAt) => {
    const run = await runComplaintEscalation(ctx.db.prisma, ctx.config, new Date(Math.max(Date.now(), fireAt.getTime())));
    if (run.reminded + run.escalated + run.closed) await wakeSenders(ctx.coord);
    return { ...run };
  });

  ctx.log.info({ timezone: TIMEZONE, tasks: tasks.map((t) => t.name) }, "定时任务已启动");
  return {
    tasks,
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}
