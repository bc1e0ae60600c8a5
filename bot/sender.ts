// The per-account sender: claims due deliveries from the outbox and sends them through the adapter, paced under the
// account's budgets (per minute, per hour, with random jitter: WeChat/QQ risk control), recording sent/failed.
//
// Failure classes: transient → retry with exponential backoff; rate_limited (risk control) → the whole account
// cools down, its group deliveries fail over to other accounts; offline → hold, alert, fail over; not_found /
// permanent (bot removed from the group) → failed and recorded, unless another account still reaches the group;
// unsupported (a file through an adapter without sendFile) → failed for good, nothing of it sent.
//
// A delivery may carry an attachment (a county broadcast's picture or document, by its BlobStore location): it goes
// after the text, as one more part, so a retry after a crash or a failed attempt resumes with what is left.
import { randomUUID } from "node:crypto";
import type { AppContext } from "../core/context.ts";
import type { BotAccount } from "../core/db/index.ts";
import {
  claimDue,
  markFailed,
  markPartsSent,
  markSent,
  reclaimAccountLeases,
  releaseToOtherAccounts,
  deferForBudget,
  WAKE_CHANNEL,
  type ClaimedDelivery,
} from "../core/delivery/outbox.ts";
import { outboundParts } from "../core/chat/split.ts";
import type { ChatAdapter, OutgoingFile } from "./adapters/types.ts";
import { SendError } from "./adapters/types.ts";
import { createBlobStore, type BlobStore } from "../core/storage/index.ts";
import type { BroadcastAttachment } from "../core/broadcasts/attachments.ts";

export interface Sender {
  /** Resolves once the loop has stopped (the delivery in flight, if any, is finished first). */
  stop(): Promise<void>;
  /** Look for work now. */
  wake(): void;
}

const ACCOUNT_REFRESH_MS = 5_000;
const ALERT_QUIET_MS = 30 * 60_000;

export interface SenderOptions {
  /** Where attachments are read from (default: the store the configuration names, created on first use). */
  store?: BlobStore;
}

