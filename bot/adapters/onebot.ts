// QQ through OneBot v11 (NapCat, LLOneBot, Lagrange.OneBot …), over WebSocket: either the implementation connects
// to us (reverse WS, served at ONEBOT_WS_PATH on the API port, see onebot-reverse.ts) or we connect to its server
// (forward WS, default port 6700) and reconnect with backoff. Either way one socket carries events to us and
// actions from us ({action, params, echo}), and responses come back matched by echo.
//
// Protocol facts used here: shared/notes/onebot-v11.md (botuniverse/onebot-11 and NapCat's implementation).
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { Logger } from "../../core/log.ts";
import { DEFAULT_UPLOAD_MAX_BYTES, fileTooLarge, readLimited, sniffImage } from "../../core/storage/images.ts";
import type { ChatAdapter, ChatMessage, ChatPerson, GroupEvent, LoginState, OutgoingFile, SendTarget } from "./types.ts";
import { SendError, type SendFailure } from "./types.ts";
import { outboundSegments, readSegments, toSegments, type Segment } from "./onebot-codec.ts";
import type { OneBotReverseHub } from "./onebot-reverse.ts";

/** Where the implementation connects in reverse mode (NapCat: 网络配置 → WebSocket 客户端 → URL). */
export const ONEBOT_WS_PATH = "/onebot/v11/ws";

export type OneBotRole = "Universal" | "Event" | "API";

export type OneBotTransport =
  | { kind: "reverse"; hub: OneBotReverseHub }
  | { kind: "forward"; url: string; reconnectMinMs?: number; reconnectMaxMs?: number };

export interface OneBotAdapterOptions {
  account: string;
  transport: OneBotTransport;
  /** The token both sides share (ONEBOT_ACCESS_TOKEN); reverse mode refuses a socket without it. */
  accessToken?: string;
  /** The QQ number this account must be (ONEBOT_SELF_ID); unset: whichever account connects first. */
  selfId?: string;
  log: Logger;
  /** How long an action may go unanswered (default 15 s). */
  actionTimeoutMs?: number;
  /** Heartbeat intervals of silence after which the link is dead (default 3). */
  deadAfterBeats?: number;
  /** Largest picture fetched from a message (default 10 MiB). */
  maxImageBytes?: number;
  /** WebSocket ping period, the dead-link check when the implementation sends no heartbeats (default 30 s). */
  pingMs?: number;
}

/** A failed action: the response's status/retcode/message, or our own timeout / a closed socket. */
export class OneBotActionError extends Error {
  constructor(
    readonly action: string,
    readonly kind: "failed" | "timeout" | "closed",
    readonly retcode: number | null,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  action: string;
  /** The socket the request went out on: if it closes, no answer will come. */
  ws: WebSocket;
  resolve: (data: unknown) => void;
  reject: (e: OneBotActionError) => void;
  timer: NodeJS.Timeout;
}

interface Link {
  ws: WebSocket;
  role: OneBotRole;
}

/**
 * The failure class of a failed send (see bot/sender.ts). NapCat answers a send that QQ's risk control swallowed with
 * retcode 1200 and "Timeout: NTEvent … sendMsg" (NapCatQQ#788, #808, #1410), and a send nobody answers at all may be
 * the same thing: both back off hard instead of retrying at once.
 */
export function sendFailureOf(e: OneBotActionError): SendFailure {
  if (e.kind === "closed") return "offline";
  if (e.kind === "timeout") return "rate_limited";
  const text = e.message;
  if (/风控|频繁|frequen|rate.?limit|too many|Timeout.*sendMsg|sendMsg.*timeout/i.test(text)) return "rate_limited";
  if (/禁言|mute|shut ?up/i.test(text)) return "transient";
  if (/不存在|不在|找不到|not (?:found|exist)|no such|not in group|被移出|kick|removed|invalid group|非群成员/i.test(text)) return "not_found";
  if (e.retcode === 1401 || e.retcode === 1403) return "offline";
  if (e.retcode === 1400 || e.retcode === 1404 || e.retcode === 1406) return "permanent";
  return "transient";
}

const num = (v: unknown) => (typeof v === "number" || typeof v === "string" ? String(v) : "");

export class OneBotAdapter implements ChatAdapter {
  readonly channel = "QQ" as const;
  readonly account: string;
  /** QQ takes long texts (a few thousand characters); stay well below so every part renders as one bubble. */
  readonly maxTextLength = 3000;
  private links = new Set<Link>();
  private pending = new Map<string, Pending>();
  private handler?: (m: ChatMessage) => Promise<void>;
  private eventHandler?: (e: GroupEvent) => Promise<void>;
  private stateHandler?: (s: LoginState) => void;
  private selfId?: string;
  private selfName = "";
  private loggedIn = false;
  /** The implementation's own view (heartbeat status.online): false while QQ itself is logged out. */
  private qqOnline = true;
  private stopping = false;
  private lastState?: string;
  private watchdog?: NodeJS.Timeout;
  private heartbeatMs?: number;
  private lastFrameAt = Date.now();
  private groupNames = new Map<string, string>();
  private unregister?: () => void;
  private reconnectTimer?: NodeJS.Timeout;
  private forwardSocket?: WebSocket;
  /** The implementation answered our last forward connection with a token error: keep backing off. */
  private tokenRefused = false;
  private seq = 0;
  private readonly log: Logger;

