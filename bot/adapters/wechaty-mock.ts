// A simulated WeChat built on wechaty-puppet-mock: the demo's county and the tests' peers. People here "say" things
// into rooms through the mock puppet, and the bot's own sends come back as events, exactly as on a real puppet.
import { randomUUID } from "node:crypto";
import { FileBox, FileBoxType, type FileBoxInterface } from "file-box";
import * as PUPPET from "wechaty-puppet";
import { PuppetMock, mock } from "wechaty-puppet-mock";
import { sniffImage } from "../../core/storage/images.ts";

type ContactMock = mock.ContactMock;
type RoomMock = mock.RoomMock;
type MessageMock = mock.MessageMock;

export interface BotSaid {
  /** Room id for group messages, contact id for private messages to that contact. */
  conversationId: string;
  text: string;
  at: Date;
  /** Order among everything the bot sent (texts and files alike). */
  seq?: number;
}

/** A picture or document the bot sent (FileBox through room.say / contact.say). */
export interface BotSentFile {
  conversationId: string;
  name: string;
  /** The bytes, when the file arrived as base64 (what the bot's adapter sends); absent for url/uuid boxes. */
  data?: Buffer;
  /** The message type the mock gave it (Image for .jpg/.png, Attachment for .pdf/.doc/.txt, else Unknown). */
  type: PUPPET.types.Message;
  at: Date;
  seq: number;
}

export class MockWechat {
  readonly mocker = new mock.Mocker();
  readonly puppet: PuppetMock;
  readonly bot: ContactMock;
  private listeners = new Set<(m: BotSaid) => void>();
  readonly said: BotSaid[] = [];
  /** Files the bot sent, in order; `seq` orders them against `said`. */
  readonly files: BotSentFile[] = [];
  private fileListeners = new Set<(f: BotSentFile) => void>();
  private seq = 0;
  private readonly contacts = new Map<string, ContactMock>();
  private readonly roomMocks = new Map<string, RoomMock>();

  constructor(botName = "支部小助手") {
    this.puppet = new PuppetMock({ mocker: this.mocker });
    this.bot = this.mocker.createContact({ id: "wxid_netbranch_bot", name: botName });
  }

  /** Call after the Wechaty bot has started: the mock then emits 'login' (it never emits 'ready'). */
  login() {
    this.mocker.login(this.bot);
  }

  logout() {
    void this.puppet.logout();
  }

  contact(id: string, name: string): ContactMock {
    const known = this.contacts.get(id) ?? (this.mocker.cacheContactPayload.has(id) ? this.mocker.ContactMock.load(id) : undefined);
    if (known) return known;
    // Created from a complete payload: mocker.createContact would first draw random defaults with faker for each.
    const c = this.mocker.ContactMock.create({
      id,
      name,
      gender: PUPPET.types.ContactGender.Unknown,
      type: PUPPET.types.Contact.Individual,
      avatar: "",
      phone: [],
      friend: true,
      star: false,
    });
    this.contacts.set(id, c);
    this.watch(c, id);
    return c;
  }

  /**
   * A room with these members (and the bot). Room ids must contain "@": the mock tells rooms from contacts by it.
   * A room that exists already keeps its id and gains the members it lacked (and the new topic).
   */
  room(id: string, topic: string, members: { id: string; name: string }[]): RoomMock {
    const contacts = members.map((m) => this.contact(m.id, m.name));
    const existing = this.roomMocks.get(id) ?? (this.mocker.cacheRoomPayload.has(id) ? this.mocker.RoomMock.load(id) : undefined);
    if (existing) {
      const ids = new Set(existing.payload.memberIdList);
      for (const c of contacts) if (!ids.has(c.id)) existing.payload.memberIdList.push(c.id);
      existing.payload.topic = topic;
      return existing;
    }
    // Created from a complete payload: mocker.createRoom would first shuffle every known contact for random
    // defaults, which with a county's 25,000 contacts costs more than the room itself.
    const room = this.mocker.RoomMock.create({ id, topic, memberIdList: [this.bot.id, ...contacts.map((c) => c.id)], adminIdList: [], avatar: "" });
    this.roomMocks.set(id, room);
    this.watch(room, id);
    return room;
  }

  /**
   * Many rooms at once (the demo's whole county: every branch and cadre group with its members), so the bot's group
   * sync at login finds them all and a county broadcast reaches each one. 25,000 members take well under a second.
   */
  rooms(list: { id: string; topic: string; members: { id: string; name: string }[] }[]): void {
    for (const r of list) this.room(r.id, r.topic, r.members);
  }

  /** The name a contact was created with (the demo prints who the bot wrote to). */
  contactName(id: string): string | undefined {
    return this.contacts.get(id)?.payload.name;
  }

