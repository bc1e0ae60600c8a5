// The OpenAPI document and a browsable page for it. Swagger UI's assets are served from node_modules: the
// servers are offline, so no CDN.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { z } from "zod";
import { AppError } from "../../core/kernel/errors.ts";
import { generateOpenApiDocument } from "../openapi.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter } from "../validate.ts";

export const DOCS_PATH = "/api/docs";
export const OPENAPI_PATH = "/api/openapi.json";
const ASSETS_PATH = `${DOCS_PATH}/assets`;

const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
/** Only these files are served; the name never reaches the filesystem otherwise, so no path traversal. */
const ASSETS = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png", "favicon-16x16.png"]);

// Kept out of the HTML so the page works under a Content-Security-Policy without 'unsafe-inline' scripts.
const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: null, // the default validator is on the internet; these machines are offline
    presets: [SwaggerUIBundle.presets.apis],
  });
});
`;

const PAGE = `<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>netbranch 接口文档 / API docs</title>
  <link rel="icon" type="image/png" href="${ASSETS_PATH}/favicon-32x32.png">
  <link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css">
</head>
<body>
  <noscript>此页面需要启用 JavaScript。接口定义见 <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a>。</noscript>
  <div id="swagger-ui"></div>
  <script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

const CSP = "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

export function registerDocsRoutes(api: ApiRouter) {
  const { router, registry } = api;
  // Generated on first request, after every route has registered itself.
  let document: ReturnType<typeof generateOpenApiDocument> | undefined;

  router.get(OPENAPI_PATH, (ctx) => {
    document ??= generateOpenApiDocument(registry);
    ctx.body = document;
  });
  registry.registerPath({
    method: "get",
    path: OPENAPI_PATH,
    summary: "OpenAPI 3.1 文档 / this document",
    tags: ["docs"],
    responses: { 200: { description: "由 zod 定义生成的 OpenAPI 文档", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
  });

  router.get(DOCS_PATH, (ctx) => {
    ctx.set("Content-Security-Policy", CSP);
    ctx.type = "text/html; charset=utf-8";
    ctx.body = PAGE;
  });
  registry.registerPath({
    method: "get",
    path: DOCS_PATH,
    summary: "可浏览的接口文档 / browsable docs (Swagger UI)",
    tags: ["docs"],
    responses: { 200: { description: "HTML 页面", content: { "text/html": { schema: z.string() } } } },
  });

  router.get(`${DOCS_PATH}/init.js`, (ctx) => {
    ctx.type = "application/javascript; charset=utf-8";
    ctx.body = INIT_JS;
  });
  router.get(`${ASSETS_PATH}/:file`, (ctx) => serveAsset(ctx as unknown as ApiCtx));
}

async function serveAsset(ctx: ApiCtx) {
  const name = ctx.params.file;
  if (!ASSETS.has(name)) throw new AppError("NOT_FOUND", "文件不存在");
  const file = join(SWAGGER_DIR, name);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new AppError("NOT_FOUND", "文件不存在");
  ctx.type = extname(name);
  ctx.length = info.size;
  // The files only change with the package version; a day of caching keeps the page light on village links.
  ctx.set("Cache-Control", "public, max-age=86400");
  ctx.body = createReadStream(file);
}
