// The OneBot v11 contract, checked against a third-party client (node-napcat-ts), so neither our adapter nor the
// test peer can drift from what NapCat and its clients speak:
//   - the peer's frames (built by functions typed against node-napcat-ts's event and API types) are received and
//     dispatched by the library itself: lifecycle, heartbeat, group messages in array and string form, notices;
//   - the library's action frames and our adapter's reach the same peer and are read the same way;
//   - CQ codes: our codec against the spec's escaping and against the library's parser;
//   - send failures (retcode / status / timeouts) map to the sender's failure classes;
//   - the reverse endpoint: per-account tokens, the ?access_token= form, X-Client-Role.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { NCWebsocket, convertCQCodeToJSON, type GroupMessage, type HeartBeat, type LifeCycleConnect, type WSErrorRes } from "node-napcat-ts";
import WebSocket from "ws";
import { createLogger } from "../core/log.ts";
import { OneBotActionError, OneBotAdapter, sendFailureOf } from "../bot/adapters/onebot.ts";
import { OneBotReverseHub } from "../bot/adapters/onebot-reverse.ts";
import { escapeParam, escapeText, outboundSegments, parseCq, readSegments, toCq } from "../bot/adapters/onebot-codec.ts";
import { outboundParts } from "../core/chat/split.ts";
import { eventually } from "./support/eventually.ts";
import { NapCatPeer, cqString, type PeerGroup } from "./support/onebot-peer.ts";

const log = createLogger("silent");
const GROUP = 123456789;
const group = (): PeerGroup => ({
  group_id: GROUP,
  group_name: "测试群",
  members: [
    { user_id: 20001, nickname: "张三", card: "三哥", role: "member" },
    { user_id: 20002, nickname: "李四", card: "", role: "admin" },
  ],
});

