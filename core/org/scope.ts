// The one place the "roles are scoped to an org subtree" rule lives. Every org unit stores its ancestor chain in
// `path` ("/1/4/37/"), so "inside my subtree" is a prefix test in code and a `startsWith` in SQL (indexed).
import { CadreRole } from "../db/generated/enums.ts";
import type { Prisma } from "../db/index.ts";
import type { Database } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";

export { CadreRole };

/** Higher rank includes everything a lower rank may do (inside its own subtree). */
export const ROLE_RANK: Record<CadreRole, number> = {
  COUNTY_ADMIN: 4,
  TOWN_ADMIN: 3,
  BRANCH_SECRETARY: 2,
  MEMBER: 1,
};

export const ROLE_LABEL: Record<CadreRole, string> = {
  COUNTY_ADMIN: "县级管理员",
  TOWN_ADMIN: "乡镇管理员",
  BRANCH_SECRETARY: "支部书记",
  MEMBER: "党员",
};

/** What scoping needs to know about whoever is asking. A null path means "no org unit": nothing is in scope. */
export interface ScopeHolder {
  role: CadreRole | null;
  orgPath: string | null;
}

/** Roles at least as strong as `min`, e.g. rolesAtLeast("TOWN_ADMIN") → [COUNTY_ADMIN, TOWN_ADMIN]. */
export function rolesAtLeast(min: CadreRole): CadreRole[] {
  return (Object.keys(ROLE_RANK) as CadreRole[]).filter((r) => ROLE_RANK[r] >= ROLE_RANK[min]);
}

export function hasRoleAtLeast(holder: Pick<ScopeHolder, "role">, min: CadreRole): boolean {
  return holder.role !== null && ROLE_RANK[holder.role] >= ROLE_RANK[min];
}

const PATH_RE = /^\/(\d+\/)+$/;

/** True when `unitPath` is the holder's own unit or below it. */
export function pathInScope(holder: ScopeHolder, unitPath: string): boolean {
  if (!holder.orgPath || !PATH_RE.test(holder.orgPath) || !PATH_RE.test(unitPath)) return false;
  // Paths end in "/", so "/1/4/" can never match "/1/42/".
  return unitPath.startsWith(holder.orgPath);
}

/** Prisma `where` fragment for "org units in my subtree"; matches nothing when the holder has no unit. */
export function subtreeWhere(holder: ScopeHolder): Prisma.OrgUnitWhereInput {
  if (!holder.orgPath || !PATH_RE.test(holder.orgPath)) return { id: { in: [] } };
  return { path: { startsWith: holder.orgPath } };
}

/** For models that hang off an org unit (members, meetings, groups...): `{ orgUnit: subtreeWhere(...) }`. */
export function viaOrgUnit(holder: ScopeHolder): { orgUnit: Prisma.OrgUnitWhereInput } {
  return { orgUnit: subtreeWhere(holder) };
}

export const outOfScope = () => new AppError("OUT_OF_SCOPE");

/**
 * Loads an active org unit and checks it is inside the holder's subtree: 404 when it does not exist, 403
 * OUT_OF_SCOPE when it exists elsewhere in the tree.
 */
export async function requireUnitInScope(db: Database, holder: ScopeHolder, unitId: number) {
  const unit = await db.prisma.orgUnit.findUnique({
    where: { id: unitId },
    select: { id: true, code: true, name: true, kind: true, path: true, depth: true, parentId: true, active: true },
  });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  if (!pathInScope(holder, unit.path)) throw outOfScope();
  return unit;
}
