// Console accounts of cadres: who may create and change which account. The rules live here once:
//   - the caller is a branch secretary or above and acts only inside their own subtree;
//   - they may create or change only accounts strictly below their own rank (never their own, never a peer's);
//     the one exception is a county administrator sitting at a CITY, who manages the county administrators of the
//     counties below it (otherwise nobody could);
//   - the role must fit the unit (COUNTY_ADMIN at a county or city, TOWN_ADMIN at a town, BRANCH_SECRETARY at a
//     branch or village, MEMBER anywhere below a town).
// New accounts and reset passwords get a one-time password, shown once; the holder must change it at first login.
import { audit } from "../audit.ts";
import { generateOneTimePassword, hashPassword } from "../auth/password.ts";
import type { CadreRole, OrgKind } from "../db/generated/enums.ts";
import type { Database, Prisma } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { ROLE_LABEL, ROLE_RANK, hasRoleAtLeast, outOfScope, pathInScope, subtreeWhere, type ScopeHolder } from "../org/scope.ts";

type Tx = Prisma.TransactionClient;

/** 3–32 characters of letters, digits, "_", "." and "-". */
export const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/;
export const USERNAME_RULE = "用户名须为 3-32 个字符，只能包含英文字母、数字、下划线、点和连字符";
export const DISPLAY_NAME_MAX = 50;

export function checkUsername(username: string): void {
  if (!USERNAME_RE.test(username)) throw new AppError("CADRE_USERNAME_INVALID", USERNAME_RULE);
}

/** Which unit kinds each role may sit at. */
export const ROLE_UNIT_KINDS: Record<CadreRole, OrgKind[]> = {
  COUNTY_ADMIN: ["COUNTY", "CITY"],
  TOWN_ADMIN: ["TOWN"],
  BRANCH_SECRETARY: ["BRANCH", "VILLAGE"],
  MEMBER: ["VILLAGE", "BRANCH", "PARTY_GROUP"],
};

const KIND_LABEL: Record<OrgKind, string> = {
  CITY: "市",
  COUNTY: "县",
  TOWN: "乡镇（街道）",
  VILLAGE: "村（社区）",
  BRANCH: "党支部",
  PARTY_GROUP: "党小组",
};

const ROLE_UNIT_RULE: Record<CadreRole, string> = {
  COUNTY_ADMIN: "县级管理员账号只能设在县或市一级单位",
  TOWN_ADMIN: "乡镇管理员账号只能设在乡镇（街道）一级单位",
  BRANCH_SECRETARY: "支部书记账号只能设在党支部或村（社区）",
  MEMBER: "党员账号只能设在乡镇以下的单位（村、党支部或党小组）",
};

export function checkRoleFitsUnit(role: CadreRole, kind: OrgKind): void {
  if (!ROLE_UNIT_KINDS[role].includes(kind)) {
    throw new AppError("CADRE_ROLE_UNIT_MISMATCH", `${ROLE_UNIT_RULE[role]}（所选单位是${KIND_LABEL[kind]}）`, { role, unitKind: kind });
  }
}

/** Whoever manages accounts: a console login (id, role, scope) and where the request came from. */
export interface CadreActor extends ScopeHolder {
  id: number;
  channel: string;
  requestId?: string;
}

const accountSelect = {
  id: true,
  username: true,
  displayName: true,
  role: true,
  active: true,
  mustChangePassword: true,
  lastLoginAt: true,
  createdAt: true,
  orgUnit: { select: { id: true, code: true, name: true, kind: true } },
  member: { select: { id: true, name: true } },
} as const;

type AccountRow = Prisma.CadreUserGetPayload<{ select: typeof accountSelect }>;

export interface CadreAccount {
  id: number;
  username: string;
  displayName: string;
  role: CadreRole;
  orgUnit: { id: number; code: string; name: string; kind: OrgKind };
  member: { id: number; name: string } | null;
  active: boolean;
  mustChangePassword: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}

const toAccount = (u: AccountRow): CadreAccount => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  role: u.role,
  orgUnit: u.orgUnit,
  member: u.member,
  active: u.active,
  mustChangePassword: u.mustChangePassword,
  lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
  createdAt: u.createdAt.toISOString(),
});

const requireManager = (actor: CadreActor) => {
  if (!hasRoleAtLeast(actor, "BRANCH_SECRETARY")) throw new AppError("FORBIDDEN", "只有支部书记及以上的干部可以管理账号");
};

