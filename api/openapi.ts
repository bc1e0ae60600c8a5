// The OpenAPI document is generated from the same zod schemas that validate requests (see validate.ts), so the
// docs cannot drift from what the server accepts.
import { readFileSync } from "node:fs";
import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

export const BEARER_SCHEME = "bearerAuth";

export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "稳定的错误码（UPPER_SNAKE），客户端据此分支 / stable error code", example: "VALIDATION_FAILED" }),
      message: z.string().meta({ description: "给用户看的中文说明 / message for the user (Chinese)", example: "提交的内容有误，请按提示修改" }),
      requestId: z.string().optional().meta({ description: "请求编号，反馈问题时请提供 / request id (also in X-Request-Id)" }),
      fields: z
        .array(z.object({ field: z.string().meta({ example: "body.username" }), message: z.string().meta({ example: "此项为必填项" }) }))
        .optional()
        .meta({ description: "VALIDATION_FAILED：逐项说明 / per-field problems" }),
      retryAfterSeconds: z.number().int().optional().meta({ description: "多少秒后可重试（同 Retry-After）" }),
      checks: z.record(z.string(), z.string()).optional().meta({ description: "NOT_READY：各依赖的状态" }),
    }),
  })
  .meta({ id: "ApiError", description: "所有错误应答的统一格式 / every error answer" });

/** Default descriptions for documented error statuses. */
export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "请求有误：VALIDATION_FAILED / INVALID_JSON / ...",
  401: "未登录或登录失效：TOKEN_MISSING / TOKEN_INVALID / TOKEN_EXPIRED / TOKEN_REVOKED / INVALID_CREDENTIALS",
  403: "无权限：FORBIDDEN / OUT_OF_SCOPE / ACCOUNT_DISABLED / MP_USER_BLOCKED",
  404: "不存在：NOT_FOUND / ORG_UNIT_NOT_FOUND",
  409: "冲突：CONFLICT",
  413: "请求内容过大：PAYLOAD_TOO_LARGE / FILE_TOO_LARGE / TOO_MANY_FILES",
  415: "请求内容类型不对：UNSUPPORTED_MEDIA_TYPE（不是 JSON）/ FILE_TYPE_NOT_ALLOWED（不是图片）",
  429: "过于频繁：TOO_MANY_ATTEMPTS / MP_RATE_LIMITED（见 Retry-After）",
  500: "服务器内部错误：INTERNAL_ERROR（附请求编号）",
  502: "上游服务返回异常：WECHAT_BAD_RESPONSE / WECHAT_ERROR",
  503: "暂时不可用：SERVICE_UNAVAILABLE / NOT_READY / WECHAT_UNAVAILABLE / ...",
};

export function createRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "POST /api/auth/login 或 /api/mp/login 返回的 accessToken",
  });
  return registry;
}

const version = (() => {
  try {
    return JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version as string;
  } catch {
    return "0.0.0";
  }
})();

export function generateOpenApiDocument(registry: OpenAPIRegistry) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "支部建在网络上 netbranch API（Party branches on the network）",
      version,
      description:
        "县委组织部、乡镇和支部使用的接口：干部登录、小程序登录、组织架构。所有错误均返回 {error:{code,message}}，message 为中文。\n\n" +
        "API for the county party office, towns and branches. Every error answers {error:{code,message}} with a Chinese message.",
    },
    tags: [
      { name: "health", description: "运行状态 / liveness and readiness" },
      { name: "auth", description: "干部登录 / cadre authentication" },
      { name: "miniprogram", description: "小程序 / WeChat mini-program" },
      { name: "org", description: "组织架构 / organisation tree" },
      { name: "cadres", description: "干部账号 / cadre accounts" },
      { name: "members", description: "党员 / members and their history" },
      { name: "accounts", description: "机器人账号 / bot accounts" },
      { name: "groups", description: "群 / chat groups" },
      { name: "meetings", description: "会议与签到 / meetings and attendance" },
      { name: "complaints", description: "民情诉求 / complaints: board, handling, metrics, export" },
      { name: "notices", description: "通知 / notices and read receipts" },
      { name: "calendar", description: "工作日日历 / working-day calendar" },
      { name: "docs", description: "接口文档 / this document" },
    ],
  });
}
