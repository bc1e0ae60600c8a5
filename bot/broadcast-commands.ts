// Chat commands for county admins about county broadcasts: 待审广播, 批准广播 <编号>, 驳回广播 <编号> <理由>,
// 广播进度 <编号>, 取消广播 <编号>. The rules live in core/broadcasts/; answers go to the sender privately.
import type { CommandContext, CommandSpec } from "./commands.ts";
import { privately, WORDS } from "./command-text.ts";
import { AppError } from "../core/kernel/errors.ts";
import { formatZhDateTime } from "../core/meetings/time.ts";
import {
  approveBroadcast,
  broadcastReport,
  cancelBroadcast,
  pendingBroadcasts,
  previewTarget,
  rejectBroadcast,
  STATUS_LABEL,
  type BroadcastActor,
  type BroadcastTarget,
} from "../core/broadcasts/broadcasts.ts";

const actorOf = (c: CommandContext): BroadcastActor => ({
  cadreUserId: c.principal.cadreUserId,
  role: c.principal.role,
  orgPath: c.principal.orgPath,
  identityId: c.identity.id,
  channel: c.message.channel,
});

function refAndRest(args: string, usage: string) {
  const [first = "", ...rest] = args.split(WORDS).filter(Boolean);
  if (!first) throw new AppError("BROADCAST_NUMBER_REQUIRED", `请写上广播编号，例如：${usage}`);
  return { ref: first, rest: rest.join(" ") };
}

const targetLabel = (t: BroadcastTarget) =>
  t.scope === "all" ? "全县" : t.scope === "towns" ? `${t.townIds.length} 个乡镇` : t.scope === "kinds" ? t.kinds.map((k) => (k === "BRANCH" ? "支部群" : "干部群")).join("、") : `${t.groupIds.length} 个指定群`;

const minutes = (s: number) => (s < 60 ? `约 ${s} 秒` : `约 ${Math.ceil(s / 60)} 分钟`);

const pendingCommand: CommandSpec = {
  name: "待审广播",
  aliases: ["广播待审"],
  args: "",
  summary: "本县待审批的县级广播（县级管理员）",
  minRole: "COUNTY_ADMIN",
  where: "any",
  handler: async (c) => {
    const items = await pendingBroadcasts(c.tx, actorOf(c));
    if (!items.length) return privately("目前没有待审批的广播。");
    const lines = [`待审批的广播 ${items.length} 条：`];
    for (const b of items) {
      const file = b.attachment as { kind?: string; name?: string } | null;
      const p = await previewTarget(c.tx, c.principal.orgPath ?? "", b.target as unknown as BroadcastTarget, b.body, undefined, { attachment: !!file }).catch(() => null);
      lines.push(
        `${b.number}「${b.title}」${b.drafter.displayName} 起草；范围：${targetLabel(b.target as unknown as BroadcastTarget)}${p ? `（${p.groups} 个群，${minutes(p.estimatedSeconds)}）` : ""}` +
          `${file?.name ? `；附${file.kind === "image" ? "图片" : "文件"}“${file.name}”` : ""}` +
          `${b.scheduledAt ? `；定时 ${formatZhDateTime(b.scheduledAt)}` : ""}`,
      );
    }
    lines.push("批准：批准广播 <编号>；驳回：驳回广播 <编号> <理由>");
    return privately(lines.join("\n"));
  },
};

const approveCommand: CommandSpec = {
  name: "批准广播",
  aliases: [],
  args: "<编号>",
  summary: "批准另一位县级管理员起草的广播（本人起草的不能批准）",
  minRole: "COUNTY_ADMIN",
  where: "any",
  example: "批准广播 GB20261130-0007",
  handler: async (c) => {
    const { ref } = refAndRest(c.args, "批准广播 GB20261130-0007");
    const d = await approveBroadcast(c.tx, actorOf(c), ref);
    return privately(d.queued ? `已批准广播 ${d.broadcast.number}，正在向 ${d.queued} 个群发送。发送“广播进度 ${d.broadcast.number}”查看进度。` : `已批准广播 ${d.broadcast.number}，将按定时发送。`);
  },
};

const rejectCommand: CommandSpec = {
  name: "驳回广播",
  aliases: [],
  args: "<编号> <理由>",
  summary: "驳回待审批的广播，须写明理由",
  minRole: "COUNTY_ADMIN",
  where: "any",
  example: "驳回广播 GB20261130-0007 请补充落款",
  handler: async (c) => {
    const { ref, rest } = refAndRest(c.args, "驳回广播 GB20261130-0007 请补充落款");
    const r = await rejectBroadcast(c.tx, actorOf(c), ref, rest);
    return privately(`已驳回广播 ${r.number}（理由：${rest}）。`);
  },
};

const progressCommand: CommandSpec = {
  name: "广播进度",
  aliases: [],
  args: "<编号>",
  summary: "广播的发送情况：已发送、排队、等待、失败，按乡镇",
  minRole: "COUNTY_ADMIN",
  where: "any",
  example: "广播进度 GB20261130-0007",
  handler: async (c) => {
    const { ref } = refAndRest(c.args, "广播进度 GB20261130-0007");
    const r = await broadcastReport(c.tx, actorOf(c), ref);
    const t = r.totals;
    const lines = [
      `广播 ${r.broadcast.number}「${r.broadcast.title}」${STATUS_LABEL[r.broadcast.status]}`,
      `共 ${t.total} 个群：已发送 ${t.sent}，排队 ${t.queued + t.sending}，等待账号上线 ${t.waiting}，失败 ${t.failed}，已取消 ${t.cancelled}`,
      ...r.perTown.map((x) => `${x.townName}：${x.sent}/${x.total}${x.failed ? `，失败 ${x.failed}` : ""}${x.waiting ? `，等待 ${x.waiting}` : ""}`),
    ];
    if (r.failed.length) lines.push(`失败的群：${r.failed.slice(0, 10).map((f) => `${f.topic}（${f.errorClass ?? "未知"}）`).join("、")}${r.failed.length > 10 ? ` 等 ${r.failed.length} 个` : ""}`);
    return privately(lines.join("\n"));
  },
};

const cancelCommand: CommandSpec = {
  name: "取消广播",
  aliases: [],
  args: "<编号>",
  summary: "取消广播：尚未发出的群不再发送",
  minRole: "COUNTY_ADMIN",
  where: "any",
  example: "取消广播 GB20261130-0007",
  handler: async (c) => {
    const { ref } = refAndRest(c.args, "取消广播 GB20261130-0007");
    const r = await cancelBroadcast(c.tx, actorOf(c), ref);
    return privately(`已取消广播 ${r.number}，${r.cancelled} 个群不再发送。`);
  },
};

export const broadcastCommands: CommandSpec[] = [pendingCommand, approveCommand, rejectCommand, progressCommand, cancelCommand];
