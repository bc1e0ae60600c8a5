// Binding chat to the organisation: a group to the org unit it serves, a chat identity to a roster member, and the
// roster reconciliation that shows who is missing. Shared by the bot commands and the API.
import type { Channel, Prisma, PrismaClient, OrgUnit } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, pathInScope, ROLE_LABEL } from "../org/scope.ts";
import { audit } from "../audit.ts";
import type { ChatPrincipal } from "./principal.ts";
import type { Coordination } from "../coord/types.ts";
import { adoptUnlinkedAttendance } from "../meetings/attendance.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

const ACTIVE = { status: { in: ["ACTIVE", "PROBATIONARY"] } } satisfies Prisma.MemberWhereInput;

export const KIND_LABEL: Record<OrgUnit["kind"], string> = { CITY: "市", COUNTY: "县", TOWN: "乡镇", VILLAGE: "村/社区", BRANCH: "党支部", PARTY_GROUP: "党小组" };

/** What a group is called on its platform: a QQ user is told about QQ群, a WeChat user about 微信群. */
export const groupWord = (channel: string) => (channel === "QQ" ? "QQ群" : "微信群");

/** Town, county and city groups are cadre groups; every other bound group is a branch's (its roster's) group. */
export const groupKindFor = (unit: Pick<OrgUnit, "kind">) => (unit.kind === "TOWN" || unit.kind === "COUNTY" || unit.kind === "CITY" ? "CADRE" : "BRANCH");

/**
 * Groups of `unitId` on this platform that a WeChat re-login lost and that carry the newly bound group's name: it
 * takes their place. A lost group with another name (a unit may have several groups) stays listed as lost.
 */
export async function clearLostGroups(tx: Tx, unitId: number, channel: Channel, bound: { id: number; topic: string }) {
  if (!bound.topic.trim()) return [];
  const lost = await tx.chatGroup.findMany({ where: { orgUnitId: unitId, channel, topic: bound.topic, lostAt: { not: null }, id: { not: bound.id } }, select: { id: true } });
  if (lost.length) await tx.chatGroup.updateMany({ where: { id: { in: lost.map((g) => g.id) } }, data: { lostAt: null, active: false } });
  return lost.map((g) => g.id);
}

function requireCadre(p: ChatPrincipal, action: string) {
  if (!hasRoleAtLeast(p, "BRANCH_SECRETARY")) throw new AppError("ROLE_REQUIRED", `抱歉，只有支部书记及以上的干部可以${action}。`);
}

/** Members of an org unit's roster: the branch's members, or for town/county groups their cadres. */
export function rosterWhere(unit: Pick<OrgUnit, "id" | "kind" | "path">): Prisma.MemberWhereInput {
  switch (unit.kind) {
    case "PARTY_GROUP":
      return { ...ACTIVE, partyGroupId: unit.id };
    case "BRANCH":
      return { ...ACTIVE, branchId: unit.id };
    case "VILLAGE":
      return { ...ACTIVE, branch: { path: { startsWith: unit.path } } };
    default:
      return { ...ACTIVE, branch: { path: { startsWith: unit.path } }, OR: [{ isSecretary: true }, { cadreUser: { isNot: null } }] };
  }
}

export async function findUnitByCodeOrName(tx: Tx, text: string) {
  const unit = await tx.orgUnit.findFirst({ where: { code: text, active: true } });
  if (unit) return unit;
  const byName = await tx.orgUnit.findMany({ where: { name: text, active: true }, take: 3 });
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) throw new AppError("UNIT_AMBIGUOUS", `有多个单位叫“${text}”，请改用单位编码（如 ${byName.map((u) => u.code).join("、")}）。`);
  throw new AppError("UNIT_NOT_FOUND", `没有找到编码或名称为“${text}”的单位，请核对后重试。`);
}

