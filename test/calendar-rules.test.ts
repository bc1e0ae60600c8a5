// The 三会一课 rules engine over a whole year, for branches with varied histories. Pure: no database.
import { describe, expect, test } from "@jest/globals";
import { chinaDate, monthPeriod, parsePeriodKey, periodOf, periodsWithin, previousPeriod, quarterPeriod } from "../core/calendar/periods.ts";
import {
  applyRulesPatch,
  complianceRate,
  DEFAULT_RULES,
  dueReminderAt,
  evaluateBranch,
  rulesPatchSchema,
  type BranchFacts,
  type MeetingFact,
  type Obligation,
} from "../core/calendar/rules.ts";

const YEAR = parsePeriodKey("2026-Q1")!;
const year2026 = { start: YEAR.start, end: chinaDate(2027, 1) };
const endOfYear = chinaDate(2027, 1, 5);

let nextId = 1;
/** A meeting at local (Shanghai) time; HELD with `present` members unless said otherwise. */
function meeting(type: MeetingFact["type"], month: number, day: number, opts: Partial<MeetingFact> & { hour?: number; minute?: number } = {}): MeetingFact {
  const { hour = 19, minute = 30, ...rest } = opts;
  return { id: nextId++, type, orgUnitId: 100, plannedAt: chinaDate(2026, month, day, hour, minute), status: "HELD", finalizedAt: chinaDate(2026, month, day, 23), present: 15, ...rest };
}

function branch(meetings: MeetingFact[], extra: Partial<BranchFacts> = {}): BranchFacts {
  return { branchId: 100, memberCount: 20, partyGroups: [{ id: 101, name: "第一党小组" }, { id: 102, name: "第二党小组" }], themeDay: null, override: null, meetings, ...extra };
}

/** Every month: 支委会, a joint 党小组会 (on the branch itself), 主题党日; every quarter: 党员大会 with quorum and 党课. */
function exemplary(): MeetingFact[] {
  const out: MeetingFact[] = [];
  for (let m = 1; m <= 12; m++) {
    out.push(meeting("COMMITTEE", m, 5), meeting("PARTY_GROUP", m, 8), meeting("THEME_DAY", m, 10));
    if (m % 3 === 1) out.push(meeting("MEMBER_CONGRESS", m, 20, { present: 10 }), meeting("PARTY_LECTURE", m, 20, { hour: 21 }));
  }
  return out;
}

const states = (obs: Obligation[], filter: (o: Obligation) => boolean) => obs.filter(filter).map((o) => `${o.period.key}:${o.state}`);

describe("periods on the Shanghai clock", () => {
  test("months and quarters start at local midnight; keys parse back", () => {
    expect(monthPeriod(2026, 11).start.toISOString()).toBe("2026-10-31T16:00:00.000Z");
    expect(monthPeriod(2026, 12).end.toISOString()).toBe("2026-12-31T16:00:00.000Z");
    expect(quarterPeriod(2026, 4)).toMatchObject({ key: "2026-Q4", label: "2026年第四季度" });
    // 23:59 on 31 Dec in Shanghai is still 2026; one minute later it is 2027-Q1.
    expect(periodOf("quarter", new Date("2026-12-31T15:59:00Z")).key).toBe("2026-Q4");
    expect(periodOf("quarter", new Date("2026-12-31T16:00:00Z")).key).toBe("2027-Q1");
    expect(previousPeriod(monthPeriod(2026, 1)).key).toBe("2025-12");
    expect(parsePeriodKey("2026-11")?.label).toBe("2026年11月");
    for (const bad of ["2026-13", "2026-Q5", "26-11", "2026-1", "明天", ""]) expect(parsePeriodKey(bad)).toBeUndefined();
    expect(periodsWithin("month", quarterPeriod(2026, 2)).map((p) => p.key)).toEqual(["2026-04", "2026-05", "2026-06"]);
    expect(periodsWithin("quarter", monthPeriod(2026, 5)).map((p) => p.key)).toEqual(["2026-Q2"]);
  });

  test("the due reminder fires N days before a period ends, at the local hour", () => {
    // November ends 1 Dec 00:00 local; 7 days before is 24 Nov; 09:00 local is 01:00 UTC.
    expect(dueReminderAt(monthPeriod(2026, 11), 7, 9).toISOString()).toBe("2026-11-24T01:00:00.000Z");
    expect(dueReminderAt(quarterPeriod(2026, 4), 7, 9).toISOString()).toBe("2026-12-25T01:00:00.000Z");
  });
});

