// Chat commands for study sessions and check-ins: 发布学习, 修改学习, 取消学习, 签到, 请假, 准假, 统计, 未签到, 收到.
// Each parses the chat text and answers; the rules live in core/meetings/.
import type { CommandContext, CommandSpec } from "./commands.ts";
import type { MeetingType, OrgUnit } from "../core/db/index.ts";
import { AppError } from "../core/kernel/errors.ts";
import { findUnitByCodeOrName } from "../core/chat/binding.ts";
import { identityScope } from "../core/chat/registry.ts";
import {
  cancelMeeting,
  currentOrLastMeeting,
  describeMeeting,
  meetingInScope,
  noOpenMeetingText,
  openMeeting,
  parseMeetingNumber,
  publishMeeting,
  updateMeeting,
  upcomingMeeting,
  type Actor,
  type MeetingPatch,
} from "../core/meetings/meetings.ts";
import { attendanceReport, decideLeave, leaveSources, nameList, recordCheckins, reportText, requestLeave } from "../core/meetings/attendance.ts";
import { acknowledgeLatestNotice } from "../core/meetings/notices.ts";
import { meetingTypeFromWord, MEETING_TYPE_WORDS } from "../core/meetings/labels.ts";
import { formatZhTime, parseFutureTime, parseTimePrefix } from "../core/meetings/time.ts";
import { issueDisplayKey } from "../core/meetings/qr.ts";
import { publicBaseUrl } from "../core/config.ts";

const REPORT_NAMES = 30;

const actorOf = (c: CommandContext): Actor => ({
  role: c.principal.role,
  orgPath: c.principal.orgPath,
  cadreUserId: c.principal.cadreUserId,
  identityId: c.principal.identityId,
  channel: c.message.channel,
});

/** The unit a command is about: the group's bound unit, or privately the speaker's own unit. */
async function contextUnit(c: CommandContext): Promise<Pick<OrgUnit, "id" | "name" | "path">> {
  if (c.group) {
    if (c.group.orgUnitId == null) throw new AppError("GROUP_NOT_BOUND", "本群还没有绑定支部。请支部书记在群里发送“绑定支部 支部编码”。");
    return c.tx.orgUnit.findUniqueOrThrow({ where: { id: c.group.orgUnitId }, select: { id: true, name: true, path: true } });
  }
  if (c.principal.memberId != null && c.principal.role === "MEMBER") {
    const m = await c.tx.member.findUniqueOrThrow({ where: { id: c.principal.memberId }, select: { branch: { select: { id: true, name: true, path: true } } } });
    return m.branch;
  }
  if (c.principal.orgUnitId == null) throw new AppError("NOT_LINKED");
  return c.tx.orgUnit.findUniqueOrThrow({ where: { id: c.principal.orgUnitId }, select: { id: true, name: true, path: true } });
}

/** "<时间> <主题> [地点] [类型]": the type may be written anywhere after the time. */
export function parsePublishArgs(args: string, now: Date) {
  const time = parseFutureTime(args, now);
  const words = time.rest.split(/[\s\u3000]+/u).filter(Boolean);
  let type: MeetingType | undefined;
  const rest = words.filter((w) => {
    const t = meetingTypeFromWord(w);
    if (t && !type) {
      type = t;
      return false;
    }
    return true;
  });
  const [topic, ...place] = rest;
  if (!topic) throw new AppError("TOPIC_MISSING", `时间理解为 ${time.understood}。请在时间后面写上主题，例如：发布学习 明天19:30 学习党章 村委会`);
  return { at: time.at, understood: time.understood, type, topic, place: place.join(" ") || null };
}

