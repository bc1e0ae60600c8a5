// A local stand-in for api.weixin.qq.com's code2Session (GET /sns/jscode2session), following the real contract
// (shared/notes/wechat-api.md): HTTP 200 with an errcode body for errors, Content-Type text/plain like WeChat,
// single-use codes that expire after 5 minutes, and session_key in every successful answer (which our client
// must never pass on).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";

export interface StandinUser {
  openid: string;
  unionid?: string;
}

export interface WechatStandin {
  /** Base URL to use as WECHAT_API_BASE. */
  url: string;
  appid: string;
  secret: string;
  /** What wx.login() gives the mini-program: a fresh single-use code for this user. */
  issueCode(user: StandinUser): string;
  /** Codes that trigger a specific WeChat answer. */
  readonly codes: { quota: string; risky: string; busy: string; hang: string };
  /** Requests received (by path), for assertions that we did or did not call WeChat. */
  readonly calls: number;
  close(): Promise<void>;
}

const CODE_TTL_MS = 5 * 60 * 1000;

export async function startWechatStandin(opts: { appid?: string; secret?: string } = {}): Promise<WechatStandin> {
  const appid = opts.appid ?? "wx0123456789abcdef";
  const secret = opts.secret ?? randomBytes(16).toString("hex");
  const codes = { quota: "quota-exceeded-code", risky: "high-risk-user-code", busy: "system-busy-code", hang: "hanging-code" };
  const issued = new Map<string, { user: StandinUser; issuedAt: number; used: boolean }>();
  let calls = 0;

  const rid = () => `${randomBytes(4).toString("hex")}-${randomBytes(4).toString("hex")}`;
  const send = (res: ServerResponse, body: object) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, errcode: number, errmsg: string) => send(res, { errcode, errmsg: `${errmsg}, rid: ${rid()}` });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    calls++;
    const url = new URL(req.url ?? "/", "http://standin");
    if (req.method !== "GET" || url.pathname !== "/sns/jscode2session") {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("404 page not found");
      return;
    }
    const q = url.searchParams;
    if (q.get("grant_type") !== "authorization_code") return fail(res, 40002, "invalid grant_type");
    if (q.get("appid") !== appid) return fail(res, 40013, "invalid appid");
    if (q.get("secret") !== secret) return fail(res, 40125, "invalid appsecret");
    const code = q.get("js_code") ?? "";
    if (!code) return fail(res, 41008, "missing code");
    if (code === codes.hang) return; // never answers: the caller's timeout must fire
    if (code === codes.quota) return fail(res, 45011, "api minute-quota reach limit  mustslower  retry next minute");
    if (code === codes.risky) return fail(res, 40226, "invalid code, user is in high risk");
    if (code === codes.busy) return fail(res, -1, "system error");

    const entry = issued.get(code);
    if (!entry) return fail(res, 40029, "invalid code");
    if (entry.used) return fail(res, 40163, "code been used");
    if (Date.now() - entry.issuedAt > CODE_TTL_MS) return fail(res, 40029, "invalid code");
    entry.used = true;
    send(res, {
      session_key: randomBytes(16).toString("base64"),
      openid: entry.user.openid,
      ...(entry.user.unionid ? { unionid: entry.user.unionid } : {}),
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    appid,
    secret,
    codes,
    get calls() {
      return calls;
    },
    issueCode(user) {
      const code = randomBytes(16).toString("hex");
      issued.set(code, { user, issuedAt: Date.now(), used: false });
      return code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // including the deliberately hanging ones
      }),
  };
}
