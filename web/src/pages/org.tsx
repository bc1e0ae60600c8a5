// 组织架构: the units of one's subtree as a collapsible tree; a chosen unit's detail with its actions (add a child,
// rename / recode / recategorise, move, deactivate), its 绑定码 for bringing a group online, the Excel import of the
// tree, and the groups that need 绑定 again after a WeChat re-login. Every rule is the API's; the page shows its answer.
import { useEffect, useMemo, useState } from "preact/hooks";
import { atLeast, download, get, getAll, getSession, patch, post, request } from "../api.ts";
import { Badge, Card, fmtFull, Status, THead, asApiError, toast, useAction, useLoad } from "../ui.tsx";
import { forgetUnits, UnitPicker } from "../unit-picker.tsx";
import { CHANNEL_LABEL, CopyButton, SubPanel, KIND_LABEL, KIND_ORDER } from "../people.tsx";

interface Node {
  id: number;
  parentId: number | null;
  code: string;
  name: string;
  kind: string;
  category: string | null;
  active: boolean;
  depth: number;
}
interface Tree {
  root: Node;
  items: Node[];
}
interface Category {
  kind: string;
  category: string;
  label: string;
}
interface UnitRef {
  id: number;
  code: string;
  name: string;
  kind: string;
}
interface Detail extends Node {
  path: string;
  parent: UnitRef | null;
  spans: { id: number; code: string; name: string }[];
  counts: { children: number; members: number; groups: number; openComplaints: number };
}
interface BindCode {
  id: number;
  code: string;
  expiresAt: string;
  usedAt?: string | null;
  revokedAt?: string | null;
  unit?: UnitRef;
  member: { id: number; name: string } | null;
  group?: { id: number; topic: string; channel: string } | null;
  createdBy?: { id: number; displayName: string } | null;
}
interface LostGroup {
  id: number;
  channel: string;
  topic: string;
  orgUnit: UnitRef | null;
  lostAt?: string | null;
}

function useCategories() {
  return useLoad(() => get<{ items: Category[] }>("/api/org/categories").then((r) => r.items), []);
}
function kindText(cats: Category[] | null, kind: string, category: string | null) {
  const c = category ? cats?.find((x) => x.kind === kind && x.category === category) : null;
  return c?.label ?? category ?? KIND_LABEL[kind] ?? kind;
}
const select = (id: number | null) => (location.hash = id ? `#/org?id=${id}` : "#/org");

export function OrgPage({ params }: { params: URLSearchParams }) {
  const selected = Number(params.get("id")) || null;
  const [showInactive, setShowInactive] = useState(false);
  const tree = useLoad(() => get<Tree>("/api/org/tree", { includeInactive: showInactive || undefined }), [showInactive]);
  // Every change to the tree comes through here: the unit pickers (this page's and others') forget what they knew.
  const treeChanged = () => (forgetUnits(), tree.reload());
  const cats = useCategories();
  return (
    <div class="page">
      {atLeast("TOWN_ADMIN") && <LostGroups />}
      <div class="split">
        <Card
          title="单位"
          testid="org-tree"
          actions={
            <label class="small">
              <input type="checkbox" checked={showInactive} onChange={(e) => setShowInactive(e.currentTarget.checked)} /> 显示已撤销
            </label>
          }
        >
          <Status loaded={tree}>{tree.data && <TreeView tree={tree.data} cats={cats.data} selected={selected} />}</Status>
        </Card>
        <div>
          {selected ? (
            <UnitDetail key={selected} id={selected} cats={cats.data} tree={tree.data} onChanged={treeChanged} />
          ) : (
            <Card title="单位详情">
              <p class="muted">在左侧选择一个单位，查看详情、新增下级单位、修改、移动、撤销，或为支部生成绑定码。</p>
            </Card>
          )}
        </div>
      </div>
      {atLeast("TOWN_ADMIN") && <OrgImport onDone={treeChanged} cats={cats.data} />}
    </div>
  );
}

