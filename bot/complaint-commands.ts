// Chat commands for complaints (民情诉求). Filers: 反映/投诉/诉求, 我的诉求, 诉求 <编号>, 补充, 撤回, 满意/基本满意/不满意.
// Cadres: 待办, 认领, 转办, 回复, 办结, 延期, 加急; the next level up: 批准延期/驳回延期. The rules live in core/complaints/.
// Ticket details are personal: every answer goes to the sender privately, except the short acknowledgement of a
// filing made in a group, which never repeats the content.
import type { CommandContext, CommandReply, CommandSpec } from "./commands.ts";
import { privately, WORDS } from "./command-text.ts";
import type { ComplaintRating } from "../core/db/index.ts";
import { AppError, isAppError } from "../core/kernel/errors.ts";
import { findUnitByCodeOrName } from "../core/chat/binding.ts";
import { formatZhDateTime } from "../core/meetings/time.ts";
import {
  addInfo,
  claimComplaint,
  decideExtension,
  fileComplaint,
  rateComplaint,
  receiptText,
  replyToFiler,
  requestExtension,
  resolveComplaint,
  setUrgent,
  transferComplaint,
  withdrawComplaint,
} from "../core/complaints/complaints.ts";
import { parseComplaintNumber, type ComplaintActor, type FilerRef } from "../core/complaints/transition.ts";
import { complaintInbox, myComplaints, viewComplaint, type ComplaintView } from "../core/complaints/view.ts";
import { RATING_LABEL } from "../core/complaints/state.ts";

const HISTORY_LINES = 15;

const actorOf = (c: CommandContext): ComplaintActor => ({
  role: c.principal.role,
  orgPath: c.principal.orgPath,
  cadreUserId: c.principal.cadreUserId,
  memberId: c.principal.memberId,
  identityId: c.identity.id,
  channel: c.message.channel,
});

const filerOf = (c: CommandContext): FilerRef => ({ identityId: c.identity.id, memberId: c.principal.memberId, channel: c.message.channel });

const viewerOf = (c: CommandContext) => ({ role: c.principal.role, orgPath: c.principal.orgPath, cadreUserId: c.principal.cadreUserId, memberId: c.principal.memberId, identityId: c.identity.id });

/** "<编号> <rest>": the ticket number first, required. */
function numberAndRest(args: string, usage: string): { number: string; rest: string } {
  const [first = "", ...rest] = args.split(WORDS).filter(Boolean);
  const number = parseComplaintNumber(first);
  if (!number) throw new AppError("COMPLAINT_NUMBER_REQUIRED", first ? `“${first}”不是诉求编号，编号形如 LX20261125-0007。用法：${usage}` : `请写上诉求编号，例如：${usage}`);
  return { number, rest: rest.join(" ") };
}

const fmt = (d: Date) => formatZhDateTime(d);

// ───────────────────────────── filers ─────────────────────────────

const ANONYMOUS = /^匿名(?:[\s\u3000:：，,]+|$)/u;

async function file(c: CommandContext): Promise<CommandReply[]> {
  const anonymous = ANONYMOUS.test(c.args);
  const content = anonymous ? c.args.replace(ANONYMOUS, "") : c.args;
  const now = new Date();
  const { complaint, unit } = await fileComplaint(
    c.tx,
    { identityId: c.identity.id, memberId: c.principal.memberId, channel: c.message.channel },
    { content, anonymous, unitId: c.group?.orgUnitId ?? null },
    c.app.config,
    now,
  );
  const receipt = receiptText(complaint, unit, c.app.config.COMPLAINT_PHOTO_WINDOW_MIN, now);
  if (!c.group) return [{ text: receipt }];
  // In the group: the number only, never the content; the receipt privately.
  return [
    { text: `已收到您的反映（编号 ${complaint.number}），请私聊我补充详情。`, mentions: anonymous ? undefined : [c.message.sender.platformUserId] },
    { text: receipt, to: "sender" },
  ];
}

