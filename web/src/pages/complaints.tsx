// 民情诉求 board: filter, open a ticket, and claim / reply / transfer / resolve it. The rules (who may, in which
// state) live in the API; the page shows its Chinese answer on success or refusal.
import { useEffect, useState } from "preact/hooks";
import { blobUrl, download, get, post } from "../api.ts";
import { Badge, Card, fmtFull, Pager, Status, useAction, useLoad, THead } from "../ui.tsx";
import { UnitPicker } from "../unit-picker.tsx";

interface Filer {
  name: string | null;
  phone: string | null;
  masked: boolean;
  anonymous: boolean;
}
interface Item {
  id: number;
  number: string;
  status: string;
  statusLabel: string;
  unit: { id: number; name: string };
  content: string;
  urgent: boolean;
  filer: Filer;
  owner: { name: string } | null;
  mine: boolean;
  createdAt: string;
  responseDueAt: string;
  resolveDueAt: string;
  overdue: boolean;
  photos: number;
}
interface Detail extends Omit<Item, "photos" | "mine"> {
  category: string | null;
  location: string | null;
  resolution: string | null;
  ratingLabel: string | null;
  ratingComment: string | null;
  claimedAt: string | null;
  resolvedAt: string | null;
  photos: { id: number; url: string; mimeType: string | null }[];
  events: { id: number; label: string; at: string; actor: string; fromUnit: string | null; toUnit: string | null; note: string | null }[];
  pendingExtension: { days: number; reason: string | null } | null;
  access: string;
}

const STATUSES: [string, string][] = [
  ["", "全部状态"],
  ["SUBMITTED", "待认领"],
  ["CLAIMED", "办理中"],
  ["REOPENED", "重新办理"],
  ["RESOLVED", "已办结"],
  ["CLOSED", "已结案"],
  ["WITHDRAWN", "已撤回"],
];
const STATUS_COLOR: Record<string, string> = { SUBMITTED: "yellow", CLAIMED: "blue", REOPENED: "red", RESOLVED: "green", CLOSED: "grey", WITHDRAWN: "grey" };

const filerText = (f: Filer) => (f.anonymous ? "匿名" : [f.name, f.phone].filter(Boolean).join(" ") || "—");

