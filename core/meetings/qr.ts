// On-site QR check-in: the secretary's screen shows a token that changes every 30 s; a member scans it with the
// mini-program, proving they are in the room. Signed with HMAC (no state to store), valid for its own slot and
// the one before, so a code scanned just before it rotates still works, and one photographed and sent home
// stops working within a minute.
import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "../kernel/errors.ts";

export const QR_SLOT_MS = 30_000;
const PREFIX = "NBQ1";

function sign(secret: string, meetingId: number, slot: number) {
  return createHmac("sha256", secret).update(`qr-checkin:${meetingId}:${slot}`).digest("base64url").slice(0, 22);
}

export function issueQrToken(secret: string, meetingId: number, now = Date.now()) {
  const slot = Math.floor(now / QR_SLOT_MS);
  return {
    token: `${PREFIX}.${meetingId}.${slot}.${sign(secret, meetingId, slot)}`,
    /** When the screen should show the next one. */
    rotatesAt: new Date((slot + 1) * QR_SLOT_MS),
    /** When this one stops being accepted. */
    expiresAt: new Date((slot + 2) * QR_SLOT_MS),
  };
}

/** Throws a 400 with a stable code when the token is forged, for another meeting, or too old. */
export function verifyQrToken(secret: string, meetingId: number, token: string, now = Date.now()) {
  const m = /^NBQ1\.(\d{1,9})\.(\d{1,12})\.([A-Za-z0-9_-]{22})$/.exec(token.trim());
  if (!m) throw new AppError("QR_TOKEN_INVALID");
  const [id, slot, sig] = [Number(m[1]), Number(m[2]), m[3]];
  const expected = Buffer.from(sign(secret, id, slot));
  if (!timingSafeEqual(expected, Buffer.from(sig))) throw new AppError("QR_TOKEN_INVALID");
  if (id !== meetingId) throw new AppError("QR_TOKEN_WRONG_MEETING");
  const current = Math.floor(now / QR_SLOT_MS);
  if (slot > current) throw new AppError("QR_TOKEN_INVALID");
  if (current - slot > 1) throw new AppError("QR_TOKEN_EXPIRED");
}

/**
 * The secretary's display link (`签到码` in chat): opens a page that shows the rotating code without a login, until
 * the check-in window closes. Only the link's holder can show it; what it shows still expires every 30 s.
 */
export function issueDisplayKey(secret: string, meetingId: number, until: Date) {
  const exp = Math.ceil(until.getTime() / 1000);
  const sig = createHmac("sha256", secret).update(`qr-display:${meetingId}:${exp}`).digest("base64url").slice(0, 22);
  return `${exp}.${sig}`;
}

/** Throws 403 QR_LINK_INVALID for a forged key, 410 QR_LINK_EXPIRED after its time. */
export function verifyDisplayKey(secret: string, meetingId: number, key: string, now = Date.now()) {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{22})$/.exec(key);
  const bad = () => new AppError("QR_LINK_INVALID");
  if (!m) throw bad();
  const expected = Buffer.from(createHmac("sha256", secret).update(`qr-display:${meetingId}:${m[1]}`).digest("base64url").slice(0, 22));
  if (!timingSafeEqual(expected, Buffer.from(m[2]))) throw bad();
  if (Number(m[1]) * 1000 < now) throw new AppError("QR_LINK_EXPIRED");
}
