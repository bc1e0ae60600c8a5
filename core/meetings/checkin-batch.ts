// Write-behind for chat check-ins. When a notice goes out, a whole group answers 签到 within seconds; one
// transaction per message would queue them behind the connection pool. Instead check-ins wait a few milliseconds,
// then a batch is resolved (identities, groups, open meetings) in one statement and written in another. Nobody is
// told anything until the write has committed: the group summary reads the committed rows.
import type { AppContext } from "../context.ts";
import type { ChatMessage } from "../chat/message.ts";
import { identityScope } from "../chat/registry.ts";
import { enqueue, PRIORITY, wakeSenders } from "../delivery/outbox.ts";
import { withDbRetry } from "../db/retry.ts";
import { NOW_UTC, rawQuery, recordCheckins, type CheckinOutcome } from "./attendance.ts";
import { noOpenMeetingText } from "./meetings.ts";

const NOTE_MAX = 200;
/**
 * Two batches in flight, pipelined: the next batch's resolve statement runs while the previous batch's attendance is
 * written, so the database and this process overlap instead of taking turns (a county-wide burst: ~20 % less wall
 * time than one batch at a time). Each kind of statement still runs one batch at a time, in the order the batches
 * were cut (see inOrder): attendance rows commit in arrival order, a second 签到 in the next batch sees the first as
 * committed (and is announced as a repeat), and two writes can never wait on each other's rows (no deadlock). Only a
 * batch retried after a database outage queues again, behind the batches cut after it.
 */
const FLUSH_CONCURRENCY = 2;

interface Pending {
  m: ChatMessage;
  note: string | null;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Resolved {
  ord: number;
  identityId: number;
  memberId: number | null;
  groupId: number | null;
  orgUnitId: number | null;
  meetingId: number | null;
}

export interface CheckinBatcherOptions {
  accountId: number;
  channel: ChatMessage["channel"];
  /** Account name: the identity scope of WeChat contacts. */
  account: string;
  maxBatch?: number;
  waitMs?: number;
  /** A group we have never seen (no row yet) goes through the ordinary command path, which creates it. */
  fallback: (m: ChatMessage, note: string | null) => Promise<void>;
  /** Called after each committed batch (the summary loop looks at once). */
  onCommitted?: () => void;
  /** Batches in flight at once (default FLUSH_CONCURRENCY; 1 = strictly one after the other). */
  concurrency?: number;
}

export interface BatchResult {
  outcomes: Map<ChatMessage, CheckinOutcome | "no_meeting" | "unbound" | "fallback">;
}

export class CheckinBatcher {
  private queue: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private readonly flushing = new Set<Promise<void>>();
  private readonly maxBatch: number;
  private readonly waitMs: number;
  private readonly concurrency: number;
  /** The last statement of each kind queued by inOrder. */
  private readonly stageTail = { resolve: Promise.resolve(), record: Promise.resolve() };

  constructor(
    private readonly app: AppContext,
    private readonly opts: CheckinBatcherOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? app.config.CHECKIN_BATCH_MAX;
    this.waitMs = opts.waitMs ?? app.config.CHECKIN_BATCH_WAIT_MS;
    this.concurrency = opts.concurrency ?? FLUSH_CONCURRENCY;
  }

