// Chat commands for the 三会一课 calendar: 三会一课 (this quarter's state of a branch) and 本月报告 (a town's or the
// county's month so far). The figures come from core/calendar, the same as the API and the pushed reports.
import type { CommandContext, CommandSpec } from "./commands.ts";
import type { OrgUnit } from "../core/db/index.ts";
import { AppError } from "../core/kernel/errors.ts";
import { findUnitByCodeOrName } from "../core/chat/binding.ts";
import { branchCells, type ComplianceCell } from "../core/calendar/compliance.ts";
import { countyRules, evaluateBranches } from "../core/calendar/facts.ts";
import { chinaParts, periodOf } from "../core/calendar/periods.ts";
import { levelWords, monthlyReport, pct, typesOf, type MonthlyReport } from "../core/calendar/reports.ts";
import { branchRules } from "../core/calendar/rules.ts";
import { formatZhDateTime } from "../core/meetings/time.ts";
import { pathInScope } from "../core/org/scope.ts";

type Unit = Pick<OrgUnit, "id" | "code" | "name" | "kind" | "path" | "parentId">;
const UNIT_SELECT = { id: true, code: true, name: true, kind: true, path: true, parentId: true } as const;

/** ✓ / 计划中 / 待安排 / 已逾期 / 未开始. */
const MARK: Record<ComplianceCell["state"], string> = { HELD: "✓", PLANNED: "计划中", DUE: "待安排", OVERDUE: "已逾期", UPCOMING: "未开始", NOT_REQUIRED: "无需召开" };

/** A party group stands for its branch. */
async function asBranch(c: CommandContext, unit: Unit): Promise<Unit> {
  if (unit.kind === "PARTY_GROUP" && unit.parentId != null) return c.tx.orgUnit.findUniqueOrThrow({ where: { id: unit.parentId }, select: UNIT_SELECT });
  if (unit.kind !== "BRANCH") throw new AppError("BRANCH_REQUIRED", `「${unit.name}」不是党支部。请写明支部编码，例如：三会一课 C01-T01-V01-B`);
  return unit;
}

/**
 * Whose 三会一课: the branch named after the command (in the speaker's scope), else the group's branch, else privately
 * the speaker's own branch. A town or county admin privately must name one.
 */