function detailText(v: ComplaintView): string {
  const lines = [`诉求 ${v.number}（${v.statusLabel}${v.urgent ? "，加急" : ""}${v.overdue ? "，已逾期" : ""}）`, `承办：${v.unit.name}${v.owner ? `；认领人：${v.owner.name}` : ""}`];
  if (v.access !== "filer") {
    lines.push(`反映人：${v.filer.anonymous ? "匿名" : [v.filer.name ?? "（未留姓名）", v.filer.phone].filter(Boolean).join(" ")}`);
  }
  lines.push(`内容：${v.content}`);
  if (v.location) lines.push(`地点：${v.location}`);
  if (v.status === "SUBMITTED") lines.push(`响应时限：${fmt(v.responseDueAt)}`);
  if (v.status === "SUBMITTED" || v.status === "CLAIMED" || v.status === "REOPENED") lines.push(`办结时限：${fmt(v.resolveDueAt)}`);
  if (v.pendingExtension) lines.push(`延期申请：${v.pendingExtension.days} 个工作日，待上级审批`);
  if (v.resolution) lines.push(`办理结果：${v.resolution}`);
  if (v.ratingLabel) lines.push(`评价：${v.ratingLabel}${v.ratingComment ? `（${v.ratingComment}）` : ""}`);
  if (v.attachments.length) lines.push(`照片：${v.attachments.length} 张`);
  const history = v.events.slice(-HISTORY_LINES).map((e) => {
    const units = e.kind === "TRANSFERRED" ? ` ${e.fromUnit ?? ""} → ${e.toUnit ?? ""}` : e.kind === "ESCALATED" && e.toUnit ? ` 报${e.toUnit}` : "";
    return `· ${fmt(e.at)} ${e.label}${units}（${e.actor}）${e.note ? `：${e.note}` : ""}`;
  });
  lines.push("进度：", ...history);
  if (v.access === "filer" && v.status === "RESOLVED") lines.push("请回复“满意”、“基本满意”或“不满意 意见”评价办理结果。");
  return lines.join("\n");
}

const fileCommand: CommandSpec = {
  name: "反映",
  aliases: ["投诉"],
  args: "[匿名] <内容>",
  summary: "反映问题或诉求（民情诉求），会得到编号和办理时限；在群里发送时回执私聊发给您",
  minRole: null,
  where: "any",
  example: "反映 村口路灯坏了一个星期，晚上看不见路",
  handler: (c) => file(c),
};

const complaintCommand: CommandSpec = {
  name: "诉求",
  aliases: [],
  args: "<编号>|<内容>",
  summary: "以编号开头时查看该诉求的详情和进度，否则与“反映”相同",
  minRole: null,
  where: "any",
  example: "诉求 LX20261125-0007",
  handler: async (c) => {
    // A ticket number as the first word asks about that ticket ("诉求 LX20261125-0007 怎么样了"); anything else is a filing.
    const number = parseComplaintNumber(c.args.split(WORDS)[0]);
    if (!number) return file(c);
    return privately(detailText(await viewComplaint(c.tx, viewerOf(c), number)));
  },
};

const mineCommand: CommandSpec = {
  name: "我的诉求",
  aliases: ["我的反映", "我的投诉"],
  args: "",
  summary: "我反映过的诉求和办理状态",
  minRole: null,
  where: "any",
  handler: async (c) => {
    const { total, items } = await myComplaints(c.tx, { identityId: c.identity.id, memberId: c.principal.memberId });
    if (total === 0) return privately("您还没有反映过诉求。发送“反映 内容”即可反映。");
    return privately(
      [
        `您共有 ${total} 条诉求${total > items.length ? `（最近 ${items.length} 条）` : ""}：`,
        ...items.map((i) => `· ${i.number} ${i.statusLabel} — ${i.excerpt}（${i.unitName}）`),
        "发送“诉求 编号”查看详情和进度。",
      ].join("\n"),
    );
  },
};

const addInfoCommand: CommandSpec = {
  name: "补充",
  aliases: ["补充诉求"],
  args: "<编号> <内容>",
  summary: "为自己的诉求补充情况",
  minRole: null,
  where: "any",
  example: "补充 LX20261125-0007 路灯在村委会东边第三根",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "补充 LX20261125-0007 补充的内容");
    await addInfo(c.tx, filerOf(c), number, rest);
    return privately(`已补充到诉求 ${number}。`);
  },
};

const withdrawCommand: CommandSpec = {
  name: "撤回",
  aliases: ["撤回诉求"],
  args: "<编号> [理由]",
  summary: "撤回自己还没有办结的诉求",
  minRole: null,
  where: "any",
  example: "撤回 LX20261125-0007 问题已自行解决",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "撤回 LX20261125-0007");
    await withdrawComplaint(c.tx, filerOf(c), number, rest || null);
    return privately(`诉求 ${number} 已撤回。`);
  },
};

