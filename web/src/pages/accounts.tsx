// 机器人账号: each account's state, load and budget; the login QR shows here, live, when an account needs a scan.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api.ts";
import { Badge, Card, fmtFull, Progress, Status, useLoad } from "../ui.tsx";

interface Account {
  id: number;
  name: string;
  channel: string;
  displayName: string;
  status: string;
  statusLabel: string;
  statusReason: string | null;
  cooldownUntil: string | null;
  lastSeenAt: string | null;
  groupsServed: number;
  sentToday: number;
  dailyBudget: number;
  remainingToday: number;
  sendsPerMinute: number;
  queued: number;
  needsLogin: boolean;
  loginQrAvailable: boolean;
}
const COLOR: Record<string, string> = { ONLINE: "green", NEED_LOGIN: "yellow", RATE_LIMITED: "yellow", COOLDOWN: "yellow", OFFLINE: "red", DISABLED: "grey" };
const CHANNEL: Record<string, string> = { WECHAT: "微信", QQ: "QQ" };

export function AccountsPage() {
  const list = useLoad(() => get<{ items: Account[] }>("/api/admin/accounts"), [], { pollMs: 5000 });
  return (
    <div class="page">
      <Status loaded={list}>
        {list.data?.items.length === 0 && <p class="muted">还没有机器人账号。运行机器人进程（npm start，BOT_ACCOUNT=…）后会出现在这里。</p>}
        <div class="cards">
          {list.data?.items.map((a) => (
            <Card key={a.id} title={`${a.name}（${CHANNEL[a.channel] ?? a.channel}）`} testid={`account-${a.name}`}>
              <p>
                <Badge color={COLOR[a.status] ?? "grey"}>
                  <span data-testid="account-status">{a.statusLabel}</span>
                </Badge>{" "}
                {a.displayName}
                {a.statusReason && <span class="muted">：{a.statusReason}</span>}
              </p>
              <dl class="facts">
                <dt>服务群数</dt>
                <dd>{a.groupsServed}</dd>
                <dt>今日发送</dt>
                <dd>
                  <Progress value={a.sentToday} total={a.dailyBudget} /> {a.sentToday}/{a.dailyBudget}（剩余 {a.remainingToday}）
                </dd>
                <dt>排队消息</dt>
                <dd>{a.queued}</dd>
                <dt>速率上限</dt>
                <dd>每分钟 {a.sendsPerMinute} 条</dd>
                {a.cooldownUntil && (
                  <>
                    <dt>冷却至</dt>
                    <dd>{fmtFull(a.cooldownUntil)}</dd>
                  </>
                )}
                <dt>最近活动</dt>
                <dd>{fmtFull(a.lastSeenAt)}</dd>
              </dl>
              {a.needsLogin && <LoginQr account={a} />}
            </Card>
          ))}
        </div>
      </Status>
    </div>
  );
}

function LoginQr({ account }: { account: Account }) {
  const [tick, setTick] = useState(0);
  // The bot replaces an expired code with a new one; refetch so the screen always shows the current one.
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 15_000);
    return () => clearInterval(t);
  }, []);
  const qr = useLoad(() => get<{ svg: string; expiresAt: string }>(`/api/admin/accounts/${account.id}/login-qr`), [account.id, account.loginQrAvailable, tick]);
  return (
    <div class="login-qr" data-testid="login-qr">
      <p>
        <b>请用该账号的手机{account.channel === "QQ" ? " QQ" : "微信"}扫码登录：</b>
      </p>
      {qr.error ? (
        <p class="muted">{qr.error.message}</p>
      ) : qr.data ? (
        <>
          <img alt="登录二维码" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr.data.svg)}`} />
          <p class="muted">二维码 {fmtFull(qr.data.expiresAt)} 过期，过期后自动刷新。</p>
        </>
      ) : (
        <p class="muted">正在获取二维码…</p>
      )}
    </div>
  );
}
