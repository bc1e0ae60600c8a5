// The reverse-WebSocket endpoint of OneBot v11: NapCat (or LLOneBot, Lagrange) connects to us at ONEBOT_WS_PATH on
// the API port with
//   X-Self-ID: <QQ number>   X-Client-Role: Universal (or Event / API)   Authorization: Bearer <token>
// (or ?access_token=<token>). The handshake is checked before the upgrade: a missing token is answered 401, a wrong
// one 403, an unknown account 404, so no event of a refused client is ever read. Several QQ accounts (bot adapters)
// can share one endpoint; each has its own token and is found by X-Self-ID.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Logger } from "../../core/log.ts";
import { ONEBOT_WS_PATH, type OneBotAdapter, type OneBotRole } from "./onebot.ts";

const hubs = new WeakMap<Server, OneBotReverseHub>();

const ROLES: Record<string, OneBotRole> = { universal: "Universal", event: "Event", api: "API" };

function sameSecret(a: string, b: string) {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** The token a client presented: `Authorization: Bearer x` (or `Token x`, as some implementations send), else `?access_token=`. */
export function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^(?:Bearer|Token)\s+(.+)$/i.exec(auth.trim());
    return m ? m[1].trim() : auth.trim();
  }
  return url.searchParams.get("access_token") ?? undefined;
}

export class OneBotReverseHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly adapters = new Set<OneBotAdapter>();
  private ownServer?: Server;

  private constructor(
    readonly server: Server,
    private readonly log: Logger,
    readonly path: string,
  ) {
    server.on("upgrade", (req, socket, head) => this.upgrade(req, socket, head));
  }

  /** The endpoint on an HTTP server this process already runs (the API's): one per server. */
  static on(server: Server, log: Logger, path = ONEBOT_WS_PATH): OneBotReverseHub {
    let hub = hubs.get(server);
    if (!hub) hubs.set(server, (hub = new OneBotReverseHub(server, log, path)));
    return hub;
  }

  /** A bot process without the API role listens on API_HOST:API_PORT itself, for the WebSocket only. */
  static async listen(host: string, port: number, log: Logger, path = ONEBOT_WS_PATH): Promise<OneBotReverseHub> {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new Error(`OneBot 反向 WebSocket 无法监听 ${host}:${port}：${err.code === "EADDRINUSE" ? "端口已被占用" : err.message}`, { cause: err })),
      );
      server.listen(port, host, () => resolve());
    });
    const hub = OneBotReverseHub.on(server, log, path);
    hub.ownServer = server;
    const addr = server.address() as AddressInfo;
    log.info({ url: `ws://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}${path}` }, "OneBot 反向 WebSocket 已监听");
    return hub;
  }

  /** ws://host:port/path of this endpoint as seen locally (tests, logs). */
  get url() {
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === "IPv6" ? `[${addr.address === "::" ? "::1" : addr.address}]` : addr.address === "0.0.0.0" ? "127.0.0.1" : addr.address;
    return `ws://${host}:${addr.port}${this.path}`;
  }

  register(adapter: OneBotAdapter): () => void {
    this.adapters.add(adapter);
    return () => {
      this.adapters.delete(adapter);
      if (this.ownServer && this.adapters.size === 0) void this.close();
    };
  }

  async close() {
    for (const ws of this.wss.clients) ws.terminate();
    const server = this.ownServer;
    if (!server) return;
    this.ownServer = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private refuse(socket: Duplex, status: number, reason: string, detail: Record<string, unknown>) {
    this.log.warn({ status, reason, ...detail }, "拒绝 OneBot 反向连接");
    const text = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }[status] ?? "Error";
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
    socket.destroy();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname.replace(/\/+$/, "") !== this.path) {
      // Not ours: with no other upgrade handler on this server, nobody would ever answer.
      if (this.server.listenerCount("upgrade") <= 1) socket.destroy();
      return;
    }
    const remote = req.socket.remoteAddress;
    const selfId = String(req.headers["x-self-id"] ?? "").trim();
    if (!/^\d{5,12}$/.test(selfId)) return this.refuse(socket, 400, "missing or invalid X-Self-ID", { remote });
    const role = ROLES[String(req.headers["x-client-role"] ?? "Universal").trim().toLowerCase()];
    if (!role) return this.refuse(socket, 400, "X-Client-Role must be Universal, Event or API", { remote, selfId });
    // The account configured for this QQ number, else one not tied to a number yet.
    const adapters = [...this.adapters];
    const adapter = adapters.find((a) => a.qq === selfId) ?? adapters.find((a) => !a.expectedSelfId && !a.isOnline());
    if (!adapter) return this.refuse(socket, 404, "no bot account for this X-Self-ID", { remote, selfId });
    const expected = adapter.accessToken;
    if (expected) {
      const token = presentedToken(req, url);
      if (!token) return this.refuse(socket, 401, "access token required", { remote, selfId, account: adapter.account });
      if (!sameSecret(token, expected)) return this.refuse(socket, 403, "wrong access token", { remote, selfId, account: adapter.account });
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.log.info({ account: adapter.account, selfId, role, remote, userAgent: req.headers["user-agent"] }, "OneBot 反向 WebSocket 已连接");
      adapter.attach(ws, role, selfId);
    });
  }
}
