// 县级广播: compose with a live preview of the reach, the second admin's approval queue, and the live delivery report.
import { useEffect, useState } from "preact/hooks";
import { get, getAll, getSession, post, request } from "../api.ts";
import { Badge, Card, Field, fmtFull, fromLocalInput, Progress, Status, useAction, useLoad, THead } from "../ui.tsx";

type Target = { scope: "all" } | { scope: "towns"; townIds: number[] } | { scope: "kinds"; kinds: ("BRANCH" | "CADRE")[] };
interface Summary {
  id: number;
  number: string;
  title: string;
  body: string;
  status: string;
  statusLabel: string;
  target: Target | { scope: "groups"; groupIds: number[] };
  scheduledAt: string | null;
  attachment: { kind: string; name: string } | null;
  drafter: { id: number; displayName: string };
  createdAt: string;
}
interface Preview {
  groups: number;
  perTown: { townId: number | null; townName: string; groups: number }[];
  accounts: { id: number; name: string; status: string; groups: number }[];
  groupsWithoutOnlineAccount: number;
  partsPerGroup: number;
  messages: number;
  estimatedSeconds: number;
}
type Counts = { total: number; queued: number; sending: number; sent: number; failed: number; cancelled: number; waiting: number };
interface Detail {
  broadcast: Summary;
  approvals: { approver: { id: number; displayName: string }; decision: string; reason: string | null; at: string }[];
  report: {
    totals: Counts;
    perTown: ({ townId: number | null; townName: string } & Counts)[];
    failed: { deliveryId: string; groupId: number; topic: string; townName: string; error: string | null }[];
    waiting: { groupId: number; topic: string; townName: string }[];
  };
}

const STATUS_COLOR: Record<string, string> = {
  PENDING_APPROVAL: "yellow",
  SCHEDULED: "blue",
  SENDING: "blue",
  PAUSED: "yellow",
  COMPLETED: "green",
  REJECTED: "red",
  CANCELLED: "grey",
  DRAFT: "grey",
};
const LIVE = new Set(["SCHEDULED", "SENDING", "PAUSED"]);

export function duration(seconds: number) {
  if (seconds < 60) return `约 ${seconds} 秒`;
  if (seconds < 3600) return `约 ${Math.ceil(seconds / 60)} 分钟`;
  return `约 ${Math.floor(seconds / 3600)} 小时 ${Math.ceil((seconds % 3600) / 60)} 分钟`;
}

