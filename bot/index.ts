// The bot role: one chat account, its inbound message handling and its outbound sender.
import { createHash } from "node:crypto";
import type { AppContext } from "../core/context.ts";
import { enqueue, wakeSenders, PRIORITY } from "../core/delivery/outbox.ts";
import { reconcileGroupsAfterLogin, recordGroupEvent, syncGroupMembers, touchGroup, touchIdentity } from "../core/chat/registry.ts";
import { chatPrincipal } from "../core/chat/principal.ts";
import { isAppError } from "../core/kernel/errors.ts";
import { isTransientDbError, withDbRetry } from "../core/db/retry.ts";
import pLimit from "p-limit";
import type { ChatAdapter, ChatMessage } from "./adapters/types.ts";
import { WechatyAdapter, type WechatyAdapterOptions } from "./adapters/wechaty.ts";
import { OneBotAdapter } from "./adapters/onebot.ts";
import { OneBotReverseHub } from "./adapters/onebot-reverse.ts";
import type { LoginState } from "./adapters/types.ts";
import type { Server } from "node:http";
import { buildCommandTable, type CommandReply, type CommandTable } from "./commands.ts";
import { startSender, type Sender } from "./sender.ts";
import { CheckinBatcher } from "../core/meetings/checkin-batch.ts";
import { startSummaryLoop } from "../core/meetings/summaries.ts";
import { createBlobStore, type BlobStore } from "../core/storage/index.ts";
import { handleImage } from "./images.ts";

export interface BotHandle {
  adapter: ChatAdapter;
  accountId: number;
  stop(): Promise<void>;
}

const DEDUP_TTL_MS = 10 * 60_000;
const REFUSAL_QUIET_MS = 10 * 60_000;
/** How long stop() waits for login-state writes and group syncs still running. */
const BACKGROUND_STOP_MS = 10_000;

/** True when every promise settled within `ms`; false when the time ran out first. */
async function settledWithin(ps: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = await Promise.race([Promise.allSettled(ps).then(() => true as const), timedOut]);
  clearTimeout(timer);
  return done;
}

/**
 * Dedup keys. With a platform message id: the id (redelivery after a reconnect), plus sender + content + the
 * platform's own timestamp to the second, which catches the same group message arriving through two of our
 * accounts (each sees its own id, but the server's send time is the same). Without an id: sender + content + minute.
 */
function dedupKeys(m: ChatMessage): string[] {
  const scope = m.conversation.kind === "group" ? m.conversation.groupId : `p:${m.account}`;
  const hash = (s: string) => createHash("sha1").update(s).digest("hex");
  const content = `${m.sender.platformUserId}|${m.text}|${m.mentions.join(",")}`;
  if (!m.platformMessageId) return [`seen:${m.channel}:${scope}:m:${hash(`${content}|${Math.floor(m.at.getTime() / 60_000)}`)}`];
  return [`seen:${m.channel}:${scope}:id:${hash(m.platformMessageId)}`, `seen:${m.channel}:${scope}:s:${hash(`${content}|${Math.floor(m.at.getTime() / 1000)}`)}`];
}

async function seenBefore(app: AppContext, m: ChatMessage) {
  try {
    // Both keys are marked, so either kind of duplicate is caught later, whichever arrives first.
    const seen = await Promise.all(dedupKeys(m).map((k) => app.coord.seenBefore(k, DEDUP_TTL_MS)));
    return seen.some(Boolean);
  } catch (e) {
    // Redis down: handle the message anyway. A duplicate then costs at most one reply, and replies are keyed by the
    // platform message id in the outbox, so even that one is written once.
    app.log.warn({ err: (e as Error).message }, "去重服务暂不可用，消息照常处理");
    return false;
  }
}

export interface BotDeps {
  app: AppContext;
  table: CommandTable;
  adapter: ChatAdapter;
  accountId: number;
  /** Group check-ins are written in batches (absent: one transaction per message, like any command). */
  checkins?: CheckinBatcher;
  /** Where chat photos (complaint attachments) are kept; absent: pictures are ignored. */
  store?: BlobStore;
}

