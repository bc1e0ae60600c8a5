// 党员名单 Excel 导入: the template, and parse → validate → plan → apply. The preview and the import run the same
// planner, so what the preview shows is exactly what the import writes (re-planned inside the writing transaction,
// under an advisory lock, so two imports at once cannot both create the same member).
//
// Rules (the template's 填写说明 sheet says the same to the people filling it in):
// - First worksheet; the header row is the first row (of the first 5) that has a 姓名 cell. Required columns 姓名 and
//   所属支部; unknown columns are ignored; empty rows are skipped. At most MAX_ROWS data rows.
// - 所属支部: the branch's code, or its exact name when that is unique among the branches in the caller's scope.
//   Inactive units do not exist; a unit elsewhere in the tree is "不在您的管辖范围内"; a unit that is not a BRANCH is an error.
// - Matching an existing member (current roster only: ACTIVE / PROBATIONARY): same branch, same name, and the same
//   phone — or the phone blank on either side and exactly one current member of that name in the branch.
// - On an update a blank optional cell keeps what is on file (职务 "无" clears the posts); on a create 性别 defaults to
//   未知 and 党员类别 to 正式党员.
// - A later row naming the same person (same branch and name, phones equal or one blank; or the same matched member)
//   is an error on the later row.
// - A row matching no one in its branch but a current member of ANOTHER branch with the same name and the same phone
//   is that member moving (组织关系转接, action "transfer" with from → to): importing applies the transfer through
//   core/org/members.ts (the old stint closed now, the past meetings keep their 应到), not a second person. Receiving
//   from outside the caller's subtree needs a town admin or above, as in the console.
// - The template's example row (exactly as the template writes it, whatever the branch) is never imported: it is
//   shown as action "example" and skipped.
import { maskPhone } from "../complaints/view.ts";
import ExcelJS from "exceljs";
import { cellText, readImportSheet, type RawRow as SheetRow } from "./excel-import.ts";
import { audit } from "../audit.ts";
import type { Gender, MemberStatus, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope, type ScopeHolder } from "./scope.ts";
import { mayReceiveFrom, receivingRoot, transferMemberIn } from "./members.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export const MAX_ROWS = 5000;
/** Rows of the file before the header that may hold a title. */
/** Rows of the template with the 性别 / 党员类别 drop-downs. */
const VALIDATED_ROWS = 1000;

export const COLUMNS = {
  name: "姓名",
  gender: "性别",
  phone: "手机号",
  branch: "所属支部",
  partyGroup: "党小组",
  birthYear: "出生年份",
  joinedPartyOn: "入党日期",
  status: "党员类别",
  posts: "职务",
} as const;
export type ColumnKey = keyof typeof COLUMNS;
const REQUIRED: ColumnKey[] = ["name", "branch"];
const COLUMN_ORDER = Object.keys(COLUMNS) as ColumnKey[];

/** Labels of the fields an update may change (RosterRow.changes). */
const FIELD_LABEL = {
  gender: "性别",
  phone: "手机号",
  partyGroupId: "党小组",
  birthYear: "出生年份",
  joinedPartyOn: "入党日期",
  status: "党员类别",
  posts: "职务",
} as const;

// ───────────────────────────── errors ─────────────────────────────

export const rosterFileMissing = () => new AppError("ROSTER_FILE_MISSING");

// ───────────────────────────── the answer ─────────────────────────────

export type RowAction = "create" | "update" | "transfer" | "unchanged" | "example" | "error";

export interface RowIssue {
  /** The column header (姓名, 手机号, …). */
  column: string;
  message: string;
}

export interface RosterRow {
  /** Row number in the worksheet, as Excel shows it. */
  row: number;
  name: string;
  branch: { id: number; name: string } | null;
  action: RowAction;
  /** The member that would be updated (or is unchanged); null for creates and errors. */
  memberId: number | null;
  errors: RowIssue[];
  /** For updates and transfers: labels of the fields that change (支部, 手机号, 党小组…). */
  changes: string[];
  /** For transfers: the member's branch now and the one the row moves them to. */
  transfer: { from: BranchRef; to: BranchRef } | null;
  /** Why a row is skipped without being an error (the template's example row). */
  note: string | null;
}

export interface BranchRef {
  id: number;
  code: string;
  name: string;
}

export interface RosterCounts {
  total: number;
  create: number;
  update: number;
  transfer: number;
  unchanged: number;
  example: number;
  error: number;
}

export interface RosterPreview {
  sheet: string;
  /** Headers found but not used. */
  ignoredColumns: string[];
  counts: RosterCounts;
  rows: RosterRow[];
}

export interface RosterImportResult {
  total: number;
  created: number;
  updated: number;
  transferred: number;
  unchanged: number;
  /** Rows with errors (skipInvalid) and the template's example row. */
  skipped: number;
}