// ---- listing ----

export interface CadreListQuery {
  q?: string;
  role?: CadreRole;
  unitId?: number;
  active?: boolean;
  page: number;
  pageSize: number;
}

/** Accounts whose unit lies in the caller's subtree, strongest role first, then by username. */
export async function listCadres(db: Database, actor: CadreActor, query: CadreListQuery) {
  requireManager(actor);
  const q = query.q?.trim();
  const where: Prisma.CadreUserWhereInput = {
    orgUnit: subtreeWhere(actor),
    ...(query.role ? { role: query.role } : {}),
    ...(query.unitId ? { orgUnitId: query.unitId } : {}),
    ...(query.active === undefined ? {} : { active: query.active }),
    ...(q
      ? {
          OR: [
            { username: { contains: q, mode: "insensitive" as const } },
            { displayName: { contains: q, mode: "insensitive" as const } },
          ],
        }
      : {}),
  };
  const [rows, total] = await Promise.all([
    db.prisma.cadreUser.findMany({
      where,
      select: accountSelect,
      // CadreRole sorts in declaration order: COUNTY_ADMIN first.
      orderBy: [{ role: "asc" }, { username: "asc" }],
      skip: (query.page - 1) * query.pageSize,
      take: query.pageSize,
    }),
    db.prisma.cadreUser.count({ where }),
  ]);
  return { items: rows.map(toAccount), page: query.page, pageSize: query.pageSize, total };
}

// ---- the rank rule ----

interface UnitRef {
  id: number;
  kind: OrgKind;
  path: string;
  active: boolean;
}

/**
 * May `actor` hold power over an account of `role` at `unit`? Strictly lower rank, or the CITY exception; and, for
 * creating only, a county admin's peer at their own unit: county broadcasts need a second county admin to approve
 * them, and nobody else could create one.
 */
async function outranks(tx: Tx, actor: CadreActor, role: CadreRole, unit: UnitRef, purpose: "create" | "manage" = "manage"): Promise<boolean> {
  const mine = ROLE_RANK[actor.role!];
  if (ROLE_RANK[role] < mine) return true;
  if (purpose === "create" && actor.role === "COUNTY_ADMIN" && role === "COUNTY_ADMIN" && unit.path === actor.orgPath) return true;
  if (actor.role !== "COUNTY_ADMIN" || role !== "COUNTY_ADMIN" || unit.path === actor.orgPath) return false;
  if (!actor.orgPath || !unit.path.startsWith(actor.orgPath)) return false;
  const own = await tx.orgUnit.findFirst({ where: { path: actor.orgPath }, select: { kind: true } });
  return own?.kind === "CITY";
}

function rolesBelow(actor: CadreActor): string {
  const below = (Object.keys(ROLE_RANK) as CadreRole[]).filter((r) => ROLE_RANK[r] < ROLE_RANK[actor.role!]);
  return below.map((r) => ROLE_LABEL[r]).join("、");
}

const roleNotAllowed = (actor: CadreActor, role: CadreRole) =>
  new AppError("CADRE_ROLE_NOT_ALLOWED", `您是${ROLE_LABEL[actor.role!]}，不能设置“${ROLE_LABEL[role]}”账号；只能创建或管理比您级别低的账号（${rolesBelow(actor) || "无"}）`, { role });

async function loadUnit(tx: Tx, actor: CadreActor, unitId: number): Promise<UnitRef> {
  const unit = await tx.orgUnit.findUnique({ where: { id: unitId }, select: { id: true, kind: true, path: true, active: true } });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  if (!pathInScope(actor, unit.path)) throw outOfScope();
  return unit;
}

const MEMBER_LINKABLE = new Set(["ACTIVE", "PROBATIONARY"]);

/** The member an account is linked to: in scope, on the roster, not linked to another account. */
async function checkMember(tx: Tx, actor: CadreActor, memberId: number, accountId: number | null) {
  const member = await tx.member.findUnique({
    where: { id: memberId },
    select: { id: true, name: true, status: true, branch: { select: { path: true } }, cadreUser: { select: { id: true, username: true } } },
  });
  if (!member) throw new AppError("MEMBER_NOT_FOUND", "该党员不存在");
  if (!pathInScope(actor, member.branch.path)) throw outOfScope();
  if (!MEMBER_LINKABLE.has(member.status)) throw new AppError("CADRE_MEMBER_INACTIVE", `党员${member.name}已不在册（转出、去世或停止党籍），不能关联账号`);
  if (member.cadreUser && member.cadreUser.id !== accountId) {
    throw new AppError("CADRE_MEMBER_TAKEN", `党员${member.name}已关联账号 ${member.cadreUser.username}，一名党员只能关联一个账号`);
  }
}

