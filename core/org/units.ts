// The organisation tree as data: read it within the caller's scope, and create, rename, re-code, move, re-categorise,
// deactivate and re-activate its units. Every write runs in one transaction under one advisory lock (the tree import
// takes the same one), is scope-checked and audited with the unit before and after.
//
// Who may change what: the unit (and for a create or a move, the parent) must lie in the caller's subtree; counties
// need a county-level admin (a COUNTY_ADMIN on the city), towns/villages/branches a town admin or above, party groups
// a branch secretary or above (so a secretary may add party groups to their own branch). Nobody deactivates the unit
// their own login hangs on.
import { audit } from "../audit.ts";
import type { OrgKind } from "../db/generated/enums.ts";
import type { Database, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { OPEN_STATUSES } from "../complaints/state.ts";
import { categoryAllowed, categoriesOf, JOINT_COMMITTEE, KIND_LABEL, placementProblem } from "./categories.ts";
import { hasRoleAtLeast, outOfScope, pathInScope, requireUnitInScope, subtreeWhere, type CadreRole, type ScopeHolder } from "./scope.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export interface Page {
  page: number;
  pageSize: number;
}

/** A cadre changing the tree: scope plus who they are, for the audit log. */
export interface OrgActor extends ScopeHolder {
  cadreUserId: number;
  channel: string;
  requestId?: string;
}

export const UNIT_CODE_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const UNIT_NAME_MAX = 50;
/** The lock every write to the tree's shape takes (units.ts and the tree import). */
export const TREE_LOCK = "netbranch:org-tree";

/** The weakest role that may create or change a unit of each kind. A CITY is only made by `npm run setup`. */
const ROLE_FOR_KIND: Record<OrgKind, CadreRole> = {
  CITY: "COUNTY_ADMIN",
  COUNTY: "COUNTY_ADMIN",
  TOWN: "TOWN_ADMIN",
  VILLAGE: "TOWN_ADMIN",
  BRANCH: "TOWN_ADMIN",
  PARTY_GROUP: "BRANCH_SECRETARY",
};

const ROLE_WORD: Record<CadreRole, string> = { COUNTY_ADMIN: "县级管理员", TOWN_ADMIN: "乡镇管理员及以上", BRANCH_SECRETARY: "支部书记及以上", MEMBER: "党员" };

export function requireRoleForKind(holder: ScopeHolder, kind: OrgKind) {
  const min = ROLE_FOR_KIND[kind];
  if (!hasRoleAtLeast(holder, min)) throw new AppError("ROLE_REQUIRED", `只有${ROLE_WORD[min]}可以设立或调整${KIND_LABEL[kind]}。`);
}

export const unitCodeTaken = (code: string) => new AppError("UNIT_CODE_TAKEN", `单位编码“${code}”已被使用，请换一个编码。`, { code });

export function checkCode(code: string): string {
  const c = code.trim();
  if (!UNIT_CODE_RE.test(c)) throw new AppError("UNIT_CODE_INVALID");
  return c;
}

export function checkName(name: string): string {
  const n = name.replace(/\s+/g, " ").trim();
  if (!n) throw new AppError("UNIT_NAME_INVALID", "单位名称不能为空。");
  if (n.length > UNIT_NAME_MAX) throw new AppError("UNIT_NAME_INVALID", `单位名称最多 ${UNIT_NAME_MAX} 个字。`);
  return n;
}

export function checkCategory(kind: OrgKind, category: string | null): string | null {
  const c = category == null ? null : category.trim() || null;
  if (!categoryAllowed(kind, c)) {
    throw new AppError("UNIT_CATEGORY_INVALID", `${KIND_LABEL[kind]}的类别只能是：${categoriesOf(kind).join("、")}（不填为默认）。`, { allowed: categoriesOf(kind) });
  }
  return c;
}

const UNIT_SELECT = { id: true, code: true, name: true, kind: true, category: true, path: true, depth: true, parentId: true, active: true } as const;
type UnitRow = Prisma.OrgUnitGetPayload<{ select: typeof UNIT_SELECT }>;

/** A unit in the holder's subtree, active or not: 404 when it does not exist, 403 when it is elsewhere. */
async function unitInScope(tx: Tx, holder: ScopeHolder, id: number): Promise<UnitRow> {
  const unit = await tx.orgUnit.findUnique({ where: { id }, select: UNIT_SELECT });
  if (!unit) throw new AppError("ORG_UNIT_NOT_FOUND", "该单位不存在");
  if (!pathInScope(holder, unit.path)) throw outOfScope();
  return unit;
}

// ───────────────────────────── reading ─────────────────────────────

