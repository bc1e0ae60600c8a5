// multipart/form-data uploads (the mini-program's wx.uploadFile, a browser form), for the routes that declare
// `upload` (see validate.ts): parsed with busboy while the request streams in, so an oversized file is refused at
// the byte that crosses the limit and never sits in memory whole, too many files are refused at the first one too
// many, and a refused request is answered at once with the connection closed (the rest of the body is not read).
// The bytes are only collected here; what they must be (an image, by its magic bytes) is the route's business.
import busboy from "busboy";
import { AppError } from "../../core/kernel/errors.ts";
import { fileTooLarge } from "../../core/storage/index.ts";
import type { ApiCtx } from "../types.ts";

export interface UploadedFile {
  /** The form field it came in ("photos"). */
  field: string;
  /** As the client named it; informative only (never used for storage). */
  filename: string | null;
  /** As the client declared it; not trusted (checkImage decides from the bytes). */
  declaredType: string | null;
  data: Buffer;
}

export interface MultipartLimits {
  /** Form fields that may carry files; a file in any other field is refused (400 UNEXPECTED_FILE_FIELD). */
  fileFields: readonly string[];
  /** At most this many files (413 TOO_MANY_FILES). */
  maxFiles: number;
  /** Per file (413 FILE_TOO_LARGE). */
  maxFileBytes: number;
  /** Text fields: how many and how long each (defaults: 20 fields of at most 16 KiB). */
  maxFields?: number;
  maxFieldBytes?: number;
}

export interface MultipartForm {
  /** Text fields by name; a repeated field keeps its last value. */
  fields: Record<string, string>;
  files: UploadedFile[];
}

export const isMultipart = (ctx: ApiCtx) => !!ctx.request.is("multipart/form-data");

const invalid = (detail?: string) =>
  new AppError("MULTIPART_INVALID", undefined, detail ? { detail: detail.slice(0, 200) } : undefined);

/**
 * Reads the request's multipart body within `limits`. Rejects with 400 MULTIPART_INVALID / UNEXPECTED_FILE_FIELD /
 * FIELD_TOO_LONG, 413 FILE_TOO_LARGE / TOO_MANY_FILES / PAYLOAD_TOO_LARGE; on any refusal the connection is marked
 * to close so the unread rest of the body cannot be taken for the next request.
 */
export function readMultipart(ctx: ApiCtx, limits: MultipartLimits): Promise<MultipartForm> {
  const maxFields = limits.maxFields ?? 20;
  const maxFieldBytes = limits.maxFieldBytes ?? 16 * 1024;
  // The whole body can never legitimately be larger than every allowed part at full size.
  const maxTotal = limits.maxFiles * (limits.maxFileBytes + 4096) + maxFields * (maxFieldBytes + 1024) + 64 * 1024;
  const declared = Number(ctx.get("content-length") || NaN);
  if (Number.isFinite(declared) && declared > maxTotal) {
    ctx.set("Connection", "close");
    return Promise.reject(new AppError("PAYLOAD_TOO_LARGE", "上传的内容太大了，请减少照片数量或压缩后再上传", { maxBytes: maxTotal }));
  }

  const req = ctx.req;
  return new Promise<MultipartForm>((resolve, reject) => {
    // No prototype: a field named "__proto__" or "constructor" is just a field.
    const fields: Record<string, string> = Object.create(null);
    const files: UploadedFile[] = [];
    let done = false;
    let parser: busboy.Busboy;

    const fail = (err: AppError) => {
      if (done) return;
      done = true;
      ctx.set("Connection", "close");
      req.unpipe(parser);
      req.off("aborted", onAborted);
      // Not from inside busboy's own callback (it keeps working on the part after emitting): on the next turn.
      setImmediate(() => parser.destroy());
      reject(err);
    };
    const onAborted = () => fail(new AppError("REQUEST_ABORTED", "上传中断了，请重新提交"));

    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: "utf8",
        limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: maxFields, fieldSize: maxFieldBytes, fieldNameSize: 100, parts: limits.maxFiles + maxFields },
      });
    } catch (e) {
      // No boundary, or not multipart at all.
      ctx.set("Connection", "close");
      reject(invalid((e as Error).message));
      return;
    }

    parser.on("field", (name, value, info) => {
      if (done) return;
      if (info.nameTruncated) return fail(invalid("field name too long"));
      if (info.valueTruncated) return fail(new AppError("FIELD_TOO_LONG", `表单项 ${name.slice(0, 40)} 太长了`, { field: name.slice(0, 100) }));
      fields[name] = value;
    });

    parser.on("file", (name, stream, info) => {
      if (done || !limits.fileFields.includes(name)) {
        stream.on("error", () => undefined);
        stream.resume();
        return fail(
          new AppError("UNEXPECTED_FILE_FIELD", `文件只能放在表单项 ${limits.fileFields[0] ?? "(无)"} 中上传`, { field: name.slice(0, 100), allowed: [...limits.fileFields] }),
        );
      }
      // Destroying the parser ends an unfinished file stream with an error nobody needs to hear.
      stream.on("error", () => undefined);
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => {
        if (!done) chunks.push(chunk);
      });
      // Fired at the byte that crosses the limit: refuse now, do not read the rest.
      stream.on("limit", () => fail(fileTooLarge(limits.maxFileBytes)));
      stream.on("end", () => {
        if (done || stream.truncated) return;
        files.push({ field: name, filename: info.filename ?? null, declaredType: info.mimeType || null, data: Buffer.concat(chunks) });
      });
    });

    parser.on("filesLimit", () => fail(new AppError("TOO_MANY_FILES", `一次最多上传 ${limits.maxFiles} 个文件`, { maxFiles: limits.maxFiles })));
    parser.on("fieldsLimit", () => fail(invalid("too many fields")));
    parser.on("partsLimit", () => fail(invalid("too many parts")));
    parser.on("error", (e: unknown) => fail(invalid(e instanceof Error ? e.message : String(e))));
    // Emitted once the body has ended and every file stream has been read to its end.
    parser.on("finish", () => {
      if (done) return;
      done = true;
      req.off("aborted", onAborted);
      resolve({ fields, files });
    });

    req.on("aborted", onAborted);
    req.pipe(parser);
  });
}
