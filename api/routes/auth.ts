// Cadre authentication for the console and county systems.
import { z } from "zod";
import { changeOwnPassword } from "../../core/auth/change-password.ts";
import { loginCadre, logoutCadre } from "../../core/auth/login.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../core/auth/password.ts";
import { loadProfile } from "../../core/auth/principal.ts";
import { requestMeta } from "../request-meta.ts";
import { CadreRoleSchema as Role, IsoDateTime as isoDate, NullableCadreRole, OrgKindSchema } from "../schemas.ts";
import type { ApiRouter } from "../validate.ts";

const LoginBody = z
  .object({
    username: z.string({ error: "请输入用户名" }).trim().min(1, { error: "请输入用户名" }).max(64, { error: "用户名过长" }),
    // Bounded so nobody can make us hash megabytes.
    password: z.string({ error: "请输入密码" }).min(1, { error: "请输入密码" }).max(256, { error: "密码过长" }),
  })
  .meta({ id: "LoginRequest" });

const LoginResult = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().meta({ description: "有效期（秒）" }),
    expiresAt: isoDate(),
    user: z.object({
      id: z.number().int(),
      username: z.string(),
      displayName: z.string(),
      role: Role,
      orgUnitId: z.number().int(),
      mustChangePassword: z.boolean().meta({ description: "正在使用一次性密码：须先调用 POST /api/auth/password 修改密码" }),
    }),
  })
  .meta({ id: "LoginResult" });

const PasswordChange = z
  .object({
    oldPassword: z.string({ error: "请输入原密码" }).min(1, { error: "请输入原密码" }).max(256, { error: "密码过长" }),
    // The policy (length, character kinds, username) is checked in core with its own codes; this only bounds the input.
    newPassword: z.string({ error: "请输入新密码" }).min(1, { error: "请输入新密码" }).max(1024, { error: "密码过长" }),
  })
  .meta({ id: "PasswordChangeRequest" });

const Me = z
  .object({
    principal: z.object({
      kind: z.enum(["cadre", "mp"]),
      id: z.number().int(),
      role: NullableCadreRole,
      orgUnitId: z.number().int().nullable(),
      memberId: z.number().int().nullable(),
      displayName: z.string(),
      tokenExpiresAt: isoDate(),
    }),
    user: z
      .object({
        id: z.number().int(),
        username: z.string(),
        displayName: z.string(),
        role: Role,
        lastLoginAt: isoDate().nullable(),
        mustChangePassword: z.boolean(),
      })
      .nullable(),
    orgUnit: z.object({ id: z.number().int(), code: z.string(), name: z.string(), kind: OrgKindSchema, path: z.string() }).nullable(),
    member: z.object({ id: z.number().int(), name: z.string(), branchId: z.number().int() }).nullable(),
  })
  .meta({ id: "Me" });

const LoggedOut = z.object({ ok: z.literal(true) }).meta({ id: "LoggedOut" });

export function registerAuthRoutes(api: ApiRouter) {
  api.route({
    method: "post",
    path: "/api/auth/login",
    summary: "干部登录 / cadre login",
    description:
      "用户名不存在与密码错误返回同一提示。同一用户名和 IP 连续失败过多，或同一用户名从各处累计失败过多（账号临时锁定），" +
      "返回 429 TOO_MANY_ATTEMPTS，提示多少分钟后再试（见 Retry-After）。user.mustChangePassword 为 true 时须先修改密码。",
    tags: ["auth"],
    body: LoginBody,
    response: { description: "登录成功，返回访问令牌", schema: LoginResult },
    errors: [401, 403, 429, 503],
    handler: async (ctx, { body }) => {
      const result = await loginCadre(ctx.deps, body, requestMeta(ctx));
      return { ...result, expiresAt: result.expiresAt.toISOString() };
    },
  });

  api.route({
    method: "get",
    path: "/api/auth/me",
    summary: "当前登录信息 / who am I",
    tags: ["auth"],
    auth: { kinds: ["cadre", "mp"], allowPasswordChange: true },
    response: { description: "当前登录者、账号和所属单位", schema: Me },
    handler: async (ctx, { principal }) => {
      const { user, orgUnit, member } = await loadProfile(ctx.deps.db, principal);
      return {
        principal: { ...principal, tokenExpiresAt: principal.tokenExpiresAt.toISOString() },
        user: user && { ...user, lastLoginAt: user.lastLoginAt?.toISOString() ?? null },
        orgUnit,
        member,
      };
    },
  });

  api.route({
    method: "post",
    path: "/api/auth/logout",
    summary: "退出登录 / logout everywhere",
    description: "使该账号此前签发的所有令牌失效（所有设备）。",
    tags: ["auth"],
    auth: { allowPasswordChange: true },
    response: { description: "已退出", schema: LoggedOut },
    handler: async (ctx, { principal }) => {
      await logoutCadre(ctx.deps, principal, requestMeta(ctx));
      return { ok: true as const };
    },
  });

  api.route({
    method: "post",
    path: "/api/auth/password",
    summary: "修改密码 / change own password",
    description:
      `修改自己的密码；使用一次性密码首次登录后必须先调用本接口。成功后此前签发的令牌全部失效，返回新的访问令牌。\n\n` +
      `密码要求：${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} 个字符，至少包含字母、数字、符号中的两种，不能包含用户名，不能与原密码相同。\n\n` +
      "400 PASSWORD_WRONG 原密码不正确 · PASSWORD_TOO_SHORT · PASSWORD_TOO_LONG · PASSWORD_TOO_WEAK · PASSWORD_CONTAINS_USERNAME · PASSWORD_REUSED；" +
      "原密码连续输错计入登录失败次数（429 TOO_MANY_ATTEMPTS）。",
    tags: ["auth"],
    auth: { allowPasswordChange: true },
    body: PasswordChange,
    response: { description: "密码已修改，返回新的访问令牌", schema: LoginResult },
    errors: [429],
    handler: async (ctx, { body, principal }) => {
      const result = await changeOwnPassword(ctx.deps, principal, body, requestMeta(ctx));
      return { ...result, expiresAt: result.expiresAt.toISOString() };
    },
  });
}
