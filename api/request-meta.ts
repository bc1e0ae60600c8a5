import type { RequestMeta } from "../core/auth/login.ts";
import type { ApiCtx } from "./types.ts";

/** What core services record about an HTTP request (audit log, per-client limits). */
export function requestMeta(ctx: ApiCtx): RequestMeta {
  return { ip: ctx.ip, userAgent: ctx.get("user-agent") || undefined, requestId: ctx.state.requestId, channel: "api" };
}
