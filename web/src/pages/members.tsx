// 党员: the roster of one's subtree, searched by name or phone tail and filtered by status, branch and whether the
// member is linked in chat; a member's detail with their history (earlier branches and statuses), edit, 组织关系转接
// and status changes (转正, 转出, 去世, 停止党籍). The rules are the API's; the page shows its answers.
import { useEffect, useState } from "preact/hooks";
import { get, getAll, getSession, patch, post } from "../api.ts";
import { Badge, Card, fmtFull, Pager, Status, THead, useAction, useLoad } from "../ui.tsx";
import { UnitPicker } from "../unit-picker.tsx";
import { CHANNEL_LABEL, day, SubPanel, Tabs, today } from "../people.tsx";

interface Row {
  id: number;
  name: string;
  gender: string;
  phone: string | null;
  branch: { id: number; code: string; name: string };
  partyGroup: { id: number; name: string } | null;
  status: string;
  statusLabel: string;
  isSecretary: boolean;
  isCommittee: boolean;
  isGroupLeader: boolean;
  linked: boolean;
  joinedPartyOn: string | null;
  fullMemberOn: string | null;
}
interface Detail extends Row {
  birthYear: number | null;
  rosterSince: string | null;
  identities: { channel: string; displayName: string }[];
  history: { branch: { id: number; code: string; name: string }; partyGroup: { id: number; name: string } | null; status: string; statusLabel: string; from: string | null; to: string; endedBy: string }[];
}

const STATUSES: [string, string][] = [
  ["", "全部状态"],
  ["ACTIVE", "正式党员"],
  ["PROBATIONARY", "预备党员"],
  ["TRANSFERRED_OUT", "已转出"],
  ["DECEASED", "已去世"],
  ["SUSPENDED", "停止党籍"],
];
const STATUS_COLOR: Record<string, string> = { ACTIVE: "green", PROBATIONARY: "blue", TRANSFERRED_OUT: "grey", DECEASED: "grey", SUSPENDED: "red" };
const GENDER: Record<string, string> = { MALE: "男", FEMALE: "女", UNKNOWN: "—" };
const ENDED_BY: Record<string, string> = { transfer: "组织关系转接", status: "状态变更", party_group: "调整党小组" };

export function MemberTabs({ active }: { active: "list" | "import" }) {
  return (
    <Tabs
      items={[
        { href: "#/members", label: "党员列表", active: active === "list" },
        { href: "#/roster", label: "导入名单（Excel）与名单核对", active: active === "import" },
      ]}
    />
  );
}

const roles = (m: Row) => [m.isSecretary && "书记", m.isCommittee && "支委", m.isGroupLeader && "党小组长"].filter(Boolean).join("、");

