// 组织架构 Excel 导入: the template, and parse → validate → plan → apply, like the roster import
// (roster-import.ts). The preview and the import run the same planner; the import re-plans inside its transaction
// under the tree lock (units.ts TREE_LOCK), so what the preview shows is what the import writes.
//
// Rules (the template's 填写说明 sheet says the same to the people filling it in):
// - First worksheet; the header is the first row (of the first 5) with a 单位编码 cell. Required columns 单位编码,
//   单位名称, 类型; 上级单位编码, 涵盖村（联合党委）, 备注 optional; unknown columns ignored; empty rows skipped.
// - A row is one unit, keyed by its code: a code already on file is that unit (updated: name, category, parent, spans),
//   a new code is created. Codes on file outside the caller's scope, or of deactivated units, are errors.
// - 类型 gives kind and category (县, 乡镇, 街道, 村, 社区, 联合党委, 党支部, 产业党支部 …, 党小组). A generic label (乡镇,
//   村/社区, 党支部) keeps an existing unit's category. The kind of an existing unit cannot change by import.
// - 上级单位编码: another row of the file (rows in any order) or an existing unit in scope; required for a new unit,
//   blank on an existing one keeps its parent. A row under a row with an error is an error too (so skipInvalid never
//   imports a unit without its parent). Cycles are errors.
// - 涵盖村（联合党委）: codes separated by 、 , ， ; or spaces, of villages (in the file or on file) of the same town.
//   Blank on an existing 联合党委 keeps its villages.
// - Rows whose code starts with EXAMPLE- are the template's example (only printed on its 填写说明 sheet): skipped, never
//   imported, and listed as skippedExamples.
import ExcelJS from "exceljs";
import { cellText, readImportSheet, type RawRow as SheetRow } from "./excel-import.ts";
import { audit } from "../audit.ts";
import type { OrgKind } from "../db/generated/enums.ts";
import type { Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { categoriesOf, JOINT_COMMITTEE, KIND_LABEL, ORG_CATEGORIES, placementProblem } from "./categories.ts";
import { hasRoleAtLeast, pathInScope, type ScopeHolder } from "./scope.ts";
import { insertUnit, moveSubtree, TREE_LOCK, UNIT_CODE_RE, UNIT_NAME_MAX, type OrgActor } from "./units.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export const TREE_MAX_ROWS = 5000;
const VALIDATED_ROWS = 1000;
export const EXAMPLE_PREFIX = "EXAMPLE-";

export const TREE_COLUMNS = {
  code: "单位编码",
  name: "单位名称",
  type: "类型",
  parentCode: "上级单位编码",
  spans: "涵盖村（联合党委）",
  note: "备注",
} as const;
type ColumnKey = keyof typeof TREE_COLUMNS;
const REQUIRED: ColumnKey[] = ["code", "name", "type"];
const COLUMN_ORDER = Object.keys(TREE_COLUMNS) as ColumnKey[];

// ───────────────────────────── errors ─────────────────────────────

export const treeFileMissing = () => new AppError("ORG_IMPORT_FILE_MISSING");

// ───────────────────────────── the answer ─────────────────────────────

export type RowAction = "create" | "update" | "unchanged" | "error";

export interface RowIssue {
  column: string;
  message: string;
}

export interface TreeRow {
  row: number;
  action: RowAction;
  code: string;
  name: string;
  kind: OrgKind | null;
  category: string | null;
  parentCode: string | null;
  /** The unit on file this row is (updated or unchanged); null for creates and errors on new codes. */
  unitId: number | null;
  /** For updates: 单位名称, 类别, 上级单位, 涵盖村. */
  changes: string[];
  errors: RowIssue[];
}

export interface TreeCounts {
  total: number;
  create: number;
  update: number;
  unchanged: number;
  error: number;
}

export interface TreePreview {
  sheet: string;
  ignoredColumns: string[];
  /** Rows recognised as the template's example and skipped. */
  skippedExamples: number[];
  counts: TreeCounts;
  rows: TreeRow[];
}

export interface TreeImportResult {
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
}

// ───────────────────────────── 类型 labels ─────────────────────────────

/** The category a kind has when none is stored: an explicit default equals null (so 村 on a plain village is no change). */
const DEFAULT_CATEGORY: Record<OrgKind, string> = { CITY: "市", COUNTY: "县", TOWN: "镇", VILLAGE: "村", BRANCH: "村党支部", PARTY_GROUP: "党小组" };
const sameCategory = (kind: OrgKind, a: string | null, b: string | null) => (a ?? DEFAULT_CATEGORY[kind]) === (b ?? DEFAULT_CATEGORY[kind]);

/** 类型 cell → kind and category (null: generic, the kind's usual one / keep what is on file). */
const TYPE_LABELS: Record<string, { kind: OrgKind; category: string | null }> = (() => {
  const m: Record<string, { kind: OrgKind; category: string | null }> = {};
  for (const c of ORG_CATEGORIES) if (!(c.category in m)) m[c.category] = { kind: c.kind, category: c.category };
  Object.assign(m, {
    市: { kind: "CITY", category: "市" },
    县级市: { kind: "COUNTY", category: "市" },
    "县/市": { kind: "COUNTY", category: null },
    县区: { kind: "COUNTY", category: null },
    乡镇: { kind: "TOWN", category: null },
    "乡镇/街道": { kind: "TOWN", category: null },
    "村/社区": { kind: "VILLAGE", category: null },
    党支部: { kind: "BRANCH", category: null },
    支部: { kind: "BRANCH", category: null },
  });
  return m;
})();

/** The label the template and the 现有单位 sheet show for a unit. */
export function typeLabel(kind: OrgKind, category: string | null): string {
  if (category) return kind === "COUNTY" && category === "市" ? "县级市" : category;
  return { CITY: "市", COUNTY: "县/市", TOWN: "乡镇/街道", VILLAGE: "村/社区", BRANCH: "党支部", PARTY_GROUP: "党小组" }[kind];
}

const TYPE_CHOICES = ["县", "县级市", "区", "镇", "乡", "街道", "村", "社区", "联合党委", "村党支部", "社区党支部", "产业党支部", "合作社党支部", "项目党支部", "网络党支部", "机关党支部", "联合党支部", "党小组"];

// ───────────────────────────── reading the workbook ─────────────────────────────

type RawRow = SheetRow<ColumnKey>;

function columnOf(header: string): ColumnKey | undefined {
  const h = header.replace(/\s+/g, "").replace(/[*＊]/g, "").replace(/[（(][^）)]*[）)]$/, "");
  const aliases: Record<string, ColumnKey> = { 编码: "code", 组织编码: "code", 名称: "name", 单位全称: "name", 组织名称: "name", 单位类型: "type", 层级: "type", 上级编码: "parentCode", 上级单位: "parentCode", 涵盖村: "spans", 涵盖村社区: "spans", 说明: "note" };
  return (COLUMN_ORDER.find((k) => TREE_COLUMNS[k].replace(/[（(][^）)]*[）)]$/, "") === h) as ColumnKey | undefined) ?? aliases[h];
}