function TreeView({ tree, cats, selected }: { tree: Tree; cats: Category[] | null; selected: number | null }) {
  const kids = useMemo(() => {
    const m = new Map<number, Node[]>();
    for (const n of tree.items) if (n.parentId !== null && n.id !== tree.root.id) m.set(n.parentId, [...(m.get(n.parentId) ?? []), n]);
    return m;
  }, [tree]);
  const byId = useMemo(() => new Map(tree.items.map((n) => [n.id, n])), [tree]);
  // Open: the first two levels, and the way down to the chosen unit.
  const [open, setOpen] = useState<Set<number>>(() => {
    const s = new Set<number>();
    for (const n of tree.items) if (n.depth < tree.root.depth + 1) s.add(n.id);
    s.add(tree.root.id);
    for (let n = selected ? byId.get(selected) : undefined; n?.parentId; n = byId.get(n.parentId)) s.add(n.parentId);
    return s;
  });
  // A unit chosen later (a new one, a link) is shown: the way down to it opens.
  useEffect(() => {
    const up: number[] = [];
    for (let n = selected ? byId.get(selected) : undefined; n?.parentId; n = byId.get(n.parentId)) up.push(n.parentId);
    if (up.some((id) => !open.has(id))) setOpen((s) => new Set([...s, ...up]));
  }, [selected, byId]);
  const [filter, setFilter] = useState("");
  const toggle = (id: number) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const label = (n: Node) => (
    <>
      <a href={`#/org?id=${n.id}`} class={n.id === selected ? "selected-unit" : ""} data-testid={`unit-${n.code}`}>
        {n.name}
      </a>{" "}
      <span class="muted small">{kindText(cats, n.kind, n.category)}</span>
      {!n.active && <Badge color="grey">已撤销</Badge>}
    </>
  );
  const render = (n: Node): preact.JSX.Element => {
    const children = kids.get(n.id) ?? [];
    const isOpen = open.has(n.id);
    return (
      <li key={n.id} class={n.active ? "" : "inactive"}>
        {children.length ? (
          <button class="twisty" aria-label={isOpen ? "收起" : "展开"} onClick={() => toggle(n.id)}>
            {isOpen ? "▾" : "▸"}
          </button>
        ) : (
          <span class="twisty" />
        )}
        {label(n)}
        {children.length > 0 && !isOpen && <span class="muted small">（{children.length}）</span>}
        {isOpen && children.length > 0 && <ul>{children.map(render)}</ul>}
      </li>
    );
  };
  const term = filter.trim();
  const matches = term ? tree.items.filter((n) => n.name.includes(term) || n.code.toUpperCase().includes(term.toUpperCase())).slice(0, 100) : [];
  return (
    <>
      <input type="search" class="wide" placeholder="按名称或编码查找单位" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      {term ? (
        <ul class="tree flat">
          {matches.map((n) => (
            <li key={n.id}>
              {label(n)} <span class="muted small">{n.code}</span>
            </li>
          ))}
          {matches.length === 0 && <li class="muted">没有找到。</li>}
        </ul>
      ) : (
        <ul class="tree">{render(tree.root)}</ul>
      )}
      <p class="muted small">共 {tree.items.length} 个单位。</p>
    </>
  );
}

type Mode = null | "add" | "edit" | "move" | "deactivate";

