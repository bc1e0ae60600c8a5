// An S3-compatible object store (MinIO, Tencent COS, Aliyun OSS, AWS S3) through plain signed HTTP requests:
// aws4fetch signs them (SigV4), Node's fetch sends them. Three calls are all we need; no SDK.
import { createHash } from "node:crypto";
import { AwsClient } from "aws4fetch";
import { AppError } from "../kernel/errors.ts";
import type { BlobStore, StoredBlob } from "./index.ts";
import { assertKey, parseLocation, s3Location } from "./keys.ts";

export interface S3BlobStoreOptions {
  /** e.g. "https://cos.ap-guangzhou.myqcloud.com" or "http://127.0.0.1:9000" (MinIO). */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** http://host/bucket/key (MinIO, most self-hosted stores) instead of http://bucket.host/key. */
  forcePathStyle?: boolean;
  /** Whole request, retries included (default 30 s). */
  timeoutMs?: number;
}

const unavailable = (cause: unknown) => new AppError("STORAGE_UNAVAILABLE", undefined, undefined, { cause });

export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  private readonly client: AwsClient;
  private readonly base: URL;

  constructor(private readonly opts: S3BlobStoreOptions) {
    // 5xx and 429 are retried twice with backoff; anything else is answered at once.
    this.client = new AwsClient({
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      service: "s3",
      region: opts.region ?? "us-east-1",
      retries: 2,
      initRetryMs: 200,
    });
    this.base = new URL(opts.endpoint);
  }

  /** The object's URL. Keys passed assertKey, so they need no escaping. */
  urlOf(key: string): string {
    assertKey(key);
    const url = new URL(this.base);
    const basePath = url.pathname.replace(/\/+$/, "");
    if (this.opts.forcePathStyle) url.pathname = `${basePath}/${this.opts.bucket}/${key}`;
    else {
      url.hostname = `${this.opts.bucket}.${url.hostname}`;
      url.pathname = `${basePath}/${key}`;
    }
    return url.toString();
  }

  private async request(method: "PUT" | "GET" | "DELETE", key: string, init: { body?: Buffer; headers?: Record<string, string> } = {}) {
    const url = this.urlOf(key);
    try {
      return await this.client.fetch(url, {
        method,
        headers: init.headers,
        body: init.body ? new Uint8Array(init.body) : undefined, // a copy on its own ArrayBuffer, as BodyInit wants
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw unavailable(e);
    }
  }

  private async failed(what: string, key: string, res: Response): Promise<never> {
    const body = await res.text().catch(() => "");
    const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
    throw unavailable(new Error(`S3 ${what} ${this.opts.bucket}/${key}: HTTP ${res.status}${code ? ` ${code}` : ""}`));
  }

  async put(key: string, data: Buffer, mime: string): Promise<{ location: string }> {
    const res = await this.request("PUT", key, {
      body: data,
      headers: {
        "Content-Type": mime,
        "Content-Length": String(data.length),
        // The payload hash is signed, so the store refuses a body damaged on the way.
        "X-Amz-Content-Sha256": createHash("sha256").update(data).digest("hex"),
      },
    });
    if (!res.ok) return this.failed("PUT", key, res);
    await res.arrayBuffer().catch(() => undefined);
    return { location: s3Location(this.opts.bucket, key) };
  }

  private keyOf(location: string): string {
    const rest = parseLocation(location, "s3");
    const slash = rest.indexOf("/");
    const bucket = rest.slice(0, slash);
    if (slash < 0 || bucket !== this.opts.bucket) throw new Error(`文件位置 "${location.slice(0, 80)}" 不在存储桶 ${this.opts.bucket} 中（存储配置改过？）`);
    return rest.slice(slash + 1);
  }

  async get(location: string): Promise<StoredBlob | null> {
    const key = this.keyOf(location);
    const res = await this.request("GET", key);
    if (res.status === 404) {
      await res.arrayBuffer().catch(() => undefined);
      return null;
    }
    if (!res.ok) return this.failed("GET", key, res);
    const data = Buffer.from(await res.arrayBuffer());
    const mime = res.headers.get("content-type") ?? undefined;
    return mime ? { data, mime } : { data };
  }

  async delete(location: string): Promise<void> {
    const key = this.keyOf(location);
    const res = await this.request("DELETE", key);
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok && res.status !== 404) return this.failed("DELETE", key, res);
  }
}
