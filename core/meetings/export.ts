// The 签到表 as the branch files it: one sheet with the meeting's particulars and every roster member's state,
// built from the same attendance report the chat 统计 and the API show (so the numbers cannot disagree).
import ExcelJS from "exceljs";
import type { AttendancePerson, AttendanceReport } from "./attendance.ts";
import { ATTENDANCE_STATUS_LABEL, LEAVE_DECISION_LABEL, MEETING_STATUS_LABEL, MEETING_TYPE_LABEL, SOURCE_LABEL } from "./labels.ts";
import { CHINA_OFFSET_MS } from "./time.ts";

export const XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const WEEKDAY_ZH = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
const pad2 = (n: number) => String(n).padStart(2, "0");

/** China wall-clock fields of an instant. */
function china(d: Date) {
  const s = new Date(d.getTime() + CHINA_OFFSET_MS);
  return { y: s.getUTCFullYear(), m: s.getUTCMonth() + 1, d: s.getUTCDate(), wd: s.getUTCDay(), hm: `${pad2(s.getUTCHours())}:${pad2(s.getUTCMinutes())}` };
}

/** "2026年11月28日（周六）19:30": a filed sheet always carries the year. */
function fullDateTime(d: Date) {
  const c = china(d);
  return `${c.y}年${c.m}月${c.d}日（${WEEKDAY_ZH[c.wd]}）${c.hm}`;
}

/** "19:30" on the meeting's day, "11月27日 21:05" otherwise (the window may start the evening before). */
function checkinTime(at: Date, meetingDay: Date) {
  const c = china(at);
  const m = china(meetingDay);
  return c.y === m.y && c.m === m.m && c.d === m.d ? c.hm : `${c.m}月${c.d}日 ${c.hm}`;
}

/** "签到表-李家庄村党支部-2026-11-28.xlsx", and an ASCII name for old clients. */
export function attendanceFileName(r: Pick<AttendanceReport, "meeting">) {
  const c = china(r.meeting.plannedAt);
  const date = `${c.y}-${pad2(c.m)}-${pad2(c.d)}`;
  return { filename: `签到表-${r.meeting.orgUnit.name}-${date}.xlsx`, asciiFilename: `attendance-${r.meeting.id}-${date}.xlsx` };
}

const COLUMNS = [
  { header: "序号", width: 6 },
  { header: "姓名", width: 14 },
  { header: "状态", width: 10 },
  { header: "签到时间", width: 16 },
  { header: "方式", width: 11 },
  { header: "备注", width: 36 },
] as const;

const THIN = { style: "thin" as const, color: { argb: "FF999999" } };
const BORDER = { top: THIN, left: THIN, bottom: THIN, right: THIN };

/** The workbook as bytes. Rows: present, on leave, absent (the whole roster), then guests and unlinked check-ins. */
export async function attendanceWorkbook(r: AttendanceReport, now = new Date()): Promise<Buffer> {
  const m = r.meeting;
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;
  const ws = wb.addWorksheet("签到表", {
    pageSetup: { paperSize: 9, orientation: "portrait", fitToPage: true, fitToWidth: 1, fitToHeight: 0, horizontalCentered: true },
  });
  ws.columns = COLUMNS.map((c) => ({ width: c.width }));
  const last = COLUMNS.length;

  // Title.
  const title = ws.addRow([`${m.orgUnit.name}「${m.topic}」签到表`]);
  ws.mergeCells(title.number, 1, title.number, last);
  title.height = 28;
  title.getCell(1).font = { bold: true, size: 16 };
  title.getCell(1).alignment = { horizontal: "center", vertical: "middle" };

  // Particulars: label in A, value across B..F.
  const end = new Date(m.plannedAt.getTime() + m.durationMinutes * 60_000);
  const info: [string, string][] = [
    ["类型", MEETING_TYPE_LABEL[m.type]],
    ["时间", `${fullDateTime(m.plannedAt)}—${checkinTime(end, m.plannedAt)}（北京时间）`],
    ["地点", m.place ?? "—"],
    ["人数", `应到 ${r.rosterCount} 人，实到 ${r.present.length} 人，请假 ${r.leave.length} 人，缺席 ${r.absent.length} 人`],
  ];
  if (r.guests.length) info.push(["列席", `${r.guests.length} 人`]);
  if (m.status === "CANCELLED") info.push(["状态", `${MEETING_STATUS_LABEL.CANCELLED}${m.cancelReason ? `（${m.cancelReason}）` : ""}`]);
  for (const [label, value] of info) {
    const row = ws.addRow([label, value]);
    ws.mergeCells(row.number, 2, row.number, last);
    row.getCell(1).font = { bold: true };
  }
  ws.addRow([]);

  // The table.
  const header = ws.addRow(COLUMNS.map((c) => c.header));
  header.eachCell((cell) => {
    cell.font = { bold: true };
    cell.alignment = { horizontal: "center", vertical: "middle" };
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.border = BORDER;
  });
  ws.views = [{ state: "frozen", ySplit: header.number, xSplit: 0 }];
  ws.pageSetup.printTitlesRow = `${header.number}:${header.number}`;

  let n = 0;
  const line = (p: AttendancePerson, status: string, note: string) => {
    const row = ws.addRow([++n, p.name, status, p.at ? checkinTime(p.at, m.plannedAt) : "", p.source ? (SOURCE_LABEL[p.source] ?? p.source) : "", note]);
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cell.border = BORDER;
      cell.alignment = { vertical: "middle", horizontal: col === 1 || col === 3 || col === 4 ? "center" : "left", wrapText: col === last };
    });
  };
  for (const p of r.present) line(p, ATTENDANCE_STATUS_LABEL.PRESENT, p.note ?? "");
  for (const p of r.leave) {
    const decision = p.decision ? LEAVE_DECISION_LABEL[p.decision as keyof typeof LEAVE_DECISION_LABEL] : "";
    line(p, ATTENDANCE_STATUS_LABEL.LEAVE, [p.note, decision].filter(Boolean).join("；"));
  }
  for (const p of r.absent) line({ ...p, at: undefined, source: undefined }, ATTENDANCE_STATUS_LABEL.ABSENT, "");
  for (const p of r.guests) line(p, "列席", "不在本单位名单");
  // Unlinked rows carry a chat nickname.
  for (const p of r.unlinked) {
    const leave = p.status === "LEAVE";
    line(p, leave ? "请假（未登记）" : "已签到（未登记）", [leave ? p.note : null, "群昵称，尚未登记到名单，请核实后登记"].filter(Boolean).join("；"));
  }

  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}