describe("a year of obligations", () => {
  test("an exemplary branch keeps everything: 12×(支委会, 2 党小组, 主题党日) + 4×(党员大会, 党课), all HELD", () => {
    const obs = evaluateBranch(branch(exemplary()), DEFAULT_RULES, year2026, endOfYear);
    expect(obs).toHaveLength(12 * 4 + 4 * 2);
    expect(obs.filter((o) => o.state !== "HELD")).toEqual([]);
    expect(complianceRate(obs)).toBe(1);
    // A joint 党小组会 on the branch counts for each of its party groups.
    expect(obs.filter((o) => o.type === "PARTY_GROUP" && o.period.key === "2026-03").map((o) => o.partyGroupName)).toEqual(["第一党小组", "第二党小组"]);
  });

  test("a 党员大会 without quorum does not count: the quarter is overdue and the meeting is named with the reason", () => {
    const ms = exemplary().filter((m) => !(m.type === "MEMBER_CONGRESS" && m.plannedAt.getTime() === chinaDate(2026, 4, 20, 19, 30).getTime()));
    const thin = meeting("MEMBER_CONGRESS", 5, 12, { present: 9 }); // 9 of 20 < half
    const obs = evaluateBranch(branch([...ms, thin]), DEFAULT_RULES, year2026, endOfYear);
    const q2 = obs.find((o) => o.type === "MEMBER_CONGRESS" && o.period.key === "2026-Q2")!;
    expect(q2).toMatchObject({ state: "OVERDUE", heldMeetingIds: [], notCounted: [{ id: thin.id, reason: "NO_QUORUM" }], attentionNeeded: true });
    // Exactly half is a quorum.
    const half = evaluateBranch(branch([...ms, meeting("MEMBER_CONGRESS", 5, 12, { present: 10 })]), DEFAULT_RULES, year2026, endOfYear);
    expect(half.find((o) => o.type === "MEMBER_CONGRESS" && o.period.key === "2026-Q2")!.state).toBe("HELD");
    // Only 党员大会 has a quorum: a 支委会 with 2 people present counts.
    expect(states(obs, (o) => o.type === "COMMITTEE").every((s) => s.endsWith("HELD"))).toBe(true);
    expect(complianceRate(obs)).toBeCloseTo(55 / 56, 4);
  });

  test("a party group that never meets is overdue every month while the other group is kept", () => {
    const ms = exemplary().filter((m) => m.type !== "PARTY_GROUP");
    for (let m = 1; m <= 12; m++) ms.push(meeting("PARTY_GROUP", m, 9, { orgUnitId: 101 }));
    const obs = evaluateBranch(branch(ms), DEFAULT_RULES, year2026, endOfYear);
    expect(obs.filter((o) => o.partyGroupId === 101).every((o) => o.state === "HELD")).toBe(true);
    const silent = obs.filter((o) => o.partyGroupId === 102);
    expect(silent).toHaveLength(12);
    expect(silent.every((o) => o.state === "OVERDUE" && o.partyGroupName === "第二党小组")).toBe(true);
  });

  test("a branch without party groups owes no 党小组会", () => {
    const obs = evaluateBranch(branch(exemplary(), { partyGroups: [] }), DEFAULT_RULES, year2026, endOfYear);
    expect(obs.filter((o) => o.type === "PARTY_GROUP")).toEqual([]);
  });

  test("a branch that held nothing: every obligation of the year overdue; cancelled and unattended meetings do not count", () => {
    const ms = [
      meeting("COMMITTEE", 3, 3, { status: "CANCELLED", finalizedAt: null }),
      meeting("COMMITTEE", 4, 3, { status: "PLANNED", present: 0 }), // window closed, nobody checked in
      meeting("STUDY", 5, 5), // 学习 is not one of 三会一课
    ];
    const obs = evaluateBranch(branch(ms), DEFAULT_RULES, year2026, endOfYear);
    expect(obs.every((o) => o.state === "OVERDUE")).toBe(true);
    expect(obs.find((o) => o.type === "COMMITTEE" && o.period.key === "2026-04")!.notCounted).toEqual([{ id: ms[1].id, reason: "NO_ATTENDANCE" }]);
    expect(obs.find((o) => o.type === "COMMITTEE" && o.period.key === "2026-03")!.notCounted).toEqual([]);
    expect(complianceRate(obs)).toBe(0);
  });

  test("meetings count for the local month they were held in, not the UTC one", () => {
    // 23:30 on 31 March in Shanghai is 15:30 UTC the same day; 00:10 on 1 April is 16:10 UTC on 31 March.
    const lateMarch = meeting("COMMITTEE", 3, 31, { hour: 23, minute: 30 });
    const earlyApril = meeting("COMMITTEE", 4, 1, { hour: 0, minute: 10 });
    expect(earlyApril.plannedAt.toISOString()).toBe("2026-03-31T16:10:00.000Z");
    const obs = evaluateBranch(branch([lateMarch, earlyApril]), DEFAULT_RULES, year2026, endOfYear);
    expect(obs.find((o) => o.type === "COMMITTEE" && o.period.key === "2026-03")!.heldMeetingIds).toEqual([lateMarch.id]);
    expect(obs.find((o) => o.type === "COMMITTEE" && o.period.key === "2026-04")!.heldMeetingIds).toEqual([earlyApril.id]);
  });

  test("as the year goes by: upcoming, due, due soon (attention), planned, held, overdue", () => {
    const planned = meeting("COMMITTEE", 11, 27, { status: "PLANNED", finalizedAt: null, present: 0 });
    const f = branch([planned, meeting("THEME_DAY", 11, 10)]);
    const nov = monthPeriod(2026, 11);
    const at = (month: number, day: number, hour = 12) => chinaDate(2026, month, day, hour);
    const one = (when: Date, type: Obligation["type"], key = "2026-11") => evaluateBranch(f, DEFAULT_RULES, nov, when).find((o) => o.type === type && o.period.key === key && (o.partyGroupId ?? 101) === 101)!;
    expect(one(at(10, 20), "COMMITTEE").state).toBe("PLANNED"); // planned before the month even started
    expect(one(at(10, 20), "PARTY_GROUP")).toMatchObject({ state: "UPCOMING", attentionNeeded: false });
    expect(one(at(11, 2), "PARTY_GROUP")).toMatchObject({ state: "DUE", attentionNeeded: false });
    expect(one(at(11, 24, 0), "PARTY_GROUP")).toMatchObject({ state: "DUE", attentionNeeded: true }); // 7 days before the end
    expect(one(at(11, 23, 23), "PARTY_GROUP").attentionNeeded).toBe(false);
    expect(one(at(11, 24), "COMMITTEE")).toMatchObject({ state: "PLANNED", attentionNeeded: false });
    expect(one(at(11, 12), "THEME_DAY")).toMatchObject({ state: "HELD", fixedDay: chinaDate(2026, 11, 10) });
    expect(one(at(12, 1, 0), "PARTY_GROUP").state).toBe("OVERDUE");
    // The planned 支委会 whose window closed with nobody checked in is overdue once the month is over.
    const after = evaluateBranch({ ...f, meetings: [{ ...planned, finalizedAt: at(11, 27, 21) }] }, DEFAULT_RULES, nov, at(12, 1, 9));
    expect(after.find((o) => o.type === "COMMITTEE")).toMatchObject({ state: "OVERDUE", notCounted: [{ id: planned.id, reason: "NO_ATTENDANCE" }] });
    // A month's span also shows the quarter's obligations.
    expect(evaluateBranch(f, DEFAULT_RULES, nov, at(11, 2)).filter((o) => o.period.kind === "quarter").map((o) => `${o.type}:${o.period.key}`)).toEqual([
      "MEMBER_CONGRESS:2026-Q4",
      "PARTY_LECTURE:2026-Q4",
    ]);
  });
});

