// The official Chinese working-day calendar: statutory holidays and 调休 make-up working days from the maintained
// `chinese-days` package, plus CalendarOverride rows an admin edits for a year the package does not cover yet (the
// State Council publishes each year's schedule late in the year before). Time limits (限时办结) count on it.
// Days are China calendar days (UTC+8).
import chineseDays from "chinese-days";
import type { Prisma, PrismaClient } from "../db/index.ts";
import { CHINA_OFFSET_MS } from "../meetings/time.ts";
import { AppError } from "../kernel/errors.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

const DAY_MS = 86_400_000;

/** "2026-10-01" for the China calendar day containing `d`. */
export function chinaDayKey(d: Date): string {
  return new Date(d.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** Midnight (China time) starting the given day key, as an instant. */
export function chinaMidnight(dayKey: string): Date {
  return new Date(Date.parse(`${dayKey}T00:00:00Z`) - CHINA_OFFSET_MS);
}

const coveredYears = new Map<number, boolean>();

/** Whether the package has this year's official schedule (every year has statutory holidays). */
export function packageCoversYear(year: number): boolean {
  let covered = coveredYears.get(year);
  if (covered === undefined) {
    covered = chineseDays.getHolidaysInRange(`${year}-01-01`, `${year}-12-31`, false).length > 0;
    coveredYears.set(year, covered);
  }
  return covered;
}

export type DaySource = "override" | "package" | "weekday";

export interface DayInfo {
  date: string;
  isWorkday: boolean;
  source: DaySource;
  note?: string;
}

export class WorkCalendar {
  constructor(private readonly overrides: ReadonlyMap<string, { isWorkday: boolean; note: string }> = new Map()) {}

  /** An admin's override first, then the official schedule, then plain Monday–Friday for an uncovered year. */
  day(dayKey: string): DayInfo {
    const o = this.overrides.get(dayKey);
    if (o) return { date: dayKey, isWorkday: o.isWorkday, source: "override", note: o.note };
    const year = Number(dayKey.slice(0, 4));
    if (packageCoversYear(year)) {
      const detail = chineseDays.getDayDetail(dayKey);
      return { date: dayKey, isWorkday: chineseDays.isWorkday(dayKey), source: "package", note: detail.name?.split(",")[1] };
    }
    const wd = new Date(`${dayKey}T00:00:00Z`).getUTCDay();
    return { date: dayKey, isWorkday: wd >= 1 && wd <= 5, source: "weekday" };
  }

  isWorkday(dayKey: string): boolean {
    return this.day(dayKey).isWorkday;
  }

  /**
   * `days` working days after `from`, at the same clock time: filed Friday 16:00 with 1 working day → Monday 16:00
   * (or later across a holiday). Something filed on a day off starts counting at the next working day's 00:00, so
   * "1 working day" from a Saturday ends when that Monday ends.
   */
  addWorkingDays(from: Date, days: number): Date {
    if (!Number.isInteger(days) || days < 0) throw new RangeError(`addWorkingDays: ${days}`);
    let key = chinaDayKey(from);
    let start = from;
    if (!this.isWorkday(key)) {
      key = this.nextWorkday(key);
      start = chinaMidnight(key);
    }
    const clock = start.getTime() - chinaMidnight(key).getTime();
    for (let left = days; left > 0; left--) key = this.nextWorkday(key);
    return new Date(chinaMidnight(key).getTime() + clock);
  }

  /** Working days strictly after `from`'s day up to and including `to`'s day (for reports: "overdue by N working days"). */
  workingDaysBetween(from: Date, to: Date): number {
    let n = 0;
    for (let key = chinaDayKey(from); key < chinaDayKey(to); ) {
      key = shiftDay(key, 1);
      if (this.isWorkday(key)) n++;
    }
    return n;
  }

  private nextWorkday(key: string): string {
    // A year can have at most ~9 consecutive days off (春节 plus a weekend): 60 is a generous bound.
    for (let i = 1; i <= 60; i++) {
      const next = shiftDay(key, i);
      if (this.isWorkday(next)) return next;
    }
    throw new Error(`no working day within 60 days after ${key}: check the calendar overrides`);
  }
}

export function shiftDay(key: string, days: number): string {
  return new Date(Date.parse(`${key}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

const CACHE_MS = 60_000;
let cached: { at: number; calendar: WorkCalendar } | undefined;

/** The calendar with the current overrides (re-read at most once a minute, or at once after an edit here). */
export async function loadCalendar(tx: Tx, opts: { fresh?: boolean } = {}): Promise<WorkCalendar> {
  if (!opts.fresh && cached && Date.now() - cached.at < CACHE_MS) return cached.calendar;
  const rows = await tx.calendarOverride.findMany();
  const calendar = new WorkCalendar(new Map(rows.map((r) => [r.date.toISOString().slice(0, 10), { isWorkday: r.isWorkday, note: r.note }])));
  cached = { at: Date.now(), calendar };
  return calendar;
}

/** After an override changed: the next loadCalendar in this process reads them again. */
export function invalidateCalendar() {
  cached = undefined;
}

const DATE_KEY = /^\d{4}-\d{2}-\d{2}$/;

function checkDayKey(date: string) {
  if (!DATE_KEY.test(date) || shiftDay(date, 0) !== date) throw new AppError("DATE_INVALID", `日期“${date}”无效，格式如 2027-10-01。`);
}

/** A year as the calendar sees it: whether the official schedule is in the package, and every day that is not plain Mon–Fri. */
export async function calendarYear(tx: Tx, year: number) {
  if (!Number.isInteger(year) || year < 2004 || year > 2100) throw new AppError("YEAR_INVALID");
  const calendar = await loadCalendar(tx, { fresh: true });
  const special: DayInfo[] = [];
  let workdays = 0;
  for (let key = `${year}-01-01`; key.startsWith(String(year)); key = shiftDay(key, 1)) {
    const info = calendar.day(key);
    const wd = new Date(`${key}T00:00:00Z`).getUTCDay();
    if (info.isWorkday) workdays++;
    if (info.source === "override" || info.isWorkday !== (wd >= 1 && wd <= 5)) special.push(info);
  }
  return { year, packageCovers: packageCoversYear(year), workdays, days: special };
}

/** An admin marks one day a working day or a day off (for a year the package does not cover yet, or a local change). */
export async function setOverride(tx: Tx, date: string, isWorkday: boolean, note: string) {
  checkDayKey(date);
  if (note.length > 100) throw new AppError("NOTE_TOO_LONG");
  const row = await tx.calendarOverride.upsert({
    where: { date: new Date(`${date}T00:00:00Z`) },
    create: { date: new Date(`${date}T00:00:00Z`), isWorkday, note },
    update: { isWorkday, note },
  });
  invalidateCalendar();
  return row;
}

export async function removeOverride(tx: Tx, date: string) {
  checkDayKey(date);
  const { count } = await tx.calendarOverride.deleteMany({ where: { date: new Date(`${date}T00:00:00Z`) } });
  if (count === 0) throw new AppError("OVERRIDE_NOT_FOUND", `${date} 没有人工调整，无需删除。`);
  invalidateCalendar();
}
