// The Chinese date-time parser behind "发布学习 <时间> <主题> …": every format a secretary is likely to type, the
// interpretation rules (this year / next year, today / tomorrow, 周X / 下周X), and the errors people see.
import { describe, expect, test } from "@jest/globals";
import { AppError } from "../core/kernel/errors.ts";
import {
  CHINA_OFFSET_MS,
  chinaDayStart,
  formatZhDateTime,
  formatZhTime,
  parseFutureTime,
  parseTimePrefix,
} from "../core/meetings/time.ts";

/** 2026-11-25, a Wednesday, 10:00 China time. */
const NOW = new Date("2026-11-25T02:00:00.000Z");
/** 2026-12-30, a Wednesday, 10:00 China time: near the year end. */
const DEC30 = new Date("2026-12-30T02:00:00.000Z");

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("expected an AppError, nothing was thrown");
}

test("CHINA_OFFSET_MS is eight hours", () => {
  expect(CHINA_OFFSET_MS).toBe(8 * 3600 * 1000);
});

describe("parseTimePrefix: formats (now = 2026-11-25 周三 10:00)", () => {
  test.each([
    // absolute with year
    ["2026-11-28 19:30", "2026-11-28T11:30:00.000Z"],
    ["2026/11/28 19:30", "2026-11-28T11:30:00.000Z"],
    ["2026-11-28T19:30", "2026-11-28T11:30:00.000Z"],
    ["2026.11.28 19:30", "2026-11-28T11:30:00.000Z"],
    ["2026年11月28日19:30", "2026-11-28T11:30:00.000Z"],
    ["2026年11月28日 19点30分", "2026-11-28T11:30:00.000Z"],
    ["2027-01-03 09:00", "2027-01-03T01:00:00.000Z"],
    // month/day without year
    ["11月28日 晚上7点半", "2026-11-28T11:30:00.000Z"],
    ["11月28日19:30", "2026-11-28T11:30:00.000Z"],
    ["11月28号 19:30", "2026-11-28T11:30:00.000Z"],
    ["11月28 19:30", "2026-11-28T11:30:00.000Z"],
    ["11-28 19:30", "2026-11-28T11:30:00.000Z"],
    ["11/28 19:30", "2026-11-28T11:30:00.000Z"],
    ["十一月二十八日 十九点三十分", "2026-11-28T11:30:00.000Z"],
    ["十一月二十八号晚上七点半", "2026-11-28T11:30:00.000Z"],
    ["11月28日（周六）19:30", "2026-11-28T11:30:00.000Z"],
    ["11月28日(星期六) 晚上7点半", "2026-11-28T11:30:00.000Z"],
    ["12月1日早上8:30", "2026-12-01T00:30:00.000Z"],
    // day of month only: this month, or next month when long past
    ["28号晚上7点", "2026-11-28T11:00:00.000Z"],
    ["二十八日 19:30", "2026-11-28T11:30:00.000Z"],
    ["3号 9:00", "2026-12-03T01:00:00.000Z"],
    // relative days
    ["明天19:30", "2026-11-26T11:30:00.000Z"],
    ["明天 19:30", "2026-11-26T11:30:00.000Z"],
    ["明日19:30", "2026-11-26T11:30:00.000Z"],
    ["明晚7点", "2026-11-26T11:00:00.000Z"],
    ["明早8点", "2026-11-26T00:00:00.000Z"],
    ["今晚8点", "2026-11-25T12:00:00.000Z"],
    ["今晚上8点", "2026-11-25T12:00:00.000Z"],
    ["今天下午3点", "2026-11-25T07:00:00.000Z"],
    ["今天 下午 3点", "2026-11-25T07:00:00.000Z"],
    ["后天上午9点半", "2026-11-27T01:30:00.000Z"],
    ["大后天 14:00", "2026-11-28T06:00:00.000Z"],
    ["明天晚上7点一刻", "2026-11-26T11:15:00.000Z"],
    ["明天凌晨2点", "2026-11-25T18:00:00.000Z"],
    ["明天傍晚6点", "2026-11-26T10:00:00.000Z"],
    // weekdays (today is Wednesday)
    ["周五 19:30", "2026-11-27T11:30:00.000Z"],
    ["星期五19:30", "2026-11-27T11:30:00.000Z"],
    ["礼拜五 晚上7点", "2026-11-27T11:00:00.000Z"],
    ["本周五 19:30", "2026-11-27T11:30:00.000Z"],
    ["这周五19:30", "2026-11-27T11:30:00.000Z"],
    ["这个星期五 19:30", "2026-11-27T11:30:00.000Z"],
    ["下周一 9:00", "2026-11-30T01:00:00.000Z"],
    ["下个礼拜一 9:00", "2026-11-30T01:00:00.000Z"],
    ["下周三 19:30", "2026-12-02T11:30:00.000Z"],
    ["下周日上午10点", "2026-12-06T02:00:00.000Z"],
    ["周日 9:00", "2026-11-29T01:00:00.000Z"],
    ["周天 9:00", "2026-11-29T01:00:00.000Z"],
    ["星期天 9:00", "2026-11-29T01:00:00.000Z"],
    ["星期日 9:00", "2026-11-29T01:00:00.000Z"],
    ["这周日 9:00", "2026-11-29T01:00:00.000Z"],
    ["周三 19:30", "2026-11-25T11:30:00.000Z"], // today, still ahead
    ["周三 9:00", "2026-12-02T01:00:00.000Z"], // today, already passed: next week
    ["本周三 9:00", "2026-11-25T01:00:00.000Z"], // explicitly this week: today (past, see parseFutureTime)
    ["本周一 9:00", "2026-11-23T01:00:00.000Z"],
    // clock only: today if still ahead, otherwise tomorrow
    ["19:30", "2026-11-25T11:30:00.000Z"],
    ["19：30", "2026-11-25T11:30:00.000Z"],
    ["１９：３０", "2026-11-25T11:30:00.000Z"],
    ["9:00", "2026-11-26T01:00:00.000Z"],
    ["10:00", "2026-11-26T02:00:00.000Z"], // exactly now is not "still ahead"
    ["晚上7点", "2026-11-25T11:00:00.000Z"],
    ["晚7点", "2026-11-25T11:00:00.000Z"],
    ["早上7点", "2026-11-25T23:00:00.000Z"],
    ["7点", "2026-11-25T23:00:00.000Z"],
    ["7点钟", "2026-11-25T23:00:00.000Z"],
    ["7点整", "2026-11-25T23:00:00.000Z"],
    ["7点半", "2026-11-25T23:30:00.000Z"],
    ["7点30", "2026-11-25T23:30:00.000Z"],
    ["7点30分", "2026-11-25T23:30:00.000Z"],
    ["7点5分", "2026-11-25T23:05:00.000Z"],
    ["7点一刻", "2026-11-25T23:15:00.000Z"],
    ["7点三刻", "2026-11-25T23:45:00.000Z"],
    ["七点半", "2026-11-25T23:30:00.000Z"],
    ["七点零五", "2026-11-25T23:05:00.000Z"],
    ["七点五分", "2026-11-25T23:05:00.000Z"],
    ["七点五十九分", "2026-11-25T23:59:00.000Z"],
    ["十九点", "2026-11-25T11:00:00.000Z"],
    ["十九时三十分", "2026-11-25T11:30:00.000Z"],
    ["晚上八点", "2026-11-25T12:00:00.000Z"],
    ["两点", "2026-11-25T18:00:00.000Z"],
    ["下午两点", "2026-11-25T06:00:00.000Z"],
    ["下午15点", "2026-11-25T07:00:00.000Z"], // 下午 with a 24-hour clock: kept
    ["中午12点", "2026-11-25T04:00:00.000Z"],
    ["中午12点半", "2026-11-25T04:30:00.000Z"],
    ["中午1点", "2026-11-25T05:00:00.000Z"],
    ["凌晨5点", "2026-11-25T21:00:00.000Z"],
    ["凌晨12点", "2026-11-25T16:00:00.000Z"],
    ["晚上12点", "2026-11-25T16:00:00.000Z"], // midnight at the end of today
    ["明晚12点", "2026-11-26T16:00:00.000Z"], // midnight at the end of tomorrow
    ["0:30", "2026-11-25T16:30:00.000Z"],
  ])("%s → %s", (text, iso) => {
    const r = parseTimePrefix(text, NOW);
    expect(r?.at.toISOString()).toBe(iso);
  });
});

