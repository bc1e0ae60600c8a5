// The county and town cadres' console: one page app under /console/, hash-routed so the server serves one file.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { atLeast, getSession, logout, onSessionChange, type Role } from "./api.ts";
import { Toasts } from "./ui.tsx";
import { LoginPage } from "./pages/login.tsx";
import { DashboardPage } from "./pages/dashboard.tsx";
import { BroadcastsPage } from "./pages/broadcasts.tsx";
import { ComplaintsPage } from "./pages/complaints.tsx";
import { MeetingsPage } from "./pages/meetings.tsx";
import { AccountsPage } from "./pages/accounts.tsx";
import { RosterPage } from "./pages/roster.tsx";
import { FirstPasswordPage, PasswordPage } from "./pages/password.tsx";
import { OrgPage } from "./pages/org.tsx";
import { CadresPage } from "./pages/cadres.tsx";
import { MembersPage } from "./pages/members.tsx";

interface Route {
  path: string;
  title: string;
  role: Role;
  view: (props: { params: URLSearchParams }) => preact.JSX.Element;
  /** Reached from another page or the top bar, not listed in the menu; `menu` is the entry it belongs to. */
  menu?: string;
}

const ROUTES: Route[] = [
  { path: "dashboard", title: "总览", role: "BRANCH_SECRETARY", view: DashboardPage },
  { path: "broadcasts", title: "县级广播", role: "COUNTY_ADMIN", view: BroadcastsPage },
  { path: "complaints", title: "民情诉求", role: "BRANCH_SECRETARY", view: ComplaintsPage },
  { path: "meetings", title: "三会一课", role: "BRANCH_SECRETARY", view: MeetingsPage },
  { path: "org", title: "组织架构", role: "BRANCH_SECRETARY", view: OrgPage },
  { path: "members", title: "党员", role: "BRANCH_SECRETARY", view: MembersPage },
  { path: "roster", title: "党员名单导入", role: "BRANCH_SECRETARY", view: RosterPage, menu: "members" },
  { path: "cadres", title: "干部账号", role: "BRANCH_SECRETARY", view: CadresPage },
  { path: "accounts", title: "机器人账号", role: "COUNTY_ADMIN", view: AccountsPage },
  { path: "password", title: "修改密码", role: "BRANCH_SECRETARY", view: PasswordPage, menu: "" },
];

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return { path: path || "dashboard", params: new URLSearchParams(query ?? "") };
}

function useHash() {
  const [loc, setLoc] = useState(parseHash);
  useEffect(() => {
    const on = () => setLoc(parseHash());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return loc;
}

const ROLE_LABEL: Record<Role, string> = { COUNTY_ADMIN: "县级管理员", TOWN_ADMIN: "乡镇管理员", BRANCH_SECRETARY: "支部书记", MEMBER: "党员" };

function App() {
  const [, setVersion] = useState(0);
  useEffect(() => onSessionChange(() => setVersion((v) => v + 1)), []);
  const session = getSession();
  if (!session) return <LoginPage />;
  // Before anything else, whatever the role: a one-time password is replaced (the console is where that happens).
  if (session.user.mustChangePassword) return <FirstPasswordPage />;
  if (session.user.role === "MEMBER")
    return (
      <div class="login-wrap">
        <div class="card">
          <p>控制台供支部书记及以上干部使用。党员请使用小程序。</p>
          <button onClick={() => logout()}>退出登录</button>
        </div>
      </div>
    );
  return <Shell />;
}

function Shell() {
  const session = getSession()!;
  const loc = useHash();
  const [menuOpen, setMenuOpen] = useState(false);
  const routes = ROUTES.filter((r) => atLeast(r.role));
  const route = routes.find((r) => r.path === loc.path);
  useEffect(() => {
    document.title = `${route?.title ?? "页面不存在"} · 支部建在网络上`;
    setMenuOpen(false);
  }, [route?.path]);
  return (
    <div class="layout">
      <header class="topbar">
        <button class="menu-btn" aria-label="菜单" onClick={() => setMenuOpen(!menuOpen)}>
          ☰
        </button>
        <span class="brand">支部建在网络上</span>
        <span class="who" data-testid="who">
          {session.unit.name} · {session.user.displayName}（{ROLE_LABEL[session.user.role]}）
        </span>
        <a class="link wide-only" href="#/password">
          修改密码
        </a>
        <button class="link" onClick={() => logout()}>
          退出
        </button>
      </header>
      <nav class={`sidebar ${menuOpen ? "open" : ""}`}>
        {routes
          .filter((r) => r.menu === undefined)
          .map((r) => (
            <a key={r.path} href={`#/${r.path}`} class={r.path === (route?.menu ?? route?.path) ? "active" : ""}>
              {r.title}
            </a>
          ))}
        <a href="#/password" class={`phone-only ${route?.path === "password" ? "active" : ""}`}>
          修改密码
        </a>
      </nav>
      <main class="content">
        {route ? (
          <>
            <h1>{route.title}</h1>
            <route.view params={loc.params} />
          </>
        ) : (
          <div class="card">该页面不存在或您无权访问。<a href="#/dashboard">返回总览</a></div>
        )}
      </main>
    </div>
  );
}

render(
  <>
    <App />
    <Toasts />
  </>,
  document.getElementById("app")!,
);
