// Password hashing: argon2id with the library defaults (19 MiB, t=2, p=1 — the OWASP baseline), PHC strings in
// CadreUser.passwordHash so parameters can be raised later without breaking existing hashes.
import { hash, verify } from "@node-rs/argon2";

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