describe("parseTimePrefix: source, rest and understood", () => {
  test.each([
    ["明天19:30学习党章", "明天19:30", "学习党章"],
    ["明天19:30 学习党章 村委会", "明天19:30", "学习党章 村委会"],
    ["11月28日 晚上7点半 学习党章 村委会", "11月28日 晚上7点半", "学习党章 村委会"],
    ["明天19:30，学习党章", "明天19:30", "学习党章"],
    ["  明天 19:30   学习党章  ", "明天 19:30", "学习党章"],
    ["１９：３０ 学习", "１９：３０", "学习"],
    ["七点三会一课", "七点", "三会一课"], // a lone Chinese digit after 点 is not a minute
    ["7点钟开会", "7点钟", "开会"],
    ["2026-11-28T19:30 党课", "2026-11-28T19:30", "党课"],
    ["19:30", "19:30", ""],
  ])("%s", (text, source, rest) => {
    const r = parseTimePrefix(text, NOW)!;
    expect(r.source).toBe(source);
    expect(r.rest).toBe(rest);
  });

  test("understood is formatted in China time", () => {
    expect(parseTimePrefix("11月28日 晚上7点半 学习党章", NOW)!.understood).toBe("11月28日（周六）19:30");
    expect(parseTimePrefix("晚上12点", NOW)!.understood).toBe("11月26日（周四）00:00");
  });

  test.each([["学习党章 明天"], [""], ["   "], ["三会一课"], ["二十大精神"], ["晚会筹备"], ["2026年度总结"], ["12月学习计划"], ["3楼会议室"]])(
    "%j is not a time → undefined",
    (text) => {
      expect(parseTimePrefix(text, NOW)).toBeUndefined();
    },
  );
});

