// Types shared by the API's middleware and routes.
import type Koa from "koa";
import type { RouterContext } from "@koa/router";
import type { AppContext } from "../core/context.ts";
import type { Logger } from "../core/log.ts";
import type { Principal } from "../core/auth/principal.ts";

/** Per-request state, filled in by the middleware chain (request id → logging → auth). */
export interface ApiState {
  requestId: string;
  /** Child logger carrying the request id. */
  log: Logger;
  /** Set by `authenticate`. */
  principal?: Principal;
  /** Set by the error handler, for the request log line. */
  errorCode?: string;
}

/** Added to every Koa context: the process-wide dependencies. */
export interface ApiContextExt {
  deps: AppContext;
}

export type ApiApp = Koa<ApiState, ApiContextExt>;
export type ApiCtx = RouterContext<ApiState, ApiContextExt>;
export type ApiMiddleware = (ctx: ApiCtx, next: () => Promise<unknown>) => Promise<unknown> | unknown;
