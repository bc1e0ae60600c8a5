// The jobs role: node-cron schedules, always in Asia/Shanghai (the county's clock, whatever the server's TZ).
import cron, { type ScheduledTask } from "node-cron";
import type { AppContext } from "../core/context.ts";
import { cronRunCoordinator } from "../core/coord/cron-coordinator.ts";
import { runOnce, type JobOutcome } from "./run-once.ts";
import { finalizeClosedMeetings } from "../core/meetings/finalize.ts";
import { wakeSenders } from "../core/delivery/outbox.ts";
import { runComplaintEscalation } from "../core/complaints/escalation.ts";
import { runCalendarReminders } from "../core/calendar/reminders.ts";
import { sendDueReports } from "../core/calendar/reports.ts";
import { runDueBroadcasts } from "../core/broadcasts/broadcasts.ts";

export const TIMEZONE = "Asia/Shanghai";

export interface JobsHandle {
  tasks: ScheduledTask[];
  /** The calendar tick run at start (catch-up after downtime); settles with its JobRun outcome. */
  startup: Promise<JobOutcome>;
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

  // County broadcasts approved for a set time: fanned out when it comes (claimed by a status change, so a second
  // process or a retried minute starts each once; a missed minute is caught up by the next tick).
  schedule("broadcasts", ctx.config.BROADCAST_TICK_CRON, async (fireAt) => {
    const run = await runDueBroadcasts(ctx.db.prisma, new Date(Math.max(Date.now(), fireAt.getTime())));
    if (run.started.length) await wakeSenders(ctx.coord);
    return { ...run };
  });

  // 三会一课 calendar: meeting reminders, due reminders, overdue alerts, 主题党日 reminders, then the 月报告/季通报.
  // Level-triggered: each tick sends what fell due and was not yet noted (one CalendarNote key each), so a missed
  // minute, a crash or a second process cannot lose or double one. One tick also runs at start: the catch-up after
  // downtime (within CALENDAR_CATCHUP_HOURS sent, older recorded as skipped). In this process a tick never overlaps
  // the previous one (a sweep over every branch may outlast a minute); other processes are safe through the keys.
  let calendarRun: Promise<Record<string, unknown>> | null = null;
  // Until one catch-up tick has succeeded (the start-up one, or a later one if the database was away at start), each
  // tick also records the reminders of meetings that started during the downtime as skipped.
  let caughtUp = false;
  const calendarTick = async (now: Date, catchUp: boolean): Promise<Record<string, unknown>> => {
    if (calendarRun) return { busy: true };
    calendarRun = (async () => {
      const errors: Error[] = [];
      const reminders = await runCalendarReminders(ctx.db.prisma, ctx.config, now, { catchUp }).catch((e: Error) => void errors.push(e));
      const reports = await sendDueReports(ctx.db.prisma, ctx.config, now).catch((e: Error) => void errors.push(e));
      if ((reminders?.deliveries ?? 0) + (reports?.sent ?? 0) > 0) await wakeSenders(ctx.coord);
      if (errors.length) throw errors[0];
      if (catchUp) caughtUp = true;
      return { catchUp, reminders: reminders && { sent: reminders.sent, skipped: reminders.skipped, deliveries: reminders.deliveries, sweeps: reminders.sweeps }, reports };
    })();
    try {
      return await calendarRun;
    } finally {
      calendarRun = null;
    }
  };
  schedule("calendar", ctx.config.CALENDAR_TICK_CRON, (fireAt) => calendarTick(new Date(Math.max(Date.now(), fireAt.getTime())), !caughtUp));
  const startAt = new Date();
  const startup = runOnce(ctx, "calendar", startAt, () => calendarTick(startAt, true)).catch((e: Error): JobOutcome => {
    // The database is not there yet (runOnce could not even record the fire): the scheduled ticks catch up instead.
    ctx.log.error({ err: e.message }, "启动时的三会一课补发未能执行");
    return "failed";
  });

  ctx.log.info({ timezone: TIMEZONE, tasks: tasks.map((t) => t.name) }, "定时任务已启动");
  return {
    tasks,
    startup,
    async stop() {
      for (const t of tasks) await t.destroy();
      await startup;
      await calendarRun?.catch(() => undefined);
    },
  };
}