// ───────────────────────────── reading the workbook ─────────────────────────────

type RawRow = SheetRow<ColumnKey>;

/** "姓名*", "姓名（必填）", " 手机 号 " → the column it names, if any. */
function columnOf(header: string): ColumnKey | undefined {
  const h = header.replace(/\s+/g, "").replace(/[*＊]/g, "").replace(/[（(][^）)]*[）)]$/, "");
  const aliases: Record<string, ColumnKey> = { 手机: "phone", 电话: "phone", 联系电话: "phone", 手机号码: "phone", 支部: "branch", 所在支部: "branch", 支部编码: "branch", 所在党小组: "partyGroup", 出生年: "birthYear" };
  return (COLUMN_ORDER.find((k) => COLUMNS[k] === h) as ColumnKey | undefined) ?? aliases[h];
}

async function readSheet(bytes: Buffer) {
  const sheet = await readImportSheet(bytes, {
    codePrefix: "ROSTER",
    template: "名单模板",
    contents: "党员信息",
    columnOf,
    headerKey: "name",
    titles: COLUMNS,
    order: COLUMN_ORDER,
    required: REQUIRED,
    maxRows: MAX_ROWS,
    splitHint: "请把名单拆成几个文件分批导入。",
  });
  if (sheet.rows.length === 0) throw new AppError("ROSTER_EMPTY");
  return sheet;
}

// ───────────────────────────── one cell at a time ─────────────────────────────

interface Posts {
  isSecretary: boolean;
  isCommittee: boolean;
  isGroupLeader: boolean;
}

/** What a row says, each field undefined when its cell is blank. */
interface RowValues {
  name: string;
  branchKey: string;
  partyGroupKey?: string;
  gender?: Gender;
  phone?: string;
  birthYear?: number;
  /** YYYY-MM-DD. */
  joinedPartyOn?: string;
  status?: MemberStatus;
  posts?: Posts;
}

const MOBILE = /^1[3-9]\d{9}$/;
const POST_WORDS: Record<string, keyof Posts> = { 书记: "isSecretary", 支部书记: "isSecretary", 党支部书记: "isSecretary", 委员: "isCommittee", 支委: "isCommittee", 支部委员: "isCommittee", 党小组长: "isGroupLeader", 组长: "isGroupLeader" };

function parsePhone(v: unknown): string | RowIssue {
  const raw = typeof v === "number" ? String(v) : cellText(v);
  const digits = raw.replace(/[\s\-－—()（）]/g, "").replace(/^(\+?86)(?=1\d{10}$)/, "");
  if (!MOBILE.test(digits)) return { column: COLUMNS.phone, message: `手机号“${raw}”有误，请填写 11 位大陆手机号（如 13800001234），不知道可留空。` };
  return digits;
}

const pad = (n: number) => String(n).padStart(2, "0");

function validDate(y: number, m: number, d: number): string | undefined {
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return undefined;
  return `${y}-${pad(m)}-${pad(d)}`;
}

function parseJoinDate(v: unknown, today: string): string | RowIssue {
  let iso: string | undefined;
  if (v instanceof Date) {
    // Excel dates carry no zone; exceljs gives them as UTC midnight of the day.
    iso = validDate(v.getUTCFullYear(), v.getUTCMonth() + 1, v.getUTCDate());
  } else if (typeof v === "number" && v > 1 && v < 100_000 && Number.isInteger(v)) {
    // A date cell whose format was lost: the Excel serial (days since 1899-12-30).
    const dt = new Date(Date.UTC(1899, 11, 30) + v * 86_400_000);
    iso = validDate(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate());
  } else {
    const m = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$/.exec(cellText(v)) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(cellText(v));
    if (m) iso = validDate(Number(m[1]), Number(m[2]), Number(m[3]));
  }
  const shown = v instanceof Date ? v.toISOString().slice(0, 10) : cellText(v);
  if (!iso) return { column: COLUMNS.joinedPartyOn, message: `入党日期“${shown}”无法识别，请填写如 2010-07-01 或 2010/7/1 的日期。` };
  if (iso < "1921-07-01" || iso > today) return { column: COLUMNS.joinedPartyOn, message: `入党日期“${iso}”不在合理范围内（1921-07-01 至今天），请核对。` };
  return iso;
}