const publishCommand: CommandSpec = {
  name: "发布学习",
  aliases: ["发布会议", "发布"],
  args: "[支部编码] <时间> <主题> [地点] [类型]",
  summary: `发布学习或会议通知，并开放签到（类型：${MEETING_TYPE_WORDS.join("、")}）`,
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "发布学习 明天19:30 学习党章 村委会会议室",
  handler: async (c) => {
    const now = new Date();
    let args = c.args;
    let unit: Pick<OrgUnit, "id" | "name" | "path">;
    const [first = "", ...others] = args.split(/[\s\u3000]+/u);
    if (!c.group && first && !parseTimePrefixSafe(args, now)) {
      // Privately, a secretary may name the branch first; a town or county admin must.
      unit = await findUnitByCodeOrName(c.tx, first);
      args = others.join(" ");
    } else if (!c.group && c.principal.role !== "BRANCH_SECRETARY") {
      throw new AppError("UNIT_REQUIRED", "请在私聊中写明支部编码，例如：发布学习 C01-T01-V01-B 明天19:30 学习党章");
    } else {
      unit = await contextUnit(c);
    }
    if (!args) throw new AppError("ARGUMENT_MISSING", "请写上时间和主题，例如：发布学习 明天19:30 学习党章 村委会会议室");
    const p = parsePublishArgs(args, now);
    const cfg = c.app.config;
    const { meeting, groups } = await publishMeeting(
      c.tx,
      actorOf(c),
      { unitId: unit.id, type: p.type, topic: p.topic, place: p.place, plannedAt: p.at },
      { opensBeforeMin: cfg.CHECKIN_OPENS_BEFORE_MIN, closesAfterMin: cfg.CHECKIN_CLOSES_AFTER_MIN },
      now,
    );
    const sent = groups > 0 ? `通知已发到 ${groups} 个群` : "该单位还没有绑定群，通知未发送（可在绑定群后重新发布）";
    return [{ text: `已发布：「${unit.name}」${describeMeeting(meeting, now)}。\n签到时间 ${formatZhTime(meeting.checkinOpensAt)}—${formatZhTime(meeting.checkinClosesAt)}；${sent}。`, to: c.group && groups > 0 ? "sender" : "conversation" }];
  },
};

function parseTimePrefixSafe(text: string, now: Date) {
  try {
    return parseTimePrefix(text, now);
  } catch {
    return true; // looks like a time, just a wrong one: let parseFutureTime say what is wrong
  }
}

/** `[编号]` at the start of args, else the unit's next meeting. */
async function targetMeeting(c: CommandContext, args: string) {
  const [first, ...rest] = args.split(/[\s\u3000]+/u).filter(Boolean);
  const id = parseMeetingNumber(first);
  if (id != null) return { meeting: await meetingInScope(c.tx, c.principal, id), rest: rest.join(" ") };
  const unit = await contextUnit(c);
  const meeting = await upcomingMeeting(c.tx, unit.id);
  if (!meeting) throw new AppError("MEETING_NOT_FOUND", `「${unit.name}」现在没有待召开的学习或会议。`);
  return { meeting, rest: args };
}

const cancelCommand: CommandSpec = {
  name: "取消学习",
  aliases: ["取消会议"],
  args: "[编号] [原因]",
  summary: "取消即将召开的学习或会议，并通知群里",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "取消学习 12 因雨改期",
  handler: async (c) => {
    const { meeting, rest } = await targetMeeting(c, c.args);
    const { groups } = await cancelMeeting(c.tx, actorOf(c), meeting.id, rest || undefined);
    return [{ text: `已取消：${describeMeeting(meeting)}${groups ? `，已通知 ${groups} 个群` : ""}。`, to: c.group && groups > 0 ? "sender" : "conversation" }];
  },
};

const FIELD_WORDS: Record<string, "time" | "topic" | "place" | "type"> = { 时间: "time", 主题: "topic", 地点: "place", 类型: "type" };

const updateCommand: CommandSpec = {
  name: "修改学习",
  aliases: ["修改会议", "改期"],
  args: "[编号] <时间|主题|地点|类型> <新内容>",
  summary: "修改即将召开的学习或会议，并通知群里",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "修改学习 时间 11月28日 晚上8点",
  handler: async (c) => {
    const now = new Date();
    const { meeting, rest } = await targetMeeting(c, c.args);
    const [fieldWord = "", ...valueWords] = rest.split(/[\s\u3000]+/u).filter(Boolean);
    let field = FIELD_WORDS[fieldWord];
    let value = valueWords.join(" ");
    // "改期 明天20:00": a bare new time.
    if (!field && fieldWord && parseTimePrefixSafe(rest, now)) {
      field = "time";
      value = rest;
    }
    if (!field) throw new AppError("FIELD_REQUIRED");
    if (!value) throw new AppError("ARGUMENT_MISSING", `请写上新的${fieldWord || "内容"}。`);
    const patch: MeetingPatch = {};
    if (field === "time") patch.plannedAt = parseFutureTime(value, now).at;
    if (field === "topic") patch.topic = value;
    if (field === "place") patch.place = value;
    if (field === "type") {
      patch.type = meetingTypeFromWord(value);
      if (!patch.type) throw new AppError("TYPE_INVALID", `类型只能是：${MEETING_TYPE_WORDS.join("、")}。`);
    }
    const r = await updateMeeting(c.tx, actorOf(c), meeting.id, patch, now);
    return [{ text: `已修改：${describeMeeting(r.meeting, now)}（${r.changes.join("；")}）${r.groups ? `，已通知 ${r.groups} 个群` : ""}。`, to: c.group && r.groups > 0 ? "sender" : "conversation" }];
  },
};

