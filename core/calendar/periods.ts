// Months and quarters on the county's clock (Asia/Shanghai, UTC+8, no daylight saving): a period starts at local
// midnight on its first day. Keys are "2026-11" and "2026-Q4"; both the API and the stored reports use them.
import { CHINA_OFFSET_MS } from "../meetings/time.ts";

export type PeriodKind = "month" | "quarter";

export interface Period {
  kind: PeriodKind;
  /** "2026-11" or "2026-Q4". */
  key: string;
  /** Inclusive start and exclusive end, as instants. */
  start: Date;
  end: Date;
  /** "2026年11月", "2026年第四季度". */
  label: string;
}

const QUARTER_ZH = ["一", "二", "三", "四"];

/** The instant of local midnight on year-month(1-based)-day in Shanghai; month may overflow (13 → next January). */
export function chinaDate(year: number, month: number, day = 1, hour = 0, minute = 0): Date {
  return new Date(Date.UTC(year, month - 1, day, hour, minute) - CHINA_OFFSET_MS);
}

/** Year, month (1-12) and day of month of an instant, in Shanghai. */
export function chinaParts(at: Date): { year: number; month: number; day: number } {
  const local = new Date(at.getTime() + CHINA_OFFSET_MS);
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

export function monthPeriod(year: number, month: number): Period {
  const y = year + Math.floor((month - 1) / 12);
  const m = ((((month - 1) % 12) + 12) % 12) + 1;
  return { kind: "month", key: `${y}-${String(m).padStart(2, "0")}`, start: chinaDate(y, m), end: chinaDate(y, m + 1), label: `${y}年${m}月` };
}

export function quarterPeriod(year: number, quarter: number): Period {
  const y = year + Math.floor((quarter - 1) / 4);
  const q = ((((quarter - 1) % 4) + 4) % 4) + 1;
  return { kind: "quarter", key: `${y}-Q${q}`, start: chinaDate(y, q * 3 - 2), end: chinaDate(y, q * 3 + 1), label: `${y}年第${QUARTER_ZH[q - 1]}季度` };
}

/** The month or quarter containing `at`. */
export function periodOf(kind: PeriodKind, at: Date): Period {
  const { year, month } = chinaParts(at);
  return kind === "month" ? monthPeriod(year, month) : quarterPeriod(year, Math.ceil(month / 3));
}

/** The period just before `p` (same kind). */
export function previousPeriod(p: Period): Period {
  return periodOf(p.kind, new Date(p.start.getTime() - 1));
}

export function nextPeriod(p: Period): Period {
  return periodOf(p.kind, p.end);
}

/** "2026-11" / "2026-Q4" → the period; undefined for anything else. */
export function parsePeriodKey(key: string): Period | undefined {
  const m = /^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$/.exec(key.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  if (year < 2000 || year > 2100) return undefined;
  return m[2] ? monthPeriod(year, Number(m[2])) : quarterPeriod(year, Number(m[3]));
}

/** Every period of `kind` that overlaps [span.start, span.end), in order. */
export function periodsWithin(kind: PeriodKind, span: Pick<Period, "start" | "end">): Period[] {
  const out: Period[] = [];
  for (let p = periodOf(kind, span.start); p.start < span.end; p = nextPeriod(p)) out.push(p);
  return out;
}
