// A jobs process that runs one calendar tick and exits, started as its own OS process by test/calendar-jobs.test.ts
// so it can be killed with SIGKILL mid-sweep. Env: DATABASE_URL, CALENDAR_NOW (ISO instant), CALENDAR_BATCH.
import { loadConfig } from "../../core/config.ts";
import { openDatabase } from "../../core/db/index.ts";
import { runCalendarReminders } from "../../core/calendar/reminders.ts";

const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: "silent" });
const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: "memory://", retries: 0 });
const run = await runCalendarReminders(db.prisma, config, new Date(process.env.CALENDAR_NOW!), { batchSize: Number(process.env.CALENDAR_BATCH ?? 500) });
process.stdout.write(`${JSON.stringify({ sent: run.sent, skipped: run.skipped, deliveries: run.deliveries })}\n`);
await db.close();