  roomTopic(id: string): string | undefined {
    return this.mocker.cacheRoomPayload.get(id)?.topic;
  }

  hasRoom(id: string): boolean {
    return this.roomMocks.has(id) || this.mocker.cacheRoomPayload.has(id);
  }

  /**
   * The account no longer lists the room (as after a wechat4u re-login, which gives every room a new id): call while
   * logged out, then create the room again under its new id with room().
   */
  forgetRoom(id: string) {
    this.mocker.cacheRoomPayload.delete(id);
  }

  /** `who` says `text` in the room (or privately to the bot when roomId is omitted); returns the message id. */
  say(who: string, text: string, roomId?: string, mentions: string[] = []): string {
    const talker = this.mocker.ContactMock.load(who);
    const to = roomId ? this.mocker.RoomMock.load(roomId) : this.bot;
    talker.say(text, mentions.map((id) => this.mocker.ContactMock.load(id))).to(to);
    return [...this.mocker.cacheMessagePayload.keys()].pop()!;
  }

  /**
   * `who` sends a picture in the room (or privately to the bot when roomId is omitted); returns the message id. The
   * bot's `msg.toFileBox()` then serves exactly these bytes. A Buffer is named after its type (photo.jpg, .png, …).
   * The message is typed Image whatever the bytes are (ContactMock.say(fileBox) would only do that for .jpg/.png).
   */
  async sayImage(who: string, image: Buffer | FileBoxInterface, roomId?: string): Promise<string> {
    const talker = this.mocker.ContactMock.load(who);
    // The mock keeps files as FileBox JSON, which only base64/url/qrcode/uuid boxes have: convert the others.
    let box: FileBoxInterface;
    if (Buffer.isBuffer(image)) box = FileBox.fromBase64(image.toString("base64"), `photo.${sniffImage(image)?.ext ?? "bin"}`);
    else if ([FileBoxType.Base64, FileBoxType.Url, FileBoxType.QRCode, FileBoxType.Uuid].includes(image.type)) box = image;
    else box = FileBox.fromBase64(await image.toBase64(), image.name);
    const base = { id: randomUUID(), talkerId: talker.id, timestamp: Date.now(), type: PUPPET.types.Message.Image, filename: box.name };
    const payload: PUPPET.payloads.Message = roomId
      ? { ...base, roomId: this.mocker.RoomMock.load(roomId).id, mentionIdList: [] }
      : { ...base, listenerId: this.bot.id };
    this.mocker.cacheFileBoxPayload.set(payload.id, box.toJSON());
    this.mocker.MessageMock.create(payload);
    this.puppet.emit("message", { messageId: payload.id });
    return payload.id;
  }

  /** The platform delivers an already-delivered message again (as after a reconnect). */
  redeliver(messageId: string) {
    this.puppet.emit("message", { messageId });
  }

  onBotFile(fn: (f: BotSentFile) => void): () => void {
    this.fileListeners.add(fn);
    return () => this.fileListeners.delete(fn);
  }

  onBotSaid(fn: (m: BotSaid) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves with the bot's next message in the conversation that matches, or rejects after timeoutMs. */
  waitForBot(conversationId: string, match: (text: string) => boolean = () => true, timeoutMs = 15_000): Promise<BotSaid> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`机器人在 ${timeoutMs} ms 内没有在 ${conversationId} 回复`));
      }, timeoutMs);
      const off = this.onBotSaid((m) => {
        if (m.conversationId === conversationId && match(m.text)) {
          clearTimeout(timer);
          off();
          resolve(m);
        }
      });
    });
  }

  private watch(target: ContactMock | RoomMock, conversationId: string) {
    target.on("message", (mm: MessageMock) => {
      if (mm.payload.talkerId !== this.bot.id) return;
      // A private send to a contact arrives on that contact; the same event fires for the bot's own contact: skip it.
      if (conversationId === this.bot.id) return;
      if (typeof mm.payload.text !== "string") {
        // A file: the mock keeps the FileBox as JSON under the message id (set before the message is created).
        const json = this.mocker.cacheFileBoxPayload.get(mm.id) as { name?: string; base64?: string } | undefined;
        if (!json) return;
        const file: BotSentFile = {
          conversationId,
          name: json.name ?? "",
          data: typeof json.base64 === "string" ? Buffer.from(json.base64, "base64") : undefined,
          type: mm.payload.type,
          at: new Date(),
          seq: ++this.seq,
        };
        this.files.push(file);
        for (const l of this.fileListeners) l(file);
        return;
      }
      const said = { conversationId, text: mm.payload.text, at: new Date(), seq: ++this.seq };
      this.said.push(said);
      for (const l of this.listeners) l(said);
    });
  }
}
