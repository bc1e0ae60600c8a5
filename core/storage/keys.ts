// Storage keys and locations. A key is what a caller chooses ("complaints/2026/11/<uuid>.jpg"); a location is what
// a store answers for it ("disk:<key>", "s3:<bucket>/<key>") and what callers keep in the database.
import { randomUUID } from "node:crypto";
import { AppError } from "../kernel/errors.ts";
import type { BlobStore } from "./index.ts";

// A segment starts with a letter, digit or _ (so never "." / ".." nor a hidden or temp file) and uses only
// [A-Za-z0-9._-]: safe as a file name on any disk and as an S3 key without escaping.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MAX_KEY_LENGTH = 512;
const MAX_KEY_DEPTH = 8;

/** Throws 400 INVALID_STORAGE_KEY unless `key` is a relative "a/b/c.jpg" key of safe segments. */
export function assertKey(key: string): string {
  const segments = key.split("/");
  const ok = key.length > 0 && key.length <= MAX_KEY_LENGTH && segments.length <= MAX_KEY_DEPTH && segments.every((s) => SEGMENT.test(s));
  if (!ok) throw new AppError("INVALID_STORAGE_KEY", undefined, { key: key.slice(0, 100) });
  return key;
}

/** A fresh key under `prefix` (e.g. "complaints/LX20261125-0007"): `<prefix>/<yyyy>/<mm>/<uuid>.<ext>`. */
export function newBlobKey(prefix: string, ext: string, now = new Date()): string {
  const month = now.toISOString().slice(0, 7).replace("-", "/");
  return assertKey(`${prefix.replace(/\/+$/, "")}/${month}/${randomUUID()}.${ext}`);
}

/** Turns any text (a ticket number, a file name) into one safe key segment. */
export function keySegment(text: string): string {
  const s = text.normalize("NFKC").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[.-]+/, "_").slice(0, 128);
  return s || "_";
}

// ---- locations: "<kind>:<where>" ----

export function diskLocation(key: string) {
  return `disk:${key}`;
}

export function s3Location(bucket: string, key: string) {
  return `s3:${bucket}/${key}`;
}

/** Splits a location; throws when it belongs to another kind of store (a configuration change lost the files). */
export function parseLocation(location: string, kind: BlobStore["kind"]): string {
  const prefix = `${kind}:`;
  if (!location.startsWith(prefix)) {
    throw new Error(`文件位置 "${location.slice(0, 80)}" 不属于当前的${kind === "disk" ? "本地磁盘" : "对象存储"}（存储配置改过？）`);
  }
  return location.slice(prefix.length);
}

