// The transactional outbox: everything the system says is a Delivery row, written in the same transaction as the
// change that caused it. A crash after the write loses nothing: the sender claims unsent rows again.
import type { PrismaClient, Prisma, Delivery } from "../db/index.ts";
import type { Coordination } from "../coord/types.ts";
import type { BroadcastAttachment } from "../broadcasts/attachments.ts";

type Tx = Pick<PrismaClient, "delivery"> | Prisma.TransactionClient;

/** Lower is sooner. Replies to a person must not wait behind a county broadcast. */
export const PRIORITY = { reply: 0, notice: 5, bulk: 9 } as const;

export const WAKE_CHANNEL = "delivery:wake";

export interface EnqueueInput {
  channel: "WECHAT" | "QQ";
  accountId?: number | null;
  groupId?: number | null;
  identityId?: number | null;
  body: string;
  /** Platform user ids to @-mention (group deliveries). */
  mentions?: string[];
  priority?: number;
  /** One delivery per key, ever: a retried command or job run cannot send twice. */
  idempotencyKey: string;
  notBefore?: Date;
  broadcastId?: number;
}

/** Inserts the delivery unless one with the same idempotency key exists; returns whether it was new. */
export async function enqueue(tx: Tx, input: EnqueueInput): Promise<boolean> {
  if ((input.groupId == null) === (input.identityId == null)) throw new Error("enqueue: exactly one of groupId / identityId");
  const { count } = await tx.delivery.createMany({
    data: [
      {
        channel: input.channel,
        accountId: input.accountId ?? null,
        groupId: input.groupId ?? null,
        identityId: input.identityId ?? null,
        body: input.body,
        payload: input.mentions?.length ? { mentions: input.mentions } : undefined,
        priority: input.priority ?? PRIORITY.notice,
        idempotencyKey: input.idempotencyKey,
        nextAttemptAt: input.notBefore ?? new Date(),
        broadcastId: input.broadcastId ?? null,
      },
    ],
    skipDuplicates: true,
  });
  return count === 1;
}

/** Tells senders in every process to look now instead of at their next poll (best effort: polling is the backstop). */
export async function wakeSenders(coord: Coordination, accountId?: number | null) {
  await coord.publish(WAKE_CHANNEL, String(accountId ?? "*")).catch(() => undefined);
}

export interface ClaimedDelivery {
  id: bigint;
  channel: string;
  groupId: number | null;
  identityId: number | null;
  body: string;
  /** partsSent: text parts (then the attachment, as the last part) already out, so a retry resumes after them. */
  payload: { mentions?: string[]; partsSent?: number; attachment?: BroadcastAttachment } | null;
  attempts: number;
  maxAttempts: number;
  platformGroupId: string | null;
  platformUserId: string | null;
}

/**
 * Claims due rows this account can send: its own, or unassigned rows for groups it reaches (failover).
 * FOR UPDATE SKIP LOCKED lets several workers claim concurrently without taking the same row; the lease
 * (lockedUntil) returns a row to the queue if its worker dies mid-send.
 */
export async function claimDue(prisma: PrismaClient, accountId: number, worker: string, limit: number, leaseMs = 60_000) {
  return prisma.$queryRawUnsafe<ClaimedDelivery[]>(
    `WITH due AS (
       SELECT d.id FROM "Delivery" d
        WHERE (d.status = 'QUEUED' OR (d.status = 'SENDING' AND d."lockedUntil" < now()))
          AND d."nextAttemptAt" <= now()
          -- A WeChat account never takes a QQ member's private message, nor the other way round.
          AND d.channel = (SELECT b.channel FROM "BotAccount" b WHERE b.id = $1)
          AND (d."accountId" = $1 OR (d."accountId" IS NULL AND (
                d."identityId" IS NOT NULL OR EXISTS (
                  SELECT 1 FROM "GroupAccount" ga WHERE ga."groupId" = d."groupId" AND ga."accountId" = $1 AND ga.active))))
          -- A paused or cancelled county broadcast holds its rows (see core/broadcasts).
          AND (d."broadcastId" IS NULL OR NOT EXISTS (
                SELECT 1 FROM "Broadcast" bc WHERE bc.id = d."broadcastId" AND bc.status IN ('PAUSED', 'CANCELLED')))
        ORDER BY d.priority, d."nextAttemptAt", d.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED)
     UPDATE "Delivery" x SET status = 'SENDING', "lockedBy" = $2, "lockedUntil" = now() + ($4 || ' milliseconds')::interval,
            attempts = x.attempts + 1, "updatedAt" = now()
       FROM due
      WHERE x.id = due.id
      RETURNING x.id, x.channel::text AS channel, x."groupId", x."identityId", x.body, x.payload, x.attempts, x."maxAttempts",
                (SELECT g."platformGroupId" FROM "ChatGroup" g WHERE g.id = x."groupId") AS "platformGroupId",
                (SELECT i."platformUserId" FROM "ChatIdentity" i WHERE i.id = x."identityId") AS "platformUserId"`,
    accountId,
    worker,
    limit,
    String(leaseMs),
  );
}