export async function bindGroup(tx: Tx, p: ChatPrincipal, groupId: number, unitText: string, channel: string) {
  requireCadre(p, "绑定群");
  if (!unitText) throw new AppError("ARGUMENT_MISSING", "请在命令后写上支部编码，例如：绑定支部 C01-T01-V01-B");
  const unit = await findUnitByCodeOrName(tx, unitText);
  if (!pathInScope(p, unit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${unit.name}」不在您（${ROLE_LABEL[p.role!]}）的管辖范围内。`);
  const group = await tx.chatGroup.findUniqueOrThrow({ where: { id: groupId }, include: { orgUnit: true } });
  if (group.orgUnitId === unit.id) {
    // Someone is speaking in it: a group a re-login had listed as lost is live.
    if (group.lostAt || !group.active) await tx.chatGroup.update({ where: { id: groupId }, data: { lostAt: null, active: true } });
    return { unit, already: true };
  }
  if (group.orgUnit) throw new AppError("GROUP_ALREADY_BOUND", `本群已绑定到「${group.orgUnit.name}」。如需更换，请先发送“解绑”。`);
  await tx.chatGroup.update({ where: { id: groupId }, data: { orgUnitId: unit.id, kind: groupKindFor(unit), boundAt: new Date(), boundByIdentityId: p.identityId, lostAt: null } });
  const clearedLostGroupIds = await clearLostGroups(tx, unit.id, group.channel, group);
  await audit(tx, { actorId: p.cadreUserId, actorIdentityId: p.identityId, channel, action: "group.bind", targetType: "ChatGroup", targetId: groupId, detail: { orgUnitId: unit.id, code: unit.code, clearedLostGroupIds } });
  return { unit, already: false };
}

export async function unbindGroup(tx: Tx, p: ChatPrincipal, groupId: number, channel: string) {
  requireCadre(p, "解绑群");
  const group = await tx.chatGroup.findUniqueOrThrow({ where: { id: groupId }, include: { orgUnit: true } });
  if (!group.orgUnit) throw new AppError("GROUP_NOT_BOUND", "本群还没有绑定任何单位。");
  if (!pathInScope(p, group.orgUnit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${group.orgUnit.name}」不在您的管辖范围内，不能解绑。`);
  await tx.chatGroup.update({ where: { id: groupId }, data: { orgUnitId: null, kind: "OTHER", boundAt: null, boundByIdentityId: null } });
  await audit(tx, { actorId: p.cadreUserId, actorIdentityId: p.identityId, channel, action: "group.unbind", targetType: "ChatGroup", targetId: groupId, detail: { orgUnitId: group.orgUnit.id, code: group.orgUnit.code } });
  return group.orgUnit;
}

async function boundUnit(tx: Tx, groupId: number) {
  const group = await tx.chatGroup.findUniqueOrThrow({ where: { id: groupId }, include: { orgUnit: true } });
  if (!group.orgUnit) throw new AppError("GROUP_NOT_BOUND");
  return group.orgUnit;
}

/** Roster members of the group's unit called `name`, narrowed by the phone's last four digits when given. */
async function rosterMatches(tx: Tx, unit: OrgUnit, name: string, phoneTail?: string) {
  return tx.member.findMany({
    where: { ...rosterWhere(unit), name, ...(phoneTail ? { phone: { endsWith: phoneTail } } : {}) },
    select: { id: true, name: true, branch: { select: { name: true } } },
    take: 5,
  });
}

const NAME_RE = /^[\p{Script=Han}A-Za-z·・.\s]{1,20}$/u;

function checkName(name: string) {
  if (!name) throw new AppError("ARGUMENT_MISSING", "请写上姓名。");
  if (!NAME_RE.test(name)) throw new AppError("NAME_INVALID", "姓名格式不对，请只写姓名（不超过 20 个字）。");
}

/** A secretary links someone's chat identity to a roster member (`登记 @某人 姓名 [手机后四位]`). */
export async function linkIdentity(
  tx: Tx,
  p: ChatPrincipal,
  input: { groupId: number; targetIdentityId: number; name: string; phoneTail?: string; channel: string },
) {
  requireCadre(p, "为他人登记");
  checkName(input.name);
  const unit = await boundUnit(tx, input.groupId);
  if (!pathInScope(p, unit.path)) throw new AppError("OUT_OF_SCOPE", `抱歉，「${unit.name}」不在您的管辖范围内。`);
  const matches = await rosterMatches(tx, unit, input.name, input.phoneTail);
  if (matches.length === 0) throw new AppError("MEMBER_NOT_FOUND", `「${unit.name}」名单中没有找到“${input.name}”${input.phoneTail ? "（手机后四位不符）" : ""}，请核对后重试。`);
  if (matches.length > 1) throw new AppError("MEMBER_AMBIGUOUS", `名单中有 ${matches.length} 位“${input.name}”，请在姓名后加上手机后四位，例如：登记 @某人 ${input.name} 1234`);
  const member = matches[0];
  const identity = await tx.chatIdentity.update({ where: { id: input.targetIdentityId }, data: { memberId: member.id, linkedAt: new Date() } });
  // Check-ins this person made before being registered now count for the member.
  await adoptUnlinkedAttendance(tx, identity.id, member.id);
  await audit(tx, { actorId: p.cadreUserId, actorIdentityId: p.identityId, channel: input.channel, action: "identity.link", targetType: "ChatIdentity", targetId: identity.id, detail: { memberId: member.id, by: "secretary" } });
  return { member, identity };
}

/** `<姓名> <手机后四位>`, checked before any attempt is counted against the guessing limit. */
export function parseSelfLink(args: string): { name: string; phoneTail: string } {
  const [name = "", phoneTail = ""] = args.split(/\s+/u).filter(Boolean);
  checkName(name);
  if (!/^\d{4}$/.test(phoneTail)) throw new AppError("PHONE_TAIL_INVALID", "请写上姓名和手机号后四位，例如：我是 张三 1234");
  return { name, phoneTail };
}

/** Well-formed self-binding tries allowed per identity: guessing four digits is cheap. */
export const SELF_LINK_LIMIT = { points: 5, durationSec: 3600 };

/** Counts one self-binding try of this identity; 429 TOO_MANY_ATTEMPTS once over SELF_LINK_LIMIT. */
export async function consumeSelfLinkAttempt(coord: Pick<Coordination, "rateLimiter">, channel: string, identityId: number) {
  const verdict = await coord.rateLimiter("self-link", SELF_LINK_LIMIT).consume(`${channel}:${identityId}`);
  if (!verdict.allowed) throw new AppError("TOO_MANY_ATTEMPTS", "尝试次数过多，请一小时后再试，或请支部书记为您登记。", { retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) });
}