/** Direct, active children of `parentId`, ordered by code; the parent itself must be in scope. */
export async function listChildUnits(db: Database, holder: ScopeHolder, parentId: number, { page, pageSize }: Page) {
  const parent = await requireUnitInScope(db, holder, parentId);
  // The subtree filter is redundant once the parent is in scope; it stays so this query cannot leak if the
  // check above is ever refactored away.
  const where = { parentId: parent.id, active: true, ...subtreeWhere(holder) };
  const [total, rows] = await db.prisma.$transaction([
    db.prisma.orgUnit.count({ where }),
    db.prisma.orgUnit.findMany({
      where,
      orderBy: [{ code: "asc" }, { id: "asc" }],
      skip: (page - 1) * pageSize,
      take: pageSize,
      select: { id: true, code: true, name: true, kind: true, path: true, _count: { select: { children: { where: { active: true } } } } },
    }),
  ]);
  return {
    parent: { id: parent.id, code: parent.code, name: parent.name, kind: parent.kind },
    items: rows.map(({ _count, ...u }) => ({ ...u, childCount: _count.children })),
    page,
    pageSize,
    total,
  };
}

export interface OrgUnitNode {
  id: number;
  parentId: number | null;
  code: string;
  name: string;
  kind: OrgKind;
  category: string | null;
  active: boolean;
  depth: number;
}

const nodeOf = (u: UnitRow): OrgUnitNode => ({ id: u.id, parentId: u.parentId, code: u.code, name: u.name, kind: u.kind, category: u.category, active: u.active, depth: u.depth });

/** The caller's subtree (or `rootId`'s, which must be in it), ordered by path: parents before their children. */
export async function orgTree(tx: Tx, holder: ScopeHolder, opts: { rootId?: number | null; includeInactive?: boolean } = {}) {
  let root: UnitRow | null;
  if (opts.rootId != null) {
    root = await unitInScope(tx, holder, opts.rootId);
    if (!root.active && !opts.includeInactive) throw new AppError("ORG_UNIT_NOT_FOUND");
  } else {
    if (!holder.orgPath) throw outOfScope();
    root = await tx.orgUnit.findFirst({ where: { path: holder.orgPath }, select: UNIT_SELECT });
    if (!root) throw new AppError("ORG_UNIT_NOT_FOUND", "您的账号所属单位不存在，请联系上级管理员。");
  }
  const rows = await tx.orgUnit.findMany({
    where: { path: { startsWith: root.path }, ...(opts.includeInactive ? {} : { active: true }) },
    select: UNIT_SELECT,
    orderBy: [{ path: "asc" }],
  });
  return { root: nodeOf(root), items: rows.map(nodeOf) };
}

export interface LeftInUnit {
  children: number;
  members: number;
  groups: number;
  openComplaints: number;
  /** Active console accounts held on the unit (they would otherwise keep powers over a unit that no longer exists). */
  cadres: number;
}

/** What still hangs on a unit: active children, current members (as branch or party group), bound groups, open tickets. */
export async function leftInUnit(tx: Tx, id: number): Promise<LeftInUnit> {
  // One after the other: inside a transaction the queries share one connection anyway.
  const children = await tx.orgUnit.count({ where: { parentId: id, active: true } });
  const members = await tx.member.count({ where: { status: { in: ["ACTIVE", "PROBATIONARY"] }, OR: [{ branchId: id }, { partyGroupId: id }] } });
  const groups = await tx.chatGroup.count({ where: { orgUnitId: id, active: true } });
  const openComplaints = await tx.complaint.count({ where: { orgUnitId: id, status: { in: [...OPEN_STATUSES] } } });
  const cadres = await tx.cadreUser.count({ where: { orgUnitId: id, active: true } });
  return { children, members, groups, openComplaints, cadres };
}

/**
 * A party group's members belong to its branch (Member.branchId): moving a group that still has current members to
 * another branch would leave them in one branch and their group in another. 409 until they are moved or reassigned.
 */
export async function refuseMovingPeopledGroup(tx: Tx, group: { id: number; name: string }) {
  const members = await tx.member.count({ where: { partyGroupId: group.id, status: { in: ["ACTIVE", "PROBATIONARY"] } } });
  if (members) {
    throw new AppError("UNIT_NOT_EMPTY", `党小组“${group.name}”还有 ${members} 名党员，不能移到其他党支部。请先将这些党员调整到本支部的其他党小组（或不分党小组），或办理组织关系转接后再移动。`, { left: { members } });
  }
}

