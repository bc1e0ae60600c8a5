// 党员名单: Excel import with a full preview (every row's plan and problems) before anything is written, and the
// reconciliation of a group's members against the roster.
import { useState } from "preact/hooks";
import { atLeast, download, get, getAll, request } from "../api.ts";
import { Badge, Card, Status, useAction, useLoad, THead } from "../ui.tsx";
import { MemberTabs } from "./members.tsx";

interface PreviewRow {
  row: number;
  name: string;
  branch: { id: number; name: string } | null;
  action: "create" | "update" | "transfer" | "unchanged" | "example" | "error";
  errors: { column: string; message: string }[];
  changes: string[];
  /** A known member of another branch: the row moves them (组织关系转接), it does not add a second person. */
  transfer?: { from: { name: string }; to: { name: string } } | null;
  /** Why a row is left out without being an error (the template's example row). */
  note?: string | null;
}
interface Preview {
  counts: { total: number; create: number; update: number; transfer?: number; unchanged: number; example?: number; error: number };
  rows: PreviewRow[];
}
interface Imported {
  created: number;
  updated: number;
  transferred?: number;
  unchanged: number;
  skipped: number;
}
interface Group {
  id: number;
  topic: string;
  channel: string;
  orgUnit: { name: string } | null;
}
interface RosterReport {
  unit: { name: string };
  rosterCount: number;
  groupCount: number;
  linkedInGroup: number;
  missingFromGroup: { count: number; names: string[] };
  notOnRoster: { count: number; names: string[] };
}

const ACTION: Record<PreviewRow["action"], [string, string]> = {
  create: ["新增", "green"],
  update: ["更新", "blue"],
  transfer: ["组织关系转接", "yellow"],
  unchanged: ["无变化", "grey"],
  example: ["模板示例，不导入", "grey"],
  error: ["有错误", "red"],
};

/** What the 说明 column says about a row. */
function explain(r: PreviewRow) {
  if (r.action === "error") return r.errors.map((e) => `${e.column}：${e.message}`).join("；");
  if (r.action === "transfer" && r.transfer) return `从「${r.transfer.from.name}」转到「${r.transfer.to.name}」${r.changes.length ? `（${r.changes.join("、")}）` : ""}`;
  return r.note ?? r.changes.join("、");
}

export function RosterPage() {
  return (
    <div class="page">
      <MemberTabs active="import" />
      <Import />
      {atLeast("TOWN_ADMIN") ? (
        <Reconcile />
      ) : (
        <Card title="名单核对">
          <p class="muted">支部书记请在本支部群里发送“名单核对”，机器人会私聊您核对结果。</p>
        </Card>
      )}
    </div>
  );
}

