// Console logins for API tests, each with a signed token, without going through the login endpoint.
import { issueAccessToken } from "../../core/auth/tokens.ts";
import type { AppContext } from "../../core/context.ts";
import type { CadreRole } from "../../core/org/scope.ts";

export interface CadreSpec<K extends string> {
  key: K;
  role: CadreRole;
  orgUnitId: number;
}

/** Creates `<prefix>-<key>` users (display name "<key> 用户") and answers each one's bearer token by key. */
export async function cadreTokens<K extends string>(app: AppContext, prefix: string, users: CadreSpec<K>[]): Promise<Record<K, string>> {
  const tokens = {} as Record<K, string>;
  for (const u of users) {
    const user = await app.db.prisma.cadreUser.create({ data: { username: `${prefix}-${u.key}`, passwordHash: "x", displayName: `${u.key} 用户`, role: u.role, orgUnitId: u.orgUnitId } });
    tokens[u.key] = (await issueAccessToken(app.config, { kind: "cadre", subjectId: user.id, role: user.role, orgUnitId: user.orgUnitId, tokenVersion: user.tokenVersion })).token;
  }
  return tokens;
}