  constructor(private readonly opts: OneBotAdapterOptions) {
    this.account = opts.account;
    this.selfId = opts.selfId;
    this.log = opts.log;
  }

  /** The QQ number this adapter serves (from config, the handshake, or get_login_info). */
  get qq() {
    return this.selfId;
  }
  get expectedSelfId() {
    return this.opts.selfId;
  }
  get accessToken() {
    return this.opts.accessToken;
  }

  onMessage(handler: (m: ChatMessage) => Promise<void>) {
    this.handler = handler;
  }
  onGroupEvent(handler: (e: GroupEvent) => Promise<void>) {
    this.eventHandler = handler;
  }
  onLoginState(handler: (s: LoginState) => void) {
    this.stateHandler = handler;
  }

  isOnline() {
    return this.loggedIn && this.qqOnline && this.apiLink() !== undefined;
  }

  async start() {
    this.stopping = false;
    if (this.opts.transport.kind === "reverse") this.unregister = this.opts.transport.hub.register(this);
    else this.connectForward(0);
  }

  async stop() {
    this.stopping = true;
    this.unregister?.();
    this.unregister = undefined;
    clearTimeout(this.reconnectTimer);
    this.clearWatchdog();
    const closing = [...this.links].map(
      (l) =>
        new Promise<void>((resolve) => {
          if (l.ws.readyState === WebSocket.CLOSED) return resolve();
          l.ws.once("close", () => resolve());
          l.ws.close(1001, "server stopping");
          setTimeout(() => {
            l.ws.terminate();
            resolve();
          }, 2_000).unref();
        }),
    );
    this.forwardSocket?.terminate();
    await Promise.all(closing);
    this.links.clear();
    this.failPending("closed", "连接已关闭");
    this.setOffline("stopped");
  }

  // ---- transports ----

  /** A socket the reverse hub accepted for this account (token and X-Self-ID already checked). */
  attach(ws: WebSocket, role: OneBotRole, selfId: string) {
    if (this.stopping) {
      ws.close(1001, "server stopping");
      return;
    }
    if (this.selfId && this.selfId !== selfId) {
      this.log.warn({ account: this.account, expected: this.selfId, got: selfId }, "QQ 账号与配置不符，已改用新连接的账号");
    }
    this.selfId = selfId;
    // A reconnect replaces the old socket of the same role (NapCat reconnects before our side noticed the drop).
    for (const l of this.links) {
      if (l.role === role || role === "Universal" || l.role === "Universal") {
        this.links.delete(l);
        this.failPending("closed", "连接已被新连接取代", l.ws);
        l.ws.terminate();
      }
    }
    this.adopt(ws, role);
  }

