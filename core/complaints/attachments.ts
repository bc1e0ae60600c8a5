// Photos a filer sends right after filing attach to the ticket: the identity's ticket filed within
// COMPLAINT_PHOTO_WINDOW_MIN minutes (the most recent one), at most COMPLAINT_PHOTO_MAX_BYTES each, MAX_PHOTOS per
// ticket. From chat, attachChatPhoto downloads, checks and stores the picture (core/storage) and then records it;
// attachRecentImage records a picture that is already stored (the API's upload, or attachChatPhoto itself).
import type { PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { checkImage, fileTooLarge, keySegment, newBlobKey, type BlobStore } from "../storage/index.ts";
import type { ComplaintConfig } from "./deadlines.ts";
import { commitEvent, lockComplaint, type Tx } from "./transition.ts";

/** At most this many photos per ticket (a WeChat "album" is nine). */
export const MAX_PHOTOS = 9;

export interface StoredImage {
  /** The blob store's location (never only the platform's temporary id). */
  location: string;
  mimeType?: string | null;
  sizeBytes: number;
}

type PhotoConfig = Pick<ComplaintConfig, "COMPLAINT_PHOTO_WINDOW_MIN" | "COMPLAINT_PHOTO_MAX_BYTES">;

/** 413 FILE_TOO_LARGE (the storage layer's code) for a photo over the limit. */
export function checkPhotoSize(sizeBytes: number, config: Pick<ComplaintConfig, "COMPLAINT_PHOTO_MAX_BYTES">) {
  if (sizeBytes > config.COMPLAINT_PHOTO_MAX_BYTES) throw fileTooLarge(config.COMPLAINT_PHOTO_MAX_BYTES, sizeBytes);
}

/** The identity's open ticket filed within the photo window, most recent first; null when there is none. */
export async function recentTicketForPhoto(tx: Tx, identityId: number, config: PhotoConfig, now = new Date()) {
  const since = new Date(now.getTime() - config.COMPLAINT_PHOTO_WINDOW_MIN * 60_000);
  return tx.complaint.findFirst({
    where: { filerIdentityId: identityId, createdAt: { gte: since, lte: now }, status: { notIn: ["CLOSED", "WITHDRAWN"] } },
    orderBy: { createdAt: "desc" },
    select: { id: true, number: true },
  });
}

/**
 * Records an already stored image on the identity's ticket filed within the photo window, as an INFO_ADDED event
 * carrying the attachment. Returns null when there is no such ticket. Throws 413 FILE_TOO_LARGE for an oversized
 * image, 409 TOO_MANY_PHOTOS past MAX_PHOTOS.
 */
export async function attachRecentImage(tx: Tx, identityId: number, image: StoredImage, config: PhotoConfig, now = new Date()) {
  const recent = await recentTicketForPhoto(tx, identityId, config, now);
  if (!recent) return null;
  checkPhotoSize(image.sizeBytes, config);
  if (!image.location) throw new AppError("PHOTO_MISSING", "照片没有保存成功，请重新发送。");
  const c = await lockComplaint(tx, recent.id);
  const count = await tx.complaintAttachment.count({ where: { complaintId: c.id } });
  if (count >= MAX_PHOTOS) throw new AppError("TOO_MANY_PHOTOS", `每条诉求最多附 ${MAX_PHOTOS} 张照片。`);
  const attachment = await tx.complaintAttachment.create({
    data: { complaintId: c.id, kind: "image", location: image.location, mimeType: image.mimeType ?? null, sizeBytes: image.sizeBytes, createdAt: now },
  });
  const identity = await tx.chatIdentity.findUnique({ where: { id: identityId }, select: { channel: true, memberId: true } });
  const r = await commitEvent(tx, c, {
    kind: "INFO_ADDED",
    at: now,
    actorId: null,
    actorMemberId: c.anonymous ? null : (identity?.memberId ?? null),
    actorIdentityId: identityId,
    channel: identity?.channel ?? "",
    note: "照片",
    data: { attachmentId: attachment.id },
  });
  return { complaint: r.complaint, attachment, event: r.event, photos: count + 1 };
}

/** A picture from chat, downloaded only when wanted (ChatMessage.image fits). */
export interface FetchableImage {
  fetch(): Promise<{ data: Buffer; mime: string }>;
}

/**
 * A photo sent in chat: when the sender filed a ticket within the photo window, downloads it, checks it (type from
 * the bytes; 413 FILE_TOO_LARGE over COMPLAINT_PHOTO_MAX_BYTES, 415 FILE_TYPE_NOT_ALLOWED), stores it under
 * complaints/<number>/… and records it in its own transaction. Null when there is no recent ticket (nothing is
 * downloaded: a photo in a chat is otherwise none of our business). A stored file whose record failed is deleted.
 */
export async function attachChatPhoto(prisma: PrismaClient, store: BlobStore, identityId: number, image: FetchableImage, config: PhotoConfig, now = new Date()) {
  const recent = await recentTicketForPhoto(prisma, identityId, config, now);
  if (!recent) return null;
  const { data, mime } = await image.fetch();
  const checked = checkImage(data, mime, { maxBytes: config.COMPLAINT_PHOTO_MAX_BYTES });
  const { location } = await store.put(newBlobKey(`complaints/${keySegment(recent.number)}`, checked.ext, now), data, checked.mime);
  try {
    const r = await prisma.$transaction((tx) => attachRecentImage(tx, identityId, { location, mimeType: checked.mime, sizeBytes: checked.size }, config, now));
    if (!r) await store.delete(location).catch(() => undefined);
    return r;
  } catch (e) {
    await store.delete(location).catch(() => undefined);
    throw e;
  }
}

/** What the sender is told after a photo was attached. */
export const photoAttachedText = (r: { complaint: { number: string }; photos: number }) => `照片已附在诉求 ${r.complaint.number} 上（共 ${r.photos} 张）。`;
