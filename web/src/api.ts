// The console's only door to the server: the same JSON API the mini-program and county systems use.
// Errors keep the API's stable code and its Chinese message, which the pages show as they are.

export interface User {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  orgUnitId: number;
  /** A one-time password (new account, reset, setup): the console shows only the password form until it changes. */
  mustChangePassword?: boolean;
}
export type Role = "COUNTY_ADMIN" | "TOWN_ADMIN" | "BRANCH_SECRETARY" | "MEMBER";
export interface Session {
  token: string;
  expiresAt: string;
  user: User;
  unit: { id: number; code: string; name: string; kind: string };
}

const KEY = "netbranch.console.session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: { field: string; message: string }[],
  ) {
    super(message);
  }
}

let session: Session | null = load();
const listeners = new Set<() => void>();

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return new Date(s.expiresAt).getTime() > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export const getSession = () => session;
export function onSessionChange(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function setSession(s: Session | null) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn();
}

const ROLE_RANK: Record<Role, number> = { MEMBER: 0, BRANCH_SECRETARY: 1, TOWN_ADMIN: 2, COUNTY_ADMIN: 3 };
export const atLeast = (role: Role) => !!session && ROLE_RANK[session.user.role] >= ROLE_RANK[role];

async function toError(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    const e = body?.error;
    // VALIDATION_FAILED's own message is general; the per-field messages say what to fix, so they are shown too.
    const fields: { field: string; message: string }[] | undefined = e?.fields;
    if (e?.code) return new ApiError(res.status, e.code, fields?.length ? `${e.message}：${fields.map((f) => f.message).join("；")}` : e.message, fields);
  } catch {
    /* not JSON: a proxy's page */
  }
  return new ApiError(res.status, "HTTP_" + res.status, `服务器暂时无法处理请求（HTTP ${res.status}），请稍后再试。`);
}

type Query = Record<string, string | number | boolean | undefined | null>;
export function withQuery(path: string, query?: Query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** One HTTP exchange: a network failure or an error answer becomes an ApiError; a dead token ends the session. */
async function send(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiError(0, "NETWORK", "无法连接服务器，请检查网络后重试。");
  }
  if (res.ok) return res;
  const err = await toError(res);
  // An expired or revoked token: back to the login page, with the API's reason shown there.
  if (res.status === 401 && session) {
    loginNotice = err.message;
    setSession(null);
  }
  // The API wants the one-time password changed first: the console switches to that form.
  if (err.code === "PASSWORD_CHANGE_REQUIRED" && session && !session.user.mustChangePassword)
    setSession({ ...session, user: { ...session.user, mustChangePassword: true } });
  throw err;
}

const bearer = (): Record<string, string> => (session ? { authorization: `Bearer ${session.token}` } : {});

export async function request<T>(method: string, path: string, opts: { query?: Query; body?: unknown; form?: FormData } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...bearer() };
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  const res = await send(withQuery(path, opts.query), { method, headers, body });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string, query?: Query) => request<T>("GET", path, { query });
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, { body });
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, { body });
export const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, { body });

/** A GET with the bearer token, for what a plain link cannot carry it to (files, photos). */
const authFetch = (path: string, query?: Query) => send(withQuery(path, query), { headers: bearer() });

/** Downloads a file the API makes (Excel exports). */
export async function download(path: string, query: Query | undefined, fallbackName: string) {
  const res = await authFetch(path, query);
  const disposition = res.headers.get("content-disposition") ?? "";
  const m = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const name = m ? decodeURIComponent(m[1]) : fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Fetches an image the API guards (complaint photos) as a blob URL; the caller revokes it. */
export async function blobUrl(path: string) {
  return URL.createObjectURL(await (await authFetch(path)).blob());
}

let loginNotice: string | null = null;
export function takeLoginNotice() {
  const n = loginNotice;
  loginNotice = null;
  return n;
}

interface LoginResult {
  accessToken: string;
  expiresAt: string;
  user: User;
}

export async function login(username: string, password: string) {
  const res = await request<LoginResult>("POST", "/api/auth/login", { body: { username, password } });
  // The unit's name comes from /me, asked with the new token; until it answers there is no session to show.
  const me = await send("/api/auth/me", { headers: { authorization: `Bearer ${res.accessToken}`, accept: "application/json" } });
  const { orgUnit, user } = (await me.json()) as { orgUnit: Session["unit"]; user: { mustChangePassword?: boolean } | null };
  const mustChangePassword = !!(res.user.mustChangePassword || user?.mustChangePassword);
  setSession({ token: res.accessToken, expiresAt: res.expiresAt, user: { ...res.user, mustChangePassword }, unit: orgUnit });
}

/** Changes the login's own password; the answer is a new token (the change revokes every older one). */
export async function changePassword(oldPassword: string, newPassword: string) {
  const res = await post<LoginResult>("/api/auth/password", { oldPassword, newPassword });
  const s = session!;
  setSession({ ...s, token: res.accessToken, expiresAt: res.expiresAt, user: { ...s.user, ...res.user, mustChangePassword: false } });
}

export async function logout() {
  try {
    await post("/api/auth/logout");
  } finally {
    setSession(null);
  }
}

/** Every item of a paged list endpoint (pageSize is at most 100 on the API), page by page. */
export async function getAll<T>(path: string, query: Query = {}): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; ; page++) {
    const r = await get<{ items: T[]; total: number }>(path, { ...query, page, pageSize: 100 });
    items.push(...r.items);
    if (r.items.length === 0 || items.length >= r.total) return items;
  }
}
