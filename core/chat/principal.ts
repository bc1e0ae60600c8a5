// Who is speaking in chat, as far as permissions go: the role and org scope come from the member record the chat
// identity is linked to (and that member's console login, if any). An unlinked identity has no role.
import type { Prisma, PrismaClient } from "../db/index.ts";
import type { CadreRole } from "../db/generated/enums.ts";
import type { ScopeHolder } from "../org/scope.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export interface ChatPrincipal extends ScopeHolder {
  identityId: number;
  memberId: number | null;
  cadreUserId: number | null;
  role: CadreRole | null;
  orgUnitId: number | null;
  orgPath: string | null;
  name: string;
}

const SCOPED_STATUSES = new Set(["ACTIVE", "PROBATIONARY"]);

export async function chatPrincipal(tx: Tx, identity: { id: number; memberId: number | null; displayName: string }): Promise<ChatPrincipal> {
  const none: ChatPrincipal = { identityId: identity.id, memberId: null, cadreUserId: null, role: null, orgUnitId: null, orgPath: null, name: identity.displayName };
  if (identity.memberId == null) return none;
  const member = await tx.member.findUnique({
    where: { id: identity.memberId },
    include: { branch: { select: { path: true } }, cadreUser: { include: { orgUnit: { select: { path: true } } } } },
  });
  if (!member) return none;
  const base = { ...none, memberId: member.id, name: member.name };
  if (member.cadreUser?.active) {
    const u = member.cadreUser;
    return { ...base, cadreUserId: u.id, role: u.role, orgUnitId: u.orgUnitId, orgPath: u.orgUnit.path };
  }
  if (!SCOPED_STATUSES.has(member.status)) return base;
  return { ...base, role: member.isSecretary ? "BRANCH_SECRETARY" : "MEMBER", orgUnitId: member.branchId, orgPath: member.branch.path };
}
