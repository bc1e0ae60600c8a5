// 干部账号: the console logins of one's subtree. Create (a one-time password shown once), disable / re-enable, reset
// the password, change role, unit or linked member. Who may do what (only roles below one's own, only units inside
// one's subtree) is the API's rule; the page offers the choices and shows the API's answer.
import { useEffect, useState } from "preact/hooks";
import { get, getSession, patch, post, type Role } from "../api.ts";
import { Badge, Card, fmtFull, Pager, Status, THead, useAction, useLoad } from "../ui.tsx";
import { UnitPicker } from "../unit-picker.tsx";
import { SubPanel, MemberFinder, OneTimePassword, ROLE_LABEL, ROLE_ORDER } from "../people.tsx";

interface Account {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  orgUnit: { id: number; code: string; name: string; kind: string };
  member: { id: number; name: string } | null;
  active: boolean;
  mustChangePassword: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}
interface WithPassword {
  user: Account;
  oneTimePassword: string;
}

/** The roles one may hand out: strictly below one's own (a county admin at a city also names the counties' admins). */
const rolesBelow = () => {
  const s = getSession()!;
  return ROLE_ORDER.slice(ROLE_ORDER.indexOf(s.user.role) + (s.user.role === "COUNTY_ADMIN" && s.unit.kind === "CITY" ? 0 : 1));
};

