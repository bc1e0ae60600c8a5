// Members of the roster for the console: a searchable page, one member with their history, and the lifecycle
// (create, edit, 组织关系转接, 转正, 转出, 去世, 停止党籍 and back). The history model is in core/org/roster.ts: the Member
// row is the current stint (from rosterSince), each earlier one a MemberStint. A change of branch, party group or
// status closes the current stint at the effective time, under a row lock, in one audited transaction.
//
// Scope: a cadre sees and changes the members whose CURRENT branch is in their subtree. A transfer must land in the
// caller's subtree; a town admin (or above) may also receive a member from outside it (接收转入), a branch
// secretary only moves their own members.
import { audit } from "../audit.ts";
import type { Channel, Gender, MemberStatus, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { maskPhone } from "../complaints/view.ts";
import { findUnitByCodeOrName } from "../chat/binding.ts";
import { ROSTER_STATUSES } from "./roster.ts";
import { hasRoleAtLeast, outOfScope, pathInScope, subtreeWhere, type ScopeHolder } from "./scope.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export const STATUS_LABEL: Record<MemberStatus, string> = {
  ACTIVE: "正式党员",
  PROBATIONARY: "预备党员",
  TRANSFERRED_OUT: "已转出",
  DECEASED: "已去世",
  SUSPENDED: "停止党籍",
};

export const ENDED_BY_LABEL: Record<string, string> = { transfer: "组织关系转接", status: "状态变更", party_group: "调整党小组" };

/** Who acts, for scope and the audit log. */
export interface MemberActor extends ScopeHolder {
  cadreUserId: number | null;
  channel: string;
  requestId?: string;
}

const MOBILE = /^1[3-9]\d{9}$/;
const CHINA_OFFSET_MS = 8 * 3600_000;

/** "YYYY-MM-DD" of a Date on the Shanghai clock. */
export const chinaDay = (d: Date) => new Date(d.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
/** Midnight (Shanghai) starting the day "YYYY-MM-DD". */
const chinaMidnight = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) - CHINA_OFFSET_MS);
const dateOnly = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : null);

// ───────────────────────────── reading ─────────────────────────────

const ROW_SELECT = {
  id: true,
  name: true,
  gender: true,
  phone: true,
  status: true,
  isSecretary: true,
  isCommittee: true,
  isGroupLeader: true,
  joinedPartyOn: true,
  fullMemberOn: true,
  branch: { select: { id: true, code: true, name: true } },
  partyGroup: { select: { id: true, name: true } },
  identities: { select: { id: true }, take: 1 },
} satisfies Prisma.MemberSelect;

type RowData = Prisma.MemberGetPayload<{ select: typeof ROW_SELECT }>;

export interface MemberRow {
  id: number;
  name: string;
  gender: Gender;
  phone: string | null;
  branch: { id: number; code: string; name: string };
  partyGroup: { id: number; name: string } | null;
  status: MemberStatus;
  statusLabel: string;
  isSecretary: boolean;
  isCommittee: boolean;
  isGroupLeader: boolean;
  linked: boolean;
  joinedPartyOn: string | null;
  fullMemberOn: string | null;
}

export interface MemberDetail extends MemberRow {
  birthYear: number | null;
  rosterSince: string | null;
  identities: { channel: Channel; displayName: string }[];
  history: {
    branch: { id: number; code: string; name: string };
    partyGroup: { id: number; name: string } | null;
    status: MemberStatus;
    statusLabel: string;
    from: string | null;
    to: string;
    endedBy: string;
  }[];
}

function toRow(m: RowData): MemberRow {
  return {
    id: m.id,
    name: m.name,
    gender: m.gender,
    phone: maskPhone(m.phone),
    branch: m.branch,
    partyGroup: m.partyGroup,
    status: m.status,
    statusLabel: STATUS_LABEL[m.status],
    isSecretary: m.isSecretary,
    isCommittee: m.isCommittee,
    isGroupLeader: m.isGroupLeader,
    linked: m.identities.length > 0,
    joinedPartyOn: dateOnly(m.joinedPartyOn),
    fullMemberOn: dateOnly(m.fullMemberOn),
  };
}

export interface MemberFilter {
  /** Name substring, or (all digits) the phone's last digits. */
  q?: string;
  /** A unit in scope: members of the branches under it (the unit itself when a branch). */
  branchId?: number;
  status?: MemberStatus;
  /** Has (true) or has not (false) a linked chat identity. */
  linked?: boolean;
  page: number;
  pageSize: number;
}

