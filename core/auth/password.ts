// Password hashing: argon2id with the library defaults (19 MiB, t=2, p=1 — the OWASP baseline), PHC strings in
// CadreUser.passwordHash so parameters can be raised later without breaking existing hashes.
import { randomInt } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { AppError } from "../kernel/errors.ts";

export const MIN_PASSWORD_LENGTH = 8;

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** False for a wrong password and for a stored value that is not a valid argon2 hash (never throws on bad data). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/**
 * Burns the same time as a real verification. Used when the username does not exist, so response time does not
 * tell an attacker which usernames are real.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= hash("netbranch-timing-equaliser");
  await verifyPassword(await dummy, password);
  return false;
}

// ---- the password policy (one place; setup, the password change and one-time passwords all use it) ----

export const MAX_PASSWORD_LENGTH = 128;

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;
/** Anything that is neither a letter nor a digit counts as a symbol (punctuation, spaces, emoji...). */
const SYMBOL = /[^\p{L}\p{Nd}]/u;

/**
 * Throws 400 with a stable code and a Chinese message when `password` breaks the policy: 8–128 characters, at least
 * two of letters / digits / symbols, not containing the username (case-insensitive), different from the old one.
 */
export function checkPasswordPolicy(password: string, ctx: { username: string; oldPassword?: string }): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) throw new AppError("PASSWORD_TOO_SHORT", `密码至少需要 ${MIN_PASSWORD_LENGTH} 个字符`);
  if (length > MAX_PASSWORD_LENGTH) throw new AppError("PASSWORD_TOO_LONG", `密码最多 ${MAX_PASSWORD_LENGTH} 个字符`);
  const kinds = [LETTER, DIGIT, SYMBOL].filter((re) => re.test(password)).length;
  if (kinds < 2) throw new AppError("PASSWORD_TOO_WEAK");
  if (ctx.username && password.toLowerCase().includes(ctx.username.toLowerCase())) {
    throw new AppError("PASSWORD_CONTAINS_USERNAME");
  }
  if (ctx.oldPassword !== undefined && password === ctx.oldPassword) throw new AppError("PASSWORD_REUSED");
}

// No 0/O, 1/l/I: one-time passwords are read off a screen and typed by hand.
const OTP_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";
const OTP_DIGITS = "23456789";

/**
 * A random one-time password like "Kq7m-9TzR-c4Wd" (three groups of four, ~70 bits): letters, digits and the dashes,
 * so it satisfies the policy; regenerated in the unlikely case it contains the username.
 */
export function generateOneTimePassword(username: string): string {
  const alphabet = OTP_LETTERS + OTP_DIGITS;
  for (;;) {
    const groups = [0, 1, 2].map(() => Array.from({ length: 4 }, () => alphabet[randomInt(alphabet.length)]).join(""));
    const candidate = groups.join("-");
    if (!LETTER.test(candidate) || !DIGIT.test(candidate)) continue;
    try {
      checkPasswordPolicy(candidate, { username });
      return candidate;
    } catch {
      // contains the username: draw again
    }
  }
}