/** Who binds themself: a chat principal, or a mini-program login (its ChatIdentity). */
type SelfLinker = Pick<ChatPrincipal, "identityId" | "memberId" | "name">;

async function requireNotLinked(tx: Tx, p: SelfLinker) {
  if (p.memberId != null) {
    const current = await tx.member.findUnique({ where: { id: p.memberId }, select: { name: true } });
    throw new AppError("ALREADY_LINKED", `您已登记为“${current?.name ?? p.name}”，无需重复登记。如信息有误，请联系支部书记。`);
  }
}

/** The one roster member in `where` with this name and phone ending, linked to the identity (audited). */
async function linkSelfWithin(
  tx: Tx,
  p: SelfLinker,
  where: Prisma.MemberWhereInput,
  input: { name: string; phoneTail: string; channel: string },
  messages: { none?: string; cadre?: string } = {},
) {
  const matches = await tx.member.findMany({
    where: { AND: [where, { name: input.name, phone: { endsWith: input.phoneTail } }] },
    select: { id: true, name: true, branchId: true, isSecretary: true, branch: { select: { name: true } }, cadreUser: { select: { active: true, disabledAt: true } } },
    take: 2,
  });
  if (matches.length !== 1) {
    throw new AppError("MEMBER_NOT_FOUND", matches.length === 0 ? (messages.none ?? "没有找到匹配的党员，请核对姓名和手机后四位；也可以请支部书记用“登记”为您登记。") : "名单中有重名且手机后四位相同，请联系支部书记为您登记。");
  }
  const { isSecretary, cadreUser, ...member } = matches[0];
  // A name and four digits are easy to learn: they must not hand a stranger a secretary's or a cadre's role.
  if (messages.cadre && (isSecretary || (cadreUser?.active && !cadreUser.disabledAt))) throw new AppError("SELF_LINK_CADRE_PRIVATE", messages.cadre);
  // Another identity on the same platform already linked to this member (a new phone, or someone else): keep both,
  // and let the audit log say so for the secretary to check.
  const taken = await tx.chatIdentity.findFirst({ where: { memberId: member.id, channel: input.channel as Channel, id: { not: p.identityId } } });
  await tx.chatIdentity.update({ where: { id: p.identityId }, data: { memberId: member.id, linkedAt: new Date() } });
  await adoptUnlinkedAttendance(tx, p.identityId, member.id);
  await audit(tx, { actorIdentityId: p.identityId, channel: input.channel, action: "identity.link", targetType: "ChatIdentity", targetId: p.identityId, detail: { memberId: member.id, by: "self", alsoLinkedIdentityId: taken?.id } });
  return { member, alsoLinkedElsewhere: !!taken };
}

/**
 * Self-binding, confirmed against the roster: name and the last four digits of the phone on file. In a group: that
 * group's roster. Privately: any member whose branch has a bound group (on any platform), or who is on the roster of
 * a bound group this person is in (a town's cadre group); name and phone ending must then name exactly one person.
 */
