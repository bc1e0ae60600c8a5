// WeChat through Wechaty. The puppet is chosen by config: wechaty-puppet-mock (tests, demo), wechaty-puppet-wechat4u
// (a personal account, QR login) or wechaty-puppet-service (a hosted gateway).
import { WechatyBuilder, type Wechaty, type Message } from "wechaty";
import type * as PUPPET from "wechaty-puppet";
import qrTerminal from "qrcode-terminal";
import type { ChatAdapter, ChatMessage, SendTarget } from "./types.ts";
import { SendError } from "./types.ts";
import type { Logger } from "../../core/log.ts";

export interface WechatyAdapterOptions {
  account: string;
  puppetName: "wechaty-puppet-mock" | "wechaty-puppet-wechat4u" | "wechaty-puppet-service";
  /** A ready puppet instance (tests and the demo pass a PuppetMock wired to their Mocker). */
  puppet?: PUPPET.impls.PuppetInterface;
  serviceToken?: string;
  serviceEndpoint?: string;
  log: Logger;
  onLoginState?: (state: { status: "NEED_LOGIN" | "ONLINE" | "OFFLINE"; qr?: string; selfId?: string; selfName?: string }) => void;
}

export class WechatyAdapter implements ChatAdapter {
  readonly channel = "WECHAT" as const;
  readonly account: string;
  private bot: Wechaty;
  private handler?: (m: ChatMessage) => Promise<void>;
  private online = false;

  constructor(private readonly opts: WechatyAdapterOptions) {
    this.account = opts.account;
    this.bot = WechatyBuilder.build({
      // The name keys the memory-card file, so a restart resumes the session without a new scan.
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
      log.warn({ account: this.account }, "微信账号已退出登录");
      opts.onLoginState?.({ status: "OFFLINE" });
    });
    this.bot.on("message", (msg) => {
      void this.dispatch(msg).catch((err) => log.error({ err, account: this.account }, "处理消息失败"));
    });
  }

  onMessage(handler: (m: ChatMessage) => Promise<void>) {
    this.handler = handler;
  }

  isOnline() {
    return this.online;
  }

  async start() {
    // The mock puppet never emits 'ready', so start() (which resolves once the puppet starts) is all we await.
    await this.bot.start();
  }

  async stop() {
    this.online = false;
    await this.bot.stop();
  }

  private async dispatch(msg: Message) {
    if (msg.self() || !this.handler) return;
    if (msg.type() !== this.bot.Message.Type.Text) return;
    const talker = msg.talker();
    const room = msg.room();
    const mentioned = room ? await msg.mentionList() : [];
    const message: ChatMessage = {
      channel: "WECHAT",
      account: this.account,
      conversation: room ? { kind: "group", groupId: room.id, topic: await room.topic() } : { kind: "private" },
      sender: { platformUserId: talker.id, displayName: talker.name() },
      text: room ? await msg.mentionText() : msg.text(),
      mentions: mentioned.map((c) => c.id),
      mentionsMe: room ? await msg.mentionSelf() : false,
      platformMessageId: msg.id,
      at: msg.date(),
    };
    await this.handler(message);
  }

  async send(target: SendTarget, text: string) {
    if (!this.online) throw new SendError("offline", "账号未登录");
    try {
      if (target.kind === "group") {
        const room = await this.bot.Room.find({ id: target.groupId });
        if (!room) throw new SendError("not_found", `群 ${target.groupId} 不可达`);
        const sent = await room.say(text);
        return { platformMessageId: sent ? (sent as Message).id : undefined };
      }
      const contact = await this.bot.Contact.find({ id: target.userId });
      if (!contact) throw new SendError("not_found", `联系人 ${target.userId} 不可达`);
      const sent = await contact.say(text);
      return { platformMessageId: sent ? (sent as Message).id : undefined };
    } catch (e) {
      if (e instanceof SendError) throw e;
      const text = String((e as Error)?.message ?? e);
      // "发送消息过于频繁" is WeChat's risk-control answer: back off hard, never retry in a tight loop.
      throw new SendError(/频繁|frequen/i.test(text) ? "rate_limited" : "transient", text);
    }
  }
}