function Import() {
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [done, setDone] = useState<Imported | null>(null);
  const [onlyProblems, setOnlyProblems] = useState(false);
  const { busy, run } = useAction();
  const form = (extra: Record<string, string> = {}) => {
    const f = new FormData();
    f.set("file", file!);
    for (const [k, v] of Object.entries(extra)) f.set(k, v);
    return f;
  };
  const check = async () => {
    setDone(null);
    setPreview(null);
    const p = await run(() => request<Preview>("POST", "/api/roster/import/preview", { form: form() }));
    if (p) setPreview(p);
  };
  const commit = async () => {
    const skip = (preview?.counts.error ?? 0) > 0;
    const r = await run(
      () => request<Imported>("POST", "/api/roster/import", { form: form({ skipInvalid: String(skip) }) }),
      (r) => `导入完成：新增 ${r.created} 人，更新 ${r.updated} 人，${r.transferred ? `组织关系转接 ${r.transferred} 人，` : ""}无变化 ${r.unchanged} 人${r.skipped ? `，跳过 ${r.skipped} 行` : ""}。`,
    );
    if (r) {
      setDone(r);
      setPreview(null);
    }
  };
  const c = preview?.counts;
  const writing = c ? c.create + c.update + (c.transfer ?? 0) : 0;
  const rows = preview ? (onlyProblems ? preview.rows.filter((r) => r.action === "error") : preview.rows) : [];
  return (
    <Card
      title="导入党员名单（Excel）"
      testid="roster-import"
      actions={
        <button disabled={busy} onClick={() => run(() => download("/api/roster/template.xlsx", undefined, "党员名单模板.xlsx"))}>
          下载模板
        </button>
      }
    >
      <p class="muted">先检查：系统逐行核对并列出将新增、更新的党员和有错误的行，确认后才写入。</p>
      <div class="row">
        <input type="file" name="roster" accept=".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={(e) => (setFile(e.currentTarget.files?.[0] ?? null), setPreview(null), setDone(null))} />
        <button class="primary" disabled={busy || !file} onClick={check}>
          检查文件
        </button>
      </div>
      {c && (
        <div data-testid="roster-preview">
          <p data-testid="roster-counts">
            共 {c.total} 行：新增 {c.create}，更新 {c.update}，{c.transfer ? `组织关系转接 ${c.transfer}，` : ""}无变化 {c.unchanged}，{c.example ? `模板示例 ${c.example}（不导入），` : ""}
            <span class={c.error ? "error-text" : ""}>有错误 {c.error}</span>
          </p>
          <label>
            <input type="checkbox" checked={onlyProblems} onChange={(e) => setOnlyProblems(e.currentTarget.checked)} /> 只看有错误的行
          </label>
          <div class="table-wrap tall">
            <table>
              <THead cols={["行号", "姓名", "支部", "处理", "说明"]} />
              <tbody>
                {rows.map((r) => (
                  <tr key={r.row} class={r.action === "error" ? "row-error" : ""} data-testid={`roster-row-${r.row}`}>
                    <td>{r.row}</td>
                    <td>{r.name || "—"}</td>
                    <td>{r.branch?.name ?? "—"}</td>
                    <td>
                      <Badge color={ACTION[r.action][1]}>{ACTION[r.action][0]}</Badge>
                    </td>
                    <td>{explain(r)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="row">
            <button class="primary" disabled={busy || writing === 0} onClick={commit}>
              {c.error ? `跳过 ${c.error} 行错误，导入其余 ${writing} 人` : `确认导入 ${writing} 人`}
            </button>
            {c.error > 0 && <span class="muted">也可以修改 Excel 后重新检查。</span>}
          </div>
        </div>
      )}
      {done && (
        <p data-testid="roster-done">
          已导入：新增 {done.created}，更新 {done.updated}，{done.transferred ? `组织关系转接 ${done.transferred}，` : ""}无变化 {done.unchanged}，跳过 {done.skipped}。
        </p>
      )}
    </Card>
  );
}

function Reconcile() {
  const groups = useLoad(() => getAll<Group>("/api/groups", { bound: "true" }), []);
  const [groupId, setGroupId] = useState<number | null>(null);
  const report = useLoad(() => (groupId ? get<RosterReport>(`/api/groups/${groupId}/roster-report`) : Promise.resolve(null)), [groupId]);
  return (
    <Card title="名单核对（名单与群成员）" testid="reconcile">
      <Status loaded={groups}>
        <select value={groupId ?? ""} onChange={(e) => setGroupId(Number(e.currentTarget.value) || null)} aria-label="选择群">
          <option value="">选择一个群…</option>
          {groups.data?.map((g) => (
            <option key={g.id} value={g.id}>
              {g.topic}（{g.orgUnit?.name ?? "未绑定"}）
            </option>
          ))}
        </select>
      </Status>
      {groupId && (
        <Status loaded={report}>
          {report.data && (
            <div data-testid="reconcile-report">
              <p>
                {report.data.unit.name}：名单 {report.data.rosterCount} 人，群内 {report.data.groupCount} 人，已对上 {report.data.linkedInGroup} 人。
              </p>
              <dl class="facts">
                <dt>名单中不在群里（{report.data.missingFromGroup.count}）</dt>
                <dd>{report.data.missingFromGroup.names.join("、") || "无"}</dd>
                <dt>群里未登记或不在名单（{report.data.notOnRoster.count}）</dt>
                <dd>{report.data.notOnRoster.names.join("、") || "无"}</dd>
              </dl>
            </div>
          )}
        </Status>
      )}
    </Card>
  );
}
