// Chinese date-time parsing for chat commands ("发布学习 明天19:30 学习党章 村委会"). Pure: the caller passes `now`.
// Everything is China time (UTC+8, no DST), done with a fixed offset: a "naive" millisecond value below means
// Date.UTC(...) of the China wall-clock fields, and a real instant is naive - CHINA_OFFSET_MS.
//
// The time must be a prefix of the text: [day] [weekday note] [time-of-day word] [clock], e.g.
//   2026-11-28 19:30 · 2026年11月28日 19点30分 · 11月28日 晚上7点半 · 28号 19:30 · 明晚7点 · 下周一 9:00 · 19:30
// Interpretation rules (see parseTimePrefix) are chosen so that a typo produces a clear error instead of a
// meeting silently scheduled months away.

import { AppError } from "../kernel/errors.ts";

export const CHINA_OFFSET_MS = 8 * 3600_000;

export interface ParsedTime {
  at: Date;
  /** the rest of the text after the time, trimmed */
  rest: string;
  /** what we understood, formatted with formatZhDateTime */
  understood: string;
  /** the exact source substring that was taken as the time */
  source: string;
}

const DAY_MS = 86_400_000;
/** parseFutureTime accepts times up to this much before `now` (the message took a moment to arrive). */
const PAST_SLACK_MS = 60_000;
/** A month/day without a year is this year's unless that date is more than this many days ago (then next year's). */
const YEAR_ROLLOVER_DAYS = 183;
/** A bare day of month ("28号") is this month's unless that date is more than this many days ago (then next month's). */
const MONTH_ROLLOVER_DAYS = 15;

const EXAMPLES = "明天19:30、11月28日 晚上7点半、2026-11-28 19:30、周五 19:30";
const WEEKDAY_ZH = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"]; // by JS getUTCDay()

// ---------------------------------------------------------------- formatting

interface ChinaParts {
  y: number;
  m: number; // 1-12
  d: number;
  /** 0 = Sunday, as Date#getUTCDay */
  wd: number;
  /** Date.UTC of the China calendar day (midnight) */
  naiveDay: number;
}

function chinaParts(d: Date): ChinaParts {
  const shifted = new Date(d.getTime() + CHINA_OFFSET_MS);
  const y = shifted.getUTCFullYear();
  const m = shifted.getUTCMonth() + 1;
  const day = shifted.getUTCDate();
  return { y, m, d: day, wd: shifted.getUTCDay(), naiveDay: Date.UTC(y, m - 1, day) };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "19:30" in China time */
export function formatZhTime(d: Date): string {
  const shifted = new Date(d.getTime() + CHINA_OFFSET_MS);
  return `${pad2(shifted.getUTCHours())}:${pad2(shifted.getUTCMinutes())}`;
}

/** "11月28日（周六）"; with the year when it differs from `now`'s (China time). */
function formatZhDate(d: Date, now: Date): string {
  const p = chinaParts(d);
  const year = p.y !== chinaParts(now).y ? `${p.y}年` : "";
  return `${year}${p.m}月${p.d}日（${WEEKDAY_ZH[p.wd]}）`;
}

/** "11月28日（周六）19:30"; with the year prepended ("2027年1月3日（周日）09:00") when the year differs from `now`'s year in China time. */
export function formatZhDateTime(d: Date, now: Date = new Date()): string {
  return `${formatZhDate(d, now)}${formatZhTime(d)}`;
}

/** Start of the China-time calendar day containing d, as a Date. */
export function chinaDayStart(d: Date): Date {
  return new Date(chinaParts(d).naiveDay - CHINA_OFFSET_MS);
}

// ---------------------------------------------------------------- errors

const invalid = (message: string) => new AppError("TIME_INVALID", message);

const hourMissing = (source: string) =>
  new AppError("TIME_HOUR_MISSING", `“${source}”还没写几点钟。请写上具体时间，例如：明天19:30、11月28日 晚上7点半`);

// ---------------------------------------------------------------- lexing helpers

/**
 * Full-width digits and punctuation to ASCII, one UTF-16 unit for one, so that indices into the normalised string
 * are indices into the original text (`source` is cut from the original).
 */
function normalize(text: string): string {
  return text.replace(/[\uFF10-\uFF19\uFF1A\u2236\uFF0F\uFF0D\uFF0E\u3000\uFF34]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xff10 && code <= 0xff19) return String.fromCharCode(code - 0xff10 + 48);
    switch (c) {
      case "：":
      case "∶":
        return ":";
      case "／":
        return "/";
      case "－":
        return "-";
      case "．":
        return ".";
      case "Ｔ":
        return "T";
      default:
        return " ";
    }
  });
}

