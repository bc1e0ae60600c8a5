// Uploaded files: the disk store (round trip, atomic writes, no way out of STORAGE_DIR), the S3-compatible store
// (its requests against a stand-in HTTP server; a real round trip when moto_server is installed on the machine),
// the factory, and the shared limits: size cap and image type by magic bytes, whatever the client claims.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { ConfigError, loadConfig } from "../core/config.ts";
import { AppError } from "../core/kernel/errors.ts";
import {
  DEFAULT_UPLOAD_MAX_BYTES,
  DiskBlobStore,
  S3BlobStore,
  assertKey,
  checkImage,
  createBlobStore,
  keySegment,
  newBlobKey,
  readLimited,
  sniffImage,
} from "../core/storage/index.ts";

// ---- sample files: real headers, the rest padding ----
const pad = (head: Buffer, size = 64) => Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length), 7)]);
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const JPEG = pad(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]));
const GIF = pad(Buffer.from("GIF89a\x01\x00\x01\x00", "latin1"));
const WEBP = pad(Buffer.concat([Buffer.from("RIFF"), Buffer.from([0x24, 0, 0, 0]), Buffer.from("WEBPVP8 ")]));
const ftyp = (major: string, ...compatible: string[]) => {
  const box = Buffer.alloc(16 + 4 * compatible.length);
  box.writeUInt32BE(box.length, 0);
  box.write("ftyp", 4, "latin1");
  box.write(major, 8, "latin1");
  compatible.forEach((b, i) => box.write(b, 16 + 4 * i, "latin1"));
  return pad(box);
};
const HEIC = ftyp("heic", "mif1", "heic");
const HEIC_MIF1 = ftyp("mif1", "mif1", "heic");
const AVIF = ftyp("avif", "mif1", "miaf");

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? `${e.status} ${e.code}` : `not an AppError: ${String(e)}`;
  }
  return "no error";
};
const rejection = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e instanceof AppError ? `${e.status} ${e.code}` : `not an AppError: ${String(e)}`;
  }
  return "no error";
};

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "netbranch-storage-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("image checks", () => {
  test("each allowed type is recognised by its bytes", () => {
    expect(checkImage(JPEG)).toEqual({ mime: "image/jpeg", ext: "jpg", size: JPEG.length });
    expect(checkImage(PNG)).toMatchObject({ mime: "image/png", ext: "png" });
    expect(checkImage(GIF)).toMatchObject({ mime: "image/gif", ext: "gif" });
    expect(checkImage(WEBP)).toMatchObject({ mime: "image/webp", ext: "webp" });
    expect(checkImage(HEIC)).toMatchObject({ mime: "image/heic", ext: "heic" });
    expect(checkImage(HEIC_MIF1)).toMatchObject({ mime: "image/heic", ext: "heic" });
  });

  test("the declared type is ignored: the bytes decide", () => {
    // A PNG sent as "image/jpeg" is a PNG; a text file, a web page or an SVG sent as "image/png" is refused.
    expect(checkImage(PNG, "image/jpeg").mime).toBe("image/png");
    expect(checkImage(JPEG, "application/pdf").mime).toBe("image/jpeg");
    expect(codeOf(() => checkImage(Buffer.from("我是一段文字，不是图片"), "image/png"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(codeOf(() => checkImage(Buffer.from("<html><script>alert(1)</script></html>"), "image/jpeg"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(codeOf(() => checkImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), "image/svg+xml"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(codeOf(() => checkImage(pad(Buffer.from("%PDF-1.7\n")), "image/png"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    // Same container as HEIC, other codec: not on the list. Truncated magic numbers are not images either.
    expect(codeOf(() => checkImage(AVIF, "image/heic"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(codeOf(() => checkImage(Buffer.from([0xff, 0xd8]), "image/jpeg"))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(codeOf(() => checkImage(PNG.subarray(0, 7)))).toBe("415 FILE_TYPE_NOT_ALLOWED");
    expect(sniffImage(Buffer.from("RIFF\0\0\0\0WAVEfmt "))).toBeNull();
  });

  test("the 415 answer says what is allowed, in Chinese", () => {
    try {
      checkImage(Buffer.from("hello"), "text/plain");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).message).toBe("只能上传图片（JPEG、PNG、GIF、WebP 或 HEIC 格式）");
      expect((e as AppError).details).toEqual({ allowed: ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"] });
    }
  });

  test("size: up to the limit is fine, one byte more is 413, checked before the type", () => {
    const limit = 1024;
    expect(checkImage(pad(JPEG, limit), undefined, { maxBytes: limit }).size).toBe(limit);
    expect(codeOf(() => checkImage(pad(JPEG, limit + 1), undefined, { maxBytes: limit }))).toBe("413 FILE_TOO_LARGE");
    // An oversized non-image is told it is too large (the cheaper, truer answer), not that it is the wrong type.
    expect(codeOf(() => checkImage(Buffer.alloc(limit + 1), undefined, { maxBytes: limit }))).toBe("413 FILE_TOO_LARGE");
    try {
      checkImage(pad(JPEG, 12.3 * 1024 * 1024));
      throw new Error("accepted");
    } catch (e) {
      expect((e as AppError).message).toBe("文件太大了：最大 10 MB，这个文件有 12.3 MB，请压缩后再上传");
      expect((e as AppError).details).toEqual({ maxBytes: DEFAULT_UPLOAD_MAX_BYTES, size: Math.floor(12.3 * 1024 * 1024) });
    }
    expect(DEFAULT_UPLOAD_MAX_BYTES).toBe(10 * 1024 * 1024);
    expect(checkImage(pad(JPEG, DEFAULT_UPLOAD_MAX_BYTES)).size).toBe(DEFAULT_UPLOAD_MAX_BYTES);
  });

  test("an empty file is 400 FILE_EMPTY", () => {
    expect(codeOf(() => checkImage(Buffer.alloc(0), "image/png"))).toBe("400 FILE_EMPTY");
  });

  test("readLimited stops reading a stream at the limit", async () => {
    let pulled = 0;
    const endless = Readable.from(
      (function* () {
        for (;;) {
          pulled++;
          yield Buffer.alloc(1000, 1);
        }
      })(),
    );
    expect(await rejection(readLimited(endless, 10_000))).toBe("413 FILE_TOO_LARGE");
    expect(pulled).toBeLessThan(20);
    expect(endless.destroyed).toBe(true);
    const ok = await readLimited(Readable.from([Buffer.from("ab"), Buffer.from("cd")]), 4);
    expect(ok.toString()).toBe("abcd");
  });
});

describe("keys", () => {
  test("safe relative keys pass; anything that could leave the folder or hide a file is refused", () => {
    for (const ok of ["a.jpg", "complaints/2026/11/abc-DEF_1.jpg", "_x/y", "LX20261125-0007/1.png"]) expect(assertKey(ok)).toBe(ok);
    const bad = [
      "",
      "..",
      "../x.jpg",
      "a/../../x.jpg",
      "a/./b.jpg",
      "./a.jpg",
      "/etc/passwd",
      "a//b.jpg",
      "a/",
      ".hidden",
      "a/.b.jpg.123.tmp",
      "-rf",
      "a\\..\\b.jpg",
      "..\\..\\x",
      "a/b\u0000.jpg",
      "%2e%2e/x",
      "C:/x.jpg",
      "照片.jpg",
      "a b.jpg",
      "x".repeat(129),
      Array(9).fill("a").join("/"),
    ];
    for (const key of bad) expect([key, codeOf(() => assertKey(key))]).toEqual([key, "400 INVALID_STORAGE_KEY"]);
  });

  test("newBlobKey and keySegment make valid keys", () => {
    const key = newBlobKey("complaints/LX20261125-0007", "jpg", new Date("2026-11-25T08:00:00Z"));
    expect(key).toMatch(/^complaints\/LX20261125-0007\/2026\/11\/[0-9a-f-]{36}\.jpg$/);
    expect(keySegment("LX20261125-0007")).toBe("LX20261125-0007");
    expect(keySegment("../../etc/passwd")).toBe("__.._etc_passwd");
    expect(keySegment("村民 照片.JPG")).toBe("_.JPG");
    expect(keySegment("")).toBe("_");
    for (const s of ["../../etc/passwd", "..", ".", "-", "a/b", "照片"]) expect(assertKey(keySegment(s))).toBeTruthy();
    expect(() => newBlobKey("../up", "jpg")).toThrow(AppError);
  });
});

describe("disk store", () => {
  test("round trip: put creates the folders, get answers the bytes and the type, delete removes", async () => {
    const root = path.join(tmp, "rt", "uploads");
    const store = new DiskBlobStore(root);
    expect(store.kind).toBe("disk");
    const { location } = await store.put("complaints/2026/11/a.png", PNG, "image/png");
    expect(location).toBe("disk:complaints/2026/11/a.png");
    expect(await readFile(path.join(root, "complaints", "2026", "11", "a.png"))).toEqual(PNG);
    expect(await store.get(location)).toEqual({ data: PNG, mime: "image/png" });
    // The type comes from the bytes, not the name; unknown bytes fall back to the extension, or to none.
    await store.put("b.jpg", PNG, "image/jpeg");
    expect((await store.get("disk:b.jpg"))?.mime).toBe("image/png");
    await store.put("notes.txt", Buffer.from("文字"), "text/plain");
    expect(await store.get("disk:notes.txt")).toEqual({ data: Buffer.from("文字"), mime: "text/plain" });
    await store.put("blob", Buffer.from([1, 2, 3]), "application/octet-stream");
    expect(await store.get("disk:blob")).toEqual({ data: Buffer.from([1, 2, 3]) });
    // Replacing, then deleting (twice: the second is not an error).
    await store.put("complaints/2026/11/a.png", JPEG, "image/jpeg");
    expect(await store.get(location)).toEqual({ data: JPEG, mime: "image/jpeg" });
    await store.delete(location);
    expect(await store.get(location)).toBeNull();
    await store.delete(location);
    expect(await store.get("disk:never/was.png")).toBeNull();
    // Empty and large files survive intact.
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0xab);
    await store.put("big.bin", big, "application/octet-stream");
    expect((await store.get("disk:big.bin"))!.data.equals(big)).toBe(true);
    await store.put("empty.bin", Buffer.alloc(0), "application/octet-stream");
    expect((await store.get("disk:empty.bin"))!.data.length).toBe(0);
  });

  test("writes are atomic: concurrent writers leave one whole file and no temp files", async () => {
    const root = path.join(tmp, "atomic");
    const store = new DiskBlobStore(root);
    const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(512 * 1024, i + 1));
    await Promise.all(versions.map((v) => store.put("same/key.bin", v, "application/octet-stream")));
    const got = (await store.get("disk:same/key.bin"))!.data;
    expect(versions.some((v) => v.equals(got))).toBe(true);
    expect(await readdir(path.join(root, "same"))).toEqual(["key.bin"]);
    expect((await stat(path.join(root, "same", "key.bin"))).mode & 0o777).toBe(0o640);
  });

  test("a failed write leaves no temp file behind and the old content in place", async () => {
    const root = path.join(tmp, "failed");
    const store = new DiskBlobStore(root);
    await store.put("dir/x.png", PNG, "image/png");
    // "dir/x.png/y" needs x.png to be a folder: the write fails.
    await expect(store.put("dir/x.png/y.png", PNG, "image/png")).rejects.toThrow();
    expect(await readdir(path.join(root, "dir"))).toEqual(["x.png"]);
    expect((await store.get("disk:dir/x.png"))!.data).toEqual(PNG);
  });

  test("nothing outside STORAGE_DIR can be written, read or deleted", async () => {
    const root = path.join(tmp, "jail", "uploads");
    const store = new DiskBlobStore(root);
    const secret = path.join(tmp, "jail", "secret.txt");
    await mkdir(root, { recursive: true });
    await writeFile(secret, "机密");
    for (const key of ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "..\\secret.txt", ".."]) {
      expect(await rejection(store.put(key, PNG, "image/png"))).toBe("400 INVALID_STORAGE_KEY");
      expect(await rejection(store.get(`disk:${key}`))).toBe("400 INVALID_STORAGE_KEY");
      expect(await rejection(store.delete(`disk:${key}`))).toBe("400 INVALID_STORAGE_KEY");
    }
    expect(await readFile(secret, "utf8")).toBe("机密");
    // A location of another kind of store is a configuration problem, not "not found".
    await expect(store.get("s3:bucket/a.png")).rejects.toThrow(/不属于当前的本地磁盘/);
    await expect(store.get("a.png")).rejects.toThrow(/不属于/);
  });

  test("a relative STORAGE_DIR is taken from the working directory", () => {
    expect(new DiskBlobStore("./data/uploads").root).toBe(path.resolve("data/uploads"));
  });
});

describe("configuration and the factory", () => {
  test("disk unless all four S3 settings are given", () => {
    const disk = createBlobStore(loadConfig({ STORAGE_DIR: path.join(tmp, "f") }));
    expect(disk).toBeInstanceOf(DiskBlobStore);
    expect((disk as DiskBlobStore).root).toBe(path.join(tmp, "f"));
    const config = loadConfig({ S3_ENDPOINT: "http://127.0.0.1:9000", S3_BUCKET: "netbranch-photos", S3_ACCESS_KEY_ID: "id", S3_SECRET_ACCESS_KEY: "secret" });
    expect(config).toMatchObject({ S3_REGION: "us-east-1", S3_FORCE_PATH_STYLE: false, UPLOAD_MAX_BYTES: 10 * 1024 * 1024, STORAGE_DIR: "./data/uploads" });
    expect(createBlobStore(config).kind).toBe("s3");
  });

  test("a partial or invalid S3 configuration stops the process with a clear line", () => {
    expect(() => loadConfig({ S3_ENDPOINT: "http://127.0.0.1:9000", S3_BUCKET: "b-1" })).toThrow(ConfigError);
    expect(() => loadConfig({ S3_ENDPOINT: "http://127.0.0.1:9000", S3_BUCKET: "b-1" })).toThrow(/S3_ACCESS_KEY_ID 使用对象存储时必须设置/);
    expect(() => loadConfig({ S3_SECRET_ACCESS_KEY: "s" })).toThrow(/S3_ENDPOINT/);
    expect(() => loadConfig({ S3_ENDPOINT: "ftp://x", S3_BUCKET: "b-1", S3_ACCESS_KEY_ID: "i", S3_SECRET_ACCESS_KEY: "s" })).toThrow(/S3_ENDPOINT/);
    expect(() => loadConfig({ S3_ENDPOINT: "http://x", S3_BUCKET: "Bad_Bucket", S3_ACCESS_KEY_ID: "i", S3_SECRET_ACCESS_KEY: "s" })).toThrow(/S3_BUCKET/);
    expect(() => loadConfig({ UPLOAD_MAX_BYTES: "12" })).toThrow(/UPLOAD_MAX_BYTES 不能小于 1024/);
    expect(loadConfig({ UPLOAD_MAX_BYTES: "2097152", S3_FORCE_PATH_STYLE: "true" })).toMatchObject({ UPLOAD_MAX_BYTES: 2097152, S3_FORCE_PATH_STYLE: true });
  });
});

describe("S3 store against a stand-in server", () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingMessage["headers"];
    body: Buffer;
  }
  let server: Server;
  let endpoint: string;
  const seen: Seen[] = [];
  const objects = new Map<string, { data: Buffer; type: string }>();
  let failNext: number | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (failNext) {
          res.writeHead(failNext, { "content-type": "application/xml" });
          failNext = undefined;
          return res.end("<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
        }
        const key = req.url!;
        if (req.method === "PUT") {
          objects.set(key, { data: body, type: req.headers["content-type"] ?? "" });
          return res.writeHead(200).end();
        }
        const obj = objects.get(key);
        if (req.method === "GET") return obj ? res.writeHead(200, { "content-type": obj.type }).end(obj.data) : res.writeHead(404).end("<Error><Code>NoSuchKey</Code></Error>");
        if (req.method === "DELETE") return objects.delete(key) ? res.writeHead(204).end() : res.writeHead(404).end();
        res.writeHead(405).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const store = () => new S3BlobStore({ endpoint, bucket: "photos", accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", region: "cn-south-1", forcePathStyle: true });

  test("put, get and delete are signed requests to /bucket/key", async () => {
    const s = store();
    expect(s.kind).toBe("s3");
    const { location } = await s.put("complaints/2026/11/a.jpg", JPEG, "image/jpeg");
    expect(location).toBe("s3:photos/complaints/2026/11/a.jpg");
    const put = seen.at(-1)!;
    expect(put).toMatchObject({ method: "PUT", url: "/photos/complaints/2026/11/a.jpg" });
    expect(put.body.equals(JPEG)).toBe(true);
    expect(put.headers["content-type"]).toBe("image/jpeg");
    expect(put.headers["x-amz-content-sha256"]).toBe(createHash("sha256").update(JPEG).digest("hex"));
    expect(put.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/cn-south-1\/s3\/aws4_request, SignedHeaders=[^,]*x-amz-content-sha256[^,]*, Signature=[0-9a-f]{64}$/);
    expect(await s.get(location)).toEqual({ data: JPEG, mime: "image/jpeg" });
    await s.delete(location);
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", url: "/photos/complaints/2026/11/a.jpg" });
    expect(await s.get(location)).toBeNull();
    await s.delete(location); // 404 on delete: already gone, fine
  });

  test("refusals and an unreachable store are 503 STORAGE_UNAVAILABLE, with the reason kept for the log", async () => {
    failNext = 403;
    try {
      await store().put("a.png", PNG, "image/png");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect(e).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE", message: "文件存储暂时不可用，请稍后再试" });
      expect(String((e as AppError).cause)).toContain("S3 PUT photos/a.png: HTTP 403 AccessDenied");
    }
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const away = new S3BlobStore({ endpoint: `http://127.0.0.1:${port}`, bucket: "photos", accessKeyId: "i", secretAccessKey: "s", forcePathStyle: true });
    expect(await rejection(away.put("a.png", PNG, "image/png"))).toBe("503 STORAGE_UNAVAILABLE");
    expect(await rejection(away.get("s3:photos/a.png"))).toBe("503 STORAGE_UNAVAILABLE");
  });

  test("keys are checked; locations of another bucket or store are refused", async () => {
    const s = store();
    expect(await rejection(s.put("../a.png", PNG, "image/png"))).toBe("400 INVALID_STORAGE_KEY");
    await expect(s.get("s3:other/a.png")).rejects.toThrow(/不在存储桶 photos 中/);
    await expect(s.get("disk:a.png")).rejects.toThrow(/不属于当前的对象存储/);
    expect(await rejection(s.get("s3:photos/../a.png"))).toBe("400 INVALID_STORAGE_KEY");
  });

  test("addresses: path style and virtual-hosted style, endpoint paths kept", () => {
    const base = { bucket: "photos", accessKeyId: "i", secretAccessKey: "s" };
    expect(new S3BlobStore({ ...base, endpoint: "https://cos.ap-guangzhou.myqcloud.com" }).urlOf("a/b.jpg")).toBe("https://photos.cos.ap-guangzhou.myqcloud.com/a/b.jpg");
    expect(new S3BlobStore({ ...base, endpoint: "http://127.0.0.1:9000/", forcePathStyle: true }).urlOf("a/b.jpg")).toBe("http://127.0.0.1:9000/photos/a/b.jpg");
    expect(new S3BlobStore({ ...base, endpoint: "http://gw.local/s3/", forcePathStyle: true }).urlOf("a.jpg")).toBe("http://gw.local/s3/photos/a.jpg");
  });
});

// A real S3 implementation, when this machine has one (moto_server from Python's moto): skipped elsewhere. With
// INITIAL_NO_AUTH_ACTION_COUNT moto lets the set-up calls through unsigned and then checks every signature.
const hasMoto = spawnSync("moto_server", ["--help"], { stdio: "ignore", timeout: 20_000 }).status === 0;
(hasMoto ? describe : describe.skip)("S3 store against moto_server (signatures checked)", () => {
  let proc: ChildProcess;
  let endpoint: string;
  let keys: { id: string; secret: string };

  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    endpoint = `http://127.0.0.1:${port}`;
    proc = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore", env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: "4" } });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await fetch(`${endpoint}/moto-api/`);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("moto_server did not start");
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The four unsigned calls: an IAM user with an access key and an s3:* policy, and the bucket.
    const unsigned = (service: string) => ({ authorization: `AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00` });
    const iam = async (params: Record<string, string>) => {
      const res = await fetch(`${endpoint}/`, { method: "POST", headers: unsigned("iam"), body: new URLSearchParams({ ...params, Version: "2010-05-08" }) });
      expect(res.status).toBe(200);
      return res.text();
    };
    await iam({ Action: "CreateUser", UserName: "netbranch" });
    const created = await iam({ Action: "CreateAccessKey", UserName: "netbranch" });
    keys = { id: /<AccessKeyId>([^<]+)</.exec(created)![1], secret: /<SecretAccessKey>([^<]+)</.exec(created)![1] };
    const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] };
    await iam({ Action: "PutUserPolicy", UserName: "netbranch", PolicyName: "s3", PolicyDocument: JSON.stringify(policy) });
    expect((await fetch(`${endpoint}/netbranch-photos`, { method: "PUT", headers: unsigned("s3") })).status).toBe(200);
  }, 30_000);
  afterAll(() => {
    proc?.kill();
  });

  const config = (secret: string) => ({
    STORAGE_DIR: "unused",
    S3_ENDPOINT: endpoint,
    S3_BUCKET: "netbranch-photos",
    S3_ACCESS_KEY_ID: keys.id,
    S3_SECRET_ACCESS_KEY: secret,
    S3_REGION: "us-east-1",
    S3_FORCE_PATH_STYLE: true,
  });

  test("round trip, replace, delete", async () => {
    const s = createBlobStore(config(keys.secret));
    expect(s.kind).toBe("s3");
    const key = newBlobKey("complaints/LX20261125-0007", "png");
    const { location } = await s.put(key, PNG, "image/png");
    expect(await s.get(location)).toEqual({ data: PNG, mime: "image/png" });
    const big = Buffer.alloc(2 * 1024 * 1024, 0x5a);
    await s.put(key, big, "application/octet-stream");
    expect((await s.get(location))!.data.equals(big)).toBe(true);
    await s.delete(location);
    expect(await s.get(location)).toBeNull();
    await s.delete(location);
  });

  test("a wrong secret is refused by the store: 503 with SignatureDoesNotMatch for the log", async () => {
    try {
      await createBlobStore(config("not-the-secret")).put("a.png", PNG, "image/png");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
      expect(String((e as AppError).cause)).toContain("HTTP 403 SignatureDoesNotMatch");
    }
  });
});