describe("node-napcat-ts reads the peer's frames and its actions reach the peer", () => {
  let peer: NapCatPeer;
  let client: NCWebsocket;
  const seen: Record<string, unknown[]> = {};
  const on = (event: string) => (ctx: unknown) => void (seen[event] ??= []).push(ctx);

  beforeAll(async () => {
    peer = new NapCatPeer({ selfId: 10001, nickname: "助手", token: "tok", heartbeatMs: 100, groups: [group()] });
    const url = await peer.listenForward();
    client = new NCWebsocket({ baseUrl: url, accessToken: "tok", reconnection: { enable: false }, apiTimeout: 2_000 });
    client.on("meta_event.lifecycle.connect", on("lifecycle"));
    client.on("meta_event.heartbeat", on("heartbeat"));
    client.on("message.group", on("group"));
    client.on("message.private", on("private"));
    client.on("notice.group_increase", on("increase"));
    client.on("notice.group_decrease", on("decrease"));
    await client.connect();
  });

  afterAll(async () => {
    await client?.disconnect();
    await peer?.close();
  });

  test("lifecycle connect first, then heartbeats with their interval", async () => {
    await eventually(() => expect(seen.heartbeat?.length).toBeGreaterThan(0));
    expect(seen.lifecycle).toHaveLength(1);
    expect((seen.lifecycle![0] as LifeCycleConnect).self_id).toBe(10001);
    expect((seen.heartbeat![0] as HeartBeat)).toMatchObject({ interval: 100, status: { online: true } });
  });

  test("group messages, array and string form, are dispatched as message.group with the same segments", async () => {
    const segs = [
      { type: "at", data: { qq: "10001" } },
      { type: "text", data: { text: " 签到" } },
    ];
    peer.say(GROUP, 20001, segs, "array");
    peer.say(GROUP, 20001, segs, "string");
    await eventually(() => expect(seen.group).toHaveLength(2));
    const [arr, str] = seen.group as GroupMessage[];
    expect(arr).toMatchObject({ group_id: GROUP, user_id: 20001, sender: { card: "三哥" }, message_type: "group", sub_type: "normal" });
    expect(arr.message).toEqual(segs);
    // The library turns the CQ string back into segments: the same message.
    expect(str.message).toEqual(segs);
    expect(str.raw_message).toBe("[CQ:at,qq=10001] 签到");
  });

  test("private messages and member notices are dispatched too", async () => {
    peer.sayPrivately({ user_id: 20002, nickname: "李四" }, "我是 李四 5678");
    peer.join(GROUP, { user_id: 20003, nickname: "王五", card: "", role: "member" });
    peer.leave(GROUP, 20003);
    await eventually(() => expect([seen.private?.length, seen.increase?.length, seen.decrease?.length]).toEqual([1, 1, 1]));
    expect(seen.increase![0]).toMatchObject({ notice_type: "group_increase", group_id: GROUP, user_id: 20003 });
  });

  test("the library's actions are answered: send_group_msg, get_login_info, get_group_member_list, and a failure", async () => {
    const sent = await client.send_group_msg({ group_id: GROUP, message: [{ type: "at", data: { qq: "20001" } }, { type: "text", data: { text: " 你好" } }] });
    expect(typeof sent.message_id).toBe("number");
    expect(peer.sent.at(-1)).toMatchObject({ group_id: GROUP, text: " 你好", mentions: ["20001"] });
    expect(await client.get_login_info()).toEqual({ user_id: 10001, nickname: "助手" });
    const members = await client.get_group_member_list({ group_id: GROUP });
    expect(members.map((m) => [m.user_id, m.card, m.role])).toEqual([
      [20001, "三哥", "member"],
      [20002, "", "admin"],
    ]);
    peer.respondOnce("send_group_msg", () => ({ status: "failed", retcode: 1200, data: null, message: "群不存在" }));
    await expect(client.send_group_msg({ group_id: GROUP, message: [{ type: "text", data: { text: "x" } }] })).rejects.toMatchObject({ status: "failed", retcode: 1200 });
    expect(peer.violations).toEqual([]);
  });

  test("our adapter's send frames have the shape the library's have", async () => {
    const twin = new NapCatPeer({ selfId: 10001, token: "tok", heartbeatMs: 0, groups: [group()] });
    const url = await twin.listenForward();
    const adapter = new OneBotAdapter({ account: "qq-contract", transport: { kind: "forward", url, reconnectMinMs: 100 }, accessToken: "tok", log });
    try {
      await adapter.start();
      await eventually(() => expect(adapter.isOnline()).toBe(true));
      await adapter.send({ kind: "group", groupId: String(GROUP) }, " 你好", { mentions: ["20001"] });
      await adapter.send({ kind: "private", userId: "20002" }, "私聊");
      const ours = twin.actions.filter((a) => a.action.startsWith("send_"));
      const theirs = peer.actions.find((a) => a.action === "send_group_msg")!;
      expect(Object.keys(ours[0].params).sort()).toEqual(Object.keys(theirs.params).sort());
      expect(ours[0].params).toEqual(theirs.params);
      expect(ours[1]).toMatchObject({ action: "send_private_msg", params: { user_id: 20002, message: [{ type: "text", data: { text: "私聊" } }] } });
      expect(typeof ours[0].echo).toBe("string");
      // Files (a broadcast's attachment): a picture inline as an image segment, a document as an upload.
      const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
      await adapter.sendFile({ kind: "group", groupId: String(GROUP) }, { name: "通知.png", mimeType: "image/png", data: png });
      await adapter.sendFile({ kind: "group", groupId: String(GROUP) }, { name: "学习材料.pdf", kind: "file", data: Buffer.from("%PDF-1.4") });
      expect(twin.sent.at(-1)?.message).toEqual([{ type: "image", data: { file: `base64://${png.toString("base64")}`, name: "通知.png" } }]);
      expect(twin.uploads).toEqual([{ action: "upload_group_file", group_id: GROUP, name: "学习材料.pdf", file: `base64://${Buffer.from("%PDF-1.4").toString("base64")}` }]);
      expect(twin.violations).toEqual([]);
    } finally {
      await adapter.stop();
      await twin.close();
    }
  });

  test("a bad token is refused the way NapCat refuses it, and the library sees retcode 1403", async () => {
    const errors: WSErrorRes[] = [];
    const bad = new NCWebsocket({ baseUrl: peer.forwardUrl!, accessToken: "wrong", reconnection: { enable: false } });
    bad.on("socket.error", (e) => void errors.push(e));
    await bad.connect();
    await eventually(() => expect(errors.some((e) => e.error_type === "response_error" && e.info.errno === 1403)).toBe(true));
    await bad.disconnect();
  });
});

