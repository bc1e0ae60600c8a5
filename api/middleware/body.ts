// JSON bodies only, bounded by API_BODY_LIMIT. Anything else with a body is refused with 415 instead of being
// silently parsed as {} (which would turn a client bug into confusing validation errors). multipart/form-data is
// left unread here: the routes that declare `upload` stream it within their own limits, the others refuse it with
// the same 415 (see validate.ts).
import { bodyParser } from "@koa/bodyparser";
import { AppError } from "../../core/kernel/errors.ts";
import type { ApiMiddleware } from "../types.ts";

const BODY_METHODS = ["POST", "PUT", "PATCH"];

export function jsonBody(limit: string): ApiMiddleware {
  const parse = bodyParser({ enableTypes: ["json"], jsonLimit: limit, jsonStrict: true, parsedMethods: BODY_METHODS });
  return async (ctx, next) => {
    if (BODY_METHODS.includes(ctx.method) && hasBody(ctx.req.headers) && !ctx.request.is("application/json", "+json", "multipart/form-data")) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE");
    }
    await parse(ctx as any, next);
  };
}

/** A declared length of 0 (fetch with no body still sends it on POST) counts as no body. */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers["transfer-encoding"] !== undefined) return true;
  const len = headers["content-length"];
  return typeof len === "string" && len.trim() !== "" && len.trim() !== "0";
}
