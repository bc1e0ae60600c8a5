// The bot role: one chat account, its inbound message handling and its outbound sender.
import type { AppContext } from "../core/context.ts";
import { enqueue, wakeSenders, PRIORITY } from "../core/delivery/outbox.ts";
import { resolveChatRole, touchGroup, touchIdentity } from "../core/chat/registry.ts";
import type { ChatAdapter, ChatMessage } from "./adapters/types.ts";
import { WechatyAdapter, type WechatyAdapterOptions } from "./adapters/wechaty.ts";
import { buildCommandTable, type CommandTable } from "./commands.ts";
import { startSender, type Sender } from "./sender.ts";
import { createHash } from "node:crypto";

export interface BotHandle {
  adapter: ChatAdapter;
  accountId: number;
  stop(): Promise<void>;
}

const DEDUP_TTL_MS = 10 * 60_000;

/** Dedup key: the platform id where there is one, else content + sender + minute. */
function dedupKey(m: ChatMessage) {
  const raw = m.platformMessageId ?? `${m.sender.platformUserId}|${m.text}|${Math.floor(m.at.getTime() / 60_000)}`;
  const scope = m.conversation.kind === "group" ? m.conversation.groupId : "p";
  return `seen:${m.channel}:${scope}:${createHash("sha1").update(raw).digest("hex")}`;
}

export async function handleMessage(ctx: AppContext, table: CommandTable, accountId: number, m: ChatMessage) {
  const parsed = table.parse(m.text);
  const where = m.conversation.kind;
  if (!parsed) {
    // Plain chat in a group is none of our business; in private chat, point to the help.
    if (where === "group" && !m.mentionsMe) return;
  }
  // The same platform message seen twice (two accounts in one group, redelivery after reconnect) is handled once.
  if (await ctx.coord.seenBefore(dedupKey(m), DEDUP_TTL_MS)) return;

  const { prisma } = ctx.db;
  const identity = await touchIdentity(prisma, m);
  const group = where === "group" ? await touchGroup(prisma, m, accountId) : undefined;
  const role = await resolveChatRole(prisma, identity.memberId);

  let replies: { text: string; to?: "conversation" | "sender" }[];
  if (!parsed) {
    replies = [{ text: "您好！发送“帮助”可以查看我能做的事。" }];
  } else {
    const refusal = table.refusal(parsed.spec, role, where);
    replies = refusal ? [{ text: refusal }] : await parsed.spec.handler({ message: m, args: parsed.args, role }, table);
  }
  const replyKey = m.platformMessageId ?? dedupKey(m);
  await prisma.$transaction(async (tx) => {
    let i = 0;
    for (const r of replies) {
      const toGroup = where === "group" && r.to !== "sender";
      await enqueue(tx, {
        channel: m.channel,
        accountId,
        groupId: toGroup ? group!.id : null,
        identityId: toGroup ? null : identity.id,
        body: r.text,
        priority: PRIORITY.reply,
        idempotencyKey: `reply:${m.channel}:${m.account}:${replyKey}:${i++}`,
      });
    }
  });
  await wakeSenders(ctx.coord, accountId);
}

export interface StartBotOptions {
  /** A ready adapter (another platform, or a test double of the platform, never of our own code). */
  adapter?: ChatAdapter;
  /** A ready Wechaty puppet instead of the one config names (the demo and tests pass a PuppetMock). */
  puppet?: WechatyAdapterOptions["puppet"];
}

export async function startBot(ctx: AppContext, opts: StartBotOptions = {}): Promise<BotHandle> {
  const { config, db, log } = ctx;
  const name = opts.adapter?.account ?? config.BOT_ACCOUNT;
  const account = await db.prisma.botAccount.upsert({
    where: { name },
    create: { name, channel: opts.adapter?.channel ?? "WECHAT", puppet: config.WECHATY_PUPPET },
    update: {},
  });
  const setState = (data: Parameters<typeof db.prisma.botAccount.update>[0]["data"]) =>
    db.prisma.botAccount.update({ where: { id: account.id }, data }).catch((err) => log.warn({ err: err.message }, "更新账号状态失败"));
  const adapter =
    opts.adapter ??
    new WechatyAdapter({
      account: name,
      puppetName: config.WECHATY_PUPPET,
      puppet: opts.puppet,
      serviceToken: config.WECHATY_PUPPET_SERVICE_TOKEN,
      serviceEndpoint: config.WECHATY_PUPPET_SERVICE_ENDPOINT,
      log,
      onLoginState: (s) =>
        void setState(
          s.status === "NEED_LOGIN"
            ? { status: "NEED_LOGIN", loginQr: s.qr, loginQrAt: new Date() }
            : s.status === "ONLINE"
              ? { status: "ONLINE", loginQr: null, platformSelfId: s.selfId, displayName: s.selfName ?? "", lastSeenAt: new Date() }
              : { status: "OFFLINE" },
        ),
    });
  const table = buildCommandTable();
  adapter.onMessage((m) => handleMessage(ctx, table, account.id, m));
  await adapter.start();
  const sender: Sender = await startSender(ctx, adapter, account);
  log.info({ account: name, channel: adapter.channel }, "机器人已启动");
  return {
    adapter,
    accountId: account.id,
    async stop() {
      await sender.stop();
      await adapter.stop();
      await setState({ status: "OFFLINE" });
    },
  };
}
