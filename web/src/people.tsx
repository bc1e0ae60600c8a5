// Pieces shared by the organisation, account and member pages: labels, a one-time secret shown once with a copy
// button, a member finder, tabs.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, type Role } from "./api.ts";
import { asApiError } from "./ui.tsx";

export const ROLE_LABEL: Record<Role, string> = { COUNTY_ADMIN: "县级管理员", TOWN_ADMIN: "乡镇管理员", BRANCH_SECRETARY: "支部书记", MEMBER: "党员" };
export const ROLE_ORDER: Role[] = ["COUNTY_ADMIN", "TOWN_ADMIN", "BRANCH_SECRETARY", "MEMBER"];
export const KIND_LABEL: Record<string, string> = { CITY: "市", COUNTY: "县（区）", TOWN: "乡镇（街道）", VILLAGE: "村（社区）", BRANCH: "党支部", PARTY_GROUP: "党小组" };
export const KIND_ORDER = ["CITY", "COUNTY", "TOWN", "VILLAGE", "BRANCH", "PARTY_GROUP"];
export const CHANNEL_LABEL: Record<string, string> = { WECHAT: "微信", QQ: "QQ", MINIPROGRAM: "小程序" };

/** "2026-03-01" of a date-only value, whether the API sends it as a date or a midnight timestamp. */
export const day = (v: string | null | undefined) => (v ? v.slice(0, 10) : "—");
/** Today in Shanghai as YYYY-MM-DD, for <input type=date>. */
export const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

async function copyText(text: string) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (plain http): the old way, through a selected text area.
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label = "复制" }: { text: string; label?: string }) {
  const [done, setDone] = useState<boolean | null>(null);
  return (
    <button type="button" onClick={async () => setDone(await copyText(text))}>
      {done === null ? label : done ? "已复制" : "复制失败，请手动抄写"}
    </button>
  );
}

/** A one-time password, shown once: the page never gets it again. */
export function OneTimePassword({ username, password, onClose }: { username: string; password: string; onClose: () => void }) {
  return (
    <div class="secret-box" data-testid="one-time-password">
      <p>
        <b>账号 {username} 的一次性密码（只显示这一次，请现在记下）：</b>
      </p>
      <div class="row">
        <code class="secret" data-testid="otp-value">
          {password}
        </code>
        <CopyButton text={password} />
      </div>
      <p class="muted">请当面或电话告诉本人，不要发到群里。本人首次登录时必须修改密码；忘记时可在这里“重置密码”。</p>
      <button onClick={onClose}>我已记下，关闭</button>
    </div>
  );
}

export interface MemberHit {
  id: number;
  name: string;
  phone: string | null;
  branch: { id: number; name: string };
  isSecretary: boolean;
  statusLabel: string;
}

/** Finds a member by name or phone tail (the API's search) and offers the matches to choose from. */
export function MemberFinder({ onChange, branchId, label = "关联党员（可选）", testid }: { onChange: (m: MemberHit | null) => void; branchId?: number; label?: string; testid?: string }) {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<MemberHit[]>([]);
  const [chosen, setChosen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const term = q.trim();
    if (!term && !branchId) return setHits([]);
    let gone = false;
    const t = setTimeout(() => {
      get<{ items: MemberHit[] }>("/api/members", { q: term, branchId, pageSize: 20 }).then(
        (r) => !gone && (setHits(r.items), setError(null)),
        (e) => !gone && setError(asApiError(e).message),
      );
    }, 300);
    return () => {
      gone = true;
      clearTimeout(t);
    };
  }, [q, branchId]);
  return (
    <span class="member-finder" data-testid={testid}>
      <span class="field-label">{label}</span>
      <input type="search" placeholder="姓名或手机后四位" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      <select
        value={chosen ?? ""}
        onChange={(e) => {
          const id = Number(e.currentTarget.value) || null;
          setChosen(id);
          onChange(hits.find((h) => h.id === id) ?? null);
        }}
      >
        <option value="">{hits.length ? `不关联（找到 ${hits.length} 人，请选择）` : "不关联"}</option>
        {hits.map((h) => (
          <option key={h.id} value={h.id}>
            {h.name} {h.phone ?? ""} · {h.branch.name}
            {h.isSecretary ? " · 书记" : ""}
          </option>
        ))}
      </select>
      {error && <span class="error-text small">{error}</span>}
    </span>
  );
}

export function Tabs({ items }: { items: { href: string; label: string; active: boolean }[] }) {
  return (
    <div class="tabs">
      {items.map((t) => (
        <a key={t.href} href={t.href} class={t.active ? "active" : ""}>
          {t.label}
        </a>
      ))}
    </div>
  );
}

/** A form or question opened inside a detail panel, with its own 收起. */
export function SubPanel({ title, children, onClose, testid }: { title: string; children: ComponentChildren; onClose: () => void; testid?: string }) {
  return (
    <div class="subpanel" data-testid={testid}>
      <div class="card-head">
        <h3>{title}</h3>
        <button class="link" onClick={onClose}>
          收起
        </button>
      </div>
      {children}
    </div>
  );
}