/** Prisma unique violations on CadreUser: which field clashed. */
function uniqueClash(e: unknown): "username" | "memberId" | null {
  const err = e as { code?: string; meta?: { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } } };
  if (err?.code !== "P2002") return null;
  const fields = [
    ...(Array.isArray(err.meta?.target) ? (err.meta.target as string[]) : typeof err.meta?.target === "string" ? [err.meta.target] : []),
    ...(err.meta?.driverAdapterError?.cause?.constraint?.fields ?? []),
  ].join(",");
  if (/member/i.test(fields)) return "memberId";
  return "username";
}

const usernameTaken = (username: string) => new AppError("CADRE_USERNAME_TAKEN", `用户名 ${username} 已被使用，请换一个`);

/** Case-insensitive: "Zhang.San" and "zhang.san" would be indistinguishable to the people using them. */
async function checkUsernameFree(tx: Tx | Database["prisma"], username: string) {
  const clash = await tx.cadreUser.findFirst({ where: { username: { equals: username, mode: "insensitive" } }, select: { id: true } });
  if (clash) throw usernameTaken(username);
}

// ---- create ----

export interface CadreCreateInput {
  username: string;
  displayName: string;
  role: CadreRole;
  orgUnitId: number;
  memberId?: number | null;
}

export async function createCadre(db: Database, actor: CadreActor, input: CadreCreateInput) {
  requireManager(actor);
  const username = input.username.trim();
  checkUsername(username);
  const displayName = input.displayName.trim();
  if (!displayName) throw new AppError("CADRE_DISPLAY_NAME_REQUIRED");
  const oneTimePassword = generateOneTimePassword(username);
  const passwordHash = await hashPassword(oneTimePassword);
  try {
    const user = await db.prisma.$transaction(async (tx) => {
      const unit = await loadUnit(tx, actor, input.orgUnitId);
      if (!(await outranks(tx, actor, input.role, unit, "create"))) throw roleNotAllowed(actor, input.role);
      checkRoleFitsUnit(input.role, unit.kind);
      if (input.memberId != null) await checkMember(tx, actor, input.memberId, null);
      await checkUsernameFree(tx, username);
      const row = await tx.cadreUser.create({
        data: {
          username,
          displayName,
          role: input.role,
          orgUnitId: unit.id,
          memberId: input.memberId ?? null,
          passwordHash,
          mustChangePassword: true,
          createdById: actor.id,
        },
        select: accountSelect,
      });
      await audit(tx, {
        actorId: actor.id,
        channel: actor.channel,
        action: "cadre.created",
        targetType: "CadreUser",
        targetId: row.id,
        detail: { after: { username, displayName, role: input.role, orgUnitId: unit.id, memberId: input.memberId ?? null, active: true } },
        requestId: actor.requestId,
      });
      return row;
    });
    return { user: toAccount(user), oneTimePassword };
  } catch (e) {
    const clash = uniqueClash(e);
    if (clash === "username") throw usernameTaken(username);
    if (clash === "memberId") throw new AppError("CADRE_MEMBER_TAKEN");
    throw e;
  }
}

// ---- change, disable, re-enable ----

export interface CadrePatch {
  displayName?: string;
  role?: CadreRole;
  orgUnitId?: number;
  memberId?: number | null;
  active?: boolean;
}

/** The account `actor` wants to change: exists, in scope, not their own, strictly below them. */
async function loadTarget(tx: Tx, actor: CadreActor, id: number) {
  const target = await tx.cadreUser.findUnique({
    where: { id },
    select: {
      id: true,
      username: true,
      displayName: true,
      role: true,
      orgUnitId: true,
      memberId: true,
      active: true,
      orgUnit: { select: { id: true, kind: true, path: true, active: true } },
    },
  });
  if (!target) throw new AppError("CADRE_NOT_FOUND");
  if (!pathInScope(actor, target.orgUnit.path)) throw outOfScope();
  if (target.id === actor.id) throw new AppError("CADRE_SELF");
  if (!(await outranks(tx, actor, target.role, target.orgUnit))) {
    throw new AppError("CADRE_ROLE_NOT_ALLOWED", `不能管理与您同级或更高级别的账号（${target.username} 是${ROLE_LABEL[target.role]}）`);
  }
  return target;
}