export function ComplaintsPage({ params }: { params: URLSearchParams }) {
  const open = params.get("n");
  const [unitId, setUnitId] = useState<number | null>(null);
  const [status, setStatus] = useState("");
  const [overdue, setOverdue] = useState(false);
  const [mine, setMine] = useState(false);
  const [typed, setTyped] = useState("");
  const [q, setQ] = useState("");
  // Typing waits for a pause before asking the API.
  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 300);
    return () => clearTimeout(t);
  }, [typed]);
  const filters = { unitId, status, overdue: overdue || undefined, mine: mine || undefined, q: q || undefined };
  const key = JSON.stringify(filters);
  // The page chosen belongs to the filters it was chosen under: new filters start at page 1.
  const [paged, setPaged] = useState({ key, page: 1 });
  const page = paged.key === key ? paged.page : 1;
  const list = useLoad(() => get<{ items: Item[]; page: number; pageSize: number; total: number }>("/api/complaints", { ...filters, page, pageSize: 20 }), [key, page]);
  const { run } = useAction();

  return (
    <div class="page">
      <div class="toolbar wrap">
        <UnitPicker onChange={(id) => setUnitId(id)} />
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-label="状态">
          {STATUSES.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={overdue} onChange={(e) => setOverdue(e.currentTarget.checked)} /> 只看逾期
        </label>
        <label>
          <input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> 我负责的
        </label>
        <input type="search" placeholder="编号或内容关键词" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        <button onClick={() => run(() => download("/api/complaints/export.xlsx", filters, "诉求台账.xlsx"), "已导出")}>导出 Excel</button>
      </div>
      {open && <TicketDetail key={open} number={open} onChanged={list.reload} />}
      <Card title="诉求列表" testid="complaint-list">
        <Status loaded={list}>
          <div class="table-wrap">
            <table>
              <THead cols={["编号", "单位", "内容", "状态", "负责人", "提交时间", "办结时限"]} />
              <tbody>
                {list.data?.items.map((c) => (
                  <tr key={c.id} class={c.number === open ? "selected" : ""} data-testid={`complaint-${c.number}`}>
                    <td class="nowrap">
                      <a href={`#/complaints?n=${c.number}`}>{c.number}</a>
                      {c.urgent && <Badge color="red">急</Badge>}
                    </td>
                    <td>{c.unit.name}</td>
                    <td class="clip">{c.content}</td>
                    <td class="nowrap">
                      <Badge color={STATUS_COLOR[c.status] ?? "grey"}>{c.statusLabel}</Badge>
                      {c.overdue && <Badge color="red">逾期</Badge>}
                    </td>
                    <td>{c.owner?.name ?? "—"}</td>
                    <td class="nowrap">{fmtFull(c.createdAt)}</td>
                    <td class="nowrap">{fmtFull(c.resolveDueAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data && list.data.items.length === 0 && <p class="muted">没有符合条件的诉求。</p>}
          {list.data && <Pager page={list.data.page} pageSize={list.data.pageSize} total={list.data.total} onPage={(p) => setPaged({ key, page: p })} />}
        </Status>
      </Card>
    </div>
  );
}

function Photo({ url }: { url: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    let gone = false;
    blobUrl(url).then(
      (u) => (gone ? URL.revokeObjectURL(u) : setSrc((made = u))),
      () => !gone && setSrc(null),
    );
    return () => {
      gone = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [url]);
  return src ? (
    <a href={src} target="_blank" rel="noopener">
      <img class="thumb" src={src} alt="诉求照片" />
    </a>
  ) : (
    <span class="thumb muted">照片</span>
  );
}

function TicketDetail({ number, onChanged }: { number: string; onChanged: () => void }) {
  const detail = useLoad(() => get<Detail>(`/api/complaints/${encodeURIComponent(number)}`), [number]);
  const { busy, run } = useAction();
  const [reply, setReply] = useState("");
  const [result, setResult] = useState("");
  const [toUnit, setToUnit] = useState("");
  const [reason, setReason] = useState("");
  const act = async (path: string, body: unknown, after?: () => void) => {
    const r = await run(() => post<{ message: string }>(`/api/complaints/${encodeURIComponent(number)}/${path}`, body), (r) => r.message);
    if (r) {
      after?.();
      detail.reload();
      onChanged();
    }
  };
  const d = detail.data;
  return (
    <Card title={`诉求 ${number}`} testid="complaint-detail" actions={<a href="#/complaints">关闭</a>}>
      <Status loaded={detail}>
        {d && (
          <div class="detail">
            <p>
              <Badge color={STATUS_COLOR[d.status] ?? "grey"}>
                <span data-testid="detail-status">{d.statusLabel}</span>
              </Badge>
              {d.overdue && <Badge color="red">逾期</Badge>}
              {d.urgent && <Badge color="red">紧急</Badge>} {d.unit.name} · 负责人：<span data-testid="detail-owner">{d.owner?.name ?? "未认领"}</span>
            </p>
            <pre class="body">{d.content}</pre>
            <dl class="facts">
              <dt>反映人</dt>
              <dd>{filerText(d.filer)}</dd>
              {d.location && (
                <>
                  <dt>地点</dt>
                  <dd>{d.location}</dd>
                </>
              )}
              <dt>响应时限</dt>
              <dd>{fmtFull(d.responseDueAt)}</dd>
              <dt>办结时限</dt>
              <dd>{fmtFull(d.resolveDueAt)}</dd>
              {d.resolution && (
                <>
                  <dt>办理结果</dt>
                  <dd>{d.resolution}</dd>
                </>
              )}
              {d.ratingLabel && (
                <>
                  <dt>评价</dt>
                  <dd>
                    {d.ratingLabel} {d.ratingComment}
                  </dd>
                </>
              )}
            </dl>
            {d.photos.length > 0 && (
              <div class="photos">
                {d.photos.map((p) => (
                  <Photo key={p.id} url={p.url} />
                ))}
              </div>
            )}
            {d.access === "handler" && (
              <div class="actions">
                {!d.owner && ["SUBMITTED", "REOPENED"].includes(d.status) && (
                  <button class="primary" disabled={busy} onClick={() => act("claim", {})}>
                    认领（首问负责）
                  </button>
                )}
                {["SUBMITTED", "CLAIMED", "REOPENED"].includes(d.status) && (
                  <>
                    <div class="row">
                      <input placeholder="回复反映人的内容" value={reply} onInput={(e) => setReply(e.currentTarget.value)} name="reply" />
                      <button disabled={busy || !reply.trim()} onClick={() => act("reply", { message: reply.trim() }, () => setReply(""))}>
                        回复
                      </button>
                    </div>
                    <div class="row">
                      <input placeholder="办理结果（办结时必填）" value={result} onInput={(e) => setResult(e.currentTarget.value)} name="result" />
                      <button class="primary" disabled={busy || !result.trim()} onClick={() => act("resolve", { result: result.trim() }, () => setResult(""))}>
                        办结
                      </button>
                    </div>
                    <div class="row">
                      <input placeholder="转给（本县单位名称或编码，如 河西村党支部）" value={toUnit} onInput={(e) => setToUnit(e.currentTarget.value)} name="toUnit" />
                      <input placeholder="转办理由" value={reason} onInput={(e) => setReason(e.currentTarget.value)} name="reason" />
                      <button disabled={busy || !toUnit.trim()} onClick={() => act("transfer", { toUnit: toUnit.trim(), reason: reason.trim() }, () => (setReason(""), setToUnit("")))}>
                        转办
                      </button>
                    </div>
                  </>
                )}
              </div>
            )}
            <h3>办理记录</h3>
            <ol class="timeline" data-testid="timeline">
              {d.events.map((e) => (
                <li key={e.id}>
                  <span class="muted">{fmtFull(e.at)}</span> <b>{e.label}</b> {e.actor}
                  {e.fromUnit || e.toUnit ? `（${e.fromUnit ?? ""}→${e.toUnit ?? ""}）` : ""}
                  {e.note ? `：${e.note}` : ""}
                </li>
              ))}
            </ol>
          </div>
        )}
      </Status>
    </Card>
  );
}

