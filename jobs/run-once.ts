// One fire of a scheduled job, once: the JobRun row's unique (job, fireAt) key is claimed before any work, so a
// second process, a retried tick or a catch-up after downtime cannot run the same slot twice.
import type { AppContext } from "../core/context.ts";

export type JobOutcome = "ran" | "already-ran" | "failed";

export async function runOnce(
  ctx: AppContext,
  job: string,
  fireAt: Date,
  fn: () => Promise<Record<string, unknown> | void>,
): Promise<JobOutcome> {
  const { prisma } = ctx.db;
  const slot = new Date(Math.floor(fireAt.getTime() / 1000) * 1000);
  const { count } = await prisma.jobRun.createMany({
    data: [{ job, fireAt: slot, status: "RUNNING", runner: `${process.pid}` }],
    skipDuplicates: true,
  });
  if (count === 0) return "already-ran";
  try {
    const result = (await fn()) ?? {};
    await prisma.jobRun.update({
      where: { job_fireAt: { job, fireAt: slot } },
      data: { status: "DONE", finishedAt: new Date(), result: result as object },
    });
    return "ran";
  } catch (e) {
    ctx.log.error({ job, fireAt: slot.toISOString(), err: (e as Error).message }, "定时任务执行失败");
    await prisma.jobRun
      .update({ where: { job_fireAt: { job, fireAt: slot } }, data: { status: "FAILED", finishedAt: new Date(), error: String((e as Error).message).slice(0, 1000) } })
      .catch(() => undefined);
    return "failed";
  }
}
