// The admin console: the built web/dist files served at /console/. Assets are kept in memory with a gzip copy (a few
// hundred KB in all) and read again when a new build replaces index.html; the page itself is never cached by browsers,
// and asset URLs carry the build's version, so a rebuild reaches users on their next load without a restart.
import { readFile, readdir, stat } from "node:fs/promises";
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

/** `recheckMs`: how often, at most, a request looks whether index.html changed (a new build). */
export function consoleStatic(dir = DIST, recheckMs = 2000): Middleware<ApiState, ApiContextExt> {
  let current: { assets: Map<string, Asset>; mtimeMs: number } | null = null;
  let checkedAt = 0;
  let checking: Promise<void> | undefined;
  const refresh = async () => {
    const mtimeMs = await stat(join(dir, "index.html")).then((s) => s.mtimeMs, () => -1);
    if (mtimeMs < 0) current = null;
    else if (!current || current.mtimeMs !== mtimeMs) {
      const assets = await loadAssets(dir);
      current = assets ? { assets, mtimeMs } : null;
    }
    checkedAt = Date.now();
  };
  return async (ctx, next) => {
    if (ctx.path !== CONSOLE_PATH && !ctx.path.startsWith(`${CONSOLE_PATH}/`)) return next();
    if (ctx.method !== "GET" && ctx.method !== "HEAD") return next();
    if (ctx.path === CONSOLE_PATH) {
      ctx.redirect(`${CONSOLE_PATH}/`);
      return;
    }
    if (!current || Date.now() - checkedAt >= recheckMs) {
      checking ??= refresh().finally(() => (checking = undefined));
      await checking;
    }
    const assets = current?.assets;
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
