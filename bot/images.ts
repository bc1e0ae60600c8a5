// Pictures in chat. The only ones we keep are photos a filer sends right after a complaint (民情诉求): they attach
// to that ticket. Any other picture is none of our business and is not even downloaded.
import type { ChatMessage } from "../core/chat/message.ts";
import { touchIdentity } from "../core/chat/registry.ts";
import { attachChatPhoto, MAX_PHOTOS } from "../core/complaints/attachments.ts";
import { withDbRetry } from "../core/db/retry.ts";
import { enqueue, PRIORITY, wakeSenders } from "../core/delivery/outbox.ts";
import { isAppError } from "../core/kernel/errors.ts";
import type { BlobStore } from "../core/storage/index.ts";
import type { BotDeps } from "./index.ts";

const DEDUP_TTL_MS = 10 * 60_000;
/** A lone photo privately gets a hint at most this often (a reply per photo is what gets accounts restricted). */
const HINT_WINDOW_MS = 60_000;

export async function handleImage(deps: BotDeps & { store: BlobStore }, m: ChatMessage) {
  const { app, store, accountId } = deps;
  if (!m.image) return;
  // By platform id only: the text is empty, so sender + text + second would merge photos sent in the same second.
  if (m.platformMessageId) {
    const seen = await app.coord.seenBefore(`img:${m.channel}:${m.account}:${m.platformMessageId}`, DEDUP_TTL_MS).catch(() => false);
    if (seen) return;
  }
  const prisma = app.db.prisma;
  const identity = await withDbRetry(() => touchIdentity(prisma, m), { log: app.log, what: "处理图片" });
  let text: string | undefined;
  let key: string;
  try {
    const r = await withDbRetry(() => attachChatPhoto(prisma, store, identity.id, m.image!, app.config), { log: app.log, what: "保存照片" });
    if (!r) {
      // Privately a photo alone probably meant a complaint; in a group it is ordinary chat.
      if (m.conversation.kind === "group") return;
      text = `如需反映问题，请先发送“反映 问题内容”，再在 ${app.config.COMPLAINT_PHOTO_WINDOW_MIN} 分钟内发送照片。`;
      key = `photo-hint:${identity.id}:${Math.floor(Date.now() / HINT_WINDOW_MS)}`;
    } else {
      // One acknowledgement per ticket: photos are only taken for a few minutes after filing anyway.
      text = `照片已收到，已附在诉求 ${r.complaint.number} 上（${app.config.COMPLAINT_PHOTO_WINDOW_MIN} 分钟内发送的照片都会附上，最多 ${MAX_PHOTOS} 张）。`;
      key = `photo-ack:${r.complaint.number}`;
    }
  } catch (e) {
    if (!isAppError(e) || e.status >= 500) app.log.error({ err: e }, "保存聊天照片失败");
    text = isAppError(e) && e.status < 500 ? e.message : "抱歉，照片没有保存成功，请稍后重新发送。";
    key = `photo-error:${m.platformMessageId ?? `${identity.id}:${m.at.getTime()}`}`;
  }
  await enqueue(prisma, { channel: m.channel, accountId, identityId: identity.id, body: text, priority: PRIORITY.reply, idempotencyKey: key });
  await wakeSenders(app.coord, accountId);
}