export function MembersPage({ params }: { params: URLSearchParams }) {
  const open = Number(params.get("id")) || null;
  const [typed, setTyped] = useState("");
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [branchId, setBranchId] = useState<number | null>(null);
  const [linked, setLinked] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 300);
    return () => clearTimeout(t);
  }, [typed]);
  const filters = { q: q || undefined, status: status || undefined, branchId, linked: linked || undefined };
  const key = JSON.stringify(filters);
  const [paged, setPaged] = useState({ key, page: 1 });
  const page = paged.key === key ? paged.page : 1;
  const list = useLoad(() => get<{ items: Row[]; page: number; pageSize: number; total: number }>("/api/members", { ...filters, page, pageSize: 20 }), [key, page]);
  const [adding, setAdding] = useState(false);
  return (
    <div class="page">
      <MemberTabs active="list" />
      <div class="toolbar wrap">
        <input type="search" name="q" placeholder="姓名或手机后四位" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} aria-label="搜索党员" />
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-label="状态">
          {STATUSES.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <UnitPicker label="支部" onChange={(id) => setBranchId(id)} testid="member-branch" />
        <select value={linked} onChange={(e) => setLinked(e.currentTarget.value)} aria-label="是否已关联">
          <option value="">已关联和未关联</option>
          <option value="true">已在群里关联（我是）</option>
          <option value="false">还未关联</option>
        </select>
        <button class="primary" onClick={() => setAdding(!adding)}>
          新增党员
        </button>
      </div>
      {adding && (
        <AddMember
          onClose={() => setAdding(false)}
          onDone={(m) => {
            setAdding(false);
            list.reload();
            location.hash = `#/members?id=${m.id}`;
          }}
        />
      )}
      {open && <MemberDetail key={open} id={open} onChanged={list.reload} />}
      <Card title="党员列表" testid="member-list">
        <Status loaded={list}>
          <div class="table-wrap">
            <table>
              <THead cols={["姓名", "性别", "手机", "支部", "党小组", "状态", "职务", "群内关联", "入党日期"]} />
              <tbody>
                {list.data?.items.map((m) => (
                  <tr key={m.id} class={m.id === open ? "selected" : ""} data-testid={`member-${m.id}`}>
                    <td>
                      <a href={`#/members?id=${m.id}`}>{m.name}</a>
                    </td>
                    <td>{GENDER[m.gender] ?? "—"}</td>
                    <td class="nowrap">{m.phone ?? "—"}</td>
                    <td>{m.branch.name}</td>
                    <td>{m.partyGroup?.name ?? "—"}</td>
                    <td>
                      <Badge color={STATUS_COLOR[m.status] ?? "grey"}>{m.statusLabel}</Badge>
                    </td>
                    <td>{roles(m) || "—"}</td>
                    <td>{m.linked ? "已关联" : <span class="muted">未关联</span>}</td>
                    <td class="nowrap">{day(m.joinedPartyOn)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data && list.data.items.length === 0 && <p class="muted">没有符合条件的党员。</p>}
          {list.data && <Pager page={list.data.page} pageSize={list.data.pageSize} total={list.data.total} onPage={(p) => setPaged({ key, page: p })} />}
        </Status>
      </Card>
    </div>
  );
}

/** One new member (a roster of many is the Excel import's). */
function AddMember({ onClose, onDone }: { onClose: () => void; onDone: (m: Detail) => void }) {
  const [branch, setBranch] = useState<{ id: number; name: string; kind: string } | null>(null);
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [gender, setGender] = useState("UNKNOWN");
  const [birthYear, setBirthYear] = useState("");
  const [joined, setJoined] = useState("");
  const [status, setStatus] = useState("ACTIVE");
  const { busy, run } = useAction();
  const own = getSession()!.unit;
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await run(
      () =>
        post<Detail>("/api/members", {
          name: name.trim(),
          branchId: (branch ?? own).id,
          phone: phone.trim() || undefined,
          gender,
          birthYear: birthYear.trim() ? Number(birthYear) : undefined,
          joinedPartyOn: joined || undefined,
          status,
        }),
      (m) => `已将 ${m.name} 加入「${m.branch.name}」名单`,
    );
    if (r) onDone(r);
  };
  return (
    <Card title="新增党员" testid="add-member" actions={<button class="link" onClick={onClose}>取消</button>}>
      <form class="form" onSubmit={submit}>
        <div>
          <UnitPicker label="所在支部" picking onChange={(_, u) => setBranch(u)} testid="add-member-branch" />
          <p class="field-hint">当前选择：{(branch ?? own).name}（须选到党支部）。组织关系从本县其他支部转来的，请在原支部用“组织关系转接”，不要重复添加。</p>
        </div>
        <div class="grid2">
          <label class="field">
            <span class="field-label">姓名</span>
            <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">手机号</span>
            <input name="phone" inputMode="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} placeholder="11 位手机号，用于“我是”核对身份" />
          </label>
          <label class="field">
            <span class="field-label">性别</span>
            <select name="gender" value={gender} onChange={(e) => setGender(e.currentTarget.value)}>
              <option value="UNKNOWN">未填</option>
              <option value="MALE">男</option>
              <option value="FEMALE">女</option>
            </select>
          </label>
          <label class="field">
            <span class="field-label">出生年份</span>
            <input name="birthYear" inputMode="numeric" value={birthYear} onInput={(e) => setBirthYear(e.currentTarget.value)} placeholder="如 1968" />
          </label>
          <label class="field">
            <span class="field-label">入党日期</span>
            <input name="joinedPartyOn" type="date" max={today()} value={joined} onInput={(e) => setJoined(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">党员类别</span>
            <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="ACTIVE">正式党员</option>
              <option value="PROBATIONARY">预备党员</option>
            </select>
          </label>
        </div>
        <div class="row">
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            加入名单
          </button>
        </div>
      </form>
    </Card>
  );
}

type Mode = null | "edit" | "transfer" | "status";

function MemberDetail({ id, onChanged }: { id: number; onChanged: () => void }) {
  const detail = useLoad(() => get<Detail>(`/api/members/${id}`), [id]);
  const [mode, setMode] = useState<Mode>(null);
  const { busy, run } = useAction();
  const act = async (fn: () => Promise<Detail>, ok: string) => {
    const r = await run(fn, ok);
    if (r) (setMode(null), detail.reload(), onChanged());
  };
  const m = detail.data;
  return (
    <Card title={m ? `党员 ${m.name}` : "党员"} testid="member-detail" actions={<a href="#/members">关闭</a>}>
      <Status loaded={detail}>
        {m && (
          <div class="detail">
            <p>
              <Badge color={STATUS_COLOR[m.status] ?? "grey"}>
                <span data-testid="member-status">{m.statusLabel}</span>
              </Badge>{" "}
              <span data-testid="member-branch-name">{m.branch.name}</span>
              {m.partyGroup ? ` · ${m.partyGroup.name}` : ""}
              {roles(m) ? ` · ${roles(m)}` : ""}
            </p>
            <dl class="facts">
              <dt>手机</dt>
              <dd>{m.phone ?? "—"}</dd>
              <dt>性别 / 出生年份</dt>
              <dd>
                {GENDER[m.gender] ?? "—"} / {m.birthYear ?? "—"}
              </dd>
              <dt>入党日期</dt>
              <dd>{day(m.joinedPartyOn)}</dd>
              <dt>转正日期</dt>
              <dd>{day(m.fullMemberOn)}</dd>
              <dt>现在的支部和状态始于</dt>
              <dd>{m.rosterSince ? fmtFull(m.rosterSince) : "建档前"}</dd>
              <dt>群内关联</dt>
              <dd>{m.identities.length ? m.identities.map((i) => `${CHANNEL_LABEL[i.channel] ?? i.channel}：${i.displayName || "（无昵称）"}`).join("；") : "未关联（可在群里私聊机器人发送“我是 姓名 手机后四位”）"}</dd>
            </dl>
            <div class="row">
              <button onClick={() => setMode(mode === "edit" ? null : "edit")}>修改信息</button>
              <button onClick={() => setMode(mode === "transfer" ? null : "transfer")}>组织关系转接</button>
              <button onClick={() => setMode(mode === "status" ? null : "status")}>状态变更（转正/转出/去世/停止党籍）</button>
            </div>
            {mode === "edit" && <EditMember m={m} busy={busy} onClose={() => setMode(null)} onSave={(body) => act(() => patch<Detail>(`/api/members/${id}`, body), "已保存")} />}
            {mode === "transfer" && <Transfer m={m} busy={busy} onClose={() => setMode(null)} onSave={(body) => act(() => post<Detail>(`/api/members/${id}/transfer`, body), `${m.name} 的组织关系已转接`)} />}
            {mode === "status" && <StatusChange m={m} busy={busy} onClose={() => setMode(null)} onSave={(body, label) => act(() => post<Detail>(`/api/members/${id}/status`, body), `${m.name}：${label}，已登记`)} />}
            <h3>历史记录</h3>
            {m.history.length === 0 ? (
              <p class="muted">建档以来一直在本支部，状态未变。</p>
            ) : (
              <div class="table-wrap">
                <table data-testid="member-history">
                  <THead cols={["支部", "党小组", "状态", "起", "止", "结束原因"]} />
                  <tbody>
                    <tr class="selected">
                      <td>{m.branch.name}</td>
                      <td>{m.partyGroup?.name ?? "—"}</td>
                      <td>{m.statusLabel}</td>
                      <td>{m.rosterSince ? fmtFull(m.rosterSince) : "建档前"}</td>
                      <td>至今</td>
                      <td>—</td>
                    </tr>
                    {m.history.map((h, i) => (
                      <tr key={i}>
                        <td>{h.branch.name}</td>
                        <td>{h.partyGroup?.name ?? "—"}</td>
                        <td>{h.statusLabel}</td>
                        <td>{h.from ? fmtFull(h.from) : "建档前"}</td>
                        <td>{fmtFull(h.to)}</td>
                        <td>{ENDED_BY[h.endedBy] ?? h.endedBy}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        )}
      </Status>
    </Card>
  );
}

function EditMember({ m, busy, onClose, onSave }: { m: Detail; busy: boolean; onClose: () => void; onSave: (body: Record<string, unknown>) => void }) {
  const [name, setName] = useState(m.name);
  const [phone, setPhone] = useState("");
  const [gender, setGender] = useState(m.gender);
  const [birthYear, setBirthYear] = useState(m.birthYear ? String(m.birthYear) : "");
  const [joined, setJoined] = useState(m.joinedPartyOn ? day(m.joinedPartyOn) : "");
  const [partyGroupId, setPartyGroupId] = useState(m.partyGroup ? String(m.partyGroup.id) : "");
  const [flags, setFlags] = useState({ isSecretary: m.isSecretary, isCommittee: m.isCommittee, isGroupLeader: m.isGroupLeader });
  const groups = useLoad(() => getAll<{ id: number; name: string; kind: string }>(`/api/org/units/${m.branch.id}/children`).then((xs) => xs.filter((u) => u.kind === "PARTY_GROUP")), [m.branch.id]);
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (name.trim() !== m.name) body.name = name.trim();
    if (phone.trim()) body.phone = phone.trim();
    if (gender !== m.gender) body.gender = gender;
    if (birthYear !== (m.birthYear ? String(m.birthYear) : "")) body.birthYear = birthYear ? Number(birthYear) : null;
    if (joined !== (m.joinedPartyOn ? day(m.joinedPartyOn) : "")) body.joinedPartyOn = joined || null;
    if (partyGroupId !== (m.partyGroup ? String(m.partyGroup.id) : "")) body.partyGroupId = partyGroupId ? Number(partyGroupId) : null;
    for (const k of Object.keys(flags) as (keyof typeof flags)[]) if (flags[k] !== m[k]) body[k] = flags[k];
    if (Object.keys(body).length) onSave(body);
    else onClose();
  };
  return (
    <SubPanel title="修改信息" onClose={onClose} testid="edit-member">
      <form class="form" onSubmit={submit}>
        <div class="grid2">
          <label class="field">
            <span class="field-label">姓名</span>
            <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">新手机号</span>
            <input name="phone" inputMode="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} placeholder={`现为 ${m.phone ?? "空"}，不改请留空`} />
          </label>
          <label class="field">
            <span class="field-label">性别</span>
            <select name="gender" value={gender} onChange={(e) => setGender(e.currentTarget.value)}>
              <option value="MALE">男</option>
              <option value="FEMALE">女</option>
              <option value="UNKNOWN">未填</option>
            </select>
          </label>
          <label class="field">
            <span class="field-label">出生年份</span>
            <input name="birthYear" inputMode="numeric" value={birthYear} onInput={(e) => setBirthYear(e.currentTarget.value)} placeholder="如 1968" />
          </label>
          <label class="field">
            <span class="field-label">入党日期</span>
            <input name="joinedPartyOn" type="date" value={joined} onInput={(e) => setJoined(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">党小组</span>
            <select name="partyGroupId" value={partyGroupId} onChange={(e) => setPartyGroupId(e.currentTarget.value)}>
              <option value="">不分党小组</option>
              {groups.data?.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div class="checks">
          {(
            [
              ["isSecretary", "书记"],
              ["isCommittee", "支委"],
              ["isGroupLeader", "党小组长"],
            ] as const
          ).map(([k, l]) => (
            <label key={k}>
              <input type="checkbox" checked={flags[k]} onChange={(e) => setFlags({ ...flags, [k]: e.currentTarget.checked })} /> {l}
            </label>
          ))}
        </div>
        <p class="field-hint">修改手机号会记入操作日志。</p>
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            保存
          </button>
        </div>
      </form>
    </SubPanel>
  );
}

/** Midnight of a Shanghai calendar day as an instant. */
const dayStart = (d: string) => new Date(`${d}T00:00:00+08:00`).toISOString();

function Transfer({ m, busy, onClose, onSave }: { m: Detail; busy: boolean; onClose: () => void; onSave: (body: Record<string, unknown>) => void }) {
  const [picked, setPicked] = useState<{ id: number; name: string; kind: string } | null>(null);
  const [typed, setTyped] = useState("");
  const [date, setDate] = useState(today());
  const [reason, setReason] = useState("");
  const submit = (e: Event) => {
    e.preventDefault();
    const to = typed.trim() ? { toBranch: typed.trim() } : picked ? { toBranchId: picked.id } : {};
    // Today means now (a member put on the roster this morning can move this afternoon); an earlier day, from its start.
    onSave({ ...to, effectiveAt: date && date !== today() ? dayStart(date) : undefined, reason: reason.trim() || undefined });
  };
  return (
    <SubPanel title={`${m.name} 的组织关系转接`} onClose={onClose} testid="transfer-member">
      <form class="form" onSubmit={submit}>
        <p class="muted">从 {m.branch.name} 转到本县另一个支部。已召开会议的应到人数和签到记录不变，之后的会议计入新支部。书记、委员、党小组长职务留在原支部。</p>
        <UnitPicker label="转入支部" picking onChange={(_, u) => setPicked(u)} testid="transfer-target" />
        <label class="field">
          <span class="field-label">或直接输入支部编码或名称</span>
          <input name="toBranch" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} placeholder="如 河西村党支部" />
        </label>
        <div class="grid2">
          <label class="field">
            <span class="field-label">生效日期</span>
            <input name="effectiveAt" type="date" value={date} max={today()} onInput={(e) => setDate(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">原因（可选）</span>
            <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="如 外出务工，组织关系随迁" />
          </label>
        </div>
        <div class="row">
          <button type="submit" class="primary" disabled={busy || (!picked && !typed.trim())}>
            转接到 {typed.trim() || picked?.name || "…"}
          </button>
        </div>
      </form>
    </SubPanel>
  );
}

/** The changes offered from each status (the API's table decides; a refused one gets its message). */
const STATUS_OPTIONS: Record<string, [string, string][]> = {
  PROBATIONARY: [
    ["ACTIVE", "转正（预备党员转为正式党员）"],
    ["TRANSFERRED_OUT", "转出（组织关系转到本县以外）"],
    ["DECEASED", "去世"],
    ["SUSPENDED", "停止党籍"],
  ],
  ACTIVE: [
    ["TRANSFERRED_OUT", "转出（组织关系转到本县以外）"],
    ["DECEASED", "去世"],
    ["SUSPENDED", "停止党籍"],
  ],
  SUSPENDED: [
    ["ACTIVE", "恢复党籍"],
    ["DECEASED", "去世"],
  ],
  TRANSFERRED_OUT: [["ACTIVE", "转回（重新在册）"]],
};

function StatusChange({ m, busy, onClose, onSave }: { m: Detail; busy: boolean; onClose: () => void; onSave: (body: Record<string, unknown>, label: string) => void }) {
  const options = STATUS_OPTIONS[m.status] ?? [];
  const [status, setStatus] = useState(options[0]?.[0] ?? "");
  const [date, setDate] = useState(today());
  const [reason, setReason] = useState("");
  const label = options.find(([v]) => v === status)?.[1].replace(/（.*）/, "") ?? status;
  const submit = (e: Event) => {
    e.preventDefault();
    onSave({ status, effectiveOn: date, reason: reason.trim() || undefined }, label);
  };
  return (
    <SubPanel title={`${m.name} 的状态变更`} onClose={onClose} testid="status-member">
      <form class="form" onSubmit={submit}>
        <p class="muted">现在：{m.statusLabel}。转出、去世、停止党籍后不再计入之后会议的应到人数，历史记录保留。</p>
        {options.length === 0 && <p>该党员的状态不能再变更。</p>}
        <div class="radios">
          {options.map(([v, l]) => (
            <label key={v + l}>
              <input type="radio" name="status" value={v} checked={status === v} onChange={() => setStatus(v)} /> {l}
            </label>
          ))}
        </div>
        <div class="grid2">
          <label class="field">
            <span class="field-label">日期</span>
            <input name="effectiveOn" type="date" value={date} max={today()} onInput={(e) => setDate(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">说明（可选）</span>
            <input name="statusReason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        </div>
        <div class="row">
          <button type="submit" class="primary" disabled={busy || !status}>
            确认：{label}
          </button>
        </div>
      </form>
    </SubPanel>
  );
}
