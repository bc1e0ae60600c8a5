// Logging in and out: cadre username/password for the console and API, wx.login() codes for the mini-program.
import type { AppContext } from "../context.ts";
import { AppError } from "../kernel/errors.ts";
import type { CadreRole } from "../db/generated/enums.ts";
import type { MiniProgramClient } from "../wechat/miniprogram.ts";
import { verifyAgainstDummy, verifyPassword } from "./password.ts";
import type { Principal } from "./principal.ts";
import { issueAccessToken } from "./tokens.ts";

/** Where a request came from, for the audit log and per-client limits. */
export interface RequestMeta {
  ip: string;
  userAgent?: string;
  requestId?: string;
  /** AuditLog.channel: "api" for HTTP, the platform name for the bot. */
  channel?: string;
}

/** Failed password attempts allowed per username and IP in one window; the next one is refused with 429. */
export const LOGIN_FAILURE_LIMIT = { points: 5, durationSec: 15 * 60 };
/**
 * Failed attempts allowed per username from all addresses together: past this the account is locked for the rest of
 * the window, so guessing spread over many IPs stops too.
 */
export const ACCOUNT_LOCK_LIMIT = { points: 10, durationSec: 30 * 60 };

const badCredentials = () => new AppError("INVALID_CREDENTIALS");
const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
const tooManyAttempts = (retryAfterMs: number) =>
  new AppError("TOO_MANY_ATTEMPTS", `登录失败次数过多，请 ${minutes(retryAfterMs)} 分钟后再试`, { retryAfterSeconds: seconds(retryAfterMs) });
const accountLocked = (retryAfterMs: number) =>
  new AppError("TOO_MANY_ATTEMPTS", `登录失败次数过多，账号已临时锁定，请 ${minutes(retryAfterMs)} 分钟后再试`, { retryAfterSeconds: seconds(retryAfterMs) });

/**
 * The two failure budgets of a username: per username+IP (one client guessing) and per username alone (guessing
 * from many addresses). Lower-cased so case variations of one name share a budget.
 */
export function loginFailureGuard(coord: AppContext["coord"], username: string, ip: string) {
  const perClient = coord.rateLimiter("login-failures", LOGIN_FAILURE_LIMIT);
  // One point less than the limit: the failure that reaches the limit is itself answered with the lock (and its
  // duration), instead of one more attempt being let through to find out.
  const perAccount = coord.rateLimiter("login-account-lock", { ...ACCOUNT_LOCK_LIMIT, points: ACCOUNT_LOCK_LIMIT.points - 1 });
  const name = username.toLowerCase();
  const clientKey = `${name}|${ip}`;
  return {
    /** Throws 429 when either budget is already spent. Consuming 0 points only reads the counters. */
    async check() {
      const [account, client] = await Promise.all([perAccount.consume(name, 0), perClient.consume(clientKey, 0)]);
      if (!account.allowed) throw accountLocked(account.retryAfterMs);
      if (!client.allowed) throw tooManyAttempts(client.retryAfterMs);
    },
    /** Counts one failure; throws 429 when it used up a budget, otherwise returns. */
    async fail() {
      const [account, client] = await Promise.all([perAccount.consume(name, 1), perClient.consume(clientKey, 1)]);
      if (!account.allowed) throw accountLocked(account.retryAfterMs);
      if (!client.allowed) throw tooManyAttempts(client.retryAfterMs);
    },
  };
}

/** What a login and a password change answer: a fresh token and who it belongs to. */
export async function loginResultFor(
  config: AppContext["config"],
  user: { id: number; username: string; displayName: string; role: CadreRole; orgUnitId: number; tokenVersion: number; mustChangePassword: boolean },
) {
  const token = await issueAccessToken(config, {
    kind: "cadre",
    subjectId: user.id,
    role: user.role,
    orgUnitId: user.orgUnitId,
    tokenVersion: user.tokenVersion,
  });
  return {
    accessToken: token.token,
    tokenType: "Bearer" as const,
    expiresIn: token.expiresIn,
    expiresAt: token.expiresAt,
    user: {
      id: user.id,
      username: user.username,
      displayName: user.displayName,
      role: user.role,
      orgUnitId: user.orgUnitId,
      mustChangePassword: user.mustChangePassword,
    },
  };
}