export async function selfLink(tx: Tx, p: SelfLinker, input: { groupId?: number; name: string; phoneTail: string; channel: string }) {
  await requireNotLinked(tx, p);
  if (input.groupId != null) return linkSelfWithin(tx, p, rosterWhere(await boundUnit(tx, input.groupId)), input);
  const groups = await tx.groupMembership.findMany({ where: { identityId: p.identityId, leftAt: null, group: { orgUnitId: { not: null } } }, select: { group: { select: { orgUnit: true } } } });
  const units = groups.map((g) => g.group.orgUnit!).filter(Boolean);
  const where: Prisma.MemberWhereInput = { OR: [{ ...ACTIVE, branch: { chatGroups: { some: { channel: { in: ["WECHAT", "QQ"] } } } } }, ...units.map(rosterWhere)] };
  const word = groupWord(input.channel);
  return linkSelfWithin(tx, p, where, input, {
    none: `没有找到匹配的党员，请核对姓名和手机后四位。如果您所在支部的${word}还没有绑定，请支部书记先在${word}里发送“绑定 绑定码”；也可以请支部书记用“登记”为您登记。`,
    cadre: `为安全起见，支部书记和有管理后台账号的干部不能在私聊中用“我是”登记。请在管理后台生成绑定码后，在本支部${word}里发送“绑定 绑定码”；或在支部${word}里请书记（或上级干部）用“登记”为您登记。`,
  });
}

/**
 * Self-binding from the mini-program, which has no group to say which roster: the member names their branch by its
 * code (the secretary tells them), then name and phone ending as with 我是. Callers count the try first
 * (consumeSelfLinkAttempt).
 */
export async function selfLinkInUnit(tx: Tx, p: SelfLinker, input: { unitCode: string; name: string; phoneTail: string; channel: string }) {
  checkName(input.name);
  if (!/^\d{4}$/.test(input.phoneTail)) throw new AppError("PHONE_TAIL_INVALID", "请填写手机号后四位（4 位数字）。");
  await requireNotLinked(tx, p);
  const unit = await tx.orgUnit.findFirst({ where: { code: input.unitCode.trim(), active: true } });
  if (!unit) throw new AppError("UNIT_NOT_FOUND", `没有找到编码为“${input.unitCode.trim()}”的支部，请向支部书记确认支部编码。`);
  if (unit.kind !== "BRANCH") throw new AppError("UNIT_NOT_A_BRANCH", `“${unit.name}”是${KIND_LABEL[unit.kind]}，请填写您所在党支部的编码。`);
  return linkSelfWithin(tx, p, rosterWhere(unit), input);
}

export interface RosterReport {
  unit: Pick<OrgUnit, "id" | "code" | "name" | "kind">;
  rosterCount: number;
  groupCount: number;
  linkedInGroup: number;
  /** Roster members with no linked identity in the group. */
  missingFromGroup: { count: number; names: string[] };
  /** People in the group not linked to anyone on this roster. */
  notOnRoster: { count: number; names: string[] };
}

export async function rosterReport(tx: Tx, groupId: number, nameCap = 10): Promise<RosterReport> {
  const unit = await boundUnit(tx, groupId);
  const roster = rosterWhere(unit);
  const inGroup = { groupMemberships: { some: { groupId, leftAt: null } } } satisfies Prisma.ChatIdentityWhereInput;
  const [rosterCount, groupCount, linkedInGroup, missingCount, missing, notOnRosterCount, notOnRoster] = await Promise.all([
    tx.member.count({ where: roster }),
    tx.groupMembership.count({ where: { groupId, leftAt: null } }),
    tx.member.count({ where: { AND: [roster, { identities: { some: inGroup } }] } }),
    tx.member.count({ where: { AND: [roster, { identities: { none: inGroup } }] } }),
    tx.member.findMany({ where: { AND: [roster, { identities: { none: inGroup } }] }, select: { name: true }, orderBy: { id: "asc" }, take: nameCap }),
    tx.chatIdentity.count({ where: { ...inGroup, OR: [{ memberId: null }, { member: { NOT: roster } }] } }),
    tx.chatIdentity.findMany({ where: { ...inGroup, OR: [{ memberId: null }, { member: { NOT: roster } }] }, select: { displayName: true }, orderBy: { id: "asc" }, take: nameCap }),
  ]);
  return {
    unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind },
    rosterCount,
    groupCount,
    linkedInGroup,
    missingFromGroup: { count: missingCount, names: missing.map((m) => m.name) },
    notOnRoster: { count: notOnRosterCount, names: notOnRoster.map((i) => i.displayName || "（无昵称）") },
  };
}