describe("year and month rollover", () => {
  test.each([
    // on 2026-12-30 (Wednesday)
    ["1月3日 9:00", "2027-01-03T01:00:00.000Z", "2027年1月3日（周日）09:00"],
    ["1/3 9:00", "2027-01-03T01:00:00.000Z", "2027年1月3日（周日）09:00"],
    ["12月31日 19:30", "2026-12-31T11:30:00.000Z", "12月31日（周四）19:30"],
    ["12月29日 19:30", "2026-12-29T11:30:00.000Z", "12月29日（周二）19:30"], // yesterday: this year (past)
    ["明天19:30", "2026-12-31T11:30:00.000Z", "12月31日（周四）19:30"],
    ["后天 9:00", "2027-01-01T01:00:00.000Z", "2027年1月1日（周五）09:00"],
    ["下周一 9:00", "2027-01-04T01:00:00.000Z", "2027年1月4日（周一）09:00"],
    ["周五 晚上7点", "2027-01-01T11:00:00.000Z", "2027年1月1日（周五）19:00"],
    ["5号 9:00", "2027-01-05T01:00:00.000Z", "2027年1月5日（周二）09:00"],
    ["2028年2月29日 9:00", "2028-02-29T01:00:00.000Z", "2028年2月29日（周二）09:00"],
    ["晚上12点", "2026-12-30T16:00:00.000Z", "12月31日（周四）00:00"],
  ])("%s", (text, iso, understood) => {
    const r = parseTimePrefix(text, DEC30)!;
    expect(r.at.toISOString()).toBe(iso);
    expect(r.understood).toBe(understood);
  });

  test("a recent past month/day stays this year (so it is reported as past, not moved a year ahead)", () => {
    expect(parseTimePrefix("11月20日 19:30", NOW)!.at.toISOString()).toBe("2026-11-20T11:30:00.000Z");
  });

  test("2月29日 in a year that has none is invalid, naming the year", () => {
    const e = thrown(() => parseTimePrefix("2月29日 9:00", DEC30));
    expect(e.code).toBe("TIME_INVALID");
    expect(e.message).toContain("2027年2月只有28天");
  });
});

describe("parseTimePrefix: errors", () => {
  test.each([
    ["2月30日 19:00", "2月只有28天"],
    ["2026-02-30 19:00", "2026年2月只有28天"],
    ["11月31日 9:00", "11月只有30天"],
    ["0月3日 9:00", "月份应为1–12"],
    ["13月1日 9:00", "月份应为1–12"],
    ["32号 9:00", "32号"],
    ["31号 9:00", "11月只有30天"],
    ["25:00", "小时应为0–23"],
    ["24:00", "小时应为0–23"],
    ["明天25点", "小时应为0–23"],
    ["19:60", "分钟应为0–59"],
    ["7点60分", "分钟应为0–59"],
    ["11月28日（周五）19:30", "“11月28日”是周六，不是周五"],
    ["明天（周五）19:30", "“明天”是周四，不是周五"],
  ])("%s → TIME_INVALID", (text, fragment) => {
    const e = thrown(() => parseTimePrefix(text, NOW));
    expect(e.status).toBe(400);
    expect(e.code).toBe("TIME_INVALID");
    expect(e.message).toContain(fragment);
  });

  test.each([
    ["明天", "明天"],
    ["明天 学习党章", "明天"],
    ["11月28日", "11月28日"],
    ["11月28日 学习党章", "11月28日"],
    ["2026-11-28", "2026-11-28"],
    ["周五", "周五"],
    ["下周一 学习", "下周一"],
    ["明天晚上 学习", "明天晚上"],
    ["明晚", "明晚"],
    ["晚上", "晚上"],
  ])("%s (a day without the hour) → TIME_HOUR_MISSING", (text, quoted) => {
    const e = thrown(() => parseTimePrefix(text, NOW));
    expect(e.status).toBe(400);
    expect(e.code).toBe("TIME_HOUR_MISSING");
    expect(e.message).toContain(`“${quoted}”`);
    expect(e.message).toContain("请写上具体时间，例如：明天19:30");
  });
});