function rateCommand(rating: ComplaintRating): CommandSpec {
  const label = RATING_LABEL[rating];
  return {
    name: label,
    aliases: [],
    args: "[编号] [评价]",
    summary: rating === "DISSATISFIED" ? "对已办结的诉求评价“不满意”（第一次不满意会重新办理）" : `对已办结的诉求评价“${label}”`,
    minRole: null,
    where: "any",
    example: rating === "DISSATISFIED" ? "不满意 路灯修好又坏了" : label,
    handler: async (c) => {
      const [first, ...rest] = c.args.split(WORDS).filter(Boolean);
      const number = parseComplaintNumber(first);
      const comment = number ? rest.join(" ") : c.args;
      try {
        const r = await rateComplaint(c.tx, filerOf(c), number ?? null, rating, comment || null, c.app.config);
        const n = r.complaint.number;
        if (r.reopened) return privately(`收到您的评价（不满意）。诉求 ${n} 将重新办理：办理人会先回访您，再重新办理，办结时限 ${fmt(r.complaint.resolveDueAt)}。`);
        return privately(rating === "DISSATISFIED" ? `收到您的评价（不满意），诉求 ${n} 已结案。如仍有问题，欢迎重新反映。` : `感谢您的评价（${label}），诉求 ${n} 已结案。`);
      } catch (e) {
        // "满意" is also ordinary chat: in a group, with nothing to rate, stay quiet.
        if (c.group && !number && isAppError(e) && e.code === "NOTHING_TO_RATE") return [];
        throw e;
      }
    },
  };
}

// ───────────────────────────── cadres ─────────────────────────────

const inboxCommand: CommandSpec = {
  name: "待办",
  aliases: ["待办诉求", "诉求待办"],
  args: "",
  summary: "管辖范围内未办结的诉求（最紧急的在前）和待审批的延期",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  handler: async (c) => {
    const inbox = await complaintInbox(c.tx, viewerOf(c));
    const lines: string[] = [];
    if (inbox.total === 0) lines.push("没有待办的诉求。");
    else {
      lines.push(`待办诉求 ${inbox.total} 条${inbox.total > inbox.items.length ? `（最紧急的 ${inbox.items.length} 条）` : ""}：`);
      for (const i of inbox.items) {
        const flags = `${i.overdue ? "【已逾期】" : ""}${i.urgent ? "【加急】" : ""}${i.mine ? "【我认领的】" : ""}`;
        lines.push(`· ${i.number}${flags} ${i.statusLabel}，${i.dueKind === "response" ? "响应" : "办结"}时限 ${fmt(i.dueAt)} — ${i.excerpt}（${i.unitName}）`);
      }
    }
    if (inbox.extensionsToDecide.length) {
      lines.push("待审批的延期申请：", ...inbox.extensionsToDecide.map((x) => `· ${x.number}（${x.unitName}，${x.days} 个工作日）`));
    }
    if (inbox.total) lines.push("发送“认领 编号”认领，“诉求 编号”查看详情。");
    return privately(lines.join("\n"));
  },
};

const claimCommand: CommandSpec = {
  name: "认领",
  aliases: ["认领诉求"],
  args: "<编号>",
  summary: "认领诉求（首问负责：谁认领谁负责办结）",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "认领 LX20261125-0007",
  handler: async (c) => {
    const { number } = numberAndRest(c.args, "认领 LX20261125-0007");
    const r = await claimComplaint(c.tx, actorOf(c), number);
    return privately(`已认领诉求 ${number}（首问负责），请在 ${fmt(r.complaint.resolveDueAt)} 前办结。发送“诉求 ${number}”查看反映人和详情。`);
  },
};

const transferCommand: CommandSpec = {
  name: "转办",
  aliases: ["转办诉求"],
  args: "<编号> <单位编码或名称> <理由>",
  summary: "把诉求正式转给本县另一个单位办理（由对方重新认领）",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "转办 LX20261125-0007 河西村党支部 道路属河西村管护",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "转办 LX20261125-0007 河西村党支部 理由");
    const [unitText = "", ...reason] = rest.split(WORDS).filter(Boolean);
    if (!unitText) throw new AppError("UNIT_REQUIRED", "请写上转给哪个单位（编码或名称）和理由，例如：转办 LX20261125-0007 河西村党支部 道路属河西村管护");
    const unit = await findUnitByCodeOrName(c.tx, unitText);
    const r = await transferComplaint(c.tx, actorOf(c), number, unit.id, reason.join(" "), c.app.config);
    return privately(`已将诉求 ${number} 转给「${r.target.name}」办理，并告知了反映人。`);
  },
};