const ZH_DIGIT: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const ZH_CHARS = "零〇一二两三四五六七八九十";
/** A one- or two-digit number, in Arabic or Chinese numerals (the caller checks the range). */
const NUM = `(\\d{1,2}(?!\\d)|[${ZH_CHARS}]{1,4})`;

/** Chinese (or Arabic) numerals up to 99: 七, 十, 十九, 二十八, 三十一, 五十九, 零五. */
function zhNum(t: string): number | undefined {
  if (/^\d+$/.test(t)) return Number(t);
  const tens = /^([二两三四五六七八九])?十([一二三四五六七八九])?$/.exec(t);
  if (tens) return (tens[1] ? ZH_DIGIT[tens[1]] : 1) * 10 + (tens[2] ? ZH_DIGIT[tens[2]] : 0);
  const single = /^[零〇]?([零〇一二两三四五六七八九])$/.exec(t);
  if (single) return ZH_DIGIT[single[1]];
  return undefined;
}

const isArabic = (t: string) => /^\d/.test(t);

function matchAt(re: RegExp, s: string, p: number): RegExpExecArray | null {
  re.lastIndex = p;
  return re.exec(s);
}

// ---------------------------------------------------------------- time-of-day words

type Period = "am" | "dawn" | "noon" | "pm" | "night";

const PERIOD_WORDS: Record<string, Period> = {
  凌晨: "dawn",
  早上: "am",
  早晨: "am",
  清晨: "am",
  上午: "am",
  早: "am",
  中午: "noon",
  下午: "pm",
  午后: "pm",
  傍晚: "pm",
  晚上: "night",
  晚间: "night",
  夜里: "night",
  夜间: "night",
  夜晚: "night",
  晚: "night",
};
const PERIOD_RE = /(凌晨|早上|早晨|清晨|上午|中午|下午|午后|傍晚|晚上|晚间|夜里|夜间|夜晚|早|晚)/y;

/** 24-hour hour from a written hour and a time-of-day word; may return 24 (midnight at the end of the day). */
function applyPeriod(hour: number, period: Period | undefined): number {
  switch (period) {
    case "dawn":
      return hour === 12 ? 0 : hour; // 凌晨12点 = 00:00
    case "noon":
      return hour >= 1 && hour <= 4 ? hour + 12 : hour; // 中午1点 = 13:00, 中午12点 = 12:00
    case "pm":
      return hour < 12 ? hour + 12 : hour; // 下午3点 = 15:00; 下午15点 stays
    case "night":
      if (hour === 12 || hour === 0) return 24; // 晚上12点 = midnight at the end of that day
      return hour < 12 ? hour + 12 : hour;
    default:
      return hour; // am words and no word: as written (7点 = 07:00)
  }
}

// ---------------------------------------------------------------- day part

type DaySpec =
  | { kind: "date"; naiveDay: number }
  | { kind: "offset"; days: number }
  /** wd: 1 = Monday … 7 = Sunday. week: "next" = next occurrence on/after today; otherwise a Monday-based week. */
  | { kind: "weekday"; wd: number; week: "next" | "this" | "following" | "previous" };

interface DayMatch {
  spec: DaySpec;
  end: number;
  period?: Period;
}

const RELATIVE: Record<string, { days: number; period?: Period }> = {
  前天: { days: -2 },
  昨天: { days: -1 },
  昨日: { days: -1 },
  昨晚: { days: -1, period: "night" },
  今天: { days: 0 },
  今日: { days: 0 },
  今早: { days: 0, period: "am" },
  今晚: { days: 0, period: "night" },
  明天: { days: 1 },
  明日: { days: 1 },
  明早: { days: 1, period: "am" },
  明晚: { days: 1, period: "night" },
  后天: { days: 2 },
  大后天: { days: 3 },
};
// 今晚上/明早上 etc. are the same as 今晚/明早.
const RELATIVE_RE = /(大后天|后天|明天|明日|今天|今日|昨天|昨日|前天|(?:明|今|昨)(?:早|晚)上?)/y;