async function readSheet(bytes: Buffer) {
  const { skipped: skippedExamples, ...sheet } = await readImportSheet(bytes, {
    codePrefix: "ORG_IMPORT",
    template: "组织架构模板",
    contents: "单位",
    columnOf,
    headerKey: "code",
    titles: TREE_COLUMNS,
    order: COLUMN_ORDER,
    required: REQUIRED,
    maxRows: TREE_MAX_ROWS,
    splitHint: "请把组织架构拆成几个文件分批导入（先导入上级单位）。",
    notContent: ["note"],
    skip: (cells) => cellText(cells.code).toUpperCase().startsWith(EXAMPLE_PREFIX),
  });
  if (sheet.rows.length === 0) {
    throw new AppError("ORG_IMPORT_EMPTY", skippedExamples.length ? "文件中只有模板示例行（编码以 EXAMPLE- 开头），示例不会被导入，请填写实际的单位后再上传。" : "文件中没有单位数据，请在表头下方逐行填写后再上传。");
  }
  return { ...sheet, skippedExamples };
}

// ───────────────────────────── parsing a row ─────────────────────────────

interface RowValues {
  code: string;
  name: string;
  kind: OrgKind | null;
  category: string | null;
  parentCode: string | null;
  /** null when the cell is blank (keep what is on file). */
  spanCodes: string[] | null;
}

function parseRow(raw: RawRow): { values: RowValues; errors: RowIssue[] } {
  const c = raw.cells;
  const errors: RowIssue[] = [];
  const code = cellText(c.code);
  if (!code) errors.push({ column: TREE_COLUMNS.code, message: "单位编码不能为空。" });
  else if (!UNIT_CODE_RE.test(code)) errors.push({ column: TREE_COLUMNS.code, message: `单位编码“${code}”有误，须为 1-32 位字母、数字、“-”或“_”，例如 T01-V03。` });
  const name = cellText(c.name).replace(/\s+/g, " ");
  if (!name) errors.push({ column: TREE_COLUMNS.name, message: "单位名称不能为空。" });
  else if (name.length > UNIT_NAME_MAX) errors.push({ column: TREE_COLUMNS.name, message: `单位名称最多 ${UNIT_NAME_MAX} 个字，请核对。` });
  const typeText = cellText(c.type).replace(/\s+/g, "").replace(/／/g, "/");
  const type = TYPE_LABELS[typeText];
  if (!typeText) errors.push({ column: TREE_COLUMNS.type, message: "类型不能为空，请填写如 乡镇、村、联合党委、党支部、产业党支部、党小组。" });
  else if (!type) errors.push({ column: TREE_COLUMNS.type, message: `类型“${typeText}”无法识别，请从下拉列表中选择（如 镇、街道、村、社区、联合党委、村党支部、产业党支部、党小组）。` });
  const parentCode = cellText(c.parentCode) || null;
  const spanText = cellText(c.spans);
  const spanCodes = spanText ? [...new Set(spanText.split(/[、,，;；\s]+/).filter(Boolean))] : null;
  return { values: { code, name, kind: type?.kind ?? null, category: type?.category ?? null, parentCode, spanCodes }, errors };
}

