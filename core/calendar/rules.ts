// The 三会一课 and 主题党日 rules engine: what a branch must hold in each month and quarter, and, for any instant,
// which of those obligations are held, planned, due or overdue. One pure function (evaluateBranch) drives the
// reminders, the compliance matrix and the reports, so they can never disagree.
//
// Rules (《中国共产党支部工作条例（试行）》, design.md): 支部党员大会 once a quarter, 支委会 once a month, 党小组会 once a
// month per party group, 党课 once a quarter, 主题党日 once a month on the branch's fixed day. A meeting counts as
// held when its attendance is recorded (status HELD: someone checked in, or the console recorded it) and, for
// 党员大会, at least half of the branch's members were present.
import { z } from "zod";
import type { MeetingStatus, MeetingType } from "../db/index.ts";
import { chinaDate, chinaParts, periodsWithin, type Period, type PeriodKind } from "./periods.ts";
import { ratio } from "../rate.ts";

export const REQUIRED_TYPES = ["MEMBER_CONGRESS", "COMMITTEE", "PARTY_GROUP", "PARTY_LECTURE", "THEME_DAY"] as const;
export type RequiredType = (typeof REQUIRED_TYPES)[number];

export interface TypeRule {
  period: PeriodKind;
  /** Meetings to hold per period. */
  count: number;
  /** Present members / branch members needed for a meeting to count (党员大会: 0.5); 0 = any attendance. */
  quorum: number;
}

export interface CalendarRules {
  /** null = not required (a branch that has, say, no committee). */
  types: Record<RequiredType, TypeRule | null>;
  /** 主题党日 day of month when the branch has not set its own (1-28). */
  themeDay: number;
  /** Remind the secretary this many days before a period ends with a required meeting not planned. */
  dueReminderDays: number;
}

export const DEFAULT_RULES: CalendarRules = {
  types: {
    MEMBER_CONGRESS: { period: "quarter", count: 1, quorum: 0.5 },
    COMMITTEE: { period: "month", count: 1, quorum: 0 },
    PARTY_GROUP: { period: "month", count: 1, quorum: 0 },
    PARTY_LECTURE: { period: "quarter", count: 1, quorum: 0 },
    THEME_DAY: { period: "month", count: 1, quorum: 0 },
  },
  themeDay: 10,
  dueReminderDays: 7,
};

const typeRuleSchema = z.strictObject({
  period: z.enum(["month", "quarter"], { error: "周期只能是 month（每月）或 quarter（每季度）" }),
  count: z.number({ error: "次数应为整数" }).int({ error: "次数应为整数" }).min(1, { error: "次数至少为 1" }).max(10, { error: "次数最多为 10" }),
  quorum: z.number({ error: "到会比例应为 0 到 1 之间的数" }).min(0, { error: "到会比例应为 0 到 1 之间的数" }).max(1, { error: "到会比例应为 0 到 1 之间的数" }),
}, { error: unknownKeys("每类会议只能设置 period、count、quorum") });
function unknownKeys(hint: string): z.core.$ZodErrorMap {
  return (issue) => (issue.code === "unrecognized_keys" ? `不认识的设置项：${issue.keys.join("、")}（${hint}）` : undefined);
}

const typeRulePatch = typeRuleSchema.partial().nullable().optional();
const typesShape = {
  MEMBER_CONGRESS: typeRulePatch,
  COMMITTEE: typeRulePatch,
  PARTY_GROUP: typeRulePatch,
  PARTY_LECTURE: typeRulePatch,
  THEME_DAY: typeRulePatch,
} satisfies Record<RequiredType, typeof typeRulePatch>;