describe("parseFutureTime", () => {
  test("a future time is returned as parsed", () => {
    const r = parseFutureTime("明天19:30 学习党章 村委会", NOW);
    expect(r.at.toISOString()).toBe("2026-11-26T11:30:00.000Z");
    expect(r.rest).toBe("学习党章 村委会");
    expect(r.understood).toBe("11月26日（周四）19:30");
  });

  test("allows one minute of slack, not more", () => {
    expect(parseFutureTime("今天10:00", NOW).at.toISOString()).toBe("2026-11-25T02:00:00.000Z");
    expect(parseFutureTime("今天10:00", new Date(NOW.getTime() + 59_000)).at.toISOString()).toBe("2026-11-25T02:00:00.000Z");
    expect(thrown(() => parseFutureTime("今天9:59", NOW)).code).toBe("TIME_IN_PAST");
  });

  test.each([
    ["2026-11-20 19:30", NOW, "理解为 11月20日（周五）19:30，已经过去了"],
    ["2025-11-28 19:30", NOW, "理解为 2025年11月28日（周五）19:30，已经过去了"],
    ["11月20日 19:30", NOW, "理解为 11月20日（周五）19:30，已经过去了"],
    ["本周一 19:30", NOW, "理解为 11月23日（周一）19:30，已经过去了"],
    ["今天上午9点", NOW, "理解为 11月25日（周三）09:00，已经过去了"],
    ["昨天19:30", NOW, "理解为 11月24日（周二）19:30，已经过去了"],
    ["12月29日 19:30", DEC30, "理解为 12月29日（周二）19:30，已经过去了"],
  ])("%s → TIME_IN_PAST quoting what was understood", (text, now, fragment) => {
    const e = thrown(() => parseFutureTime(text, now));
    expect(e.status).toBe(400);
    expect(e.code).toBe("TIME_IN_PAST");
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(`“${text}”`);
  });

  test.each([["学习党章 明天"], ["下个月开会"], [""]])("%j → TIME_UNPARSEABLE with examples", (text) => {
    const e = thrown(() => parseFutureTime(text, NOW));
    expect(e.status).toBe(400);
    expect(e.code).toBe("TIME_UNPARSEABLE");
    expect(e.message).toContain("明天19:30");
    expect(e.message).toContain("11月28日 晚上7点半");
    if (text) expect(e.message).toContain(`“${text}”`);
  });

  test("errors from parseTimePrefix pass through", () => {
    expect(thrown(() => parseFutureTime("明天", NOW)).code).toBe("TIME_HOUR_MISSING");
    expect(thrown(() => parseFutureTime("2月30日 19:00", NOW)).code).toBe("TIME_INVALID");
  });
});

describe("formatting", () => {
  test.each([
    ["2026-11-28T11:30:00.000Z", NOW, "11月28日（周六）19:30"],
    ["2027-01-03T01:00:00.000Z", NOW, "2027年1月3日（周日）09:00"],
    ["2026-11-25T16:00:00.000Z", NOW, "11月26日（周四）00:00"], // UTC day is still the 25th
    ["2026-12-31T16:30:00.000Z", DEC30, "2027年1月1日（周五）00:30"],
    ["2026-12-31T15:59:00.000Z", DEC30, "12月31日（周四）23:59"],
    // now in China is already 2027 while UTC is still 2026
    ["2027-01-02T01:00:00.000Z", new Date("2026-12-31T17:00:00.000Z"), "1月2日（周六）09:00"],
  ])("formatZhDateTime(%s)", (iso, now, expected) => {
    expect(formatZhDateTime(new Date(iso), now)).toBe(expected);
  });

  test("formatZhTime pads and uses China time", () => {
    expect(formatZhTime(new Date("2026-11-28T11:30:00.000Z"))).toBe("19:30");
    expect(formatZhTime(new Date("2026-11-25T01:05:00.000Z"))).toBe("09:05");
    expect(formatZhTime(new Date("2026-11-25T16:00:00.000Z"))).toBe("00:00");
  });

  test("chinaDayStart is China midnight", () => {
    expect(chinaDayStart(new Date("2026-11-25T02:00:00.000Z")).toISOString()).toBe("2026-11-24T16:00:00.000Z");
    expect(chinaDayStart(new Date("2026-11-25T17:00:00.000Z")).toISOString()).toBe("2026-11-25T16:00:00.000Z");
    expect(chinaDayStart(new Date("2026-11-24T16:00:00.000Z")).toISOString()).toBe("2026-11-24T16:00:00.000Z");
    expect(chinaDayStart(new Date("2026-11-24T15:59:59.999Z")).toISOString()).toBe("2026-11-23T16:00:00.000Z");
  });
});