// ───────────────────────────── planning ─────────────────────────────

interface Existing {
  id: number;
  code: string;
  name: string;
  kind: OrgKind;
  category: string | null;
  path: string;
  depth: number;
  parentId: number | null;
  active: boolean;
  parent: ParentUnit | null;
  spans: { village: { code: string; name: string; parent: { code: string } | null } }[];
  spannedBy: { joint: { code: string; name: string; parent: { code: string } | null } }[];
}

interface ParentUnit {
  id: number;
  code: string;
  name: string;
  kind: OrgKind;
  category: string | null;
  path: string;
  active: boolean;
}

interface PlannedRow {
  raw: RawRow;
  values: RowValues;
  errors: RowIssue[];
  existing: Existing | null;
  parent: { row: PlannedRow } | { unit: ParentUnit } | null;
  /** Final kind and category (after the import). */
  kind: OrgKind | null;
  category: string | null;
  done: boolean;
  failed: boolean;
}

type Write =
  | { op: "create"; code: string; name: string; kind: OrgKind; category: string | null; parentCode: string }
  | { op: "update"; code: string; unitId: number; name?: string; category?: string | null; parentCode?: string };

interface Plan {
  preview: TreePreview;
  /** Creates and updates, parents before children. */
  writes: Write[];
  /** 联合党委 code → village codes to set. */
  spans: Map<string, string[]>;
}

const EXISTING_SELECT = {
  id: true,
  code: true,
  name: true,
  kind: true,
  category: true,
  path: true,
  depth: true,
  parentId: true,
  active: true,
  parent: { select: { id: true, code: true, name: true, kind: true, category: true, path: true, active: true } },
  spans: { select: { village: { select: { code: true, name: true, parent: { select: { code: true } } } } } },
  spannedBy: { select: { joint: { select: { code: true, name: true, parent: { select: { code: true } } } } } },
} as const;

const pathIds = (path: string) => path.split("/").filter(Boolean).map(Number);

