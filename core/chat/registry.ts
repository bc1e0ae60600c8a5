// Keeps who and where we talk to current: chat identities, groups and which account reaches them.
import type { PrismaClient } from "../db/index.ts";
import type { ChatMessage, ChatRole } from "./message.ts";

/** WeChat contact ids are only stable per account; QQ numbers are global (see schema: ChatIdentity.scope). */
export const identityScope = (m: Pick<ChatMessage, "channel" | "account">) => (m.channel === "WECHAT" ? m.account : "");

export async function touchIdentity(prisma: PrismaClient, m: ChatMessage) {
  const key = { channel: m.channel, scope: identityScope(m), platformUserId: m.sender.platformUserId };
  return prisma.chatIdentity.upsert({
    where: { channel_scope_platformUserId: key },
    create: { ...key, displayName: m.sender.displayName },
    update: { displayName: m.sender.displayName, lastSeenAt: new Date() },
  });
}

export async function touchGroup(prisma: PrismaClient, m: ChatMessage, accountId: number) {
  if (m.conversation.kind !== "group") throw new Error("touchGroup: not a group message");
  const { groupId, topic } = m.conversation;
  const group = await prisma.chatGroup.upsert({
    where: { channel_platformGroupId: { channel: m.channel, platformGroupId: groupId } },
    create: { channel: m.channel, platformGroupId: groupId, topic: topic ?? "" },
    update: topic ? { topic } : {},
  });
  await prisma.groupAccount.upsert({
    where: { groupId_accountId: { groupId: group.id, accountId } },
    create: { groupId: group.id, accountId },
    update: { active: true, lastSeenAt: new Date() },
  });
  return group;
}

/** A chat sender's role comes from the member record its identity is linked to (and that member's cadre login). */
export async function resolveChatRole(prisma: PrismaClient, memberId: number | null): Promise<ChatRole> {
  if (memberId == null) return "GUEST";
  const member = await prisma.member.findUnique({ where: { id: memberId }, include: { cadreUser: true } });
  if (!member) return "GUEST";
  if (member.cadreUser?.active) return member.cadreUser.role;
  return member.isSecretary ? "BRANCH_SECRETARY" : "MEMBER";
}
