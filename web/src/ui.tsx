// Small shared pieces: loading a resource, toasts, formatting, badges. Every page uses these so that a failure looks
// the same everywhere: the API's Chinese message, never a stack trace or a silent blank.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.ts";

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload); a slower earlier answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], opts: { pollMs?: number } = {}): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (error) => mine === seq.current && setState((s) => ({ data: s.data, error: asApiError(error), loading: false })),
    );
  }, [...deps, tick]);
  useEffect(() => {
    if (!opts.pollMs) return;
    const t = setInterval(reload, opts.pollMs);
    return () => clearInterval(t);
  }, [opts.pollMs, ...deps]);
  return { ...state, reload };
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, "CLIENT_ERROR", e instanceof Error ? `页面出错：${e.message}` : "页面出错，请刷新后重试。");
}

// ─── toasts ───
type Toast = { id: number; kind: "ok" | "error"; text: string };
let toastSeq = 0;
let pushToast: (t: Toast) => void = () => {};
export const toast = {
  ok: (text: string) => pushToast({ id: ++toastSeq, kind: "ok", text }),
  error: (e: unknown) => pushToast({ id: ++toastSeq, kind: "error", text: asApiError(e).message }),
};

export function Toasts() {
  const [items, setItems] = useState<Toast[]>([]);
  useEffect(() => {
    pushToast = (t) => {
      setItems((xs) => [...xs, t]);
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== t.id)), t.kind === "error" ? 8000 : 4000);
    };
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} data-testid={`toast-${t.kind}`}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

/** Wraps an action: disables its button while it runs, then shows the API's message or error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <T,>(fn: () => Promise<T>, okText?: string | ((r: T) => string)) => {
    setBusy(true);
    try {
      const r = await fn();
      if (okText) toast.ok(typeof okText === "function" ? okText(r) : okText);
      return r;
    } catch (e) {
      toast.error(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, run };
}

export function Status({ loaded, children }: { loaded: Loaded<unknown>; children?: ComponentChildren }) {
  if (loaded.error)
    return (
      <div class="error-box" data-testid="load-error">
        {loaded.error.message}{" "}
        <button class="link" onClick={loaded.reload}>
          重试
        </button>
      </div>
    );
  if (loaded.loading && !loaded.data) return <div class="muted">正在加载…</div>;
  return <>{children}</>;
}

// ─── formatting (Asia/Shanghai, as the county reads it) ───
const TZ = "Asia/Shanghai";
const dtf = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
const dfull = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
export const fmtTime = (iso: string | null | undefined) => (iso ? dtf.format(new Date(iso)) : "—");
export const fmtFull = (iso: string | null | undefined) => (iso ? dfull.format(new Date(iso)) : "—");
export const pct = (r: number | null | undefined) => (r === null || r === undefined ? "—" : `${Math.round(r * 1000) / 10}%`);

/** Shanghai calendar parts of an instant. */
export function shanghai(d = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return { year: get("year"), month: get("month"), day: get("day") };
}
export const monthKey = (y: number, m: number) => `${y}-${String(m).padStart(2, "0")}`;
export const quarterKey = (y: number, m: number) => `${y}-Q${Math.ceil(m / 3)}`;

/** Local (Shanghai) wall time for <input type=datetime-local> ↔ ISO. */
export function toLocalInput(iso: string) {
  const d = new Date(new Date(iso).getTime() + 8 * 3600_000);
  return d.toISOString().slice(0, 16);
}
export function fromLocalInput(v: string) {
  return new Date(`${v}:00+08:00`).toISOString();
}

export function Badge({ color, children }: { color: string; children: ComponentChildren }) {
  return <span class={`badge badge-${color}`}>{children}</span>;
}

export function Progress({ value, total }: { value: number; total: number }) {
  const p = total ? Math.round((value / total) * 100) : 0;
  return (
    <div class="progress" title={`${value}/${total}`}>
      <div class="progress-bar" style={{ width: `${p}%` }} />
      <span>{p}%</span>
    </div>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="field-hint">{hint}</span>}
    </label>
  );
}

export function Card({ title, children, actions, testid }: { title?: string; children: ComponentChildren; actions?: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={testid}>
      {(title || actions) && (
        <header class="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div class="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function Pager({ page, pageSize, total, onPage }: { page: number; pageSize: number; total: number; onPage: (p: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <div class="pager">
      <button disabled={page <= 1} onClick={() => onPage(page - 1)}>
        上一页
      </button>
      <span>
        第 {page}/{pages} 页，共 {total} 条
      </span>
      <button disabled={page >= pages} onClick={() => onPage(page + 1)}>
        下一页
      </button>
    </div>
  );
}

/** A table's header row from its column titles. */
export function THead({ cols }: { cols: ComponentChildren[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c, i) => (
          <th key={i}>{c}</th>
        ))}
      </tr>
    </thead>
  );
}