function parseRow(raw: RawRow, thisYear: number, today: string): { values: RowValues; errors: RowIssue[] } {
  const c = raw.cells;
  const errors: RowIssue[] = [];
  // "张 三" is 张三; "Maria Li" keeps its one space.
  const name = cellText(c.name).replace(/\s+/g, " ").replace(/(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])/g, "");
  if (!name) errors.push({ column: COLUMNS.name, message: "姓名不能为空。" });
  else if (name.length > 30) errors.push({ column: COLUMNS.name, message: "姓名最多 30 个字，请核对。" });
  const branchKey = cellText(c.branch);
  if (!branchKey) errors.push({ column: COLUMNS.branch, message: "所属支部不能为空，请填写支部编码或支部全称。" });
  const values: RowValues = { name, branchKey };

  if (c.gender != null) {
    const g = cellText(c.gender);
    if (g === "男" || g === "男性") values.gender = "MALE";
    else if (g === "女" || g === "女性") values.gender = "FEMALE";
    else errors.push({ column: COLUMNS.gender, message: `性别“${g}”有误，请填写“男”或“女”，不确定可留空。` });
  }
  if (c.phone != null) {
    const p = parsePhone(c.phone);
    if (typeof p === "string") values.phone = p;
    else errors.push(p);
  }
  if (c.partyGroup != null) values.partyGroupKey = cellText(c.partyGroup);
  if (c.birthYear != null) {
    const text = c.birthYear instanceof Date ? String(c.birthYear.getUTCFullYear()) : cellText(c.birthYear).replace(/年$/, "");
    const y = Number(text);
    if (!/^\d{4}$/.test(text) || y < 1900 || y > thisYear) errors.push({ column: COLUMNS.birthYear, message: `出生年份“${cellText(c.birthYear)}”有误，请填写 1900 至 ${thisYear} 之间的四位年份（如 1975）。` });
    else values.birthYear = y;
  }
  if (c.joinedPartyOn != null) {
    const d = parseJoinDate(c.joinedPartyOn, today);
    if (typeof d === "string") values.joinedPartyOn = d;
    else errors.push(d);
  }
  if (values.birthYear && values.joinedPartyOn && Number(values.joinedPartyOn.slice(0, 4)) < values.birthYear + 14) {
    errors.push({ column: COLUMNS.joinedPartyOn, message: `入党日期 ${values.joinedPartyOn} 与出生年份 ${values.birthYear} 不符，请核对。` });
  }
  if (c.status != null) {
    const s = cellText(c.status);
    if (s === "正式党员" || s === "正式") values.status = "ACTIVE";
    else if (s === "预备党员" || s === "预备") values.status = "PROBATIONARY";
    else errors.push({ column: COLUMNS.status, message: `党员类别“${s}”有误，请填写“正式党员”或“预备党员”（留空为正式党员）。` });
  }
  if (c.posts != null) {
    const text = cellText(c.posts);
    const posts: Posts = { isSecretary: false, isCommittee: false, isGroupLeader: false };
    if (text !== "无") {
      const unknown: string[] = [];
      for (const word of text.split(/[、,，;；/\s]+/).filter(Boolean)) {
        const key = POST_WORDS[word];
        if (key) posts[key] = true;
        else unknown.push(word);
      }
      if (unknown.length) errors.push({ column: COLUMNS.posts, message: `职务“${unknown.join("、")}”无法识别，只能填写 书记、委员、党小组长（多个用“、”分隔），没有职务可填“无”。` });
    }
    values.posts = posts;
  }
  return { values, errors };
}

// ───────────────────────────── the example row ─────────────────────────────

/** The template's example row (its branch and party group are the caller's first ones, so they are not compared). */
const EXAMPLE = { name: "张三", gender: "MALE", phone: "13800001234", birthYear: 1975, joinedPartyOn: "2010-07-01", status: "ACTIVE" } as const;

function isExampleRow(v: RowValues): boolean {
  return (
    v.name === EXAMPLE.name &&
    v.gender === EXAMPLE.gender &&
    v.phone === EXAMPLE.phone &&
    v.birthYear === EXAMPLE.birthYear &&
    v.joinedPartyOn === EXAMPLE.joinedPartyOn &&
    v.status === EXAMPLE.status &&
    (v.posts === undefined || (!v.posts.isSecretary && !v.posts.isCommittee && !v.posts.isGroupLeader))
  );
}

const EXAMPLE_NOTE = "这是模板中的示例行，不会导入。请删除或改为实际党员的信息。";

// ───────────────────────────── planning ─────────────────────────────

interface UnitRow {
  id: number;
  code: string;
  name: string;
  kind: string;
  path: string;
  active: boolean;
  parentId: number | null;
}

interface MemberRow {
  id: number;
  name: string;
  branchId: number;
  partyGroupId: number | null;
  phone: string | null;
  gender: Gender;
  birthYear: number | null;
  joinedPartyOn: Date | null;
  status: MemberStatus;
  isSecretary: boolean;
  isCommittee: boolean;
  isGroupLeader: boolean;
}