const replyCommand: CommandSpec = {
  name: "回复",
  aliases: ["回复诉求"],
  args: "<编号> <内容>",
  summary: "通过机器人给反映人回复消息",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "回复 LX20261125-0007 明天上午安排电工上门",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "回复 LX20261125-0007 回复内容");
    const r = await replyToFiler(c.tx, actorOf(c), number, rest);
    return privately(r.delivered ? `已将回复发给诉求 ${number} 的反映人。` : `回复已记录在诉求 ${number} 中，但反映人暂时无法通过机器人联系，请电话联系。`);
  },
};

const resolveCommand: CommandSpec = {
  name: "办结",
  aliases: ["办结诉求"],
  args: "<编号> <办理结果>",
  summary: "办结诉求（认领人或上级），并请反映人评价",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "办结 LX20261125-0007 路灯已修好",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "办结 LX20261125-0007 办理结果");
    await resolveComplaint(c.tx, actorOf(c), number, rest);
    return privately(`诉求 ${number} 已办结，已请反映人评价。`);
  },
};

const extendCommand: CommandSpec = {
  name: "延期",
  aliases: ["申请延期"],
  args: "<编号> <工作日数> <理由>",
  summary: "申请延长办结时限，由上一级审批",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "延期 LX20261125-0007 3 需等配件到货",
  handler: async (c) => {
    const { number, rest } = numberAndRest(c.args, "延期 LX20261125-0007 3 理由");
    const [daysText = "", ...reason] = rest.split(WORDS).filter(Boolean);
    const daysWord = daysText.replace(/天|个?工作日$/u, "");
    const days = /^\d{1,3}$/.test(daysWord) ? Number(daysWord) : NaN;
    if (Number.isNaN(days)) throw new AppError("EXTENSION_DAYS_INVALID", "请写上延期的工作日数和理由，例如：延期 LX20261125-0007 3 需等配件到货");
    const r = await requestExtension(c.tx, actorOf(c), number, days, reason.join(" "));
    return privately(`已提交延期申请（${days} 个工作日），等待${r.approver ? `「${r.approver.name}」` : "上级"}审批。`);
  },
};

function decideCommand(approve: boolean): CommandSpec {
  return {
    name: approve ? "批准延期" : "驳回延期",
    aliases: [],
    args: approve ? "<编号>" : "<编号> [理由]",
    summary: approve ? "批准下级的延期申请" : "驳回下级的延期申请",
    minRole: "TOWN_ADMIN",
    where: "any",
    example: approve ? "批准延期 LX20261125-0007" : "驳回延期 LX20261125-0007 请先联系供电所",
    handler: async (c) => {
      const { number, rest } = numberAndRest(c.args, `${approve ? "批准延期" : "驳回延期"} LX20261125-0007`);
      const r = await decideExtension(c.tx, actorOf(c), number, approve, rest || null);
      return privately(approve ? `已批准诉求 ${number} 延期，办结时限延至 ${fmt(r.complaint.resolveDueAt)}。` : `已驳回诉求 ${number} 的延期申请。`);
    },
  };
}

const urgentCommand: CommandSpec = {
  name: "加急",
  aliases: ["加急诉求"],
  args: "<编号>",
  summary: "把诉求标为加急（响应和办结时限缩短）",
  minRole: "BRANCH_SECRETARY",
  where: "any",
  example: "加急 LX20261125-0007",
  handler: async (c) => {
    const { number } = numberAndRest(c.args, "加急 LX20261125-0007");
    const r = await setUrgent(c.tx, actorOf(c), number, true, c.app.config);
    const v = r.complaint;
    return privately(`诉求 ${number} 已加急：${v.status === "SUBMITTED" ? `响应时限 ${fmt(v.responseDueAt)}，` : ""}办结时限 ${fmt(v.resolveDueAt)}。`);
  },
};

export const complaintCommands: CommandSpec[] = [
  fileCommand,
  complaintCommand,
  mineCommand,
  addInfoCommand,
  withdrawCommand,
  rateCommand("SATISFIED"),
  rateCommand("BASICALLY_SATISFIED"),
  rateCommand("DISSATISFIED"),
  inboxCommand,
  claimCommand,
  transferCommand,
  replyCommand,
  resolveCommand,
  extendCommand,
  decideCommand(true),
  decideCommand(false),
  urgentCommand,
];
