// One declarative table of chat commands: the single source for parsing, permissions and the help text.
// A new command is one entry here plus a rule in core/.
import type { ChatMessage, ChatRole } from "../core/chat/message.ts";

export type { ChatRole };
const ROLE_RANK: Record<ChatRole, number> = { GUEST: 0, MEMBER: 1, BRANCH_SECRETARY: 2, TOWN_ADMIN: 3, COUNTY_ADMIN: 4 };
const ROLE_NAME: Record<ChatRole, string> = {
  GUEST: "所有人",
  MEMBER: "党员",
  BRANCH_SECRETARY: "支部书记",
  TOWN_ADMIN: "乡镇管理员",
  COUNTY_ADMIN: "县级管理员",
};

export interface CommandContext {
  message: ChatMessage;
  /** Text after the command name, trimmed. */
  args: string;
  role: ChatRole;
}

export interface CommandReply {
  text: string;
  /** Where the reply goes: the conversation the command came from (default) or the sender privately. */
  to?: "conversation" | "sender";
}

export interface CommandSpec {
  name: string;
  aliases: string[];
  /** Argument grammar, cac-style: <required> [optional]. */
  args: string;
  summary: string;
  minRole: ChatRole;
  where: "group" | "private" | "any";
  handler: (ctx: CommandContext, table: CommandTable) => Promise<CommandReply[]> | CommandReply[];
}

export class CommandTable {
  private byWord = new Map<string, CommandSpec>();

  constructor(readonly specs: CommandSpec[]) {
    for (const s of specs) for (const w of [s.name, ...s.aliases]) this.byWord.set(w.toLowerCase(), s);
  }

  find(word: string): CommandSpec | undefined {
    return this.byWord.get(word.toLowerCase());
  }

  /** Splits "[/#]<command> <args>"; undefined when the text is not a command (plain chat is ignored). */
  parse(text: string): { spec: CommandSpec; args: string } | undefined {
    const t = text.replace(/^[\s\u2005\u00a0]+/, "").replace(/^[/#／＃]/, "").trim();
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(t);
    if (!m) return undefined;
    const spec = this.find(m[1]);
    return spec ? { spec, args: (m[2] ?? "").trim() } : undefined;
  }

  allowed(spec: CommandSpec, role: ChatRole) {
    return ROLE_RANK[role] >= ROLE_RANK[spec.minRole];
  }

  /** The command list a person may use, or one command's details. */
  help(role: ChatRole, about?: string): string {
    if (about) {
      const spec = this.find(about.replace(/^[/#／＃]/, ""));
      if (!spec) return `没有找到命令“${about}”。发送“帮助”查看全部命令。`;
      const lines = [`${usage(spec)}`, spec.summary];
      if (spec.aliases.length) lines.push(`也可以说：${spec.aliases.join("、")}`);
      lines.push(`使用范围：${spec.where === "group" ? "群聊" : spec.where === "private" ? "私聊" : "群聊和私聊"}；权限：${ROLE_NAME[spec.minRole]}`);
      return lines.join("\n");
    }
    const visible = this.specs.filter((s) => this.allowed(s, role));
    return ["可用命令：", ...visible.map((s) => `· ${usage(s)} — ${s.summary}`), "发送“帮助 命令名”查看某个命令的详细说明。"].join("\n");
  }

  refusal(spec: CommandSpec, role: ChatRole, where: "group" | "private"): string | undefined {
    if (spec.where !== "any" && spec.where !== where) return `“${spec.name}”只能在${spec.where === "group" ? "群聊" : "私聊"}中使用。`;
    if (!this.allowed(spec, role)) return `抱歉，“${spec.name}”需要${ROLE_NAME[spec.minRole]}权限。`;
    return undefined;
  }
}

const usage = (s: CommandSpec) => (s.args ? `${s.name} ${s.args}` : s.name);

export const helpCommand: CommandSpec = {
  name: "帮助",
  aliases: ["help", "菜单", "?", "？"],
  args: "[命令]",
  summary: "查看可用命令",
  minRole: "GUEST",
  where: "any",
  handler: ({ args, role }, table) => [{ text: table.help(role, args || undefined) }],
};

export function buildCommandTable(): CommandTable {
  return new CommandTable([helpCommand]);
}
