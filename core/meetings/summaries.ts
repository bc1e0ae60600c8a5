// Aggregated check-in acknowledgements: a bot that answers every 签到 gets its account restricted, so each group
// gets at most one summary per interval ("已签到 23/35（新增：张三、李四…）"). What still needs announcing is in
// the database (Attendance.ackedAt / repeatedAt), so a crash or a Redis restart delays a summary, never loses it;
// the per-group lease only spaces them out.
import type { AppContext } from "../context.ts";
import type { PrismaClient } from "../db/index.ts";
import { enqueue, PRIORITY, wakeSenders } from "../delivery/outbox.ts";
import { rosterAtWhere } from "../org/roster.ts";
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
  return (await flushSummaries(prisma, [{ meetingId, groupId }], cap)) > 0;
}

/** (meeting, group) pairs flushed in one transaction by the summary loop. */
const FLUSH_CHUNK = 50;

/**
 * flushSummary for several (meeting, group) pairs in one transaction, each pair announced exactly as on its own;
 * returns the number of summaries queued. A county-wide 签到 leaves some 250 groups to announce at once: one
 * transaction of ~9 statements per group cost ~20 ms of this process's CPU each (Prisma compiles every query), which
 * both slowed the burst being written and left the last group waiting a minute for its first summary.
 */
export async function flushSummaries(prisma: PrismaClient, pairs: { meetingId: number; groupId: number }[], cap: number): Promise<number> {
  if (pairs.length === 0) return 0;
  return prisma.$transaction(
    async (tx) => {
      // SKIP LOCKED: a second process flushing the same group takes nothing twice.
      const rows = await tx.$queryRawUnsafe<(PendingRow & { meetingId: number; groupId: number })[]>(
        `SELECT a.id, a."meetingId", a."groupId", a.status::text AS status, a."ackedAt" IS NULL AS fresh, a."memberId" IS NOT NULL AS linked,
                COALESCE(m.name, NULLIF(i."displayName", ''), '（无昵称）') AS name
           FROM "Attendance" a LEFT JOIN "Member" m ON m.id = a."memberId" LEFT JOIN "ChatIdentity" i ON i.id = a."identityId"
          WHERE (a."meetingId", a."groupId") IN (SELECT * FROM unnest($1::int[], $2::int[]))
            AND (a."ackedAt" IS NULL OR a."repeatedAt" IS NOT NULL)
          ORDER BY a."meetingId", a."groupId", a."recordedAt", a.id
          FOR UPDATE OF a SKIP LOCKED`,
        pairs.map((p) => p.meetingId),
        pairs.map((p) => p.groupId),
      );
      if (rows.length === 0) return 0;
      const byPair = new Map<string, { meetingId: number; groupId: number; rows: PendingRow[] }>();
      for (const r of rows) {
        const meetingId = Number(r.meetingId);
        const groupId = Number(r.groupId);
        const key = `${meetingId}:${groupId}`;
        const pair = byPair.get(key) ?? { meetingId, groupId, rows: [] };
        pair.rows.push(r);
        byPair.set(key, pair);
      }
      const flushed = [...byPair.values()];
      const meetingIds = [...new Set(flushed.map((f) => f.meetingId))];
      const groupIds = [...new Set(flushed.map((f) => f.groupId))];
      const [meetings, groups] = await Promise.all([
        tx.meeting.findMany({ where: { id: { in: meetingIds } }, include: { orgUnit: true } }),
        tx.chatGroup.findMany({ where: { id: { in: groupIds } }, select: { id: true, channel: true, active: true } }),
      ]);
      const meetingById = new Map(meetings.map((m) => [m.id, m]));
      const groupById = new Map(groups.map((g) => [g.id, g]));
      if (meetingById.size !== meetingIds.length || groupById.size !== groupIds.length) throw new Error("签到汇总：会议或群已不存在");
      // Present per meeting (one query for all of them) and each meeting's roster at its planned time (core/org/roster.ts).
      const [present, rosterCounts] = await Promise.all([
        tx.attendance.groupBy({
          by: ["meetingId"],
          where: { status: "PRESENT", OR: meetings.map((m) => ({ meetingId: m.id, member: rosterAtWhere(m.orgUnit, m.plannedAt) })) },
          _count: { _all: true },
        }),
        Promise.all(meetings.map((m) => tx.member.count({ where: rosterAtWhere(m.orgUnit, m.plannedAt) }))),
      ]);
      const presentBy = new Map(present.map((p) => [p.meetingId, p._count._all]));
      const rosterBy = new Map(meetings.map((m, i) => [m.id, rosterCounts[i]]));
      await tx.$executeRawUnsafe(`UPDATE "Attendance" SET "ackedAt" = ${NOW_UTC}, "repeatedAt" = NULL WHERE id = ANY($1::int[])`, rows.map((r) => Number(r.id)));
      let queued = 0;
      for (const { meetingId, groupId, rows: mine } of flushed) {
        const meeting = meetingById.get(meetingId)!;
        const group = groupById.get(groupId)!;
        const text = summaryText({
          present: presentBy.get(meetingId) ?? 0,
          roster: rosterBy.get(meetingId)!,
          fresh: mine.filter((r) => r.fresh),
          repeats: mine.filter((r) => !r.fresh),
          cap,
        });
        if (!text || !group.active || group.channel === "MINIPROGRAM") continue;
        const ids = mine.map((r) => Number(r.id));
        if (await enqueue(tx, { channel: group.channel, groupId, body: text, priority: PRIORITY.reply, idempotencyKey: `ack:${meetingId}:${groupId}:${ids[0]}:${ids.length}:${Date.now()}` })) queued++;
      }
      return queued;
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

  // Leases this process took and that are still running: no need to ask Redis again while every batch of a burst
  // pokes the loop (the answer would be no). Stamped before asking, so the entry never outlives the lease itself.
  const taken = new Map<string, number>();

  const mayFlush = async (key: string) => {
    const asked = Date.now();
    if (asked - (taken.get(key) ?? -Infinity) < intervalMs) return false;
    try {
      const lease = await app.coord.acquire(key, intervalMs);
      if (lease) taken.set(key, asked);
      return lease !== null;
    } catch {
      const last = localLast.get(key) ?? 0;
      if (Date.now() - last < intervalMs) return false;
      localLast.set(key, Date.now());
      return true;
    }
  };

  const tick = async () => {
    const pending = await pendingSummaries(app.db.prisma);
    if (stopped) return;
    for (const [key, at] of taken) if (Date.now() - at >= intervalMs) taken.delete(key);
    // Leases asked for all at once (one round trip's wait, not one per group), then the groups that got theirs are
    // flushed a chunk per transaction.
    const leased = await Promise.all(pending.map((p) => mayFlush(`checkin-summary:${p.meetingId}:${p.groupId}`)));
    const due = pending.filter((_, i) => leased[i]);
    let queued = 0;
    for (let i = 0; i < due.length; i += FLUSH_CHUNK) queued += await flushSummaries(app.db.prisma, due.slice(i, i + FLUSH_CHUNK), cap);
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