/** A page of members whose current branch is in the holder's subtree, by branch then name. */
export async function listMembers(tx: Tx, holder: ScopeHolder, f: MemberFilter) {
  const and: Prisma.MemberWhereInput[] = [{ branch: subtreeWhere(holder) }];
  if (f.branchId != null) {
    const unit = await tx.orgUnit.findUnique({ where: { id: f.branchId }, select: { id: true, kind: true, path: true } });
    if (!unit) throw new AppError("ORG_UNIT_NOT_FOUND", "该单位不存在。");
    if (!pathInScope(holder, unit.path)) throw outOfScope();
    and.push(unit.kind === "BRANCH" ? { branchId: unit.id } : unit.kind === "PARTY_GROUP" ? { partyGroupId: unit.id } : { branch: { path: { startsWith: unit.path } } });
  }
  const q = f.q?.trim();
  if (q) and.push(/^\d+$/.test(q) ? { phone: { endsWith: q } } : { name: { contains: q } });
  if (f.status) and.push({ status: f.status });
  if (f.linked != null) and.push({ identities: f.linked ? { some: {} } : { none: {} } });
  const where: Prisma.MemberWhereInput = { AND: and };
  const [total, rows] = await Promise.all([
    tx.member.count({ where }),
    tx.member.findMany({
      where,
      orderBy: [{ branchId: "asc" }, { name: "asc" }, { id: "asc" }],
      skip: (f.page - 1) * f.pageSize,
      take: f.pageSize,
      select: ROW_SELECT,
    }),
  ]);
  return { items: rows.map(toRow), page: f.page, pageSize: f.pageSize, total };
}

/** The member, 404 when missing and 403 when their current branch is outside the holder's subtree. */
async function memberInScope(tx: Tx, holder: ScopeHolder, id: number) {
  const m = await tx.member.findUnique({ where: { id }, include: { branch: { select: { id: true, code: true, name: true, path: true } } } });
  if (!m) throw new AppError("MEMBER_NOT_FOUND", `没有找到编号为 ${id} 的党员。`);
  if (!pathInScope(holder, m.branch.path)) throw outOfScope();
  return m;
}

/** One member with their chat identities and past stints (latest first). */
export async function memberDetail(tx: Tx, holder: ScopeHolder, id: number): Promise<MemberDetail> {
  await memberInScope(tx, holder, id);
  const m = await tx.member.findUniqueOrThrow({
    where: { id },
    select: {
      ...ROW_SELECT,
      birthYear: true,
      rosterSince: true,
      identities: { select: { id: true, channel: true, displayName: true }, orderBy: { id: "asc" } },
      stints: {
        orderBy: [{ validTo: "desc" }, { id: "desc" }],
        select: {
          status: true,
          validFrom: true,
          validTo: true,
          endedBy: true,
          branch: { select: { id: true, code: true, name: true } },
          partyGroup: { select: { id: true, name: true } },
        },
      },
    },
  });
  return {
    ...toRow(m),
    birthYear: m.birthYear,
    rosterSince: m.rosterSince?.toISOString() ?? null,
    identities: m.identities.map((i) => ({ channel: i.channel, displayName: i.displayName })),
    history: m.stints.map((s) => ({
      branch: s.branch,
      partyGroup: s.partyGroup,
      status: s.status,
      statusLabel: STATUS_LABEL[s.status],
      from: s.validFrom?.toISOString() ?? null,
      to: s.validTo.toISOString(),
      endedBy: s.endedBy,
    })),
  };
}

// ───────────────────────────── checks ─────────────────────────────

function checkPhone(phone: string | null | undefined): string | null | undefined {
  if (phone == null) return phone;
  const digits = phone.replace(/[\s\-－—]/g, "").replace(/^(\+?86)(?=1\d{10}$)/, "");
  if (digits === "") return null;
  if (!MOBILE.test(digits)) throw new AppError("PHONE_INVALID", `手机号“${phone}”有误，请填写 11 位大陆手机号（如 13800001234），不知道可留空。`);
  return digits;
}

