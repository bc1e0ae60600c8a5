// Aggregated check-in acknowledgements: a bot that answers every 签到 gets its account restricted, so each group
// gets at most one summary per interval ("已签到 23/35（新增：张三、李四…）"). What still needs announcing is in
// the database (Attendance.ackedAt / repeatedAt), so a crash or a Redis restart delays a summary, never loses it;
// the per-group lease only spaces them out.
import type { AppContext } from "../context.ts";
import type { PrismaClient } from "../db/index.ts";
import { enqueue, PRIORITY, wakeSenders } from "../delivery/outbox.ts";
import { rosterWhere } from "../chat/binding.ts";
import { nameList, NOW_UTC } from "./attendance.ts";

interface PendingRow {
  id: number;
  status: string;
  fresh: boolean;
  linked: boolean;
  name: string;
}

/** Groups with check-ins not yet announced. */
export async function pendingSummaries(prisma: PrismaClient, limit = 500) {
  const rows = await prisma.$queryRawUnsafe<{ meetingId: number; groupId: number }[]>(
    `SELECT DISTINCT "meetingId", "groupId" FROM "Attendance"
      WHERE "groupId" IS NOT NULL AND ("ackedAt" IS NULL OR "repeatedAt" IS NOT NULL) LIMIT $1`,
    limit,
  );
  return rows.map((r) => ({ meetingId: Number(r.meetingId), groupId: Number(r.groupId) }));
}

/** The summary text; undefined when there is nothing to say. */
export function summaryText(input: { present: number; roster: number; fresh: PendingRow[]; repeats: PendingRow[]; cap: number }) {
  const linkedNew = input.fresh.filter((r) => r.linked && r.status === "PRESENT");
  const unlinkedNew = input.fresh.filter((r) => !r.linked && r.status === "PRESENT");
  const parts: string[] = [];
  if (linkedNew.length || unlinkedNew.length || input.repeats.length) {
    parts.push(`已签到 ${input.present}/${input.roster}${linkedNew.length ? `（新增：${nameList(linkedNew, input.cap)}）` : ""}`);
  }
  if (input.repeats.length) parts.push(`${nameList(input.repeats, input.cap)}已经签过到了，已计入，无需重复签到。`);
  if (unlinkedNew.length) parts.push(`${nameList(unlinkedNew, input.cap)}的签到已记录，但还没有登记党员身份：请发送“我是 姓名 手机后四位”，或请支部书记“登记”。`);
  return parts.length ? parts.join("\n") : undefined;
}

/** Announces and marks what is pending for one meeting in one group; returns whether a summary was queued. */
export async function flushSummary(prisma: PrismaClient, meetingId: number, groupId: number, cap: number): Promise<boolean> {
  return prisma.$transaction(
    async (tx) => {
      // SKIP LOCKED: a second process flushing the same group takes nothing twice.
      const rows = await tx.$queryRawUnsafe<PendingRow[]>(
        `SELECT a.id, a.status::text AS status, a."ackedAt" IS NULL AS fresh, a."memberId" IS NOT NULL AS linked,
                COALESCE(m.name, NULLIF(i."displayName", ''), '（无昵称）') AS name
           FROM "Attendance" a LEFT JOIN "Member" m ON m.id = a."memberId" LEFT JOIN "ChatIdentity" i ON i.id = a."identityId"
          WHERE a."meetingId" = $1 AND a."groupId" = $2 AND (a."ackedAt" IS NULL OR a."repeatedAt" IS NOT NULL)
          ORDER BY a."recordedAt", a.id
          FOR UPDATE OF a SKIP LOCKED`,
        meetingId,
        groupId,
      );
      if (rows.length === 0) return false;
      const meeting = await tx.meeting.findUniqueOrThrow({ where: { id: meetingId }, include: { orgUnit: true } });
      const group = await tx.chatGroup.findUniqueOrThrow({ where: { id: groupId }, select: { channel: true, active: true } });
      const roster = rosterWhere(meeting.orgUnit);
      const [present, rosterCount] = await Promise.all([
        tx.attendance.count({ where: { meetingId, status: "PRESENT", member: roster } }),
        tx.member.count({ where: roster }),
      ]);
      const text = summaryText({ present, roster: rosterCount, fresh: rows.filter((r) => r.fresh), repeats: rows.filter((r) => !r.fresh), cap });
      const ids = rows.map((r) => Number(r.id));
      await tx.$executeRawUnsafe(`UPDATE "Attendance" SET "ackedAt" = ${NOW_UTC}, "repeatedAt" = NULL WHERE id = ANY($1::int[])`, ids);
      if (!text || !group.active || group.channel === "MINIPROGRAM") return false;
      await enqueue(tx, { channel: group.channel, groupId, body: text, priority: PRIORITY.reply, idempotencyKey: `ack:${meetingId}:${groupId}:${ids[0]}:${ids.length}:${Date.now()}` });
      return true;
    },
    { timeout: 20_000 },
  );
}

export interface SummaryLoop {
  /** Look now (after a batch of check-ins committed) instead of at the next tick. */
  poke(): void;
  stop(): Promise<void>;
}

/**
 * Runs in every bot process. Each tick finds groups with unannounced check-ins and flushes those whose interval
 * lease it gets; without Redis it falls back to spacing them per process (a summary may then come twice as often).
 */
export function startSummaryLoop(app: AppContext, opts: { intervalSec?: number; cap?: number; tickMs?: number } = {}): SummaryLoop {
  const intervalMs = (opts.intervalSec ?? app.config.CHECKIN_ACK_INTERVAL_SEC) * 1000;
  const cap = opts.cap ?? app.config.CHECKIN_ACK_NAMES;
  const tickMs = opts.tickMs ?? 1000;
  const localLast = new Map<string, number>();
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const mayFlush = async (key: string) => {
    try {
      return (await app.coord.acquire(key, intervalMs)) !== null;
    } catch {
      const last = localLast.get(key) ?? 0;
      if (Date.now() - last < intervalMs) return false;
      localLast.set(key, Date.now());
      return true;
    }
  };

  const tick = async () => {
    const pending = await pendingSummaries(app.db.prisma);
    let queued = 0;
    for (const p of pending) {
      if (stopped) return;
      if (!(await mayFlush(`checkin-summary:${p.meetingId}:${p.groupId}`))) continue;
      if (await flushSummary(app.db.prisma, p.meetingId, p.groupId, cap)) queued++;
    }
    if (queued) await wakeSenders(app.coord);
  };

  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = tick()
      .catch((err) => app.log.warn({ err: (err as Error).message }, "签到汇总暂未发出，稍后重试"))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, tickMs);
  timer.unref();
  return {
    poke: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