export async function loginCadre(deps: AppContext, input: { username: string; password: string }, meta: RequestMeta) {
  const { db, coord, config } = deps;
  const guard = loginFailureGuard(coord, input.username, meta.ip);

  // Refuse before spending a hash verification, and refuse even the right password so guessing cannot continue
  // behind the 429.
  await guard.check();

  const user = await db.prisma.cadreUser.findUnique({
    where: { username: input.username },
    select: {
      id: true,
      username: true,
      displayName: true,
      passwordHash: true,
      role: true,
      orgUnitId: true,
      active: true,
      tokenVersion: true,
      mustChangePassword: true,
    },
  });
  const passwordOk = user ? await verifyPassword(user.passwordHash, input.password) : await verifyAgainstDummy(input.password);

  if (!user || !passwordOk) {
    await db.prisma.auditLog.create({
      data: {
        channel: meta.channel ?? "api",
        action: "auth.login_failed",
        targetType: "CadreUser",
        targetId: user ? String(user.id) : null,
        detail: { username: input.username, ip: meta.ip, reason: user ? "bad_password" : "unknown_user" },
        requestId: meta.requestId,
      },
    });
    await guard.fail();
    throw badCredentials();
  }
  // Only someone who knows the password learns that the account exists but is disabled.
  if (!user.active) throw new AppError("ACCOUNT_DISABLED");

  const now = new Date();
  await db.prisma.$transaction([
    db.prisma.cadreUser.update({ where: { id: user.id }, data: { lastLoginAt: now } }),
    db.prisma.auditLog.create({
      data: {
        actorId: user.id,
        channel: meta.channel ?? "api",
        action: "auth.login",
        targetType: "CadreUser",
        targetId: String(user.id),
        detail: { ip: meta.ip, userAgent: meta.userAgent?.slice(0, 200) ?? null },
        requestId: meta.requestId,
      },
    }),
  ]);
  return loginResultFor(config, user);
}

/** Revokes every token of this cadre (all devices): tokens carry the version they were issued with. */
export async function logoutCadre(deps: AppContext, principal: Principal, meta: RequestMeta): Promise<void> {
  if (principal.kind !== "cadre") throw new AppError("NOT_A_CADRE_LOGIN", "小程序登录无需退出，删除本地登录信息即可");
  await deps.db.prisma.$transaction([
    deps.db.prisma.cadreUser.update({ where: { id: principal.id }, data: { tokenVersion: { increment: 1 } } }),
    deps.db.prisma.auditLog.create({
      data: {
        actorId: principal.id,
        channel: meta.channel ?? "api",
        action: "auth.logout",
        targetType: "CadreUser",
        targetId: String(principal.id),
        detail: { ip: meta.ip },
        requestId: meta.requestId,
      },
    }),
  ]);
}

const MEMBER_SCOPED = new Set(["ACTIVE", "PROBATIONARY"]);

/**
 * wx.login() code → openid → our ChatIdentity (channel MINIPROGRAM, scope "" because openids are stable per app)
 * → an "mp" token. The identity is linked to a member by a cadre or the bot's binding flow, not here.
 */
export async function loginMiniProgram(deps: AppContext, client: MiniProgramClient, code: string) {
  const { db, config } = deps;
  const session = await client.code2Session(code);
  const key = { channel: "MINIPROGRAM" as const, scope: "", platformUserId: session.openid };
  const now = new Date();
  const select = {
    id: true,
    member: { select: { id: true, name: true, status: true, branchId: true, branch: { select: { name: true } } } },
  } as const;

  const touch = () =>
    db.prisma.chatIdentity.update({
      where: { channel_scope_platformUserId: key },
      // Keep a known unionid when WeChat omits it (it is only sent once the app is bound to an open platform).
      data: { lastSeenAt: now, ...(session.unionid ? { unionId: session.unionid } : {}) },
      select,
    });
  let created = false;
  let identity;
  const existing = await db.prisma.chatIdentity.findUnique({ where: { channel_scope_platformUserId: key }, select: { id: true } });
  if (existing) {
    identity = await touch();
  } else {
    try {
      identity = await db.prisma.chatIdentity.create({ data: { ...key, unionId: session.unionid, firstSeenAt: now, lastSeenAt: now }, select });
      created = true;
    } catch (e) {
      // Two first logins of the same user racing: the other request created the row.
      if ((e as { code?: string }).code !== "P2002") throw e;
      identity = await touch();
    }
  }

  const member = identity.member && MEMBER_SCOPED.has(identity.member.status) ? identity.member : null;
  const token = await issueAccessToken(config, {
    kind: "mp",
    subjectId: identity.id,
    role: member ? "MEMBER" : null,
    orgUnitId: member?.branchId ?? null,
    tokenVersion: 0,
  });
  return {
    accessToken: token.token,
    tokenType: "Bearer" as const,
    expiresIn: token.expiresIn,
    expiresAt: token.expiresAt,
    identity: { id: identity.id, isNew: created },
    member: member ? { id: member.id, name: member.name, branchId: member.branchId, branchName: member.branch.name } : null,
  };
}