function checkName(name: string): string {
  const n = name.replace(/\s+/g, " ").trim();
  if (!n) throw new AppError("NAME_REQUIRED");
  if (n.length > 30) throw new AppError("NAME_INVALID", "姓名最多 30 个字，请核对。");
  return n;
}

/** A real calendar day "YYYY-MM-DD" within [min, today]; `what` names it in the messages. */
function checkDay(day: string, what: string, now: Date, min = "1921-07-01"): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const dt = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !dt || dt.toISOString().slice(0, 10) !== day) throw new AppError("DATE_INVALID", `${what}“${day}”不是有效的日期，请按 2024-07-01 的格式填写。`);
  const today = chinaDay(now);
  if (day > today) throw new AppError("DATE_IN_FUTURE", `${what}（${day}）不能晚于今天（${today}）。`);
  if (day < min) throw new AppError("DATE_TOO_EARLY", `${what}（${day}）不能早于 ${min}，请核对。`);
  return day;
}

/** How far back a transfer or status change may take effect: older changes would rewrite closed months' 应到 and 参会率. */
export const MAX_BACKDATE_DAYS = 90;

/** The earliest "YYYY-MM-DD" (Shanghai) a change may take effect on, and 400 DATE_TOO_EARLY for an earlier `day`. */
function checkNotTooEarly(day: string, what: string, now: Date) {
  const earliest = chinaDay(new Date(now.getTime() - MAX_BACKDATE_DAYS * 86_400_000));
  if (day < earliest) {
    throw new AppError("DATE_TOO_EARLY", `${what}（${day}）过早：最多只能补记 ${MAX_BACKDATE_DAYS} 天内的变更，最早可填 ${earliest}。更早的变更会改动已结束月份的应到人数和参会率。`, { earliest });
  }
}

/** A branch the caller may put members in: active, a BRANCH, in scope. */
async function branchInScope(tx: Tx, holder: ScopeHolder, branchId: number) {
  const unit = await tx.orgUnit.findUnique({ where: { id: branchId }, select: { id: true, code: true, name: true, kind: true, path: true, active: true } });
  if (!unit || !unit.active) throw new AppError("ORG_UNIT_NOT_FOUND", "该支部不存在或已撤销。");
  if (!pathInScope(holder, unit.path)) throw new AppError("OUT_OF_SCOPE", `「${unit.name}」不在您的管辖范围内。`);
  if (unit.kind !== "BRANCH") throw new AppError("NOT_A_BRANCH", `「${unit.name}」不是党支部，党员只能属于党支部。`);
  return unit;
}

/**
 * The subtree a cadre may receive members from (接收转入): their own subtree, and for a town admin or above the
 * whole county they sit in (their nearest COUNTY ancestor; at a CITY, the city). Null when they may receive none
 * from outside their own subtree. Never across counties: a member of another county is transferred by that county.
 */
export async function receivingRoot(tx: Tx, holder: ScopeHolder): Promise<{ path: string; name: string } | null> {
  if (!holder.orgPath || !hasRoleAtLeast(holder, "TOWN_ADMIN")) return null;
  const ids = holder.orgPath.split("/").filter(Boolean).map(Number);
  const chain = await tx.orgUnit.findMany({ where: { id: { in: ids } }, select: { id: true, kind: true, path: true, name: true } });
  const byDepth = ids.map((id) => chain.find((u) => u.id === id)).filter((u) => u !== undefined);
  const county = [...byDepth].reverse().find((u) => u.kind === "COUNTY");
  if (county) return { path: county.path, name: county.name };
  const own = byDepth.at(-1);
  return own && own.kind === "CITY" ? { path: own.path, name: own.name } : null;
}

/** The member's current branch may be received by the holder: in their subtree, or within their county (see receivingRoot). */
export function mayReceiveFrom(holder: ScopeHolder, root: { path: string } | null, branchPath: string): boolean {
  return pathInScope(holder, branchPath) || (root !== null && branchPath.startsWith(root.path));
}

/** 403 for a member beyond what the caller may receive, in words that say who can. */
export const outsideCounty = (name: string, branchName: string) =>
  new AppError("OUT_OF_SCOPE", `“${name}”目前在「${branchName}」，不在您所在县（区）的范围内，不能转入。跨县（区）的组织关系转接请由该党员所在县（区）的管理员办理。`);

