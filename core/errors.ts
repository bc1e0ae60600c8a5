// The error vocabulary shared by core services, the API and the bot. Services throw AppError with a stable code
// (clients branch on it) and a polite Chinese message (people read it); everything else is turned into one by
// normalizeError, so nothing unexpected — and no stack trace — ever reaches a user.

export interface FieldIssue {
  /** Where the bad value was, e.g. "body.username" or "query.pageSize". */
  field: string;
  message: string;
}

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly status: number,
    /** Stable UPPER_SNAKE identifier; never changes once clients may depend on it. */
    readonly code: string,
    /** Safe to show to the user (Chinese). */
    message: string,
    /** Extra fields merged into the error body (e.g. `fields`, `checks`, `retryAfterSeconds`). Must be client-safe. */
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Seconds for a Retry-After header, when the error says when to come back. */
  get retryAfterSeconds(): number | undefined {
    const v = this.details?.retryAfterSeconds;
    return typeof v === "number" ? v : undefined;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

// ---- helpers for the common cases; services pass a specific code and message where they have one ----

export const badRequest = (code = "BAD_REQUEST", message = "请求有误，请检查后重试", details?: Record<string, unknown>) =>
  new AppError(400, code, message, details);
export const unauthorized = (code = "UNAUTHORIZED", message = "请先登录") => new AppError(401, code, message);
export const forbidden = (code = "FORBIDDEN", message = "您没有执行此操作的权限") => new AppError(403, code, message);
export const notFound = (code = "NOT_FOUND", message = "请求的内容不存在") => new AppError(404, code, message);
export const conflict = (code = "CONFLICT", message = "数据已存在或已被修改，请刷新后重试") => new AppError(409, code, message);
export const tooMany = (code = "TOO_MANY_REQUESTS", message = "操作过于频繁，请稍后再试", retryAfterSeconds?: number) =>
  new AppError(429, code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
export const serviceUnavailable = (code = "SERVICE_UNAVAILABLE", message = "服务暂时不可用，请稍后再试", details?: Record<string, unknown>) =>
  new AppError(503, code, message, details);

export const validationFailed = (fields: FieldIssue[]) =>
  new AppError(400, "VALIDATION_FAILED", "提交的内容有误，请按提示修改", { fields });

export const DB_UNAVAILABLE_MESSAGE = "数据库暂时不可用，请稍后再试";
export const INTERNAL_MESSAGE = "服务器内部错误，请稍后再试；如问题持续，请联系管理员并提供请求编号";

// ---- normalisation ----

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
}

/** Zod 4 errors (ZodError and core $ZodError) carry `issues`; checked structurally so both classes qualify. */
function zodIssues(e: unknown): ZodLikeIssue[] | null {
  if (!e || typeof e !== "object") return null;
  const err = e as { name?: unknown; issues?: unknown };
  if ((err.name === "ZodError" || err.name === "$ZodError") && Array.isArray(err.issues)) return err.issues as ZodLikeIssue[];
  return null;
}

export function fieldPath(prefix: string | undefined, path: PropertyKey[]): string {
  const parts = [prefix, ...path.map(String)].filter((p): p is string => !!p);
  return parts.join(".") || "(根)";
}

/** Zod issues as per-field problems; `prefix` says where the value came from ("body", "query", ...). */
export function zodFieldIssues(issues: ZodLikeIssue[], prefix?: string): FieldIssue[] {
  return issues.map((i) => ({ field: fieldPath(prefix, i.path), message: i.message }));
}

// Connection-level failures from pg / the Prisma driver adapter / Prisma itself: the database (not the request) is
// the problem, so the client gets a retryable 503 instead of a 500. Raw errno codes are attributed to the database
// because it is the only network dependency whose errors reach here unwrapped (WeChat calls wrap their own).
const PG_CONNECTION_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EAI_AGAIN"]);
// SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown / cannot connect now), 53300 (too many connections).
const PG_CONNECTION_SQLSTATES = /^(08...|57P0[123]|53300)$/;
// Prisma P1xxx are connection/initialisation problems; P2024 is "timed out fetching a connection from the pool".
const PRISMA_CONNECTION_CODES = /^(P1\d{3}|P2024)$/;
const ADAPTER_CONNECTION_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "DatabaseDoesNotExist",
  "DatabaseAccessDenied",
  "AuthenticationFailed",
  "TransactionAlreadyClosed",
]);
const PG_CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

