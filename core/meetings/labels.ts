// Chinese names of meeting types and attendance states, shared by chat texts, the API and the Excel export.
import type { AttendanceStatus, LeaveDecision, MeetingStatus, MeetingType } from "../db/generated/enums.ts";

export const MEETING_TYPE_LABEL: Record<MeetingType, string> = {
  STUDY: "学习",
  MEMBER_CONGRESS: "党员大会",
  COMMITTEE: "支委会",
  PARTY_GROUP: "党小组会",
  PARTY_LECTURE: "党课",
  THEME_DAY: "主题党日",
};

/** Words people type for each type (the label first). */
const TYPE_WORDS: Record<MeetingType, string[]> = {
  STUDY: ["学习", "集中学习", "学习会"],
  MEMBER_CONGRESS: ["党员大会", "支部党员大会"],
  COMMITTEE: ["支委会", "支部委员会", "支委会议", "支部委员会会议"],
  PARTY_GROUP: ["党小组会", "党小组会议"],
  PARTY_LECTURE: ["党课"],
  THEME_DAY: ["主题党日", "固定党日", "主题党日活动"],
};

const BY_WORD = new Map<string, MeetingType>(Object.entries(TYPE_WORDS).flatMap(([t, words]) => words.map((w) => [w, t as MeetingType] as const)));

export function meetingTypeFromWord(word: string): MeetingType | undefined {
  return BY_WORD.get(word.trim());
}

export const MEETING_TYPE_WORDS = Object.values(MEETING_TYPE_LABEL);

export const MEETING_STATUS_LABEL: Record<MeetingStatus, string> = { PLANNED: "计划中", HELD: "已召开", CANCELLED: "已取消" };

export const ATTENDANCE_STATUS_LABEL: Record<AttendanceStatus, string> = { PRESENT: "已签到", LEAVE: "请假", ABSENT: "缺席" };

export const LEAVE_DECISION_LABEL: Record<LeaveDecision, string> = { PENDING: "待审批", APPROVED: "已准假", REJECTED: "未准假" };

export const SOURCE_LABEL: Record<string, string> = { WECHAT: "微信群", QQ: "QQ群", MINIPROGRAM: "小程序", CONSOLE: "管理后台", IMPORT: "导入" };
