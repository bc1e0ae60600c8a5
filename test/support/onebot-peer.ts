// A OneBot v11 implementation as NapCat behaves, for tests: the other end of our QQ adapter, never a double of our
// own code. It speaks both transports:
//   reverse: it is a WebSocket client with NapCat's handshake headers (x-self-id, x-client-role: Universal,
//            user-agent OneBot/11, Authorization: Bearer), sends lifecycle "connect" first, heartbeats every
//            `heartbeatMs`, and reconnects every `reconnectMs` after a drop (NapCat's reconnectInterval);
//   forward: it is the WebSocket server (port 6700 in NapCat), checks the token from the header or ?access_token=,
//            answers a bad one with {status: failed, retcode: 1403, message: "token验证失败"} and closes.
// Every frame it sends is built by a function typed against node-napcat-ts (a third-party OneBot/NapCat client), so a
// field renamed or mistyped here fails the typecheck; test/onebot-contract.test.ts also feeds the same frames to that
// library at run time. Action frames it receives are validated the way NapCat reads them (wrong shapes become
// retcode 1400 and are listed in `violations`).
import WebSocket, { WebSocketServer } from "ws";
import type { AddressInfo } from "node:net";
import type {
  GroupDecreaseKickMe,
  GroupDecreaseLeave,
  GroupIncreaseApprove,
  GroupMessage,
  HeartBeat,
  LifeCycleConnect,
  PrivateFriendMessage,
  WSSendReturn,
} from "node-napcat-ts";
import { convertJSONToCQCode } from "node-napcat-ts";

/** A frame as it travels (the library adds quick_action on its side). */
type Wire<T> = Omit<T, "quick_action">;
export type Seg = { type: string; data: Record<string, unknown> };

export interface PeerMember {
  user_id: number;
  nickname: string;
  card: string;
  role: "owner" | "admin" | "member";
}
export interface PeerGroup {
  group_id: number;
  group_name: string;
  members: PeerMember[];
}

export interface SentMessage {
  action: "send_group_msg" | "send_private_msg" | "send_msg";
  group_id?: number;
  user_id?: number;
  message: Seg[];
  /** Text segments joined (what a person reads, without the @s). */
  text: string;
  mentions: string[];
  message_id: number;
}

type Reply = { status: "ok" | "async" | "failed"; retcode: number; data: unknown; message?: string; wording?: string };
export type Responder = (params: Record<string, unknown>) => Reply | "silence";

export interface PeerOptions {
  selfId: number;
  nickname?: string;
  token?: string;
  /** 0: no heartbeats. */
  heartbeatMs?: number;
  /** How messages are posted: NapCat's messagePostFormat. */
  messageFormat?: "array" | "string";
  /** Reverse transport: reconnect this long after a drop (NapCat: reconnectInterval); 0 = never. */
  reconnectMs?: number;
  groups?: PeerGroup[];
}

const now = () => Math.floor(Date.now() / 1000);

// ---- frames (typed by node-napcat-ts) ----

export function lifecycleConnect(selfId: number): Wire<LifeCycleConnect> {
  return { time: now(), self_id: selfId, post_type: "meta_event", meta_event_type: "lifecycle", sub_type: "connect" };
}

export function heartbeat(selfId: number, interval: number, online = true): Wire<HeartBeat> {
  return { time: now(), self_id: selfId, post_type: "meta_event", meta_event_type: "heartbeat", status: { online, good: online }, interval };
}

type GroupMessageWire = Wire<GroupMessage> | (Omit<Wire<GroupMessage>, "message" | "message_format"> & { message: string; message_format: "string" });

export function groupMessage(
  selfId: number,
  id: number,
  group: PeerGroup,
  member: PeerMember,
  message: Seg[],
  format: "array" | "string",
): GroupMessageWire {
  const raw = convertJSONToCQCode(message);
  const base = {
    self_id: selfId,
    user_id: member.user_id,
    time: now(),
    message_id: id,
    message_seq: id,
    real_id: id,
    message_type: "group" as const,
    sender: { user_id: member.user_id, nickname: member.nickname, card: member.card, role: member.role },
    raw_message: raw,
    font: 14,
    sub_type: "normal" as const,
    post_type: "message" as const,
    group_id: group.group_id,
  };
  if (format === "string") return { ...base, message: cqString(message), message_format: "string" };
  return { ...base, message: message as Wire<GroupMessage>["message"], message_format: "array" };
}