export function BroadcastsPage({ params }: { params: URLSearchParams }) {
  const selected = Number(params.get("id")) || null;
  const list = useLoad(() => get<{ items: Summary[] }>("/api/broadcasts", { status: "ALL", limit: 100 }), [], { pollMs: 10_000 });
  // The queue is its own list (oldest first): a draft older than the latest 100 still waits there.
  const queue = useLoad(() => get<{ items: Summary[] }>("/api/broadcasts"), [], { pollMs: 10_000 });
  const reload = () => (list.reload(), queue.reload());
  const me = getSession()!.user.id;
  const pending = queue.data?.items ?? [];
  return (
    <div class="page">
      <Compose open={!selected} onCreated={(id) => (reload(), (location.hash = `#/broadcasts?id=${id}`))} />
      <Card title={`待审批（${pending.length}）`} testid="approval-queue">
        <Status loaded={queue}>
          {pending.length === 0 && <p class="muted">没有待审批的广播。</p>}
          {pending.map((b) => (
            <Approval key={b.id} b={b} mine={b.drafter.id === me} onDone={reload} />
          ))}
        </Status>
      </Card>
      {selected && <Report key={selected} id={selected} onChange={reload} />}
      <Card title="全部广播（最近 100 条）">
        <Status loaded={list}>
          <div class="table-wrap">
            <table>
              <THead cols={["编号", "标题", "状态", "起草人", "起草时间", "定时"]} />
              <tbody>
                {list.data?.items.map((b) => (
                  <tr key={b.id} class={b.id === selected ? "selected" : ""}>
                    <td>
                      <a href={`#/broadcasts?id=${b.id}`}>{b.number}</a>
                    </td>
                    <td>{b.title}</td>
                    <td>
                      <Badge color={STATUS_COLOR[b.status] ?? "grey"}>{b.statusLabel}</Badge>
                    </td>
                    <td>{b.drafter.displayName}</td>
                    <td>{fmtFull(b.createdAt)}</td>
                    <td>{b.scheduledAt ? fmtFull(b.scheduledAt) : "批准后立即"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data?.items.length === 0 && <p class="muted">还没有广播。</p>}
        </Status>
      </Card>
    </div>
  );
}

function Compose({ onCreated, open }: { onCreated: (id: number) => void; open: boolean }) {
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const [scope, setScope] = useState<"all" | "towns" | "kinds">("all");
  const [townIds, setTownIds] = useState<number[]>([]);
  const [kinds, setKinds] = useState<("BRANCH" | "CADRE")[]>(["BRANCH", "CADRE"]);
  const [file, setFile] = useState<File | null>(null);
  const [when, setWhen] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const { busy, run } = useAction();
  const county = getSession()!.unit.id;
  const towns = useLoad(() => getAll<{ id: number; name: string; kind: string }>(`/api/org/units/${county}/children`), []);

  const target: Target = scope === "all" ? { scope } : scope === "towns" ? { scope, townIds } : { scope, kinds };
  const targetKey = JSON.stringify(target);
  // The reach is recomputed as the draft changes, so the sender sees groups and duration before submitting.
  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => {
      post<Preview>("/api/broadcasts/preview", { text: text || "（预览）", target, withAttachment: !!file }).then(
        (p) => !stale && (setPreview(p), setPreviewError(null)),
        (e) => !stale && (setPreview(null), setPreviewError(e.message)),
      );
    }, 400);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [targetKey, text, !!file]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const formEl = e.currentTarget as HTMLFormElement;
    const form = new FormData();
    if (title.trim()) form.set("title", title.trim());
    form.set("text", text);
    form.set("target", targetKey);
    if (when) form.set("scheduledAt", fromLocalInput(when));
    if (file) form.set("attachment", file);
    const r = await run(() => request<{ broadcast: Summary }>("POST", "/api/broadcasts", { form }), (r) => `已起草 ${r.broadcast.number}，请另一位县级管理员审批。`);
    if (r) {
      formEl.reset(); // the file input is the browser's own: clear it too
      setTitle("");
      setText("");
      setFile(null);
      setWhen("");
      onCreated(r.broadcast.id);
    }
  };

  return (
    <Card testid="compose">
      <details open={open}>
      <summary class="card-title">起草广播</summary>
      <form onSubmit={submit} class="form">
        <Field label="标题（可选）">
          <input name="title" maxLength={60} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <Field label="正文" hint={`${text.length} 字；超过 1800 字分条发送，最多 5 条`}>
          <textarea name="text" rows={5} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </Field>
        <Field label="发送范围">
          <div class="radios">
            {(
              [
                ["all", "全县所有群"],
                ["towns", "指定乡镇"],
                ["kinds", "按群类别"],
              ] as const
            ).map(([v, label]) => (
              <label key={v}>
                <input type="radio" name="scope" value={v} checked={scope === v} onChange={() => setScope(v)} /> {label}
              </label>
            ))}
          </div>
        </Field>
        {scope === "towns" && (
          <div class="checks" data-testid="town-picker">
            <Status loaded={towns}>
              {towns.data
                ?.filter((t) => t.kind === "TOWN")
                .map((t) => (
                  <label key={t.id}>
                    <input
                      type="checkbox"
                      checked={townIds.includes(t.id)}
                      onChange={(e) => setTownIds(e.currentTarget.checked ? [...townIds, t.id] : townIds.filter((x) => x !== t.id))}
                    />{" "}
                    {t.name}
                  </label>
                ))}
            </Status>
          </div>
        )}
        {scope === "kinds" && (
          <div class="checks">
            {(
              [
                ["BRANCH", "支部群"],
                ["CADRE", "干部群"],
              ] as const
            ).map(([k, label]) => (
              <label key={k}>
                <input type="checkbox" checked={kinds.includes(k)} onChange={(e) => setKinds(e.currentTarget.checked ? [...kinds, k] : kinds.filter((x) => x !== k))} /> {label}
              </label>
            ))}
          </div>
        )}
        <div class="row">
          <Field label="附件（图片或文档，可选）">
            <input type="file" name="attachment" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </Field>
          <Field label="定时发送（可选）" hint="不填则批准后立即发送">
            <input type="datetime-local" name="scheduledAt" value={when} onInput={(e) => setWhen(e.currentTarget.value)} />
          </Field>
        </div>
        <div class="preview" data-testid="preview">
          {previewError && <span class="error-text">{previewError}</span>}
          {preview && (
            <>
              将发送到 <b data-testid="preview-groups">{preview.groups}</b> 个群（每群 {preview.partsPerGroup} 条，共 {preview.messages} 条），预计用时{" "}
              <b data-testid="preview-duration">{duration(preview.estimatedSeconds)}</b>
              {preview.groupsWithoutOnlineAccount > 0 && <span class="error-text">；其中 {preview.groupsWithoutOnlineAccount} 个群当前没有在线的机器人账号</span>}
              {preview.perTown.length > 1 && <div class="muted small">{preview.perTown.map((t) => `${t.townName} ${t.groups}`).join("，")}</div>}
            </>
          )}
        </div>
        <button type="submit" class="primary" disabled={busy || !text.trim()}>
          提交审批
        </button>
      </form>
      </details>
    </Card>
  );
}

function Approval({ b, mine, onDone }: { b: Summary; mine: boolean; onDone: () => void }) {
  const { busy, run } = useAction();
  const [reason, setReason] = useState("");
  const act = async (kind: "approve" | "reject") => {
    const r = await run(() => post<{ message: string }>(`/api/broadcasts/${b.id}/${kind}`, kind === "reject" ? { reason } : {}), (r) => r.message);
    if (r) {
      onDone();
      if (kind === "approve") location.hash = `#/broadcasts?id=${b.id}`;
    }
  };
  return (
    <div class="approval" data-testid={`approval-${b.number}`}>
      <div>
        <b>{b.number}</b> {b.title} <span class="muted">— {b.drafter.displayName} 起草于 {fmtFull(b.createdAt)}</span>
      </div>
      <pre class="body">{b.body}</pre>
      {b.attachment && <div class="muted">附件：{b.attachment.name}</div>}
      {mine ? (
        <p class="muted">这是您起草的广播，需由另一位县级管理员审批。</p>
      ) : (
        <div class="row">
          <button class="primary" disabled={busy} onClick={() => act("approve")}>
            批准发送
          </button>
          <input placeholder="驳回理由" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <button disabled={busy} onClick={() => act("reject")}>
            驳回
          </button>
        </div>
      )}
    </div>
  );
}

function Report({ id, onChange }: { id: number; onChange: () => void }) {
  const [live, setLive] = useState(true);
  const detail = useLoad(() => get<Detail>(`/api/broadcasts/${id}`), [id], { pollMs: live ? 2000 : undefined });
  const status = detail.data?.broadcast.status;
  useEffect(() => setLive(!status || LIVE.has(status) || status === "PENDING_APPROVAL"), [status]);
  const { busy, run } = useAction();
  const act = async (kind: string, confirmText?: string) => {
    if (confirmText && !confirm(confirmText)) return;
    const r = await run(() => post<{ message: string }>(`/api/broadcasts/${id}/${kind}`), (r) => r.message);
    if (r) (detail.reload(), onChange());
  };
  if (!detail.data) return <Card title="发送报告">{detail.error ? <Status loaded={detail} /> : <p class="muted">正在加载…</p>}</Card>;
  const { broadcast: b, report, approvals } = detail.data;
  const t = report.totals;
  return (
    <Card
      title={`发送报告 · ${b.number}`}
      testid="report"
      actions={
        <>
          {(b.status === "SENDING" || b.status === "SCHEDULED") && (
            <button disabled={busy} onClick={() => act("pause")}>
              暂停
            </button>
          )}
          {b.status === "PAUSED" && (
            <button disabled={busy} onClick={() => act("resume")}>
              继续
            </button>
          )}
          {LIVE.has(b.status) && (
            <button disabled={busy} class="danger" onClick={() => act("cancel", "确定取消这条广播？尚未发出的消息将不再发送。")}>
              取消发送
            </button>
          )}
          {t.failed > 0 && b.status !== "CANCELLED" && (
            <button disabled={busy} onClick={() => act("retry")}>
              重发失败的 {t.failed} 个群
            </button>
          )}
        </>
      }
    >
      <p>
        <Badge color={STATUS_COLOR[b.status] ?? "grey"}>
          <span data-testid="report-status">{b.statusLabel}</span>
        </Badge>{" "}
        {b.title} {approvals.map((a) => <span key={a.at} class="muted"> · {a.approver.displayName}{a.decision === "APPROVED" ? " 已批准" : ` 已驳回：${a.reason ?? ""}`}</span>)}
      </p>
      <div class="totals">
        <Progress value={t.sent} total={t.total} />
        <span data-testid="report-totals">
          已发送 {t.sent} / {t.total}，排队 {t.queued + t.sending}，失败 {t.failed}，等待账号上线 {t.waiting}，已取消 {t.cancelled}
        </span>
      </div>
      <div class="table-wrap">
        <table>
          <THead cols={["乡镇", "群数", "进度", "已发送", "排队", "失败", "等待"]} />
          <tbody>
            {report.perTown.map((p) => (
              <tr key={p.townName}>
                <td>{p.townName}</td>
                <td>{p.total}</td>
                <td>
                  <Progress value={p.sent} total={p.total} />
                </td>
                <td>{p.sent}</td>
                <td>{p.queued + p.sending}</td>
                <td>{p.failed}</td>
                <td>{p.waiting}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {report.failed.length > 0 && (
        <details>
          <summary>发送失败的群（{report.failed.length}）</summary>
          <ul>
            {report.failed.map((f) => (
              <li key={f.deliveryId}>
                {f.townName} · {f.topic}：{f.error ?? "未知原因"}
              </li>
            ))}
          </ul>
        </details>
      )}
      {report.waiting.length > 0 && (
        <details>
          <summary>等待机器人账号上线的群（{report.waiting.length}）</summary>
          <ul>
            {report.waiting.map((w) => (
              <li key={w.groupId}>
                {w.townName} · {w.topic}
              </li>
            ))}
          </ul>
        </details>
      )}
      {b.status === "PENDING_APPROVAL" && <p class="muted">等待另一位县级管理员审批后开始发送。</p>}
    </Card>
  );
}

