// WeChat through Wechaty. The puppet is chosen by config: wechaty-puppet-mock (tests, demo), wechaty-puppet-wechat4u
// (a personal account, QR login) or wechaty-puppet-service (a hosted gateway).
import { WechatyBuilder, type Wechaty, type Message } from "wechaty";
import type * as PUPPET from "wechaty-puppet";
import { mkdirSync } from "node:fs";
import qrTerminal from "qrcode-terminal";
import { FileBox } from "file-box";
import type { ChatAdapter, ChatMessage, ChatPerson, GroupEvent, OutgoingFile, SendTarget } from "./types.ts";
import { SendError } from "./types.ts";
import type { Logger } from "../../core/log.ts";
import { DEFAULT_UPLOAD_MAX_BYTES, fileTooLarge, readLimited, sniffImage } from "../../core/storage/images.ts";

export interface WechatyAdapterOptions {
  account: string;
  puppetName: "wechaty-puppet-mock" | "wechaty-puppet-wechat4u" | "wechaty-puppet-service";
  /** A ready puppet instance (tests and the demo pass a PuppetMock wired to their Mocker). */
  puppet?: PUPPET.impls.PuppetInterface;
  serviceToken?: string;
  serviceEndpoint?: string;
  log: Logger;
  /** Largest picture image.fetch() downloads (pass config.UPLOAD_MAX_BYTES; default 10 MiB). */
  maxImageBytes?: number;
  onLoginState?: (state: { status: "NEED_LOGIN" | "ONLINE" | "OFFLINE"; qr?: string; selfId?: string; selfName?: string }) => void;
}

export class WechatyAdapter implements ChatAdapter {
  readonly channel = "WECHAT" as const;
  readonly account: string;
  private bot: Wechaty;
  private handler?: (m: ChatMessage) => Promise<void>;
  private eventHandler?: (e: GroupEvent) => Promise<void>;
  private online = false;
  private stopping = false;
  // WeChat cuts texts somewhere above 2,000 characters; stay well below so a split never lands mid-sentence badly.
  readonly maxTextLength = 1800;

  constructor(private readonly opts: WechatyAdapterOptions) {
    this.account = opts.account;
    // The name keys the memory-card file (data/wechaty-<account>.memory-card.json), so a restart resumes the
    // session without a new scan; its folder must exist in service mode too, where nothing else creates data/.
    mkdirSync("data", { recursive: true });
    this.bot = WechatyBuilder.build({
      name: `data/wechaty-${opts.account}`,
      puppet: (opts.puppet ?? opts.puppetName) as any,
      puppetOptions: opts.puppet
        ? undefined
        : opts.puppetName === "wechaty-puppet-service"
          ? { token: opts.serviceToken, endpoint: opts.serviceEndpoint }
          : undefined,
    } as any);
    const { log } = opts;
    // Room joins/leaves make Wechaty emit 'error' (wechaty#2410); without a listener the process would crash.
    this.bot.on("error", (err) => log.warn({ err: String(err), account: this.account }, "wechaty error"));
    this.bot.on("scan", (qrcode, status) => {
      log.info({ account: this.account, status }, "微信账号需要扫码登录");
      if (opts.puppetName !== "wechaty-puppet-mock") qrTerminal.generate(qrcode, { small: true });
      opts.onLoginState?.({ status: "NEED_LOGIN", qr: qrcode });
    });
    this.bot.on("login", (user) => {
      this.online = true;
      log.info({ account: this.account, user: user.name() }, "微信账号已登录");
      opts.onLoginState?.({ status: "ONLINE", selfId: user.id, selfName: user.name() });
    });
    this.bot.on("logout", () => {
      this.online = false;
      // Our own shutdown logs out too: only an unexpected logout is worth a warning.
      if (this.stopping) log.info({ account: this.account }, "微信账号已退出登录");
      else log.warn({ account: this.account }, "微信账号已退出登录");
      opts.onLoginState?.({ status: "OFFLINE" });
    });
    const emit = (e: Omit<GroupEvent, "channel" | "account" | "at">) => {
      void this.eventHandler?.({ ...e, channel: "WECHAT", account: this.account, at: new Date() })
        .catch((err) => log.error({ err, account: this.account }, "处理群事件失败"));
    };
    const person = (c: { id: string; name(): string }): ChatPerson => ({ platformUserId: c.id, displayName: c.name() });
    this.bot.on("room-join", async (room, invitees) => {
      const selfId = this.bot.currentUser.id;
      const others = invitees.filter((c) => c.id !== selfId);
      if (others.length < invitees.length) emit({ kind: "bot_joined", groupId: room.id, topic: await room.topic(), members: [] });
      if (others.length) emit({ kind: "members_joined", groupId: room.id, members: others.map(person) });
    });
    this.bot.on("room-leave", async (room, leavers) => {
      const selfId = this.bot.currentUser.id;
      const others = leavers.filter((c) => c.id !== selfId);
      if (others.length < leavers.length) emit({ kind: "bot_removed", groupId: room.id, members: [] });
      if (others.length) emit({ kind: "members_left", groupId: room.id, members: others.map(person) });
    });
    this.bot.on("room-topic", (room, topic) => emit({ kind: "topic_changed", groupId: room.id, topic, members: [] }));
    this.bot.on("message", (msg) => {
      void this.dispatch(msg).catch((err) => log.error({ err, account: this.account }, "处理消息失败"));
    });
  }

  onMessage(handler: (m: ChatMessage) => Promise<void>) {
    this.handler = handler;
  }

