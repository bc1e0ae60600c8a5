// Keeps who and where we talk to current: chat identities, groups and which account reaches them.
import type { Channel, PrismaClient } from "../db/index.ts";
import { audit } from "../audit.ts";
import type { ChatMessage, GroupEvent } from "./message.ts";

/** WeChat contact ids are only stable per account; QQ numbers are global (see schema: ChatIdentity.scope). */
export const identityScope = (m: { channel: ChatMessage["channel"]; account: string }) => (m.channel === "WECHAT" ? m.account : "");

export async function touchIdentity(prisma: PrismaClient, m: ChatMessage) {
  const key = { channel: m.channel, scope: identityScope(m), platformUserId: m.sender.platformUserId };
  const identity = await prisma.chatIdentity.upsert({
    where: { channel_scope_platformUserId: key },
    create: { ...key, displayName: m.sender.displayName },
    update: { displayName: m.sender.displayName, lastSeenAt: new Date() },
  });
  if (identity.memberId != null || key.scope === "") return identity;
  // Registered through another of our accounts that sees the same platform id (puppets with global wxids): the same
  // person, so the same member; otherwise whichever account's copy of a message won would decide who they are.
  const sibling = await prisma.chatIdentity.findFirst({
    where: { channel: key.channel, platformUserId: key.platformUserId, memberId: { not: null }, id: { not: identity.id } },
    orderBy: { linkedAt: { sort: "desc", nulls: "last" } },
  });
  if (!sibling) return identity;
  return prisma.chatIdentity.update({ where: { id: identity.id }, data: { memberId: sibling.memberId, linkedAt: new Date() } });
}

/** Records the group, that this account reaches it, and that the sender is in it. */
export async function touchGroup(prisma: PrismaClient, m: ChatMessage, accountId: number, senderIdentityId: number) {
  if (m.conversation.kind !== "group") throw new Error("touchGroup: not a group message");
  let group = await groupByPlatformId(prisma, { channel: m.channel, groupId: m.conversation.groupId, topic: m.conversation.topic });
  // A message arrived: whatever a re-login had concluded, the group is live under this id.
  if (group.lostAt) {
    const lostAt = group.lostAt;
    const found = group;
    group = await prisma.$transaction(async (tx) => {
      const row = await tx.chatGroup.update({ where: { id: found.id }, data: { lostAt: null, active: true } });
      await audit(tx, { channel: m.channel, action: "group.found_again", targetType: "ChatGroup", targetId: found.id, detail: { lostAt: lostAt.toISOString(), orgUnitId: found.orgUnitId } });
      return row;
    });
  }
  await linkAccount(prisma, group.id, accountId);
  await prisma.groupMembership.upsert({
    where: { groupId_identityId: { groupId: group.id, identityId: senderIdentityId } },
    create: { groupId: group.id, identityId: senderIdentityId },
    update: { leftAt: null },
  });
  return group;
}

/** This account reaches the group (again). */
async function linkAccount(prisma: PrismaClient, groupId: number, accountId: number) {
  await prisma.groupAccount.upsert({
    where: { groupId_accountId: { groupId, accountId } },
    create: { groupId, accountId },
    update: { active: true, lastSeenAt: new Date() },
  });
}

type PersonKey = { platformUserId: string; displayName: string };

/** Upserts identities for people seen on the platform; returns their ids by platform user id. */
async function upsertIdentities(prisma: PrismaClient, channel: ChatMessage["channel"], scope: string, people: PersonKey[]) {
  if (people.length === 0) return new Map<string, number>();
  await prisma.chatIdentity.createMany({
    data: people.map((p) => ({ channel, scope, platformUserId: p.platformUserId, displayName: p.displayName })),
    skipDuplicates: true,
  });
  const rows = await prisma.chatIdentity.findMany({
    where: { channel, scope, platformUserId: { in: people.map((p) => p.platformUserId) } },
    select: { id: true, platformUserId: true },
  });
  return new Map(rows.map((r) => [r.platformUserId, r.id]));
}

async function groupByPlatformId(prisma: PrismaClient, e: Pick<GroupEvent, "channel" | "groupId" | "topic">) {
  return prisma.chatGroup.upsert({
    where: { channel_platformGroupId: { channel: e.channel, platformGroupId: e.groupId } },
    create: { channel: e.channel, platformGroupId: e.groupId, topic: e.topic ?? "" },
    update: e.topic ? { topic: e.topic } : {},
  });
}

