// One-time 绑定码: how a group comes online from chat. The console issues a short code for a unit (for a branch it
// also names the roster member who will use it, normally the secretary); whoever sends `绑定 <码>` in a new WeChat or
// QQ group binds that group to the unit and, in the same transaction, is linked to that member (who becomes the
// branch's secretary). A code works once, for 24 hours, and wrong guesses are rate-limited per person and per group.
import { randomInt } from "node:crypto";
import type { Channel, OrgUnit, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, outOfScope, pathInScope, ROLE_LABEL, ROLE_RANK, type CadreRole, type ScopeHolder } from "../org/scope.ts";
import { audit } from "../audit.ts";
import type { Coordination } from "../coord/types.ts";
import { adoptUnlinkedAttendance } from "../meetings/attendance.ts";
import { formatZhDateTime } from "../meetings/time.ts";
import type { ChatPrincipal } from "./principal.ts";
import { clearLostGroups, groupKindFor, groupWord, KIND_LABEL, rosterWhere } from "./binding.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** No 0/O, 1/I/L: a code read aloud or copied from a phone screen cannot be mistaken. */
export const BIND_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export const BIND_CODE_LENGTH = 6;
export const BIND_CODE_TTL_MS = 24 * 3600_000;
/** Redemption tries (wrong or right) per chat identity, and per group, in a 10-minute window. */
export const BIND_CODE_IDENTITY_LIMIT = { points: 5, durationSec: 600 };
export const BIND_CODE_GROUP_LIMIT = { points: 10, durationSec: 600 };

const CODE_RE = new RegExp(`^[${BIND_CODE_ALPHABET}]{6,8}$`);
const ACTIVE_STATUSES = ["ACTIVE", "PROBATIONARY"] as const;

export function newBindCode(): string {
  let s = "";
  for (let i = 0; i < BIND_CODE_LENGTH; i++) s += BIND_CODE_ALPHABET[randomInt(BIND_CODE_ALPHABET.length)];
  return s;
}

/**
 * What a person typed as a code, in the stored form: full-width letters and digits folded (NFKC), spaces and dashes
 * dropped, upper case. null when it cannot be a code at all (wrong characters or length).
 */
export function normalizeBindCode(text: string): string | null {
  const t = text.normalize("NFKC").replace(/[\s\-_.·・]/gu, "").toUpperCase();
  return CODE_RE.test(t) ? t : null;
}

/** Who issues or revokes codes over the API. */
export interface BindCodeActor extends ScopeHolder {
  cadreUserId: number | null;
  channel: string;
  requestId?: string;
}

const ITEM_SELECT = {
  id: true,
  code: true,
  expiresAt: true,
  usedAt: true,
  revokedAt: true,
  usedGroupId: true,
  createdAt: true,
  orgUnit: { select: { id: true, code: true, name: true, kind: true, path: true } },
  member: { select: { id: true, name: true } },
  createdBy: { select: { id: true, displayName: true } },
} satisfies Prisma.BindCodeSelect;

type CodeRow = Prisma.BindCodeGetPayload<{ select: typeof ITEM_SELECT }>;

export interface BindCodeItem {
  id: number;
  code: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
  member: { id: number; name: string } | null;
  group: { id: number; topic: string; channel: Channel } | null;
  createdBy: { id: number; displayName: string } | null;
}

async function toItems(tx: Tx, rows: CodeRow[]): Promise<BindCodeItem[]> {
  const groupIds = rows.map((r) => r.usedGroupId).filter((id): id is number => id != null);
  const groups = groupIds.length ? await tx.chatGroup.findMany({ where: { id: { in: groupIds } }, select: { id: true, topic: true, channel: true } }) : [];
  const byId = new Map(groups.map((g) => [g.id, g]));
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    expiresAt: r.expiresAt,
    usedAt: r.usedAt,
    revokedAt: r.revokedAt,
    member: r.member,
    group: r.usedGroupId != null ? (byId.get(r.usedGroupId) ?? null) : null,
    createdBy: r.createdBy,
  }));
}