describe("CQ codes", () => {
  test("escaping follows the spec: & [ ] in text, and , in parameters, & first", () => {
    expect(escapeText("a&b[c]d,e")).toBe("a&amp;b&#91;c&#93;d,e");
    expect(escapeParam("a&b[c]d,e")).toBe("a&amp;b&#91;c&#93;d&#44;e");
    // (node-napcat-ts's CQCodeEncode replaces "&" last and so turns "," into "&amp;#44;": not used here.)
  });

  test("decoding undoes it exactly, and escaped brackets in text never become a code", () => {
    expect(parseCq("路灯&#91;坏了&#93;&amp;没人修,快来")).toEqual([{ type: "text", data: { text: "路灯[坏了]&没人修,快来" } }]);
    expect(parseCq("&#91;CQ:at,qq=1&#93;")).toEqual([{ type: "text", data: { text: "[CQ:at,qq=1]" } }]);
    expect(parseCq("&amp;#91;")).toEqual([{ type: "text", data: { text: "&#91;" } }]);
    expect(parseCq("[CQ:share,url=https://a.cn/?x=1&#44;2,title=A&amp;B]")).toEqual([{ type: "share", data: { url: "https://a.cn/?x=1,2", title: "A&B" } }]);
  });

  test("segments → string → segments round-trips, and agrees with the peer's NapCat-style encoder", () => {
    const segs = [
      { type: "text", data: { text: "通知[重要]&紧急, 请看" } },
      { type: "at", data: { qq: "10001" } },
      { type: "image", data: { file: "https://x.cn/a.png?a=1,b=[2]" } },
      { type: "text", data: { text: " 完" } },
    ];
    const s = toCq(segs);
    expect(s).toBe(cqString(segs));
    expect(parseCq(s)).toEqual(segs);
  });

  test("our parser agrees with node-napcat-ts's on strings without escapes", () => {
    for (const s of ["签到", "[CQ:at,qq=10001] 签到", "请假 [CQ:face,id=14]家里有事[CQ:at,qq=all]", "[CQ:reply,id=-12345][CQ:at,qq=1]好的"]) {
      expect(parseCq(s)).toEqual(convertCQCodeToJSON(s));
    }
  });

  test("reading segments: mentions without the bot or @all, 'mentions me', tidy text, images", () => {
    const r = readSegments(
      parseCq("[CQ:at,qq=10001] 登记 [CQ:at,qq=20001]  孙七 [CQ:at,qq=all][CQ:image,file=abc.image,url=https://q.cn/x.jpg]"),
      "10001",
    );
    expect(r).toEqual({ text: "登记 孙七", mentions: ["20001"], mentionsMe: true, images: [{ url: "https://q.cn/x.jpg", file: "abc.image" }] });
  });

  test("what we send: @s first as at segments, then the text", () => {
    expect(outboundSegments("已签到 3/5", ["1", "2"])).toEqual([
      { type: "at", data: { qq: "1" } },
      { type: "text", data: { text: " " } },
      { type: "at", data: { qq: "2" } },
      { type: "text", data: { text: " 已签到 3/5" } },
    ]);
    expect(outboundSegments("纯文本")).toEqual([{ type: "text", data: { text: "纯文本" } }]);
  });

  test("long texts are split to the QQ limit", () => {
    const adapter = new OneBotAdapter({ account: "x", transport: { kind: "forward", url: "ws://127.0.0.1:1" }, log });
    const long = Array.from({ length: 200 }, (_, i) => `第${i}行：${"党".repeat(40)}`).join("\n");
    const parts = outboundParts(long, [], adapter.maxTextLength, 10);
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.every((p) => Array.from(p.text).length <= adapter.maxTextLength)).toBe(true);
    expect(parts.map((p) => p.text).join("\n")).toBe(long);
  });
});

describe("send failures map to the sender's classes", () => {
  const failed = (retcode: number, message: string) => sendFailureOf(new OneBotActionError("send_group_msg", "failed", retcode, message));
  test.each([
    [1200, "Timeout: NTEvent serviceAndMethod:NodeIKernelMsgService/sendMsg ListenerName:NodeIKernelMsgListener/onMsgInfoListUpdate", "rate_limited"],
    [1200, "发送消息过于频繁", "rate_limited"],
    [1200, "群不存在", "not_found"],
    [1200, "bot not in group", "not_found"],
    [1200, "当前账号在该群已被禁言", "transient"],
    [1400, "参数错误", "permanent"],
    [1404, "不支持的 API", "permanent"],
    [1403, "token验证失败", "offline"],
    [100, "网络错误", "transient"],
  ])("retcode %d %s → %s", (retcode, message, expected) => {
    expect(failed(retcode as number, message as string)).toBe(expected);
  });
  test("no answer → rate_limited (back off: it may be risk control); socket gone → offline", () => {
    expect(sendFailureOf(new OneBotActionError("send_group_msg", "timeout", null, "no answer"))).toBe("rate_limited");
    expect(sendFailureOf(new OneBotActionError("send_group_msg", "closed", null, "closed"))).toBe("offline");
  });
});

