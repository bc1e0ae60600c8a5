// Pictures sent in WeChat, through the real Wechaty stack (wechaty-puppet-mock): the adapter hands them on as
// kind "image" messages whose bytes are downloaded only when asked for, capped in size; other non-text messages are
// still ignored and text is unchanged. Last, the bot's router (startBot, real PostgreSQL/Redis) takes pictures
// without failing.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { FileBox } from "file-box";
import { WechatyAdapter } from "../bot/adapters/wechaty.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";
import type { ChatMessage } from "../bot/adapters/types.ts";
import { startBot, type BotHandle } from "../bot/index.ts";
import { AppError } from "../core/kernel/errors.ts";
import { createLogger } from "../core/log.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { eventually } from "./support/eventually.ts";

const ROOM = "photos@chatroom";
const CAP = 64 * 1024;
const people = [
  { id: "wx_zhangsan", name: "张三" },
  { id: "wx_lisi", name: "李四" },
];
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const jpeg = (size: number, fill = 0x11) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(size - 4, fill)]);
const GIF = Buffer.concat([Buffer.from("GIF89a\x01\x00\x01\x00", "latin1"), Buffer.alloc(40, 3)]);
const WEBP = Buffer.concat([Buffer.from("RIFF\x24\x00\x00\x00WEBPVP8 ", "latin1"), Buffer.alloc(40, 4)]);

let wechat: MockWechat;
let adapter: WechatyAdapter;
const received: ChatMessage[] = [];
let fileCalls = 0;

/** The message the adapter handed on for this platform message id. */
const arrived = (id: string) =>
  eventually(() => {
    const m = received.find((r) => r.platformMessageId === id);
    if (!m) throw new Error(`message ${id} not handed on`);
    return m;
  });

beforeAll(async () => {
  wechat = new MockWechat();
  wechat.room(ROOM, "村民随手拍", people);
  // Count downloads: nothing may be fetched from the platform before a flow asks for the picture.
  const messageFile = wechat.puppet.messageFile.bind(wechat.puppet);
  wechat.puppet.messageFile = async (id: string) => {
    fileCalls++;
    return messageFile(id);
  };
  let online!: () => void;
  const loggedIn = new Promise<void>((r) => (online = r));
  adapter = new WechatyAdapter({
    account: "wx-photos",
    puppetName: "wechaty-puppet-mock",
    puppet: wechat.puppet,
    log: createLogger("silent"),
    maxImageBytes: CAP,
    onLoginState: (s) => s.status === "ONLINE" && online(),
  });
  adapter.onMessage(async (m) => {
    received.push(m);
  });
  await adapter.start();
  wechat.login();
  await loggedIn;
});

afterAll(async () => {
  await adapter?.stop();
});