/** Progress within a multi-part delivery, so a retry after a crash resumes instead of repeating parts. */
export async function markPartsSent(prisma: PrismaClient, d: Pick<ClaimedDelivery, "id" | "payload">, partsSent: number) {
  await prisma.delivery.update({ where: { id: d.id }, data: { payload: { ...(d.payload ?? {}), partsSent } } });
}

export async function markSent(prisma: PrismaClient, id: bigint, accountId: number, platformMessageId?: string) {
  await prisma.delivery.update({
    where: { id },
    data: { status: "SENT", sentAt: new Date(), accountId, platformMessageId, lockedBy: null, lockedUntil: null, error: null, errorClass: null },
  });
}

/** Failed attempt: back off exponentially, or give up after maxAttempts / a permanent failure. */
export async function markFailed(
  prisma: PrismaClient,
  d: Pick<ClaimedDelivery, "id" | "attempts" | "maxAttempts">,
  errorClass: string,
  error: string,
  opts: { permanent?: boolean; retryAfterMs?: number; countAttempt?: boolean } = {},
) {
  const giveUp = opts.permanent || d.attempts >= d.maxAttempts;
  const backoff = opts.retryAfterMs ?? Math.min(5_000 * 2 ** (d.attempts - 1), 15 * 60_000);
  await prisma.delivery.update({
    where: { id: d.id },
    data: {
      status: giveUp ? "FAILED" : "QUEUED",
      errorClass,
      error: error.slice(0, 500),
      lockedBy: null,
      lockedUntil: null,
      // Waiting for an account or a rate window is not the message's fault: don't spend its attempts.
      ...(opts.countAttempt === false ? { attempts: { decrement: 1 } } : {}),
      nextAttemptAt: new Date(Date.now() + backoff),
    },
  });
}

/**
 * The account's send budget is spent: the row goes back to the queue without spending an attempt. An unassigned
 * group row that another online account also reaches is due again now (that account sends it if it has budget);
 * otherwise it waits for this account's window (`retryAfterMs`).
 */
export async function deferForBudget(prisma: PrismaClient, d: Pick<ClaimedDelivery, "id">, accountId: number, retryAfterMs: number) {
  await prisma.$executeRawUnsafe(
    `UPDATE "Delivery" d SET status = 'QUEUED', "errorClass" = 'budget', error = '账号发送额度已用完，稍后发送', "lockedBy" = NULL,
            "lockedUntil" = NULL, attempts = GREATEST(d.attempts - 1, 0), "updatedAt" = now(),
            "nextAttemptAt" = CASE WHEN d."accountId" IS NULL AND d."groupId" IS NOT NULL AND EXISTS (
                SELECT 1 FROM "GroupAccount" ga JOIN "BotAccount" b ON b.id = ga."accountId"
                 WHERE ga."groupId" = d."groupId" AND ga."accountId" <> $2 AND ga.active AND b.status = 'ONLINE')
              THEN now() ELSE now() + ($3 || ' milliseconds')::interval END
      WHERE d.id = $1`,
    d.id,
    accountId,
    String(Math.max(0, Math.round(retryAfterMs))),
  );
}

export type { Delivery };

/**
 * Failover: hands this account's queued group deliveries back to the pool when another online account reaches the
 * same group. Private messages stay: a WeChat contact id is only valid for the account that saw it.
 * A delivery this account put off for its own reasons (risk-control cooldown, offline, spent budget) is due at once
 * for the other account, in its original place (by creation time, not behind what was queued while it waited); a
 * later start the delivery itself asked for (notBefore, transient backoff) is kept.
 */
export async function releaseToOtherAccounts(prisma: PrismaClient, accountId: number): Promise<number> {
  return prisma.$executeRawUnsafe(
    `UPDATE "Delivery" d SET "accountId" = NULL, "updatedAt" = now(),
            "nextAttemptAt" = CASE WHEN d."errorClass" IN ('rate_limited', 'offline', 'budget') THEN LEAST(d."nextAttemptAt", d."createdAt")
                                   ELSE d."nextAttemptAt" END
      WHERE d."accountId" = $1 AND d.status = 'QUEUED' AND d."groupId" IS NOT NULL
        AND EXISTS (SELECT 1 FROM "GroupAccount" ga JOIN "BotAccount" b ON b.id = ga."accountId"
                     WHERE ga."groupId" = d."groupId" AND ga."accountId" <> $1 AND ga.active AND b.status = 'ONLINE')`,
    accountId,
  );
}

/**
 * Rows a previous process of this account left SENDING (killed or crashed mid-send) go back to the queue at once
 * instead of after their lease. Safe because one bot process serves one account: a worker of this account that is
 * not us is gone. A message that was sent just before the crash may go out once more (at most one per crash: a
 * worker holds one row at a time, and multi-part progress is saved part by part).
 */
export async function reclaimAccountLeases(prisma: PrismaClient, accountName: string, worker: string): Promise<number> {
  return prisma.$executeRawUnsafe(
    `UPDATE "Delivery" SET status = 'QUEUED', "lockedBy" = NULL, "lockedUntil" = NULL, "updatedAt" = now()
      WHERE status = 'SENDING' AND split_part("lockedBy", ':', 1) = $1 AND "lockedBy" <> $2`,
    accountName,
    worker,
  );
}