/**
 * 签到 one message at a time: privately (an explanation), and for a group seen for the first time. Group check-ins
 * normally go through the write-behind batch (core/meetings/checkin-batch.ts), which answers the same way.
 */
const checkinCommand: CommandSpec = {
  name: "签到",
  aliases: ["到", "已到", "签个到"],
  args: "[备注]",
  summary: "在学习或会议的签到时间内签到（机器人会定时汇总，不逐条回复）",
  minRole: null,
  where: "any",
  batched: true,
  handler: async (c) => {
    if (!c.group) return [{ text: "请在支部群里发送“签到”，或在小程序中签到。" }];
    const unit = await contextUnit(c);
    const meeting = await openMeeting(c.tx, unit.id, c.message.at);
    if (!meeting) return [{ text: await noOpenMeetingText(c.tx, unit.id), mentions: [c.message.sender.platformUserId] }];
    await recordCheckins(c.tx, [
      { meetingId: meeting.id, memberId: c.principal.memberId, identityId: c.identity.id, groupId: c.group.id, source: leaveSources(c.message.channel), note: c.args || null, at: c.message.at },
    ]);
    return []; // the group summary answers
  },
};

const leaveCommand: CommandSpec = {
  name: "请假",
  aliases: [],
  args: "<原因>",
  summary: "不能参加即将召开的学习或会议时请假",
  minRole: null,
  where: "any",
  example: "请假 外出务工",
  handler: async (c) => {
    const unit = await contextUnit(c);
    const meeting = await upcomingMeeting(c.tx, unit.id);
    if (!meeting) throw new AppError("MEETING_NOT_FOUND", "现在没有需要请假的学习或会议。");
    const { updated } = await requestLeave(c.tx, {
      meeting,
      memberId: c.principal.memberId,
      identityId: c.identity.id,
      groupId: c.group?.id ?? null,
      source: leaveSources(c.message.channel),
      reason: c.args,
    });
    // In a group the @-mention says whose leave it is.
    return [{ text: `请假${updated ? "已更新" : "已登记"}：${describeMeeting(meeting)}，原因：${c.args.trim()}。等待支部书记审批。`, mentions: c.group ? [c.message.sender.platformUserId] : undefined }];
  },
};

function decideCommand(approve: boolean): CommandSpec {
  return {
    name: approve ? "准假" : "不准假",
    aliases: approve ? ["批准请假"] : ["驳回请假"],
    args: approve ? "@某人" : "@某人 [理由]",
    summary: approve ? "批准群成员的请假" : "不批准群成员的请假",
    minRole: "BRANCH_SECRETARY",
    where: "group",
    handler: async (c) => {
      const targets = c.message.mentions.filter((id) => id !== c.message.sender.platformUserId);
      if (targets.length !== 1) throw new AppError("MENTION_REQUIRED", `请 @ 一位请假的群成员，例如：${approve ? "准假" : "不准假"} @张三`);
      const identity = await c.tx.chatIdentity.findUnique({
        where: { channel_scope_platformUserId: { channel: c.message.channel, scope: identityScope(c.message), platformUserId: targets[0] } },
      });
      const unit = await contextUnit(c);
      const row = identity
        ? await c.tx.attendance.findFirst({
            where: { status: "LEAVE", meeting: { orgUnitId: unit.id, status: { not: "CANCELLED" } }, OR: [...(identity.memberId ? [{ memberId: identity.memberId }] : []), { identityId: identity.id }] },
            orderBy: { meeting: { plannedAt: "desc" } },
            include: { meeting: { include: { orgUnit: true } } },
          })
        : null;
      if (!row) throw new AppError("LEAVE_NOT_FOUND", "没有找到这位成员的请假。");
      await decideLeave(c.tx, actorOf(c), { meeting: row.meeting, memberId: row.memberId, identityId: row.identityId, approve, reason: c.args || undefined });
      const name = identity!.memberId ? (await c.tx.member.findUnique({ where: { id: identity!.memberId }, select: { name: true } }))?.name : identity!.displayName;
      return [{ text: `${approve ? "已准假" : "未准假"}：${name ?? "该成员"}（${describeMeeting(row.meeting)}）${!approve && c.args ? `，理由：${c.args}` : ""}。`, mentions: [targets[0]] }];
    },
  };
}

