// Who hears about a ticket, always through the outbox in the same transaction as the change:
// - the filer, privately through the bot (their filing identity; a member filing from the mini-program through their
//   linked WeChat/QQ identity); anonymous tickets too, since the identity is kept for exactly this;
// - the ticket's unit, by the one rule of core/kernel/recipients.ts (a branch's secretaries and linked console logins
//   privately, never the branch group: villagers are in it, and the filer may be their neighbour; a town's or the
//   county's cadre group; one level up when nobody can be reached);
// - the ticket's owner, privately.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { PRIORITY } from "../delivery/outbox.ts";
import { enqueuePrivate, enqueueToMember, tellMembers } from "../kernel/recipients.ts";

export { tellUnit } from "../kernel/recipients.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** The member behind a ticket's owner (a chat cadre, or a console login linked to a member). */
export async function ownerMemberId(tx: Tx, c: { ownerId: number | null; ownerMemberId: number | null }): Promise<number | null> {
  if (c.ownerMemberId != null) return c.ownerMemberId;
  if (c.ownerId == null) return null;
  return (await tx.cadreUser.findUnique({ where: { id: c.ownerId }, select: { memberId: true } }))?.memberId ?? null;
}

/** Tells the ticket's owner privately; false when the owner has no chat identity (a console-only login). */
export async function tellOwner(tx: Tx, c: { ownerId: number | null; ownerMemberId: number | null }, body: string, key: string): Promise<boolean> {
  const memberId = await ownerMemberId(tx, c);
  return memberId != null && (await tellMembers(tx, [memberId], body, key)) > 0;
}

/**
 * Tells the filer privately through the bot: the identity they filed from when it is a chat identity, else (filed
 * from the mini-program) the filer member's most recent reachable chat identity. False when there is nobody to reach.
 */
export async function tellFiler(tx: Tx, c: { filerIdentityId: number | null; filerMemberId: number | null }, body: string, key: string): Promise<boolean> {
  let memberId = c.filerMemberId;
  if (c.filerIdentityId != null) {
    const identity = await tx.chatIdentity.findUnique({ where: { id: c.filerIdentityId }, select: { id: true, channel: true, scope: true, memberId: true } });
    if (identity && identity.channel !== "MINIPROGRAM") return enqueuePrivate(tx, identity, body, key, PRIORITY.reply);
    // Anonymous tickets keep no member: the filing identity's own member link is the only way on.
    memberId ??= identity?.memberId ?? null;
  }
  return memberId != null && enqueueToMember(tx, memberId, body, key, PRIORITY.reply);
}