const requireSecretary = (holder: ScopeHolder) => {
  if (!hasRoleAtLeast(holder, "BRANCH_SECRETARY")) throw new AppError("FORBIDDEN", "只有支部书记及以上的干部可以管理绑定码");
};

async function unitInScope(tx: Tx, holder: ScopeHolder, unitId: number) {
  const unit = await tx.orgUnit.findUnique({ where: { id: unitId } });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND");
  if (!pathInScope(holder, unit.path)) throw outOfScope();
  return unit;
}

/** The role of the member's console login, when it is active (disabled or switched-off logins give no role in chat). */
async function consoleRoleOf(tx: Tx, memberId: number): Promise<CadreRole | null> {
  const u = await tx.cadreUser.findFirst({ where: { memberId, active: true, disabledAt: null }, select: { role: true } });
  return u?.role ?? null;
}

/**
 * Whoever redeems a code takes over its member's chat identity, and with it the role of that member's console login
 * (core/chat/principal.ts): so a code may only name a member whose console role is strictly below the issuer's. A
 * code without an issuer may only name members without a console login.
 */
async function requireMemberAllowed(tx: Tx, member: { id: number; name: string }, issuerRole: CadreRole | null) {
  const role = await consoleRoleOf(tx, member.id);
  if (role == null) return null;
  if (issuerRole != null && ROLE_RANK[role] < ROLE_RANK[issuerRole]) return role;
  throw new AppError("BIND_CODE_MEMBER_NOT_ALLOWED", `“${member.name}”有管理后台账号（${ROLE_LABEL[role]}），权限不低于生成绑定码的干部，不能通过绑定码登记。请${member.name}本人用自己的账号在管理后台生成绑定码，或选择其他党员。`);
}

/** The member a code for this unit will link: given (checked against the unit), or for a branch its one secretary. */
async function memberFor(tx: Tx, unit: OrgUnit, memberId: number | undefined, issuerRole: CadreRole | null) {
  const m = await memberOfUnit(tx, unit, memberId);
  if (m) await requireMemberAllowed(tx, m, issuerRole);
  return m;
}

async function memberOfUnit(tx: Tx, unit: OrgUnit, memberId: number | undefined) {
  if (unit.kind === "BRANCH") {
    if (memberId != null) {
      const m = await tx.member.findFirst({ where: { AND: [rosterWhere(unit), { id: memberId }] }, select: { id: true, name: true } });
      if (!m) throw new AppError("BIND_CODE_MEMBER_NOT_ON_ROSTER", `所选党员不在「${unit.name}」的在册名单中，请重新选择。`);
      return m;
    }
    const secretaries = await tx.member.findMany({ where: { AND: [rosterWhere(unit), { isSecretary: true }] }, select: { id: true, name: true }, orderBy: { id: "asc" }, take: 5 });
    if (secretaries.length === 1) return secretaries[0];
    throw new AppError("BIND_CODE_MEMBER_REQUIRED", secretaries.length === 0
        ? `「${unit.name}」名单中没有标为书记的党员，请选择由哪位党员使用此绑定码（绑定后他将成为本支部书记）。`
        : `「${unit.name}」名单中有多位书记（${secretaries.map((s) => s.name).join("、")}），请选择由哪一位使用此绑定码。`);
  }
  if (memberId == null) return null;
  // A cadre group (town, county): anyone on a roster below the unit may bring it online.
  const m = await tx.member.findFirst({ where: { id: memberId, status: { in: [...ACTIVE_STATUSES] }, branch: { path: { startsWith: unit.path } } }, select: { id: true, name: true } });
  if (!m) throw new AppError("BIND_CODE_MEMBER_NOT_IN_UNIT", `所选党员不在「${unit.name}」下属支部的在册名单中，请重新选择。`);
  return m;
}

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === "P2002";

