// The 三会一课 calendar's reminders, level-triggered (design.md "Reminders"): each call works out from the database
// what should have been said by `now` and has not been (no CalendarNote with its key), and either says it, claiming
// the key and writing the outbox rows in one transaction, or records it as skipped (past the catch-up horizon, or no
// longer useful). A missed tick, a crash mid-sweep or a second jobs process can neither lose nor double a reminder.
//
// What is said, with its note key:
//   meeting:<meetingId>:<offsetMin>:<plannedAt ISO>  MEETING_REMINDER_MINUTES before a meeting → the unit's groups
//   due:<branchId>:<month>           dueReminderDays before a month end, required meetings neither held nor planned
//   overdue:<branchId>:<month>       the 1st after a month (and quarter) ended without them
//   overdue-town:<townId>:<month>    the same morning, one list per town → its cadre group
//   theme-day:<branchId>:<month>     the morning of the branch's 主题党日 when none is planned or held that month
// due / overdue / theme-day go privately to the branch's secretaries, or to the branch's groups when no secretary
// can be reached in chat. The branch-wide kinds are sweeps over every branch (one evaluateBranches per fire time);
// a sweep writes `sweep:<kind>:<month>[:<variant>]` once all its branches are done, so later ticks skip it, and a
// sweep cut short by a crash is simply done again (its per-branch keys are already taken).
import type { PrismaClient } from "../db/index.ts";
import type { Config } from "../config.ts";
import { PRIORITY } from "../delivery/outbox.ts";
import { enqueueMany, tellGroups, tellUnit, unitReach, unitSends, type Send, type UnitReach } from "../kernel/recipients.ts";
import { MEETING_TYPE_LABEL } from "../meetings/labels.ts";
import { formatZhDateTime, formatZhTime } from "../meetings/time.ts";
import { countyRules, evaluateBranches, type BranchEvaluation } from "./facts.ts";
import { claimNote, knownNotes, noteAction, setNoteDeliveries, type NoteAction } from "./notes.ts";
import { chinaDate, chinaParts, periodOf, previousPeriod, type Period } from "./periods.ts";
import { branchRules, dueReminderAt, parseRulesPatch, type CalendarRules, type Obligation } from "./rules.ts";

export type ReminderConfig = Pick<Config, "CALENDAR_CATCHUP_HOURS" | "MEETING_REMINDER_MINUTES" | "CALENDAR_REMINDER_TIME" | "THEME_DAY_REMINDER_TIME">;

export const NOTE_KINDS = ["meeting", "due", "overdue", "overdue-town", "theme-day", "sweep"] as const;
export type NoteKind = (typeof NOTE_KINDS)[number];

export interface CalendarReminderRun {
  /** Notes sent now (each one message, to one or more chats). */
  sent: number;
  /** Notes recorded as skipped now (with their reason). */
  skipped: number;
  /** Outbox rows written. */
  deliveries: number;
  /** Branch sweeps finished (sent or skipped) in this run, by key. */
  sweeps: string[];
  byKind: Record<Exclude<NoteKind, "sweep">, { sent: number; skipped: number }>;
}

