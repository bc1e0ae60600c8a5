// 限时办结: a ticket's response and resolution deadlines, counted on the official working-day calendar
// (core/calendar/workdays.ts: statutory holidays, 调休 make-up days, the admin's overrides).
import type { Config } from "../config.ts";
import type { WorkCalendar } from "../calendar/workdays.ts";

/** The configuration the complaint services read (defaults in core/config.ts, see design.md). */
export type ComplaintConfig = Pick<
  Config,
  | "COMPLAINT_RESPONSE_WORKDAYS"
  | "COMPLAINT_RESOLVE_WORKDAYS"
  | "COMPLAINT_URGENT_RESPONSE_HOURS"
  | "COMPLAINT_URGENT_RESOLVE_WORKDAYS"
  | "COMPLAINT_ESCALATE_AGAIN_WORKDAYS"
  | "COMPLAINT_PHOTO_WINDOW_MIN"
  | "COMPLAINT_PHOTO_MAX_BYTES"
  | "COMPLAINT_RATING_WINDOW_DAYS"
>;

export interface Deadlines {
  responseDueAt: Date;
  resolveDueAt: Date;
}

/**
 * Deadlines for a ticket whose clock starts at `from` (filing, or arrival at a new unit after a transfer).
 * Normal: N working days each. Urgent: the response in clock hours (an urgent matter does not wait for Monday),
 * the resolution in working days.
 */
export function deadlinesFrom(calendar: WorkCalendar, config: ComplaintConfig, from: Date, urgent: boolean): Deadlines {
  if (urgent) {
    return {
      responseDueAt: new Date(from.getTime() + config.COMPLAINT_URGENT_RESPONSE_HOURS * 3600_000),
      resolveDueAt: calendar.addWorkingDays(from, config.COMPLAINT_URGENT_RESOLVE_WORKDAYS),
    };
  }
  return {
    responseDueAt: calendar.addWorkingDays(from, config.COMPLAINT_RESPONSE_WORKDAYS),
    resolveDueAt: calendar.addWorkingDays(from, config.COMPLAINT_RESOLVE_WORKDAYS),
  };
}

/** A new resolution deadline for 重办 (after 不满意): the full resolution limit again, from now. */
export function redoDeadline(calendar: WorkCalendar, config: ComplaintConfig, from: Date, urgent: boolean): Date {
  return calendar.addWorkingDays(from, urgent ? config.COMPLAINT_URGENT_RESOLVE_WORKDAYS : config.COMPLAINT_RESOLVE_WORKDAYS);
}

/** When an overdue ticket goes on from the town to the county. */
export function countyEscalationAt(calendar: WorkCalendar, config: ComplaintConfig, resolveDueAt: Date): Date {
  return calendar.addWorkingDays(resolveDueAt, config.COMPLAINT_ESCALATE_AGAIN_WORKDAYS);
}
