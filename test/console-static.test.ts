// How the API serves the built console: the page never cached, assets cached and gzipped, a strict CSP, a clear 503
// when the console was never built (and recovery once it is), 404 for anything else under /console/.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, get as httpGet, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import Koa from "koa";
import { consoleStatic } from "../api/routes/console.ts";

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "nb-console-"));
  const app = new Koa();
  app.use(consoleStatic(dir, 0) as never);
  app.use((ctx) => {
    ctx.body = "api";
  });
  server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test("unbuilt: 503 with a Chinese hint; once built, served without a restart", async () => {
  const missing = await fetch(`${base}/console/`);
  expect(missing.status).toBe(503);
  expect(await missing.text()).toContain("npm run build");

  writeFileSync(path.join(dir, "index.html"), '<!doctype html><script type="module" src="./app.js?v=1"></script>');
  writeFileSync(path.join(dir, "app.js"), "console.log('控制台');".repeat(200));
  const page = await fetch(`${base}/console/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  expect(page.headers.get("cache-control")).toBe("no-cache");
  expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
  expect(page.headers.get("content-security-policy")).not.toMatch(/script-src[^;]*unsafe/);
});

test("assets: cached for a year, gzipped when asked, identical bytes either way", async () => {
  const plain = await fetch(`${base}/console/app.js?v=1`, { headers: { "accept-encoding": "identity" } });
  expect(plain.status).toBe(200);
  expect(plain.headers.get("content-encoding")).toBeNull();
  expect(plain.headers.get("cache-control")).toMatch(/max-age=31536000/);
  const body = Buffer.from(await plain.arrayBuffer());
  // fetch decodes gzip itself; read the raw bytes through node:http to see the encoding.
  const raw = await new Promise<{ enc?: string; bytes: Buffer }>((resolve, reject) => {
    const req = httpGet(`${base}/console/app.js?v=1`, { headers: { "accept-encoding": "gzip" } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ enc: res.headers["content-encoding"], bytes: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
  });
  expect(raw.enc).toBe("gzip");
  expect(raw.bytes.length).toBeLessThan(body.length);
  expect(gunzipSync(raw.bytes).equals(body)).toBe(true);
});

test("/console redirects to /console/; unknown files are 404; other paths and methods fall through to the API", async () => {
  const redirect = await fetch(`${base}/console`, { redirect: "manual" });
  expect(redirect.status).toBe(302);
  expect(redirect.headers.get("location")).toBe("/console/");
  // Files are looked up by name among the built ones, so an encoded climb out of the folder finds nothing.
  expect((await fetch(`${base}/console/..%2F..%2Fpackage.json`)).status).toBe(404);
  const nope = await fetch(`${base}/console/secret.env`);
  expect(nope.status).toBe(404);
  expect(await nope.text()).toContain("/console/");
  expect(await (await fetch(`${base}/api/x`)).text()).toBe("api");
  expect(await (await fetch(`${base}/console/`, { method: "POST" })).text()).toBe("api");
});

test("a new build is served without a restart", async () => {
  const before = await (await fetch(`${base}/console/`)).text();
  // A build writes index.html last, with a new mtime.
  writeFileSync(path.join(dir, "app.js"), "console.log('新版本');");
  writeFileSync(path.join(dir, "index.html"), '<!doctype html><script type="module" src="./app.js?v=2"></script>');
  utimesSync(path.join(dir, "index.html"), new Date(), new Date(Date.now() + 5000));
  const after = await (await fetch(`${base}/console/`)).text();
  expect(after).not.toBe(before);
  expect(after).toContain("v=2");
  expect(await (await fetch(`${base}/console/app.js?v=2`)).text()).toBe("console.log('新版本');");
});
