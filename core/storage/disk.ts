// Files in a directory of this server. Writes go to a temp file in the target folder and are renamed into place,
// so a reader (or a crash) never sees half a file.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { AppError } from "../kernel/errors.ts";
import type { BlobStore, StoredBlob } from "./index.ts";
import { assertKey, diskLocation, parseLocation } from "./keys.ts";
import { sniffImage } from "./images.ts";

const MIME_BY_EXT: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  pdf: "application/pdf",
  txt: "text/plain",
  json: "application/json",
};

export class DiskBlobStore implements BlobStore {
  readonly kind = "disk" as const;
  /** Absolute path of STORAGE_DIR. */
  readonly root: string;

  constructor(dir: string) {
    this.root = path.resolve(dir);
  }

  /** The file for a key; refuses anything that would leave the root (assertKey already should). */
  pathOf(key: string): string {
    assertKey(key);
    const file = path.resolve(this.root, ...key.split("/"));
    if (!file.startsWith(this.root + path.sep)) throw new AppError("INVALID_STORAGE_KEY", undefined, { key: key.slice(0, 100) });
    return file;
  }

  // The disk keeps no metadata: get() recognises the type from the bytes or the key's extension.
  async put(key: string, data: Buffer, _mime: string): Promise<{ location: string }> {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    // Leading dot: no valid key names it, so a temp file never collides with or is served as a stored file.
    const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const fh = await open(tmp, "wx", 0o640);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    return { location: diskLocation(key) };
  }

  async get(location: string): Promise<StoredBlob | null> {
    const key = parseLocation(location, "disk");
    let data: Buffer;
    try {
      data = await readFile(this.pathOf(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    const mime = sniffImage(data)?.mime ?? MIME_BY_EXT[path.extname(key).slice(1).toLowerCase()];
    return mime ? { data, mime } : { data };
  }

  async delete(location: string): Promise<void> {
    await rm(this.pathOf(parseLocation(location, "disk")), { force: true });
  }
}