/** A new code for a unit in the caller's subtree, valid BIND_CODE_TTL_MS (audited `bind_code.issue`). */
export async function issueBindCode(prisma: PrismaClient, actor: BindCodeActor, unitId: number, input: { memberId?: number }, now: Date = new Date()) {
  requireSecretary(actor);
  const unit = await unitInScope(prisma, actor, unitId);
  if (unit.kind === "PARTY_GROUP") throw new AppError("BIND_CODE_UNIT_KIND");
  const member = await memberFor(prisma, unit, input.memberId, actor.role);
  const expiresAt = new Date(now.getTime() + BIND_CODE_TTL_MS);
  // 31^6 codes: a clash is rare, and the unique index (not a prior lookup) is what decides it.
  for (let attempt = 0; attempt < 8; attempt++) {
    const code = newBindCode();
    try {
      const row = await prisma.$transaction(async (tx) => {
        const created = await tx.bindCode.create({ data: { code, orgUnitId: unit.id, memberId: member?.id ?? null, createdById: actor.cadreUserId, expiresAt } });
        await audit(tx, { actorId: actor.cadreUserId, channel: actor.channel, requestId: actor.requestId, action: "bind_code.issue", targetType: "BindCode", targetId: created.id, detail: { orgUnitId: unit.id, memberId: member?.id ?? null, expiresAt: expiresAt.toISOString() } });
        return created;
      });
      return { id: row.id, code: row.code, expiresAt: row.expiresAt, unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind }, member };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
  throw new AppError("BIND_CODE_BUSY");
}

/** A unit's codes, newest first (used, revoked and expired ones too: the console shows what happened to each). */
export async function listBindCodes(prisma: PrismaClient, holder: ScopeHolder, unitId: number, q: { page: number; pageSize: number }) {
  requireSecretary(holder);
  const unit = await unitInScope(prisma, holder, unitId);
  const where = { orgUnitId: unit.id } satisfies Prisma.BindCodeWhereInput;
  const [total, rows] = await Promise.all([
    prisma.bindCode.count({ where }),
    prisma.bindCode.findMany({ where, select: ITEM_SELECT, orderBy: [{ createdAt: "desc" }, { id: "desc" }], skip: (q.page - 1) * q.pageSize, take: q.pageSize }),
  ]);
  return { items: await toItems(prisma, rows), page: q.page, pageSize: q.pageSize, total };
}

export const bindCodeNotFound = () => new AppError("BIND_CODE_NOT_FOUND");

/** Revokes an unused code (audited `bind_code.revoke`); revoking twice answers the same row. */
export async function revokeBindCode(prisma: PrismaClient, actor: BindCodeActor, id: number, now: Date = new Date()) {
  requireSecretary(actor);
  return prisma.$transaction(async (tx) => {
    const row = await tx.bindCode.findUnique({ where: { id }, select: ITEM_SELECT });
    if (!row) throw bindCodeNotFound();
    if (!pathInScope(actor, row.orgUnit.path)) throw outOfScope();
    if (row.usedAt) throw new AppError("BIND_CODE_USED", "该绑定码已被使用，无法作废。如需解除群的绑定，请支部书记在群里发送“解绑”。");
    if (!row.revokedAt) {
      const won = await tx.bindCode.updateMany({ where: { id, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
      if (won.count === 0) throw new AppError("BIND_CODE_USED", "该绑定码刚刚已被使用，无法作废。");
      await audit(tx, { actorId: actor.cadreUserId, channel: actor.channel, requestId: actor.requestId, action: "bind_code.revoke", targetType: "BindCode", targetId: id, detail: { orgUnitId: row.orgUnit.id } });
    }
    const [item] = await toItems(tx, [await tx.bindCode.findUniqueOrThrow({ where: { id }, select: ITEM_SELECT })]);
    return item;
  });
}

// ---- redemption in chat ----

/** True when the text is the code of some row, whatever its state (a cadre's `绑定 <单位编码>` is told apart by this). */
export async function isKnownBindCode(tx: Tx, text: string) {
  const code = normalizeBindCode(text);
  return code != null && (await tx.bindCode.count({ where: { code } })) > 0;
}

async function consumeTry(coord: Pick<Coordination, "rateLimiter">, name: string, limit: { points: number; durationSec: number }, key: string) {
  const verdict = await coord.rateLimiter(name, limit).consume(key);
  if (!verdict.allowed) {
    const minutes = Math.max(1, Math.ceil(verdict.retryAfterMs / 60_000));
    throw new AppError("TOO_MANY_ATTEMPTS", `尝试次数过多，请 ${minutes} 分钟后再试。`, { retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) });
  }
}

/** Counts one redemption try for the sender and for the group; 429 TOO_MANY_ATTEMPTS once either is over its limit. */
export async function consumeBindCodeAttempt(coord: Pick<Coordination, "rateLimiter">, channel: string, identityId: number, groupId: number) {
  await consumeTry(coord, "bind-code:identity", BIND_CODE_IDENTITY_LIMIT, `${channel}:${identityId}`);
  await consumeTry(coord, "bind-code:group", BIND_CODE_GROUP_LIMIT, `${channel}:${groupId}`);
}

/**
 * Refusals after which a code that was shown in a chat must not stay usable by whoever saw it: the error, and the id
 * of the code to revoke (revokeRefusedBindCode, in its own transaction since the command's rolls back).
 */
const refusedCodes = new WeakMap<AppError, number>();
const refusing = (e: AppError, bindCodeId: number) => (refusedCodes.set(e, bindCodeId), e);
export const bindCodeToRevoke = (e: unknown): number | undefined => (e instanceof AppError ? refusedCodes.get(e) : undefined);

/** Revokes a code refused in chat (audited `bind_code.revoke`, reason refused_in_chat); false when already used or revoked. */
export async function revokeRefusedBindCode(prisma: PrismaClient, bindCodeId: number, by: { identityId: number; channel: Channel; refusal: string }, now: Date = new Date()) {
  return prisma.$transaction(async (tx) => {
    const won = await tx.bindCode.updateMany({ where: { id: bindCodeId, usedAt: null, revokedAt: null }, data: { revokedAt: now } });
    if (won.count === 0) return false;
    const row = await tx.bindCode.findUniqueOrThrow({ where: { id: bindCodeId }, select: { orgUnitId: true } });
    await audit(tx, { actorIdentityId: by.identityId, channel: by.channel, action: "bind_code.revoke", targetType: "BindCode", targetId: bindCodeId, detail: { orgUnitId: row.orgUnitId, reason: "refused_in_chat", refusal: by.refusal } });
    return true;
  });
}

export interface Redeemed {
  unit: Pick<OrgUnit, "id" | "code" | "name" | "kind">;
  member: { id: number; name: string } | null;
  /** The group was already bound to this unit (the code still linked the sender). */
  alreadyBound: boolean;
  /** Groups of the same unit that a WeChat re-login had lost, no longer listed as lost. */
  clearedLostGroupIds: number[];
}

/**
 * `绑定 <码>` in a group, all in the caller's transaction: the group bound to the code's unit, the sender linked to
 * the code's member (a branch's member becomes its secretary), the code marked used. The code is taken with a
 * compare-and-set, so of two concurrent redemptions exactly one wins. The caller counts the try first
 * (consumeBindCodeAttempt).
 */
export async function redeemBindCode(
  tx: Tx,
  p: Pick<ChatPrincipal, "identityId" | "memberId">,
  input: { text: string; groupId: number; channel: Channel },
  now: Date = new Date(),
): Promise<Redeemed> {
  const code = normalizeBindCode(input.text);
  const wrong = () => new AppError("BIND_CODE_INVALID", `绑定码“${input.text.slice(0, 20)}”不正确，请核对后重新发送（绑定码由 6 位字母和数字组成，不区分大小写）。`);
  if (!code) throw wrong();
  const row = await tx.bindCode.findUnique({ where: { code }, include: { orgUnit: true, member: true, createdBy: { select: { role: true } } } });
  if (!row) throw wrong();
  if (row.usedAt) {
    const group = row.usedGroupId != null ? await tx.chatGroup.findUnique({ where: { id: row.usedGroupId }, select: { id: true, topic: true } }) : null;
    const where = group?.id === input.groupId ? "本群" : group?.topic ? `“${group.topic}”` : "另一个群";
    throw new AppError("BIND_CODE_USED", `该绑定码已于 ${formatZhDateTime(row.usedAt, now)} 用于绑定${where}，每个绑定码只能使用一次。如需再绑定，请在管理后台重新生成绑定码。`);
  }
  if (row.revokedAt) throw new AppError("BIND_CODE_REVOKED");
  if (row.expiresAt <= now) throw new AppError("BIND_CODE_EXPIRED", `该绑定码已于 ${formatZhDateTime(row.expiresAt, now)} 过期（有效期 24 小时），请在管理后台重新生成绑定码。`);
  const unit = row.orgUnit;
  if (!unit.active) throw new AppError("BIND_CODE_UNIT_INACTIVE", `「${unit.name}」已撤销，不能再绑定群。`);

  // The member the code names must still be where the code was issued for.
  const member = row.member;
  let memberConsoleRole: CadreRole | null = null;
  if (unit.kind === "BRANCH" && !member) throw refusing(new AppError("BIND_CODE_MEMBER_GONE"), row.id);
  if (member) {
    const stillThere = await tx.member.count({
      where: { id: member.id, status: { in: [...ACTIVE_STATUSES] }, ...(unit.kind === "BRANCH" ? { branchId: unit.id } : { branch: { path: { startsWith: unit.path } } }) },
    });
    if (!stillThere) throw refusing(new AppError("BIND_CODE_MEMBER_GONE", `该绑定码是为“${member.name}”生成的，但${member.name}已不在「${unit.name}」的在册名单中，请在管理后台重新生成绑定码。`), row.id);
    // Checked again now: the member may have been given a console login since the code was issued.
    memberConsoleRole = await requireMemberAllowed(tx, member, row.createdBy?.role ?? null).catch((e: unknown) => {
      throw e instanceof AppError ? refusing(e, row.id) : e;
    });
    if (p.memberId != null && p.memberId !== member.id) {
      const current = await tx.member.findUnique({ where: { id: p.memberId }, select: { name: true } });
      throw refusing(new AppError("BIND_CODE_OTHER_MEMBER", `该绑定码是为“${member.name}”生成的，而您已登记为“${current?.name ?? "其他党员"}”。请由${member.name}本人发送，或在管理后台为您重新生成绑定码。`), row.id);
    }
  }

  const group = await tx.chatGroup.findUniqueOrThrow({ where: { id: input.groupId }, include: { orgUnit: true } });
  if (group.orgUnit && group.orgUnitId !== unit.id) {
    throw refusing(new AppError("GROUP_ALREADY_BOUND", `本群已绑定到「${group.orgUnit.name}」，不能再绑定到「${unit.name}」。如需更换，请支部书记先发送“解绑”。`), row.id);
  }
  const alreadyBound = group.orgUnitId === unit.id;
  // Someone is speaking in it: a group a re-login had listed as lost is live.
  if (alreadyBound && (group.lostAt || !group.active)) await tx.chatGroup.update({ where: { id: group.id }, data: { lostAt: null, active: true } });

  // Compare-and-set: of two redemptions racing, the second waits on the row lock and then finds usedAt set.
  const won = await tx.bindCode.updateMany({
    where: { id: row.id, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now, usedByIdentityId: p.identityId, usedGroupId: input.groupId },
  });
  if (won.count === 0) throw new AppError("BIND_CODE_USED", "该绑定码刚刚已被使用，每个绑定码只能使用一次。如需再绑定，请在管理后台重新生成绑定码。");

  if (!alreadyBound) {
    // The same compare-and-set for the group: two different codes racing in one group cannot both bind it.
    const bound = await tx.chatGroup.updateMany({
      where: { id: input.groupId, orgUnitId: null },
      data: { orgUnitId: unit.id, kind: groupKindFor(unit), boundAt: now, boundByIdentityId: p.identityId, lostAt: null, active: true },
    });
    if (bound.count === 0) throw new AppError("GROUP_ALREADY_BOUND", "本群刚刚已被绑定到其他单位。如需更换，请支部书记先发送“解绑”。");
  }

  if (member && p.memberId !== member.id) {
    // Another identity on this platform already linked to the member (a new phone): keep both, the audit says so.
    const taken = await tx.chatIdentity.findFirst({ where: { memberId: member.id, channel: input.channel, id: { not: p.identityId } }, select: { id: true } });
    await tx.chatIdentity.update({ where: { id: p.identityId }, data: { memberId: member.id, linkedAt: now } });
    await adoptUnlinkedAttendance(tx, p.identityId, member.id);
    await audit(tx, { actorIdentityId: p.identityId, channel: input.channel, action: "identity.link", targetType: "ChatIdentity", targetId: p.identityId, detail: { memberId: member.id, by: "bind_code", bindCodeId: row.id, alsoLinkedIdentityId: taken?.id } });
  }
  // A branch code makes its member the secretary, unless a console login already gives them more than that.
  const madeSecretary = !!member && unit.kind === "BRANCH" && !member.isSecretary && (memberConsoleRole == null || ROLE_RANK[memberConsoleRole] <= ROLE_RANK.BRANCH_SECRETARY);
  if (madeSecretary) await tx.member.update({ where: { id: member!.id }, data: { isSecretary: true } });

  // A group of this unit that a WeChat re-login lost (same platform, same name) is replaced by this one.
  const clearedLostGroupIds = await clearLostGroups(tx, unit.id, input.channel, group);

  await audit(tx, {
    actorIdentityId: p.identityId,
    channel: input.channel,
    action: "group.bind_by_code",
    targetType: "ChatGroup",
    targetId: input.groupId,
    detail: { bindCodeId: row.id, orgUnitId: unit.id, code: unit.code, memberId: member?.id ?? null, alreadyBound, madeSecretary, clearedLostGroupIds },
  });
  return { unit: { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind }, member: member ? { id: member.id, name: member.name } : null, alreadyBound, clearedLostGroupIds };
}

/** The group's answer after a redemption: what happened, and what members do next. */
export function redeemedText(r: Redeemed, channel: Channel): string {
  const head = r.alreadyBound ? `本群已绑定到「${r.unit.name}」（${KIND_LABEL[r.unit.kind]}，编码 ${r.unit.code}）。` : `绑定成功！本${groupWord(channel)}已绑定到「${r.unit.name}」（${KIND_LABEL[r.unit.kind]}，编码 ${r.unit.code}）。`;
  const who = r.member ? (r.unit.kind === "BRANCH" ? `${r.member.name}同志已登记为本支部书记。` : `${r.member.name}同志已完成登记。`) : "";
  const next =
    r.unit.kind === "BRANCH"
      ? "请各位党员在群里发送“我是 姓名 手机后四位”完成登记，例如：我是 张三 1234。书记可发送“名单核对”查看谁还没有登记，发送“帮助”查看全部命令。"
      : "请群内干部发送“我是 姓名 手机后四位”完成登记，例如：我是 张三 1234。发送“帮助”查看全部命令。";
  return [head + who, next].join("\n");
}