export async function updateCadre(db: Database, actor: CadreActor, id: number, patch: CadrePatch): Promise<CadreAccount> {
  requireManager(actor);
  const now = new Date();
  try {
    const user = await db.prisma.$transaction(async (tx) => {
      const target = await loadTarget(tx, actor, id);
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const data: Prisma.CadreUserUncheckedUpdateInput = {};
      const change = (field: string, from: unknown, to: unknown) => {
        before[field] = from;
        after[field] = to;
      };

      if (patch.displayName !== undefined) {
        const displayName = patch.displayName.trim();
        if (!displayName) throw new AppError("CADRE_DISPLAY_NAME_REQUIRED");
        if (displayName !== target.displayName) (change("displayName", target.displayName, displayName), (data.displayName = displayName));
      }

      const role = patch.role ?? target.role;
      const unit = patch.orgUnitId !== undefined && patch.orgUnitId !== target.orgUnitId ? await loadUnit(tx, actor, patch.orgUnitId) : target.orgUnit;
      if (role !== target.role || unit.id !== target.orgUnitId) {
        if (!(await outranks(tx, actor, role, unit))) throw roleNotAllowed(actor, role);
        checkRoleFitsUnit(role, unit.kind);
        if (role !== target.role) (change("role", target.role, role), (data.role = role));
        if (unit.id !== target.orgUnitId) (change("orgUnitId", target.orgUnitId, unit.id), (data.orgUnitId = unit.id));
      }

      if (patch.memberId !== undefined && patch.memberId !== target.memberId) {
        if (patch.memberId !== null) await checkMember(tx, actor, patch.memberId, target.id);
        change("memberId", target.memberId, patch.memberId);
        data.memberId = patch.memberId;
      }

      let action = "cadre.updated";
      if (patch.active !== undefined && patch.active !== target.active) {
        change("active", target.active, patch.active);
        data.active = patch.active;
        if (patch.active) {
          data.disabledAt = null;
          action = "cadre.enabled";
        } else {
          // Disabling revokes every token at once (resolvePrincipal also refuses inactive accounts).
          data.disabledAt = now;
          data.tokenVersion = { increment: 1 };
          action = "cadre.disabled";
        }
      }

      if (Object.keys(after).length === 0) return tx.cadreUser.findUniqueOrThrow({ where: { id }, select: accountSelect });
      const row = await tx.cadreUser.update({ where: { id }, data, select: accountSelect });
      await audit(tx, {
        actorId: actor.id,
        channel: actor.channel,
        action,
        targetType: "CadreUser",
        targetId: id,
        detail: { username: target.username, before, after },
        requestId: actor.requestId,
      });
      return row;
    });
    return toAccount(user);
  } catch (e) {
    if (uniqueClash(e) === "memberId") throw new AppError("CADRE_MEMBER_TAKEN");
    throw e;
  }
}

// ---- reset password ----

/** A new one-time password: the old one stops working, every session is revoked, the holder must change it. */
export async function resetCadrePassword(db: Database, actor: CadreActor, id: number) {
  requireManager(actor);
  const target = await db.prisma.cadreUser.findUnique({ where: { id }, select: { username: true } });
  if (!target) throw new AppError("CADRE_NOT_FOUND");
  const oneTimePassword = generateOneTimePassword(target.username);
  const passwordHash = await hashPassword(oneTimePassword);
  const user = await db.prisma.$transaction(async (tx) => {
    const checked = await loadTarget(tx, actor, id);
    const prior = await tx.cadreUser.findUniqueOrThrow({ where: { id }, select: { mustChangePassword: true } });
    const row = await tx.cadreUser.update({
      where: { id },
      data: { passwordHash, mustChangePassword: true, tokenVersion: { increment: 1 } },
      select: accountSelect,
    });
    await audit(tx, {
      actorId: actor.id,
      channel: actor.channel,
      action: "cadre.password_reset",
      targetType: "CadreUser",
      targetId: id,
      // Never the password itself.
      detail: { username: checked.username, before: { mustChangePassword: prior.mustChangePassword }, after: { mustChangePassword: true } },
      requestId: actor.requestId,
    });
    return row;
  });
  return { user: toAccount(user), oneTimePassword };
}
