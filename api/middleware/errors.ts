// Turns every failure into {error:{code, message, requestId, ...}} with a Chinese message. Unknown errors become a
// generic 500; their stack goes to the log with the request id, never to the client.
import { AppError, errorBody, normalizeError } from "../../core/kernel/errors.ts";
import type { ApiMiddleware } from "../types.ts";

const routeNotFound = () => new AppError("NOT_FOUND", "请求的接口不存在，请检查地址");
const methodNotAllowed = () => new AppError("METHOD_NOT_ALLOWED");
const notImplemented = () => new AppError("NOT_IMPLEMENTED");

export function errorHandler(): ApiMiddleware {
  return async (ctx, next) => {
    try {
      await next();
      // The router leaves these statuses without a body (allowedMethods sets Allow for 405 itself).
      if (ctx.body == null) {
        if (ctx.status === 404) throw routeNotFound();
        if (ctx.status === 405) throw methodNotAllowed();
        if (ctx.status === 501) throw notImplemented();
      }
    } catch (e) {
      const err = normalizeError(e);
      const log = ctx.state.log ?? ctx.deps.log;
      if (err.status === 500) log.error({ err: err.cause ?? e, path: ctx.path }, "未处理的错误");
      else if (err.status >= 500) log.warn({ code: err.code, cause: causeMessage(err) }, "依赖服务不可用");

      ctx.state.errorCode = err.code;
      ctx.status = err.status;
      ctx.type = "application/json";
      ctx.body = errorBody(err, ctx.state.requestId);
      if (err.retryAfterSeconds !== undefined) ctx.set("Retry-After", String(err.retryAfterSeconds));
      if (err.status === 401) ctx.set("WWW-Authenticate", err.code === "TOKEN_MISSING" ? "Bearer" : 'Bearer error="invalid_token"');
      // Part of an oversized or broken body may still be unread on the socket: do not reuse the connection.
      if (err.status === 413 || err.code === "REQUEST_ABORTED") ctx.set("Connection", "close");
    }
  };
}

function causeMessage(err: AppError): string | undefined {
  const cause = err.cause as { message?: unknown } | undefined;
  return typeof cause?.message === "string" ? cause.message.split("\n")[0].slice(0, 300) : undefined;
}