const WEEKDAY_CHARS: Record<string, number> = { 一: 1, 二: 2, 三: 3, 四: 4, 五: 5, 六: 6, 日: 7, 天: 7, 七: 7 };
const WEEKDAY_RE = /(本|这个?|下个?|上个?)?(?:周|星期|礼拜)([一二三四五六日天七]|[1-7](?!\d))/y;
/** "（周六）" after a date: checked against the date. */
const WEEKDAY_NOTE_RE = /\s*[（(]?\s*(?:周|星期|礼拜)([一二三四五六日天七])(?:\s*[)）])?/y;

const YEAR_DATE_RE = new RegExp(`(\\d{4})(?:年${NUM}月${NUM}([日号])?|([-/.])(\\d{1,2})\\5(\\d{1,2})(?!\\d))`, "y");
const MONTH_DAY_RE = new RegExp(`(?:${NUM}月${NUM}([日号])?|(\\d{1,2})[-/](\\d{1,2})(?!\\d))`, "y");
const DAY_OF_MONTH_RE = new RegExp(`${NUM}[日号]`, "y");

const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

function checkMonth(m: number, source: string) {
  if (m < 1 || m > 12) throw invalid(`日期“${source}”不存在（月份应为1–12），请核对后重新发送，例如：11月28日 晚上7点半`);
}

/** `yearWritten`: mention the year only when the user wrote it or it matters (2月29日). */
function checkDay(y: number, m: number, d: number, source: string, yearWritten: boolean) {
  const max = daysInMonth(y, m);
  if (d >= 1 && d <= max) return;
  const month = yearWritten || (m === 2 && d === 29) ? `${y}年${m}月` : `${m}月`;
  throw invalid(`日期“${source}”不存在（${month}只有${max}天），请核对后重新发送`);
}

/** Reads the day part at p; undefined when there is none. Throws TIME_INVALID for impossible dates. */
function readDay(s: string, text: string, p: number, today: ChinaParts): DayMatch | undefined {
  let m = matchAt(YEAR_DATE_RE, s, p);
  if (m) {
    const ok = m[2] !== undefined ? !(m[4] === undefined && !isArabic(m[3])) : true; // Chinese day needs 日/号
    const month = m[2] !== undefined ? zhNum(m[2]) : Number(m[6]);
    const day = m[2] !== undefined ? zhNum(m[3]) : Number(m[7]);
    if (ok && month !== undefined && day !== undefined) {
      const end = p + m[0].length;
      const source = text.slice(p, end);
      const y = Number(m[1]);
      checkMonth(month, source);
      checkDay(y, month, day, source, true);
      return { spec: { kind: "date", naiveDay: Date.UTC(y, month - 1, day) }, end };
    }
  }

  m = matchAt(MONTH_DAY_RE, s, p);
  if (m) {
    const zhForm = m[1] !== undefined;
    const ok = zhForm ? !(m[3] === undefined && !isArabic(m[2])) : true;
    const month = zhForm ? zhNum(m[1]) : Number(m[4]);
    const day = zhForm ? zhNum(m[2]) : Number(m[5]);
    if (ok && month !== undefined && day !== undefined) {
      const end = p + m[0].length;
      const source = text.slice(p, end);
      checkMonth(month, source);
      if (day < 1 || day > 31) checkDay(today.y, month, day, source, false);
      // This year's, unless that is long past (on Dec 30, "1月3日" is next January).
      const daysAgo = (today.naiveDay - Date.UTC(today.y, month - 1, day)) / DAY_MS;
      const y = daysAgo > YEAR_ROLLOVER_DAYS ? today.y + 1 : today.y;
      checkDay(y, month, day, source, false);
      return { spec: { kind: "date", naiveDay: Date.UTC(y, month - 1, day) }, end };
    }
  }

  m = matchAt(DAY_OF_MONTH_RE, s, p);
  if (m) {
    const day = zhNum(m[1]);
    if (day !== undefined) {
      const end = p + m[0].length;
      const source = text.slice(p, end);
      if (day < 1 || day > 31) throw invalid(`日期“${source}”不存在，请核对后重新发送，例如：11月28日 晚上7点半`);
      // This month's, unless that is more than half a month ago (on the 25th, "3号" is next month's 3rd).
      const daysAgo = (today.naiveDay - Date.UTC(today.y, today.m - 1, day)) / DAY_MS;
      const next = daysAgo > MONTH_ROLLOVER_DAYS;
      const y = next && today.m === 12 ? today.y + 1 : today.y;
      const month = next ? (today.m % 12) + 1 : today.m;
      checkDay(y, month, day, source, false);
      return { spec: { kind: "date", naiveDay: Date.UTC(y, month - 1, day) }, end };
    }
  }

  m = matchAt(RELATIVE_RE, s, p);
  if (m) {
    const word = m[1].length === 3 && m[1].endsWith("上") ? m[1].slice(0, 2) : m[1];
    const r = RELATIVE[word];
    return { spec: { kind: "offset", days: r.days }, end: p + m[0].length, period: r.period };
  }

  m = matchAt(WEEKDAY_RE, s, p);
  if (m) {
    const wd = WEEKDAY_CHARS[m[2]] ?? Number(m[2]);
    const prefix = m[1]?.[0];
    const week = prefix === "下" ? "following" : prefix === "上" ? "previous" : prefix ? "this" : "next";
    return { spec: { kind: "weekday", wd, week }, end: p + m[0].length };
  }
  return undefined;
}