export function CadresPage() {
  const [typed, setTyped] = useState("");
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [unitId, setUnitId] = useState<number | null>(null);
  const [active, setActive] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQ(typed.trim()), 300);
    return () => clearTimeout(t);
  }, [typed]);
  const filters = { q: q || undefined, role: role || undefined, unitId, active: active || undefined };
  const key = JSON.stringify(filters);
  const [paged, setPaged] = useState({ key, page: 1 });
  const page = paged.key === key ? paged.page : 1;
  const list = useLoad(() => get<{ items: Account[]; page: number; pageSize: number; total: number }>("/api/admin/cadres", { ...filters, page, pageSize: 20 }), [key, page]);
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<Account | null>(null);
  const [otp, setOtp] = useState<{ username: string; password: string } | null>(null);
  const changed = (a: Account) => (setSelected(a), list.reload());

  return (
    <div class="page">
      {otp && <OneTimePassword username={otp.username} password={otp.password} onClose={() => setOtp(null)} />}
      <div class="toolbar wrap">
        <input type="search" placeholder="用户名或姓名" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} aria-label="搜索账号" />
        <select value={role} onChange={(e) => setRole(e.currentTarget.value)} aria-label="角色">
          <option value="">全部角色</option>
          {ROLE_ORDER.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]}
            </option>
          ))}
        </select>
        <UnitPicker onChange={(id) => setUnitId(id)} />
        <select value={active} onChange={(e) => setActive(e.currentTarget.value)} aria-label="状态">
          <option value="">启用和停用</option>
          <option value="true">只看启用</option>
          <option value="false">只看停用</option>
        </select>
        {rolesBelow().length > 0 && (
          <button class="primary" onClick={() => (setCreating(true), setSelected(null))}>
            新建账号
          </button>
        )}
      </div>
      {creating && (
        <CreateAccount
          onClose={() => setCreating(false)}
          onCreated={(r) => {
            setCreating(false);
            setOtp({ username: r.user.username, password: r.oneTimePassword });
            changed(r.user);
          }}
        />
      )}
      {selected && <AccountDetail key={selected.id} account={selected} onChanged={changed} onPassword={(r) => setOtp({ username: r.user.username, password: r.oneTimePassword })} onClose={() => setSelected(null)} />}
      <Card title="干部账号" testid="cadre-list">
        <Status loaded={list}>
          <div class="table-wrap">
            <table>
              <THead cols={["用户名", "姓名", "角色", "单位", "关联党员", "状态", "最近登录"]} />
              <tbody>
                {list.data?.items.map((a) => (
                  <tr key={a.id} class={a.id === selected?.id ? "selected" : ""} data-testid={`cadre-${a.username}`}>
                    <td>
                      <button class="link" onClick={() => (setSelected(a), setCreating(false))}>
                        {a.username}
                      </button>
                    </td>
                    <td>
                      {a.displayName}
                      {a.id === getSession()!.user.id && <span class="muted">（本人）</span>}
                    </td>
                    <td>{ROLE_LABEL[a.role] ?? a.role}</td>
                    <td>{a.orgUnit.name}</td>
                    <td>{a.member?.name ?? "—"}</td>
                    <td class="nowrap">
                      {a.active ? <Badge color="green">启用</Badge> : <Badge color="grey">已停用</Badge>}
                      {a.mustChangePassword && <Badge color="yellow">待改初始密码</Badge>}
                    </td>
                    <td class="nowrap">{a.lastLoginAt ? fmtFull(a.lastLoginAt) : "从未登录"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {list.data && list.data.items.length === 0 && <p class="muted">没有符合条件的账号。</p>}
          {list.data && <Pager page={list.data.page} pageSize={list.data.pageSize} total={list.data.total} onPage={(p) => setPaged({ key, page: p })} />}
        </Status>
      </Card>
    </div>
  );
}

function CreateAccount({ onClose, onCreated }: { onClose: () => void; onCreated: (r: WithPassword) => void }) {
  const roles = rolesBelow();
  const own = getSession()!.unit;
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<Role>(roles[0]);
  const [unit, setUnit] = useState<{ id: number; name: string } | null>(null);
  const [memberId, setMemberId] = useState<number | null>(null);
  const { busy, run } = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await run(
      () => post<WithPassword>("/api/admin/cadres", { username: username.trim(), displayName: displayName.trim(), role, orgUnitId: (unit ?? own).id, memberId: memberId ?? undefined }),
      (r) => `已创建账号 ${r.user.username}`,
    );
    if (r) onCreated(r);
  };
  return (
    <Card title="新建干部账号" testid="create-cadre" actions={<button class="link" onClick={onClose}>取消</button>}>
      <form class="form" onSubmit={submit}>
        <div class="grid2">
          <label class="field">
            <span class="field-label">用户名（登录用）</span>
            <input name="username" autoComplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} placeholder="如 dongshan_admin" />
          </label>
          <label class="field">
            <span class="field-label">姓名</span>
            <input name="displayName" value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} placeholder="如 东山镇 王明" />
          </label>
        </div>
        <label class="field">
          <span class="field-label">角色</span>
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
          <span class="field-hint">只能创建比自己低一级及以下的账号。乡镇管理员选到乡镇，支部书记选到支部。</span>
        </label>
        <div>
          <UnitPicker label="所属单位" picking onChange={(_, u) => setUnit(u)} testid="cadre-unit" />
          <p class="field-hint">当前选择：{(unit ?? own).name}。账号只能管理该单位及其下级。</p>
        </div>
        <MemberFinder onChange={(m) => setMemberId(m?.id ?? null)} testid="cadre-member" />
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            创建并生成一次性密码
          </button>
        </div>
      </form>
    </Card>
  );
}