export function privateMessage(selfId: number, id: number, user: { user_id: number; nickname: string }, message: Seg[], format: "array" | "string") {
  const frame: Wire<PrivateFriendMessage> = {
    self_id: selfId,
    user_id: user.user_id,
    time: now(),
    message_id: id,
    message_seq: id,
    real_id: id,
    message_type: "private",
    sender: { user_id: user.user_id, nickname: user.nickname, card: "" },
    raw_message: convertJSONToCQCode(message),
    font: 14,
    sub_type: "friend",
    post_type: "message",
    message: message as Wire<PrivateFriendMessage>["message"],
    message_format: "array",
  };
  return format === "string" ? { ...frame, message: cqString(message), message_format: "string" as const } : frame;
}

export function groupIncrease(selfId: number, groupId: number, userId: number): GroupIncreaseApprove {
  return { time: now(), self_id: selfId, post_type: "notice", notice_type: "group_increase", sub_type: "approve", group_id: groupId, operator_id: selfId, user_id: userId };
}

export function groupDecrease(selfId: number, groupId: number, userId: number): GroupDecreaseLeave {
  return { time: now(), self_id: selfId, post_type: "notice", group_id: groupId, user_id: userId, notice_type: "group_decrease", sub_type: "leave", operator_id: userId };
}

export function kickedOut(selfId: number, groupId: number, operator: number): GroupDecreaseKickMe {
  return { time: now(), self_id: selfId, post_type: "notice", group_id: groupId, user_id: selfId, notice_type: "group_decrease", sub_type: "kick_me", operator_id: operator };
}

/**
 * The string form NapCat posts with messagePostFormat "string": text escaped (& [ ]), parameters escaped (& [ ] ,).
 * (node-napcat-ts's CQCodeEncode escapes "&" last, which double-escapes; the spec's order is "&" first.)
 */
export function cqString(message: Seg[]): string {
  const text = (s: string) => s.replace(/&/g, "&amp;").replace(/\[/g, "&#91;").replace(/\]/g, "&#93;");
  const param = (s: string) => text(s).replace(/,/g, "&#44;");
  return message
    .map((s) => (s.type === "text" ? text(String(s.data.text)) : `[CQ:${s.type}${Object.entries(s.data).map(([k, v]) => `,${k}=${param(String(v))}`).join("")}]`))
    .join("");
}

function memberInfo(group: PeerGroup, m: PeerMember): WSSendReturn["get_group_member_info"] {
  return {
    group_id: group.group_id,
    user_id: m.user_id,
    nickname: m.nickname,
    card: m.card,
    sex: "unknown",
    age: 0,
    area: "",
    level: "1",
    qq_level: 0,
    join_time: now() - 86400,
    last_sent_time: now(),
    title_expire_time: 0,
    unfriendly: false,
    card_changeable: true,
    is_robot: false,
    shut_up_timestamp: 0,
    role: m.role,
    title: "",
  };
}

// ---- the peer ----

export class NapCatPeer {
  /** Every action frame received, in order. */
  readonly actions: { action: string; params: Record<string, unknown>; echo: unknown }[] = [];
  readonly sent: SentMessage[] = [];
  /** Files received through upload_group_file / upload_private_file. */
  readonly uploads: { action: string; group_id?: number; user_id?: number; name: string; file: string }[] = [];
  /** Frames NapCat would have refused (wrong shapes): a test asserts this stays empty. */
  readonly violations: string[] = [];
  readonly groups = new Map<number, PeerGroup>();
  private responders = new Map<string, Responder[]>();
  private socket?: WebSocket;
  private server?: WebSocketServer;
  private beat?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private reverse?: { url: string; tokenVia: "header" | "query" | "none"; token?: string };
  private closed = false;
  private silent = false;
  private nextId = 1000;
  private waiters: { pred: (m: SentMessage) => boolean; resolve: (m: SentMessage) => void }[] = [];
  /** Sockets opened so far (reconnects count). */
  connections = 0;

