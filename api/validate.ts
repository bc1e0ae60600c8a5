// One declaration per route feeds validation, TypeScript types and the OpenAPI document:
//
//   api.route({
//     method: "get", path: "/api/org/units/:id/children", summary: "…", tags: ["org"],
//     auth: { orgParam: "id" },                 // → authenticate + authorize(...) + bearer security in the docs
//     params: IdParams, query: PageQuery,      // zod: parsed (with Chinese messages) before the handler runs
//     response: { description: "…", schema: ChildUnitsPage },
//     handler: (ctx, { params, query, principal }) => listChildUnits(ctx.deps.db, principal, params.id, query),
//   });
//
// The handler returns the answer body; it is parsed with the response schema, so fields not in the contract
// (password hashes, session keys...) are stripped instead of leaking. A route answering a file instead of JSON
// declares `response: { description, schema: fileResponse("text/csv") }` and its handler returns a FileAnswer.
// A route that takes files declares `upload: { fields: ["photos"], maxFiles, maxFileBytes }`: it then also accepts
// multipart/form-data, whose text fields are validated with `body` and whose files arrive as `files`.
import { Router } from "@koa/router";
import type { OpenAPIRegistry, RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z, ZodObject, type ZodType } from "zod";
import type { Principal } from "../core/auth/principal.ts";
import { AppError, type FieldIssue, validationFailed, zodFieldIssues } from "../core/kernel/errors.ts";
import { authenticate, authorize, requirePrincipal, type AuthorizeOptions } from "./middleware/auth.ts";
import { isMultipart, readMultipart, type UploadedFile } from "./middleware/multipart.ts";
import { ApiErrorSchema, BEARER_SCHEME, ERROR_DESCRIPTIONS, createRegistry } from "./openapi.ts";
import type { ApiContextExt, ApiCtx, ApiMiddleware, ApiState } from "./types.ts";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

type Out<S> = S extends ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B, A> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  /** Present whenever the route declares `auth`. */
  principal: A extends AuthorizeOptions ? Principal : undefined;
  /** Files of a multipart request to a route that declares `upload`; empty otherwise. */
  files: UploadedFile[];
}

/** A route that accepts files (multipart/form-data) besides, or instead of, a JSON body. */
export interface UploadSpec {
  /** Form fields that may carry files (the first is the documented one). */
  fields: readonly string[];
  /** At most this many files per request (413 TOO_MANY_FILES). */
  maxFiles: number;
  /** Per file, from the configuration (413 FILE_TOO_LARGE as soon as a file passes it). */
  maxFileBytes: (config: ApiCtx["deps"]["config"]) => number;
  /** For the document: what the files are. */
  description: string;
  /** Longest text field in bytes (default 16 KiB; a long text sent beside a file needs more). */
  maxFieldBytes?: number;
}

export interface RouteSpec<
  P extends ZodObject | undefined = undefined,
  Q extends ZodObject | undefined = undefined,
  B extends ZodType | undefined = undefined,
  R extends ZodType = ZodType,
  A extends AuthorizeOptions | undefined = undefined,
> {
  method: HttpMethod;
  /** Koa style (":id"); converted to "{id}" for the document. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Requires a valid token and passes these options to authorize(). Omit for public routes. */
  auth?: A;
  params?: P;
  query?: Q;
  body?: B;
  /** Also accept multipart/form-data with files; its text fields are validated with `body` (a ZodObject). */
  upload?: UploadSpec;
  response: { status?: 200 | 201; description: string; schema: R };
  /** Error statuses worth documenting besides the ones implied by inputs and auth (400, 401, 403) and 500. */
  errors?: number[];
  handler: (ctx: ApiCtx, input: RouteInput<P, Q, B, A>) => Promise<z.input<R>> | z.input<R>;
}

export interface ApiRouter {
  router: Router<ApiState, ApiContextExt>;
  registry: OpenAPIRegistry;
  route<
    P extends ZodObject | undefined = undefined,
    Q extends ZodObject | undefined = undefined,
    B extends ZodType | undefined = undefined,
    R extends ZodType = ZodType,
    A extends AuthorizeOptions | undefined = undefined,
  >(spec: RouteSpec<P, Q, B, R, A>): void;
}

// ---- file (non-JSON) answers ----