function AccountDetail({ account: a, onChanged, onPassword, onClose }: { account: Account; onChanged: (a: Account) => void; onPassword: (r: WithPassword) => void; onClose: () => void }) {
  const [editing, setEditing] = useState(false);
  const [confirmReset, setConfirmReset] = useState(false);
  const { busy, run } = useAction();
  const change = async (body: Record<string, unknown>, ok: string) => {
    const r = await run(() => patch<Account>(`/api/admin/cadres/${a.id}`, body), ok);
    if (r) (onChanged(r), setEditing(false));
  };
  const reset = async () => {
    const r = await run(() => post<WithPassword>(`/api/admin/cadres/${a.id}/reset-password`), `已重置 ${a.username} 的密码`);
    setConfirmReset(false);
    if (r) (onPassword(r), onChanged(r.user));
  };
  return (
    <Card title={`账号 ${a.username}`} testid="cadre-detail" actions={<button class="link" onClick={onClose}>关闭</button>}>
      <dl class="facts">
        <dt>姓名</dt>
        <dd>{a.displayName}</dd>
        <dt>角色</dt>
        <dd data-testid="cadre-role">{ROLE_LABEL[a.role] ?? a.role}</dd>
        <dt>单位</dt>
        <dd data-testid="cadre-unit-name">{a.orgUnit.name}</dd>
        <dt>关联党员</dt>
        <dd>{a.member?.name ?? "—"}</dd>
        <dt>状态</dt>
        <dd data-testid="cadre-state">
          {a.active ? "启用" : "已停用"}
          {a.mustChangePassword ? "（待本人修改初始密码）" : ""}
        </dd>
        <dt>创建时间</dt>
        <dd>{fmtFull(a.createdAt)}</dd>
        <dt>最近登录</dt>
        <dd>{a.lastLoginAt ? fmtFull(a.lastLoginAt) : "从未登录"}</dd>
      </dl>
      <div class="row">
        <button onClick={() => setEditing(!editing)}>修改角色/单位/姓名</button>
        {a.active ? (
          <button class="danger" disabled={busy} onClick={() => change({ active: false }, `已停用 ${a.username}，其登录已失效`)}>
            停用
          </button>
        ) : (
          <button disabled={busy} onClick={() => change({ active: true }, `已重新启用 ${a.username}`)}>
            重新启用
          </button>
        )}
        <button disabled={busy} onClick={() => setConfirmReset(true)}>
          重置密码
        </button>
      </div>
      {confirmReset && (
        <div class="subpanel">
          <p>重置后原密码立即失效，系统生成一个一次性密码，本人登录后必须修改。</p>
          <button class="primary" disabled={busy} onClick={reset}>
            确认重置
          </button>{" "}
          <button onClick={() => setConfirmReset(false)}>取消</button>
        </div>
      )}
      {editing && <EditAccount account={a} busy={busy} onSave={(body) => change(body, "已保存")} onClose={() => setEditing(false)} />}
    </Card>
  );
}

function EditAccount({ account: a, busy, onSave, onClose }: { account: Account; busy: boolean; onSave: (body: Record<string, unknown>) => void; onClose: () => void }) {
  const roles = rolesBelow();
  const [displayName, setDisplayName] = useState(a.displayName);
  const [role, setRole] = useState<Role>(a.role);
  const [unit, setUnit] = useState<{ id: number; name: string } | null>(null);
  const [member, setMember] = useState<{ id: number; name: string } | null | undefined>(undefined);
  const submit = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (displayName.trim() !== a.displayName) body.displayName = displayName.trim();
    if (role !== a.role) body.role = role;
    if (unit && unit.id !== a.orgUnit.id) body.orgUnitId = unit.id;
    if (member !== undefined && (member?.id ?? null) !== (a.member?.id ?? null)) body.memberId = member?.id ?? null;
    if (Object.keys(body).length) onSave(body);
    else onClose();
  };
  return (
    <SubPanel title="修改账号" onClose={onClose} testid="edit-cadre">
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span class="field-label">姓名</span>
          <input name="displayName" value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field-label">角色</span>
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {!roles.includes(a.role) && <option value={a.role}>{ROLE_LABEL[a.role]}</option>}
            {roles.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
        </label>
        <div>
          <UnitPicker label="改到单位" picking noneLabel="不改" onChange={(_, u) => setUnit(u)} />
          <p class="field-hint">现在：{a.orgUnit.name}{unit ? `，改为：${unit.name}` : "（不选则不改）"}</p>
        </div>
        <div>
          <MemberFinder label="关联党员" onChange={(m) => setMember(m)} />
          <p class="field-hint">
            现在：{a.member?.name ?? "未关联"}。
            {a.member && (
              <button type="button" class="link" onClick={() => setMember(null)}>
                取消关联
              </button>
            )}
            {member === null && a.member ? "（保存后取消关联）" : ""}
          </p>
        </div>
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            保存
          </button>
        </div>
      </form>
    </SubPanel>
  );
}
