// WeChat mini-program login: the mini-program calls wx.login() and sends us the code.
import { z } from "zod";
import { loginMiniProgram } from "../../core/auth/login.ts";
import type { MiniProgramClient } from "../../core/wechat/miniprogram.ts";
import type { ApiRouter } from "../validate.ts";

const MpLoginBody = z
  .object({
    code: z
      .string({ error: "缺少登录凭证 code" })
      .regex(/^[A-Za-z0-9_-]{1,128}$/, { error: "登录凭证格式不正确" })
      .meta({ description: "wx.login() 返回的 code（5 分钟内有效，只能使用一次）" }),
  })
  .meta({ id: "MpLoginRequest" });

const MpLoginResult = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int(),
    expiresAt: z.iso.datetime(),
    identity: z.object({ id: z.number().int(), isNew: z.boolean().meta({ description: "首次登录" }) }),
    member: z
      .object({ id: z.number().int(), name: z.string(), branchId: z.number().int(), branchName: z.string() })
      .nullable()
      .meta({ description: "已绑定的党员；未绑定（群众或尚未认证）时为 null" }),
  })
  .meta({ id: "MpLoginResult" });

export function registerMpRoutes(api: ApiRouter, client: MiniProgramClient) {
  api.route({
    method: "post",
    path: "/api/mp/login",
    summary: "小程序登录 / mini-program login",
    description:
      "用 wx.login() 的 code 换取访问令牌（服务端调用微信 code2Session）。code 无效或已使用返回 400 MP_CODE_INVALID；" +
      "微信不可达或超时返回 503 WECHAT_UNAVAILABLE；未配置 AppID/AppSecret 返回 503 MP_NOT_CONFIGURED。",
    tags: ["miniprogram"],
    body: MpLoginBody,
    response: { description: "登录成功", schema: MpLoginResult },
    errors: [403, 429, 502, 503],
    handler: async (ctx, { body }) => {
      const result = await loginMiniProgram(ctx.deps, client, body.code);
      return { ...result, expiresAt: result.expiresAt.toISOString() };
    },
  });
}