  /** Resolves once the check-in is committed (or explained, or handed to the ordinary path). */
  submit(m: ChatMessage, note: string | null): Promise<void> {
    if (m.conversation.kind !== "group") return Promise.reject(new Error("CheckinBatcher: group messages only"));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ m, note: note?.slice(0, NOTE_MAX) || null, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.waitMs);
    });
  }

  /** Writes whatever is queued now and waits for it. */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing.size) {
      this.kick();
      await Promise.all(this.flushing);
    }
  }

  private kick() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // At most `concurrency` batches in flight per account: the next one fills while these are written.
    if (this.flushing.size >= this.concurrency || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    const flushing: Promise<void> = this.flush(batch).finally(() => {
      this.flushing.delete(flushing);
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (this.queue.length) this.timer ??= setTimeout(() => this.kick(), this.waitMs);
    });
    this.flushing.add(flushing);
  }

  private async flush(batch: Pending[]) {
    try {
      // A Postgres restart during a burst: the batch waits and is written when it is back.
      const result = await withDbRetry(() => this.write(batch), { log: this.app.log, what: "写入签到" });
      this.opts.onCommitted?.();
      await Promise.all(
        batch.map(async (p) => {
          // No outcome (a row the statement did not return): never report a check-in nobody wrote; handle it alone.
          const outcome = result.outcomes.get(p.m);
          if (outcome === "fallback" || outcome === undefined) {
            await this.opts.fallback(p.m, p.note).then(p.resolve, p.reject);
          } else p.resolve();
        }),
      );
    } catch (e) {
      // Not a database outage (or one that lasted too long): try each on its own so one bad row cannot sink the rest.
      this.app.log.error({ err: (e as Error).message, size: batch.length }, "批量签到失败，逐条处理");
      await Promise.all(batch.map((p) => this.opts.fallback(p.m, p.note).then(p.resolve, p.reject)));
    }
  }

  /** Runs fn after the previous batch's statement of the same kind has settled. */
  private inOrder<T>(stage: "resolve" | "record", fn: () => Promise<T>): Promise<T> {
    const run = this.stageTail[stage].then(fn);
    this.stageTail[stage] = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async write(batch: Pending[]): Promise<BatchResult> {
    // Straight through the driver (same pool as Prisma): see rawQuery.
    const sql = this.app.db.sql;
    const now = Date.now();
    const resolved = await this.inOrder("resolve", () => rawQuery<Resolved>(
      sql,
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY AS t(gid, uid, name, at, ord)
       ),
       people AS (SELECT DISTINCT ON (uid) uid, name FROM input ORDER BY uid, ord DESC),
       -- A burst is mostly people we know: their row is rewritten only when the name changed or lastSeenAt is
       -- more than 10 minutes old (a county-wide 签到 would otherwise rewrite 25,000 identity rows).
       upserted AS (
         INSERT INTO "ChatIdentity" (channel, scope, "platformUserId", "displayName", "lastSeenAt")
         SELECT $5::"Channel", $6, uid, name, ${NOW_UTC} FROM people
         ON CONFLICT (channel, scope, "platformUserId") DO UPDATE SET "displayName" = EXCLUDED."displayName", "lastSeenAt" = EXCLUDED."lastSeenAt"
          WHERE "ChatIdentity"."displayName" IS DISTINCT FROM EXCLUDED."displayName"
             OR "ChatIdentity"."lastSeenAt" < EXCLUDED."lastSeenAt" - interval '10 minutes'
         RETURNING id, "platformUserId", "memberId"
       ),
       -- The rows left as they were. (One inserted by a concurrent transaction after this statement began is in
       -- neither set: its message gets no outcome and is handled on its own path, never dropped.)
       ident AS (
         SELECT * FROM upserted
         UNION ALL
         SELECT c.id, c."platformUserId", c."memberId" FROM "ChatIdentity" c JOIN people p ON p.uid = c."platformUserId"
          WHERE c.channel = $5::"Channel" AND c.scope = $6 AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u."platformUserId" = c."platformUserId")
       ),
       grp AS (
         SELECT id, "platformGroupId", "orgUnitId" FROM "ChatGroup" WHERE channel = $5::"Channel" AND "platformGroupId" IN (SELECT gid FROM input)
       ),
       membership AS (
         INSERT INTO "GroupMembership" ("groupId", "identityId")
         SELECT DISTINCT g.id, ident.id FROM input i JOIN ident ON ident."platformUserId" = i.uid JOIN grp g ON g."platformGroupId" = i.gid
         ON CONFLICT ("groupId", "identityId") DO UPDATE SET "leftAt" = NULL WHERE "GroupMembership"."leftAt" IS NOT NULL
       )
       -- Someone registered through another of our accounts (same platform id) is the same member.
       SELECT i.ord::int AS ord, ident.id AS "identityId",
              COALESCE(ident."memberId", (SELECT o."memberId" FROM "ChatIdentity" o
                                           WHERE o.channel = $5::"Channel" AND o."platformUserId" = i.uid AND o."memberId" IS NOT NULL
                                           ORDER BY o."linkedAt" DESC NULLS LAST LIMIT 1)) AS "memberId",
              g.id AS "groupId", g."orgUnitId", m.id AS "meetingId"
         FROM input i
         JOIN ident ON ident."platformUserId" = i.uid
         LEFT JOIN grp g ON g."platformGroupId" = i.gid
         LEFT JOIN LATERAL (
           SELECT m.id FROM "Meeting" m
            WHERE m."orgUnitId" = g."orgUnitId" AND m.status <> 'CANCELLED'
              AND i.at AT TIME ZONE 'UTC' BETWEEN m."checkinOpensAt" AND m."checkinClosesAt"
            ORDER BY abs(extract(epoch FROM m."plannedAt" - i.at AT TIME ZONE 'UTC')), m.id LIMIT 1
         ) m ON true
        ORDER BY i.ord`,
      [
        batch.map((p) => (p.m.conversation as { groupId: string }).groupId),
        batch.map((p) => p.m.sender.platformUserId),
        batch.map((p) => p.m.sender.displayName),
        // The platform's time (a check-in sent at 19:59 counts even if Postgres was down until 20:05), never the future.
        batch.map((p) => new Date(Math.min(p.m.at.getTime(), now)).toISOString()),
        this.opts.channel,
        identityScope({ channel: this.opts.channel, account: this.opts.account }),
      ],
    ));
    const outcomes: BatchResult["outcomes"] = new Map();
    const toRecord: { p: Pending; r: Resolved }[] = [];
    const explain = new Map<number, { unitId: number | null; people: Pending[] }>();
    for (const r of resolved) {
      const p = batch[Number(r.ord) - 1];
      if (r.groupId == null) outcomes.set(p.m, "fallback");
      else if (r.meetingId == null) {
        outcomes.set(p.m, r.orgUnitId == null ? "unbound" : "no_meeting");
        const e = explain.get(r.groupId) ?? { unitId: r.orgUnitId, people: [] };
        e.people.push(p);
        explain.set(r.groupId, e);
      } else toRecord.push({ p, r });
    }
    const written = await this.inOrder("record", () => recordCheckins(
      sql,
      toRecord.map(({ p, r }) => ({
        meetingId: r.meetingId!,
        memberId: r.memberId,
        identityId: r.identityId,
        groupId: r.groupId,
        source: this.opts.channel,
        note: p.note,
        at: new Date(Math.min(p.m.at.getTime(), now)),
      })),
    ));
    toRecord.forEach(({ p }, i) => outcomes.set(p.m, written[i]));
    if (explain.size) await this.explain(explain);
    const repeats = toRecord.filter(({ r }, i) => written[i] === "repeat" && r.memberId != null);
    if (repeats.length) await this.repeatsFromElsewhere(repeats);
    return { outcomes };
  }

  /**
   * A member already counted through another group (their WeChat group, then the branch's QQ group) or the
   * mini-program: the summary of the group they were counted in says nothing here, so this group is told once.
   */
  private async repeatsFromElsewhere(items: { p: Pending; r: Resolved }[]) {
    const prisma = this.app.db.prisma;
    const rows = await prisma.attendance.findMany({
      where: { OR: items.map(({ r }) => ({ meetingId: r.meetingId!, memberId: r.memberId! })) },
      select: { meetingId: true, memberId: true, groupId: true, member: { select: { name: true } } },
    });
    const byGroup = new Map<number, { names: string[]; first: ChatMessage }>();
    for (const { p, r } of items) {
      const a = rows.find((x) => x.meetingId === r.meetingId && x.memberId === r.memberId);
      if (!a || a.groupId === r.groupId) continue; // counted in this group: its summary says so
      const g = byGroup.get(r.groupId!) ?? { names: [], first: p.m };
      if (a.member && !g.names.includes(a.member.name)) g.names.push(a.member.name);
      byGroup.set(r.groupId!, g);
    }
    let queued = false;
    for (const [groupId, { names, first }] of byGroup) {
      if (!names.length) continue;
      queued =
        (await enqueue(prisma, {
          channel: this.opts.channel,
          accountId: this.opts.accountId,
          groupId,
          body: `${names.join("、")}已经签过到了，已计入，无需重复签到。`,
          priority: PRIORITY.reply,
          idempotencyKey: `checkin-elsewhere:${groupId}:${first.platformMessageId ?? `${first.sender.platformUserId}:${first.at.getTime()}`}`,
        })) || queued;
    }
    if (queued) await wakeSenders(this.app.coord, this.opts.accountId);
  }

  /** Check-ins that could not count: one short explanation per group per interval, however many people tried. */
  private async explain(groups: Map<number, { unitId: number | null; people: Pending[] }>) {
    const prisma = this.app.db.prisma;
    const intervalMs = this.app.config.CHECKIN_ACK_INTERVAL_SEC * 1000;
    let queued = false;
    for (const [groupId, { unitId, people }] of groups) {
      const lease = await this.app.coord.acquire(`checkin-explain:${groupId}`, intervalMs).catch(() => "no-redis" as const);
      if (lease === null) continue;
      const text = unitId == null ? "本群还没有绑定支部，暂时不能签到。请支部书记在群里发送“绑定支部 支部编码”。" : await noOpenMeetingText(prisma, unitId);
      const first = people[0].m;
      const mentions = [...new Set(people.map((p) => p.m.sender.platformUserId))].slice(0, 10);
      queued =
        (await enqueue(prisma, {
          channel: this.opts.channel,
          accountId: this.opts.accountId,
          groupId,
          body: text,
          mentions,
          priority: PRIORITY.reply,
          idempotencyKey: `checkin-explain:${groupId}:${first.platformMessageId ?? `${first.sender.platformUserId}:${first.at.getTime()}`}`,
        })) || queued;
    }
    if (queued) await wakeSenders(this.app.coord, this.opts.accountId);
  }
}