export interface ReminderOptions {
  /**
   * The first tick after the jobs role starts: reminders of meetings that started while no jobs process ran (within
   * the catch-up horizon) are recorded as skipped. Ordinary ticks only look at meetings still ahead.
   */
  catchUp?: boolean;
  /** Branches per transaction in a sweep (default 500). */
  batchSize?: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const DEFAULT_BATCH = 500;
/** Branches named in one town's overdue list before "等 N 个支部". */
const TOWN_LIST_MAX = 10;

type Time = { hour: number; minute: number };
const atTime = (midnight: Date, t: Time) => new Date(midnight.getTime() + (t.hour * 60 + t.minute) * MINUTE);

// ───────────────────────────── writing notes and their deliveries ─────────────────────────────

interface NoteWrite {
  key: string;
  kind: NoteKind;
  orgUnitId: number | null;
  period: string | null;
  dueAt: Date;
  status: "SENT" | "SKIPPED";
  reason: string | null;
  sends: Send[];
}

/**
 * Claims every note of the batch and writes the deliveries of those this caller won, in one transaction and two
 * statements (a sweep over 10,000 branches is 20 of these, not 10,000 round trips). Keys already taken (another
 * process, or this one before a crash) are left alone, with their deliveries. Returns the notes won.
 */
async function writeNotes(prisma: PrismaClient, notes: NoteWrite[]): Promise<{ won: NoteWrite[]; deliveries: number }> {
  if (notes.length === 0) return { won: [], deliveries: 0 };
  // Same order in every process, so two processes writing the same sweep wait on each other instead of deadlocking.
  const sorted = [...notes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return prisma.$transaction(
    async (tx) => {
      const col = <T>(f: (n: NoteWrite) => T) => sorted.map(f);
      // Everything but int travels as text[] (PGlite cannot send arrays of enums or timestamps); the server casts.
      const rows = await tx.$queryRawUnsafe<{ key: string }[]>(
        `INSERT INTO "CalendarNote" (key, kind, "orgUnitId", period, "dueAt", status, reason, deliveries)
         SELECT k, kind, unit, period, due::timestamp(3), status::"CalendarNoteStatus", reason, n
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
                WITH ORDINALITY AS x(k, kind, unit, period, due, status, reason, n, ord)
          ORDER BY ord
         ON CONFLICT (key) DO NOTHING
         RETURNING key`,
        col((n) => n.key),
        col((n) => n.kind),
        col((n) => n.orgUnitId),
        col((n) => n.period),
        col((n) => n.dueAt.toISOString()),
        col((n) => n.status),
        col((n) => n.reason),
        col((n) => (n.status === "SENT" ? n.sends.length : 0)),
      );
      const wonKeys = new Set(rows.map((r) => r.key));
      const won = sorted.filter((n) => wonKeys.has(n.key));
      const sends = won.filter((n) => n.status === "SENT").flatMap((n) => n.sends);
      const deliveries = await enqueueMany(tx, sends.map((d) => ({ ...d, priority: PRIORITY.notice })));
      return { won, deliveries };
    },
    { timeout: 60_000, maxWait: 30_000 },
  );
}

function emptyRun(): CalendarReminderRun {
  const z = () => ({ sent: 0, skipped: 0 });
  return { sent: 0, skipped: 0, deliveries: 0, sweeps: [], byKind: { meeting: z(), due: z(), overdue: z(), "overdue-town": z(), "theme-day": z() } };
}

function count(out: CalendarReminderRun, kind: NoteKind, status: "SENT" | "SKIPPED", deliveries = 0) {
  out.deliveries += deliveries;
  if (kind === "sweep") return;
  if (status === "SENT") {
    out.sent++;
    out.byKind[kind].sent++;
  } else {
    out.skipped++;
    out.byKind[kind].skipped++;
  }
}

// ───────────────────────────── 1. before a meeting ─────────────────────────────

export const meetingNoteKey = (meetingId: number, offsetMin: number, plannedAt: Date) => `meeting:${meetingId}:${offsetMin}:${plannedAt.toISOString()}`;

function durationText(minutes: number): string {
  if (minutes < 60) return `${Math.max(minutes, 1)} 分钟`;
  if (minutes >= 2 * 1440 && minutes % 1440 === 0) return `${minutes / 1440} 天`;
  if (minutes % 60 === 0) return `${minutes / 60} 小时`;
  return `${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分钟`;
}

type ReminderMeeting = {
  id: number;
  orgUnitId: number;
  type: keyof typeof MEETING_TYPE_LABEL;
  topic: string;
  place: string | null;
  plannedAt: Date;
  checkinOpensAt: Date;
  checkinClosesAt: Date;
  qrRequired: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/** What the groups read before a meeting: the notice's shape, with how long until it starts. */
export function meetingReminderText(m: Omit<ReminderMeeting, "id" | "orgUnitId" | "createdAt" | "updatedAt">, now: Date): string {
  const left = Math.round((m.plannedAt.getTime() - now.getTime()) / MINUTE);
  return [
    `【${MEETING_TYPE_LABEL[m.type]}提醒】${m.topic}`,
    `时间：${formatZhDateTime(m.plannedAt, now)}（${durationText(left)}后开始）`,
    ...(m.place ? [`地点：${m.place}`] : []),
    `签到：${formatZhTime(m.checkinOpensAt)}—${formatZhTime(m.checkinClosesAt)}，在群里发送“签到”${m.qrRequired ? "，或到现场扫码签到" : ""}`,
    "不能参加请发送“请假 原因”。",
  ].join("\n");
}

/**
 * Each offset's reminder for every meeting not cancelled and not started. A reminder whose time came before the
 * meeting was published (or last changed) is skipped: a meeting published three hours ahead gets no "24 h" reminder,
 * and one moved to a new time is reminded again for it (the key carries the time) but not for offsets already past.
 * When several offsets are due at once (after downtime) only the latest goes out; the others are superseded.
 */
async function meetingReminders(prisma: PrismaClient, config: ReminderConfig, now: Date, horizonMs: number, catchUp: boolean, out: CalendarReminderRun) {
  const offsets = [...config.MEETING_REMINDER_MINUTES].sort((a, b) => a - b); // latest reminder first
  if (offsets.length === 0) return;
  const maxOffset = offsets[offsets.length - 1];
  const meetings: ReminderMeeting[] = await prisma.meeting.findMany({
    where: {
      status: { not: "CANCELLED" },
      plannedAt: { gt: catchUp ? new Date(now.getTime() - horizonMs) : now, lte: new Date(now.getTime() + maxOffset * MINUTE) },
    },
    select: { id: true, orgUnitId: true, type: true, topic: true, place: true, plannedAt: true, checkinOpensAt: true, checkinClosesAt: true, qrRequired: true, createdAt: true, updatedAt: true },
    orderBy: { plannedAt: "asc" },
  });
  const fireAt = (m: ReminderMeeting, offset: number) => new Date(m.plannedAt.getTime() - offset * MINUTE);
  const known = await knownNotes(
    prisma,
    meetings.flatMap((m) => offsets.filter((o) => fireAt(m, o) <= now).map((o) => meetingNoteKey(m.id, o, m.plannedAt))),
  );
  const skips: NoteWrite[] = [];
  for (const m of meetings) {
    let later = false; // a later reminder of this meeting is sent (or settled) already
    for (const offset of offsets) {
      const dueAt = fireAt(m, offset);
      const key = meetingNoteKey(m.id, offset, m.plannedAt);
      if (known.has(key)) {
        later = true;
        continue;
      }
      let action: NoteAction = noteAction(now, dueAt, horizonMs, m.plannedAt);
      if (action.act === "wait") continue;
      if (action.act === "send") {
        if (dueAt < m.createdAt) action = { act: "skip", reason: "PUBLISHED_AFTER_REMINDER_TIME" };
        else if (dueAt < m.updatedAt) action = { act: "skip", reason: "CHANGED_AFTER_REMINDER_TIME" };
        else if (later) action = { act: "skip", reason: "SUPERSEDED" };
      }
      later = true;
      const note = { key, kind: "meeting" as const, orgUnitId: m.orgUnitId, period: null, dueAt };
      if (action.act === "skip") {
        skips.push({ ...note, status: "SKIPPED", reason: action.reason, sends: [] });
        continue;
      }
      const result = await sendMeetingReminder(prisma, m, note, now);
      if (result) count(out, "meeting", result.status, result.deliveries);
    }
  }
  const { won } = await writeNotes(prisma, skips);
  for (let i = 0; i < won.length; i++) count(out, "meeting", "SKIPPED");
}

async function sendMeetingReminder(
  prisma: PrismaClient,
  m: ReminderMeeting,
  note: { key: string; kind: "meeting"; orgUnitId: number; period: null; dueAt: Date },
  now: Date,
): Promise<{ status: "SENT" | "SKIPPED"; deliveries: number } | null> {
  return prisma.$transaction(
    async (tx) => {
      // Holding the row until commit: a cancellation or a new time either happened before (and is seen here) or
      // waits for this reminder; a reminder never goes out for a meeting already cancelled or moved.
      const [row] = await tx.$queryRaw<{ id: number }[]>`SELECT id FROM "Meeting" WHERE id = ${m.id} FOR SHARE`;
      const current = row ? await tx.meeting.findUnique({ where: { id: m.id }, select: { status: true, plannedAt: true } }) : null;
      if (!current || current.status === "CANCELLED" || current.plannedAt.getTime() !== m.plannedAt.getTime()) return null;
      if (!(await claimNote(tx, note))) return null;
      const groups = await tellGroups(tx, m.orgUnitId, meetingReminderText(m, now), note.key);
      if (groups === 0) {
        await tx.calendarNote.update({ where: { key: note.key }, data: { status: "SKIPPED", reason: "NO_GROUP" } });
        return { status: "SKIPPED" as const, deliveries: 0 };
      }
      await setNoteDeliveries(tx, note.key, groups);
      return { status: "SENT" as const, deliveries: groups };
    },
    { timeout: 30_000 },
  );
}

// ───────────────────────────── who hears about a branch ─────────────────────────────

const GROUP_FALLBACK_NOTE = "（支部书记还没有绑定微信或QQ，这条提醒发到支部群。书记在群里发送“我是 姓名 手机后四位”绑定后，今后改为私下提醒。）";

/**
 * The note for one branch: whoever is told about the branch (core/kernel/recipients.ts: its secretaries and linked
 * console logins, privately), else its groups with a note on how to be told privately, else skipped (nobody to tell).
 */
function branchNote(base: Omit<NoteWrite, "status" | "reason" | "sends">, r: UnitReach | undefined, body: string): NoteWrite {
  const sends = r ? unitSends(r, body, base.key, { to: "groups", note: GROUP_FALLBACK_NOTE }) : [];
  return sends.length ? { ...base, status: "SENT", reason: null, sends } : { ...base, status: "SKIPPED", reason: "NO_RECIPIENT", sends: [] };
}

// ───────────────────────────── texts ─────────────────────────────

const monthDay = (at: Date) => {
  const { month, day } = chinaParts(at);
  return `${month}月${day}日`;
};

/** "支委会", "第一党小组 党小组会", "党员大会（还差 1 次）", "党员大会（已召开但到会未过半数，不计入）". */
function obligationName(o: Obligation, counting: "held" | "heldOrPlanned"): string {
  const name = o.partyGroupName ? `${o.partyGroupName} ${MEETING_TYPE_LABEL[o.type]}` : MEETING_TYPE_LABEL[o.type];
  const notes: string[] = [];
  const done = o.heldMeetingIds.length + (counting === "heldOrPlanned" ? o.plannedMeetingIds.length : 0);
  if (o.required > 1) notes.push(`还差 ${o.required - done} 次`);
  if (o.notCounted.some((n) => n.reason === "NO_QUORUM")) notes.push("已召开但到会未过半数，不计入");
  else if (o.notCounted.some((n) => n.reason === "NO_ATTENDANCE")) notes.push("已召开但没有签到记录");
  return notes.length ? `${name}（${notes.join("，")}）` : name;
}

/** One line per period: "· 2026年11月：支委会、第一党小组 党小组会". */
function obligationLines(obligations: Obligation[], counting: "held" | "heldOrPlanned"): string[] {
  const byPeriod = new Map<string, { label: string; names: string[] }>();
  for (const o of obligations) {
    const entry = byPeriod.get(o.period.key) ?? { label: o.period.label, names: [] };
    entry.names.push(obligationName(o, counting));
    byPeriod.set(o.period.key, entry);
  }
  // Months before quarters: what is due soonest reads first.
  return [...byPeriod.entries()].sort(([a], [b]) => Number(a.includes("Q")) - Number(b.includes("Q")) || a.localeCompare(b)).map(([, e]) => `· ${e.label}：${e.names.join("、")}`);
}

export function dueText(branchName: string, missing: Obligation[], now: Date): string {
  const end = missing[0].period.end;
  const daysLeft = Math.max(1, Math.ceil((end.getTime() - now.getTime()) / DAY));
  return [
    `【三会一课提醒】${branchName}：以下会议还没有召开，也还没有安排：`,
    ...obligationLines(missing, "heldOrPlanned"),
    `以上会议须在 ${monthDay(new Date(end.getTime() - 1))} 之前召开（含当天，还有 ${daysLeft} 天）。请及时安排，发送“发布学习 时间 主题 地点 类型”即可通知党员，例如：发布学习 明天19:30 学习党章 村委会 支委会`,
  ].join("\n");
}

export function overdueText(branchName: string, month: Period, missing: Obligation[], townName: string | null): string {
  return [
    `【三会一课逾期】${branchName}：${month.label}已经结束，以下会议没有按期召开：`,
    ...obligationLines(missing, "held"),
    `${townName ? `已通报${townName}。` : ""}请尽快安排召开；已经召开但没有签到记录的，请在管理后台补录。`,
  ].join("\n");
}

export function overdueTownText(townName: string, month: Period, branches: { name: string; missing: Obligation[] }[]): string {
  const shown = branches.slice(0, TOWN_LIST_MAX).map((b) => {
    const names = b.missing.map((o) => (o.period.kind === "quarter" ? `${obligationName(o, "held")}（${o.period.label.slice(5)}）` : obligationName(o, "held")));
    return `· ${b.name}：${names.join("、")}`;
  });
  return [
    `【三会一课逾期通报】${townName}：${month.label}有 ${branches.length} 个支部没有按期完成三会一课：`,
    ...shown,
    ...(branches.length > TOWN_LIST_MAX ? [`……等 ${branches.length} 个支部`] : []),
    "已分别提醒各支部书记，请督促落实。",
  ].join("\n");
}

export function themeDayText(branchName: string, fixedDay: Date): string {
  return [
    `【主题党日提醒】今天（${monthDay(fixedDay)}）是${branchName}的主题党日，本月的主题党日活动还没有安排。`,
    "请及时组织，发送“发布学习 今天19:30 主题 地点 主题党日”即可通知党员。",
  ].join("\n");
}

// ───────────────────────────── 2–4. sweeps over every branch ─────────────────────────────

type SweepKind = "due" | "overdue" | "theme-day";

interface Sweep {
  kind: SweepKind;
  key: string;
  month: Period;
  dueAt: Date;
  expiresAt: Date | null;
  /** due: branches whose dueReminderDays is this; theme-day: whose fixed day is this. */
  variant: number | null;
}

/**
 * The fixed days and due-reminder lead times in use: the county's, and those of branches with their own (a handful
 * of distinct values, read without loading every branch).
 */
async function ruleVariants(prisma: PrismaClient, county: CalendarRules) {
  const rows = await prisma.$queryRaw<{ day: number | null; override: unknown }[]>`
    SELECT DISTINCT "themeDayOfMonth" AS day, "rulesOverride" AS override FROM "OrgUnit" WHERE kind = 'BRANCH' AND active`;
  const dueDays = new Set<number>();
  const themeDays = new Set<number>();
  for (const r of rows) {
    const rules = branchRules(county, { themeDay: r.day, override: parseRulesPatch(r.override) });
    dueDays.add(rules.dueReminderDays);
    if (rules.types.THEME_DAY?.period === "month") themeDays.add(rules.themeDay);
  }
  return { dueDays: [...dueDays].sort((a, b) => a - b), themeDays: [...themeDays].sort((a, b) => a - b) };
}

/** Every sweep whose time is in this month or the last (older ones are past any horizon and were settled then). */
function sweepsAround(now: Date, config: ReminderConfig, variants: { dueDays: number[]; themeDays: number[] }): Sweep[] {
  const cur = periodOf("month", now);
  const prev = previousPeriod(cur);
  const out: Sweep[] = [];
  for (const month of [prev, cur]) {
    for (const days of variants.dueDays) {
      // A lead time longer than the month (30 days in February) reminds on its first day instead.
      const at = atTime(dueReminderAt(month, days, 0), config.CALENDAR_REMINDER_TIME);
      const dueAt = new Date(Math.max(at.getTime(), atTime(month.start, config.CALENDAR_REMINDER_TIME).getTime()));
      out.push({ kind: "due", key: `sweep:due:${month.key}:${days}d`, month, dueAt, expiresAt: month.end, variant: days });
    }
    const { year, month: m } = chinaParts(month.start);
    for (const day of variants.themeDays) {
      out.push({ kind: "theme-day", key: `sweep:theme-day:${month.key}:${day}`, month, dueAt: atTime(chinaDate(year, m, day), config.THEME_DAY_REMINDER_TIME), expiresAt: chinaDate(year, m, day + 1), variant: day });
    }
  }
  for (const month of [previousPeriod(prev), prev]) {
    out.push({ kind: "overdue", key: `sweep:overdue:${month.key}`, month, dueAt: atTime(month.end, config.CALENDAR_REMINDER_TIME), expiresAt: null, variant: null });
  }
  return out.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
}

interface SweepContext {
  prisma: PrismaClient;
  now: Date;
  county: CalendarRules;
  batchSize: number;
  /** One evaluation per month per run, shared by the sweeps of that month. */
  evaluations: Map<string, Promise<BranchEvaluation[]>>;
}

function evaluateMonth(c: SweepContext, month: Period) {
  let e = c.evaluations.get(month.key);
  if (!e) {
    e = evaluateBranches(c.prisma, { path: "/", span: month, at: c.now, rules: c.county });
    c.evaluations.set(month.key, e);
  }
  return e;
}

/** Per-branch notes in batches: those already taken are dropped first (a sweep redone after a crash is cheap). */
async function writeBranchNotes(c: SweepContext, items: { base: Omit<NoteWrite, "status" | "reason" | "sends">; body: string }[], out: CalendarReminderRun) {
  let deliveries = 0;
  for (let i = 0; i < items.length; i += c.batchSize) {
    const chunk = items.slice(i, i + c.batchSize);
    const known = await knownNotes(c.prisma, chunk.map((x) => x.base.key));
    const pending = chunk.filter((x) => !known.has(x.base.key));
    if (pending.length === 0) continue;
    // Everyone of the batch in one statement: a sweep asks about 10,000 branches.
    const recipients = await unitReach(c.prisma, pending.map((x) => x.base.orgUnitId!));
    const { won, deliveries: n } = await writeNotes(c.prisma, pending.map((x) => branchNote(x.base, recipients.get(x.base.orgUnitId!), x.body)));
    for (const note of won) count(out, note.kind, note.status);
    out.deliveries += n;
    deliveries += n;
  }
  return deliveries;
}

async function runSweep(c: SweepContext, sweep: Sweep, out: CalendarReminderRun): Promise<number> {
  const evaluations = await evaluateMonth(c, sweep.month);
  const base = (kind: SweepKind, branchId: number) => ({ key: `${kind}:${branchId}:${sweep.month.key}`, kind, orgUnitId: branchId, period: sweep.month.key, dueAt: sweep.dueAt });
  const endsWithMonth = (o: Obligation) => o.period.end.getTime() === sweep.month.end.getTime();

  if (sweep.kind === "due") {
    const items = evaluations.flatMap(({ branch, obligations }) => {
      if (branchRules(c.county, branch).dueReminderDays !== sweep.variant) return [];
      const missing = obligations.filter((o) => o.state === "DUE" && endsWithMonth(o));
      return missing.length ? [{ base: base("due", branch.branchId), body: dueText(branch.name, missing, c.now) }] : [];
    });
    return writeBranchNotes(c, items, out);
  }

  if (sweep.kind === "theme-day") {
    const { year, month } = chinaParts(sweep.month.start);
    const fixedDay = chinaDate(year, month, sweep.variant!);
    const items = evaluations.flatMap(({ branch, obligations }) => {
      const due = obligations.some((o) => o.type === "THEME_DAY" && o.state === "DUE" && o.fixedDay?.getTime() === fixedDay.getTime());
      return due ? [{ base: base("theme-day", branch.branchId), body: themeDayText(branch.name, fixedDay) }] : [];
    });
    return writeBranchNotes(c, items, out);
  }

  // Overdue: each branch's secretaries, then one list per town (a branch directly under the county: the county).
  const overdue = evaluations
    .map(({ branch, obligations }) => ({ branch, missing: obligations.filter((o) => o.state === "OVERDUE" && endsWithMonth(o)) }))
    .filter((x) => x.missing.length > 0);
  // No town: the branch's parent, i.e. its county (not the root, which may be a city above the counties).
  const townOf = (b: BranchEvaluation["branch"]) => b.townId ?? Number(b.path.split("/").filter(Boolean).at(-2));
  const townIds = [...new Set(overdue.map((x) => townOf(x.branch)))];
  const towns = new Map((await c.prisma.orgUnit.findMany({ where: { id: { in: townIds } }, select: { id: true, name: true } })).map((t) => [t.id, t.name]));
  let deliveries = await writeBranchNotes(
    c,
    overdue.map(({ branch, missing }) => ({ base: base("overdue", branch.branchId), body: overdueText(branch.name, sweep.month, missing, towns.get(townOf(branch)) ?? null) })),
    out,
  );
  const byTown = new Map<number, { name: string; missing: Obligation[] }[]>();
  for (const { branch, missing } of overdue) byTown.set(townOf(branch), [...(byTown.get(townOf(branch)) ?? []), { name: branch.name, missing }]);
  const townKey = (townId: number) => `overdue-town:${townId}:${sweep.month.key}`;
  const known = await knownNotes(c.prisma, [...byTown.keys()].map(townKey));
  for (const [townId, branches] of byTown) {
    const note = { key: townKey(townId), kind: "overdue-town", orgUnitId: townId, period: sweep.month.key, dueAt: sweep.dueAt };
    if (known.has(note.key)) continue;
    const result = await c.prisma.$transaction(
      async (tx) => {
        if (!(await claimNote(tx, note))) return null;
        // The town's cadre group; without one its admins, and failing those the county (core/kernel/recipients.ts).
        const n = await tellUnit(tx, townId, overdueTownText(towns.get(townId) ?? "", sweep.month, branches), note.key);
        if (n === 0) await tx.calendarNote.update({ where: { key: note.key }, data: { status: "SKIPPED", reason: "NO_RECIPIENT" } });
        else await setNoteDeliveries(tx, note.key, n);
        return n;
      },
      { timeout: 30_000 },
    );
    if (result === null) continue;
    count(out, "overdue-town", result > 0 ? "SENT" : "SKIPPED", result);
    deliveries += result;
  }
  return deliveries;
}

// ───────────────────────────── the tick ─────────────────────────────

/**
 * One tick at `now` (pass a clock in tests): everything due by now and not yet noted is sent, or recorded as skipped
 * when it is past CALENDAR_CATCHUP_HOURS or no longer useful. Safe to run in any number of processes at once.
 */
export async function runCalendarReminders(prisma: PrismaClient, config: ReminderConfig, now: Date, opts: ReminderOptions = {}): Promise<CalendarReminderRun> {
  const out = emptyRun();
  const horizonMs = config.CALENDAR_CATCHUP_HOURS * 3_600_000;
  const errors: Error[] = [];

  await meetingReminders(prisma, config, now, horizonMs, opts.catchUp ?? false, out).catch((e: Error) => errors.push(e));

  const county = await countyRules(prisma);
  const sweeps = sweepsAround(now, config, await ruleVariants(prisma, county));
  const done = await knownNotes(prisma, sweeps.map((s) => s.key));
  const c: SweepContext = { prisma, now, county, batchSize: opts.batchSize ?? DEFAULT_BATCH, evaluations: new Map() };
  for (const sweep of sweeps) {
    if (done.has(sweep.key)) continue;
    const action = noteAction(now, sweep.dueAt, horizonMs, sweep.expiresAt);
    if (action.act === "wait") continue;
    try {
      const note = { key: sweep.key, kind: "sweep", orgUnitId: null, period: sweep.month.key, dueAt: sweep.dueAt };
      if (action.act === "skip") {
        // Too late to say: one row for the whole sweep, so the skip is on record and no later tick reconsiders it.
        await prisma.$transaction((tx) => claimNote(tx, note, "SKIPPED", action.reason));
      } else {
        const deliveries = await runSweep(c, sweep, out);
        await prisma.$transaction(async (tx) => {
          if (await claimNote(tx, note)) await setNoteDeliveries(tx, note.key, deliveries);
        });
      }
      out.sweeps.push(sweep.key);
    } catch (e) {
      errors.push(e as Error);
    }
  }
  if (errors.length) throw new Error(`三会一课提醒未全部完成：${errors.map((e) => e.message).join("；")}`, { cause: errors[0] });
  return out;
}
