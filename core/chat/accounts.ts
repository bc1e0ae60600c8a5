// The messaging platform as the console and operators see it: bot accounts (status, budgets, today's sends, the
// login QR an operator scans) and chat groups (which unit they serve, which accounts reach them, the roster check).
// Scoping goes through core/org/scope.ts; the roster numbers are binding.ts's rosterReport, the same the bot's
// 名单核对 command gives.
import QRCode from "qrcode";
import type { Database, Prisma } from "../db/index.ts";
import { AccountStatus, Channel, GroupKind } from "../db/generated/enums.ts";
import { AppError } from "../kernel/errors.ts";
import { hasRoleAtLeast, outOfScope, pathInScope, requireUnitInScope, subtreeWhere, type ScopeHolder } from "../org/scope.ts";
import { rosterReport, type RosterReport } from "./binding.ts";

export { AccountStatus, GroupKind };

export const ACCOUNT_STATUS_LABEL: Record<AccountStatus, string> = {
  OFFLINE: "离线",
  NEED_LOGIN: "待扫码登录",
  ONLINE: "在线",
  RATE_LIMITED: "已限流",
  COOLDOWN: "风控冷却中",
  DISABLED: "已停用",
};

/** wechat4u renews its login QR every few minutes; an older one can no longer be scanned. */
export const LOGIN_QR_TTL_MS = 5 * 60_000;

/** Roster names listed by the API (the chat command lists 10 to keep the message short). */
export const API_ROSTER_NAME_CAP = 200;

// ---- the county's day ----

/** Asia/Shanghai has been UTC+8 without daylight saving since 1991, so a fixed offset is exact. */
const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** The start of the current day in Asia/Shanghai, whatever the server's TZ. */
export function shanghaiMidnight(now: Date = new Date()): Date {
  const local = now.getTime() + SHANGHAI_OFFSET_MS;
  return new Date(local - (((local % DAY_MS) + DAY_MS) % DAY_MS) - SHANGHAI_OFFSET_MS);
}

// ---- accounts ----

export interface AccountOverview {
  id: number;
  name: string;
  channel: Channel;
  displayName: string;
  status: AccountStatus;
  statusLabel: string;
  statusReason: string | null;
  cooldownUntil: Date | null;
  lastSeenAt: Date | null;
  /** Groups this account reaches (active GroupAccount rows). */
  groupsServed: number;
  /** Deliveries this account sent since local midnight (Asia/Shanghai). */
  sentToday: number;
  dailyBudget: number;
  remainingToday: number;
  sendsPerMinute: number;
  sendsPerHour: number;
  maxMentions: number;
  /** QUEUED deliveries assigned to this account. */
  queued: number;
  needsLogin: boolean;
  /** NEED_LOGIN with a QR fresh enough to scan (GET /api/admin/accounts/:id/login-qr answers). */
  loginQrAvailable: boolean;
}

const countsBy = (rows: Array<{ accountId: number | null; _count: { _all: number } }>) =>
  new Map(rows.filter((r) => r.accountId != null).map((r) => [r.accountId as number, r._count._all]));

/** Every bot account with its load and budgets, for the county office and operators. */
export async function listAccounts(db: Database, now: Date = new Date()): Promise<{ items: AccountOverview[]; dayStart: Date }> {
  const dayStart = shanghaiMidnight(now);
  const prisma = db.prisma;
  const [accounts, groups, sent, queued] = await Promise.all([
    prisma.botAccount.findMany({ orderBy: [{ channel: "asc" }, { name: "asc" }] }),
    prisma.groupAccount.groupBy({ by: ["accountId"], where: { active: true }, _count: { _all: true } }),
    prisma.delivery.groupBy({ by: ["accountId"], where: { status: "SENT", sentAt: { gte: dayStart }, accountId: { not: null } }, _count: { _all: true } }),
    prisma.delivery.groupBy({ by: ["accountId"], where: { status: "QUEUED", accountId: { not: null } }, _count: { _all: true } }),
  ]);
  const groupCounts = new Map(groups.map((g) => [g.accountId, g._count._all]));
  const sentCounts = countsBy(sent);
  const queuedCounts = countsBy(queued);
  const items = accounts.map((a): AccountOverview => {
    const sentToday = sentCounts.get(a.id) ?? 0;
    return {
      id: a.id,
      name: a.name,
      channel: a.channel,
      displayName: a.displayName,
      status: a.status,
      statusLabel: ACCOUNT_STATUS_LABEL[a.status],
      statusReason: a.statusReason,
      cooldownUntil: a.cooldownUntil,
      lastSeenAt: a.lastSeenAt,
      groupsServed: groupCounts.get(a.id) ?? 0,
      sentToday,
      dailyBudget: a.dailyBudget,
      remainingToday: Math.max(0, a.dailyBudget - sentToday),
      sendsPerMinute: a.sendsPerMinute,
      sendsPerHour: a.sendsPerHour,
      maxMentions: a.maxMentions,
      queued: queuedCounts.get(a.id) ?? 0,
      needsLogin: a.status === "NEED_LOGIN",
      loginQrAvailable: a.status === "NEED_LOGIN" && !!a.loginQr && !!a.loginQrAt && now.getTime() - a.loginQrAt.getTime() <= LOGIN_QR_TTL_MS,
    };
  });
  return { items, dayStart };
}

// ---- the login QR ----