export type PlannedWrite =
  | { kind: "create"; data: Prisma.MemberCreateManyInput }
  | { kind: "update"; memberId: number; data: Prisma.MemberUpdateInput; changes: string[] }
  | { kind: "transfer"; memberId: number; toBranchId: number; partyGroupId: number | null; data: Prisma.MemberUpdateInput; changes: string[] };

interface Plan {
  preview: RosterPreview;
  /** Writes for the create/update rows, by row number. */
  writes: Map<number, PlannedWrite>;
}

const KIND_LABEL: Record<string, string> = { COUNTY: "县", TOWN: "乡镇", VILLAGE: "村/社区", BRANCH: "党支部", PARTY_GROUP: "党小组" };
const CURRENT: MemberStatus[] = ["ACTIVE", "PROBATIONARY"];
const MEMBER_SELECT = {
  id: true,
  name: true,
  branchId: true,
  partyGroupId: true,
  phone: true,
  gender: true,
  birthYear: true,
  joinedPartyOn: true,
  status: true,
  isSecretary: true,
  isCommittee: true,
  isGroupLeader: true,
} as const;

/** What a row changes on a member on file: the update's data and the labels of the fields. */
function diffOf(match: MemberRow, values: RowValues, partyGroupId: number | undefined): { data: Prisma.MemberUpdateInput; changes: string[] } {
  const data: Prisma.MemberUpdateInput = {};
  const changes: string[] = [];
  if (values.gender && values.gender !== match.gender) (data.gender = values.gender), changes.push(FIELD_LABEL.gender);
  if (values.phone && values.phone !== match.phone) (data.phone = values.phone), changes.push(FIELD_LABEL.phone);
  if (partyGroupId !== undefined && partyGroupId !== match.partyGroupId) (data.partyGroup = { connect: { id: partyGroupId } }), changes.push(FIELD_LABEL.partyGroupId);
  if (values.birthYear !== undefined && values.birthYear !== match.birthYear) (data.birthYear = values.birthYear), changes.push(FIELD_LABEL.birthYear);
  if (values.joinedPartyOn && values.joinedPartyOn !== dateKey(match.joinedPartyOn)) (data.joinedPartyOn = new Date(`${values.joinedPartyOn}T00:00:00Z`)), changes.push(FIELD_LABEL.joinedPartyOn);
  if (values.status && values.status !== match.status) (data.status = values.status), changes.push(FIELD_LABEL.status);
  if (values.posts && (values.posts.isSecretary !== match.isSecretary || values.posts.isCommittee !== match.isCommittee || values.posts.isGroupLeader !== match.isGroupLeader)) {
    Object.assign(data, values.posts);
    changes.push(FIELD_LABEL.posts);
  }
  return { data, changes };
}
const dateKey = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : null);

/** "today" and this year on the Shanghai clock. */
function shanghaiToday(now: Date) {
  const local = new Date(now.getTime() + 8 * 3600_000);
  return { today: local.toISOString().slice(0, 10), year: local.getUTCFullYear() };
}

type BranchResolution = { ok: UnitRow } | { error: string };

/** Branch code or name → the branch, or why not (see the file comment). */
function resolveBranch(key: string, units: UnitRow[], scope: ScopeHolder): BranchResolution {
  const byCode = units.find((u) => u.code === key);
  const check = (u: UnitRow): BranchResolution => {
    if (!u.active) return { error: `“${key}”已撤销，请核对所属支部。` };
    if (!pathInScope(scope, u.path)) return { error: `“${key}”不在您的管辖范围内，不能导入该支部的党员。` };
    if (u.kind !== "BRANCH") return { error: `“${u.name}”是${KIND_LABEL[u.kind] ?? "组织"}，不是党支部，请填写党支部的编码或全称。` };
    return { ok: u };
  };
  if (byCode) return check(byCode);
  const named = units.filter((u) => u.name === key && u.active);
  const branchesInScope = named.filter((u) => u.kind === "BRANCH" && pathInScope(scope, u.path));
  if (branchesInScope.length === 1) return { ok: branchesInScope[0] };
  if (branchesInScope.length > 1) return { error: `您的管辖范围内有 ${branchesInScope.length} 个名为“${key}”的支部，请改填支部编码。` };
  if (named.length > 0) return check(named.find((u) => u.kind === "BRANCH") ?? named[0]);
  return { error: `找不到支部“${key}”，请填写支部编码或支部全称（可在模板的“支部编码”表中查到）。` };
}

