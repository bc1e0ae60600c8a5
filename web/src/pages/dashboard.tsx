// 总览: the month's and quarter's 三会一课 per town, attendance over the months, complaint rates, and the latest 季通报.
import { useState } from "preact/hooks";
import { atLeast, get } from "../api.ts";
import { ChartView } from "../chart.tsx";
import { Badge, Card, monthKey, pct, quarterKey, shanghai, Status, useLoad, THead } from "../ui.tsx";

interface Tally {
  branches: number;
  compliantBranches: number;
  obligations: number;
  held: number;
  overdue: number;
  complianceRate: number | null;
  branchColors: { green: number; yellow: number; red: number; grey: number };
}
interface Matrix {
  period: { key: string; label: string };
  towns: ({ id: number | null; name: string } & Tally)[];
  total: Tally;
}
interface Counts {
  filed: number;
  responseRate: number | null;
  resolveRate: number | null;
  satisfactionRate: number | null;
  overdueOpen: number;
}
interface Metrics {
  units: ({ unitId: number; name: string } & Counts)[];
  total: Counts;
}
interface Trend {
  items: { month: string; label: string; meetings: number; expected: number; attended: number; leave: number; rate: number | null }[];
}
interface RankTown {
  rank: number | null;
  name: string;
  score: number | null;
  complianceRate: number | null;
  attendanceRate: number | null;
  handlingRate: number | null;
  named: "BEST" | "WORST" | null;
}
interface Rankings {
  items: { period: string; label: string }[];
}
interface Bulletin {
  period: { key: string; label: string };
  formula: string;
  towns: RankTown[];
}

/** A town's colour: green when every due obligation was held, red when under 60 %, grey when nothing was due yet. */
export function rateColor(rate: number | null) {
  if (rate === null) return "grey";
  if (rate >= 0.9) return "green";
  if (rate >= 0.6) return "yellow";
  return "red";
}
const COLOR_LABEL: Record<string, string> = { green: "良好", yellow: "需关注", red: "落后", grey: "未到期" };

function monthStartIso(y: number, m: number) {
  return new Date(`${monthKey(y, m)}-01T00:00:00+08:00`).toISOString();
}