describe("the adapter", () => {
  test("a picture in a group arrives as kind image, downloaded only on fetch() and only once", async () => {
    const before = fileCalls;
    const id = await wechat.sayImage("wx_zhangsan", PNG, ROOM);
    const m = await arrived(id);
    expect(m).toMatchObject({
      kind: "image",
      channel: "WECHAT",
      account: "wx-photos",
      conversation: { kind: "group", groupId: ROOM, topic: "村民随手拍" },
      sender: { platformUserId: "wx_zhangsan", displayName: "张三" },
      text: "",
      mentions: [],
      mentionsMe: false,
      platformMessageId: id,
    });
    expect(m.at).toBeInstanceOf(Date);
    expect(fileCalls).toBe(before);
    const got = await m.image!.fetch();
    expect(got).toEqual({ data: PNG, mime: "image/png", name: "photo.png" });
    expect(await m.image!.fetch()).toBe(got);
    expect(fileCalls).toBe(before + 1);
  });

  test("a picture sent privately arrives the same way", async () => {
    const photo = jpeg(20_000);
    const id = await wechat.sayImage("wx_lisi", photo, undefined);
    const m = await arrived(id);
    expect(m).toMatchObject({ kind: "image", conversation: { kind: "private" }, sender: { platformUserId: "wx_lisi" }, text: "" });
    const got = await m.image!.fetch();
    expect(got.data.equals(photo)).toBe(true);
    expect(got).toMatchObject({ mime: "image/jpeg", name: "photo.jpg" });
  });

  test("FileBox pictures (a buffer box, a named base64 box): the type comes from the bytes, the name is kept", async () => {
    const gif = await arrived(await wechat.sayImage("wx_zhangsan", FileBox.fromBuffer(GIF, "街灯坏了.gif"), ROOM));
    expect(await gif.image!.fetch()).toEqual({ data: GIF, mime: "image/gif", name: "街灯坏了.gif" });
    // Named .jpg, really a WebP: the bytes win.
    const webp = await arrived(await wechat.sayImage("wx_zhangsan", FileBox.fromBase64(WEBP.toString("base64"), "x.jpg"), ROOM));
    expect(await webp.image!.fetch()).toMatchObject({ data: WEBP, mime: "image/webp", name: "x.jpg" });
  });

  test("bytes we do not recognise keep the platform's type", async () => {
    const odd = Buffer.from("not really a picture");
    const m = await arrived(await wechat.sayImage("wx_zhangsan", FileBox.fromBase64(odd.toString("base64"), "scan.bmp"), ROOM));
    expect(await m.image!.fetch()).toEqual({ data: odd, mime: "image/bmp", name: "scan.bmp" });
  });

  test("a picture over the cap is refused with 413 FILE_TOO_LARGE, whether its size is known up front or not", async () => {
    // Size unknown (a base64 box, as streamed by most puppets): cut off while reading.
    const big = await arrived(await wechat.sayImage("wx_zhangsan", jpeg(CAP + 1), ROOM));
    await expect(big.image!.fetch()).rejects.toMatchObject({ status: 413, code: "FILE_TOO_LARGE", details: { maxBytes: CAP } });
    // Exactly at the cap is fine.
    const edge = await arrived(await wechat.sayImage("wx_zhangsan", jpeg(CAP), ROOM));
    expect((await edge.image!.fetch()).data.length).toBe(CAP);
    // Size known (the puppet says so): refused before a byte is read.
    const id = await wechat.sayImage("wx_zhangsan", jpeg(100), ROOM);
    const m = await arrived(id);
    let streamed = false;
    const known = FileBox.fromBuffer(jpeg(CAP * 3), "huge.jpg");
    const toStream = known.toStream.bind(known);
    known.toStream = () => ((streamed = true), toStream());
    const messageFile = wechat.puppet.messageFile;
    wechat.puppet.messageFile = async (mid: string) => (mid === id ? known : messageFile(mid));
    try {
      const err = await m.image!.fetch().catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ status: 413, code: "FILE_TOO_LARGE", details: { maxBytes: CAP, size: CAP * 3 } });
      expect(streamed).toBe(false);
    } finally {
      wechat.puppet.messageFile = messageFile;
    }
    // A failed download is not remembered: asking again goes to the platform again (here: now the real 100 bytes).
    expect((await m.image!.fetch()).data.length).toBe(100);
  });

  test("other kinds of messages are still ignored; text is unchanged", async () => {
    const zhangsan = wechat.mocker.ContactMock.load("wx_zhangsan");
    const room = wechat.mocker.RoomMock.load(ROOM);
    const count = received.length;
    zhangsan.say(FileBox.fromBase64(Buffer.from("%PDF-1.7").toString("base64"), "通知.pdf")).to(room);
    zhangsan.say(FileBox.fromBase64(Buffer.from("video").toString("base64"), "clip.mp4")).to(room);
    const textId = wechat.say("wx_zhangsan", "签到", ROOM, [wechat.bot.id]);
    const text = await arrived(textId);
    expect(text).toMatchObject({ kind: "text", text: "签到", mentionsMe: true, mentions: [] });
    expect(text.image).toBeUndefined();
    const mentionId = wechat.say("wx_lisi", "登记 @张三 张三", ROOM, ["wx_zhangsan"]);
    expect(await arrived(mentionId)).toMatchObject({ kind: "text", mentions: ["wx_zhangsan"], mentionsMe: false });
    const privateId = wechat.say("wx_lisi", "帮助");
    expect(await arrived(privateId)).toMatchObject({ kind: "text", text: "帮助", conversation: { kind: "private" } });
    // Only the three texts arrived after the PDF and the video (given time to arrive, had they been handed on).
    await new Promise((r) => setTimeout(r, 300));
    expect(received.slice(count).map((m) => m.kind)).toEqual(["text", "text", "text"]);
  });
});

describe("the bot's router", () => {
  let ctx: TestContext;
  let botWechat: MockWechat;
  let bot: BotHandle;

  beforeAll(async () => {
    ctx = await createTestContext("chat-images");
    await ctx.db.prisma.botAccount.create({ data: { name: "wx-router", channel: "WECHAT", sendsPerMinute: 500, sendsPerHour: 5000 } });
    botWechat = new MockWechat();
    botWechat.room(ROOM, "村民随手拍", people);
    bot = await startBot(ctx, { puppet: botWechat.puppet, account: "wx-router" });
    botWechat.login();
  });

  afterAll(async () => {
    await bot?.stop();
    await ctx?.close();
  });

  test("pictures in a group and in private do not break it: the next text command is answered", async () => {
    await botWechat.sayImage("wx_zhangsan", PNG, ROOM);
    await botWechat.sayImage("wx_lisi", PNG);
    const reply = botWechat.waitForBot("wx_zhangsan", (t) => t.includes("可用命令"));
    botWechat.say("wx_zhangsan", "帮助");
    await reply;
    // Nothing was said in the group about the picture (plain chat there is none of the bot's business).
    expect(botWechat.said.filter((s) => s.conversationId === ROOM)).toEqual([]);
  });
});