  constructor(readonly opts: PeerOptions) {
    for (const g of opts.groups ?? []) this.groups.set(g.group_id, g);
  }

  get selfId() {
    return this.opts.selfId;
  }
  /** Where the forward server listens (after listenForward). */
  get forwardUrl() {
    return this.server ? `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}` : undefined;
  }
  get connected() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  // -- reverse: NapCat as the WebSocket client --

  /** Resolves when the socket is open; rejects with the HTTP status when our server refuses the handshake. */
  connectReverse(url: string, opts: { tokenVia?: "header" | "query" | "none"; token?: string } = {}): Promise<void> {
    this.closed = false;
    this.reverse = { url, tokenVia: opts.tokenVia ?? "header", token: opts.token ?? this.opts.token };
    return this.dialReverse();
  }

  private dialReverse(): Promise<void> {
    const r = this.reverse!;
    const headers: Record<string, string> = { "x-self-id": String(this.selfId), "x-client-role": "Universal", "user-agent": "OneBot/11" };
    if (r.token && r.tokenVia === "header") headers.authorization = `Bearer ${r.token}`;
    const target = r.token && r.tokenVia === "query" ? `${r.url}?access_token=${encodeURIComponent(r.token)}` : r.url;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(target, { headers });
      let settled = false;
      ws.on("unexpected-response", (req, res) => {
        settled = true;
        req.destroy();
        reject(Object.assign(new Error(`refused: HTTP ${res.statusCode}`), { status: res.statusCode }));
      });
      ws.on("open", () => {
        settled = true;
        this.adopt(ws);
        resolve();
      });
      ws.on("error", (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      ws.on("close", () => {
        if (this.socket === ws) this.socket = undefined;
        this.stopBeat();
        if (this.closed || !this.opts.reconnectMs || !this.reverse) return;
        this.reconnectTimer = setTimeout(() => void this.dialReverse().catch(() => undefined), this.opts.reconnectMs);
      });
    });
  }

  // -- forward: NapCat as the WebSocket server --