/** The party group, which must be an active group of `branchId` (null clears it). */
async function groupOf(tx: Tx, branch: { id: number; name: string }, partyGroupId: number | null | undefined): Promise<number | null> {
  if (partyGroupId == null) return null;
  const g = await tx.orgUnit.findUnique({ where: { id: partyGroupId }, select: { id: true, kind: true, parentId: true, active: true } });
  if (!g || !g.active || g.kind !== "PARTY_GROUP" || g.parentId !== branch.id) {
    throw new AppError("PARTY_GROUP_INVALID", `该党小组不属于「${branch.name}」，请选择「${branch.name}」下的党小组（不分党小组可不选）。`);
  }
  return g.id;
}

/** Row lock on the member for the rest of the transaction: two changes at once cannot both close the same stint. */
async function lockMember(tx: Prisma.TransactionClient, id: number) {
  const rows = await tx.$queryRaw<{ id: number }[]>`SELECT id FROM "Member" WHERE id = ${id} FOR UPDATE`;
  if (rows.length === 0) throw new AppError("MEMBER_NOT_FOUND", `没有找到编号为 ${id} 的党员。`);
}

/**
 * Closes the current stint at `at` (validFrom = rosterSince) and starts the next one with `next`, from `at`. The
 * caller holds the row lock and has checked `at` is after rosterSince.
 */
async function closeStint(
  tx: Prisma.TransactionClient,
  m: { id: number; branchId: number; partyGroupId: number | null; status: MemberStatus; rosterSince: Date | null },
  at: Date,
  endedBy: "transfer" | "status" | "party_group",
  next: Prisma.MemberUncheckedUpdateInput,
) {
  await tx.memberStint.create({
    data: { memberId: m.id, branchId: m.branchId, partyGroupId: m.partyGroupId, status: m.status, validFrom: m.rosterSince, validTo: at, endedBy },
  });
  await tx.member.update({ where: { id: m.id }, data: { ...next, rosterSince: at } });
}

function checkAfterSince(rosterSince: Date | null, at: Date, what: string) {
  if (rosterSince && at <= rosterSince) {
    throw new AppError("DATE_BEFORE_CURRENT", `${what}不能早于该党员现在状态的开始时间（${chinaDay(rosterSince)}），请核对。`);
  }
}

// ───────────────────────────── create and edit ─────────────────────────────

export interface MemberInput {
  name?: string;
  phone?: string | null;
  gender?: Gender;
  partyGroupId?: number | null;
  birthYear?: number | null;
  joinedPartyOn?: string | null;
  status?: "ACTIVE" | "PROBATIONARY";
  isSecretary?: boolean;
  isCommittee?: boolean;
  isGroupLeader?: boolean;
}

function checkBirthAndJoin(birthYear: number | null | undefined, joinedPartyOn: string | null | undefined, now: Date) {
  const thisYear = Number(chinaDay(now).slice(0, 4));
  if (birthYear != null && (birthYear < 1900 || birthYear > thisYear)) throw new AppError("BIRTH_YEAR_INVALID", `出生年份应在 1900 至 ${thisYear} 之间。`);
  if (joinedPartyOn != null) {
    checkDay(joinedPartyOn, "入党日期", now);
    if (birthYear != null && Number(joinedPartyOn.slice(0, 4)) < birthYear + 14) throw new AppError("DATE_INVALID", `入党日期 ${joinedPartyOn} 与出生年份 ${birthYear} 不符，请核对。`);
  }
}

/** Same name and phone already on file: here (409 MEMBER_EXISTS) or in another branch (use the transfer). */
async function refuseDuplicate(tx: Tx, name: string, phone: string | null | undefined, branchId: number, exceptId?: number) {
  if (!phone) return;
  const same = await tx.member.findFirst({
    where: { name, phone, status: { in: ROSTER_STATUSES }, ...(exceptId ? { id: { not: exceptId } } : {}) },
    select: { id: true, branchId: true, branch: { select: { name: true } } },
  });
  if (!same) return;
  if (same.branchId === branchId) throw new AppError("MEMBER_EXISTS", `「${same.branch.name}」名单中已有“${name}”（手机号 ${maskPhone(phone)}），请勿重复添加。`, { memberId: same.id });
  throw new AppError("MEMBER_EXISTS_ELSEWHERE", `“${name}”（手机号 ${maskPhone(phone)}）已在「${same.branch.name}」名单中。如组织关系转入本支部，请使用“组织关系转接”，不要重复添加。`, { memberId: same.id });
}