/** The calendar day (naive ms) of a spec that does not depend on the clock; undefined for "next 周X". */
function fixedDay(spec: DaySpec, today: ChinaParts): number | undefined {
  if (spec.kind === "date") return spec.naiveDay;
  if (spec.kind === "offset") return today.naiveDay + spec.days * DAY_MS;
  if (spec.week === "next") return undefined;
  const isoToday = today.wd === 0 ? 7 : today.wd;
  const monday = today.naiveDay - (isoToday - 1) * DAY_MS;
  const weeks = spec.week === "following" ? 1 : spec.week === "previous" ? -1 : 0;
  return monday + (weeks * 7 + spec.wd - 1) * DAY_MS;
}

// ---------------------------------------------------------------- clock part

interface ClockMatch {
  hour: number; // as written
  minute: number;
  second: number;
  end: number;
}

const COLON_RE = /(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)/y;
const HOUR_RE = new RegExp(`${NUM}[点时]`, "y");
const HALF_RE = /半/y;
const QUARTER_RE = /([一1三3])刻/y;
const ARABIC_MIN_RE = /(\d{1,2})(?!\d)分?/y;
// A lone Chinese digit after 点 is only a minute with 分 ("七点五分"), so "七点三会一课" is not 7:03.
const ZH_MIN_WITH_FEN_RE = new RegExp(`([${ZH_CHARS}]{1,4})分`, "y");
const ZH_MIN_RE = /([二三四五]?十[一二三四五六七八九]?|[零〇][一二三四五六七八九])/y;
const OCLOCK_RE = /钟?整?/y;

function readClock(s: string, p: number): ClockMatch | undefined {
  let m = matchAt(COLON_RE, s, p);
  if (m) {
    return { hour: Number(m[1]), minute: Number(m[2]), second: m[3] ? Number(m[3]) : 0, end: p + m[0].length };
  }
  m = matchAt(HOUR_RE, s, p);
  if (!m) return undefined;
  const hour = zhNum(m[1]);
  if (hour === undefined) return undefined;
  const q = p + m[0].length;
  if ((m = matchAt(HALF_RE, s, q))) return { hour, minute: 30, second: 0, end: q + m[0].length };
  if ((m = matchAt(QUARTER_RE, s, q))) return { hour, minute: "一1".includes(m[1]) ? 15 : 45, second: 0, end: q + m[0].length };
  for (const re of [ARABIC_MIN_RE, ZH_MIN_WITH_FEN_RE, ZH_MIN_RE]) {
    m = matchAt(re, s, q);
    const minute = m ? zhNum(m[1]) : undefined;
    if (m && minute !== undefined) return { hour, minute, second: 0, end: q + m[0].length };
  }
  m = matchAt(OCLOCK_RE, s, q);
  return { hour, minute: 0, second: 0, end: q + (m ? m[0].length : 0) };
}

// ---------------------------------------------------------------- parsing

/**
 * Parses a time at the start of `text`. Returns undefined when the text does not start with anything time-like.
 * Throws AppError 400 "TIME_INVALID" for things that look like a time but are impossible (2月30日, 25:00, 0月,
 * a weekday that does not match the date), and "TIME_HOUR_MISSING" when a day (or 晚上 etc.) is given without
 * the hour.
 *
 * Rules: a month/day without a year is this year's unless it is more than half a year ago (then next year's);
 * "28号" is this month's unless more than half a month ago; a bare clock time is today if still ahead, else
 * tomorrow; 周X is the next one on or after today (next week if today's has passed); 本周X/这周X and 下周X use
 * Monday-based weeks; 晚上12点 is midnight at the end of that day; 7点 without a word is 07:00.
 */
