// 三会一课: a branch's month as a calendar with the required meetings' state, each meeting's attendance and notice
// reads, and the Excel exports (one meeting's attendance, the month's report).
import { useState } from "preact/hooks";
import { download, get } from "../api.ts";
import { Badge, Card, fmtTime, monthKey, shanghai, Status, useAction, useLoad } from "../ui.tsx";
import { UnitPicker } from "../unit-picker.tsx";

interface Meeting {
  id: number;
  unit: { id: number; name: string };
  type: string;
  typeLabel: string;
  topic: string;
  place: string | null;
  plannedAt: string;
  status: string;
  statusLabel: string;
  counts: { rosterCount: number; present: number; leave: number; absent: number };
}
interface Person {
  memberId: number | null;
  name: string;
  at: string | null;
  sourceLabel: string | null;
  note: string | null;
  leaveDecisionLabel: string | null;
}
interface Detail {
  meeting: Meeting;
  noticeId: number | null;
  rosterCount: number;
  counts: { present: number; leave: number; absent: number; unlinked: number; guests: number };
  present: Person[];
  leave: Person[];
  absent: Person[];
  unlinked: Person[];
  guests: Person[];
}
interface Reads {
  rosterCount: number;
  readCount: number;
  read: { memberId: number; name: string; readAt: string }[];
  unread: { memberId: number; name: string }[];
}
interface Cell {
  type: string;
  typeLabel: string;
  state: string;
  stateLabel: string;
  color: string;
  period: { key: string; label: string };
}
interface Matrix {
  branches: { id: number; name: string; color: string; cells: Cell[] }[];
}

const TZ_OFFSET = 8 * 3600_000;
const dayOf = (iso: string) => new Date(new Date(iso).getTime() + TZ_OFFSET).getUTCDate();

export function MeetingsPage({ params }: { params: URLSearchParams }) {
  const now = shanghai();
  const [month, setMonth] = useState(monthKey(now.year, now.month));
  const [unit, setUnit] = useState<{ id: number; kind: string; name: string } | null>(null);
  const open = Number(params.get("id")) || null;
  const [y, m] = month.split("-").map(Number);
  const from = new Date(Date.UTC(y, m - 1, 1) - TZ_OFFSET).toISOString();
  const to = new Date(Date.UTC(y, m, 1) - TZ_OFFSET).toISOString();
  const meetings = useLoad(() => get<{ items: Meeting[]; total: number }>("/api/meetings", { unitId: unit?.id, from, to, pageSize: 100 }), [unit?.id, month]);
  const isBranch = unit?.kind === "BRANCH";
  const matrix = useLoad(() => (isBranch ? get<Matrix>("/api/calendar/compliance", { unitId: unit!.id, period: month }) : Promise.resolve(null)), [unit?.id, month]);
  const { busy, run } = useAction();

  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7; // Monday first
  const byDay = new Map<number, Meeting[]>();
  for (const mt of meetings.data?.items ?? []) byDay.set(dayOf(mt.plannedAt), [...(byDay.get(dayOf(mt.plannedAt)) ?? []), mt]);

  return (
    <div class="page">
      <div class="toolbar wrap">
        <UnitPicker label="支部" onChange={(_, u) => setUnit(u)} testid="meeting-unit" />
        <label>
          月份 <input type="month" value={month} onChange={(e) => e.currentTarget.value && setMonth(e.currentTarget.value)} />
        </label>
        <button
          disabled={busy}
          onClick={() => run(() => download("/api/reports/monthly.xlsx", { period: month, unitId: unit?.id }, `月报告-${month}.xlsx`), "月报告已导出")}
        >
          导出月报告 Excel
        </button>
      </div>
      {isBranch && (
        <Card title={`${unit!.name} · 本期三会一课`}>
          <Status loaded={matrix}>
            <div class="cells">
              {matrix.data?.branches[0]?.cells.map((c) => (
                <span key={c.type + c.period.key} class="cell">
                  <Badge color={c.color}>{c.typeLabel}</Badge> {c.period.label} {c.stateLabel}
                </span>
              ))}
            </div>
          </Status>
        </Card>
      )}
      {open && <MeetingDetail key={open} id={open} />}
      <Card title={`${month.replace("-", " 年 ")} 月会议日历${unit ? ` · ${unit.name}` : ""}`} testid="meeting-calendar">
        <Status loaded={meetings}>
          {(meetings.data?.total ?? 0) > 100 && <p class="muted">本月会议较多，只显示前 100 个；请选择具体支部查看。</p>}
          <div class="calendar">
            {["一", "二", "三", "四", "五", "六", "日"].map((d) => (
              <div key={d} class="cal-head">
                周{d}
              </div>
            ))}
            {Array.from({ length: lead }, (_, i) => (
              <div key={`x${i}`} class="cal-day empty" />
            ))}
            {Array.from({ length: days }, (_, i) => i + 1).map((d) => (
              <div key={d} class={`cal-day ${d === now.day && m === now.month && y === now.year ? "today" : ""}`}>
                <div class="cal-num">{d}</div>
                {byDay.get(d)?.map((mt) => (
                  <a key={mt.id} href={`#/meetings?id=${mt.id}`} class={`cal-item st-${mt.status.toLowerCase()}`} title={`${mt.unit.name} ${mt.topic}`}>
                    {fmtTime(mt.plannedAt).split(" ")[1]} {mt.typeLabel} {unit?.kind === "BRANCH" ? "" : mt.unit.name}
                  </a>
                ))}
              </div>
            ))}
          </div>
        </Status>
      </Card>
    </div>
  );
}

