// The outermost layers: a request id for every request, and one log line per request with its outcome.
import { randomUUID } from "node:crypto";
import type { ApiMiddleware } from "../types.ts";

/** Accept a caller's id (a proxy's or a client's) only when it is short and plain, so it is safe to log and echo. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(): ApiMiddleware {
  return async (ctx, next) => {
    const incoming = ctx.get("x-request-id");
    const id = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.state.log = ctx.deps.log.child({ requestId: id });
    ctx.set("X-Request-Id", id);
    await next();
  };
}

/**
 * One line per request: method, path (without the query string, which could carry codes or tokens), status,
 * duration, the error code when there was one, and who asked. Headers are never logged.
 */
export function requestLogger(): ApiMiddleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const principal = ctx.state.principal;
      const line = {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: Math.round(ms * 10) / 10,
        ...(ctx.state.errorCode ? { code: ctx.state.errorCode } : {}),
        ...(principal ? { actor: `${principal.kind}:${principal.id}` } : {}),
      };
      if (ctx.status >= 500) ctx.state.log.warn(line, "HTTP 请求失败");
      else ctx.state.log.info(line, "HTTP 请求");
    }
  };
}

/** Headers every answer gets: no MIME sniffing, and API answers (tokens, personal data) are never cached. */
export function baseHeaders(): ApiMiddleware {
  return async (ctx, next) => {
    ctx.set("X-Content-Type-Options", "nosniff");
    await next();
    if (!ctx.response.get("Cache-Control")) ctx.set("Cache-Control", "no-store");
  };
}