export async function createMember(prisma: PrismaClient, actor: MemberActor, input: MemberInput & { name: string; branchId: number }, now = new Date()): Promise<MemberDetail> {
  const name = checkName(input.name);
  const phone = checkPhone(input.phone);
  checkBirthAndJoin(input.birthYear, input.joinedPartyOn, now);
  const id = await prisma.$transaction(async (tx) => {
    const branch = await branchInScope(tx, actor, input.branchId);
    const partyGroupId = await groupOf(tx, branch, input.partyGroupId);
    await refuseDuplicate(tx, name, phone, branch.id);
    const m = await tx.member.create({
      data: {
        name,
        phone: phone ?? null,
        gender: input.gender ?? "UNKNOWN",
        branchId: branch.id,
        partyGroupId,
        birthYear: input.birthYear ?? null,
        joinedPartyOn: input.joinedPartyOn ? new Date(`${input.joinedPartyOn}T00:00:00Z`) : null,
        status: input.status ?? "ACTIVE",
        isSecretary: input.isSecretary ?? false,
        isCommittee: input.isCommittee ?? false,
        isGroupLeader: input.isGroupLeader ?? false,
      },
    });
    await audit(tx, {
      actorId: actor.cadreUserId,
      channel: actor.channel,
      requestId: actor.requestId,
      action: "member.create",
      targetType: "Member",
      targetId: m.id,
      detail: { name, branchId: branch.id, code: branch.code, phone: maskPhone(phone), status: m.status },
    });
    return m.id;
  });
  return memberDetail(prisma, actor, id);
}

/**
 * Edits a member's particulars. A party-group change closes the current stint (a past 党小组会 keeps its 应到); a
 * status change goes through changeStatus (effective today); a phone change is audited with both numbers masked.
 */
export async function updateMember(prisma: PrismaClient, actor: MemberActor, id: number, input: MemberInput, now = new Date()): Promise<MemberDetail> {
  const name = input.name === undefined ? undefined : checkName(input.name);
  const phone = checkPhone(input.phone);
  await prisma.$transaction(async (tx) => {
    await lockMember(tx, id);
    const m = await memberInScope(tx, actor, id);
    checkBirthAndJoin(input.birthYear === undefined ? m.birthYear : input.birthYear, input.joinedPartyOn === undefined ? dateOnly(m.joinedPartyOn) : input.joinedPartyOn, now);
    const data: Prisma.MemberUncheckedUpdateInput = {};
    const changed: Record<string, { from: unknown; to: unknown }> = {};
    const set = <K extends keyof Prisma.MemberUncheckedUpdateInput>(key: K, from: unknown, to: unknown, value: Prisma.MemberUncheckedUpdateInput[K], shown?: { from: unknown; to: unknown }) => {
      if (to === undefined || from === to) return;
      data[key] = value;
      changed[key] = shown ?? { from, to };
    };
    set("name", m.name, name, name);
    set("phone", m.phone, phone, phone, { from: maskPhone(m.phone), to: maskPhone(phone) });
    set("gender", m.gender, input.gender, input.gender);
    set("birthYear", m.birthYear, input.birthYear, input.birthYear);
    set("joinedPartyOn", dateOnly(m.joinedPartyOn), input.joinedPartyOn, input.joinedPartyOn ? new Date(`${input.joinedPartyOn}T00:00:00Z`) : null);
    set("isSecretary", m.isSecretary, input.isSecretary, input.isSecretary);
    set("isCommittee", m.isCommittee, input.isCommittee, input.isCommittee);
    set("isGroupLeader", m.isGroupLeader, input.isGroupLeader, input.isGroupLeader);
    if (name !== undefined || phone !== undefined) await refuseDuplicate(tx, name ?? m.name, phone === undefined ? m.phone : phone, m.branchId, m.id);
    // The status first: it takes effect at the start of today, the party group change now.
    if (input.status !== undefined && input.status !== m.status) {
      await applyStatus(tx, actor, id, { status: input.status, effectiveOn: chinaDay(now) }, now);
    }
    if (input.partyGroupId !== undefined && input.partyGroupId !== m.partyGroupId) {
      const partyGroupId = await groupOf(tx, m.branch, input.partyGroupId);
      changed.partyGroupId = { from: m.partyGroupId, to: partyGroupId };
      if (Object.keys(data).length) await tx.member.update({ where: { id }, data });
      const current = await tx.member.findUniqueOrThrow({ where: { id } });
      await closeStint(tx, current, laterThan(current.rosterSince, now), "party_group", { partyGroupId });
    } else if (Object.keys(data).length) {
      await tx.member.update({ where: { id }, data });
    }
    if (Object.keys(changed).length) {
      await audit(tx, { actorId: actor.cadreUserId, channel: actor.channel, requestId: actor.requestId, action: "member.update", targetType: "Member", targetId: id, detail: { changed } });
    }
  });
  return memberDetail(prisma, actor, id);
}

