// The admin console: the built web/dist files served at /console/. Assets are read once and kept in memory with a
// gzip copy (they are a few hundred KB in all); index.html is never cached so a new build reaches browsers at once.
import { readFile, readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Middleware } from "koa";
import type { ApiContextExt, ApiState } from "../types.ts";

export const CONSOLE_PATH = "/console";
const DIST = fileURLToPath(new URL("../../web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};
// Scripts and styles only from this origin; images may be the blob: URLs of complaint photos or a data: QR code.
const CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

async function loadAssets(dir: string): Promise<Map<string, Asset> | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  const assets = new Map<string, Asset>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = await readFile(join(dir, name));
    assets.set(name, { type, body, gzip: gzipSync(body) });
  }
  return assets.has("index.html") ? assets : null;
}

export function consoleStatic(dir = DIST): Middleware<ApiState, ApiContextExt> {
  let loading: Promise<Map<string, Asset> | null> | undefined;
  return async (ctx, next) => {
    if (ctx.path !== CONSOLE_PATH && !ctx.path.startsWith(`${CONSOLE_PATH}/`)) return next();
    if (ctx.method !== "GET" && ctx.method !== "HEAD") return next();
    if (ctx.path === CONSOLE_PATH) {
      ctx.redirect(`${CONSOLE_PATH}/`);
      return;
    }
    // A failed read (no build yet) is retried on the next request rather than remembered.
    loading ??= loadAssets(dir).then((a) => (a ? a : ((loading = undefined), null)));
    const assets = await loading;
    ctx.set("Content-Security-Policy", CSP);
    ctx.set("Referrer-Policy", "no-referrer");
    ctx.set("X-Frame-Options", "DENY");
    if (!assets) {
      ctx.status = 503;
      ctx.type = "text/plain; charset=utf-8";
      ctx.body = "控制台尚未构建：请在项目目录运行 npm run build 后刷新。";
      return;
    }
    const name = ctx.path.slice(CONSOLE_PATH.length + 1) || "index.html";
    const asset = assets.get(name);
    if (!asset) {
      ctx.status = 404;
      ctx.type = "text/plain; charset=utf-8";
      ctx.body = "页面不存在。控制台地址是 /console/。";
      return;
    }
    // Asset URLs carry the build's version (?v=…), so they may be cached; the page itself must not be.
    ctx.set("Cache-Control", name === "index.html" ? "no-cache" : "public, max-age=31536000, immutable");
    ctx.vary("Accept-Encoding");
    ctx.type = asset.type;
    if (ctx.acceptsEncodings("gzip", "identity") === "gzip") {
      ctx.set("Content-Encoding", "gzip");
      ctx.body = asset.gzip;
    } else ctx.body = asset.body;
  };
}