async function targetBranch(c: CommandContext): Promise<Unit> {
  if (c.args) {
    const named = await asBranch(c, await findUnitByCodeOrName(c.tx, c.args.split(/[\s\u3000]+/u)[0]));
    const groupsOwn = c.group?.orgUnitId === named.id;
    if (!groupsOwn && !pathInScope(c.principal, named.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${named.name}」不在您的管辖范围内。`);
    return named;
  }
  if (c.group) {
    if (c.group.orgUnitId == null) throw new AppError("GROUP_NOT_BOUND", "本群还没有绑定支部。请支部书记在群里发送“绑定支部 支部编码”。");
    const unit = await c.tx.orgUnit.findUniqueOrThrow({ where: { id: c.group.orgUnitId }, select: UNIT_SELECT });
    if (unit.kind === "BRANCH" || unit.kind === "PARTY_GROUP") return asBranch(c, unit);
    throw new AppError("BRANCH_REQUIRED", `本群绑定的是「${unit.name}」，请写明支部编码，例如：三会一课 C01-T01-V01-B`);
  }
  if (c.principal.orgUnitId == null) throw new AppError("NOT_LINKED");
  const own = await c.tx.orgUnit.findUniqueOrThrow({ where: { id: c.principal.orgUnitId }, select: UNIT_SELECT });
  if (own.kind === "BRANCH" || own.kind === "PARTY_GROUP") return asBranch(c, own);
  throw new AppError("BRANCH_REQUIRED", "请写明要查看的支部编码或名称，例如：三会一课 C01-T01-V01-B");
}

const monthOf = (cell: ComplianceCell) => `${chinaParts(new Date(cell.period.start)).month}月`;

/** "11月✓", "11月（第一党小组✓、第二党小组待安排）". */
function monthEntry(cell: ComplianceCell): string {
  const groups = cell.partyGroups ?? [];
  if (groups.length > 1 && new Set(groups.map((g) => g.state)).size > 1) return `${monthOf(cell)}（${groups.map((g) => `${g.name}${MARK[g.state]}`).join("、")}）`;
  return `${monthOf(cell)}${MARK[cell.state]}`;
}

/** The branch's quarter, one line per required type. Exported for the tests' expectations. */
export function quarterText(branchName: string, quarterLabel: string, cells: ComplianceCell[], themeDay: number): string {
  const lines = [`「${branchName}」${quarterLabel}三会一课：`];
  const attention: string[] = [];
  for (const type of [...new Set(cells.map((x) => x.type))]) {
    const list = cells.filter((x) => x.type === type);
    const label = type === "THEME_DAY" ? `${list[0].typeLabel}（每月${themeDay}日）` : list[0].typeLabel;
    if (list[0].state === "NOT_REQUIRED") {
      lines.push(`${label}：${list[0].stateLabel}`);
      continue;
    }
    lines.push(`${label}：${list.length === 1 && list[0].period.kind === "quarter" ? MARK[list[0].state] : list.map(monthEntry).join(" ")}`);
    for (const cell of list) if (cell.state === "DUE" && cell.attentionNeeded) attention.push(cell.period.kind === "quarter" ? cell.typeLabel : `${cell.typeLabel}（${monthOf(cell)}）`);
  }
  if (attention.length) lines.push(`即将到期还没有安排：${attention.join("、")}，请尽快发布。`);
  return lines.join("\n");
}

const complianceCommand: CommandSpec = {
  name: "三会一课",
  aliases: ["三会一课情况", "组织生活"],
  args: "[支部编码]",
  summary: "本季度三会一课和主题党日的落实情况（✓ 已召开 · 计划中 · 待安排 · 已逾期）",
  minRole: "MEMBER",
  where: "any",
  example: "三会一课",
  handler: async (c) => {
    const now = new Date();
    const branch = await targetBranch(c);
    const quarter = periodOf("quarter", now);
    const rules = await countyRules(c.tx);
    const [e] = await evaluateBranches(c.tx, { path: branch.path, span: quarter, at: now, branchIds: [branch.id], rules });
    if (!e) throw new AppError("BRANCH_INACTIVE", `「${branch.name}」已撤销，没有三会一课记录。`);
    const effective = branchRules(rules, e.branch);
    return [{ text: quarterText(branch.name, quarter.label, branchCells(e, effective, quarter), effective.themeDay) }];
  },
};

/** The month so far for a town (or the county), for 本月报告. */
export function monthSoFarText(r: MonthlyReport, now: Date): string {
  const t = r.total;
  const c = t.compliance;
  const k = t.complaints;
  const towns = r.towns.filter((x) => x.id != null).length;
  // A county counts its towns, a city its counties (the report's rows); smaller units list their branches instead.
  const above = r.unit.kind === "COUNTY" || r.unit.kind === "CITY";
  const lines = [
    `「${r.unit.name}」${r.period.label}报告（截至${formatZhDateTime(now, now)}）`,
    `${above ? `${levelWords(r.unit).row} ${towns} 个，` : ""}支部 ${c.branches} 个：本月事项全部完成 ${c.compliantBranches} 个，有逾期 ${c.branchColors.red} 个。`,
    `三会一课：应开 ${c.obligations} 项，已开 ${c.held} 项，计划中 ${c.planned} 项，待安排 ${c.due} 项${c.overdue ? `，逾期 ${c.overdue} 项` : ""}。`,
    `参会率 ${pct(t.attendance.rate)}（已召开 ${t.attendance.meetings} 次，应到 ${t.attendance.expected} 人次，实到 ${t.attendance.present} 人次）；会议和学习签到 ${t.checkins.checkins} 人次。`,
    k.filed ? `民情诉求 ${k.filed} 件：响应率 ${pct(k.responseRate)}，办结率 ${pct(k.resolveRate)}，满意率 ${pct(k.satisfactionRate)}，逾期未办结 ${k.overdueOpen} 件。` : "民情诉求 0 件。",
  ];
  const waiting = r.branches.filter((b) => b.overdue.length || b.due.length);
  if (waiting.length && !above) {
    const names = waiting.slice(0, 5).map((b) => `${b.name}（${typesOf([...b.overdue, ...b.due])}）`);
    lines.push(`待安排或逾期：${names.join("；")}${waiting.length > 5 ? ` 等 ${waiting.length} 个支部` : ""}。`);
  }
  lines.push("明细和 Excel 见管理后台“月报告”。");
  return lines.join("\n");
}

/** Which unit 本月报告 is about: named (a town or the county in scope), else the cadre group's, else the speaker's. */
async function reportUnit(c: CommandContext): Promise<number> {
  if (c.args) {
    const unit = await findUnitByCodeOrName(c.tx, c.args.split(/[\s\u3000]+/u)[0]);
    if (unit.kind !== "TOWN" && unit.kind !== "COUNTY" && unit.kind !== "CITY") throw new AppError("TOWN_REQUIRED", `「${unit.name}」不是乡镇。月报告按乡镇查看，例如：本月报告 东山镇`);
    if (!pathInScope(c.principal, unit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${unit.name}」不在您的管辖范围内。`);
    return unit.id;
  }
  if (c.group?.orgUnitId != null) {
    const unit = await c.tx.orgUnit.findUniqueOrThrow({ where: { id: c.group.orgUnitId }, select: { id: true, path: true } });
    if (pathInScope(c.principal, unit.path)) return unit.id;
  }
  return c.principal.orgUnitId!;
}

const monthlyCommand: CommandSpec = {
  name: "本月报告",
  aliases: ["月报告", "月报"],
  args: "[乡镇]",
  summary: "本月到目前为止：支部三会一课完成情况、参会率、民情诉求（私聊或干部群）",
  minRole: "TOWN_ADMIN",
  where: "any",
  example: "本月报告",
  handler: async (c) => {
    // A branch group has villagers in it: the town's figures are for cadres.
    if (c.group && c.group.kind !== "CADRE") throw new AppError("CADRE_GROUP_ONLY");
    const now = new Date();
    const r = await monthlyReport(c.tx, c.principal, periodOf("month", now).key, now, { unitId: await reportUnit(c) });
    return [{ text: monthSoFarText(r, now) }];
  },
};

export const calendarCommands: CommandSpec[] = [complianceCommand, monthlyCommand];
