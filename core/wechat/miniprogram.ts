// WeChat mini-program login: code2Session (GET /sns/jscode2session). WeChat answers HTTP 200 with an `errcode`
// in the body for errors (and historically with Content-Type text/plain), so the body decides, not the status.
// The session_key in a successful answer is dropped here: we never store, log or return it.
import type { Logger } from "../log.ts";
import { AppError } from "../kernel/errors.ts";

export interface MiniProgramConfig {
  WECHAT_API_BASE: string;
  WECHAT_MP_APPID?: string;
  WECHAT_MP_SECRET?: string;
}

export interface MiniProgramSession {
  openid: string;
  unionid: string | null;
}

export interface MiniProgramClient {
  /** Exchanges a wx.login() code for the user's openid (and unionid when the app is bound to an open platform). */
  code2Session(code: string): Promise<MiniProgramSession>;
}

export const DEFAULT_WECHAT_TIMEOUT_MS = 5000;

const wechatUnavailable = (cause?: unknown) =>
  new AppError("WECHAT_UNAVAILABLE", undefined, undefined, { cause });

export function createMiniProgramClient(
  config: MiniProgramConfig,
  log: Pick<Logger, "warn" | "error">,
  opts: { timeoutMs?: number } = {},
): MiniProgramClient {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WECHAT_TIMEOUT_MS;
  // String concatenation keeps a path prefix in the base URL (e.g. an egress proxy at https://proxy/wx).
  const endpoint = `${config.WECHAT_API_BASE.replace(/\/+$/, "")}/sns/jscode2session`;

  return {
    async code2Session(code) {
      const { WECHAT_MP_APPID: appid, WECHAT_MP_SECRET: secret } = config;
      if (!appid || !secret) {
        log.error("小程序登录未配置：请设置 WECHAT_MP_APPID 和 WECHAT_MP_SECRET");
        throw new AppError("MP_NOT_CONFIGURED");
      }
      const query = new URLSearchParams({ appid, secret, js_code: code, grant_type: "authorization_code" });

      let text: string;
      let status: number;
      try {
        // One signal covers connect, headers and body: a server that stalls mid-body is also cut off.
        const res = await fetch(`${endpoint}?${query}`, { signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        text = await res.text();
      } catch (e) {
        const timedOut = (e as Error)?.name === "TimeoutError";
        // Never log the URL: it carries the app secret.
        log.warn({ timedOut, timeoutMs, err: (e as Error)?.message, cause: ((e as Error)?.cause as Error | undefined)?.message }, "调用微信 code2Session 失败");
        throw wechatUnavailable(e);
      }

      let body: { errcode?: unknown; errmsg?: unknown; openid?: unknown; unionid?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        log.error({ status, bytes: text.length }, "微信 code2Session 返回了无法解析的内容");
        throw new AppError("WECHAT_BAD_RESPONSE");
      }
      if (status !== 200) {
        log.error({ status, errcode: body?.errcode }, "微信 code2Session 返回了非 200 状态");
        throw new AppError("WECHAT_BAD_RESPONSE");
      }

      const errcode = typeof body.errcode === "number" ? body.errcode : Number(body.errcode ?? 0);
      if (errcode !== 0 && !Number.isNaN(errcode)) throw mapErrcode(errcode, String(body.errmsg ?? ""), log);

      if (typeof body.openid !== "string" || !body.openid) {
        log.error({ status }, "微信 code2Session 成功应答中缺少 openid");
        throw new AppError("WECHAT_BAD_RESPONSE");
      }
      return { openid: body.openid, unionid: typeof body.unionid === "string" && body.unionid ? body.unionid : null };
    },
  };
}

function mapErrcode(errcode: number, errmsg: string, log: Pick<Logger, "warn" | "error">): AppError {
  switch (errcode) {
    case 40029: // invalid code: expired (~5 min), already used, or issued for another appid
    case 40163: // code been used
      return new AppError("MP_CODE_INVALID");
    case 45011: // per-user minute quota
      return new AppError("MP_RATE_LIMITED", undefined, { retryAfterSeconds: 60 });
    case 40226: // high-risk user intercepted by WeChat
      return new AppError("MP_USER_BLOCKED");
    case -1: // system busy
      log.warn({ errcode, errmsg }, "微信系统繁忙");
      return new AppError("WECHAT_BUSY", undefined, { retryAfterSeconds: 2 });
    case 40013: // invalid appid
    case 40125: // invalid appsecret
      // Our configuration is wrong: every login will fail until an operator fixes it.
      log.error({ errcode, errmsg }, "小程序 AppID 或 AppSecret 配置错误：请检查 WECHAT_MP_APPID / WECHAT_MP_SECRET");
      return new AppError("MP_MISCONFIGURED");
    default:
      log.error({ errcode, errmsg }, "微信 code2Session 返回未知错误码");
      return new AppError("WECHAT_ERROR");
  }
}