export const accountNotFound = () => new AppError("ACCOUNT_NOT_FOUND");
export const loginNotNeeded = () => new AppError("LOGIN_NOT_NEEDED");
export const loginQrExpired = () =>
  new AppError("LOGIN_QR_EXPIRED");

/** The QR payload the bot stored (wechat4u's `scan` event), with an SVG to show in the console. */
export async function loginQrFor(db: Database, accountId: number, now: Date = new Date()) {
  const account = await db.prisma.botAccount.findUnique({
    where: { id: accountId },
    select: { id: true, name: true, channel: true, status: true, loginQr: true, loginQrAt: true },
  });
  if (!account) throw accountNotFound();
  if (account.status !== "NEED_LOGIN" || !account.loginQr) throw loginNotNeeded();
  if (!account.loginQrAt || now.getTime() - account.loginQrAt.getTime() > LOGIN_QR_TTL_MS) throw loginQrExpired();
  const svg = await QRCode.toString(account.loginQr, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return {
    accountId: account.id,
    name: account.name,
    channel: account.channel,
    status: account.status,
    statusLabel: ACCOUNT_STATUS_LABEL[account.status],
    qr: account.loginQr,
    qrAt: account.loginQrAt,
    expiresAt: new Date(account.loginQrAt.getTime() + LOGIN_QR_TTL_MS),
    svg,
  };
}

// ---- groups ----

export interface GroupListQuery {
  page: number;
  pageSize: number;
  kind?: GroupKind;
  /** Groups bound to this unit or below it; the unit must be in the caller's scope. */
  orgUnitId?: number;
  /** true: bound groups only; false: unbound only (county admins); omitted: everything the caller may see. */
  bound?: boolean;
  /** true: only bound groups a WeChat re-login lost (they need `绑定 <码>` again); false: only the others. */
  lost?: boolean;
}

export const unboundForbidden = () => new AppError("FORBIDDEN", "只有县级管理员可以查看未绑定单位的群");

/**
 * Groups the caller may see: those bound to a unit in their subtree; a county admin also sees groups nobody has
 * bound yet (they belong to no unit, so no subtree contains them).
 */
export async function listGroups(db: Database, holder: ScopeHolder, q: GroupListQuery) {
  const seesUnbound = hasRoleAtLeast(holder, "COUNTY_ADMIN");
  if (q.bound === false && !seesUnbound) throw unboundForbidden();

  const inScope: Prisma.ChatGroupWhereInput = { orgUnit: subtreeWhere(holder) };
  let scope: Prisma.ChatGroupWhereInput;
  if (q.orgUnitId !== undefined) {
    const unit = await requireUnitInScope(db, holder, q.orgUnitId);
    // Bound below the requested unit, and (redundantly, so a refactor cannot leak) inside the caller's subtree.
    scope = q.bound === false ? { id: { in: [] } } : { AND: [inScope, { orgUnit: { path: { startsWith: unit.path } } }] };
  } else if (q.bound === true) {
    scope = inScope;
  } else if (q.bound === false) {
    scope = { orgUnitId: null };
  } else {
    scope = seesUnbound ? { OR: [inScope, { orgUnitId: null }] } : inScope;
  }
  const where: Prisma.ChatGroupWhereInput = {
    AND: [scope, ...(q.kind ? [{ kind: q.kind }] : []), ...(q.lost === undefined ? [] : [{ lostAt: q.lost ? { not: null } : null }])],
  };

  const [total, rows] = await db.prisma.$transaction([
    db.prisma.chatGroup.count({ where }),
    db.prisma.chatGroup.findMany({
      where,
      orderBy: { id: "asc" },
      skip: (q.page - 1) * q.pageSize,
      take: q.pageSize,
      select: {
        id: true,
        channel: true,
        platformGroupId: true,
        topic: true,
        kind: true,
        memberCount: true,
        active: true,
        boundAt: true,
        lostAt: true,
        orgUnit: { select: { id: true, code: true, name: true, kind: true } },
        accounts: {
          where: { active: true },
          orderBy: { accountId: "asc" },
          select: { account: { select: { id: true, name: true, status: true } } },
        },
      },
    }),
  ]);
  return {
    items: rows.map(({ accounts, ...g }) => ({
      ...g,
      accounts: accounts.map(({ account }) => ({ ...account, statusLabel: ACCOUNT_STATUS_LABEL[account.status] })),
    })),
    page: q.page,
    pageSize: q.pageSize,
    total,
  };
}

export const groupNotFound = () => new AppError("GROUP_NOT_FOUND");
export const groupNotBound = () =>
  new AppError("GROUP_NOT_BOUND", "该群还没有绑定支部。请支部书记在群里发送“绑定 绑定码”（绑定码在管理后台生成；已登记的书记也可以发送“绑定支部 支部编码”）完成绑定后再核对名单。");

/** The 名单核对 report for a group whose bound unit is in the caller's scope, with a longer list of names. */
export async function groupRosterReport(db: Database, holder: ScopeHolder, groupId: number, nameCap = API_ROSTER_NAME_CAP): Promise<RosterReport & { groupId: number }> {
  const group = await db.prisma.chatGroup.findUnique({ where: { id: groupId }, select: { id: true, orgUnit: { select: { path: true } } } });
  if (!group) throw groupNotFound();
  if (!group.orgUnit) throw groupNotBound();
  if (!pathInScope(holder, group.orgUnit.path)) throw outOfScope();
  return { groupId: group.id, ...(await rosterReport(db.prisma, group.id, nameCap)) };
}