/** What the handler of a file route returns: the bytes and the name the browser should save them under. */
export interface FileAnswer {
  body: Buffer;
  /** Any characters (Chinese included): sent as an RFC 5987 UTF-8 `filename*`. */
  filename: string;
  /** Plain-ASCII name for clients that do not understand `filename*`; derived from `filename` when omitted. */
  asciiFilename?: string;
  /** Overrides the route's declared type (a route serving images of several types declares "image/*"). */
  contentType?: string;
  /** Shown in place (Content-Disposition: inline) rather than saved, e.g. a photo. */
  inline?: boolean;
}

const FILE_TYPES = new WeakMap<ZodType, string>();

/**
 * The response schema of a route that answers a file of `contentType`: checks the handler returned a FileAnswer,
 * and makes the route send the bytes with a Content-Disposition and document a binary body.
 */
export function fileResponse(contentType: string) {
  const schema = z.custom<FileAnswer>(
    (v) => !!v && typeof v === "object" && Buffer.isBuffer((v as FileAnswer).body) && typeof (v as FileAnswer).filename === "string",
    { error: "not a FileAnswer" },
  );
  FILE_TYPES.set(schema, contentType);
  return schema;
}

// RFC 5987 attr-char: what may stay unescaped in `filename*`; everything else is %-encoded UTF-8.
const encodeRfc5987 = (s: string) => encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
/** Characters no file system or header accepts in a name. */
const UNSAFE_NAME = /[\\/:*?"<>|\u0000-\u001f\u007f]+/g;

/** `attachment; filename="ascii.xlsx"; filename*=UTF-8''%E7%AD%BE…` (RFC 6266 with the RFC 5987 extended form). */
export function contentDisposition(filename: string, asciiFilename?: string, type: "attachment" | "inline" = "attachment"): string {
  const name = filename.replace(UNSAFE_NAME, "_");
  const fallback = (asciiFilename ?? name).replace(UNSAFE_NAME, "_").replace(/[^\x20-\x7e]+/g, "_").replace(/[%\\"]/g, "_");
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}

// ---- Chinese validation messages ----

const zhCN = z.locales.zhCN().localeError;
const TYPE_NAMES: Record<string, string> = {
  string: "文本",
  number: "数字",
  int: "整数",
  boolean: "true 或 false",
  object: "对象",
  array: "数组",
  date: "日期",
};
/**
 * Zod's zh-CN locale says e.g. "数值过小：期望 number >=1"; users of the console read plain Chinese, so the common
 * cases get plain sentences and the rest falls back to the locale.
 */
export const zhErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "此项为必填项";
      return TYPE_NAMES[issue.expected] ? `必须是${TYPE_NAMES[issue.expected]}` : zhCN(issue);
    case "too_small": {
      const min = Number(issue.minimum);
      if (issue.origin === "string") return min <= 1 ? "不能为空" : `至少 ${min} 个字符`;
      if (issue.origin === "array") return `至少 ${min} 项`;
      if (issue.origin === "number" || issue.origin === "int") return issue.inclusive ? `不能小于 ${min}` : `必须大于 ${min}`;
      return zhCN(issue);
    }
    case "too_big": {
      const max = Number(issue.maximum);
      if (issue.origin === "string") return `最多 ${max} 个字符`;
      if (issue.origin === "array") return `最多 ${max} 项`;
      if (issue.origin === "number" || issue.origin === "int") return issue.inclusive ? `不能大于 ${max}` : `必须小于 ${max}`;
      return zhCN(issue);
    }
    default:
      return zhCN(issue);
  }
};

/** Parses `value` with `schema`, collecting problems as field issues prefixed with `where` ("body", "query"...). */
export function parseWith<S extends ZodType>(schema: S, value: unknown, where: string, issues: FieldIssue[]): z.output<S> | undefined {
  const result = schema.safeParse(value, { error: zhErrorMap });
  if (result.success) return result.data;
  issues.push(...zodFieldIssues(result.error.issues, where));
  return undefined;
}

/** For code outside route declarations: parse or throw 400 VALIDATION_FAILED. */
export function parseOrThrow<S extends ZodType>(schema: S, value: unknown, where = "body"): z.output<S> {
  const issues: FieldIssue[] = [];
  const data = parseWith(schema, value, where, issues);
  if (issues.length) throw validationFailed(issues);
  return data as z.output<S>;
}

// ---- the router ----

export const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

const errorResponse = (status: number) => ({
  description: ERROR_DESCRIPTIONS[status] ?? "错误",
  content: { "application/json": { schema: ApiErrorSchema } },
});

/** JSON (when the route has a body) and, for an upload route, multipart/form-data: the same fields plus the files. */
function requestBody(body: ZodType | undefined, upload: UploadSpec | undefined) {
  const content: Record<string, { schema: ZodType }> = {};
  if (body) content["application/json"] = { schema: body };
  if (upload) {
    const files = { [upload.fields[0]]: z.array(z.string().meta({ format: "binary" })).optional().meta({ description: upload.description }) };
    content["multipart/form-data"] = { schema: body instanceof ZodObject ? body.extend(files) : z.object(files) };
  }
  return { required: !!body, content };
}

export function createApiRouter(): ApiRouter {
  const router = new Router<ApiState, ApiContextExt>();
  const registry = createRegistry();

  function route<P extends ZodObject | undefined, Q extends ZodObject | undefined, B extends ZodType | undefined, R extends ZodType, A extends AuthorizeOptions | undefined>(
    spec: RouteSpec<P, Q, B, R, A>,
  ) {
    const status = spec.response.status ?? 200;
    const fileType = FILE_TYPES.get(spec.response.schema);

    // Order inside a route: auth → validation → handler (the app-wide layers run before, see app.ts).
    const guards: ApiMiddleware[] = spec.auth ? [authenticate, authorize(spec.auth)] : [];
    const handle: ApiMiddleware = async (ctx) => {
      const issues: FieldIssue[] = [];
      const params = spec.params ? parseWith(spec.params, ctx.params, "params", issues) : undefined;
      const query = spec.query ? parseWith(spec.query, ctx.query, "query", issues) : undefined;
      let raw: unknown = ctx.request.body;
      let files: UploadedFile[] = [];
      if (isMultipart(ctx)) {
        // jsonBody lets multipart through unread; only routes that declare `upload` read it.
        if (!spec.upload) throw new AppError("UNSUPPORTED_MEDIA_TYPE");
        if (issues.length) throw validationFailed(issues);
        const form = await readMultipart(ctx, { fileFields: spec.upload.fields, maxFiles: spec.upload.maxFiles, maxFileBytes: spec.upload.maxFileBytes(ctx.deps.config), maxFieldBytes: spec.upload.maxFieldBytes });
        raw = form.fields;
        files = form.files;
      }
      // Without a JSON body (an upload route called with files only, or with none) the fields start empty.
      const body = spec.body ? parseWith(spec.body, raw ?? (spec.upload ? {} : undefined), "body", issues) : undefined;
      if (issues.length) throw validationFailed(issues);

      const input = { params, query, body, files, principal: spec.auth ? requirePrincipal(ctx) : undefined } as RouteInput<P, Q, B, A>;
      const result = await spec.handler(ctx, input);
      const out = spec.response.schema.safeParse(result);
      // Our bug, not the caller's: surfaces as 500 INTERNAL_ERROR with the details in the log only.
      if (!out.success) throw new Error(`${spec.method.toUpperCase()} ${spec.path}: response does not match its schema: ${out.error.message}`);
      ctx.status = status;
      if (fileType) {
        const file = out.data as FileAnswer;
        ctx.type = file.contentType ?? fileType;
        ctx.set("Content-Disposition", contentDisposition(file.filename, file.asciiFilename, file.inline ? "inline" : "attachment"));
        ctx.body = file.body;
      } else {
        ctx.body = out.data;
      }
    };
    router[spec.method](spec.path, ...(guards as any[]), handle as any);

    const errorStatuses = new Set<number>(spec.errors ?? []);
    if (spec.params || spec.query || spec.body) errorStatuses.add(400);
    if (spec.body || spec.upload) (errorStatuses.add(413), errorStatuses.add(415));
    if (spec.auth) (errorStatuses.add(401), errorStatuses.add(403));
    errorStatuses.add(500);

    const config: RouteConfig = {
      method: spec.method,
      path: toOpenApiPath(spec.path),
      summary: spec.summary,
      description: spec.description,
      tags: spec.tags,
      ...(spec.auth ? { security: [{ [BEARER_SCHEME]: [] }] } : {}),
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.body || spec.upload ? { body: requestBody(spec.body, spec.upload) } : {}),
      },
      responses: {
        [status]: fileType
          ? {
              description: spec.response.description,
              headers: { "Content-Disposition": { description: "attachment，文件名见 filename*（UTF-8）", schema: { type: "string" } } },
              content: { [fileType]: { schema: { type: "string", format: "binary" } } },
            }
          : { description: spec.response.description, content: { "application/json": { schema: spec.response.schema } } },
        ...Object.fromEntries([...errorStatuses].sort((a, b) => a - b).map((s) => [s, errorResponse(s)])),
      },
    };
    registry.registerPath(config);
  }

  return { router, registry, route };
}