function MeetingDetail({ id }: { id: number }) {
  const detail = useLoad(() => get<Detail>(`/api/meetings/${id}`), [id]);
  const reads = useLoad(() => (detail.data?.noticeId ? get<Reads>(`/api/notices/${detail.data.noticeId}/reads`) : Promise.resolve(null)), [detail.data?.noticeId]);
  const { busy, run } = useAction();
  const d = detail.data;
  const list = (people: Person[]) => people.map((p) => p.name + (p.note ? `（${p.note}${p.leaveDecisionLabel ? "，" + p.leaveDecisionLabel : ""}）` : "")).join("、") || "无";
  return (
    <Card
      title="会议详情"
      testid="meeting-detail"
      actions={
        <>
          <button disabled={busy} onClick={() => run(() => download(`/api/meetings/${id}/attendance.xlsx`, undefined, `签到表-${id}.xlsx`), "签到表已导出")}>
            导出签到表 Excel
          </button>
          <a href="#/meetings">关闭</a>
        </>
      }
    >
      <Status loaded={detail}>
        {d && (
          <>
            <p>
              <b>
                {d.meeting.unit.name} · {d.meeting.typeLabel}
              </b>{" "}
              {d.meeting.topic} <Badge color={d.meeting.status === "CANCELLED" ? "grey" : "blue"}>{d.meeting.statusLabel}</Badge>
            </p>
            <p class="muted">
              {fmtTime(d.meeting.plannedAt)} {d.meeting.place}
            </p>
            <p data-testid="attendance-counts">
              应到 {d.rosterCount}，已签到 {d.counts.present}，请假 {d.counts.leave}，未到 {d.counts.absent}
              {d.counts.guests ? `，列席 ${d.counts.guests}` : ""}
            </p>
            <dl class="facts">
              <dt>已签到</dt>
              <dd>{list(d.present)}</dd>
              <dt>请假</dt>
              <dd>{list(d.leave)}</dd>
              <dt>未到</dt>
              <dd>{list(d.absent)}</dd>
              {d.unlinked.length > 0 && (
                <>
                  <dt>签到但未对上名单</dt>
                  <dd>{list(d.unlinked)}</dd>
                </>
              )}
              {d.guests.length > 0 && (
                <>
                  <dt>列席（其他支部）</dt>
                  <dd>{list(d.guests)}</dd>
                </>
              )}
            </dl>
            {reads.error && <p class="error-text">通知阅读情况：{reads.error.message}</p>}
            {reads.data && (
              <p data-testid="read-report">
                通知已读 {reads.data.readCount}/{reads.data.rosterCount}
                {reads.data.unread.length > 0 && <span class="muted">；未读：{reads.data.unread.map((u) => u.name).join("、")}</span>}
              </p>
            )}
          </>
        )}
      </Status>
    </Card>
  );
}
