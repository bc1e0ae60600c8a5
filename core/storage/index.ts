// Where uploaded files live: a directory on this server (STORAGE_DIR) or an S3-compatible object store (MinIO,
// COS, OSS, AWS) when S3_* is configured. Callers keep the `location` that put() answers (it names the store and
// the key) and hand it back to get()/delete(); they never build paths or URLs themselves.
import type { Config } from "../config.ts";
import { DiskBlobStore } from "./disk.ts";
import { S3BlobStore } from "./s3.ts";

export interface StoredBlob {
  data: Buffer;
  /** As stored (S3) or recognised from the bytes / the key's extension (disk); absent when unknown. */
  mime?: string;
}

export interface BlobStore {
  readonly kind: "disk" | "s3";
  /** Writes `data` under `key` (see assertKey), replacing what was there. */
  put(key: string, data: Buffer, mime: string): Promise<{ location: string }>;
  /** null when nothing is stored there (any more). */
  get(location: string): Promise<StoredBlob | null>;
  /** Removing what is not there is not an error. */
  delete(location: string): Promise<void>;
}

export { DiskBlobStore } from "./disk.ts";
export { S3BlobStore, type S3BlobStoreOptions } from "./s3.ts";
export * from "./images.ts";
export * from "./keys.ts";

// ---- the factory ----

export type StorageConfig = Pick<
  Config,
  "STORAGE_DIR" | "S3_ENDPOINT" | "S3_BUCKET" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_REGION" | "S3_FORCE_PATH_STYLE"
>;

/** The S3-compatible store when S3_ENDPOINT/S3_BUCKET/S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY are set, else the disk. */
export function createBlobStore(config: StorageConfig): BlobStore {
  const { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = config;
  if (endpoint && bucket && accessKeyId && secretAccessKey) {
    return new S3BlobStore({ endpoint, bucket, accessKeyId, secretAccessKey, region: config.S3_REGION, forcePathStyle: config.S3_FORCE_PATH_STYLE });
  }
  return new DiskBlobStore(config.STORAGE_DIR);
}
