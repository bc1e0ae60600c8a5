// The HTTP API. The middleware order below is the whole request pipeline, top to bottom:
//   request id → logging → headers → error mapping → body → [per route: auth → validation → handler]
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import type { AppContext } from "../core/context.ts";
import { createMiniProgramClient, type MiniProgramClient } from "../core/wechat/miniprogram.ts";
import { jsonBody } from "./middleware/body.ts";
import { errorHandler } from "./middleware/errors.ts";
import { baseHeaders, requestId, requestLogger } from "./middleware/request.ts";
import { registerAccountRoutes } from "./routes/accounts.ts";
import { registerAuthRoutes } from "./routes/auth.ts";
import { registerBroadcastRoutes } from "./routes/broadcasts.ts";
import { registerCalendarRoutes } from "./routes/calendar.ts";
import { registerCalendarReportRoutes } from "./routes/calendar-reports.ts";
import { registerComplaintRoutes } from "./routes/complaints.ts";
import { consoleStatic } from "./routes/console.ts";
import { registerDocsRoutes } from "./routes/docs.ts";
import { registerGroupRoutes } from "./routes/groups.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerMeetingRoutes } from "./routes/meetings.ts";
import { registerMpRoutes } from "./routes/mp.ts";
import { registerNoticeRoutes } from "./routes/notices.ts";
import { registerOrgRoutes } from "./routes/org.ts";
import { registerQrPageRoutes } from "./routes/qr-page.ts";
import { registerReportTrendRoutes } from "./routes/reports-trend.ts";
import { registerRosterRoutes } from "./routes/roster.ts";
import { registerCadreRoutes } from "./routes/cadres.ts";
import { registerMemberRoutes } from "./routes/members.ts";
import { registerBindCodeRoutes } from "./routes/bind-codes.ts";
import type { ApiApp, ApiContextExt, ApiState } from "./types.ts";
import { createApiRouter } from "./validate.ts";

export interface ApiOptions {
  /** Replaces the code2Session client built from config (another transport, a different timeout). */
  miniProgram?: MiniProgramClient;
  /** Timeout for calls to WeChat when the client is built from config. */
  wechatTimeoutMs?: number;
}

export function createApp(deps: AppContext, options: ApiOptions = {}): ApiApp {
  const app: ApiApp = new Koa<ApiState, ApiContextExt>();
  app.context.deps = deps;
  app.proxy = deps.config.API_TRUST_PROXY;
  // Every error is answered by errorHandler; this only sees failures outside a request's chain (socket errors).
  app.silent = true;
  app.on("error", (err: Error) => deps.log.warn({ err: err.message }, "HTTP 连接出错"));

  const api = createApiRouter();
  registerHealthRoutes(api);
  registerAuthRoutes(api);
  registerMpRoutes(api, options.miniProgram ?? createMiniProgramClient(deps.config, deps.log, { timeoutMs: options.wechatTimeoutMs }));
  registerOrgRoutes(api);
  registerAccountRoutes(api);
  registerGroupRoutes(api);
  registerMeetingRoutes(api);
  registerComplaintRoutes(api);
  registerNoticeRoutes(api);
  registerBroadcastRoutes(api);
  registerQrPageRoutes(api);
  registerCalendarRoutes(api);
  registerCalendarReportRoutes(api);
  registerReportTrendRoutes(api);
  registerRosterRoutes(api);
  registerCadreRoutes(api);
  registerMemberRoutes(api);
  registerBindCodeRoutes(api);
  registerDocsRoutes(api);

  app.use(requestId());
  app.use(requestLogger());
  app.use(baseHeaders());
  app.use(errorHandler());
  app.use(consoleStatic());
  app.use(jsonBody(deps.config.API_BODY_LIMIT));
  app.use(api.router.routes());
  app.use(api.router.allowedMethods());
  return app;
}

export interface RunningApi {
  server: Server;
  /** Where the API listens, with the real port when API_PORT was 0. */
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on API_HOST:API_PORT. Start it before waiting for the database (db.connect() retries with backoff), so
 * /healthz answers and /readyz reports 503 NOT_READY while the database is still down.
 */
export async function startApi(deps: AppContext, options: ApiOptions = {}): Promise<RunningApi> {
  const { API_HOST: host, API_PORT: port } = deps.config;
  const server = createServer(createApp(deps, options).callback());
  // Slow-loris protection: a client must send its headers within 15 s and the whole request within 30 s.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const reason =
        err.code === "EADDRINUSE" ? `端口 ${port} 已被占用` : err.code === "EACCES" ? `无权监听端口 ${port}` : err.code === "EADDRNOTAVAIL" ? `地址 ${host} 不可用` : err.message;
      reject(new Error(`API 无法启动：${reason}（API_HOST=${host}，API_PORT=${port}）`, { cause: err }));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });

  const address = server.address() as AddressInfo;
  const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : address.family === "IPv6" ? `[${address.address}]` : host;
  const url = `http://${shownHost}:${address.port}`;
  deps.log.info({ url, host, port: address.port }, "API 已启动");

  let closing: Promise<void> | undefined;
  return {
    server,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets would hold close() open until they time out; in-flight requests may finish.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      });
      return closing;
    },
  };
}