  onGroupEvent(handler: (e: GroupEvent) => Promise<void>) {
    this.eventHandler = handler;
  }

  isOnline() {
    return this.online;
  }

  async groupMembers(groupId: string): Promise<ChatPerson[]> {
    const room = await this.bot.Room.find({ id: groupId });
    if (!room) return [];
    const selfId = this.bot.currentUser.id;
    const members = await room.memberAll();
    return members.filter((c) => c.id !== selfId).map((c) => ({ platformUserId: c.id, displayName: c.name() }));
  }

  async groups() {
    const rooms = await this.bot.Room.findAll();
    return Promise.all(rooms.map(async (r) => ({ groupId: r.id, topic: await r.topic() })));
  }

  async start() {
    // The mock puppet never emits 'ready', so start() (which resolves once the puppet starts) is all we await.
    await this.bot.start();
  }

  async stop() {
    this.stopping = true;
    this.online = false;
    await this.bot.stop();
  }

  private async dispatch(msg: Message) {
    if (msg.self() || !this.handler) return;
    const type = msg.type();
    const isImage = type === this.bot.Message.Type.Image;
    // Text and pictures; voice, video, files, links, stickers and system messages are not ours to handle.
    if (type !== this.bot.Message.Type.Text && !isImage) return;
    const talker = msg.talker();
    const room = msg.room();
    const base = {
      channel: "WECHAT" as const,
      account: this.account,
      conversation: room ? { kind: "group" as const, groupId: room.id, topic: await room.topic() } : { kind: "private" as const },
      sender: { platformUserId: talker.id, displayName: talker.name() },
      platformMessageId: msg.id,
      at: msg.date(),
    };
    let message: ChatMessage;
    if (isImage) {
      message = { ...base, kind: "image", text: "", mentions: [], mentionsMe: false, image: { fetch: this.imageFetcher(msg) } };
    } else {
      const mentioned = room ? await msg.mentionList() : [];
      message = {
        ...base,
        kind: "text",
        text: room ? await msg.mentionText() : msg.text(),
        mentions: mentioned.filter((c) => c.id !== this.bot.currentUser.id).map((c) => c.id),
        mentionsMe: room ? await msg.mentionSelf() : false,
      };
    }
    await this.handler(message);
  }

  /** Downloads lazily, at most once per message (a failed download may be tried again), never past the cap. */
  private imageFetcher(msg: Message) {
    const max = this.opts.maxImageBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
    let pending: Promise<{ data: Buffer; mime: string; name: string }> | undefined;
    const download = async () => {
      const box = await msg.toFileBox();
      // A known size over the cap is refused before anything is read; an unknown one (-1) is cut off while reading.
      if (box.size > max) throw fileTooLarge(max, box.size);
      const data = await readLimited(await box.toStream(), max);
      const declared = box.mediaType && box.mediaType !== "application/unknown" ? box.mediaType : undefined;
      const sniffed = sniffImage(data);
      const mime = sniffed?.mime ?? declared ?? "application/octet-stream";
      return { data, mime, name: box.name || `${msg.id}.${sniffed?.ext ?? "bin"}` };
    };
    return () =>
      (pending ??= download().catch((e) => {
        pending = undefined;
        throw e;
      }));
  }

  async send(target: SendTarget, text: string, opts: { mentions?: string[] } = {}) {
    if (!this.online) throw new SendError("offline", "账号未登录");
    try {
      if (target.kind === "group") {
        const room = await this.bot.Room.find({ id: target.groupId });
        if (!room) throw new SendError("not_found", `群 ${target.groupId} 不可达`);
        const mentioned = (await Promise.all((opts.mentions ?? []).map((id) => this.bot.Contact.find({ id })))).filter((c) => !!c);
        const sent = mentioned.length ? await room.say(text, ...mentioned) : await room.say(text);
        return { platformMessageId: sent ? (sent as Message).id : undefined };
      }
      const contact = await this.bot.Contact.find({ id: target.userId });
      if (!contact) throw new SendError("not_found", `联系人 ${target.userId} 不可达`);
      const sent = await contact.say(text);
      return { platformMessageId: sent ? (sent as Message).id : undefined };
    } catch (e) {
      throw sendErrorOf(e);
    }
  }

  /** A picture or document, to a room or a contact: the same failure classes as send(). */
  async sendFile(target: SendTarget, file: OutgoingFile) {
    if (!this.online) throw new SendError("offline", "账号未登录");
    try {
      // Base64, not fromBuffer: it serialises (puppet-service sends it over gRPC, the mock keeps it as JSON).
      const box = FileBox.fromBase64(file.data.toString("base64"), file.name);
      const to =
        target.kind === "group"
          ? ((await this.bot.Room.find({ id: target.groupId })) ?? notFound(`群 ${target.groupId} 不可达`))
          : ((await this.bot.Contact.find({ id: target.userId })) ?? notFound(`联系人 ${target.userId} 不可达`));
      const sent = await to.say(box);
      return { platformMessageId: sent ? (sent as Message).id : undefined };
    } catch (e) {
      throw sendErrorOf(e);
    }
  }
}

function notFound(message: string): never {
  throw new SendError("not_found", message);
}

function sendErrorOf(e: unknown): SendError {
  if (e instanceof SendError) return e;
  const text = String((e as Error)?.message ?? e);
  // "发送消息过于频繁" is WeChat's risk-control answer: back off hard, never retry in a tight loop.
  return new SendError(/频繁|frequen/i.test(text) ? "rate_limited" : "transient", text);
}
