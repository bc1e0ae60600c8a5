// `npm run setup`: the root of the organisation (a county, or a city above several counties) and its first
// administrator, on an empty database. Everything else (towns, branches, accounts, rosters) is then done in the
// console by that administrator.
import { audit } from "../audit.ts";
import { generateOneTimePassword, hashPassword } from "../auth/password.ts";
import type { Database } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { DISPLAY_NAME_MAX, USERNAME_RE, USERNAME_RULE } from "./cadres.ts";

export type RootKind = "COUNTY" | "CITY";

export interface SetupInput {
  rootName: string;
  rootCode: string;
  rootKind: RootKind;
  adminUsername: string;
  /** Defaults to "<root name>管理员". */
  adminName?: string;
  /** Add another root next to the existing one(s) (e.g. a second county) instead of refusing. */
  addRoot?: boolean;
}

/** Org unit codes: short, typed by hand, used in imports ("C01", "LX-T03"). */
export const UNIT_CODE_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const UNIT_NAME_MAX = 50;

/** A refusal the operator can act on: `exitCode` 2 for bad input (show the usage), 1 for "not on this database". */
export class SetupRefused extends AppError {
  constructor(
    code: "SETUP_INVALID" | "SETUP_ROOT_EXISTS" | "SETUP_CODE_TAKEN" | "SETUP_USERNAME_TAKEN",
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(code, message);
  }
}

/** Problems with the values themselves, before touching the database (also used to re-ask in the prompt). */
export function validateSetupField(field: "rootName" | "rootCode" | "adminUsername" | "adminName", value: string): string | null {
  switch (field) {
    case "rootName":
      if (!value.trim()) return "根组织名称不能为空";
      if (value.trim().length > UNIT_NAME_MAX) return `根组织名称最多 ${UNIT_NAME_MAX} 个字符`;
      return null;
    case "rootCode":
      return UNIT_CODE_RE.test(value) ? null : "组织编码须为 1-32 个字符，只能包含英文字母、数字、下划线和连字符（例如 C01）";
    case "adminUsername":
      return USERNAME_RE.test(value) ? null : USERNAME_RULE;
    case "adminName":
      if (!value.trim()) return "管理员姓名不能为空";
      if (value.trim().length > DISPLAY_NAME_MAX) return `管理员姓名最多 ${DISPLAY_NAME_MAX} 个字符`;
      return null;
  }
}

export interface ExistingRoot {
  id: number;
  code: string;
  name: string;
  kind: string;
}

export async function existingRoots(db: Database): Promise<ExistingRoot[]> {
  return db.prisma.orgUnit.findMany({ where: { parentId: null }, select: { id: true, code: true, name: true, kind: true }, orderBy: { id: "asc" } });
}

export function rootExistsMessage(roots: ExistingRoot[]): string {
  const list = roots.map((r) => `${r.name}（${r.code}）`).join("、");
  return (
    `数据库中已有根组织：${list}，不能重复初始化。\n` +
    "请用已有的管理员账号登录管理后台继续操作；如确需再添加一个根组织（例如同一系统服务的另一个县），请加 --add-root 参数。"
  );
}

/**
 * Creates the root unit and its COUNTY_ADMIN with a one-time password (mustChangePassword), audited as
 * `setup.root`. Serialised by an advisory lock so two setups at once cannot both create "the" root.
 */
export async function setupRoot(db: Database, input: SetupInput) {
  const adminName = (input.adminName ?? `${input.rootName.trim()}管理员`).trim();
  const values = { rootName: input.rootName, rootCode: input.rootCode, adminUsername: input.adminUsername, adminName };
  for (const [field, value] of Object.entries(values)) {
    const problem = validateSetupField(field as keyof typeof values, value);
    if (problem) throw new SetupRefused("SETUP_INVALID", problem, 2);
  }
  const rootName = input.rootName.trim();
  const oneTimePassword = generateOneTimePassword(input.adminUsername);
  const passwordHash = await hashPassword(oneTimePassword);

  const result = await db.prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('netbranch:setup'))`;
    const roots = await tx.orgUnit.findMany({ where: { parentId: null }, select: { id: true, code: true, name: true, kind: true } });
    if (roots.length && !input.addRoot) throw new SetupRefused("SETUP_ROOT_EXISTS", rootExistsMessage(roots), 1);
    const codeTaken = await tx.orgUnit.findFirst({ where: { code: { equals: input.rootCode, mode: "insensitive" } }, select: { name: true } });
    if (codeTaken) throw new SetupRefused("SETUP_CODE_TAKEN", `组织编码 ${input.rootCode} 已被“${codeTaken.name}”使用，请换一个编码`, 1);
    const userTaken = await tx.cadreUser.findFirst({ where: { username: { equals: input.adminUsername, mode: "insensitive" } }, select: { id: true } });
    if (userTaken) throw new SetupRefused("SETUP_USERNAME_TAKEN", `用户名 ${input.adminUsername} 已被使用，请换一个`, 1);

    const created = await tx.orgUnit.create({ data: { code: input.rootCode, name: rootName, kind: input.rootKind, parentId: null, path: "/", depth: 0 } });
    const root = await tx.orgUnit.update({ where: { id: created.id }, data: { path: `/${created.id}/` }, select: { id: true, code: true, name: true, kind: true, path: true } });
    const admin = await tx.cadreUser.create({
      data: { username: input.adminUsername, displayName: adminName, role: "COUNTY_ADMIN", orgUnitId: root.id, passwordHash, mustChangePassword: true },
      select: { id: true, username: true, displayName: true, role: true },
    });
    await audit(tx, {
      channel: "cli",
      action: "setup.root",
      targetType: "OrgUnit",
      targetId: root.id,
      detail: {
        root: { id: root.id, code: root.code, name: root.name, kind: root.kind },
        admin: { id: admin.id, username: admin.username, displayName: admin.displayName, role: admin.role },
        addedBesides: roots.map((r) => r.code),
      },
    });
    return { root, admin };
  });
  return { ...result, oneTimePassword };
}