/** A change to the rules: the county's (Setting "calendar.rules") or one branch's (OrgUnit.rulesOverride). */
export const rulesPatchSchema = z.strictObject(
  {
    types: z.strictObject(typesShape, { error: unknownKeys(`会议类型只能是 ${REQUIRED_TYPES.join("、")}`) }).optional(),
    themeDay: z.number({ error: "主题党日应为每月 1 到 28 日中的一天" }).int().min(1, { error: "主题党日应为每月 1 到 28 日中的一天" }).max(28, { error: "主题党日应为每月 1 到 28 日中的一天" }).optional(),
    dueReminderDays: z.number({ error: "提前提醒天数应为 1 到 30 的整数" }).int().min(1, { error: "提前提醒天数应为 1 到 30 的整数" }).max(30, { error: "提前提醒天数应为 1 到 30 的整数" }).optional(),
  },
  { error: unknownKeys("只能设置 types、themeDay、dueReminderDays") },
);
export type RulesPatch = z.infer<typeof rulesPatchSchema>;

/** `base` with `patch` applied: a type set to null is no longer required, a partial type rule changes only its fields. */
export function applyRulesPatch(base: CalendarRules, patch: RulesPatch | null | undefined): CalendarRules {
  if (!patch) return base;
  const types = { ...base.types };
  for (const t of REQUIRED_TYPES) {
    const p = patch.types?.[t];
    if (p === undefined) continue;
    types[t] = p === null ? null : ({ ...(types[t] ?? DEFAULT_RULES.types[t]), ...stripUndefined(p) } as TypeRule);
  }
  return { types, themeDay: patch.themeDay ?? base.themeDay, dueReminderDays: patch.dueReminderDays ?? base.dueReminderDays };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Stored JSON that no longer parses (hand-edited) is ignored rather than stopping every reminder. */
export function parseRulesPatch(value: unknown): RulesPatch | null {
  const r = rulesPatchSchema.safeParse(value);
  return r.success ? r.data : null;
}

// ───────────────────────────── the evaluation ─────────────────────────────

export interface MeetingFact {
  id: number;
  type: MeetingType;
  /** The branch itself, or one of its party groups. */
  orgUnitId: number;
  plannedAt: Date;
  status: MeetingStatus;
  /** Set when the check-in window closed and the record was fixed. */
  finalizedAt: Date | null;
  /** Members of the branch present (guests from other branches and unlinked check-ins are not counted). */
  present: number;
  /** The branch's roster at the meeting's planned time, the 党员大会 quorum's base (memberCount when not given). */
  rosterSize?: number;
}

export interface BranchFacts {
  branchId: number;
  /** Members (full and probationary) for the 党员大会 quorum. */
  memberCount: number;
  partyGroups: { id: number; name: string }[];
  /** OrgUnit.themeDayOfMonth (null = the county's day). */
  themeDay: number | null;
  /** OrgUnit.rulesOverride. */
  override: RulesPatch | null;
  meetings: MeetingFact[];
}

/** HELD green · PLANNED / DUE yellow (period running) · OVERDUE red · UPCOMING grey (period not started). */
export type ObligationState = "HELD" | "PLANNED" | "DUE" | "OVERDUE" | "UPCOMING";
export const STATE_COLOR: Record<ObligationState, "green" | "yellow" | "red" | "grey"> = {
  HELD: "green",
  PLANNED: "yellow",
  DUE: "yellow",
  OVERDUE: "red",
  UPCOMING: "grey",
};

export interface Obligation {
  type: RequiredType;
  /** 党小组会: the party group it is for. */
  partyGroupId: number | null;
  partyGroupName: string | null;
  period: Period;
  required: number;
  heldMeetingIds: number[];
  plannedMeetingIds: number[];
  /** Meetings of the right type in the period that do not count, and why. */
  notCounted: { id: number; reason: "NO_QUORUM" | "NO_ATTENDANCE" }[];
  state: ObligationState;
  /** Not held and not planned, and the period ends within dueReminderDays (or has ended). */
  attentionNeeded: boolean;
  /** 主题党日: the fixed day (local midnight) in this month. */
  fixedDay: Date | null;
}

/** The effective rules for one branch: county rules, then the branch's override and its fixed day. */
export function branchRules(county: CalendarRules, facts: Pick<BranchFacts, "override" | "themeDay">): CalendarRules {
  const r = applyRulesPatch(county, facts.override);
  return facts.themeDay != null && facts.themeDay >= 1 && facts.themeDay <= 28 ? { ...r, themeDay: facts.themeDay } : r;
}

/** The instant the "due" reminder for `period` fires: dueReminderDays before its end, at `hour` local time. */
export function dueReminderAt(period: Period, days: number, hour = 9): Date {
  const { year, month, day } = chinaParts(new Date(period.end.getTime() - days * 86_400_000));
  return chinaDate(year, month, day, hour);
}

/**
 * Every obligation of the branch in the periods overlapping `span` (a month: its monthly obligations and the
 * quarter's; a quarter or a year: all of theirs), evaluated as of `at`. Pure: same facts, same answer.
 */
export function evaluateBranch(facts: BranchFacts, county: CalendarRules, span: Pick<Period, "start" | "end">, at: Date): Obligation[] {
  const rules = branchRules(county, facts);
  const out: Obligation[] = [];
  for (const type of REQUIRED_TYPES) {
    const rule = rules.types[type];
    if (!rule) continue;
    // 党小组会 is owed by each party group; a meeting on the branch itself is a joint one and counts for all of them.
    const holders: { id: number | null; name: string | null }[] =
      type === "PARTY_GROUP" ? facts.partyGroups.map((g) => ({ id: g.id, name: g.name })) : [{ id: null, name: null }];
    for (const period of periodsWithin(rule.period, span)) {
      for (const holder of holders) {
        const held: number[] = [];
        const planned: number[] = [];
        const notCounted: Obligation["notCounted"] = [];
        for (const m of facts.meetings) {
          if (m.type !== type || m.status === "CANCELLED" || m.plannedAt < period.start || m.plannedAt >= period.end) continue;
          if (holder.id !== null && m.orgUnitId !== holder.id && m.orgUnitId !== facts.branchId) continue;
          if (m.status === "HELD") {
            if (rule.quorum > 0 && m.present < Math.ceil(rule.quorum * (m.rosterSize ?? facts.memberCount))) notCounted.push({ id: m.id, reason: "NO_QUORUM" });
            else held.push(m.id);
          } else if (m.finalizedAt) notCounted.push({ id: m.id, reason: "NO_ATTENDANCE" });
          else planned.push(m.id);
        }
        const state: ObligationState =
          held.length >= rule.count
            ? "HELD"
            : at >= period.end
              ? "OVERDUE"
              : held.length + planned.length >= rule.count
                ? "PLANNED"
                : at < period.start
                  ? "UPCOMING"
                  : "DUE";
        const attentionNeeded = state === "OVERDUE" || (state === "DUE" && at >= dueReminderAt(period, rules.dueReminderDays, 0));
        const { year, month } = chinaParts(period.start);
        out.push({
          type,
          partyGroupId: holder.id,
          partyGroupName: holder.name,
          period,
          required: rule.count,
          heldMeetingIds: held,
          plannedMeetingIds: planned,
          notCounted,
          state,
          attentionNeeded,
          fixedDay: type === "THEME_DAY" && rule.period === "month" ? chinaDate(year, month, rules.themeDay) : null,
        });
      }
    }
  }
  return out;
}

/**
 * Share of settled obligations that were kept: HELD / (HELD + OVERDUE). A period still running with nothing held yet
 * is not a failure until it ends. null when nothing is settled.
 */
export function complianceRate(obligations: Obligation[]): number | null {
  const counted = obligations.filter((o) => o.state === "HELD" || o.state === "OVERDUE");
  if (counted.length === 0) return null;
  return ratio(counted.filter((o) => o.state === "HELD").length, counted.length);
}