  private connectForward(attempt: number) {
    if (this.stopping || this.opts.transport.kind !== "forward") return;
    const { url } = this.opts.transport;
    const ws = new WebSocket(url, {
      headers: this.opts.accessToken ? { Authorization: `Bearer ${this.opts.accessToken}` } : {},
      handshakeTimeout: 10_000,
    });
    this.forwardSocket = ws;
    this.tokenRefused = false;
    let opened = false;
    ws.on("open", () => {
      opened = true;
      this.log.info({ account: this.account, url }, "已连接 OneBot 服务端（正向 WebSocket）");
      this.adopt(ws, "Universal");
    });
    ws.on("error", (err) => {
      if (!opened) this.log.warn({ account: this.account, url, err: err.message, attempt }, "连接 OneBot 服务端失败，稍后重试");
    });
    ws.on("close", () => {
      if (this.forwardSocket === ws) this.forwardSocket = undefined;
      if (this.stopping) return;
      // A link that worked starts the backoff over; a refused token or a failed dial backs off further.
      const next = opened && !this.tokenRefused ? 0 : attempt + 1;
      const { reconnectMinMs = 1_000, reconnectMaxMs = 30_000 } = this.opts.transport as Extract<OneBotTransport, { kind: "forward" }>;
      const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(next, 16));
      const delay = Math.round(base / 2 + Math.random() * (base / 2));
      this.reconnectTimer = setTimeout(() => this.connectForward(next), delay);
      this.reconnectTimer.unref?.();
    });
  }