/** Replaces the group's roster with what the platform reports now: present people active, everyone else left. */
export async function syncGroupMembers(prisma: PrismaClient, e: Pick<GroupEvent, "channel" | "account" | "groupId" | "topic">, accountId: number, people: PersonKey[]) {
  const group = await groupByPlatformId(prisma, e);
  await linkAccount(prisma, group.id, accountId);
  const ids = [...(await upsertIdentities(prisma, e.channel, identityScope(e), people)).values()];
  await prisma.$transaction([
    prisma.groupMembership.createMany({ data: ids.map((identityId) => ({ groupId: group.id, identityId })), skipDuplicates: true }),
    prisma.groupMembership.updateMany({ where: { groupId: group.id, identityId: { in: ids }, leftAt: { not: null } }, data: { leftAt: null, joinedAt: new Date() } }),
    prisma.groupMembership.updateMany({ where: { groupId: group.id, identityId: { notIn: ids }, leftAt: null }, data: { leftAt: new Date() } }),
    // Seen again: whatever a re-login had concluded, the group is reachable under this id.
    prisma.chatGroup.update({ where: { id: group.id }, data: { memberCount: ids.length, active: true, lostAt: null } }),
  ]);
  return group;
}

/** Records a room event so the roster stays current. */
export async function recordGroupEvent(prisma: PrismaClient, e: GroupEvent, accountId: number) {
  const group = await groupByPlatformId(prisma, e);
  switch (e.kind) {
    case "bot_joined":
      await linkAccount(prisma, group.id, accountId);
      break;
    case "bot_removed":
      await prisma.groupAccount.updateMany({ where: { groupId: group.id, accountId }, data: { active: false } });
      break;
    case "members_joined": {
      const ids = [...(await upsertIdentities(prisma, e.channel, identityScope(e), e.members)).values()];
      await prisma.groupMembership.createMany({ data: ids.map((identityId) => ({ groupId: group.id, identityId })), skipDuplicates: true });
      await prisma.groupMembership.updateMany({ where: { groupId: group.id, identityId: { in: ids } }, data: { leftAt: null } });
      break;
    }
    case "members_left": {
      const ids = [...(await upsertIdentities(prisma, e.channel, identityScope(e), e.members)).values()];
      await prisma.groupMembership.updateMany({ where: { groupId: group.id, identityId: { in: ids }, leftAt: null }, data: { leftAt: e.at } });
      break;
    }
    case "topic_changed":
      break; // groupByPlatformId already stored the new topic
  }
  if (e.kind === "members_joined" || e.kind === "members_left") {
    const count = await prisma.groupMembership.count({ where: { groupId: group.id, leftAt: null } });
    await prisma.chatGroup.update({ where: { id: group.id }, data: { memberCount: count } });
  }
  return group;
}

/** Share of display names two member lists have in common (of the larger list) for a re-login match to count. */
export const RELOGIN_MATCH_OVERLAP = 0.6;

async function displayNames(prisma: PrismaClient, groupId: number) {
  const rows = await prisma.groupMembership.findMany({ where: { groupId, leftAt: null }, select: { identity: { select: { displayName: true } } } });
  return new Set(rows.map((r) => r.identity.displayName.trim()).filter(Boolean));
}

function overlap(a: Set<string>, b: Set<string>) {
  if (a.size === 0 || b.size === 0) return 0;
  let common = 0;
  for (const n of a) if (b.has(n)) common++;
  return common / Math.max(a.size, b.size);
}

export interface ReloginOutcome {
  moved: { fromGroupId: number; toGroupId: number; orgUnitId: number }[];
  lost: number[];
}

/**
 * After a WeChat account logged in and its group list was synced (syncGroupMembers for each of `seenGroupIds`):
 * wechat4u gives every room a new id at each login, so a bound group this account reached that the list no longer
 * has is looked for among the new, unbound groups of the same account: the same topic and a strongly overlapping
 * member list (display names), one candidate only. Found: the binding moves to the new row (the old one is kept,
 * inactive, for its history). Not found: the old group only gets lostAt (it stays active: the list may just have
 * been incomplete), the console lists it for `绑定 <码>` again, and its next message clears it; groups already lost
 * are tried again at each login. An empty list changes nothing. QQ group numbers do not change: nothing to do there.
 */
