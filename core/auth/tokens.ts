// Access tokens: HS256 JWTs signed with JWT_SECRET. The signature and expiry are checked here; whether the account
// still exists, is active and has not been logged out (tokenVersion) is checked in principal.ts against the DB.
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import type { Config } from "../config.ts";
import { CadreRole } from "../db/generated/enums.ts";
import { AppError } from "../kernel/errors.ts";

export const TOKEN_ISSUER = "netbranch";
export const TOKEN_AUDIENCE = "netbranch-api";
/** Small allowance for clock drift between processes. */
const CLOCK_TOLERANCE_SECONDS = 5;

export type TokenConfig = Pick<Config, "JWT_SECRET" | "JWT_ACCESS_TTL_SECONDS">;
export type TokenKind = "cadre" | "mp";

/** What a token says about its holder. `sub` is a CadreUser id (cadre) or a ChatIdentity id (mini-program). */
export interface TokenSubject {
  kind: TokenKind;
  subjectId: number;
  role: CadreRole | null;
  orgUnitId: number | null;
  tokenVersion: number;
}

export interface VerifiedToken extends TokenSubject {
  issuedAt: Date;
  expiresAt: Date;
}

export const tokenMissing = () => new AppError("TOKEN_MISSING");
export const tokenInvalid = () => new AppError("TOKEN_INVALID");
export const tokenExpired = () => new AppError("TOKEN_EXPIRED");
export const tokenRevoked = () => new AppError("TOKEN_REVOKED");

const claimsSchema = z.object({
  sub: z.string().regex(/^[1-9]\d{0,15}$/),
  kind: z.enum(["cadre", "mp"]),
  role: z.enum(Object.values(CadreRole) as [CadreRole, ...CadreRole[]]).nullable(),
  org: z.number().int().positive().nullable(),
  tv: z.number().int().min(0),
  iat: z.number(),
  exp: z.number(),
});

const keyOf = (config: TokenConfig) => new TextEncoder().encode(config.JWT_SECRET);

export async function issueAccessToken(
  config: TokenConfig,
  subject: TokenSubject,
  /** `now` lets a caller mint a token as of another time (tests of expiry, clock-skew tooling). */
  opts: { now?: Date; ttlSeconds?: number } = {},
): Promise<{ token: string; expiresIn: number; expiresAt: Date }> {
  const ttl = opts.ttlSeconds ?? config.JWT_ACCESS_TTL_SECONDS;
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const exp = iat + ttl;
  const token = await new SignJWT({ kind: subject.kind, role: subject.role, org: subject.orgUnitId, tv: subject.tokenVersion })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(String(subject.subjectId))
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keyOf(config));
  return { token, expiresIn: ttl, expiresAt: new Date(exp * 1000) };
}

/** Throws TOKEN_EXPIRED for an expired but otherwise genuine token, TOKEN_INVALID for anything else wrong. */
export async function verifyAccessToken(config: TokenConfig, token: string): Promise<VerifiedToken> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, keyOf(config), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["sub", "iat", "exp"],
    }));
  } catch (e) {
    // jose checks the signature before the claims, so JWTExpired means a token we really issued has run out.
    if (e instanceof joseErrors.JWTExpired) throw tokenExpired();
    throw tokenInvalid();
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw tokenInvalid();
  const c = claims.data;
  return {
    kind: c.kind,
    subjectId: Number(c.sub),
    role: c.role,
    orgUnitId: c.org,
    tokenVersion: c.tv,
    issuedAt: new Date(c.iat * 1000),
    expiresAt: new Date(c.exp * 1000),
  };
}