/** `now`, or just after rosterSince when a change earlier today already set it later (clock skew between processes). */
const laterThan = (since: Date | null, now: Date) => (since && since >= now ? new Date(since.getTime() + 1) : now);

// ───────────────────────────── 组织关系转接 ─────────────────────────────

export interface TransferInput {
  toBranchId?: number;
  /** The destination's code or name, resolved like the chat's 绑定支部. */
  toBranch?: string;
  partyGroupId?: number | null;
  effectiveAt?: Date;
  reason?: string | null;
}

/**
 * Moves a member to another branch within an open transaction: the current stint closes at `effectiveAt` (default
 * now) and the member's posts (书记, 委员, 党小组长) stay behind with the old branch. Past meetings keep the member on
 * the old branch's roster; meetings from `effectiveAt` on count them in the new one.
 */
export async function transferMemberIn(tx: Prisma.TransactionClient, actor: MemberActor, id: number, input: TransferInput, now = new Date()) {
  await lockMember(tx, id);
  const m = await tx.member.findUniqueOrThrow({ where: { id }, include: { branch: { select: { id: true, code: true, name: true, path: true } } } });
  // Receiving (接收转入) from outside one's subtree needs a town admin or above, and only within the same county.
  if (!pathInScope(actor, m.branch.path)) {
    if (!hasRoleAtLeast(actor, "TOWN_ADMIN")) throw outOfScope();
    if (!mayReceiveFrom(actor, await receivingRoot(tx, actor), m.branch.path)) throw outsideCounty(m.name, m.branch.name);
  }
  if (!ROSTER_STATUSES.includes(m.status)) {
    throw new AppError("MEMBER_NOT_ON_ROSTER", `“${m.name}”目前为${STATUS_LABEL[m.status]}，不在名单中，不能办理组织关系转接。如需恢复，请先更改其状态。`);
  }
  let toId = input.toBranchId;
  if (toId == null) {
    const text = input.toBranch?.trim();
    if (!text) throw new AppError("TRANSFER_DESTINATION_REQUIRED");
    toId = (await findUnitByCodeOrName(tx, text)).id;
  }
  const to = await branchInScope(tx, actor, toId);
  if (to.id === m.branchId) throw new AppError("TRANSFER_SAME_BRANCH", `“${m.name}”已在「${to.name}」，无需转接。`);
  const partyGroupId = await groupOf(tx, to, input.partyGroupId);
  const at = input.effectiveAt ?? now;
  if (at.getTime() > now.getTime() + 60_000) throw new AppError("DATE_IN_FUTURE", "转接生效时间不能晚于现在。");
  checkNotTooEarly(chinaDay(at), "转接生效时间", now);
  checkAfterSince(m.rosterSince, at, "转接生效时间");
  await closeStint(tx, m, at, "transfer", { branchId: to.id, partyGroupId, isSecretary: false, isCommittee: false, isGroupLeader: false });
  await audit(tx, {
    actorId: actor.cadreUserId,
    channel: actor.channel,
    requestId: actor.requestId,
    action: "member.transfer",
    targetType: "Member",
    targetId: id,
    detail: {
      from: { branchId: m.branchId, code: m.branch.code, partyGroupId: m.partyGroupId },
      to: { branchId: to.id, code: to.code, partyGroupId },
      effectiveAt: at.toISOString(),
      reason: input.reason ?? null,
      postsCleared: m.isSecretary || m.isCommittee || m.isGroupLeader,
    },
  });
  return { from: { id: m.branch.id, code: m.branch.code, name: m.branch.name }, to: { id: to.id, code: to.code, name: to.name } };
}

