// One declarative table of chat commands: the single source for parsing, permissions and the help text.
// A new command is one entry here; its rule lives in core/.
import type { AppContext } from "../core/context.ts";
import type { ChatMessage } from "../core/chat/message.ts";
import type { ChatPrincipal } from "../core/chat/principal.ts";
import type { ChatGroup, ChatIdentity, Prisma } from "../core/db/index.ts";
import type { CadreRole } from "../core/db/generated/enums.ts";
import { ROLE_LABEL, hasRoleAtLeast } from "../core/org/scope.ts";
import { bindGroup, consumeSelfLinkAttempt, findUnitByCodeOrName, KIND_LABEL, linkIdentity, parseSelfLink, rosterReport, selfLink, unbindGroup } from "../core/chat/binding.ts";
import { bindCodeToRevoke, consumeBindCodeAttempt, isKnownBindCode, redeemBindCode, redeemedText, revokeRefusedBindCode } from "../core/chat/bind-codes.ts";
import { AppError, isAppError } from "../core/kernel/errors.ts";
import { identityScope } from "../core/chat/registry.ts";
import { meetingCommands } from "./meeting-commands.ts";
import { complaintCommands } from "./complaint-commands.ts";
import { broadcastCommands } from "./broadcast-commands.ts";
import { calendarCommands } from "./calendar-commands.ts";

export interface CommandContext {
  app: AppContext;
  /** The command's writes and its replies commit together (transactional outbox). Use only this, not app.db. */
  tx: Prisma.TransactionClient;
  message: ChatMessage;
  /** Text after the command name, trimmed. */
  args: string;
  principal: ChatPrincipal;
  identity: ChatIdentity;
  group?: ChatGroup;
}

export interface CommandReply {
  text: string;
  /** The conversation the command came from (default) or the sender privately. */
  to?: "conversation" | "sender";
  /** Platform user ids to @-mention (group replies only). */
  mentions?: string[];
}

export interface CommandSpec {
  name: string;
  aliases: string[];
  /** Argument grammar, cac-style: <required> [optional]. */
  args: string;
  summary: string;
  /** null = anyone, including people not yet linked to the roster. */
  minRole: CadreRole | null;
  where: "group" | "private" | "any";
  /** Refresh the group's member list from the platform before running (the report must be current). */
  syncRoster?: boolean;
  /** Group messages go through the check-in write-behind batch instead of one transaction each (see bot/index.ts). */
  batched?: boolean;
  example?: string;
  handler: (ctx: CommandContext, table: CommandTable) => Promise<CommandReply[]> | CommandReply[];
}

const WHERE_LABEL = { group: "群聊", private: "私聊", any: "群聊和私聊" } as const;

export class CommandTable {
  private byWord = new Map<string, CommandSpec>();

  constructor(readonly specs: CommandSpec[]) {
    for (const s of specs) {
      for (const w of [s.name, ...s.aliases]) {
        if (this.byWord.has(w.toLowerCase())) throw new Error(`duplicate command word: ${w}`);
        this.byWord.set(w.toLowerCase(), s);
      }
    }
  }