export async function startSender(ctx: AppContext, adapter: ChatAdapter, initial: BotAccount, opts: SenderOptions = {}): Promise<Sender> {
  const { config, db, coord, log } = ctx;
  let store = opts.store;
  // A broadcast sends the same file to hundreds of groups: keep the last one read.
  let lastFile: { location: string; file: OutgoingFile } | undefined;
  const loadAttachment = async (a: BroadcastAttachment): Promise<OutgoingFile | null> => {
    if (lastFile?.location === a.location) return lastFile.file;
    const blob = await (store ??= createBlobStore(config)).get(a.location);
    if (!blob) return null;
    const file: OutgoingFile = { name: a.name, mimeType: a.mimeType ?? blob.mime, kind: a.kind, data: blob.data };
    lastFile = { location: a.location, file };
    return file;
  };
  const worker = `${initial.name}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let account = initial;
  let accountLoadedAt = Date.now();
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  // No alert before the account has ever been up in this process (a fresh start waits for its login quietly).
  let wasAvailable = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(t);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  // Wake-ups are a shortcut, polling is the guarantee: without Redis the sender still runs, and keeps trying to
  // subscribe in the background.
  let unsubscribe: () => Promise<void> = async () => undefined;
  const subscribe = async (): Promise<void> => {
    if (stopped) return;
    try {
      unsubscribe = await coord.subscribe(WAKE_CHANNEL, (msg) => {
        if (msg === "*" || msg === String(account.id)) wakeUp?.();
      });
    } catch (e) {
      log.warn({ err: (e as Error).message, account: initial.name }, "唤醒通道暂不可用，改为定时轮询");
      if (!stopped) setTimeout(() => void subscribe(), 10_000).unref();
    }
  };
  await subscribe();

  // Budgets are shared by every process serving this account (Redis in service mode); the name carries the
  // numbers so a changed budget starts a fresh window instead of clashing with the old one.
  const limiters = () => [
    coord.rateLimiter(`send:${account.name}:m${account.sendsPerMinute}`, { points: account.sendsPerMinute, durationSec: 60 }),
    coord.rateLimiter(`send:${account.name}:h${account.sendsPerHour}`, { points: account.sendsPerHour, durationSec: 3600 }),
  ];

  async function refreshAccount() {
    if (Date.now() - accountLoadedAt < ACCOUNT_REFRESH_MS) return;
    account = await db.prisma.botAccount.findUniqueOrThrow({ where: { id: account.id } });
    accountLoadedAt = Date.now();
  }

  async function alert(kind: string, message: string, extra: Record<string, unknown> = {}) {
    if (await coord.seenBefore(`alert:${kind}:${account.id}`, ALERT_QUIET_MS).catch(() => false)) return;
    log.error({ account: account.name, alert: kind, ...extra }, message);
  }

  async function coolDown(reason: string) {
    const until = new Date(Date.now() + config.SENDER_COOLDOWN_MS);
    account = await db.prisma.botAccount.update({ where: { id: account.id }, data: { status: "COOLDOWN", cooldownUntil: until, statusReason: reason } });
    const moved = await releaseToOtherAccounts(db.prisma, account.id);
    await alert("cooldown", "账号触发风控，暂停发送", { until: until.toISOString(), reason, failedOver: moved });
  }

  /** Sends what is left of one delivery; returns how long the whole account should pause (0 = carry on). */
  async function deliver(d: ClaimedDelivery): Promise<number> {
    const parts = outboundParts(d.body, d.payload?.mentions ?? [], adapter.maxTextLength, account.maxMentions);
    const target = d.groupId != null ? { kind: "group" as const, groupId: d.platformGroupId! } : { kind: "private" as const, userId: d.platformUserId! };
    const attachment = d.payload?.attachment;
    if (attachment && !adapter.sendFile) {
      // Checked before any text goes out: the group gets the whole broadcast or, visibly in the report, nothing.
      return failed(d, new SendError("unsupported", `${adapter.channel} 账号暂不支持发送${attachment.kind === "image" ? "图片" : "文件"}，附件“${attachment.name}”无法发送`));
    }
    const total = parts.length + (attachment ? 1 : 0);
    let sentParts = d.payload?.partsSent ?? 0;
    let lastId: string | undefined;
    // Read before anything is sent, so a missing file never leaves a group with the text alone.
    let file: OutgoingFile | null = null;
    if (attachment && sentParts < total) {
      try {
        file = await loadAttachment(attachment);
      } catch (e) {
        // The store is away (S3 down): not the message's fault, so no attempt is spent (a two-minute outage must not
        // fail a whole broadcast); this sender waits a minute before claiming again.
        await markFailed(db.prisma, d, "transient", `读取附件失败：${(e as Error)?.message ?? e}`, { retryAfterMs: 60_000, countAttempt: false });
        return 60_000;
      }
      if (!file) {
        await markFailed(db.prisma, d, "attachment_missing", `附件“${attachment.name}”的文件已不存在`, { permanent: true });
        return 0;
      }
    }
    while (sentParts < total) {
      for (const limiter of limiters()) {
        const verdict = await limiter.consume(account.name);
        if (!verdict.allowed) {
          await markPartsSent(db.prisma, d, sentParts);
          // This account pauses itself (the return value); another online account in the group may send it now.
          await deferForBudget(db.prisma, d, account.id, verdict.retryAfterMs);
          return verdict.retryAfterMs;
        }
      }
      try {
        const sent =
          sentParts < parts.length ? await adapter.send(target, parts[sentParts].text, { mentions: parts[sentParts].mentions }) : await adapter.sendFile!(target, file!);
        lastId = sent.platformMessageId ?? lastId;
        sentParts++;
        if (sentParts < total) {
          await markPartsSent(db.prisma, d, sentParts);
          await pace();
        }
      } catch (e) {
        if (sentParts > 0) await markPartsSent(db.prisma, d, sentParts);
        return failed(d, e instanceof SendError ? e : new SendError("transient", String((e as Error)?.message ?? e)));
      }
    }
    await markSent(db.prisma, d.id, account.id, lastId);
    if (account.status !== "ONLINE") {
      account = await db.prisma.botAccount.update({ where: { id: account.id }, data: { status: "ONLINE", statusReason: null, cooldownUntil: null } });
    }
    return 0;
  }

  async function failed(d: ClaimedDelivery, err: SendError): Promise<number> {
    log.warn({ delivery: String(d.id), account: account.name, failure: err.failure, err: err.message }, "消息发送失败");
    switch (err.failure) {
      case "rate_limited":
        await markFailed(db.prisma, d, "rate_limited", err.message, { retryAfterMs: config.SENDER_COOLDOWN_MS, countAttempt: false });
        await coolDown(err.message);
        return config.SENDER_COOLDOWN_MS;
      case "offline":
        await markFailed(db.prisma, d, "offline", err.message, { retryAfterMs: 5_000, countAttempt: false });
        return 5_000;
      case "unsupported":
        await markFailed(db.prisma, d, "unsupported", err.message, { permanent: true });
        return 0;
      case "not_found":
      case "permanent": {
        if (d.groupId != null) {
          // The bot is no longer in that group: stop routing it through this account; another may still reach it.
          await db.prisma.groupAccount.updateMany({ where: { groupId: d.groupId, accountId: account.id }, data: { active: false } });
          const others = await db.prisma.groupAccount.count({ where: { groupId: d.groupId, active: true, accountId: { not: account.id } } });
          if (others > 0) {
            await db.prisma.delivery.update({ where: { id: d.id }, data: { status: "QUEUED", accountId: null, lockedBy: null, lockedUntil: null, errorClass: err.failure, error: err.message.slice(0, 500), attempts: { decrement: 1 } } });
            return 0;
          }
        }
        await markFailed(db.prisma, d, err.failure, err.message, { permanent: true });
        return 0;
      }
      default:
        await markFailed(db.prisma, d, "transient", err.message);
        return 0;
    }
  }

  const pace = () => {
    const gap = config.SENDER_MIN_GAP_MS + Math.floor(Math.random() * (config.SENDER_JITTER_MS + 1));
    return gap > 0 && !stopped ? new Promise((r) => setTimeout(r, gap)) : Promise.resolve();
  };

  const loop = (async () => {
    let pausedUntil = 0;
    let reclaimed = false;
    while (!stopped) {
      try {
        if (!reclaimed) {
          // A previous process of this account killed mid-send left its row SENDING: take it back now, not after
          // the lease (60 s). Done before the first claim, and retried like everything else if the database is away.
          const rows = await reclaimAccountLeases(db.prisma, initial.name, worker);
          if (rows > 0) log.warn({ account: initial.name, reclaimed: rows }, "收回上次进程未发完的消息");
          reclaimed = true;
        }
        await refreshAccount();
        const coolingUntil = account.cooldownUntil && account.cooldownUntil.getTime() > Date.now() ? account.cooldownUntil.getTime() : 0;
        const available = adapter.isOnline() && coolingUntil === 0 && account.status !== "DISABLED";
        if (!available) {
          // On every pass, not only on the way down: what is queued for this account while it is away (new replies,
          // notices) goes to another online account in the same group instead of waiting for this one.
          const moved = await releaseToOtherAccounts(db.prisma, account.id);
          if (wasAvailable) {
            wasAvailable = false;
            if (!adapter.isOnline()) await alert("offline", "账号离线，消息暂存待发", { failedOver: moved });
          }
          await sleep(Math.max(config.SENDER_POLL_MS, Math.min(coolingUntil - Date.now(), 60_000)));
          continue;
        }
        wasAvailable = true;
        if (account.status === "COOLDOWN" || account.status === "RATE_LIMITED") {
          // The cool-down is over: say so, so other accounts' failover can hand work to this one again.
          account = await db.prisma.botAccount.update({ where: { id: account.id }, data: { status: "ONLINE", statusReason: null, cooldownUntil: null } });
        }
        if (Date.now() < pausedUntil) {
          await sleep(pausedUntil - Date.now());
          continue;
        }
        const [d] = await claimDue(db.prisma, account.id, worker, 1);
        if (!d) {
          await sleep(config.SENDER_POLL_MS);
          continue;
        }
        const pause = await deliver(d);
        if (pause > 0) pausedUntil = Date.now() + pause;
        else await pace();
      } catch (e) {
        // Database briefly down: a claimed row's lease expires and it is claimed again later; nothing is lost.
        log.warn({ err: (e as Error).message, account: account.name }, "发送队列暂时不可用，稍后重试");
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
