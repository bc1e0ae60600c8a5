// The working-day calendar time limits count on: the official 2026 schedule (国庆 with a 调休 Saturday), the
// weekday fallback for a year the package does not cover, and a county admin's overrides through the API.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { issueAccessToken } from "../core/auth/tokens.ts";
import { chinaDayKey, loadCalendar, packageCoversYear, WorkCalendar } from "../core/calendar/workdays.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty } from "./support/fixtures.ts";

/** An instant at China wall-clock time. */
const cn = (local: string) => new Date(`${local}+08:00`);

describe("the official calendar", () => {
  const cal = new WorkCalendar();

  test("国庆 2026: Oct 1–7 off, Sat Oct 10 and Sun Sep 20 are make-up working days", () => {
    for (const d of ["2026-10-01", "2026-10-05", "2026-10-07"]) expect(cal.day(d)).toMatchObject({ isWorkday: false, source: "package" });
    expect(cal.day("2026-10-10")).toMatchObject({ isWorkday: true, source: "package", note: "国庆节" });
    expect(cal.isWorkday("2026-09-20")).toBe(true);
    expect(cal.isWorkday("2026-10-11")).toBe(false); // an ordinary Sunday
  });

  test("working days skip the holiday and count the make-up Saturday, keeping the clock time", () => {
    // Filed Wed Sep 30 16:00: 1 working day → Thu Oct 8 16:00 (Oct 1–7 off).
    expect(cal.addWorkingDays(cn("2026-09-30T16:00:00"), 1)).toEqual(cn("2026-10-08T16:00:00"));
    // Filed Fri Oct 9 10:00: 1 working day → Sat Oct 10 10:00 (调休上班).
    expect(cal.addWorkingDays(cn("2026-10-09T10:00:00"), 1)).toEqual(cn("2026-10-10T10:00:00"));
    // 5 working days from Sep 30 16:00: Oct 8, 9, 10, 12, 13.
    expect(cal.addWorkingDays(cn("2026-09-30T16:00:00"), 5)).toEqual(cn("2026-10-13T16:00:00"));
    // Filed on a holiday: counting starts when the next working day starts; 1 working day ends with it.
    expect(cal.addWorkingDays(cn("2026-10-03T09:30:00"), 1)).toEqual(cn("2026-10-09T00:00:00"));
    expect(cal.workingDaysBetween(cn("2026-09-30T12:00:00"), cn("2026-10-12T12:00:00"))).toBe(4);
  });

  test("China calendar days, not UTC days", () => {
    expect(chinaDayKey(cn("2026-10-01T00:30:00"))).toBe("2026-10-01"); // 2026-09-30 16:30 UTC
  });

  test("a year the package does not cover falls back to Monday–Friday", () => {
    expect(packageCoversYear(2026)).toBe(true);
    expect(packageCoversYear(2031)).toBe(false);
    expect(cal.day("2031-10-01")).toMatchObject({ isWorkday: true, source: "weekday" });
    expect(cal.day("2031-10-04")).toMatchObject({ isWorkday: false, source: "weekday" }); // a Saturday
  });
});

describe("overrides through the API", () => {
  let ctx: TestContext;
  let api: RunningApi;
  const tokens = {} as Record<"county" | "town", string>;

  beforeAll(async () => {
    ctx = await createTestContext("calendar");
    const county = await smallCounty(ctx.db.prisma, "CA");
    for (const [key, role, orgUnitId] of [["county", "COUNTY_ADMIN", county.county.id], ["town", "TOWN_ADMIN", county.town1.id]] as const) {
      const u = await ctx.db.prisma.cadreUser.create({ data: { username: `cal-${key}`, passwordHash: "x", displayName: key, role, orgUnitId } });
      tokens[key] = (await issueAccessToken(ctx.config, { kind: "cadre", subjectId: u.id, role, orgUnitId, tokenVersion: 0 })).token;
    }
    api = await startApi(ctx);
  });

  afterAll(async () => {
    await api?.close();
    await ctx?.close();
  });

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as any };
  };

  test("the county admin marks 2031's National Day off; deadlines follow at once", async () => {
    const before = await call("GET", "/api/calendar?year=2031", tokens.town);
    expect(before.status).toBe(200);
    expect(before.json).toMatchObject({ year: 2031, packageCovers: false, days: [] });

    for (const d of ["2031-10-01", "2031-10-02", "2031-10-03"]) {
      expect((await call("PUT", `/api/admin/calendar/${d}`, tokens.county, { isWorkday: false, note: "国庆节" })).status).toBe(200);
    }
    expect((await call("PUT", "/api/admin/calendar/2031-10-04", tokens.county, { isWorkday: true, note: "国庆节调休上班" })).json).toMatchObject({ isWorkday: true, source: "override" });

    const after = await call("GET", "/api/calendar?year=2031", tokens.town);
    expect(after.json.days.map((d: { date: string }) => d.date)).toEqual(["2031-10-01", "2031-10-02", "2031-10-03", "2031-10-04"]);
    const cal = await loadCalendar(ctx.db.prisma);
    // Tue Sep 30 2031 10:00 + 1 working day: Oct 1–3 off, Sat Oct 4 worked.
    expect(cal.addWorkingDays(cn("2031-09-30T10:00:00"), 1)).toEqual(cn("2031-10-04T10:00:00"));
    expect(await ctx.db.prisma.auditLog.count({ where: { action: "calendar.override" } })).toBe(4);

    expect((await call("DELETE", "/api/admin/calendar/2031-10-04", tokens.county)).status).toBe(200);
    expect((await loadCalendar(ctx.db.prisma)).addWorkingDays(cn("2031-09-30T10:00:00"), 1)).toEqual(cn("2031-10-06T10:00:00"));
  });

  test("only the county edits; bad dates and unknown overrides get clear errors", async () => {
    const refused = await call("PUT", "/api/admin/calendar/2031-10-05", tokens.town, { isWorkday: false });
    expect(refused.status).toBe(403);
    const bad = await call("PUT", "/api/admin/calendar/2031-02-30", tokens.county, { isWorkday: false });
    expect(bad).toMatchObject({ status: 400, json: { error: { code: "DATE_INVALID" } } });
    expect((await call("PUT", "/api/admin/calendar/2031-1-5", tokens.county, { isWorkday: false })).status).toBe(400);
    const missing = await call("PUT", "/api/admin/calendar/2031-10-05", tokens.county, {});
    expect(missing.json.error).toMatchObject({ code: "VALIDATION_FAILED", fields: [{ field: "body.isWorkday" }] });
    expect(missing.json.error.fields[0].message).toContain("isWorkday 必须是 true（上班）或 false（放假）");
    expect(await call("DELETE", "/api/admin/calendar/2031-12-25", tokens.county)).toMatchObject({ status: 404, json: { error: { code: "OVERRIDE_NOT_FOUND" } } });
    expect((await call("GET", "/api/calendar?year=abc", tokens.town)).status).toBe(400);
  });
});