describe("reverse endpoint: several accounts, each with its own token", () => {
  let hub: OneBotReverseHub;
  const a = new OneBotAdapter({ account: "qq-a", selfId: "1111111", accessToken: "token-a", transport: { kind: "reverse", hub: undefined as never }, log });
  const b = new OneBotAdapter({ account: "qq-b", selfId: "2222222", accessToken: "token-b", transport: { kind: "reverse", hub: undefined as never }, log });
  const peers: NapCatPeer[] = [];

  beforeAll(async () => {
    hub = await OneBotReverseHub.listen("127.0.0.1", 0, log);
    hub.register(a);
    hub.register(b);
  });
  afterAll(async () => {
    for (const p of peers) await p.close();
    await a.stop();
    await b.stop();
    await hub.close();
  });

  test("?access_token= works like the header; one account's token does not open another's", async () => {
    const pa = new NapCatPeer({ selfId: 1111111, heartbeatMs: 0 });
    const pb = new NapCatPeer({ selfId: 2222222, heartbeatMs: 0 });
    peers.push(pa, pb);
    await pa.connectReverse(hub.url, { token: "token-a", tokenVia: "query" });
    await expect(pb.connectReverse(hub.url, { token: "token-a" })).rejects.toMatchObject({ status: 403 });
    await pb.connectReverse(hub.url, { token: "token-b" });
    await eventually(() => expect([a.isOnline(), b.isOnline()]).toEqual([true, true]));
    expect(pa.actions[0].action).toBe("get_login_info");
  });

  test("an Event + API pair works like one Universal socket: events on one, actions on the other", async () => {
    const c = new OneBotAdapter({ account: "qq-c", selfId: "3333333", accessToken: "token-c", transport: { kind: "reverse", hub }, log });
    const got: string[] = [];
    c.onMessage(async (m) => void got.push(m.text));
    await c.start();
    // Listeners go on before the handshake completes: the first action can arrive in the same packet as the 101.
    const open = (role: string, onFrame: (ws: WebSocket, frame: string) => void) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(hub.url, { headers: { "x-self-id": "3333333", "x-client-role": role, authorization: "Bearer token-c" } });
        ws.on("message", (d) => onFrame(ws, String(d)));
        ws.on("open", () => resolve(ws));
        ws.on("error", reject);
      });
    const eventActions: string[] = [];
    const events = await open("Event", (_ws, d) => eventActions.push(d));
    const apiSocket = await open("API", (ws, d) => {
      const f = JSON.parse(d);
      ws.send(JSON.stringify({ status: "ok", retcode: 0, data: f.action === "get_login_info" ? { user_id: 3333333, nickname: "丙" } : { message_id: 1 }, echo: f.echo }));
    });
    await eventually(() => expect(c.isOnline()).toBe(true));
    events.send(JSON.stringify({ time: 1, self_id: 3333333, post_type: "message", message_type: "private", sub_type: "friend", message_id: 5, user_id: 20001, message: [{ type: "text", data: { text: "帮助" } }], raw_message: "帮助", font: 0, sender: { user_id: 20001, nickname: "张三" } }));
    await eventually(() => expect(got).toEqual(["帮助"]));
    await c.send({ kind: "private", userId: "20001" }, "好的");
    expect(eventActions).toEqual([]);
    events.terminate();
    apiSocket.terminate();
    await c.stop();
  });

  test("an unknown X-Client-Role or a missing X-Self-ID is refused", async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(hub.url, { headers });
        ws.on("unexpected-response", (req, res) => {
          req.destroy();
          resolve(res.statusCode ?? 0);
        });
        ws.on("open", () => {
          ws.terminate();
          resolve(101);
        });
        ws.on("error", () => undefined);
      });
    expect(await status({ "x-self-id": "1111111", "x-client-role": "Robot", authorization: "Bearer token-a" })).toBe(400);
    expect(await status({ "x-client-role": "Universal", authorization: "Bearer token-a" })).toBe(400);
  });
});

describe("configuration of a QQ account", () => {
  test("defaults, and bad values named in one line", async () => {
    const { loadConfig } = await import("../core/config.ts");
    const c = loadConfig({ BOT_PLATFORM: "qq" });
    expect(c).toMatchObject({ ONEBOT_TRANSPORT: "reverse", ONEBOT_FORWARD_URL: "ws://127.0.0.1:6700/", ONEBOT_ACTION_TIMEOUT_MS: 15_000, ONEBOT_DEAD_AFTER_BEATS: 3 });
    expect(() => loadConfig({ BOT_PLATFORM: "qq", NODE_ENV: "production", JWT_SECRET: "x".repeat(40) })).toThrow(/ONEBOT_ACCESS_TOKEN 生产环境中 QQ 账号必须设置/);
    expect(() => loadConfig({ ONEBOT_SELF_ID: "qq12345" })).toThrow(/ONEBOT_SELF_ID 应为 QQ 号/);
    expect(() => loadConfig({ ONEBOT_FORWARD_URL: "http://127.0.0.1:6700" })).toThrow(/ONEBOT_FORWARD_URL 必须是 ws\/wss 地址/);
    expect(() => loadConfig({ ONEBOT_TRANSPORT: "http" })).toThrow(/ONEBOT_TRANSPORT 必须是 reverse 或 forward/);
  });
});