function UnitDetail({ id, cats, tree, onChanged }: { id: number; cats: Category[] | null; tree: Tree | null; onChanged: () => void }) {
  const detail = useLoad(() => get<Detail>(`/api/org/units/${id}`), [id]);
  const [mode, setMode] = useState<Mode>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const changed = () => (detail.reload(), onChanged());
  const d = detail.data;
  // One's own unit is the top of one's tree: moving or deactivating it is for the level above.
  const movable = !!d?.parent && d.id !== getSession()!.unit.id;
  // The refusal (e.g. UNIT_NOT_EMPTY with what is left) stays on the panel, not only in a passing toast.
  const update = async (body: Record<string, unknown>, ok: string) => {
    setError(null);
    setBusy(true);
    try {
      await patch<Detail>(`/api/org/units/${id}`, body);
      toast.ok(ok);
      setMode(null);
      changed();
    } catch (e) {
      setError(asApiError(e).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={d ? d.name : "单位详情"} testid="unit-detail" actions={<a href="#/org">关闭</a>}>
      <Status loaded={detail}>
        {d && (
          <div class="detail">
            <p>
              <Badge color="blue">{kindText(cats, d.kind, d.category)}</Badge>
              {!d.active && <Badge color="grey">已撤销</Badge>} <span class="muted">编码</span> <b data-testid="unit-code">{d.code}</b>
            </p>
            <dl class="facts">
              <dt>上级</dt>
              <dd>{d.parent ? <a href={`#/org?id=${d.parent.id}`}>{d.parent.name}</a> : "—（最上级）"}</dd>
              {d.spans.length > 0 && (
                <>
                  <dt>覆盖的村</dt>
                  <dd>{d.spans.map((s) => s.name).join("、")}</dd>
                </>
              )}
              <dt>下级单位</dt>
              <dd data-testid="count-children">{d.counts.children}</dd>
              <dt>党员</dt>
              <dd data-testid="count-members">{d.counts.members}</dd>
              <dt>已绑定的群</dt>
              <dd>{d.counts.groups}</dd>
              <dt>未办结诉求</dt>
              <dd>{d.counts.openComplaints}</dd>
            </dl>
            {d.active && (
              <div class="row">
                {d.kind !== "PARTY_GROUP" && (
                  <button onClick={() => (setError(null), setMode("add"))} class={mode === "add" ? "primary" : ""}>
                    新增下级单位
                  </button>
                )}
                <button onClick={() => (setError(null), setMode("edit"))}>修改名称/编码/类别</button>
                {movable && <button onClick={() => (setError(null), setMode("move"))}>移动到其他上级</button>}
                {movable && (
                  <button class="danger" onClick={() => (setError(null), setMode("deactivate"))}>
                    撤销该单位
                  </button>
                )}
              </div>
            )}
            {!d.active && (
              <div class="row">
                <button disabled={busy} onClick={() => update({ active: true }, `已恢复 ${d.name}`)}>
                  恢复该单位
                </button>
              </div>
            )}
            {error && (
              <div class="error-box" data-testid="unit-error">
                {error}
              </div>
            )}
            {mode === "add" && <AddChild parent={d} cats={cats} onClose={() => setMode(null)} onDone={onChanged} />}
            {mode === "edit" && <EditUnit unit={d} cats={cats} tree={tree} busy={busy} onClose={() => setMode(null)} onSave={(body) => update(body, "已保存")} />}
            {mode === "move" && (
              <SubPanel title={`移动 ${d.name}`} onClose={() => setMode(null)} testid="move-unit">
                <MoveUnit unit={d} busy={busy} onSave={(parentId) => update({ parentId }, `已移动 ${d.name}`)} />
              </SubPanel>
            )}
            {mode === "deactivate" && (
              <SubPanel title={`撤销 ${d.name}`} onClose={() => setMode(null)} testid="deactivate-unit">
                <p>撤销后该单位不再出现在列表和统计中，历史记录保留。只有没有下级单位、党员、群和未办结诉求的单位才能撤销。</p>
                <button class="danger" disabled={busy} onClick={() => update({ active: false }, `已撤销 ${d.name}`)}>
                  确认撤销
                </button>
              </SubPanel>
            )}
            {d.active && d.kind !== "PARTY_GROUP" && <BindCodes unit={d} />}
          </div>
        )}
      </Status>
    </Card>
  );
}

/** Which kinds are offered under a unit (the API's table in core/org/categories.ts; a wrong pick is refused there). */
const CHILD_KINDS: Record<string, string[]> = { CITY: ["COUNTY"], COUNTY: ["TOWN"], TOWN: ["VILLAGE", "BRANCH"], VILLAGE: ["BRANCH"], BRANCH: ["PARTY_GROUP"], PARTY_GROUP: [] };

function categoryOptions(cats: Category[] | null, kinds: string[]) {
  const list = (cats ?? []).filter((c) => kinds.includes(c.kind));
  // Kinds the API lists no category for are still offered, by their plain name.
  for (const k of kinds) if (!list.some((c) => c.kind === k)) list.push({ kind: k, category: "", label: KIND_LABEL[k] ?? k });
  return list.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
}

function AddChild({ parent, cats, onClose, onDone }: { parent: Detail; cats: Category[] | null; onClose: () => void; onDone: () => void }) {
  const below = CHILD_KINDS[parent.kind] ?? [];
  const options = categoryOptions(cats, below);
  const [choice, setChoice] = useState(() => {
    const first = options.find((o) => o.kind === below[0]) ?? options[0];
    return first ? `${first.kind}|${first.category}` : "";
  });
  const [name, setName] = useState("");
  const [code, setCode] = useState("");
  const { busy, run } = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const [kind, category] = choice.split("|");
    const r = await run(() => post<Detail>("/api/org/units", { parentId: parent.id, kind, name: name.trim(), code: code.trim(), category: category || undefined }), (u) => `已新增 ${u.name}（${u.code}）`);
    if (r) {
      onDone();
      onClose();
      select(r.id);
    }
  };
  return (
    <SubPanel title={`在 ${parent.name} 下新增单位`} onClose={onClose} testid="add-unit">
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span class="field-label">类别</span>
          <select name="category" value={choice} onChange={(e) => setChoice(e.currentTarget.value)}>
            {options.map((o) => (
              <option key={`${o.kind}|${o.category}`} value={`${o.kind}|${o.category}`}>
                {KIND_LABEL[o.kind] ?? o.kind} · {o.label}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="field-label">名称</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="如 李家庄村党支部" />
        </label>
        <label class="field">
          <span class="field-label">编码</span>
          <input name="code" value={code} onInput={(e) => setCode(e.currentTarget.value)} placeholder={`全县唯一，如 ${parent.code}-01`} />
          <span class="field-hint">编码用于导入名单、转接和聊天命令，建议沿用组织部的编码。</span>
        </label>
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            新增
          </button>
        </div>
      </form>
    </SubPanel>
  );
}

function EditUnit({ unit, cats, tree, busy, onClose, onSave }: { unit: Detail; cats: Category[] | null; tree: Tree | null; busy: boolean; onClose: () => void; onSave: (body: Record<string, unknown>) => void }) {
  const options = (cats ?? []).filter((c) => c.kind === unit.kind);
  const [name, setName] = useState(unit.name);
  const [code, setCode] = useState(unit.code);
  const [category, setCategory] = useState(unit.category ?? "");
  const [spans, setSpans] = useState<Set<number>>(new Set(unit.spans.map((s) => s.id)));
  // A joint committee (联合党委) spans villages of its town; those are offered as checkboxes.
  const villages = unit.kind === "VILLAGE" ? (tree?.items ?? []).filter((n) => n.kind === "VILLAGE" && n.parentId === unit.parentId && n.id !== unit.id && n.active) : [];
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (name.trim() !== unit.name) body.name = name.trim();
    if (code.trim() !== unit.code) body.code = code.trim();
    if (category !== (unit.category ?? "")) body.category = category || null;
    const before = unit.spans.map((s) => s.id).sort().join(",");
    if ([...spans].sort().join(",") !== before) body.spans = [...spans];
    if (!Object.keys(body).length) return toast.ok("没有修改。");
    onSave(body);
  };
  return (
    <SubPanel title={`修改 ${unit.name}`} onClose={onClose} testid="edit-unit">
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span class="field-label">名称</span>
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field-label">编码</span>
          <input name="code" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field-label">类别</span>
          <select name="category" value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
            <option value="">{KIND_LABEL[unit.kind] ?? unit.kind}（默认）</option>
            {options.map((o) => (
              <option key={o.category} value={o.category}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        {villages.length > 0 && (
          <details open={unit.spans.length > 0}>
            <summary>覆盖的村（仅联合党委填写）</summary>
            <div class="checks">
              {villages.map((v) => (
                <label key={v.id}>
                  <input
                    type="checkbox"
                    checked={spans.has(v.id)}
                    onChange={(e) => {
                      const next = new Set(spans);
                      if (e.currentTarget.checked) next.add(v.id);
                      else next.delete(v.id);
                      setSpans(next);
                    }}
                  />{" "}
                  {v.name}
                </label>
              ))}
            </div>
          </details>
        )}
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            保存
          </button>
        </div>
      </form>
    </SubPanel>
  );
}

function MoveUnit({ unit, busy, onSave }: { unit: Detail; busy: boolean; onSave: (parentId: number) => void }) {
  const root = getSession()!.unit;
  const [target, setTarget] = useState<{ id: number; name: string } | null>(null);
  const to = target ?? root;
  return (
    <>
      <p class="muted">
        现在的上级：{unit.parent?.name}。选择新的上级单位（不选则为 {root.name}）。党员、群和历史记录随单位一起移动。
      </p>
      <div class="row">
        <UnitPicker label="新的上级" picking onChange={(_, u) => setTarget(u)} testid="move-target" />
      </div>
      <button class="primary" disabled={busy || to.id === unit.parentId || to.id === unit.id} onClick={() => onSave(to.id)}>
        移到 {to.name}
      </button>
    </>
  );
}

// ─── 绑定码 ───

function codeState(c: BindCode): [string, string] {
  if (c.usedAt) return ["已使用", "green"];
  if (c.revokedAt) return ["已作废", "grey"];
  if (new Date(c.expiresAt).getTime() <= Date.now()) return ["已过期", "grey"];
  return ["有效", "blue"];
}

function BindCodes({ unit }: { unit: Detail }) {
  const list = useLoad(() => get<{ items: BindCode[] }>(`/api/org/units/${unit.id}/bind-codes`, { pageSize: 20 }), [unit.id]);
  const [fresh, setFresh] = useState<BindCode | null>(null);
  const [needMember, setNeedMember] = useState<string | null>(null);
  const [memberId, setMemberId] = useState<number | null>(null);
  const members = useLoad(
    () => (needMember ? getAll<{ id: number; name: string; isSecretary: boolean; isCommittee: boolean; statusLabel: string }>("/api/members", { branchId: unit.id }) : Promise.resolve([])),
    [needMember, unit.id],
  );
  const { busy, run } = useAction();
  const issue = async (withMember: boolean) => {
    setFresh(null);
    // A plain 生成 starts over: the roster (and who is its secretary) may have changed since.
    if (!withMember) (setNeedMember(null), setMemberId(null));
    try {
      const r = await post<BindCode>(`/api/org/units/${unit.id}/bind-codes`, withMember && memberId ? { memberId } : {});
      setFresh(r);
      setNeedMember(null);
      list.reload();
      toast.ok(`已生成绑定码 ${r.code}`);
    } catch (e) {
      const err = asApiError(e);
      // No single secretary on the roster: the cadre says who will bind the group.
      if (err.code === "BIND_CODE_MEMBER_REQUIRED") setNeedMember(err.message);
      else toast.error(err);
    }
  };
  const revoke = (c: BindCode) => run(() => post(`/api/bind-codes/${c.id}/revoke`), `绑定码 ${c.code} 已作废`).then((r) => r !== undefined && list.reload());
  return (
    <div class="subpanel" data-testid="bind-codes">
      <div class="card-head">
        <h3>群绑定码</h3>
        <button class="primary" onClick={() => run(() => issue(false))} disabled={busy}>
          生成绑定码
        </button>
      </div>
      <p class="muted small">把机器人拉进新建的微信群或 QQ 群后，由书记在群里发送“绑定 绑定码”，该群即绑定到本单位，发送者登记为书记。绑定码 24 小时内有效，只能使用一次。</p>
      {needMember && (
        <div class="error-box" data-testid="bind-member-required">
          <p>{needMember}</p>
          <Status loaded={members}>
            {!!members.data?.length && (
              <div class="row">
                <select value={memberId ?? ""} onChange={(e) => setMemberId(Number(e.currentTarget.value) || null)} aria-label="由谁来绑定">
                  <option value="">选择由谁在群里发送绑定码…</option>
                  {members.data?.map((m) => (
                    <option key={m.id} value={m.id}>
                      {m.name}
                      {m.isSecretary ? "（书记）" : m.isCommittee ? "（支委）" : ""}
                    </option>
                  ))}
                </select>
                <button class="primary" disabled={busy || !memberId} onClick={() => run(() => issue(true))}>
                  用所选党员生成
                </button>
              </div>
            )}
            {members.data?.length === 0 && (
              <p>
                该支部名单里还没有党员，请先到<a href="#/members">“党员”页</a>新增或导入名单，再生成绑定码。
              </p>
            )}
          </Status>
        </div>
      )}
      {fresh && (
        <div class="bind-code-box" data-testid="bind-code-fresh">
          <div class="bind-code" data-testid="bind-code-value">
            {fresh.code}
          </div>
          <p>
            有效期至 <b data-testid="bind-code-expiry">{fmtFull(fresh.expiresAt)}</b>（只能使用一次）
          </p>
          <p>请告诉{fresh.member ? ` ${fresh.member.name} ` : "支部书记"}：把机器人拉进新群后，在群里发送</p>
          <div class="row">
            <code class="secret" data-testid="bind-code-say">
              绑定 {fresh.code}
            </code>
            <CopyButton text={`绑定 ${fresh.code}`} />
          </div>
          {fresh.member && <p class="muted small">发送者会登记为 {fresh.member.name}，本支部书记。</p>}
        </div>
      )}
      <Status loaded={list}>
        {list.data && list.data.items.length > 0 && (
          <div class="table-wrap">
            <table>
              <THead cols={["绑定码", "状态", "由谁绑定", "绑定的群", "生成人", "有效期至", ""]} />
              <tbody>
                {list.data.items.map((c) => {
                  const [label, color] = codeState(c);
                  return (
                    <tr key={c.id} data-testid={`bind-code-${c.code}`}>
                      <td>
                        <code>{c.code}</code>
                      </td>
                      <td>
                        <Badge color={color}>{label}</Badge>
                      </td>
                      <td class="nowrap">{c.member?.name ?? "—"}</td>
                      <td>{c.group ? `${c.group.topic}（${CHANNEL_LABEL[c.group.channel] ?? c.group.channel}）` : "—"}</td>
                      <td class="nowrap">{c.createdBy?.displayName ?? "—"}</td>
                      <td class="nowrap">{fmtFull(c.expiresAt)}</td>
                      <td>
                        {label === "有效" && (
                          <button class="link" disabled={busy} onClick={() => revoke(c)}>
                            作废
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Status>
    </div>
  );
}

// ─── groups lost after a WeChat re-login ───

function LostGroups() {
  const list = useLoad(() => getAll<LostGroup>("/api/groups", { lost: "true" }), []);
  // Only rows the API marks as lost: an older API that ignores `lost` must not make every group look lost.
  const lost = (list.data ?? []).filter((g) => g.lostAt);
  if (!lost.length) return null;
  return (
    <Card title={`需要重新绑定的群（${lost.length}）`} testid="lost-groups">
      <p class="muted">机器人微信重新登录后，以下群没能自动认出。请为对应支部生成绑定码，由书记在群里发送“绑定 绑定码”。</p>
      <div class="table-wrap">
        <table>
          <THead cols={["群名称", "渠道", "原绑定单位", "失联时间"]} />
          <tbody>
            {lost.map((g) => (
              <tr key={g.id}>
                <td>{g.topic}</td>
                <td>{CHANNEL_LABEL[g.channel] ?? g.channel}</td>
                <td>{g.orgUnit ? <a href={`#/org?id=${g.orgUnit.id}`}>{g.orgUnit.name}</a> : "—"}</td>
                <td>{fmtFull(g.lostAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

// ─── Excel import of the tree ───

interface ImportRow {
  row: number;
  action: "create" | "update" | "unchanged" | "error";
  code: string;
  name: string;
  kind: string | null;
  category?: string | null;
  parentCode: string | null;
  errors: { column: string; message: string }[];
  changes?: string[];
}
interface Preview {
  counts: { total: number; create: number; update: number; unchanged: number; error: number };
  rows: ImportRow[];
}
const ACTION: Record<ImportRow["action"], [string, string]> = { create: ["新增", "green"], update: ["更新", "blue"], unchanged: ["无变化", "grey"], error: ["有错误", "red"] };

function OrgImport({ onDone, cats }: { onDone: () => void; cats: Category[] | null }) {
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [done, setDone] = useState<Record<string, number> | null>(null);
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
    const p = await run(() => request<Preview>("POST", "/api/org/import/preview", { form: form() }));
    if (p) setPreview(p);
  };
  const commit = async () => {
    const skip = (preview?.counts.error ?? 0) > 0;
    const r = await run(
      () => request<Record<string, number>>("POST", "/api/org/import", { form: form({ skipInvalid: String(skip) }) }),
      (r) => `导入完成：新增 ${r.created ?? 0} 个单位，更新 ${r.updated ?? 0} 个${r.skipped ? `，跳过有错误的 ${r.skipped} 行` : ""}。`,
    );
    if (r) {
      setDone(r);
      setPreview(null);
      onDone();
    }
  };
  const c = preview?.counts;
  const rows = preview ? (onlyProblems ? preview.rows.filter((r) => r.action === "error") : preview.rows) : [];
  return (
    <Card
      title="导入组织架构（Excel）"
      testid="org-import"
      actions={
        <button disabled={busy} onClick={() => run(() => download("/api/org/template.xlsx", undefined, "组织架构模板.xlsx"))}>
          下载模板
        </button>
      }
    >
      <p class="muted">按模板填写乡镇（街道）、村（社区）、支部和党小组，每行写明上级编码。先检查：系统逐行列出将新增、更新的单位和有错误的行，确认后才写入。</p>
      <div class="row">
        <input type="file" name="org" accept=".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={(e) => (setFile(e.currentTarget.files?.[0] ?? null), setPreview(null), setDone(null))} />
        <button class="primary" disabled={busy || !file} onClick={check}>
          检查文件
        </button>
      </div>
      {c && (
        <div data-testid="org-preview">
          <p data-testid="org-counts">
            共 {c.total} 行：新增 {c.create}，更新 {c.update}，无变化 {c.unchanged}，<span class={c.error ? "error-text" : ""}>有错误 {c.error}</span>
          </p>
          <label>
            <input type="checkbox" checked={onlyProblems} onChange={(e) => setOnlyProblems(e.currentTarget.checked)} /> 只看有错误的行
          </label>
          <div class="table-wrap tall">
            <table>
              <THead cols={["行号", "编码", "名称", "类型", "上级编码", "处理", "说明"]} />
              <tbody>
                {rows.map((r) => (
                  <tr key={r.row} class={r.action === "error" ? "row-error" : ""} data-testid={`org-row-${r.row}`}>
                    <td>{r.row}</td>
                    <td>{r.code || "—"}</td>
                    <td>{r.name || "—"}</td>
                    <td>{r.kind ? kindText(cats, r.kind, r.category ?? null) : "—"}</td>
                    <td>{r.parentCode || "—"}</td>
                    <td>
                      <Badge color={ACTION[r.action]?.[1] ?? "grey"}>{ACTION[r.action]?.[0] ?? r.action}</Badge>
                    </td>
                    <td>{r.action === "error" ? r.errors.map((e) => `${e.column}：${e.message}`).join("；") : (r.changes ?? []).join("、")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="row">
            <button class="primary" disabled={busy || c.create + c.update === 0} onClick={commit}>
              {c.error ? `跳过 ${c.error} 行错误，导入其余 ${c.create + c.update} 个单位` : `确认导入 ${c.create + c.update} 个单位`}
            </button>
            {c.error > 0 && <span class="muted">也可以修改 Excel 后重新检查。</span>}
          </div>
        </div>
      )}
      {done && (
        <p data-testid="org-done">
          已导入：新增 {done.created ?? 0}，更新 {done.updated ?? 0}，无变化 {done.unchanged ?? 0}，跳过 {done.skipped ?? 0}。
        </p>
      )}
    </Card>
  );
}