export interface OrgUnitDetail extends OrgUnitNode {
  path: string;
  parent: { id: number; code: string; name: string; kind: OrgKind } | null;
  spans: { id: number; code: string; name: string }[];
  counts: LeftInUnit;
}

async function detailOf(tx: Tx, unit: UnitRow): Promise<OrgUnitDetail> {
  const parent = unit.parentId == null ? null : await tx.orgUnit.findUnique({ where: { id: unit.parentId }, select: { id: true, code: true, name: true, kind: true } });
  const spans = await tx.orgSpan.findMany({ where: { jointId: unit.id }, select: { village: { select: { id: true, code: true, name: true } } }, orderBy: { village: { code: "asc" } } });
  const counts = await leftInUnit(tx, unit.id);
  return { ...nodeOf(unit), path: unit.path, parent, spans: spans.map((s) => s.village), counts };
}

/** One unit of the caller's subtree (deactivated ones too, so they can be re-activated). */
export async function unitDetail(tx: Tx, holder: ScopeHolder, id: number): Promise<OrgUnitDetail> {
  return detailOf(tx, await unitInScope(tx, holder, id));
}

// ───────────────────────────── writing ─────────────────────────────

async function lockTree(tx: Prisma.TransactionClient) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${TREE_LOCK}))`;
}

async function requireFreeCode(tx: Tx, code: string, exceptId?: number) {
  const other = await tx.orgUnit.findUnique({ where: { code }, select: { id: true } });
  if (other && other.id !== exceptId) throw unitCodeTaken(code);
}

/** Inserts a unit under `parent` with its path and depth. */
export async function insertUnit(tx: Prisma.TransactionClient, parent: { id: number; path: string; depth: number }, data: { code: string; name: string; kind: OrgKind; category: string | null }) {
  const row = await tx.orgUnit.create({ data: { ...data, parentId: parent.id, path: "/", depth: parent.depth + 1 }, select: { id: true } });
  return tx.orgUnit.update({ where: { id: row.id }, data: { path: `${parent.path}${row.id}/` }, select: UNIT_SELECT });
}

/** Moves `unit` and its whole subtree under `parent`: path and depth of every unit rewritten in one statement. */
export async function moveSubtree(tx: Prisma.TransactionClient, unit: { id: number; path: string; depth: number }, parent: { id: number; path: string; depth: number }) {
  if (parent.path.startsWith(unit.path)) throw new AppError("UNIT_MOVE_INVALID");
  const newPath = `${parent.path}${unit.id}/`;
  const delta = parent.depth + 1 - unit.depth;
  await tx.orgUnit.update({ where: { id: unit.id }, data: { parentId: parent.id } });
  await tx.$executeRaw`
    UPDATE "OrgUnit" SET path = ${newPath} || substr(path, ${unit.path.length + 1}), depth = depth + ${delta}, "updatedAt" = now()
     WHERE starts_with(path, ${unit.path})`;
  return newPath;
}

/**
 * Checks the villages a 联合党委 spans: active villages (not joint committees themselves) of the same town, in scope.
 * Answers the ids, deduplicated.
 */
export async function checkSpans(tx: Tx, holder: ScopeHolder, joint: { id?: number; kind: OrgKind; category: string | null; parentId: number | null; name: string }, villageIds: number[]): Promise<number[]> {
  const ids = [...new Set(villageIds)];
  if (ids.length === 0) return ids;
  if (joint.kind !== "VILLAGE" || joint.category !== JOINT_COMMITTEE) {
    throw new AppError("ORG_SPAN_INVALID", `只有联合党委可以涵盖村（社区），“${joint.name}”不是联合党委。`);
  }
  const villages = await tx.orgUnit.findMany({ where: { id: { in: ids } }, select: UNIT_SELECT });
  for (const id of ids) {
    const v = villages.find((x) => x.id === id);
    if (!v || !v.active) throw new AppError("ORG_SPAN_INVALID", `涵盖的村（ID ${id}）不存在或已撤销。`);
    if (!pathInScope(holder, v.path)) throw outOfScope();
    if (v.id === joint.id) throw new AppError("ORG_SPAN_INVALID", "联合党委不能涵盖它自己。");
    if (v.kind !== "VILLAGE" || v.category === JOINT_COMMITTEE) throw new AppError("ORG_SPAN_INVALID", `“${v.name}”不是村（社区），联合党委只能涵盖村（社区）。`);
    if (v.parentId !== joint.parentId) throw new AppError("ORG_SPAN_INVALID", `“${v.name}”与联合党委不在同一个乡镇，联合党委只能涵盖本乡镇的村（社区）。`);
  }
  return ids;
}

async function setSpans(tx: Prisma.TransactionClient, jointId: number, villageIds: number[]) {
  await tx.orgSpan.deleteMany({ where: { jointId } });
  if (villageIds.length) await tx.orgSpan.createMany({ data: villageIds.map((villageId) => ({ jointId, villageId })) });
}

/** Spans of `unitId` (as joint or as village) whose two ends are no longer in the same town. */
async function brokenSpans(tx: Tx, unitId: number) {
  return tx.$queryRaw<{ joint: string; village: string }[]>`
    SELECT j.name AS joint, v.name AS village FROM "OrgSpan" s
      JOIN "OrgUnit" j ON j.id = s."jointId" JOIN "OrgUnit" v ON v.id = s."villageId"
     WHERE (s."jointId" = ${unitId} OR s."villageId" = ${unitId}) AND j."parentId" IS DISTINCT FROM v."parentId"`;
}

/** The message listing what is left, e.g. "还有 3 个下级单位、25 名党员、1 个群、2 件未办结诉求". */
export function leftText(left: LeftInUnit): string {
  const parts = [
    left.children ? `${left.children} 个下级单位` : "",
    left.members ? `${left.members} 名党员` : "",
    left.groups ? `${left.groups} 个群` : "",
    left.openComplaints ? `${left.openComplaints} 件未办结诉求` : "",
    left.cadres ? `${left.cadres} 个干部账号` : "",
  ].filter(Boolean);
  return `还有 ${parts.join("、")}`;
}

async function snapshot(tx: Tx, id: number) {
  const u = await tx.orgUnit.findUniqueOrThrow({ where: { id }, select: { ...UNIT_SELECT, spans: { select: { villageId: true }, orderBy: { villageId: "asc" } } } });
  const { spans, ...rest } = u;
  return { ...rest, spans: spans.map((s) => s.villageId) };
}

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === "P2002";

export interface CreateUnitInput {
  parentId: number;
  kind: OrgKind;
  name: string;
  code: string;
  category?: string | null;
  spans?: number[];
}

export async function createUnit(prisma: PrismaClient, actor: OrgActor, input: CreateUnitInput): Promise<OrgUnitDetail> {
  if (input.kind === "CITY") throw new AppError("UNIT_KIND_INVALID", "市级单位只能在初始化时设立（npm run setup）。");
  requireRoleForKind(actor, input.kind);
  const code = checkCode(input.code);
  const name = checkName(input.name);
  const category = checkCategory(input.kind, input.category ?? null);
  try {
    return await prisma.$transaction(async (tx) => {
      await lockTree(tx);
      const parent = await unitInScope(tx, actor, input.parentId);
      if (!parent.active) throw new AppError("UNIT_PARENT_INACTIVE", `上级单位“${parent.name}”已撤销，不能在其下设立单位。`);
      const problem = placementProblem(parent, input.kind, category);
      if (problem) throw new AppError("UNIT_KIND_INVALID", problem);
      await requireFreeCode(tx, code);
      const spans = await checkSpans(tx, actor, { kind: input.kind, category, parentId: parent.id, name }, input.spans ?? []);
      const unit = await insertUnit(tx, parent, { code, name, kind: input.kind, category });
      if (spans.length) await setSpans(tx, unit.id, spans);
      await audit(tx, {
        actorId: actor.cadreUserId,
        channel: actor.channel,
        action: "org.unit_create",
        targetType: "OrgUnit",
        targetId: unit.id,
        requestId: actor.requestId,
        detail: { after: await snapshot(tx, unit.id) },
      });
      return detailOf(tx, unit);
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw unitCodeTaken(code);
    throw e;
  }
}

export interface UpdateUnitInput {
  name?: string;
  code?: string;
  parentId?: number;
  category?: string | null;
  spans?: number[];
  active?: boolean;
}

export async function updateUnit(prisma: PrismaClient, actor: OrgActor, id: number, patch: UpdateUnitInput): Promise<OrgUnitDetail> {
  const code = patch.code === undefined ? undefined : checkCode(patch.code);
  const name = patch.name === undefined ? undefined : checkName(patch.name);
  try {
    return await prisma.$transaction(async (tx) => {
      await lockTree(tx);
      const unit = await unitInScope(tx, actor, id);
      requireRoleForKind(actor, unit.kind);
      const before = await snapshot(tx, id);
      const reactivating = patch.active === true && !unit.active;
      const changesShape = name !== undefined || code !== undefined || patch.parentId !== undefined || patch.category !== undefined || patch.spans !== undefined;
      if (!unit.active && !reactivating && (changesShape || patch.active === false)) {
        throw new AppError("UNIT_INACTIVE", `“${unit.name}”已撤销，请先恢复（active: true）再修改。`);
      }

      const data: Prisma.OrgUnitUpdateInput = {};
      if (name !== undefined && name !== unit.name) data.name = name;
      if (code !== undefined && code !== unit.code) {
        await requireFreeCode(tx, code, unit.id);
        data.code = code;
      }
      let category = unit.category;
      if (patch.category !== undefined) {
        category = checkCategory(unit.kind, patch.category);
        if (category !== unit.category) data.category = category;
      }

      // Where it hangs: a new parent (in scope, active, of a fitting kind), or the old one when the category changed.
      let parent = unit.parentId == null ? null : await tx.orgUnit.findUniqueOrThrow({ where: { id: unit.parentId }, select: UNIT_SELECT });
      const moving = patch.parentId !== undefined && patch.parentId !== unit.parentId;
      if (moving) {
        if (patch.parentId === unit.id) throw new AppError("UNIT_MOVE_INVALID", "不能把单位移到它自己之下。");
        parent = await unitInScope(tx, actor, patch.parentId!);
        if (!parent.active) throw new AppError("UNIT_PARENT_INACTIVE", `上级单位“${parent.name}”已撤销，不能移到其下。`);
        if (parent.path.startsWith(unit.path)) throw new AppError("UNIT_MOVE_INVALID", "不能把单位移到它自己的下级单位之下。");
        if (unit.kind === "PARTY_GROUP") await refuseMovingPeopledGroup(tx, unit);
      }
      if (parent && (moving || data.category !== undefined)) {
        const problem = placementProblem(parent, unit.kind, category);
        if (problem) throw new AppError("UNIT_KIND_INVALID", problem);
      }
      if (reactivating && parent && !parent.active) {
        throw new AppError("UNIT_PARENT_INACTIVE", `上级单位“${parent.name}”已撤销，请先恢复上级单位。`);
      }

      if (patch.active === false && unit.active) {
        if (actor.orgPath === unit.path) throw new AppError("UNIT_IS_OWN");
        const left = await leftInUnit(tx, unit.id);
        if (left.children || left.members || left.groups || left.openComplaints || left.cadres) {
          const cadres = left.cadres
            ? await tx.cadreUser.findMany({ where: { orgUnitId: unit.id, active: true }, select: { id: true, username: true, displayName: true }, orderBy: { id: "asc" } })
            : [];
          const who = cadres.length ? `（干部账号：${cadres.map((c) => `${c.displayName}（${c.username}）`).join("、")}）` : "";
          throw new AppError("UNIT_NOT_EMPTY", `“${unit.name}”${leftText(left)}${who}，暂不能撤销。请先调整或撤销下级单位、转出党员、解绑群、办结诉求，并停用或调整这些干部账号。`, { left, cadres });
        }
        data.active = false;
        data.deactivatedAt = new Date();
      }
      if (reactivating) {
        data.active = true;
        data.deactivatedAt = null;
      }

      if (Object.keys(data).length) await tx.orgUnit.update({ where: { id: unit.id }, data });
      if (moving) await moveSubtree(tx, unit, parent!);
      if (patch.spans !== undefined) {
        const spans = await checkSpans(tx, actor, { id: unit.id, kind: unit.kind, category, parentId: parent?.id ?? null, name: name ?? unit.name }, patch.spans);
        await setSpans(tx, unit.id, spans);
      } else if (data.category !== undefined && category !== JOINT_COMMITTEE && before.spans.length) {
        throw new AppError("ORG_SPAN_INVALID", `“${unit.name}”还涵盖 ${before.spans.length} 个村，改为其他类别前请先清除涵盖的村（spans: []）。`);
      }
      if (moving) {
        const broken = await brokenSpans(tx, unit.id);
        if (broken.length) {
          const b = broken[0];
          throw new AppError("ORG_SPAN_BROKEN", `联合党委“${b.joint}”涵盖的“${b.village}”移动后将不在同一乡镇，请先调整联合党委涵盖的村。`, { spans: broken });
        }
      }

      const after = await snapshot(tx, id);
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        await audit(tx, {
          actorId: actor.cadreUserId,
          channel: actor.channel,
          action: "org.unit_update",
          targetType: "OrgUnit",
          targetId: unit.id,
          requestId: actor.requestId,
          detail: { before, after },
        });
      }
      return detailOf(tx, await tx.orgUnit.findUniqueOrThrow({ where: { id }, select: UNIT_SELECT }));
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw unitCodeTaken(code ?? "");
    throw e;
  }
}