export function DashboardPage() {
  const now = shanghai();
  const [month, setMonth] = useState(monthKey(now.year, now.month));
  const [y, m] = month.split("-").map(Number);
  const quarter = quarterKey(y, m);
  const monthly = useLoad(() => get<Matrix>("/api/calendar/compliance", { period: month }), [month]);
  const quarterly = useLoad(() => get<Matrix>("/api/calendar/compliance", { period: quarter }), [quarter]);
  const next = m === 12 ? monthStartIso(y + 1, 1) : monthStartIso(y, m + 1);
  const metrics = useLoad(() => get<Metrics>("/api/complaints/metrics", { groupBy: "town", from: monthStartIso(y, m), to: next }), [month]);
  const trend = useLoad(() => get<Trend>("/api/reports/attendance-trend", { months: 12 }), []);
  // The latest published 季通报 (its snapshot, with every town's rates), found through the ranking history.
  const bulletin = useLoad(async () => {
    if (!atLeast("TOWN_ADMIN")) return null;
    const latest = (await get<Rankings>("/api/reports/rankings", { limit: 1 })).items[0];
    return latest ? get<Bulletin>("/api/reports/quarterly", { period: latest.period }) : null;
  }, []);

  const monthTrend = trend.data?.items.find((i) => i.month === month);
  const mt = metrics.data?.total;
  return (
    <div class="page dashboard">
      <div class="toolbar">
        <label>
          月份{" "}
          <input type="month" value={month} max={monthKey(now.year, now.month)} onChange={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />
        </label>
        <span class="muted">季度：{quarterly.data?.period.label ?? quarter}</span>
      </div>
      <div class="kpis">
        <Kpi label="本月三会一课完成率" value={pct(monthly.data?.total.complianceRate)} testid="kpi-month-rate" />
        <Kpi label="本季三会一课完成率" value={pct(quarterly.data?.total.complianceRate)} testid="kpi-quarter-rate" />
        <Kpi label="本月参会率" value={pct(monthTrend?.rate)} testid="kpi-attendance" />
        <Kpi label="响应率" value={pct(mt?.responseRate)} testid="kpi-response" />
        <Kpi label="办结率" value={pct(mt?.resolveRate)} testid="kpi-resolve" />
        <Kpi label="满意率" value={pct(mt?.satisfactionRate)} testid="kpi-satisfaction" />
        <Kpi label="逾期未办结" value={mt ? String(mt.overdueOpen) : "—"} testid="kpi-overdue" warn={!!mt?.overdueOpen} />
      </div>

      <Card title="三会一课落实情况（按乡镇）" testid="compliance-card">
        <Status loaded={monthly}>
          <Status loaded={quarterly}>
            {monthly.data && quarterly.data && <ComplianceTable month={monthly.data} quarter={quarterly.data} />}
          </Status>
        </Status>
      </Card>

      <div class="grid2">
        <Card title="参会率趋势（近 6 个月）">
          <Status loaded={trend}>
            {trend.data && (
              <ChartView
                label="参会率趋势"
                config={{
                  type: "line",
                  data: {
                    labels: trend.data.items.slice(-6).map((i) => i.label),
                    datasets: [{ label: "参会率 %", data: trend.data.items.slice(-6).map((i) => toPct(i.rate)), borderColor: "#c0392b", backgroundColor: "#c0392b", spanGaps: true }],
                  },
                  options: { scales: { y: { min: 0, max: 100 } } },
                }}
              />
            )}
          </Status>
        </Card>
        <Card title="民情诉求办理（本月，按乡镇）">
          <Status loaded={metrics}>
            {metrics.data && metrics.data.units.length > 0 ? (
              <ChartView
                label="诉求三率"
                config={{
                  type: "bar",
                  data: {
                    labels: metrics.data.units.map((u) => u.name),
                    datasets: [
                      { label: "响应率", data: metrics.data.units.map((u) => toPct(u.responseRate)), backgroundColor: "#2d7dd2" },
                      { label: "办结率", data: metrics.data.units.map((u) => toPct(u.resolveRate)), backgroundColor: "#27ae60" },
                      { label: "满意率", data: metrics.data.units.map((u) => toPct(u.satisfactionRate)), backgroundColor: "#f39c12" },
                    ],
                  },
                  options: { scales: { y: { min: 0, max: 100 } } },
                }}
              />
            ) : (
              <p class="muted">本月暂无诉求。</p>
            )}
          </Status>
        </Card>
      </div>

      {atLeast("TOWN_ADMIN") && (
        <Card title="最新季通报排名" testid="ranking-card">
          <Status loaded={bulletin}>
            {!bulletin.data && <p class="muted">还没有发布过季通报（每季度初自动生成）。</p>}
            {bulletin.data && (
              <div>
                <p class="muted">
                  {bulletin.data.period.label} · {bulletin.data.formula}
                </p>
                <div class="table-wrap">
                  <table>
                    <THead cols={["名次", "乡镇", "综合得分", "完成率", "参会率", "诉求办理率"]} />
                    <tbody>
                      {bulletin.data.towns.map((t) => (
                        <tr key={t.name} data-testid="ranking-row">
                          <td>{t.rank ?? "不排名"}</td>
                          <td>
                            {t.name} {t.named === "BEST" && <Badge color="green">先进</Badge>}
                            {t.named === "WORST" && <Badge color="red">靠后</Badge>}
                          </td>
                          <td>{t.score ?? "—"}</td>
                          <td>{pct(t.complianceRate)}</td>
                          <td>{pct(t.attendanceRate)}</td>
                          <td>{pct(t.handlingRate)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </div>
            )}
          </Status>
        </Card>
      )}
    </div>
  );
}

const toPct = (r: number | null) => (r === null ? null : Math.round(r * 1000) / 10);

function Kpi({ label, value, testid, warn }: { label: string; value: string; testid: string; warn?: boolean }) {
  return (
    <div class={`kpi ${warn ? "kpi-warn" : ""}`}>
      <div class="kpi-value" data-testid={testid}>
        {value}
      </div>
      <div class="kpi-label">{label}</div>
    </div>
  );
}

function ComplianceTable({ month, quarter }: { month: Matrix; quarter: Matrix }) {
  const q = new Map(quarter.towns.map((t) => [t.id, t]));
  const row = (name: string, mt: Tally, qt: Tally | undefined, key: string) => (
    <tr key={key} data-testid={`town-${key}`}>
      <td>{name}</td>
      <td>{mt.branches}</td>
      <td>
        <Badge color={rateColor(mt.complianceRate)}>{COLOR_LABEL[rateColor(mt.complianceRate)]}</Badge> <span data-testid="month-rate">{pct(mt.complianceRate)}</span>
      </td>
      <td class="nowrap">
        <span class="dot dot-green" />
        {mt.branchColors.green} <span class="dot dot-yellow" />
        {mt.branchColors.yellow} <span class="dot dot-red" />
        {mt.branchColors.red}
      </td>
      <td>
        {qt ? (
          <>
            <Badge color={rateColor(qt.complianceRate)}>{COLOR_LABEL[rateColor(qt.complianceRate)]}</Badge> <span data-testid="quarter-rate">{pct(qt.complianceRate)}</span>
          </>
        ) : (
          "—"
        )}
      </td>
      <td>{mt.overdue}</td>
    </tr>
  );
  return (
    <div class="table-wrap">
      <table>
        <THead cols={["乡镇", "支部数", month.period.label, "支部（绿/黄/红）", quarter.period.label, "本月逾期事项"]} />
        <tbody>
          {month.towns.map((t) => row(t.name, t, q.get(t.id), String(t.id)))}
          {row("合计", month.total, quarter.total, "total")}
        </tbody>
      </table>
    </div>
  );
}
