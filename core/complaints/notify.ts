// Who hears about a ticket, always through the outbox in the same transaction as the change:
// - the filer, privately through the bot (their filing identity; a member filing from the mini-program through their
//   linked WeChat/QQ identity); anonymous tickets too, since the identity is kept for exactly this;
// - a unit's handlers: a branch's secretaries privately (never the branch group: villagers are in it, and the
//   filer may be their neighbour); a town or the county through its cadre group (ChatGroup kind CADRE) when one is
//   bound, else its admins privately. Console logins of secretary rank or above attached to the unit and linked to a
//   member are told privately as well when there is no cadre group.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { enqueue, PRIORITY } from "../delivery/outbox.ts";
import { enqueuePrivate } from "../meetings/finalize.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

const ACTIVE_MEMBER = { status: { in: ["ACTIVE", "PROBATIONARY"] } } satisfies Prisma.MemberWhereInput;
const CHAT_CHANNELS = ["WECHAT", "QQ"] as const;

/** WeChat/QQ identities of these members, one per member and platform, most recently seen first. */
export async function memberIdentities(tx: Tx, memberIds: number[]) {
  if (memberIds.length === 0) return [];
  const rows = await tx.chatIdentity.findMany({
    where: { memberId: { in: memberIds }, channel: { in: [...CHAT_CHANNELS] } },
    orderBy: { lastSeenAt: "desc" },
    select: { id: true, channel: true, scope: true, memberId: true },
  });
  const seen = new Set<string>();
  return rows.filter((i) => {
    const key = `${i.memberId}:${i.channel}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Members who handle the unit's tickets in chat: a branch's secretaries, and linked console logins of the unit. */
export async function unitHandlerMemberIds(tx: Tx, unitId: number): Promise<number[]> {
  const unit = await tx.orgUnit.findUniqueOrThrow({ where: { id: unitId }, select: { id: true, kind: true, parentId: true } });
  const branchId = unit.kind === "BRANCH" ? unit.id : unit.kind === "PARTY_GROUP" ? unit.parentId : null;
  const [secretaries, logins] = await Promise.all([
    branchId ? tx.member.findMany({ where: { ...ACTIVE_MEMBER, branchId, isSecretary: true }, select: { id: true } }) : [],
    tx.cadreUser.findMany({ where: { orgUnitId: unit.id, active: true, role: { not: "MEMBER" }, memberId: { not: null } }, select: { memberId: true } }),
  ]);
  return [...new Set([...secretaries.map((m) => m.id), ...logins.map((u) => u.memberId!)])];
}

/**
 * Tells a unit's handlers (see the file comment); returns how many deliveries were written. A unit nobody can be
 * reached at (a branch whose secretary is not linked to a chat identity yet) passes the message one level up, so
 * that a ticket is never announced to nobody.
 */
export async function tellUnit(tx: Tx, unitId: number, body: string, key: string, unreachable?: string): Promise<number> {
  const unit = await tx.orgUnit.findUniqueOrThrow({ where: { id: unitId }, select: { kind: true, name: true, parentId: true } });
  if (unreachable) body = `（「${unreachable}」暂无可联系的负责人，转告上级）\n${body}`;
  if (unit.kind === "TOWN" || unit.kind === "COUNTY" || unit.kind === "CITY") {
    const groups = await tx.chatGroup.findMany({ where: { orgUnitId: unitId, kind: "CADRE", active: true, channel: { in: [...CHAT_CHANNELS] } }, select: { id: true, channel: true } });
    for (const g of groups) await enqueue(tx, { channel: g.channel as "WECHAT" | "QQ", groupId: g.id, body, priority: PRIORITY.notice, idempotencyKey: `${key}:g${g.id}` });
    if (groups.length) return groups.length;
  }
  const n = await tellMembers(tx, await unitHandlerMemberIds(tx, unitId), body, key);
  if (n > 0 || unit.parentId == null) return n;
  return tellUnit(tx, unit.parentId, unreachable ? body.slice(body.indexOf("\n") + 1) : body, `${key}:up`, unreachable ?? unit.name);
}

/**
 * Private messages to each member's chat identities; returns how many identities can be reached (a WeChat contact
 * only through the account that knows it), whether or not this key was already written before.
 */
export async function tellMembers(tx: Tx, memberIds: number[], body: string, key: string): Promise<number> {
  const identities = await memberIdentities(tx, memberIds);
  const accounts = new Set(
    (await tx.botAccount.findMany({ where: { name: { in: identities.filter((i) => i.channel === "WECHAT").map((i) => i.scope) } }, select: { name: true } })).map((a) => a.name),
  );
  let n = 0;
  for (const identity of identities) {
    if (identity.channel === "WECHAT" && !accounts.has(identity.scope)) continue;
    await enqueuePrivate(tx as Prisma.TransactionClient, identity, body, `${key}:i${identity.id}`);
    n++;
  }
  return n;
}

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
 * from the mini-program) the filer member's most recent chat identity. False when there is nobody to reach.
 */
export async function tellFiler(tx: Tx, c: { filerIdentityId: number | null; filerMemberId: number | null }, body: string, key: string): Promise<boolean> {
  if (c.filerIdentityId != null) {
    const identity = await tx.chatIdentity.findUnique({ where: { id: c.filerIdentityId }, select: { id: true, channel: true, scope: true, memberId: true } });
    if (identity && (CHAT_CHANNELS as readonly string[]).includes(identity.channel)) {
      return enqueuePrivate(tx as Prisma.TransactionClient, identity, body, key, PRIORITY.reply);
    }
    // Anonymous tickets keep no member: the filing identity's own member link is the only way on.
    const memberId = c.filerMemberId ?? identity?.memberId ?? null;
    if (memberId == null) return false;
    const [chat] = await memberIdentities(tx, [memberId]);
    return chat ? enqueuePrivate(tx as Prisma.TransactionClient, chat, body, key, PRIORITY.reply) : false;
  }
  if (c.filerMemberId == null) return false;
  const [chat] = await memberIdentities(tx, [c.filerMemberId]);
  return chat ? enqueuePrivate(tx as Prisma.TransactionClient, chat, body, key, PRIORITY.reply) : false;
}