/** Group check-ins skip the per-message queue: the batch is their backpressure, and waiting in line would shrink it. */
const isBatched = (table: CommandTable, m: ChatMessage) => m.conversation.kind === "group" && !!table.parse(m.text)?.spec.batched;

export async function handleMessage(deps: BotDeps, m: ChatMessage) {
  const { app, table } = deps;
  if (m.kind === "image") return deps.store ? handleImage({ ...deps, store: deps.store }, m) : undefined;
  const parsed = table.parse(m.text);
  // Plain chat in a group is none of our business (no "unknown command" spam); privately, point to the help.
  if (!parsed && m.conversation.kind === "group" && !m.mentionsMe) return;
  // A group check-in needs no Redis round trips: writing it is idempotent in the database, and the same message
  // seen twice (a redelivery, or two of our accounts in the group) is the same person at the same message time,
  // which recordCheckins recognises as the same check-in (not a repeat to announce).
  if (parsed?.spec.batched && m.conversation.kind === "group" && deps.checkins) return deps.checkins.submit(m, parsed.args || null);
  // The same platform message seen twice (two accounts in one group, redelivery after reconnect) is handled once.
  if (await seenBefore(app, m)) return;
  // A command accepted from the platform is not dropped because Postgres is restarting: retry for a while.
  await withDbRetry(() => processMessage(deps, m, parsed), { log: app.log, what: "处理消息" });
}

async function processMessage({ app, table, adapter, accountId }: BotDeps, m: ChatMessage, parsed: ReturnType<CommandTable["parse"]>) {
  const where = m.conversation.kind;

  const { prisma } = app.db;
  const identity = await touchIdentity(prisma, m);
  let group = where === "group" ? await touchGroup(prisma, m, accountId, identity.id) : undefined;
  if (group && parsed?.spec.syncRoster) {
    group = await syncGroupMembers(prisma, { channel: m.channel, account: m.account, groupId: group.platformGroupId }, accountId, await adapter.groupMembers(group.platformGroupId));
  }
  const replyKey = `reply:${dedupKeys(m)[0]}`;
  const write = (tx: Parameters<Parameters<typeof prisma.$transaction>[0]>[0], replies: CommandReply[]) =>
    Promise.all(
      replies.map((r, i) => {
        const toGroup = where === "group" && r.to !== "sender";
        return enqueue(tx, {
          channel: m.channel,
          accountId,
          groupId: toGroup ? group!.id : null,
          identityId: toGroup ? null : identity.id,
          body: r.text,
          mentions: toGroup ? r.mentions : undefined,
          priority: PRIORITY.reply,
          idempotencyKey: `${replyKey}:${i}`,
        });
      }),
    );

  try {
    await prisma.$transaction(
      async (tx) => {
        const principal = await chatPrincipal(tx, identity);
        let replies: CommandReply[];
        if (!parsed) {
          replies = [{ text: "您好！发送“帮助”可以查看我能做的事。" }];
        } else {
          const refusal = table.refusal(parsed.spec, principal, where);
          if (refusal) {
            // Say why once, briefly; repeating the same refusal to the same person only adds noise to the group.
            if (await app.coord.seenBefore(`refused:${identity.id}:${parsed.spec.name}`, REFUSAL_QUIET_MS).catch(() => false)) return;
            replies = [{ text: refusal }];
          } else {
            replies = await parsed.spec.handler({ app, tx, message: m, args: parsed.args, principal, identity, group }, table);
          }
        }
        await write(tx, replies);
      },
      { timeout: 20_000 },
    );
  } catch (e) {
    // The database itself is away or saturated: let withDbRetry try the whole message again.
    if (isTransientDbError(e)) throw e;
    // A refused or invalid command: its changes rolled back, the person gets the reason.
    const text = isAppError(e) && e.status < 500 ? e.message : "抱歉，处理时出错了，请稍后再试。";
    if (!isAppError(e) || e.status >= 500) app.log.error({ err: e, command: parsed?.spec.name }, "处理命令失败");
    await prisma.$transaction((tx) => write(tx, [{ text }]));
  }
  await wakeSenders(app.coord, accountId);
}