  find(word: string): CommandSpec | undefined {
    const w = word.replace(/^[/#／＃]/, "").toLowerCase();
    // "收到！" and "签到。" are the same command; "?" alone stays the help alias.
    return this.byWord.get(w) ?? this.byWord.get(w.replace(/[!！。.~～,，]+$/u, ""));
  }

  /** "[/#]<command> <args>" → the command and its arguments; undefined for plain chat. */
  parse(text: string): { spec: CommandSpec; args: string } | undefined {
    const t = text.replace(/^[\s\u2005\u00a0\u3000]+/, "").replace(/^[/#／＃]/, "").trim();
    const m = /^(\S+?)(?:[\s\u2005\u00a0\u3000]+([\s\S]*))?$/u.exec(t);
    if (!m) return undefined;
    const spec = this.find(m[1]);
    return spec ? { spec, args: (m[2] ?? "").trim() } : undefined;
  }

  allowed(spec: CommandSpec, p: Pick<ChatPrincipal, "role">) {
    return spec.minRole === null || hasRoleAtLeast(p, spec.minRole);
  }

  usage(spec: CommandSpec) {
    return spec.args ? `${spec.name} ${spec.args}` : spec.name;
  }

  /** The commands this person may use, or one command's details. */
  help(p: Pick<ChatPrincipal, "role">, about?: string): string {
    if (about) {
      const spec = this.find(about);
      if (!spec) return `没有找到命令“${about}”。发送“帮助”查看全部命令。`;
      const lines = [this.usage(spec), spec.summary];
      if (spec.example) lines.push(`例如：${spec.example}`);
      if (spec.aliases.length) lines.push(`也可以说：${spec.aliases.join("、")}`);
      lines.push(`使用范围：${WHERE_LABEL[spec.where]}；权限：${spec.minRole ? ROLE_LABEL[spec.minRole] + "及以上" : "所有人"}`);
      return lines.join("\n");
    }
    const visible = this.specs.filter((s) => this.allowed(s, p));
    return ["可用命令：", ...visible.map((s) => `· ${this.usage(s)} — ${s.summary}`), "发送“帮助 命令名”查看某个命令的详细说明。"].join("\n");
  }

  /** Why this person may not run this command here; undefined when they may. */
  refusal(spec: CommandSpec, p: Pick<ChatPrincipal, "role">, where: "group" | "private"): string | undefined {
    if (spec.where !== "any" && spec.where !== where) return `“${spec.name}”只能在${WHERE_LABEL[spec.where]}中使用。`;
    if (!this.allowed(spec, p)) {
      return p.role === null
        ? `抱歉，“${spec.name}”需要${ROLE_LABEL[spec.minRole!]}权限。您还没有登记，可发送“我是 姓名 手机后四位”。`
        : `抱歉，“${spec.name}”需要${ROLE_LABEL[spec.minRole!]}权限。`;
    }
    return undefined;
  }
}

const channelOf = (c: CommandContext) => c.message.channel;

export const helpCommand: CommandSpec = {
  name: "帮助",
  aliases: ["help", "菜单", "?", "？"],
  args: "[命令]",
  summary: "查看可用命令",
  minRole: null,
  where: "any",
  example: "帮助 绑定支部",
  handler: ({ args, principal }, table) => [{ text: table.help(principal, args || undefined) }],
};

const bindCommand: CommandSpec = {
  name: "绑定支部",
  aliases: ["绑定群"],
  args: "<支部编码>",
  summary: "把本群绑定到一个支部（或乡镇、县）",
  minRole: "BRANCH_SECRETARY",
  where: "group",
  syncRoster: true,
  example: "绑定支部 C01-T01-V01-B",
  handler: async (c) => {
    const { unit, already } = await bindGroup(c.tx, c.principal, c.group!.id, c.args, channelOf(c));
    if (already) return [{ text: `本群已绑定到「${unit.name}」，无需重复绑定。` }];
    return [{ text: `已将本群绑定到「${unit.name}」（${KIND_LABEL[unit.kind]}，编码 ${unit.code}）。\n群成员请发送“我是 姓名 手机后四位”完成登记。` }];
  },
};

/** A unit named by code or name, or undefined when there is none (a mistyped 绑定码 is not a unit either). */
async function unitNamed(c: CommandContext) {
  try {
    return await findUnitByCodeOrName(c.tx, c.args);
  } catch (e) {
    if (isAppError(e) && e.code === "UNIT_NOT_FOUND") return undefined;
    throw e;
  }
}

const bindByCodeCommand: CommandSpec = {
  name: "绑定",
  aliases: ["绑定码"],
  args: "<绑定码>",
  summary: "用管理后台生成的绑定码把本群绑定到支部（或乡镇、县），并登记绑定人",
  minRole: null,
  where: "group",
  example: "绑定 K7M4PX",
  handler: async (c, table) => {
    if (!c.args) throw new AppError("ARGUMENT_MISSING", "请在“绑定”后写上绑定码，例如：绑定 K7M4PX。绑定码由上级在管理后台生成，24 小时内有效。");
    // A linked cadre may still name the unit itself (绑定 <支部编码>), as before 绑定码 existed.
    if (hasRoleAtLeast(c.principal, "BRANCH_SECRETARY") && !(await isKnownBindCode(c.tx, c.args)) && (await unitNamed(c))) return bindCommand.handler(c, table);
    // Every try counts, right or wrong: past the limit even the right code waits, so guessing does not pay.
    await consumeBindCodeAttempt(c.app.coord, c.message.channel, c.identity.id, c.group!.id);
    let r;
    try {
      r = await redeemBindCode(c.tx, c.principal, { text: c.args, groupId: c.group!.id, channel: c.message.channel });
    } catch (e) {
      // A valid code shown in a chat and refused must not stay usable by whoever saw it. Its own transaction: this
      // command's rolls back with the refusal (the refusals marked happen before the code's row is locked).
      const id = bindCodeToRevoke(e);
      if (id == null || !isAppError(e)) throw e;
      const revoked = await revokeRefusedBindCode(c.app.db.prisma, id, { identityId: c.identity.id, channel: c.message.channel, refusal: e.code });
      throw revoked ? new AppError(e.code, `${e.message}\n该绑定码已作废，请在管理后台重新生成。`, e.details) : e;
    }
    return [{ text: redeemedText(r, c.message.channel) }];
  },
};

const unbindCommand: CommandSpec = {
  name: "解绑",
  aliases: ["解除绑定"],
  args: "",
  summary: "解除本群与单位的绑定",
  minRole: "BRANCH_SECRETARY",
  where: "group",
  handler: async (c) => {
    const unit = await unbindGroup(c.tx, c.principal, c.group!.id, channelOf(c));
    return [{ text: `已解除本群与「${unit.name}」的绑定。` }];
  },
};

const registerCommand: CommandSpec = {
  name: "登记",
  aliases: ["关联"],
  args: "@某人 <姓名> [手机后四位]",
  summary: "把群成员登记为名单中的党员",
  minRole: "BRANCH_SECRETARY",
  where: "group",
  syncRoster: true,
  example: "登记 @老王 王建国",
  handler: async (c) => {
    const targets = c.message.mentions.filter((id) => id !== c.message.sender.platformUserId);
    if (targets.length !== 1) throw new AppError("MENTION_REQUIRED", "请 @ 一位要登记的群成员，例如：登记 @老王 王建国");
    const [name, phoneTail] = c.args.split(/\s+/u).filter(Boolean);
    if (phoneTail && !/^\d{4}$/.test(phoneTail)) throw new AppError("PHONE_TAIL_INVALID");
    const target = await c.tx.chatIdentity.upsert({
      where: { channel_scope_platformUserId: { channel: c.message.channel, scope: identityScope(c.message), platformUserId: targets[0] } },
      create: { channel: c.message.channel, scope: identityScope(c.message), platformUserId: targets[0] },
      update: {},
    });
    const { member } = await linkIdentity(c.tx, c.principal, { groupId: c.group!.id, targetIdentityId: target.id, name: name ?? "", phoneTail, channel: channelOf(c) });
    return [{ text: `已登记：${target.displayName || "该成员"} → ${member.name}（${member.branch.name}）。`, mentions: [targets[0]] }];
  },
};

const iAmCommand: CommandSpec = {
  name: "我是",
  aliases: ["认证", "实名"],
  args: "<姓名> <手机后四位>",
  summary: "登记自己的党员身份（与支部名单核对）",
  minRole: null,
  where: "any",
  example: "我是 张三 1234",
  handler: async (c) => {
    const { name, phoneTail } = parseSelfLink(c.args);
    // Guessing four digits is cheap: a few well-formed tries per hour per person.
    await consumeSelfLinkAttempt(c.app.coord, c.message.channel, c.identity.id);
    const { member } = await selfLink(c.tx, c.principal, { groupId: c.group?.id, name, phoneTail, channel: channelOf(c) });
    return [{ text: `登记成功，欢迎您，${member.name}同志（${member.branch.name}）。` }];
  },
};

const groupInfoCommand: CommandSpec = {
  name: "本群信息",
  aliases: ["群信息"],
  args: "",
  summary: "本群绑定的单位和成员登记情况",
  minRole: null,
  where: "group",
  handler: async (c) => {
    const r = await rosterReport(c.tx, c.group!.id, 0);
    return [
      {
        text: [
          `本群绑定：「${r.unit.name}」（${KIND_LABEL[r.unit.kind]}，编码 ${r.unit.code}）`,
          `名单人数：${r.rosterCount}；群成员：${r.groupCount}`,
          `已登记：${r.linkedInGroup}；未登记：${r.notOnRoster.count}`,
        ].join("\n"),
      },
    ];
  },
};

const reconcileCommand: CommandSpec = {
  name: "名单核对",
  aliases: ["核对名单"],
  args: "",
  summary: "名单中不在群里的人、群里不在名单中的人",
  minRole: "BRANCH_SECRETARY",
  where: "group",
  syncRoster: true,
  handler: async (c) => {
    const r = await rosterReport(c.tx, c.group!.id, 10);
    const list = (x: { count: number; names: string[] }) => (x.count === 0 ? "无" : `${x.names.join("、")}${x.count > x.names.length ? ` 等 ${x.count} 人` : ""}`);
    return [
      {
        text: [
          `「${r.unit.name}」名单核对：名单 ${r.rosterCount} 人，群成员 ${r.groupCount} 人，已登记 ${r.linkedInGroup} 人。`,
          `名单中不在群里（${r.missingFromGroup.count}）：${list(r.missingFromGroup)}`,
          `群里未登记或不在名单中（${r.notOnRoster.count}）：${list(r.notOnRoster)}`,
        ].join("\n"),
      },
    ];
  },
};

export function buildCommandTable(): CommandTable {
  return new CommandTable([helpCommand, iAmCommand, groupInfoCommand, bindByCodeCommand, bindCommand, unbindCommand, registerCommand, reconcileCommand, ...meetingCommands, ...complaintCommands, ...calendarCommands, ...broadcastCommands]);
}