  private adopt(ws: WebSocket, role: OneBotRole) {
    // A new link starts from what it reports: a heartbeat that said "QQ offline" on the old one does not stick.
    this.qqOnline = true;
    const link: Link = { ws, role };
    this.links.add(link);
    ws.on("message", (data) => this.onFrame(data.toString()));
    // Without heartbeats (disabled in NapCat) a hung link would go unnoticed: ping it, and give up after 3 silent pings.
    const pingMs = this.opts.pingMs ?? 30_000;
    ws.on("pong", () => (this.lastFrameAt = Date.now()));
    const pinger = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN || this.heartbeatMs) return;
      if (Date.now() - this.lastFrameAt > 3 * pingMs) return this.dead(Date.now() - this.lastFrameAt);
      ws.ping();
    }, pingMs);
    pinger.unref?.();
    ws.on("close", () => {
      clearInterval(pinger);
      this.failPending("closed", "连接已断开", ws);
      if (!this.links.delete(link)) return;
      if (!this.apiLink()) this.setOffline("disconnected");
    });
    ws.on("error", (err) => this.log.warn({ account: this.account, err: err.message }, "OneBot 连接出错"));
    this.lastFrameAt = Date.now();
    this.touch();
    if (role !== "Event") void this.login();
  }

  /** get_login_info on every connect: who we are now (the implementation may have been logged into another QQ). */
  private async login() {
    try {
      const info = (await this.call("get_login_info", {})) as { user_id?: unknown; nickname?: unknown } | null;
      const id = num(info?.user_id);
      if (id) this.selfId = id;
      this.selfName = typeof info?.nickname === "string" ? info.nickname : this.selfName;
    } catch (e) {
      this.log.warn({ account: this.account, err: (e as Error).message }, "get_login_info 失败，沿用握手中的 QQ 号");
    }
    if (!this.apiLink()) return;
    this.loggedIn = true;
    this.log.info({ account: this.account, qq: this.selfId, nickname: this.selfName }, "QQ 账号已连接");
    this.emitState({ status: "ONLINE", selfId: this.selfId, selfName: this.selfName });
  }

  private apiLink(): Link | undefined {
    for (const l of this.links) if (l.role !== "Event" && l.ws.readyState === WebSocket.OPEN) return l;
    return undefined;
  }

  private setOffline(reason: string) {
    const was = this.loggedIn;
    this.loggedIn = false;
    this.clearWatchdog();
    if (was || reason === "heartbeat") this.emitState({ status: "OFFLINE", reason });
  }

  private emitState(s: LoginState) {
    const key = `${s.status}:${s.selfId ?? ""}`;
    if (key === this.lastState && s.status !== "ONLINE") return;
    this.lastState = key;
    try {
      this.stateHandler?.(s);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "处理账号状态失败");
    }
  }

  // ---- dead-link detection ----

  /** Any frame proves the link alive; after a heartbeat told us its interval, silence for N intervals kills it. */
  private touch() {
    if (!this.heartbeatMs) return;
    this.clearWatchdog();
    const limit = this.heartbeatMs * (this.opts.deadAfterBeats ?? 3);
    this.watchdog = setTimeout(() => this.dead(limit), limit);
    this.watchdog.unref?.();
  }

  private clearWatchdog() {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private dead(silentMs: number) {
    if (this.stopping) return;
    this.log.error({ account: this.account, qq: this.selfId, silentMs }, "QQ 连接心跳超时，视为断开：账号离线，消息暂存待发");
    const links = [...this.links];
    this.links.clear();
    this.heartbeatMs = undefined;
    this.failPending("closed", "心跳超时，连接已断开");
    this.setOffline("heartbeat");
    // Closing makes NapCat reconnect (reverse) and our forward loop dial again.
    for (const l of links) l.ws.terminate();
  }

  // ---- frames ----

  private onFrame(raw: string) {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(raw);
    } catch {
      this.log.warn({ account: this.account, frame: raw.slice(0, 200) }, "OneBot 发来无法解析的数据");
      return;
    }
    this.lastFrameAt = Date.now();
    this.touch();
    if (frame.post_type === undefined && ("echo" in frame || "retcode" in frame)) return this.onResponse(frame);
    switch (frame.post_type) {
      case "meta_event":
        return this.onMeta(frame);
      case "message":
        return void this.onMessageEvent(frame).catch((err) => this.log.error({ err, account: this.account }, "处理消息失败"));
      case "notice":
        return void this.onNotice(frame).catch((err) => this.log.error({ err, account: this.account }, "处理群事件失败"));
      default:
        return; // message_sent (our own messages echoed back), request (friend/group requests): not ours
    }
  }

  private onResponse(frame: Record<string, unknown>) {
    const echo = typeof frame.echo === "string" ? frame.echo : undefined;
    const p = echo ? this.pending.get(echo) : undefined;
    if (!p) {
      // NapCat's answer to a bad token on its own server: {status: failed, retcode: 1403, echo: null}, then it closes.
      if (frame.status === "failed") {
        if (frame.retcode === 1401 || frame.retcode === 1403) this.tokenRefused = true;
        this.log.error({ account: this.account, retcode: frame.retcode, message: frame.message }, "OneBot 拒绝了请求（令牌错误？）");
      }
      return;
    }
    this.pending.delete(echo!);
    clearTimeout(p.timer);
    if (frame.status === "ok" || frame.status === "async" || frame.retcode === 0 || frame.retcode === 1) p.resolve(frame.data ?? null);
    else {
      const text = [frame.message, frame.wording, frame.msg].find((v) => typeof v === "string" && v) as string | undefined;
      p.reject(new OneBotActionError(p.action, "failed", typeof frame.retcode === "number" ? frame.retcode : null, text ?? `retcode ${String(frame.retcode)}`));
    }
  }

  private onMeta(frame: Record<string, unknown>) {
    if (frame.meta_event_type === "heartbeat") {
      const interval = Number(frame.interval);
      if (Number.isFinite(interval) && interval > 0) {
        this.heartbeatMs = interval;
        this.touch();
      }
      const status = frame.status as { online?: boolean } | undefined;
      const online = status?.online !== false;
      if (online !== this.qqOnline) {
        this.qqOnline = online;
        if (!online) {
          this.log.error({ account: this.account, qq: this.selfId }, "OneBot 报告 QQ 已离线");
          this.emitState({ status: "OFFLINE", reason: "qq-offline" });
        } else if (this.loggedIn) this.emitState({ status: "ONLINE", selfId: this.selfId, selfName: this.selfName });
      }
    } else if (frame.meta_event_type === "lifecycle") {
      this.log.info({ account: this.account, sub_type: frame.sub_type }, "OneBot 生命周期事件");
    }
  }

  private async onMessageEvent(ev: Record<string, unknown>) {
    if (!this.handler) return;
    const selfId = num(ev.self_id) || this.selfId;
    const userId = num(ev.user_id);
    if (!userId || userId === selfId) return;
    const isGroup = ev.message_type === "group";
    // Anonymous messages and system hints inside a group have no person behind them we could answer.
    if (isGroup && (ev.sub_type === "anonymous" || ev.sub_type === "notice" || ev.anonymous)) return;
    if (!isGroup && ev.message_type !== "private") return;
    const segments = toSegments(ev.message);
    const read = readSegments(segments, selfId);
    const sender = (ev.sender ?? {}) as { nickname?: string; card?: string };
    const groupId = num(ev.group_id);
    // Group message events carry the name only in newer NapCat versions: else ask once (get_group_info) and remember.
    const topic = !isGroup ? undefined : typeof ev.group_name === "string" && ev.group_name ? ev.group_name : await this.groupName(groupId);
    if (topic) this.groupNames.set(groupId, topic);
    const base = {
      channel: "QQ" as const,
      account: this.account,
      conversation: isGroup ? { kind: "group" as const, groupId, topic } : { kind: "private" as const },
      sender: { platformUserId: userId, displayName: sender.card || sender.nickname || userId },
      platformMessageId: ev.message_id !== undefined ? num(ev.message_id) : undefined,
      at: typeof ev.time === "number" ? new Date(ev.time * 1000) : new Date(),
    };
    let message: ChatMessage;
    if (read.text || !read.images.length) {
      if (!read.text && !read.mentionsMe) return;
      message = { ...base, kind: "text", text: read.text, mentions: read.mentions, mentionsMe: read.mentionsMe };
    } else {
      message = { ...base, kind: "image", text: "", mentions: [], mentionsMe: false, image: { fetch: this.imageFetcher(read.images[0], base.platformMessageId ?? randomUUID()) } };
    }
    await this.handler(message);
  }

  private async onNotice(ev: Record<string, unknown>) {
    if (!this.eventHandler) return;
    const groupId = num(ev.group_id);
    const userId = num(ev.user_id);
    const selfId = num(ev.self_id) || this.selfId;
    const emit = (e: Omit<GroupEvent, "channel" | "account" | "at">) =>
      this.eventHandler!({ ...e, channel: "QQ", account: this.account, at: typeof ev.time === "number" ? new Date(ev.time * 1000) : new Date() });
    switch (ev.notice_type) {
      case "group_increase": {
        if (userId === selfId) return emit({ kind: "bot_joined", groupId, topic: await this.groupName(groupId), members: [] });
        return emit({ kind: "members_joined", groupId, members: [await this.person(groupId, userId)] });
      }
      case "group_decrease": {
        if (ev.sub_type === "kick_me" || userId === selfId) return emit({ kind: "bot_removed", groupId, members: [] });
        return emit({ kind: "members_left", groupId, members: [{ platformUserId: userId, displayName: userId }] });
      }
      case "notify":
        // NapCat: the group was renamed.
        if (ev.sub_type === "group_name" && typeof ev.name_new === "string") {
          this.groupNames.set(groupId, ev.name_new);
          return emit({ kind: "topic_changed", groupId, topic: ev.name_new, members: [] });
        }
        return;
      default:
        return;
    }
  }

  /** The group's name, from cache or get_group_info (asked once per group; undefined when unknown). */
  private async groupName(groupId: string): Promise<string | undefined> {
    if (this.groupNames.has(groupId)) return this.groupNames.get(groupId) || undefined;
    try {
      const g = (await this.call("get_group_info", { group_id: Number(groupId) }, 5_000)) as { group_name?: unknown } | null;
      const name = typeof g?.group_name === "string" ? g.group_name : "";
      this.groupNames.set(groupId, name);
      return name || undefined;
    } catch {
      this.groupNames.set(groupId, "");
      return undefined;
    }
  }

  /** A newcomer's group card or nickname, best effort (the notice carries only the number). */
  private async person(groupId: string, userId: string): Promise<ChatPerson> {
    try {
      const m = (await this.call("get_group_member_info", { group_id: Number(groupId), user_id: Number(userId) }, 5_000)) as { card?: string; nickname?: string } | null;
      return { platformUserId: userId, displayName: m?.card || m?.nickname || userId };
    } catch {
      return { platformUserId: userId, displayName: userId };
    }
  }

  /** Downloads lazily, at most once per message (a failed download may be tried again), never past the cap. */
  private imageFetcher(img: { url?: string; file?: string }, id: string) {
    const max = this.opts.maxImageBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
    let pending: Promise<{ data: Buffer; mime: string; name: string }> | undefined;
    const download = async () => {
      const src = [img.url, img.file].find((s) => s && /^(https?:\/\/|base64:\/\/)/.test(s));
      if (!src) throw new Error("图片没有可下载的地址");
      let data: Buffer;
      let declared: string | undefined;
      if (src.startsWith("base64://")) {
        data = Buffer.from(src.slice("base64://".length), "base64");
        if (data.length > max) throw fileTooLarge(max, data.length);
      } else {
        const res = await fetch(src, { signal: AbortSignal.timeout(30_000) });
        if (!res.ok || !res.body) throw new Error(`下载图片失败：HTTP ${res.status}`);
        const size = Number(res.headers.get("content-length") ?? -1);
        if (size > max) throw fileTooLarge(max, size);
        data = await readLimited(res.body as unknown as AsyncIterable<Uint8Array>, max);
        declared = res.headers.get("content-type") ?? undefined;
      }
      const sniffed = sniffImage(data);
      return { data, mime: sniffed?.mime ?? declared ?? "application/octet-stream", name: `${id}.${sniffed?.ext ?? "bin"}` };
    };
    return () =>
      (pending ??= download().catch((e) => {
        pending = undefined;
        throw e;
      }));
  }

  // ---- actions ----

  /** Sends an action and waits for the response with the same echo. */
  call(action: string, params: Record<string, unknown>, timeoutMs = this.opts.actionTimeoutMs ?? 15_000): Promise<unknown> {
    const link = this.apiLink();
    if (!link) return Promise.reject(new OneBotActionError(action, "closed", null, "QQ 未连接"));
    const echo = `nb:${this.account}:${++this.seq}:${randomUUID().slice(0, 8)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(echo);
        reject(new OneBotActionError(action, "timeout", null, `${action} 在 ${timeoutMs} ms 内没有回应`));
      }, timeoutMs);
      this.pending.set(echo, { action, ws: link.ws, resolve, reject, timer });
      link.ws.send(JSON.stringify({ action, params, echo }), (err) => {
        if (!err) return;
        const p = this.pending.get(echo);
        if (!p) return;
        this.pending.delete(echo);
        clearTimeout(p.timer);
        reject(new OneBotActionError(action, "closed", null, err.message));
      });
    });
  }

  private failPending(kind: "closed", message: string, ws?: WebSocket) {
    for (const [echo, p] of this.pending) {
      if (ws && p.ws !== ws) continue;
      clearTimeout(p.timer);
      this.pending.delete(echo);
      p.reject(new OneBotActionError(p.action, kind, null, message));
    }
  }

  async groups() {
    const list = (await this.call("get_group_list", {})) as { group_id: unknown; group_name?: string }[] | null;
    return (list ?? []).map((g) => {
      const groupId = num(g.group_id);
      if (g.group_name) this.groupNames.set(groupId, g.group_name);
      return { groupId, topic: g.group_name ?? "" };
    });
  }

  async groupMembers(groupId: string): Promise<ChatPerson[]> {
    const list = (await this.call("get_group_member_list", { group_id: Number(groupId) })) as { user_id: unknown; card?: string; nickname?: string }[] | null;
    return (list ?? [])
      .map((m) => ({ platformUserId: num(m.user_id), displayName: m.card || m.nickname || num(m.user_id) }))
      .filter((m) => m.platformUserId && m.platformUserId !== this.selfId);
  }

  /** The segments send() puts on the wire (exposed for tests and logs). */
  static segmentsFor(text: string, mentions: string[] = []): Segment[] {
    return outboundSegments(text, mentions);
  }

  async send(target: SendTarget, text: string, opts: { mentions?: string[] } = {}) {
    if (!this.isOnline()) throw new SendError("offline", "QQ 账号未连接");
    const message = outboundSegments(text, target.kind === "group" ? (opts.mentions ?? []) : []);
    const [action, params] =
      target.kind === "group"
        ? (["send_group_msg", { group_id: Number(target.groupId), message }] as const)
        : (["send_private_msg", { user_id: Number(target.userId), message }] as const);
    return this.sendAction(action, params);
  }

  /**
   * A picture goes inline as an image segment (base64://, so NapCat needs no access to our files); any other file
   * through upload_group_file / upload_private_file (NapCat, LLOneBot and Lagrange extensions to v11).
   */
  async sendFile(target: SendTarget, file: OutgoingFile) {
    if (!this.isOnline()) throw new SendError("offline", "QQ 账号未连接");
    const data = `base64://${file.data.toString("base64")}`;
    const image = file.kind === "image" || (!file.kind && /^image\//.test(file.mimeType ?? ""));
    // Uploads of a few MB over a county uplink are slow: a minute plus 10 s per MB.
    const timeout = Math.max(this.opts.actionTimeoutMs ?? 15_000, 60_000 + Math.ceil(file.data.length / 1_000_000) * 10_000);
    if (image) {
      const message = [{ type: "image", data: { file: data, name: file.name } }];
      return target.kind === "group"
        ? this.sendAction("send_group_msg", { group_id: Number(target.groupId), message }, timeout)
        : this.sendAction("send_private_msg", { user_id: Number(target.userId), message }, timeout);
    }
    return target.kind === "group"
      ? this.sendAction("upload_group_file", { group_id: Number(target.groupId), file: data, name: file.name }, timeout)
      : this.sendAction("upload_private_file", { user_id: Number(target.userId), file: data, name: file.name }, timeout);
  }

  private async sendAction(action: string, params: Record<string, unknown>, timeoutMs?: number) {
    const isFile = timeoutMs !== undefined;
    try {
      const data = (await this.call(action, params, timeoutMs)) as { message_id?: unknown } | null;
      return { platformMessageId: data?.message_id !== undefined && data?.message_id !== null ? num(data.message_id) : undefined };
    } catch (e) {
      if (!(e instanceof OneBotActionError)) throw new SendError("transient", String((e as Error)?.message ?? e));
      // An upload that outlived our wait is not risk control: its outcome is unknown (NapCat often finishes it). It
      // is retried as an ordinary failure that spends an attempt, so it gives up after maxAttempts instead of
      // cooling the account down and uploading again forever.
      const failure = isFile && e.kind === "timeout" ? "transient" : sendFailureOf(e);
      throw new SendError(failure, `${action}: ${e.kind === "failed" ? `retcode ${e.retcode ?? "?"} ` : ""}${e.message}`);
    }
  }
}