export interface StartBotOptions {
  /** A ready adapter (another platform, or a test double of the platform, never of our own code). */
  adapter?: ChatAdapter;
  /** A ready Wechaty puppet instead of the one config names (the demo and tests pass a PuppetMock). */
  puppet?: WechatyAdapterOptions["puppet"];
  /** Account name instead of BOT_ACCOUNT (several accounts in one process). */
  account?: string;
  /**
   * The API's HTTP server when this process runs the API too: a QQ account on the reverse transport is served at
   * /onebot/v11/ws on it. Without one, the bot process listens on API_HOST:API_PORT for that WebSocket alone.
   */
  httpServer?: Server;
}

/** The adapter config names for a QQ account (BOT_PLATFORM=qq): OneBot v11 over reverse or forward WebSocket. */
export async function createOneBotAdapter(app: AppContext, name: string, httpServer?: Server): Promise<OneBotAdapter> {
  const { config, log } = app;
  const transport =
    config.ONEBOT_TRANSPORT === "forward"
      ? { kind: "forward" as const, url: config.ONEBOT_FORWARD_URL, reconnectMaxMs: config.ONEBOT_RECONNECT_MAX_MS }
      : { kind: "reverse" as const, hub: httpServer ? OneBotReverseHub.on(httpServer, log) : await OneBotReverseHub.listen(config.API_HOST, config.API_PORT, log) };
  return new OneBotAdapter({
    account: name,
    transport,
    accessToken: config.ONEBOT_ACCESS_TOKEN,
    selfId: config.ONEBOT_SELF_ID,
    log,
    actionTimeoutMs: config.ONEBOT_ACTION_TIMEOUT_MS,
    deadAfterBeats: config.ONEBOT_DEAD_AFTER_BEATS,
    maxImageBytes: Math.min(config.UPLOAD_MAX_BYTES, config.COMPLAINT_PHOTO_MAX_BYTES),
  });
}

