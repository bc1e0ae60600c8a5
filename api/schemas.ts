// Schemas shared by several routes. Named ones (`.meta({ id })`) become components in the OpenAPI document.
import { z } from "zod";
import { CadreRole } from "../core/org/scope.ts";
import {
  AttendanceSource,
  AttendanceStatus,
  ComplaintEventKind,
  ComplaintRating,
  ComplaintStatus,
  LeaveDecision,
  MeetingStatus,
  MeetingType,
} from "../core/db/generated/enums.ts";

export const CadreRoleSchema = z.enum(CadreRole).meta({ id: "CadreRole", description: "COUNTY_ADMIN > TOWN_ADMIN > BRANCH_SECRETARY > MEMBER" });
/** Inline rather than a nullable $ref: OpenAPI 3.1 generators turn that into an allOf no null can satisfy. */
export const NullableCadreRole = z.enum(CadreRole).nullable();

export const OrgKindSchema = z.enum(["CITY", "COUNTY", "TOWN", "VILLAGE", "BRANCH", "PARTY_GROUP"]).meta({ id: "OrgKind" });

/** Timestamps travel as ISO 8601 strings; handlers call toISOString(). */
export const IsoDateTime = () => z.iso.datetime();

export const IdParams = z.object({
  id: z.coerce.number({ error: "必须是正整数" }).int({ error: "必须是正整数" }).positive({ error: "必须是正整数" }).meta({ description: "ID" }),
});

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100000).default(1).meta({ description: "页码，从 1 开始" }),
  pageSize: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "每页条数（1-100）" }),
});

// ---- messaging platform (bot accounts, chat groups) ----

export const ChannelSchema = z.enum(["WECHAT", "QQ", "MINIPROGRAM"]).meta({ id: "Channel" });
export const AccountStatusSchema = z
  .enum(["OFFLINE", "NEED_LOGIN", "ONLINE", "RATE_LIMITED", "COOLDOWN", "DISABLED"])
  .meta({ id: "AccountStatus", description: "OFFLINE 离线 · NEED_LOGIN 待扫码登录 · ONLINE 在线 · RATE_LIMITED 已限流 · COOLDOWN 风控冷却中 · DISABLED 已停用" });
export const GroupKindSchema = z.enum(["BRANCH", "CADRE", "OTHER"]).meta({ id: "GroupKind", description: "BRANCH 支部群 · CADRE 干部群 · OTHER 其他/未绑定" });

// ---- meetings, attendance, notices ----

export const MeetingTypeSchema = z
  .enum(MeetingType, {
    error: "会议类型只能是 STUDY（学习）、MEMBER_CONGRESS（党员大会）、COMMITTEE（支委会）、PARTY_GROUP（党小组会）、PARTY_LECTURE（党课）、THEME_DAY（主题党日）",
  })
  .meta({ id: "MeetingType", description: "STUDY 学习 · MEMBER_CONGRESS 支部党员大会 · COMMITTEE 支委会 · PARTY_GROUP 党小组会 · PARTY_LECTURE 党课 · THEME_DAY 主题党日" });
export const MeetingStatusSchema = z
  .enum(MeetingStatus, { error: "会议状态只能是 PLANNED（计划中）、HELD（已召开）、CANCELLED（已取消）" })
  .meta({ id: "MeetingStatus", description: "PLANNED 计划中 · HELD 已召开 · CANCELLED 已取消" });
export const AttendanceStatusSchema = z.enum(AttendanceStatus).meta({ id: "AttendanceStatus", description: "PRESENT 已签到 · LEAVE 请假 · ABSENT 缺席" });
export const AttendanceSourceSchema = z
  .enum(AttendanceSource)
  .meta({ id: "AttendanceSource", description: "WECHAT 微信群 · QQ QQ群 · MINIPROGRAM 小程序 · CONSOLE 管理后台 · IMPORT 导入" });
export const LeaveDecisionSchema = z.enum(LeaveDecision).meta({ id: "LeaveDecision", description: "PENDING 待审批 · APPROVED 已准假 · REJECTED 未准假" });

// ---- complaints (民情诉求) ----

export const ComplaintStatusSchema = z
  .enum(ComplaintStatus, { error: "状态只能是 SUBMITTED、CLAIMED、RESOLVED、REOPENED、CLOSED、WITHDRAWN" })
  .meta({ id: "ComplaintStatus", description: "SUBMITTED 待认领 · CLAIMED 办理中 · RESOLVED 已办结（待评价） · REOPENED 重新办理 · CLOSED 已结案 · WITHDRAWN 已撤回" });
export const ComplaintRatingSchema = z
  .enum(ComplaintRating, { error: "评价只能是 SATISFIED（满意）、BASICALLY_SATISFIED（基本满意）、DISSATISFIED（不满意）" })
  .meta({ id: "ComplaintRating", description: "SATISFIED 满意 · BASICALLY_SATISFIED 基本满意 · DISSATISFIED 不满意（第一次不满意会重新办理）" });
export const ComplaintEventKindSchema = z.enum(ComplaintEventKind).meta({
  id: "ComplaintEventKind",
  description:
    "FILED 提交 · INFO_ADDED 补充 · CLAIMED 认领 · TRANSFERRED 转办 · REPLIED 回复 · EXTENSION_REQUESTED 申请延期 · EXTENSION_APPROVED 批准延期 · " +
    "EXTENSION_REJECTED 驳回延期 · RESOLVED 办结 · RATED 评价 · REOPENED 重办 · WITHDRAWN 撤回 · REMINDED 催办 · ESCALATED 逾期上报 · CLOSED 结案 · URGENT_SET 加急",
});

// ───────────────────────────── Excel imports (the roster, the organisation tree) ─────────────────────────────

/** The one .xlsx file an import route takes (judged by its bytes in core/org/excel-import.ts). */
export const xlsxUpload = (what: string, maxRows: number) => ({
  fields: ["file"] as const,
  maxFiles: 1,
  maxFileBytes: (config: { UPLOAD_MAX_BYTES: number }) => config.UPLOAD_MAX_BYTES,
  description: `${what} Excel 文件（.xlsx，按文件内容判断），第一个工作表，最多 ${maxRows} 行，不超过 UPLOAD_MAX_BYTES（默认 10 MB）`,
});

/** The import form: `skipInvalid` as a form field ("true"/"1") or JSON boolean. */
export const importForm = (id: string, skipDescription: string) =>
  z
    .object({
      skipInvalid: z
        .preprocess((v) => (typeof v === "string" ? v.trim().toLowerCase() : v), z.union([z.boolean(), z.enum(["true", "false", "1", "0", ""])]))
        .optional()
        .transform((v) => v === true || v === "true" || v === "1")
        .meta({ description: skipDescription }),
    })
    .meta({ id });
