// The OpenAPI document is generated from the same zod schemas that validate requests (see validate.ts), so the
// docs cannot drift from what the server accepts.
import { readFileSync } from "node:fs";
import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ERRORS, type ErrorCode, type ErrorStatus } from "../core/kernel/errors.ts";

export const BEARER_SCHEME = "bearerAuth";

const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/** The catalog as the document shows it: one line per code, its status and default message. */
const catalogTable = () => ERROR_CODES.map((c) => `- \`${c}\` (${ERRORS[c].status}) ${ERRORS[c].message}`).join("\n");

export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({
        description: `稳定的错误码（UPPER_SNAKE），客户端据此分支；每个错误码只对应一个 HTTP 状态 / stable error code, one HTTP status each:\n\n${catalogTable()}`,
        example: "VALIDATION_FAILED",
      }),
      message: z.string().meta({ description: "给用户看的中文说明（可能比上表的默认说明更具体） / message for the user (Chinese)", example: "提交的内容有误，请按提示修改" }),
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

const STATUS_LABEL: Record<ErrorStatus, string> = {
  400: "请求有误",
  401: "未登录或登录失效",
  403: "无权限",
  404: "不存在",
  405: "不支持的请求方法",
  409: "冲突（与当前状态不符）",
  410: "已失效",
  413: "请求内容过大",
  415: "请求内容类型不对",
  429: "过于频繁（见 Retry-After）",
  500: "服务器内部错误（附请求编号）",
  501: "不支持",
  502: "上游服务返回异常",
  503: "暂时不可用",
};

/** Per documented status: what it means and, from the catalog, every code answered with it. */
export const ERROR_DESCRIPTIONS: Record<number, string> = Object.fromEntries(
  (Object.keys(STATUS_LABEL).map(Number) as ErrorStatus[]).map((status) => {
    const codes = ERROR_CODES.filter((c) => ERRORS[c].status === status);
    return [status, `${STATUS_LABEL[status]}：${codes.length > 8 ? `${codes.slice(0, 8).join(" / ")} 等 ${codes.length} 个错误码（见 ApiError.code）` : codes.join(" / ")}`];
  }),
);

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
