// Who is calling: a verified token turned into a Principal using the database, not the token, as the truth for
// role and org unit. A role change or a move to another unit therefore applies at once; logout and password
// changes bump CadreUser.tokenVersion, which revokes every token issued before.
import type { Database } from "../db/index.ts";
import type { CadreRole } from "../db/generated/enums.ts";
import type { ScopeHolder } from "../org/scope.ts";
import { tokenRevoked, type TokenKind, type VerifiedToken } from "./tokens.ts";

export interface Principal extends ScopeHolder {
  kind: TokenKind;
  /** CadreUser.id for kind "cadre", ChatIdentity.id for kind "mp". */
  id: number;
  role: CadreRole | null;
  orgUnitId: number | null;
  /** Materialised path of orgUnitId ("/1/4/"); null = no org scope (e.g. a villager in the mini-program). */
  orgPath: string | null;
  /** The party member this login belongs to, when linked. */
  memberId: number | null;
  displayName: string;
  tokenExpiresAt: Date;
  /** A one-time password is still in use: only the password change (and /me, logout) may be called. */
  mustChangePassword: boolean;
}

/** Members in these states keep their login but lose the branch scope that membership gave them. */
const SCOPED_MEMBER_STATUSES = new Set(["ACTIVE", "PROBATIONARY"]);

export async function resolvePrincipal(db: Database, token: VerifiedToken): Promise<Principal> {
  if (token.kind === "cadre") {
    const user = await db.prisma.cadreUser.findUnique({
      where: { id: token.subjectId },
      select: {
        id: true,
        displayName: true,
        role: true,
        active: true,
        tokenVersion: true,
        orgUnitId: true,
        memberId: true,
        mustChangePassword: true,
        orgUnit: { select: { path: true } },
      },
    });
    if (!user || !user.active || user.tokenVersion !== token.tokenVersion) throw tokenRevoked();
    return {
      kind: "cadre",
      id: user.id,
      role: user.role,
      orgUnitId: user.orgUnitId,
      orgPath: user.orgUnit.path,
      memberId: user.memberId,
      displayName: user.displayName,
      tokenExpiresAt: token.expiresAt,
      mustChangePassword: user.mustChangePassword,
    };
  }

  const identity = await db.prisma.chatIdentity.findUnique({
    where: { id: token.subjectId },
    select: {
      id: true,
      channel: true,
      displayName: true,
      member: { select: { id: true, name: true, status: true, branchId: true, branch: { select: { path: true } } } },
    },
  });
  if (!identity || identity.channel !== "MINIPROGRAM") throw tokenRevoked();
  const member = identity.member && SCOPED_MEMBER_STATUSES.has(identity.member.status) ? identity.member : null;
  return {
    kind: "mp",
    id: identity.id,
    role: member ? "MEMBER" : null,
    orgUnitId: member?.branchId ?? null,
    orgPath: member?.branch.path ?? null,
    memberId: identity.member?.id ?? null,
    displayName: identity.member?.name ?? identity.displayName,
    tokenExpiresAt: token.expiresAt,
    mustChangePassword: false,
  };
}

/** What GET /api/auth/me shows: the principal plus the account and org unit it stands for. */
export async function loadProfile(db: Database, principal: Principal) {
  const [user, orgUnit, member] = await Promise.all([
    principal.kind === "cadre"
      ? db.prisma.cadreUser.findUnique({
          where: { id: principal.id },
          select: { id: true, username: true, displayName: true, role: true, lastLoginAt: true, mustChangePassword: true },
        })
      : null,
    principal.orgUnitId
      ? db.prisma.orgUnit.findUnique({ where: { id: principal.orgUnitId }, select: { id: true, code: true, name: true, kind: true, path: true } })
      : null,
    principal.memberId ? db.prisma.member.findUnique({ where: { id: principal.memberId }, select: { id: true, name: true, branchId: true } }) : null,
  ]);
  return { principal, user, orgUnit, member };
}