export async function transferMember(prisma: PrismaClient, actor: MemberActor, id: number, input: TransferInput, now = new Date()): Promise<MemberDetail> {
  await prisma.$transaction((tx) => transferMemberIn(tx, actor, id, input, now));
  return memberDetail(prisma, actor, id);
}

// ───────────────────────────── status ─────────────────────────────

/** From → to changes that make sense, with what to call them in messages. */
const TRANSITIONS: Partial<Record<MemberStatus, Partial<Record<MemberStatus, string>>>> = {
  PROBATIONARY: { ACTIVE: "转正", TRANSFERRED_OUT: "转出", DECEASED: "去世", SUSPENDED: "停止党籍" },
  ACTIVE: { TRANSFERRED_OUT: "转出", DECEASED: "去世", SUSPENDED: "停止党籍" },
  SUSPENDED: { ACTIVE: "恢复党籍", DECEASED: "去世" },
  TRANSFERRED_OUT: { ACTIVE: "转回" },
};

export interface StatusInput {
  status: MemberStatus;
  /** "YYYY-MM-DD" on the Shanghai calendar; the change takes effect at the start of that day. */
  effectiveOn: string;
  reason?: string | null;
}

async function applyStatus(tx: Prisma.TransactionClient, actor: MemberActor, id: number, input: StatusInput, now: Date) {
  await lockMember(tx, id);
  const m = await memberInScope(tx, actor, id);
  if (input.status === m.status) throw new AppError("STATUS_UNCHANGED", `“${m.name}”已是${STATUS_LABEL[m.status]}。`);
  const label = TRANSITIONS[m.status]?.[input.status];
  if (!label) throw new AppError("STATUS_CHANGE_INVALID", `“${m.name}”目前为${STATUS_LABEL[m.status]}，不能改为${STATUS_LABEL[input.status]}。`);
  const day = checkDay(input.effectiveOn, `${label}日期`, now);
  checkNotTooEarly(day, `${label}日期`, now);
  if (m.joinedPartyOn && day < dateOnly(m.joinedPartyOn)!) throw new AppError("DATE_TOO_EARLY", `${label}日期（${day}）不能早于入党日期（${dateOnly(m.joinedPartyOn)}）。`);
  const at = chinaMidnight(day);
  checkAfterSince(m.rosterSince, at, `${label}日期`);
  const fullMember = m.status === "PROBATIONARY" && input.status === "ACTIVE";
  await closeStint(tx, m, at, "status", { status: input.status, ...(fullMember ? { fullMemberOn: new Date(`${day}T00:00:00Z`) } : {}) });
  await audit(tx, {
    actorId: actor.cadreUserId,
    channel: actor.channel,
    requestId: actor.requestId,
    action: "member.status",
    targetType: "Member",
    targetId: id,
    detail: { from: m.status, to: input.status, label, effectiveOn: day, reason: input.reason ?? null },
  });
  // Leaving the roster (去世, 转出, 停止党籍) ends a linked console login's powers at once; coming back does not
  // restore them on its own (an admin re-enables the account deliberately).
  if (ROSTER_STATUSES.includes(m.status) && !ROSTER_STATUSES.includes(input.status)) await disableLinkedCadre(tx, actor, m.id, label, now);
}

async function disableLinkedCadre(tx: Prisma.TransactionClient, actor: MemberActor, memberId: number, label: string, now: Date) {
  const cadre = await tx.cadreUser.findFirst({ where: { memberId, active: true }, select: { id: true, username: true } });
  if (!cadre) return;
  await tx.cadreUser.update({ where: { id: cadre.id }, data: { active: false, disabledAt: now, tokenVersion: { increment: 1 } } });
  await audit(tx, {
    actorId: actor.cadreUserId,
    channel: actor.channel,
    requestId: actor.requestId,
    action: "cadre.disabled",
    targetType: "CadreUser",
    targetId: cadre.id,
    detail: { username: cadre.username, reason: "member_left_roster", memberId, label, before: { active: true }, after: { active: false } },
  });
}

/** 转正, 转出, 去世, 停止党籍 and back, from a date (today at the latest). */
export async function changeMemberStatus(prisma: PrismaClient, actor: MemberActor, id: number, input: StatusInput, now = new Date()): Promise<MemberDetail> {
  await prisma.$transaction((tx) => applyStatus(tx, actor, id, input, now));
  return memberDetail(prisma, actor, id);
}