/** Everything the preview shows and the import writes; reads only. */
async function planRows(tx: Tx, scope: ScopeHolder, sheet: Awaited<ReturnType<typeof readSheet>>, now: Date): Promise<Plan> {
  const { today, year } = shanghaiToday(now);
  const parsed = sheet.rows.map((raw) => ({ raw, ...parseRow(raw, year, today) }));

  const keys = [...new Set(parsed.map((p) => p.values.branchKey).filter(Boolean))];
  const units: UnitRow[] = keys.length
    ? await tx.orgUnit.findMany({
        where: { OR: [{ code: { in: keys } }, { name: { in: keys } }] },
        select: { id: true, code: true, name: true, kind: true, path: true, active: true, parentId: true },
      })
    : [];
  const resolved = new Map(keys.map((k) => [k, resolveBranch(k, units, scope)]));
  const branchIds = [...new Set([...resolved.values()].flatMap((r) => ("ok" in r ? [r.ok.id] : [])))];
  const [groups, members] = branchIds.length
    ? await Promise.all([
        tx.orgUnit.findMany({ where: { kind: "PARTY_GROUP", active: true, parentId: { in: branchIds } }, select: { id: true, code: true, name: true, parentId: true } }),
        tx.member.findMany({
          where: { branchId: { in: branchIds }, status: { in: CURRENT } },
          select: MEMBER_SELECT,
          orderBy: { id: "asc" },
        }),
      ])
    : [[], []];
  // Current members elsewhere with a phone of the file: a row naming one of them (same name and phone) is a transfer.
  const phones = [...new Set(parsed.flatMap((p) => (p.values.phone ? [p.values.phone] : [])))];
  const phoned = phones.length
    ? await tx.member.findMany({
        where: { phone: { in: phones }, status: { in: CURRENT } },
        select: { ...MEMBER_SELECT, branch: { select: { id: true, code: true, name: true, path: true } } },
        orderBy: { id: "asc" },
      })
    : [];
  const root = phoned.length ? await receivingRoot(tx, scope) : null;
  const membersByKey = new Map<string, MemberRow[]>();
  for (const m of members) {
    const k = `${m.branchId}\u0000${m.name}`;
    membersByKey.set(k, [...(membersByKey.get(k) ?? []), m]);
  }

  const rows: RosterRow[] = [];
  const writes = new Map<number, PlannedWrite>();
  /** Rows already planned, by branch and name (for duplicates within the file). */
  const seen = new Map<string, { row: number; phone?: string; memberId: number | null }[]>();

  for (const { raw, values, errors } of parsed) {
    const r = resolved.get(values.branchKey);
    const branch = r && "ok" in r ? r.ok : null;
    if (isExampleRow(values)) {
      rows.push({ row: raw.row, name: values.name, branch: branch ? { id: branch.id, name: branch.name } : null, action: "example", memberId: null, errors: [], changes: [], transfer: null, note: EXAMPLE_NOTE });
      continue;
    }
    if (r && "error" in r) errors.push({ column: COLUMNS.branch, message: r.error });

    let partyGroupId: number | undefined;
    if (branch && values.partyGroupKey) {
      const g = groups.filter((x) => x.parentId === branch.id && (x.name === values.partyGroupKey || x.code === values.partyGroupKey));
      if (g.length === 1) partyGroupId = g[0].id;
      else if (g.length > 1) errors.push({ column: COLUMNS.partyGroup, message: `“${branch.name}”有多个名为“${values.partyGroupKey}”的党小组，请改填党小组编码。` });
      else errors.push({ column: COLUMNS.partyGroup, message: `“${branch.name}”下没有名为“${values.partyGroupKey}”的党小组，请核对（不分党小组可留空）。` });
    }

    // Which member this row is, if any.
    let match: MemberRow | null = null;
    let moving: (MemberRow & { branch: { id: number; code: string; name: string; path: string } }) | null = null;
    if (branch && values.name) {
      const same = membersByKey.get(`${branch.id}\u0000${values.name}`) ?? [];
      if (values.phone) match = same.find((m) => m.phone === values.phone) ?? null;
      if (!match && same.length === 1 && (!values.phone || !same[0].phone)) match = same[0];
      if (!match && !values.phone && same.length > 1) {
        errors.push({ column: COLUMNS.phone, message: `“${branch.name}”名单中有 ${same.length} 名叫“${values.name}”的党员，请填写手机号以便区分。` });
      }
      // Same name, another phone: a second person of that name or a changed number; guessing either way loses data.
      if (!match && values.phone && same.length > 0 && same.every((m) => m.phone && m.phone !== values.phone)) {
        errors.push({
          column: COLUMNS.phone,
          message: `“${branch.name}”名单中已有“${values.name}”（手机号 ${same.map((m) => maskPhone(m.phone)).join("、")}），与本行手机号不同。如是同一人，请填写名单上的手机号；如是另一名同名党员，请在姓名后加注区分，例如“${values.name}（二组）”。`,
        });
      }
      // Nobody of that name here, but the same name and phone in another branch: the member is moving here.
      if (!match && values.phone && same.length === 0) {
        const there = phoned.filter((m) => m.name === values.name && m.phone === values.phone && m.branchId !== branch.id);
        if (there.length > 1) {
          errors.push({ column: COLUMNS.phone, message: `“${values.name}”（手机号 ${maskPhone(values.phone)}）同时在 ${there.map((m) => `「${m.branch.name}」`).join("、")} 的名单中，请先在管理后台核对后再导入。` });
        } else if (there.length === 1) {
          moving = there[0];
          if (!pathInScope(scope, moving.branch.path) && !hasRoleAtLeast(scope, "TOWN_ADMIN")) {
            errors.push({ column: COLUMNS.branch, message: `“${values.name}”（手机号 ${maskPhone(values.phone)}）目前在「${moving.branch.name}」，不在您的管辖范围内；组织关系转入请联系乡镇管理员办理。` });
          } else if (!mayReceiveFrom(scope, root, moving.branch.path)) {
            // The same rule as the console's transfer: receiving only within the caller's county.
            errors.push({ column: COLUMNS.branch, message: `“${values.name}”（手机号 ${maskPhone(values.phone)}）目前在「${moving.branch.name}」，不在您所在县（区）的范围内，不能转入；跨县（区）的组织关系转接请由该党员所在县（区）的管理员办理。` });
          }
        }
      }
      // Duplicates within the file: the later row is the error.
      const key = `${branch.id}\u0000${values.name}`;
      const earlier = seen.get(key) ?? [];
      const known = match ?? moving;
      const dup = earlier.find((s) => (known && s.memberId === known.id) || !s.phone || !values.phone || s.phone === values.phone);
      if (dup) errors.push({ column: COLUMNS.name, message: `与第 ${dup.row} 行是同一名党员（同一支部、同名${dup.phone && values.phone ? "、同手机号" : ""}），请删除重复的行。` });
      seen.set(key, [...earlier, { row: raw.row, phone: values.phone, memberId: known?.id ?? null }]);
    }

    const base = { row: raw.row, name: values.name, branch: branch ? { id: branch.id, name: branch.name } : null, transfer: null, note: null };
    if (errors.length) {
      rows.push({ ...base, branch: base.branch, action: "error", memberId: null, errors, changes: [] });
      continue;
    }
    const b = branch!;
    if (moving) {
      // The transfer leaves the old branch's posts behind: the row's 职务 (if any) applies in the new branch.
      const { data, changes } = diffOf({ ...moving, partyGroupId: null, isSecretary: false, isCommittee: false, isGroupLeader: false }, values, undefined);
      const labels = ["支部", ...(partyGroupId !== undefined ? [FIELD_LABEL.partyGroupId] : []), ...changes];
      writes.set(raw.row, { kind: "transfer", memberId: moving.id, toBranchId: b.id, partyGroupId: partyGroupId ?? null, data, changes: labels });
      rows.push({
        ...base,
        action: "transfer",
        memberId: moving.id,
        errors: [],
        changes: labels,
        transfer: { from: { id: moving.branch.id, code: moving.branch.code, name: moving.branch.name }, to: { id: b.id, code: b.code, name: b.name } },
      });
      continue;
    }
    if (!match) {
      writes.set(raw.row, {
        kind: "create",
        data: {
          name: values.name,
          branchId: b.id,
          partyGroupId: partyGroupId ?? null,
          phone: values.phone ?? null,
          gender: values.gender ?? "UNKNOWN",
          birthYear: values.birthYear ?? null,
          joinedPartyOn: values.joinedPartyOn ? new Date(`${values.joinedPartyOn}T00:00:00Z`) : null,
          status: values.status ?? "ACTIVE",
          isSecretary: values.posts?.isSecretary ?? false,
          isCommittee: values.posts?.isCommittee ?? false,
          isGroupLeader: values.posts?.isGroupLeader ?? false,
        },
      });
      rows.push({ ...base, action: "create", memberId: null, errors: [], changes: [] });
      continue;
    }
    const { data, changes } = diffOf(match, values, partyGroupId);
    if (changes.length) {
      writes.set(raw.row, { kind: "update", memberId: match.id, data, changes });
      rows.push({ ...base, action: "update", memberId: match.id, errors: [], changes });
    } else {
      rows.push({ ...base, action: "unchanged", memberId: match.id, errors: [], changes: [] });
    }
  }

  const count = (a: RowAction) => rows.filter((x) => x.action === a).length;
  return {
    preview: { sheet: sheet.sheet, ignoredColumns: sheet.ignoredColumns, counts: {
        total: rows.length,
        create: count("create"),
        update: count("update"),
        transfer: count("transfer"),
        unchanged: count("unchanged"),
        example: count("example"),
        error: count("error"),
      }, rows },
    writes,
  };
}

