// Upload limits shared by every way a file comes in (mini-program multipart upload, a photo sent in a chat): a size
// cap and an image type decided by the file's own first bytes, never by the name or the declared type.
import { AppError } from "../kernel/errors.ts";

export type ImageMime = "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "image/heic";

export interface ImageType {
  mime: ImageMime;
  /** File extension without the dot, for storage keys and download names. */
  ext: "jpg" | "png" | "gif" | "webp" | "heic";
}

/** UPLOAD_MAX_BYTES when nothing else is configured (10 MiB). */
export const DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024;

export const ALLOWED_IMAGE_TYPES: readonly ImageMime[] = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"];

const startsWith = (data: Buffer, bytes: number[], at = 0) => data.length >= at + bytes.length && bytes.every((b, i) => data[at + i] === b);
const ascii = (data: Buffer, text: string, at = 0) => data.length >= at + text.length && data.toString("latin1", at, at + text.length) === text;

// HEIF brands of HEVC-coded images (iPhone photos). AVIF shares the container but not these brands.
const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"]);

function isHeic(data: Buffer): boolean {
  if (!ascii(data, "ftyp", 4)) return false;
  const boxSize = Math.min(data.readUInt32BE(0), data.length, 256);
  // Major brand at 8, minor version at 12, compatible brands from 16 to the end of the ftyp box.
  for (let at = 8; at + 4 <= boxSize; at += 4) {
    if (at === 12) continue;
    if (HEIC_BRANDS.has(data.toString("latin1", at, at + 4))) return true;
  }
  return false;
}

/** The image type the bytes say they are (magic numbers), or null when they are not an allowed image. */
export function sniffImage(data: Buffer): ImageType | null {
  if (startsWith(data, [0xff, 0xd8, 0xff])) return { mime: "image/jpeg", ext: "jpg" };
  if (startsWith(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { mime: "image/png", ext: "png" };
  if (ascii(data, "GIF87a") || ascii(data, "GIF89a")) return { mime: "image/gif", ext: "gif" };
  if (ascii(data, "RIFF") && ascii(data, "WEBP", 8)) return { mime: "image/webp", ext: "webp" };
  if (data.length >= 12 && isHeic(data)) return { mime: "image/heic", ext: "heic" };
  return null;
}

const megabytes = (n: number) => `${Number((n / 1024 / 1024).toFixed(1))} MB`;

/** 413 FILE_TOO_LARGE; `size` when known (it is not while a stream is still being read). */
export function fileTooLarge(maxBytes: number, size?: number): AppError {
  const got = size === undefined ? "" : `，这个文件有 ${megabytes(size)}`;
  return new AppError("FILE_TOO_LARGE", `文件太大了：最大 ${megabytes(maxBytes)}${got}，请压缩后再上传`, { maxBytes, ...(size === undefined ? {} : { size }) });
}

/** 415 FILE_TYPE_NOT_ALLOWED. */
export function fileTypeNotAllowed(): AppError {
  return new AppError("FILE_TYPE_NOT_ALLOWED", undefined, { allowed: [...ALLOWED_IMAGE_TYPES] });
}

export interface CheckedImage extends ImageType {
  size: number;
}

/**
 * Accepts `data` as an image upload or throws: 400 FILE_EMPTY, 413 FILE_TOO_LARGE (over `maxBytes`, pass
 * config.UPLOAD_MAX_BYTES), 415 FILE_TYPE_NOT_ALLOWED. The type comes from the bytes: `declaredMime` (a client's
 * Content-Type or a chat file's media type) is not trusted and never decides anything.
 */
export function checkImage(data: Buffer, declaredMime?: string, opts: { maxBytes?: number } = {}): CheckedImage {
  const maxBytes = opts.maxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  if (data.length === 0) throw new AppError("FILE_EMPTY");
  if (data.length > maxBytes) throw fileTooLarge(maxBytes, data.length);
  const type = sniffImage(data);
  if (!type) throw fileTypeNotAllowed();
  return { ...type, size: data.length };
}

/**
 * Reads a stream into one Buffer, failing with 413 FILE_TOO_LARGE as soon as it passes `maxBytes` (the rest is not
 * read), so an oversized or endless upload never sits in memory whole.
 */
export async function readLimited(stream: AsyncIterable<Uint8Array | string>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    total += buf.length;
    // Leaving the loop by throwing ends the iteration, which destroys a Node stream.
    if (total > maxBytes) throw fileTooLarge(maxBytes);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