async function planRows(tx: Tx, scope: ScopeHolder, sheet: Awaited<ReturnType<typeof readSheet>>): Promise<Plan> {
  const parsed = sheet.rows.map((raw) => ({ raw, ...parseRow(raw) }));
  const codes = new Set<string>();
  for (const p of parsed) {
    if (p.values.code) codes.add(p.values.code);
    if (p.values.parentCode) codes.add(p.values.parentCode);
    for (const s of p.values.spanCodes ?? []) codes.add(s);
  }
  const found: Existing[] = codes.size ? await tx.orgUnit.findMany({ where: { code: { in: [...codes] } }, select: EXISTING_SELECT }) : [];
  const byCode = new Map(found.map((u) => [u.code, u]));

  const rows: PlannedRow[] = parsed.map((p) => ({ ...p, existing: null, parent: null, kind: p.values.kind, category: p.values.category, done: false, failed: false }));
  const rowByCode = new Map<string, PlannedRow>();
  const rowByUnitId = new Map<number, PlannedRow>();
  const err = (r: PlannedRow, column: ColumnKey, message: string) => r.errors.push({ column: TREE_COLUMNS[column], message });

  // The unit each row is, and local checks.
  for (const r of rows) {
    const v = r.values;
    if (v.code) {
      const earlier = rowByCode.get(v.code);
      if (earlier) err(r, "code", `与第 ${earlier.raw.row} 行的单位编码重复，请删除重复的行或换一个编码。`);
      else rowByCode.set(v.code, r);
    }
    const e = v.code ? byCode.get(v.code) : undefined;
    if (e && rowByCode.get(v.code) === r) {
      if (!pathInScope(scope, e.path)) {
        err(r, "code", `单位编码“${v.code}”已被您管辖范围以外的单位使用，请换一个编码。`);
        continue;
      }
      if (!e.active) {
        err(r, "code", `“${e.name}”（${v.code}）已撤销，请先在管理后台恢复该单位，或换一个编码。`);
        continue;
      }
      r.existing = e;
      rowByUnitId.set(e.id, r);
      if (r.kind && r.kind !== e.kind) {
        err(r, "type", `“${e.name}”（${v.code}）现为${KIND_LABEL[e.kind]}，导入不能改变单位的层级；如是新单位，请换一个编码。`);
      } else if (r.kind) {
        r.category = r.category ?? e.category;
      }
    } else if (!e && r.kind) {
      if (r.kind === "CITY") err(r, "type", "市级单位只能在初始化时设立，不能导入。");
      else if (r.kind === "COUNTY" && !hasRoleAtLeast(scope, "COUNTY_ADMIN")) err(r, "type", "只有县级管理员可以设立县。");
      else if (r.kind !== "PARTY_GROUP" && !hasRoleAtLeast(scope, "TOWN_ADMIN")) err(r, "type", "只有乡镇管理员及以上可以设立乡镇、村和党支部。");
    }
    if (r.kind && r.category && !categoriesOf(r.kind).includes(r.category)) err(r, "type", `类别“${r.category}”不适用于${KIND_LABEL[r.kind]}。`);
  }

  // Parents.
  for (const r of rows) {
    if (r.errors.length && !r.existing && !r.values.code) continue;
    const pc = r.values.parentCode;
    if (!pc) {
      if (r.existing) {
        const pid = r.existing.parentId;
        const pr = pid != null ? rowByUnitId.get(pid) : undefined;
        if (pr) r.parent = { row: pr };
        else if (r.existing.parent) r.parent = { unit: r.existing.parent };
      } else if (r.values.code) {
        err(r, "parentCode", "新单位须填写上级单位编码（上级可以是本文件中的另一行，也可以是已有的单位）。");
      }
      continue;
    }
    if (pc === r.values.code) {
      err(r, "parentCode", "上级单位不能是本单位自己。");
      continue;
    }
    const pr = rowByCode.get(pc);
    if (pr) {
      r.parent = { row: pr };
      continue;
    }
    const pu = byCode.get(pc);
    if (!pu) err(r, "parentCode", `找不到上级单位“${pc}”，请填写本文件中某行的单位编码或已有单位的编码。`);
    else if (!pathInScope(scope, pu.path)) err(r, "parentCode", `上级单位“${pc}”不在您的管辖范围内。`);
    else if (!pu.active) err(r, "parentCode", `上级单位“${pu.name}”（${pc}）已撤销。`);
    else r.parent = { unit: pu };
  }

  // Cycles: walking up from a row's parent (through rows, and through units on file whose ancestors may be rows) must
  // never come back to the row.
  for (const r of rows) {
    if (!r.parent) continue;
    let node: PlannedRow["parent"] = r.parent;
    const seen = new Set<PlannedRow>();
    let cycle = false;
    walk: while (node) {
      if ("row" in node) {
        if (node.row === r) {
          cycle = true;
          break;
        }
        if (seen.has(node.row)) break;
        seen.add(node.row);
        node = node.row.parent;
        continue;
      }
      const ids = pathIds(node.unit.path).reverse();
      if (r.existing && ids.includes(r.existing.id) && ids.slice(0, ids.indexOf(r.existing.id)).every((id) => !rowByUnitId.has(id))) {
        cycle = true;
        break;
      }
      for (const id of ids) {
        const via = rowByUnitId.get(id);
        if (via) {
          node = { row: via };
          continue walk;
        }
      }
      break;
    }
    if (cycle) err(r, "parentCode", "上级单位关系构成循环（单位不能挂在它自己的下级之下），请核对上级单位编码。");
  }

  // A party group's members belong to its branch: a group with current members cannot move to another branch
  // (the same rule as the console's unit edit).
  const movingGroups = rows.filter((r) => r.existing?.kind === "PARTY_GROUP" && r.values.parentCode != null && r.values.parentCode !== r.existing.parent?.code);
  if (movingGroups.length) {
    const counts = await tx.member.groupBy({
      by: ["partyGroupId"],
      where: { partyGroupId: { in: movingGroups.map((r) => r.existing!.id) }, status: { in: ["ACTIVE", "PROBATIONARY"] } },
      _count: { _all: true },
    });
    for (const r of movingGroups) {
      const n = counts.find((c) => c.partyGroupId === r.existing!.id)?._count._all ?? 0;
      if (n) err(r, "parentCode", `党小组“${r.existing!.name}”还有 ${n} 名党员，不能移到其他党支部。请先将这些党员调整到本支部的其他党小组（或不分党小组），或办理组织关系转接后再移动。`);
    }
  }

  // Placement, parents first; a row under a failed row fails too.
  const settle = (r: PlannedRow, stack: Set<PlannedRow>): boolean => {
    if (r.done) return !r.failed;
    if (stack.has(r)) return false;
    stack.add(r);
    let ok = r.errors.length === 0 && r.kind != null;
    if (r.parent && "row" in r.parent) {
      const p = r.parent.row;
      const parentOk = settle(p, stack);
      if (!parentOk && ok) {
        err(r, "parentCode", `上级单位“${p.values.code}”（第 ${p.raw.row} 行）有误，本行无法导入，请先改正上级单位。`);
        ok = false;
      }
    }
    // An existing unit is checked only where it changes (a unit placed before these rules stays as it is).
    const moves = r.existing ? r.values.parentCode != null && r.values.parentCode !== r.existing.parent?.code : true;
    const recategorised = r.existing ? !sameCategory(r.existing.kind, r.category, r.existing.category) : false;
    if (ok && r.parent && r.kind && (moves || recategorised)) {
      const info = "row" in r.parent ? { kind: r.parent.row.kind!, category: r.parent.row.category, name: r.parent.row.values.name } : { kind: r.parent.unit.kind, category: r.parent.unit.category, name: r.parent.unit.name };
      const problem = placementProblem(info, r.kind, r.category);
      if (problem) {
        err(r, r.existing && !r.values.parentCode ? "type" : "parentCode", problem);
        ok = false;
      }
    }
    stack.delete(r);
    r.done = true;
    r.failed = !ok;
    return ok;
  };
  for (const r of rows) settle(r, new Set());

  const finalParentCode = (r: PlannedRow): string | null => (r.parent ? ("row" in r.parent ? r.parent.row.values.code : r.parent.unit.code) : null);

  // Spans of 联合党委 rows.
  const spans = new Map<string, string[]>();
  const villages = new Map<string, Existing>(found.filter((u) => u.kind === "VILLAGE").map((u) => [u.code, u]));
  for (const r of rows) {
    const codesHere = r.values.spanCodes;
    if (!codesHere) continue;
    if (r.failed) continue;
    if (r.kind !== "VILLAGE" || r.category !== JOINT_COMMITTEE) {
      err(r, "spans", "只有联合党委可以填写涵盖村，其他单位请留空。");
      r.failed = true;
      continue;
    }
    const town = finalParentCode(r);
    for (const vc of codesHere) {
      const vr = rowByCode.get(vc);
      if (vr) {
        if (vr.failed) err(r, "spans", `涵盖的“${vc}”（第 ${vr.raw.row} 行）有误，请先改正该行。`);
        else if (vr === r || vr.kind !== "VILLAGE" || vr.category === JOINT_COMMITTEE) err(r, "spans", `“${vc}”不是村（社区），联合党委只能涵盖村（社区）。`);
        else if (finalParentCode(vr) !== town) err(r, "spans", `“${vr.values.name}”（${vc}）与联合党委不在同一个乡镇。`);
        continue;
      }
      const vu = byCode.get(vc);
      if (!vu) err(r, "spans", `找不到涵盖的村“${vc}”，请填写村（社区）的单位编码。`);
      else if (!pathInScope(scope, vu.path)) err(r, "spans", `涵盖的“${vc}”不在您的管辖范围内。`);
      else if (!vu.active) err(r, "spans", `涵盖的“${vu.name}”（${vc}）已撤销。`);
      else if (!villages.has(vc) || vu.category === JOINT_COMMITTEE) err(r, "spans", `“${vu.name}”（${vc}）不是村（社区），联合党委只能涵盖村（社区）。`);
      else if (vu.parent?.code !== town) err(r, "spans", `“${vu.name}”（${vc}）与联合党委不在同一个乡镇。`);
    }
    if (r.errors.length) r.failed = true;
    else spans.set(r.values.code, codesHere);
  }
  // A move must not leave a 联合党委 spanning a village of another town (unless the file changes those spans too).
  for (const r of rows) {
    const e = r.existing;
    if (r.failed || !e || e.kind !== "VILLAGE") continue;
    const here = finalParentCode(r);
    if (e.category === JOINT_COMMITTEE && r.values.spanCodes == null) {
      for (const s of e.spans) {
        const vr = rowByCode.get(s.village.code);
        const villageTown = vr && !vr.failed ? finalParentCode(vr) : (s.village.parent?.code ?? null);
        if (villageTown !== here) err(r, "parentCode", `本联合党委涵盖的“${s.village.name}”将不在同一乡镇，请同时在“涵盖村”中调整本联合党委涵盖的村。`);
      }
    }
    for (const s of e.spannedBy) {
      const jr = rowByCode.get(s.joint.code);
      if (jr && !jr.failed && jr.values.spanCodes != null && !jr.values.spanCodes.includes(e.code)) continue;
      const jointTown = jr && !jr.failed ? finalParentCode(jr) : (s.joint.parent?.code ?? null);
      if (jointTown !== here) err(r, "parentCode", `联合党委“${s.joint.name}”涵盖本村，移到其他乡镇前请先在该联合党委的“涵盖村”中去掉本村。`);
    }
    if (r.errors.length) {
      r.failed = true;
      spans.delete(r.values.code);
    }
  }

  // A row under a row that failed only now (its spans, a broken span) fails as well.
  let again = true;
  while (again) {
    again = false;
    for (const r of rows) {
      if (!r.failed && r.parent && "row" in r.parent && r.parent.row.failed) {
        err(r, "parentCode", `上级单位“${r.parent.row.values.code}”（第 ${r.parent.row.raw.row} 行）有误，本行无法导入，请先改正上级单位。`);
        r.failed = true;
        spans.delete(r.values.code);
        again = true;
      }
    }
  }

  // What each row does, and the writes in parents-first order.
  const out: TreeRow[] = [];
  const writes: Write[] = [];
  const ordered: PlannedRow[] = [];
  const placed = new Set<PlannedRow>();
  const place = (r: PlannedRow) => {
    if (placed.has(r)) return;
    placed.add(r);
    if (r.parent && "row" in r.parent) place(r.parent.row);
    ordered.push(r);
  };
  for (const r of rows) if (!r.failed) place(r);
  const rowAction = new Map<PlannedRow, TreeRow>();
  for (const r of ordered) {
    const v = r.values;
    const base = { row: r.raw.row, code: v.code, name: v.name, kind: r.kind, category: r.category, parentCode: finalParentCode(r), errors: [] as RowIssue[] };
    if (!r.existing) {
      writes.push({ op: "create", code: v.code, name: v.name, kind: r.kind!, category: r.category, parentCode: finalParentCode(r)! });
      rowAction.set(r, { ...base, action: "create", unitId: null, changes: [] });
      continue;
    }
    const e = r.existing;
    const w: Extract<Write, { op: "update" }> = { op: "update", code: e.code, unitId: e.id };
    const changes: string[] = [];
    if (v.name !== e.name) (w.name = v.name), changes.push("单位名称");
    if (!sameCategory(e.kind, r.category, e.category)) (w.category = r.category), changes.push("类别");
    const pc = finalParentCode(r);
    if (pc != null && pc !== (e.parent?.code ?? null)) (w.parentCode = pc), changes.push("上级单位");
    const wanted = spans.get(v.code);
    if (wanted) {
      const had = e.spans.map((s) => s.village.code).sort();
      if (JSON.stringify([...wanted].sort()) !== JSON.stringify(had)) changes.push("涵盖村");
      else spans.delete(v.code);
    }
    if (changes.length) {
      writes.push(w);
      rowAction.set(r, { ...base, action: "update", unitId: e.id, changes });
    } else {
      rowAction.set(r, { ...base, action: "unchanged", unitId: e.id, changes: [] });
    }
  }
  for (const r of rows) {
    out.push(
      rowAction.get(r) ?? {
        row: r.raw.row,
        action: "error",
        code: r.values.code,
        name: r.values.name,
        kind: r.kind,
        category: r.category,
        parentCode: r.values.parentCode,
        unitId: r.existing?.id ?? null,
        changes: [],
        errors: r.errors.length ? r.errors : [{ column: TREE_COLUMNS.type, message: "本行无法导入，请核对。" }],
      },
    );
  }
  const count = (a: RowAction) => out.filter((x) => x.action === a).length;
  return {
    preview: {
      sheet: sheet.sheet,
      ignoredColumns: sheet.ignoredColumns,
      skippedExamples: sheet.skippedExamples,
      counts: { total: out.length, create: count("create"), update: count("update"), unchanged: count("unchanged"), error: count("error") },
      rows: out,
    },
    writes,
    spans,
  };
}

