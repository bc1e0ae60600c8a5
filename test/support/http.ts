// One way for the API tests to call the running API: JSON, multipart with photos, or a file download.
import { expect } from "@jest/globals";
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  bytes: Buffer;
}

export interface Photo {
  data: Buffer;
  name?: string;
  type?: string;
  field?: string;
}

export interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  form?: Record<string, string>;
  photos?: Photo[];
}

/** `call(path, opts)` against the API at `baseUrl()` (read on each call: the API starts in beforeAll). */
export function apiCaller(baseUrl: () => string) {
  return async function call(p: string, opts: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | FormData | undefined;
    if (opts.form || opts.photos) {
      const fd = new FormData();
      for (const [k, v] of Object.entries(opts.form ?? {})) fd.append(k, v);
      for (const [i, ph] of (opts.photos ?? []).entries()) fd.append(ph.field ?? "photos", new Blob([new Uint8Array(ph.data)], { type: ph.type ?? "image/png" }), ph.name ?? `photo-${i}.png`);
      body = fd;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(`${baseUrl()}${p}`, { method: opts.method ?? (body !== undefined ? "POST" : "GET"), headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString("utf8");
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, bytes };
  };
}

/** What every API error must look like: the status and stable code, JSON, a Chinese message, the request id, no internals. */
export function expectApiError(res: Answer, status: number, code: string) {
  expect({ status: res.status, code: res.json?.error?.code }).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.json.error.message).toMatch(/[\u4e00-\u9fff]/);
  expect(res.json.error.requestId).toBe(res.headers.get("x-request-id"));
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack|node_modules|prisma|Error:/i);
  return res.json.error as { code: string; message: string; fields?: { field: string; message: string }[]; [k: string]: unknown };
}
