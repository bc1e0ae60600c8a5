// A cadre changes their own password: the forced first change after a one-time password, or any time later.
import { audit } from "../audit.ts";
import type { AppContext } from "../context.ts";
import { AppError } from "../kernel/errors.ts";
import { loginFailureGuard, loginResultFor, type RequestMeta } from "./login.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./password.ts";
import type { Principal } from "./principal.ts";
import { tokenRevoked } from "./tokens.ts";

/**
 * Checks the old password and the policy, stores the new hash, clears mustChangePassword and bumps tokenVersion
 * (every older token of the account stops working), and answers a fresh token so the caller stays logged in.
 * Wrong old passwords count towards the login failure limits: a stolen token must not become a password oracle.
 */
export async function changeOwnPassword(
  deps: AppContext,
  principal: Principal,
  input: { oldPassword: string; newPassword: string },
  meta: RequestMeta,
) {
  if (principal.kind !== "cadre") throw new AppError("NOT_A_CADRE_LOGIN", "小程序登录没有密码，无需修改");
  const { db, coord, config } = deps;
  const user = await db.prisma.cadreUser.findUnique({
    where: { id: principal.id },
    select: { id: true, username: true, passwordHash: true, active: true, mustChangePassword: true },
  });
  if (!user || !user.active) throw tokenRevoked();

  const guard = loginFailureGuard(coord, user.username, meta.ip);
  await guard.check();
  if (!(await verifyPassword(user.passwordHash, input.oldPassword))) {
    await audit(db.prisma, {
      actorId: user.id,
      channel: meta.channel ?? "api",
      action: "auth.password_change_failed",
      targetType: "CadreUser",
      targetId: user.id,
      detail: { ip: meta.ip, reason: "wrong_old_password" },
      requestId: meta.requestId,
    });
    await guard.fail();
    throw new AppError("PASSWORD_WRONG");
  }
  checkPasswordPolicy(input.newPassword, { username: user.username, oldPassword: input.oldPassword });

  const passwordHash = await hashPassword(input.newPassword);
  const now = new Date();
  const updated = await db.prisma.$transaction(async (tx) => {
    const row = await tx.cadreUser.update({
      where: { id: user.id },
      data: { passwordHash, mustChangePassword: false, passwordChangedAt: now, tokenVersion: { increment: 1 } },
      select: { id: true, username: true, displayName: true, role: true, orgUnitId: true, tokenVersion: true, mustChangePassword: true },
    });
    await audit(tx, {
      actorId: user.id,
      channel: meta.channel ?? "api",
      action: "auth.password_changed",
      targetType: "CadreUser",
      targetId: user.id,
      // Never the password; whether it was the forced change after a one-time password is worth knowing.
      detail: { ip: meta.ip, forced: user.mustChangePassword },
      requestId: meta.requestId,
    });
    return row;
  });
  return loginResultFor(config, updated);
}
