// A county broadcast's optional attachment: one picture or one document, checked by its bytes (never by the name
// or a declared type), stored through the BlobStore, and referenced from the broadcast and from each delivery's
// payload; the sender fetches it from the store and sends it after the text (bot/sender.ts).
import path from "node:path";
import { AppError } from "../kernel/errors.ts";
import { checkImage, fileTooLarge, keySegment, newBlobKey, sniffImage, type BlobStore } from "../storage/index.ts";

/** What a broadcast (and each of its deliveries) keeps: where the bytes are and what to call them in the chat. */
// A type alias, not an interface: it must be assignable to Prisma's JSON input (delivery payloads).
export type BroadcastAttachment = {
  kind: "image" | "file";
  /** A BlobStore location ("disk:…", "s3:…"). */
  location: string;
  /** The name the group sees (a document's file name; a picture's is informative). */
  name: string;
  mimeType?: string;
  size?: number;
};

/** Documents a broadcast may carry besides pictures: by extension, each with the signature its bytes must have. */
const DOCUMENTS: Record<string, { mime: string; magic: "pdf" | "ole" | "zip" }> = {
  pdf: { mime: "application/pdf", magic: "pdf" },
  doc: { mime: "application/msword", magic: "ole" },
  docx: { mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", magic: "zip" },
  xls: { mime: "application/vnd.ms-excel", magic: "ole" },
  xlsx: { mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", magic: "zip" },
  ppt: { mime: "application/vnd.ms-powerpoint", magic: "ole" },
  pptx: { mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation", magic: "zip" },
};

export const ALLOWED_ATTACHMENT_EXTENSIONS = ["jpg", "png", "gif", "webp", "heic", ...Object.keys(DOCUMENTS)] as const;

const MAGIC = {
  pdf: (d: Buffer) => d.length >= 5 && d.toString("latin1", 0, 5) === "%PDF-",
  // Compound File Binary (the pre-2007 Office formats).
  ole: (d: Buffer) => d.length >= 8 && d.subarray(0, 8).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])),
  // Office Open XML is a zip.
  zip: (d: Buffer) => d.length >= 4 && d[0] === 0x50 && d[1] === 0x4b && d[2] === 0x03 && d[3] === 0x04,
};

export function attachmentTypeNotAllowed(): AppError {
  return new AppError("BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED", undefined, {
    allowed: [...ALLOWED_ATTACHMENT_EXTENSIONS],
  });
}

export interface CheckedAttachment {
  kind: "image" | "file";
  mime: string;
  ext: string;
  /** Safe for the chat: the client's name when it has the right extension, else one made up from the type. */
  name: string;
  data: Buffer;
}

/** A display name without directories or control characters, at most 100 characters. */
function cleanName(name: string | null | undefined): string {
  const base = path.basename(String(name ?? "").replace(/\\/g, "/")).replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, "_").trim();
  return Array.from(base).slice(-100).join("");
}

/**
 * Accepts one upload as a broadcast attachment or throws: 400 FILE_EMPTY, 413 FILE_TOO_LARGE (over `maxBytes`,
 * pass config.UPLOAD_MAX_BYTES), 415 BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED. A picture is recognised from its bytes
 * whatever its name; a document needs an allowed extension and bytes of that format (a renamed .exe is refused).
 */
export function checkAttachment(data: Buffer, filename: string | null | undefined, opts: { maxBytes: number }): CheckedAttachment {
  if (data.length === 0) throw new AppError("FILE_EMPTY");
  if (data.length > opts.maxBytes) throw fileTooLarge(opts.maxBytes, data.length);
  const name = cleanName(filename);
  if (sniffImage(data)) {
    const image = checkImage(data, undefined, { maxBytes: opts.maxBytes });
    const stem = name.replace(/\.[^.]*$/, "") || "图片";
    return { kind: "image", mime: image.mime, ext: image.ext, name: `${stem}.${image.ext}`, data };
  }
  const ext = path.extname(name).slice(1).toLowerCase();
  const doc = DOCUMENTS[ext];
  if (!doc || !MAGIC[doc.magic](data)) throw attachmentTypeNotAllowed();
  return { kind: "file", mime: doc.mime, ext, name, data };
}

/** Stores a checked attachment under broadcasts/…; the answer is what draftBroadcast takes. */
export async function storeAttachment(store: BlobStore, a: CheckedAttachment, now = new Date()): Promise<BroadcastAttachment> {
  const { location } = await store.put(newBlobKey("broadcasts", keySegment(a.ext), now), a.data, a.mime);
  return { kind: a.kind, location, name: a.name, mimeType: a.mime, size: a.data.length };
}

/** Removes a stored attachment whose draft was refused (best effort: an orphan file is harmless). */
export async function discardAttachment(store: BlobStore, a: BroadcastAttachment | null | undefined): Promise<void> {
  if (a) await store.delete(a.location).catch(() => undefined);
}