// ───────────────────────────── the two entry points ─────────────────────────────

/** Reads and checks the file and says what an import would do; writes nothing. */
export async function previewRosterImport(tx: Tx, scope: ScopeHolder, bytes: Buffer, now = new Date()): Promise<RosterPreview> {
  const sheet = await readSheet(bytes);
  return (await planRows(tx, scope, sheet, now)).preview;
}

export interface RosterActor extends ScopeHolder {
  cadreUserId: number;
  channel: string;
  requestId?: string;
}

/**
 * Imports the file: 409 ROSTER_HAS_ERRORS (with the counts and the error rows) when a row has an error and
 * `skipInvalid` is not set; otherwise every create and update in one transaction, audited.
 */
export async function importRoster(prisma: PrismaClient, actor: RosterActor, bytes: Buffer, opts: { skipInvalid: boolean; filename?: string | null }, now = new Date()): Promise<RosterImportResult> {
  const sheet = await readSheet(bytes);
  return prisma.$transaction(
    async (tx) => {
      // One import at a time: the plan is made from what is on file, so a concurrent one must wait for this one.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('netbranch:roster-import'))`;
      const { preview, writes } = await planRows(tx, actor, sheet, now);
      if (preview.counts.error > 0 && !opts.skipInvalid) {
        throw new AppError("ROSTER_HAS_ERRORS", `名单中有 ${preview.counts.error} 行有误，未导入任何数据。请按提示修改后重新上传，或选择“跳过有误的行”后导入其余的行。`, {
          counts: preview.counts,
          rows: preview.rows.filter((r) => r.action === "error"),
        });
      }
      const creates = [...writes.values()].flatMap((w) => (w.kind === "create" ? [w.data] : []));
      const updates = [...writes.values()].flatMap((w) => (w.kind === "update" ? [w] : []));
      const transfers = [...writes.values()].flatMap((w) => (w.kind === "transfer" ? [w] : []));
      if (creates.length) await tx.member.createMany({ data: creates });
      for (const u of updates) await tx.member.update({ where: { id: u.memberId }, data: u.data });
      // The same transfer as the console's (stint closed now, audited per member), then the row's other facts.
      for (const t of transfers) {
        await transferMemberIn(tx, actor, t.memberId, { toBranchId: t.toBranchId, partyGroupId: t.partyGroupId, reason: "名单导入" }, now);
        if (Object.keys(t.data).length) await tx.member.update({ where: { id: t.memberId }, data: t.data });
      }
      const result: RosterImportResult = {
        total: preview.counts.total,
        created: creates.length,
        updated: updates.length,
        transferred: transfers.length,
        unchanged: preview.counts.unchanged,
        skipped: preview.counts.error + preview.counts.example,
      };
      await audit(tx, {
        actorId: actor.cadreUserId,
        channel: actor.channel,
        action: "roster.import",
        targetType: "OrgUnit",
        targetId: actor.orgPath?.split("/").filter(Boolean).pop(),
        requestId: actor.requestId,
        detail: {
          filename: opts.filename ?? null,
          ...result,
          skipInvalid: opts.skipInvalid,
          branchIds: [...new Set(preview.rows.filter((r) => r.action === "create" || r.action === "update" || r.action === "transfer").map((r) => r.branch!.id))],
          updatedMemberIds: updates.map((u) => u.memberId),
          transferredMemberIds: transfers.map((t) => t.memberId),
          skippedRows: preview.rows.filter((r) => r.action === "error").map((r) => r.row),
        },
      });
      return result;
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
}

// ───────────────────────────── the template ─────────────────────────────

const HELP: [string, string, string][] = [
  [COLUMNS.name, "必填", "党员姓名，与名单一致。"],
  [COLUMNS.gender, "选填", "男 或 女。"],
  [COLUMNS.phone, "选填", "11 位大陆手机号，用于“我是 姓名 手机后四位”认领身份；同一支部有同名党员时必须填写以便区分。"],
  [COLUMNS.branch, "必填", "党支部编码（见“支部编码”表）或支部全称；只能填写您管辖范围内的党支部。"],
  [COLUMNS.partyGroup, "选填", "该支部下党小组的名称（如 第一党小组）；不分党小组可留空。"],
  [COLUMNS.birthYear, "选填", "四位年份，如 1975。"],
  [COLUMNS.joinedPartyOn, "选填", "日期，如 2010-07-01 或 2010/7/1（也可以是 Excel 日期格式的单元格）。"],
  [COLUMNS.status, "选填", "正式党员 或 预备党员；新党员留空按正式党员。"],
  [COLUMNS.posts, "选填", "书记、委员、党小组长，多个用“、”分隔；没有职务可填“无”。"],
];

const RULES_TEXT = [
  "1. 只读取第一个工作表；第一行为表头，请勿修改列名，空行会被忽略；一次最多 5000 行。",
  "2. 已在名单中的党员（同一支部、同名，且手机号相同，或一方未填手机号且该支部只有一名同名党员）会被更新；其他支部有同名同手机号的党员时，按组织关系转接办理（原支部的记录保留）；其他的会新增。",
  "   “党员名单”表第 2 行是示例（灰色），原样保留时不会导入，可直接覆盖或删除。",
  "3. 更新已有党员时，留空的选填项保持原有内容不变；要清除职务请填“无”。",
  "4. 上传后先预览：每行会显示“新增”“更新”“无变化”或错误原因，确认无误后再导入；有错误的行可修改后重新上传，或选择跳过。",
];

/** The template: 党员名单 (header + one example row), 填写说明, and the branches in the caller's scope with their codes. */
export async function rosterTemplate(tx: Tx, scope: ScopeHolder, now = new Date()): Promise<Buffer> {
  const branches = scope.orgPath
    ? await tx.orgUnit.findMany({
        where: { kind: "BRANCH", active: true, path: { startsWith: scope.orgPath } },
        select: { id: true, code: true, name: true, children: { where: { kind: "PARTY_GROUP", active: true }, select: { name: true }, orderBy: { code: "asc" } } },
        orderBy: [{ path: "asc" }],
        take: MAX_ROWS,
      })
    : [];
  const wb = new ExcelJS.Workbook();
  wb.creator = "netbranch";
  wb.created = now;

  const ws = wb.addWorksheet("党员名单", { views: [{ state: "frozen", ySplit: 1 }] });
  const widths: Record<ColumnKey, number> = { name: 12, gender: 8, phone: 16, branch: 24, partyGroup: 14, birthYear: 10, joinedPartyOn: 14, status: 12, posts: 18 };
  ws.columns = COLUMN_ORDER.map((k) => ({ header: COLUMNS[k], key: k, width: widths[k] }));
  const header = ws.getRow(1);
  header.eachCell((cell, col) => {
    const required = REQUIRED.includes(COLUMN_ORDER[col - 1]);
    cell.font = { bold: true, color: required ? { argb: "FFC00000" } : undefined };
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.alignment = { horizontal: "center" };
    cell.note = HELP[col - 1][2];
  });
  const example = branches[0];
  // Recognised by isExampleRow and never imported, even when uploaded as it is.
  const exampleRow = ws.addRow({
    name: EXAMPLE.name,
    gender: "男",
    phone: EXAMPLE.phone,
    branch: example?.code ?? "（支部编码）",
    partyGroup: example?.children[0]?.name ?? "",
    birthYear: EXAMPLE.birthYear,
    joinedPartyOn: new Date(`${EXAMPLE.joinedPartyOn}T00:00:00Z`),
    status: "正式党员",
    posts: "",
  });
  exampleRow.eachCell((cell) => {
    cell.font = { italic: true, color: { argb: "FF808080" } };
  });
  exampleRow.getCell(1).note = "示例行：原样保留时不会导入，可直接覆盖或删除。";
  ws.getColumn("phone").numFmt = "@";
  ws.getColumn("joinedPartyOn").numFmt = "yyyy-mm-dd";
  // Drop-down lists (exceljs squeezes the per-cell rules into one range when writing).
  const list = (k: ColumnKey, values: string[], prompt: string) => {
    const column = ws.getColumn(k).number;
    for (let r = 2; r <= VALIDATED_ROWS + 1; r++) {
      ws.getCell(r, column).dataValidation = { type: "list", allowBlank: true, formulae: [`"${values.join(",")}"`], showErrorMessage: true, errorTitle: "请从下拉列表中选择", error: prompt };
    }
  };
  list("gender", ["男", "女"], "性别请填写“男”或“女”。");
  list("status", ["正式党员", "预备党员"], "党员类别请填写“正式党员”或“预备党员”。");

  const help = wb.addWorksheet("填写说明");
  help.columns = [{ width: 12 }, { width: 8 }, { width: 80 }];
  help.addRow(["列名", "是否必填", "说明"]).font = { bold: true };
  for (const h of HELP) help.addRow(h);
  help.addRow([]);
  for (const line of RULES_TEXT) help.addRow([line]);
  help.getColumn(3).alignment = { wrapText: true };

  const codes = wb.addWorksheet("支部编码");
  codes.columns = [{ header: "支部编码", width: 24 }, { header: "支部名称", width: 28 }, { header: "党小组", width: 40 }];
  codes.getRow(1).font = { bold: true };
  for (const b of branches) codes.addRow([b.code, b.name, b.children.map((c) => c.name).join("、")]);

  const bytes = await wb.xlsx.writeBuffer();
  return Buffer.from(bytes as unknown as ArrayBuffer);
}