export function isDatabaseConnectionError(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== "object" || depth > 4) return false;
  const err = e as { name?: string; code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: any; errors?: unknown };
  const code = typeof err.code === "string" ? err.code : "";
  if (err.name === "PrismaClientInitializationError") return true;
  if (err.name === "PrismaClientKnownRequestError" && PRISMA_CONNECTION_CODES.test(code)) return true;
  if (PG_CONNECTION_ERRNOS.has(code) || PG_CONNECTION_SQLSTATES.test(code)) return true;
  if (typeof err.kind === "string" && ADAPTER_CONNECTION_KINDS.has(err.kind)) return true;
  if (typeof err.message === "string" && PG_CONNECTION_MESSAGES.test(err.message)) return true;
  const adapterError = err.meta?.driverAdapterError;
  if (adapterError && isDatabaseConnectionError(adapterError, depth + 1)) return true;
  // DriverAdapterError keeps the classified failure in `cause` ({ kind: "DatabaseNotReachable", ... }).
  if (err.cause && isDatabaseConnectionError(err.cause, depth + 1)) return true;
  // AggregateError from net.connect when every resolved address refused.
  if (Array.isArray(err.errors)) return err.errors.some((x) => isDatabaseConnectionError(x, depth + 1));
  return false;
}

/**
 * Maps anything thrown to an AppError. Unknown errors become 500 INTERNAL_ERROR with a generic message; the
 * original stays in `cause` for the server-side log only.
 */
export function normalizeError(e: unknown): AppError {
  if (e instanceof AppError) return e;

  const issues = zodIssues(e);
  if (issues) return validationFailed(zodFieldIssues(issues));

  const err = (e && typeof e === "object" ? e : {}) as { name?: string; code?: unknown; status?: unknown; type?: unknown; meta?: any };

  // Prisma known request errors that are the caller's fault rather than ours.
  if (err.name === "PrismaClientKnownRequestError") {
    if (err.code === "P2002") return new AppError(409, "CONFLICT", "数据已存在，不能重复创建", undefined, { cause: e });
    if (err.code === "P2025") return new AppError(404, "NOT_FOUND", "请求的内容不存在或已被删除", undefined, { cause: e });
    if (err.code === "P2003") return new AppError(409, "CONFLICT", "该数据仍被其他记录引用，无法完成操作", undefined, { cause: e });
    // A number (usually an id) larger than its column holds: no such record can exist, and the caller sent it.
    if (err.code === "P2020" || (err.code === "P2010" && err.meta?.driverAdapterError?.cause?.kind === "ValueOutOfRange")) return new AppError(400, "VALUE_OUT_OF_RANGE", "提交的数值超出允许范围，请检查编号等数字是否正确", undefined, { cause: e });
  }
  if (isDatabaseConnectionError(e)) return new AppError(503, "SERVICE_UNAVAILABLE", DB_UNAVAILABLE_MESSAGE, undefined, { cause: e });

  // HTTP body errors (raw-body / co-body / http-errors) carry `status` and `type`.
  const status = typeof err.status === "number" ? err.status : undefined;
  if (err.type === "entity.too.large" || status === 413) {
    return new AppError(413, "PAYLOAD_TOO_LARGE", "请求内容过大，请精简后重试", undefined, { cause: e });
  }
  if (err.type === "encoding.unsupported" || err.type === "charset.unsupported" || status === 415) {
    return new AppError(415, "UNSUPPORTED_MEDIA_TYPE", "不支持的请求内容格式或编码，请使用 UTF-8 编码的 JSON", undefined, { cause: e });
  }
  if (err.type === "request.aborted") return new AppError(400, "REQUEST_ABORTED", "请求未完整发送，请重试", undefined, { cause: e });
  if (err.type === "request.size.invalid") return new AppError(400, "BAD_REQUEST", "请求长度与声明不符", undefined, { cause: e });
  // co-body marks JSON.parse / strict-mode failures with status 400 on a SyntaxError.
  if (e instanceof SyntaxError && status === 400) return new AppError(400, "INVALID_JSON", "请求内容不是有效的 JSON，请检查格式", undefined, { cause: e });

  return new AppError(500, "INTERNAL_ERROR", INTERNAL_MESSAGE, undefined, { cause: e });
}

/** The JSON body every error answer has: {error:{code, message, requestId?, ...details}}. */
export function errorBody(err: AppError, requestId?: string) {
  return { error: { ...err.details, code: err.code, message: err.message, ...(requestId ? { requestId } : {}) } };
}