  async listenForward(port = 0): Promise<string> {
    this.closed = false;
    const server = new WebSocketServer({ port, host: "127.0.0.1" });
    this.server = server;
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    server.on("connection", (ws, req) => {
      const url = new URL(req.url ?? "/", "http://x");
      const auth = req.headers.authorization;
      const token = auth ? auth.replace(/^Bearer\s+/i, "") : url.searchParams.get("access_token");
      if (this.opts.token && token !== this.opts.token) {
        ws.send(JSON.stringify({ status: "failed", retcode: 1403, data: null, message: "token验证失败", wording: "token验证失败", echo: null }));
        ws.close();
        return;
      }
      this.adopt(ws);
    });
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A NapCat restart on the forward transport: the server goes away and comes back on the same port. */
  async restartForward(downMs: number) {
    const port = (this.server!.address() as AddressInfo).port;
    await this.stopServer();
    await new Promise((r) => setTimeout(r, downMs));
    await this.listenForward(port);
  }

  private async stopServer() {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const c of server.clients) c.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // -- one link --

  private adopt(ws: WebSocket) {
    this.socket?.terminate();
    this.socket = ws;
    this.silent = false;
    this.connections++;
    ws.on("message", (data) => this.onAction(ws, data.toString()));
    this.post(lifecycleConnect(this.selfId));
    this.startBeat();
  }

  private startBeat() {
    this.stopBeat();
    const ms = this.opts.heartbeatMs ?? 0;
    if (ms > 0) this.beat = setInterval(() => !this.silent && this.post(heartbeat(this.selfId, ms)), ms);
  }
  private stopBeat() {
    if (this.beat) clearInterval(this.beat);
    this.beat = undefined;
  }

  /** Sends an event (any frame) on the current link. */
  post(frame: unknown) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** The link hangs: the socket stays open but nothing comes through (no heartbeats, no answers). */
  hang() {
    this.silent = true;
  }

  /** The process dies: the socket is cut without a close frame (reverse: NapCat dials again after reconnectMs). */
  drop() {
    this.socket?.terminate();
  }

  async close() {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stopBeat();
    this.socket?.terminate();
    await this.stopServer();
  }

  // -- what members do --

  member(groupId: number, userId: number): PeerMember {
    const m = this.groups.get(groupId)?.members.find((x) => x.user_id === userId);
    if (!m) throw new Error(`peer: ${userId} is not in group ${groupId}`);
    return m;
  }

  /** A member says something in a group: a string is plain text, or pass segments (at, image …). */
  say(groupId: number, userId: number, message: string | Seg[], format = this.opts.messageFormat ?? "array"): number {
    const id = ++this.nextId;
    const segs = typeof message === "string" ? [{ type: "text", data: { text: message } }] : message;
    this.post(groupMessage(this.selfId, id, this.groups.get(groupId)!, this.member(groupId, userId), segs, format));
    return id;
  }

  sayPrivately(user: { user_id: number; nickname: string }, message: string | Seg[], format = this.opts.messageFormat ?? "array"): number {
    const id = ++this.nextId;
    this.post(privateMessage(this.selfId, id, user, typeof message === "string" ? [{ type: "text", data: { text: message } }] : message, format));
    return id;
  }

  join(groupId: number, m: PeerMember) {
    this.groups.get(groupId)!.members.push(m);
    this.post(groupIncrease(this.selfId, groupId, m.user_id));
  }

  leave(groupId: number, userId: number) {
    const g = this.groups.get(groupId)!;
    g.members = g.members.filter((m) => m.user_id !== userId);
    this.post(groupDecrease(this.selfId, groupId, userId));
  }

  // -- actions --

  /** Overrides the answer to the next call of `action` (queued: each call takes one); "silence" never answers. */
  respondOnce(action: string, r: Responder) {
    this.responders.set(action, [...(this.responders.get(action) ?? []), r]);
  }

  waitForSent(pred: (m: SentMessage) => boolean = () => true, timeoutMs = 10_000, since = 0): Promise<SentMessage> {
    const hit = this.sent.slice(since).find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`peer: nothing matching was sent within ${timeoutMs} ms; sent: ${JSON.stringify(this.sent.map((s) => s.text))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  private onAction(ws: WebSocket, raw: string) {
    if (this.silent) return;
    let frame: { action?: unknown; params?: unknown; echo?: unknown };
    try {
      frame = JSON.parse(raw);
    } catch {
      this.violations.push(`not JSON: ${raw.slice(0, 80)}`);
      return;
    }
    const answer = (r: Reply) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ ...r, message: r.message ?? "", wording: r.wording ?? r.message ?? "", echo: frame.echo ?? null }));
    if (typeof frame.action !== "string") {
      this.violations.push(`no action: ${raw.slice(0, 80)}`);
      return answer({ status: "failed", retcode: 1400, data: null, message: "action missing" });
    }
    const params = (frame.params ?? {}) as Record<string, unknown>;
    this.actions.push({ action: frame.action, params, echo: frame.echo });
    const queued = this.responders.get(frame.action);
    const custom = queued?.shift();
    if (custom) {
      const r = custom(params);
      if (r !== "silence") answer(r);
      return;
    }
    answer(this.handle(frame.action, params));
  }

  private bad(msg: string): Reply {
    this.violations.push(msg);
    return { status: "failed", retcode: 1400, data: null, message: msg };
  }

  private handle(action: string, p: Record<string, unknown>): Reply {
    const ok = (data: unknown): Reply => ({ status: "ok", retcode: 0, data });
    switch (action) {
      case "get_login_info":
        return ok({ user_id: this.selfId, nickname: this.opts.nickname ?? "支部助手" } satisfies WSSendReturn["get_login_info"]);
      case "get_group_list":
        return ok([...this.groups.values()].map((g) => ({ group_id: g.group_id, group_name: g.group_name, member_count: g.members.length + 1, max_member_count: 500 })));
      case "get_group_member_list": {
        const g = this.groups.get(Number(p.group_id));
        if (typeof p.group_id !== "number") return this.bad(`get_group_member_list: group_id must be a number, got ${JSON.stringify(p.group_id)}`);
        if (!g) return { status: "failed", retcode: 1200, data: null, message: "群不存在" };
        return ok(g.members.map((m) => memberInfo(g, m)) satisfies WSSendReturn["get_group_member_list"]);
      }
      case "get_group_info": {
        const g = this.groups.get(Number(p.group_id));
        if (!g) return { status: "failed", retcode: 1200, data: null, message: "群不存在" };
        return ok({ group_id: g.group_id, group_name: g.group_name, member_count: g.members.length + 1, max_member_count: 500 });
      }
      case "get_group_member_info": {
        const g = this.groups.get(Number(p.group_id));
        const m = g?.members.find((x) => x.user_id === Number(p.user_id));
        return g && m ? ok(memberInfo(g, m)) : { status: "failed", retcode: 1200, data: null, message: "群成员不存在" };
      }
      case "send_group_msg":
      case "send_private_msg":
      case "send_msg": {
        const isGroup = action === "send_group_msg" || (action === "send_msg" && p.group_id !== undefined);
        const key = isGroup ? "group_id" : "user_id";
        if (typeof p[key] !== "number") return this.bad(`${action}: ${key} must be a number, got ${JSON.stringify(p[key])}`);
        const message = this.readMessage(action, p.message);
        if (!message) return { status: "failed", retcode: 1400, data: null, message: "消息体无法解析" };
        if (isGroup && !this.groups.has(p.group_id as number)) return { status: "failed", retcode: 1200, data: null, message: "群不存在" };
        const message_id = ++this.nextId;
        const sent: SentMessage = {
          action: action as SentMessage["action"],
          ...(isGroup ? { group_id: p.group_id as number } : { user_id: p.user_id as number }),
          message,
          text: message.filter((s) => s.type === "text").map((s) => String(s.data.text)).join(""),
          mentions: message.filter((s) => s.type === "at").map((s) => String(s.data.qq)),
          message_id,
        };
        this.sent.push(sent);
        for (const w of [...this.waiters]) {
          if (w.pred(sent)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(sent);
          }
        }
        return ok({ message_id } satisfies WSSendReturn["send_group_msg"]);
      }
      case "upload_group_file":
      case "upload_private_file": {
        const key = action === "upload_group_file" ? "group_id" : "user_id";
        if (typeof p[key] !== "number") return this.bad(`${action}: ${key} must be a number`);
        if (typeof p.file !== "string" || typeof p.name !== "string") return this.bad(`${action}: file and name must be strings`);
        this.uploads.push({ action, [key]: p[key] as number, name: p.name, file: p.file });
        return ok(null);
      }
      default:
        return { status: "failed", retcode: 1404, data: null, message: `不支持的 API ${action}` };
    }
  }

  /** A message parameter as NapCat reads it: a segment array (or one segment), or a CQ string. */
  private readMessage(action: string, message: unknown): Seg[] | undefined {
    const list = Array.isArray(message) ? message : message && typeof message === "object" ? [message] : undefined;
    if (typeof message === "string") return [{ type: "text", data: { text: message } }];
    if (!list) return void this.bad(`${action}: message must be segments or a string`);
    for (const s of list) {
      if (!s || typeof s !== "object" || typeof s.type !== "string" || !s.data || typeof s.data !== "object") return void this.bad(`${action}: bad segment ${JSON.stringify(s)}`);
      if (s.type === "text" && typeof s.data.text !== "string") return void this.bad(`${action}: text segment without text`);
      if (s.type === "at" && !(typeof s.data.qq === "string" && /^(\d+|all)$/.test(s.data.qq))) return void this.bad(`${action}: at.qq must be a string of digits, got ${JSON.stringify(s.data.qq)}`);
      if (s.type === "reply" && typeof s.data.id !== "string") return void this.bad(`${action}: reply.id must be a string`);
      if (s.type === "image" && typeof s.data.file !== "string") return void this.bad(`${action}: image.file must be a string`);
    }
    return list as Seg[];
  }
}