export async function reconcileGroupsAfterLogin(
  prisma: PrismaClient,
  account: { id: number; channel: Channel },
  seenGroupIds: string[],
  now: Date = new Date(),
  /** When the platform's list was taken: a group bound or heard from since then is live, whatever the list says. */
  listedAt: Date = now,
): Promise<ReloginOutcome> {
  const outcome: ReloginOutcome = { moved: [], lost: [] };
  if (account.channel !== "WECHAT") return outcome;
  // An empty list right after login is the platform not having loaded the rooms yet, not every group gone.
  if (seenGroupIds.length === 0) return outcome;
  const missing = await prisma.groupAccount.findMany({
    where: {
      accountId: account.id,
      group: { channel: "WECHAT", orgUnitId: { not: null }, platformGroupId: { notIn: seenGroupIds }, OR: [{ boundAt: null }, { boundAt: { lt: listedAt } }] },
      lastSeenAt: { lt: listedAt },
      OR: [{ active: true }, { group: { lostAt: { not: null } } }],
    },
    select: { active: true, group: true },
    orderBy: { groupId: "asc" },
  });
  for (const { active, group: old } of missing) {
    const leave = () => (active ? prisma.groupAccount.update({ where: { groupId_accountId: { groupId: old.id, accountId: account.id } }, data: { active: false } }) : null);
    // Still reached through another of our accounts (a puppet with stable ids): this account just left it.
    if (await prisma.groupAccount.count({ where: { groupId: old.id, active: true, accountId: { not: account.id } } })) {
      await leave();
      continue;
    }

    const candidates = old.topic
      ? await prisma.chatGroup.findMany({
          where: { channel: "WECHAT", orgUnitId: null, topic: old.topic, platformGroupId: { in: seenGroupIds }, accounts: { some: { accountId: account.id, active: true } } },
          select: { id: true },
        })
      : [];
    const oldNames = await displayNames(prisma, old.id);
    const scored = await Promise.all(candidates.map(async (c) => ({ id: c.id, overlap: overlap(oldNames, await displayNames(prisma, c.id)) })));
    const matches = scored.filter((c) => c.overlap >= RELOGIN_MATCH_OVERLAP);
    const orgUnitId = old.orgUnitId!;

    if (matches.length === 1) {
      const to = matches[0];
      const moved = await prisma.$transaction(async (tx) => {
        // Compare-and-set: a `绑定 <码>` in the new group meanwhile wins, and then there is nothing to move.
        const won = await tx.chatGroup.updateMany({
          where: { id: to.id, orgUnitId: null },
          data: { orgUnitId, kind: old.kind, boundAt: old.boundAt ?? now, boundByIdentityId: old.boundByIdentityId, lostAt: null },
        });
        if (won.count === 0) return false;
        await tx.chatGroup.update({ where: { id: old.id }, data: { active: false, lostAt: null } });
        await tx.groupAccount.updateMany({ where: { groupId: old.id, accountId: account.id }, data: { active: false } });
        await audit(tx, { channel: "WECHAT", action: "group.rebind_after_relogin", targetType: "ChatGroup", targetId: to.id, detail: { fromGroupId: old.id, toGroupId: to.id, orgUnitId, topic: old.topic, overlap: Math.round(to.overlap * 100) / 100, accountId: account.id } });
        return true;
      });
      if (moved) {
        outcome.moved.push({ fromGroupId: old.id, toGroupId: to.id, orgUnitId });
        continue;
      }
    }
    if (old.lostAt) continue;
    // Only listed as lost: the group stays active and reachable, so a list that was merely incomplete costs nothing
    // (its next message or sync clears lostAt), and notices keep going to it.
    await prisma.$transaction(async (tx) => {
      await tx.chatGroup.update({ where: { id: old.id }, data: { lostAt: now } });
      await audit(tx, { channel: "WECHAT", action: "group.lost_after_relogin", targetType: "ChatGroup", targetId: old.id, detail: { orgUnitId, topic: old.topic, candidates: scored, accountId: account.id } });
    });
    outcome.lost.push(old.id);
  }
  return outcome;
}
