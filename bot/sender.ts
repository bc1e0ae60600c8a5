// The per-account sender: claims due deliveries from the outbox and sends them through the adapter, paced under the
// account's rate limit with random jitter (WeChat/QQ risk control), recording sent/failed with retries and backoff.
import { randomUUID } from "node:crypto";
import type { AppContext } from "../core/context.ts";
import { claimDue, markFailed, markSent, WAKE_CHANNEL, type ClaimedDelivery } from "../core/delivery/outbox.ts";
import type { ChatAdapter } from "./adapters/types.ts";
import { SendError } from "./adapters/types.ts";

export interface Sender {
  /** Resolves once the loop has stopped (the delivery in flight, if any, is finished first). */
  stop(): Promise<void>;
  /** Look for work now. */
  wake(): void;
}

const RATE_LIMITED_COOLDOWN_MS = 5 * 60_000;

export async function startSender(ctx: AppContext, adapter: ChatAdapter, account: { id: number; name: string; sendsPerMinute: number }): Promise<Sender> {
  const { config, db, coord, log } = ctx;
  const worker = `${account.name}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const limiter = coord.rateLimiter(`send:${account.name}:${account.sendsPerMinute}`, { points: account.sendsPerMinute, durationSec: 60 });
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pausedUntil = 0;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  const unsubscribe = await coord.subscribe(WAKE_CHANNEL, (msg) => {
    if (msg === "*" || msg === String(account.id)) wakeUp?.();
  });

  async function sendOne(d: ClaimedDelivery) {
    const verdict = await limiter.consume(account.name);
    if (!verdict.allowed) {
      await markFailed(db.prisma, d, "rate_limited", "账号发送额度已用完，稍后发送", { retryAfterMs: verdict.retryAfterMs, countAttempt: false });
      return verdict.retryAfterMs;
    }
    const target = d.groupId != null ? { kind: "group" as const, groupId: d.platformGroupId! } : { kind: "private" as const, userId: d.platformUserId! };
    try {
      const res = await adapter.send(target, d.body);
      await markSent(db.prisma, d.id, account.id, res.platformMessageId);
      return 0;
    } catch (e) {
      const err = e instanceof SendError ? e : new SendError("transient", String((e as Error)?.message ?? e));
      log.warn({ delivery: String(d.id), failure: err.failure, err: err.message }, "消息发送失败");
      switch (err.failure) {
        case "offline":
          await markFailed(db.prisma, d, "offline", err.message, { retryAfterMs: 5_000, countAttempt: false });
          return 5_000;
        case "rate_limited":
          await markFailed(db.prisma, d, "rate_limited", err.message, { retryAfterMs: RATE_LIMITED_COOLDOWN_MS, countAttempt: false });
          return RATE_LIMITED_COOLDOWN_MS;
        case "not_found":
        case "permanent":
          await markFailed(db.prisma, d, err.failure, err.message, { permanent: true });
          return 0;
        default:
          await markFailed(db.prisma, d, "transient", err.message);
          return 0;
      }
    }
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        if (Date.now() < pausedUntil || !adapter.isOnline()) {
          await sleep(Math.max(config.SENDER_POLL_MS, pausedUntil - Date.now()));
          continue;
        }
        const batch = await claimDue(db.prisma, account.id, worker, 1);
        if (batch.length === 0) {
          await sleep(config.SENDER_POLL_MS);
          continue;
        }
        const pause = await sendOne(batch[0]);
        if (pause > 0) pausedUntil = Date.now() + pause;
        const gap = config.SENDER_MIN_GAP_MS + Math.floor(Math.random() * (config.SENDER_JITTER_MS + 1));
        if (gap > 0 && !stopped) await new Promise((r) => setTimeout(r, gap));
      } catch (e) {
        // Database briefly down: the claimed row's lease expires and it is claimed again later.
        log.warn({ err: (e as Error).message }, "发送队列暂时不可用，稍后重试");
        await sleep(Math.max(config.SENDER_POLL_MS, 2_000));
      }
    }
  })();

  return {
    wake: () => wakeUp?.(),
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
      await unsubscribe().catch(() => undefined);
    },
  };
}