export async function startBot(app: AppContext, opts: StartBotOptions = {}): Promise<BotHandle> {
  const { config, db, log } = app;
  const name = opts.adapter?.account ?? opts.account ?? config.BOT_ACCOUNT;
  // A ready adapter says its platform; a Wechaty puppet means WeChat; otherwise BOT_PLATFORM decides.
  const channel = opts.adapter?.channel ?? (opts.puppet || config.BOT_PLATFORM !== "qq" ? "WECHAT" : "QQ");
  const account = await db.prisma.botAccount.upsert({
    where: { name },
    create: { name, channel, puppet: channel === "QQ" ? `onebot-${config.ONEBOT_TRANSPORT}` : config.WECHATY_PUPPET },
    update: {},
  });
  // An account an operator disabled stays disabled whatever its link reports (OneBot reports ONLINE on every reconnect).
  const setState = (data: Parameters<typeof db.prisma.botAccount.updateMany>[0]["data"]) =>
    db.prisma.botAccount
      .updateMany({ where: { id: account.id, status: { not: "DISABLED" } }, data })
      .catch((err) => log.warn({ err: err.message }, "更新账号状态失败"));
  // Work the platform starts rather than a message (login-state writes, group syncs, join/leave events): stop()
  // waits for it, boundedly, so the database is not closed under a half-done write.
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    background.add(p);
    void p.catch(() => undefined).finally(() => background.delete(p));
    return p;
  };
  const onLoginState = (s: LoginState) =>
    void track(setState(
      s.status === "NEED_LOGIN"
        ? { status: "NEED_LOGIN", loginQr: s.qr, loginQrAt: new Date() }
        : s.status === "ONLINE"
          ? { status: "ONLINE", loginQr: null, statusReason: null, platformSelfId: s.selfId, displayName: s.selfName ?? "", lastSeenAt: new Date() }
          : { status: "OFFLINE", statusReason: s.reason ?? null },
    ).then(() => (s.status === "ONLINE" ? syncAllGroups() : undefined)));
  const adapter: ChatAdapter =
    opts.adapter ??
    (channel === "QQ" ? await createOneBotAdapter(app, name, opts.httpServer) : undefined) ??
    new WechatyAdapter({
      account: name,
      puppetName: config.WECHATY_PUPPET,
      puppet: opts.puppet,
      maxImageBytes: Math.min(config.UPLOAD_MAX_BYTES, config.COMPLAINT_PHOTO_MAX_BYTES),
      serviceToken: config.WECHATY_PUPPET_SERVICE_TOKEN,
      serviceEndpoint: config.WECHATY_PUPPET_SERVICE_ENDPOINT,
      log,
      onLoginState,
    });
  // Adapters that report their login after construction (OneBot: connect, get_login_info, heartbeat loss).
  adapter.onLoginState?.(onLoginState);
  // After each login: which groups this account is in and who is in them (ids may change per login on wechat4u,
  // and joins/leaves while we were away were never seen as events).
  const syncAllGroups = async () => {
    try {
      const listedAt = new Date();
      const groups = await adapter.groups();
      const limit = pLimit(2);
      await Promise.all(groups.map((g) => limit(async () => syncGroupMembers(db.prisma, { channel: adapter.channel, account: name, groupId: g.groupId, topic: g.topic }, account.id, await adapter.groupMembers(g.groupId)))));
      log.info({ account: name, groups: groups.length }, "已同步群和群成员");
      // Only after a complete sync: a bound group missing from the list is matched again or listed as lost (only
      // listed: it stays active, and its next message clears it). An empty list is a platform still loading.
      if (groups.length === 0) log.warn({ account: name }, "登录后群列表为空，暂不核对已绑定的群");
      const { moved, lost } = await reconcileGroupsAfterLogin(db.prisma, { id: account.id, channel: adapter.channel }, groups.map((g) => g.groupId), new Date(), listedAt);
      if (moved.length) log.info({ account: name, moved }, `重新登录后有 ${moved.length} 个群的标识已变，已按群名和成员自动转移绑定`);
      if (lost.length) log.warn({ account: name, lost }, `重新登录后有 ${lost.length} 个已绑定的群找不到对应的新群，需在群里重新发送“绑定 绑定码”`);
    } catch (e) {
      log.warn({ account: name, err: (e as Error).message }, "同步群成员失败，稍后随消息逐步更新");
    }
  };
  const deps: BotDeps = { app, table: buildCommandTable(), adapter, accountId: account.id, store: createBlobStore(config) };
  // A burst (500 members answering a notice at once) is queued here rather than fighting over the connection pool.
  const inbound = pLimit(config.INBOUND_CONCURRENCY);
  const summaries = startSummaryLoop(app);
  deps.checkins = new CheckinBatcher(app, {
    accountId: account.id,
    channel: adapter.channel,
    account: name,
    onCommitted: () => summaries.poke(),
    // A group we have no row for yet: the ordinary path creates it and answers.
    fallback: (m) => inbound(() => withDbRetry(() => processMessage(deps, m, deps.table.parse(m.text)), { log, what: "处理消息" })),
  });
  // Every accepted message until it is handled (or written behind): stop() waits for them, so a clean shutdown
  // loses nothing the platform handed us.
  const inflight = new Set<Promise<void>>();
  adapter.onMessage((m) => {
    const p = isBatched(deps.table, m) ? handleMessage(deps, m) : inbound(() => handleMessage(deps, m));
    inflight.add(p);
    return p.finally(() => inflight.delete(p));
  });
  adapter.onGroupEvent(async (e) => {
    await track(
      e.kind === "bot_joined"
        ? adapter.groupMembers(e.groupId).then((members) => syncGroupMembers(db.prisma, e, account.id, members))
        : recordGroupEvent(db.prisma, e, account.id),
    );
  });
  await adapter.start();
  const sender: Sender = await startSender(app, adapter, account);
  log.info({ account: name, channel: adapter.channel }, "机器人已启动");
  return {
    adapter,
    accountId: account.id,
    async stop() {
      await sender.stop();
      // No new messages; then finish the ones in hand (a check-in waiting on Redis is not in the batch yet).
      await adapter.stop();
      while (inflight.size) await Promise.allSettled([...inflight]);
      await deps.checkins?.drain();
      await summaries.stop();
      // A platform call that never answers (a group sync mid-logout) must not hold the shutdown for ever.
      const waited = await settledWithin([...background], BACKGROUND_STOP_MS);
      if (!waited) log.warn({ account: name, pending: background.size }, `停止时仍有 ${background.size} 项群同步或状态写入未完成，已不再等待`);
      await setState({ status: "OFFLINE" });
    },
  };
}