describe("county rules and branch overrides", () => {
  test("a branch override drops a type, asks for more, moves its 主题党日, and other branches keep the county's rules", () => {
    const override = rulesPatchSchema.parse({ types: { COMMITTEE: null, PARTY_LECTURE: { count: 2 } } });
    const ms = exemplary();
    const obs = evaluateBranch(branch(ms, { override, themeDay: 15 }), DEFAULT_RULES, year2026, endOfYear);
    expect(obs.filter((o) => o.type === "COMMITTEE")).toEqual([]);
    const lectures = obs.filter((o) => o.type === "PARTY_LECTURE");
    expect(lectures.every((o) => o.required === 2 && o.state === "OVERDUE")).toBe(true); // one per quarter is not enough now
    expect(obs.find((o) => o.type === "THEME_DAY")!.fixedDay).toEqual(chinaDate(2026, 1, 15));
    const plain = evaluateBranch(branch(ms), DEFAULT_RULES, year2026, endOfYear);
    expect(plain.filter((o) => o.type === "COMMITTEE")).toHaveLength(12);
    expect(plain.find((o) => o.type === "THEME_DAY")!.fixedDay).toEqual(chinaDate(2026, 1, 10));
  });

  test("the county can make 党课 monthly and change the reminder lead time", () => {
    const county = applyRulesPatch(DEFAULT_RULES, rulesPatchSchema.parse({ types: { PARTY_LECTURE: { period: "month" } }, dueReminderDays: 3 }));
    expect(county.types.PARTY_LECTURE).toEqual({ period: "month", count: 1, quorum: 0 });
    const obs = evaluateBranch(branch(exemplary()), county, year2026, endOfYear);
    expect(obs.filter((o) => o.type === "PARTY_LECTURE")).toHaveLength(12);
    expect(states(obs, (o) => o.type === "PARTY_LECTURE" && o.state === "OVERDUE")).toHaveLength(8); // held only in Jan, Apr, Jul, Oct
    const nov = monthPeriod(2026, 11);
    const one = (at: Date) => evaluateBranch(branch([]), county, nov, at).find((o) => o.type === "COMMITTEE")!.attentionNeeded;
    expect(one(chinaDate(2026, 11, 27, 12))).toBe(false);
    expect(one(chinaDate(2026, 11, 28, 0))).toBe(true);
  });

  test("bad rule changes are refused with a Chinese reason", () => {
    const bad = [
      { types: { COMMITTEE: { period: "week" } } },
      { types: { COMMITTEE: { count: 0 } } },
      { types: { MEMBER_CONGRESS: { quorum: 1.5 } } },
      { types: { STUDY: null } },
      { themeDay: 31 },
      { dueReminderDays: 0 },
    ];
    for (const b of bad) {
      const r = rulesPatchSchema.safeParse(b);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0].message).toMatch(/[\u4e00-\u9fa5]/);
    }
  });
});