// ───────────────────────────── the two entry points ─────────────────────────────

/** Reads and checks the file and says what an import would do; writes nothing. */
export async function previewTreeImport(tx: Tx, scope: ScopeHolder, bytes: Buffer): Promise<TreePreview> {
  const sheet = await readSheet(bytes);
  return (await planRows(tx, scope, sheet)).preview;
}

/**
 * Imports the file: 409 ORG_IMPORT_HAS_ERRORS (with the counts and the error rows) when a row has an error and
 * `skipInvalid` is not set; otherwise every create, update and move in one transaction, audited (org.import).
 */
export async function importTree(prisma: PrismaClient, actor: OrgActor, bytes: Buffer, opts: { skipInvalid: boolean; filename?: string | null }): Promise<TreeImportResult> {
  const sheet = await readSheet(bytes);
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${TREE_LOCK}))`;
      const { preview, writes, spans } = await planRows(tx, actor, sheet);
      if (preview.counts.error > 0 && !opts.skipInvalid) {
        throw new AppError("ORG_IMPORT_HAS_ERRORS", `组织架构中有 ${preview.counts.error} 行有误，未导入任何数据。请按提示修改后重新上传，或选择“跳过有误的行”后导入其余的行。`, {
          counts: preview.counts,
          rows: preview.rows.filter((r) => r.action === "error"),
        });
      }
      const unitByCode = async (code: string) => tx.orgUnit.findUniqueOrThrow({ where: { code }, select: { id: true, path: true, depth: true } });
      const createdIds: number[] = [];
      const updatedIds: number[] = [];
      const movedIds: number[] = [];
      for (const w of writes) {
        if (w.op === "create") {
          const u = await insertUnit(tx, await unitByCode(w.parentCode), { code: w.code, name: w.name, kind: w.kind, category: w.category });
          createdIds.push(u.id);
          continue;
        }
        const data: Prisma.OrgUnitUpdateInput = {};
        if (w.name !== undefined) data.name = w.name;
        if (w.category !== undefined) data.category = w.category;
        if (Object.keys(data).length) await tx.orgUnit.update({ where: { id: w.unitId }, data });
        if (w.parentCode !== undefined) {
          await moveSubtree(tx, await unitByCode(w.code), await unitByCode(w.parentCode));
          movedIds.push(w.unitId);
        }
        updatedIds.push(w.unitId);
      }
      for (const [jointCode, villageCodes] of spans) {
        const joint = await unitByCode(jointCode);
        const villages = await tx.orgUnit.findMany({ where: { code: { in: villageCodes } }, select: { id: true } });
        await tx.orgSpan.deleteMany({ where: { jointId: joint.id } });
        await tx.orgSpan.createMany({ data: villages.map((v) => ({ jointId: joint.id, villageId: v.id })) });
        if (!updatedIds.includes(joint.id) && !createdIds.includes(joint.id)) updatedIds.push(joint.id);
      }
      if (movedIds.length) {
        const broken = await tx.$queryRaw<{ joint: string; village: string }[]>`
          SELECT j.name AS joint, v.name AS village FROM "OrgSpan" s
            JOIN "OrgUnit" j ON j.id = s."jointId" JOIN "OrgUnit" v ON v.id = s."villageId"
           WHERE (s."jointId" = ANY(${movedIds}::int[]) OR s."villageId" = ANY(${movedIds}::int[])) AND j."parentId" IS DISTINCT FROM v."parentId"`;
        if (broken.length) {
          throw new AppError("ORG_IMPORT_SPAN_BROKEN", `联合党委“${broken[0].joint}”涵盖的“${broken[0].village}”导入后将不在同一乡镇，未导入任何数据。请同时调整联合党委涵盖的村。`, { spans: broken });
        }
      }
      const result: TreeImportResult = {
        total: preview.counts.total,
        created: preview.counts.create,
        updated: preview.counts.update,
        unchanged: preview.counts.unchanged,
        skipped: preview.counts.error,
      };
      await audit(tx, {
        actorId: actor.cadreUserId,
        channel: actor.channel,
        action: "org.import",
        targetType: "OrgUnit",
        targetId: actor.orgPath?.split("/").filter(Boolean).pop(),
        requestId: actor.requestId,
        detail: {
          filename: opts.filename ?? null,
          ...result,
          skipInvalid: opts.skipInvalid,
          createdIds,
          updatedIds,
          movedIds,
          skippedRows: preview.rows.filter((r) => r.action === "error").map((r) => r.row),
          skippedExamples: preview.skippedExamples,
        },
      });
      return result;
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
}

// ───────────────────────────── the template ─────────────────────────────

const HELP: [string, string, string][] = [
  [TREE_COLUMNS.code, "必填", "单位编码，全系统唯一，1-32 位字母、数字、“-”或“_”（如 T01、T01-V03、T01-V03-B）。已有的编码表示修改该单位，新编码表示新建。"],
  [TREE_COLUMNS.name, "必填", "单位全称，如 东山镇、李家庄村、李家庄村党支部、第一党小组。"],
  [TREE_COLUMNS.type, "必填", `从下拉列表中选择：${TYPE_CHOICES.join("、")}（也可填 乡镇、村/社区、党支部 表示默认类别）。`],
  [TREE_COLUMNS.parentCode, "新单位必填", "上级单位的编码：可以是本文件中的另一行（行的顺序不限），也可以是“现有单位”表中的单位。已有单位留空表示不移动。"],
  [TREE_COLUMNS.spans, "选填", "仅联合党委填写：所涵盖的本乡镇村（社区）的编码，多个用“、”或“,”分隔。"],
  [TREE_COLUMNS.note, "选填", "备注，不导入。"],
];

const RULES_TEXT = [
  "1. 只读取第一个工作表；第一行为表头，请勿修改列名，空行会被忽略；一次最多 5000 行。",
  "2. 层级关系：县 → 乡镇（街道）→ 村（社区、联合党委）→ 党支部 → 党小组；产业、合作社、项目、网络、机关、联合党支部可直接建在乡镇或联合党委下。",
  "3. 上传后先预览：每行显示“新增”“更新”“无变化”或错误原因，确认无误后再导入；同一文件重复导入不会产生重复的单位。",
  "4. 下面的示例只用于说明填法，编码以 EXAMPLE- 开头的行不会被导入。请在“组织架构”表中填写实际的单位。",
];

const EXAMPLE_ROWS: string[][] = [
  ["EXAMPLE-T01", "东山镇", "镇", "（本县编码）", "", ""],
  ["EXAMPLE-T01-V01", "李家庄村", "村", "EXAMPLE-T01", "", ""],
  ["EXAMPLE-T01-V02", "王家湾村", "村", "EXAMPLE-T01", "", ""],
  ["EXAMPLE-T01-V01-B", "李家庄村党支部", "村党支部", "EXAMPLE-T01-V01", "", ""],
  ["EXAMPLE-T01-V01-B-G1", "第一党小组", "党小组", "EXAMPLE-T01-V01-B", "", ""],
  ["EXAMPLE-T01-J01", "东山片区联合党委", "联合党委", "EXAMPLE-T01", "EXAMPLE-T01-V01、EXAMPLE-T01-V02", "跨村联合"],
  ["EXAMPLE-T01-CY01", "东山柑橘产业党支部", "产业党支部", "EXAMPLE-T01", "", "功能型党支部"],
];

/** The template: 组织架构 (header only), 填写说明 (with the example, never imported), 现有单位 (units in scope). */
export async function treeTemplate(tx: Tx, scope: ScopeHolder, now = new Date()): Promise<Buffer> {
  const units = scope.orgPath
    ? await tx.orgUnit.findMany({
        where: { active: true, path: { startsWith: scope.orgPath }, kind: { not: "PARTY_GROUP" } },
        select: { code: true, name: true, kind: true, category: true, parent: { select: { code: true } } },
        orderBy: [{ path: "asc" }],
        take: TREE_MAX_ROWS,
      })
    : [];
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;

  const ws = wb.addWorksheet("组织架构", { views: [{ state: "frozen", ySplit: 1 }] });
  const widths: Record<ColumnKey, number> = { code: 20, name: 24, type: 14, parentCode: 20, spans: 30, note: 20 };
  ws.columns = COLUMN_ORDER.map((k) => ({ header: TREE_COLUMNS[k], key: k, width: widths[k] }));
  ws.getRow(1).eachCell((cell, col) => {
    const required = REQUIRED.includes(COLUMN_ORDER[col - 1]);
    cell.font = { bold: true, color: required ? { argb: "FFC00000" } : undefined };
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.alignment = { horizontal: "center" };
    cell.note = HELP[col - 1][2];
  });
  ws.getColumn("code").numFmt = "@";
  ws.getColumn("parentCode").numFmt = "@";
  const typeColumn = ws.getColumn("type").number;
  for (let r = 2; r <= VALIDATED_ROWS + 1; r++) {
    ws.getCell(r, typeColumn).dataValidation = { type: "list", allowBlank: true, formulae: [`"${TYPE_CHOICES.join(",")}"`], showErrorMessage: false };
  }

  const help = wb.addWorksheet("填写说明");
  help.columns = [{ width: 22 }, { width: 22 }, { width: 80 }, { width: 20 }, { width: 34 }, { width: 14 }];
  help.addRow(["列名", "是否必填", "说明"]).font = { bold: true };
  for (const h of HELP) help.addRow(h);
  help.addRow([]);
  for (const line of RULES_TEXT) help.addRow([line]);
  help.addRow([]);
  help.addRow(["示例（仅供参考，不会被导入）"]).font = { bold: true };
  help.addRow(COLUMN_ORDER.map((k) => TREE_COLUMNS[k])).font = { bold: true };
  for (const e of EXAMPLE_ROWS) help.addRow(e).font = { italic: true, color: { argb: "FF808080" } };

  const existing = wb.addWorksheet("现有单位");
  existing.columns = [{ header: "单位编码", width: 20 }, { header: "单位名称", width: 28 }, { header: "类型", width: 14 }, { header: "上级单位编码", width: 20 }];
  existing.getRow(1).font = { bold: true };
  for (const u of units) existing.addRow([u.code, u.name, typeLabel(u.kind, u.category), u.parent?.code ?? ""]);

  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}