export function parseTimePrefix(text: string, now: Date): ParsedTime | undefined {
  const s = normalize(text);
  const start = s.length - s.trimStart().length;
  const today = chinaParts(now);

  const day = readDay(s, text, start, today);
  let p = day ? day.end : start;
  let partEnd = p; // end of what we have recognised so far, for the "no hour" message
  let period = day?.period;

  const fixed = day ? fixedDay(day.spec, today) : undefined;
  if (day && day.spec.kind !== "weekday") {
    const note = matchAt(WEEKDAY_NOTE_RE, s, p);
    if (note && fixed !== undefined) {
      const wanted = WEEKDAY_CHARS[note[1]] % 7;
      const actual = new Date(fixed).getUTCDay();
      if (wanted !== actual) {
        throw invalid(
          `日期和星期对不上：“${text.slice(start, p)}”是${WEEKDAY_ZH[actual]}，不是${WEEKDAY_ZH[wanted]}。请核对后重新发送`,
        );
      }
      p += note[0].length;
      partEnd = p;
    }
  }

  if (day) p += matchAt(/T(?=\d)|\s*/y, s, p)![0].length;
  const periodMatch = matchAt(PERIOD_RE, s, p);
  if (periodMatch) {
    period = PERIOD_WORDS[periodMatch[1]];
    p += periodMatch[0].length;
    if (periodMatch[1].length > 1) partEnd = p;
    p += matchAt(/\s*/y, s, p)![0].length;
  }

  const clock = readClock(s, p);
  if (!clock) {
    if (day || (periodMatch && periodMatch[1].length > 1)) throw hourMissing(text.slice(start, partEnd));
    return undefined;
  }
  const end = clock.end;
  const source = text.slice(start, end);
  const clockSource = text.slice(p, end);
  if (clock.hour > 23) throw invalid(`时间“${clockSource}”不存在（小时应为0–23），请核对后重新发送，例如：19:30`);
  if (clock.minute > 59 || clock.second > 59) {
    throw invalid(`时间“${clockSource}”不存在（分钟应为0–59），请核对后重新发送，例如：19:30`);
  }
  const hour = applyPeriod(clock.hour, period);
  const offsetMs = ((hour * 60 + clock.minute) * 60 + clock.second) * 1000 - CHINA_OFFSET_MS;

  let at: number;
  if (fixed !== undefined) {
    at = fixed + offsetMs;
  } else if (day && day.spec.kind === "weekday") {
    // Next occurrence on or after today; today's if still ahead, otherwise a week later.
    const isoToday = today.wd === 0 ? 7 : today.wd;
    at = today.naiveDay + ((day.spec.wd - isoToday + 7) % 7) * DAY_MS + offsetMs;
    if (at <= now.getTime()) at += 7 * DAY_MS;
  } else {
    // No day: today if still ahead, otherwise tomorrow.
    at = today.naiveDay + offsetMs;
    if (at <= now.getTime()) at += DAY_MS;
  }

  const atDate = new Date(at);
  const rest = text.slice(end).replace(/^[\s,，、;；:：]+/, "").trim();
  return { at: atDate, rest, understood: formatZhDateTime(atDate, now), source };
}

/**
 * Like parseTimePrefix but the result must be in the future (strictly after `now`, allowing 1 minute of slack).
 * Throws TIME_UNPARSEABLE when no time was found at the start and TIME_IN_PAST (quoting what was understood) when
 * the time has passed; TIME_INVALID and TIME_HOUR_MISSING come from parseTimePrefix.
 */
export function parseFutureTime(text: string, now: Date): ParsedTime {
  const parsed = parseTimePrefix(text, now);
  if (!parsed) {
    const t = text.trim();
    if (!t) throw new AppError("TIME_UNPARSEABLE", `请先写上时间，例如：${EXAMPLES}`);
    const snippet = t.length > 12 ? `${t.slice(0, 12)}…` : t;
    throw new AppError("TIME_UNPARSEABLE", `没看懂“${snippet}”开头的时间。请把时间写在最前面，例如：${EXAMPLES}`);
  }
  if (parsed.at.getTime() <= now.getTime() - PAST_SLACK_MS) {
    throw new AppError("TIME_IN_PAST", `时间“${parsed.source}”理解为 ${parsed.understood}，已经过去了。请写一个将来的时间，例如：明天19:30`);
  }
  return parsed;
}