async function reportMeeting(c: CommandContext) {
  const unit = await contextUnit(c);
  const meeting = await currentOrLastMeeting(c.tx, unit.id);
  if (!meeting) throw new AppError("MEETING_NOT_FOUND", `「${unit.name}」还没有开始签到的学习或会议。`);
  return meeting;
}

const statsCommand: CommandSpec = {
  name: "统计",
  aliases: ["签到情况", "签到统计"],
  args: "",
  summary: "当前或最近一次学习的签到、请假、未签到情况",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  handler: async (c) => {
    const meeting = await reportMeeting(c);
    const report = await attendanceReport(c.tx, meeting.id);
    return [{ text: `${describeMeeting(meeting)}\n${reportText(report, REPORT_NAMES)}` }];
  },
};

const absentCommand: CommandSpec = {
  name: "未签到",
  aliases: ["提醒签到"],
  args: "",
  summary: "@ 提醒还没有签到的党员（请假的除外）",
  minRole: "BRANCH_SECRETARY",
  where: "group",
  handler: async (c) => {
    const meeting = await reportMeeting(c);
    const report = await attendanceReport(c.tx, meeting.id, { groupId: c.group!.id });
    if (report.absent.length === 0) return [{ text: `「${meeting.topic}」应到的党员都已签到或请假了。` }];
    const mentionable = report.absent.filter((a) => a.mentionIds?.length);
    const notInGroup = report.absent.filter((a) => !a.mentionIds?.length);
    const open = meeting.checkinClosesAt > new Date() && meeting.checkinOpensAt <= new Date();
    const lines = [
      `「${meeting.topic}」还有 ${report.absent.length} 人未签到${open ? `，签到截止 ${formatZhTime(meeting.checkinClosesAt)}，请抓紧发送“签到”` : ""}。`,
      ...(notInGroup.length ? [`不在本群或未登记（请电话通知）：${nameList(notInGroup, REPORT_NAMES)}`] : []),
    ];
    return [{ text: lines.join("\n"), mentions: mentionable.flatMap((a) => a.mentionIds!.slice(0, 1)) }];
  },
};

const qrLinkCommand: CommandSpec = {
  name: "签到码",
  aliases: ["扫码签到"],
  args: "[编号]",
  summary: "获取现场扫码签到的页面链接（二维码每 30 秒更新，私聊发送）",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  handler: async (c) => {
    const { meeting } = await targetMeeting(c, c.args);
    if (meeting.status === "CANCELLED") throw new AppError("MEETING_CANCELLED", `「${meeting.topic}」已经取消了。`);
    const key = issueDisplayKey(c.app.config.JWT_SECRET, meeting.id, meeting.checkinClosesAt);
    const url = `${publicBaseUrl(c.app.config)}/qr/${meeting.id}?k=${encodeURIComponent(key)}`;
    return [
      {
        to: "sender",
        text: [
          `${describeMeeting(meeting)}的现场签到码：`,
          url,
          `请在会场的屏幕或手机上打开，党员用小程序扫码签到；二维码每 30 秒自动更新，链接在签到结束（${formatZhTime(meeting.checkinClosesAt)}）后失效。请勿转发到群里。`,
        ].join("\n"),
      },
    ];
  },
};

const receiptCommand: CommandSpec = {
  name: "收到",
  aliases: ["已收到", "收到了", "已阅"],
  args: "",
  summary: "确认看到了通知（记为已读，不回复）",
  minRole: null,
  where: "group",
  handler: async (c) => {
    // Silent: a group of 35 answering 收到 must not get 35 replies. Unlinked people cannot be counted as readers.
    if (c.principal.memberId == null || c.group?.orgUnitId == null) return [];
    await acknowledgeLatestNotice(c.tx, c.principal.memberId, c.group.orgUnitId, c.message.channel);
    return [];
  },
};

export const meetingCommands: CommandSpec[] = [
  publishCommand,
  updateCommand,
  cancelCommand,
  checkinCommand,
  leaveCommand,
  decideCommand(true),
  decideCommand(false),
  statsCommand,
  absentCommand,
  qrLinkCommand,
  receiptCommand,
];
