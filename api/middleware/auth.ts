// Authentication (who is calling) and the one authorization check (may they do this, here). Routes declare their
// needs with `authorize({...})`; no route checks roles or org scope by hand.
import { resolvePrincipal, type Principal } from "../../core/auth/principal.ts";
import { tokenInvalid, tokenMissing, verifyAccessToken, type TokenKind } from "../../core/auth/tokens.ts";
import { AppError, validationFailed } from "../../core/kernel/errors.ts";
import { requireUnitInScope, type CadreRole } from "../../core/org/scope.ts";
import type { ApiCtx, ApiMiddleware } from "../types.ts";

const BEARER = /^Bearer[ \t]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[ \t]*$/i;

/** Bearer token → ctx.state.principal. 401 TOKEN_MISSING / TOKEN_INVALID / TOKEN_EXPIRED / TOKEN_REVOKED. */
export const authenticate: ApiMiddleware = async (ctx, next) => {
  const header = ctx.get("authorization");
  if (!header) throw tokenMissing();
  const match = BEARER.exec(header);
  if (!match) throw tokenInvalid();
  const verified = await verifyAccessToken(ctx.deps.config, match[1]);
  ctx.state.principal = await resolvePrincipal(ctx.deps.db, verified);
  await next();
};

export interface AuthorizeOptions {
  /** Allowed roles; see rolesAtLeast() in core/org/scope.ts for "this role or stronger". Omitted = any role. */
  roles?: CadreRole[];
  /** Route parameter holding an org unit id that must lie inside the caller's subtree. */
  orgParam?: string;
  /** Which logins may call. Default: cadre logins only — mini-program users must be let in explicitly. */
  kinds?: TokenKind[];
  /**
   * Callable while the account still has a one-time password (mustChangePassword): only the password change, who
   * am I and logout. Every other route answers 403 PASSWORD_CHANGE_REQUIRED until the password is changed.
   */
  allowPasswordChange?: boolean;
}

const notAllowed = () => new AppError("FORBIDDEN");
export const passwordChangeRequired = () =>
  new AppError("PASSWORD_CHANGE_REQUIRED");

/** Role and org-subtree check; must run after `authenticate`. 403 FORBIDDEN or OUT_OF_SCOPE, 404 for no such unit. */
export function authorize(opts: AuthorizeOptions = {}): ApiMiddleware {
  const kinds = opts.kinds ?? ["cadre"];
  return async (ctx, next) => {
    const principal = requirePrincipal(ctx);
    if (!kinds.includes(principal.kind)) throw notAllowed();
    if (principal.mustChangePassword && !opts.allowPasswordChange) throw passwordChangeRequired();
    if (opts.roles && (!principal.role || !opts.roles.includes(principal.role))) throw notAllowed();
    if (opts.orgParam) {
      const raw = ctx.params[opts.orgParam];
      const unitId = Number(raw);
      // Checked here, before route validation, because the scope decision needs the id.
      if (!/^[1-9]\d{0,9}$/.test(raw ?? "") || !Number.isSafeInteger(unitId)) {
        throw validationFailed([{ field: `params.${opts.orgParam}`, message: "必须是正整数" }]);
      }
      await requireUnitInScope(ctx.deps.db, principal, unitId);
    }
    await next();
  };
}

/** The authenticated caller; throws 401 when a route forgot `authenticate` rather than running unauthenticated. */
export function requirePrincipal(ctx: ApiCtx): Principal {
  const principal = ctx.state.principal;
  if (!principal) throw tokenMissing();
  return principal;
}
