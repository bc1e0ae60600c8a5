// County broadcasts (县级广播): draft → approved by a second county admin → fanned out to the outbox (now or at a set
// time) → sent by the per-account senders → a live delivery report. The rules live here once; the API routes, the
// chat commands, the jobs tick and the CLI only parse and answer.
//
// Race-freedom, in one place:
// - Approval is a conditional status change (PENDING_APPROVAL → SCHEDULED/SENDING) in the transaction that writes the
//   deliveries; a second approval (concurrent or later) finds nothing to change. Deliveries carry the idempotency key
//   `broadcast:<id>:group:<groupId>`, so even a repeated fan-out cannot write a second row for a group.
// - Cancel turns QUEUED rows into CANCELLED in one UPDATE. A row a sender is claiming is locked (FOR UPDATE SKIP
//   LOCKED in claimDue): the UPDATE waits, re-reads it as SENDING and leaves it alone (it goes out: it was already
//   on its way). A row cancelled is never claimed again. claimDue also skips rows of a paused or cancelled broadcast,
//   which covers a row a failed attempt puts back in the queue after the cancel.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { audit } from "../audit.ts";
import { AppError, type ErrorCodeWithStatus } from "../kernel/errors.ts";
import { PRIORITY } from "../delivery/outbox.ts";
import { enqueueMany } from "../kernel/recipients.ts";
import { splitText } from "../chat/split.ts";
import type { BroadcastStatus, CadreRole } from "../db/generated/enums.ts";
import type { BroadcastAttachment } from "./attachments.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** Runs `fn` in a transaction of its own, or inside the caller's (a chat command's writes and replies commit together). */
function inTx<T>(prisma: Tx, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return "$transaction" in prisma && typeof prisma.$transaction === "function" ? (prisma as PrismaClient).$transaction(fn) : fn(prisma as Prisma.TransactionClient);
}

/** Longest text the chat platforms take in one message (the WeChat adapter's limit; QQ's is larger). */
export const PLATFORM_TEXT_LIMIT = 1800;
/** A broadcast longer than this many messages per group is refused: split it into several broadcasts. */
export const MAX_PARTS = 5;
export const MAX_TITLE = 60;

export const STATUS_LABEL: Record<string, string> = {
  DRAFT: "草稿",
  PENDING_APPROVAL: "待审批",
  REJECTED: "已驳回",
  SCHEDULED: "已批准，待定时发送",
  SENDING: "发送中",
  PAUSED: "已暂停",
  COMPLETED: "已完成",
  CANCELLED: "已取消",
};

export type BroadcastTarget =
  | { scope: "all" }
  | { scope: "towns"; townIds: number[] }
  | { scope: "kinds"; kinds: ("BRANCH" | "CADRE")[] }
  | { scope: "groups"; groupIds: number[] };

/** Who acts: a cadre user (API login, or the cadre linked to a chat identity). */
export interface BroadcastActor {
  cadreUserId: number | null;
  role: CadreRole | null;
  orgPath: string | null;
  identityId?: number | null;
  /** "api", "WECHAT", "QQ", "jobs", "cli" */
  channel: string;
  requestId?: string;
}

export interface DraftInput {
  title?: string;
  body: string;
  target: BroadcastTarget;
  scheduledAt?: Date | null;
  /** Stored already (core/broadcasts/attachments.ts): sent to each group after the text, as one more message. */
  attachment?: BroadcastAttachment | null;
}

export interface ResolvedGroup {
  id: number;
  channel: "WECHAT" | "QQ";
  topic: string;
  townId: number | null;
  townName: string | null;
  /** Active accounts that reach the group, and how many of them are online now. */
  accounts: number;
  onlineAccounts: number;
}

export interface Preview {
  groups: number;
  perTown: { townId: number | null; townName: string; groups: number }[];
  accounts: { id: number; name: string; status: string; groups: number; sendsPerMinute: number; sendsPerHour: number; dailyBudget: number }[];
  /** Groups no online account reaches now: they wait until one comes back. */
  groupsWithoutOnlineAccount: number;
  /** Messages each group gets: the text's parts, plus one for an attachment. */
  partsPerGroup: number;
  messages: number;
  estimatedSeconds: number;
}

function requireCountyAdmin(actor: BroadcastActor, what: string) {
  if (actor.role !== "COUNTY_ADMIN" || actor.cadreUserId == null || !actor.orgPath) {
    throw new AppError("COUNTY_ADMIN_REQUIRED", `只有县级管理员可以${what}`);
  }
}

/** Validates text: not empty, not over MAX_PARTS platform messages. Returns the number of parts each group gets. */
export function checkBody(body: string): number {
  const text = body.trim();
  if (!text) throw new AppError("BROADCAST_TEXT_EMPTY");
  const parts = splitText(text, PLATFORM_TEXT_LIMIT).length;
  if (parts > MAX_PARTS) {
    throw new AppError("BROADCAST_TEXT_TOO_LONG", `广播内容过长（${Array.from(text).length} 字）：每条消息最多 ${PLATFORM_TEXT_LIMIT} 字，一次广播最多分 ${MAX_PARTS} 条发送。请精简内容或分成几次广播`, { maxChars: PLATFORM_TEXT_LIMIT * MAX_PARTS, parts });
  }
  return parts;
}

function checkTarget(target: BroadcastTarget) {
  switch (target?.scope) {
    case "all":
      return;
    case "towns":
      if (!target.townIds?.length) throw new AppError("BROADCAST_TARGET_EMPTY", "请至少选择一个乡镇");
      return;
    case "kinds":
      if (!target.kinds?.length) throw new AppError("BROADCAST_TARGET_EMPTY", "请至少选择一类群（支部群或干部群）");
      return;
    case "groups":
      if (!target.groupIds?.length) throw new AppError("BROADCAST_TARGET_EMPTY", "请至少选择一个群");
      return;
    default:
      throw new AppError("BROADCAST_TARGET_UNKNOWN");
  }
}

/**
 * Resolves a target to the active groups it means, inside the county of `orgPath`. Unknown or out-of-county towns
 * and groups are refused by name (BROADCAST_TARGET_UNKNOWN), never silently dropped.
 */
export async function resolveTarget(prisma: Tx, orgPath: string, target: BroadcastTarget): Promise<ResolvedGroup[]> {
  checkTarget(target);
  const params: unknown[] = [orgPath];
  let filter = "";
  if (target.scope === "towns") {
    const ids = [...new Set(target.townIds)];
    const towns = await prisma.orgUnit.findMany({ where: { id: { in: ids }, kind: "TOWN", active: true, path: { startsWith: orgPath } }, select: { id: true, path: true } });
    const missing = ids.filter((id) => !towns.some((t) => t.id === id));
    if (missing.length) throw new AppError("BROADCAST_TARGET_UNKNOWN", `找不到这些乡镇（或不在本县）：${missing.join("、")}`, { unknownTownIds: missing });
    params.push(towns.map((t) => t.path));
    filter = `AND u.path LIKE ANY (SELECT p || '%' FROM unnest($2::text[]) p)`;
  } else if (target.scope === "kinds") {
    const bad = target.kinds.filter((k) => k !== "BRANCH" && k !== "CADRE");
    if (bad.length) throw new AppError("BROADCAST_TARGET_UNKNOWN", `无法识别的群类别：${bad.join("、")}（可选 BRANCH 支部群、CADRE 干部群）`);
    params.push([...new Set(target.kinds)]);
    filter = `AND g.kind::text = ANY($2::text[])`;
  } else if (target.scope === "groups") {
    params.push([...new Set(target.groupIds)]);
    filter = `AND g.id = ANY($2::int[])`;
  }
  const rows = await prisma.$queryRawUnsafe<(Omit<ResolvedGroup, "accounts" | "onlineAccounts"> & { accounts: bigint; onlineAccounts: bigint })[]>(
    `SELECT g.id, g.channel::text AS channel, g.topic, t.id AS "townId", t.name AS "townName",
            (SELECT count(*) FROM "GroupAccount" ga WHERE ga."groupId" = g.id AND ga.active) AS accounts,
            (SELECT count(*) FROM "GroupAccount" ga JOIN "BotAccount" b ON b.id = ga."accountId"
              WHERE ga."groupId" = g.id AND ga.active AND b.status = 'ONLINE') AS "onlineAccounts"
       FROM "ChatGroup" g
       JOIN "OrgUnit" u ON u.id = g."orgUnitId"
       LEFT JOIN "OrgUnit" t ON t.kind = 'TOWN' AND u.path LIKE t.path || '%'
      WHERE g.active AND g.channel IN ('WECHAT', 'QQ') AND u.path LIKE $1 || '%' ${filter}
      ORDER BY g.id`,
    ...params,
  );
  if (target.scope === "groups") {
    const missing = params[1] as number[];
    const unknown = missing.filter((id) => !rows.some((r) => r.id === id));
    if (unknown.length) throw new AppError("BROADCAST_TARGET_UNKNOWN", `找不到这些群（或未绑定本县单位、已停用）：${unknown.join("、")}`, { unknownGroupIds: unknown });
  }
  return rows.map((r) => ({ ...r, accounts: Number(r.accounts), onlineAccounts: Number(r.onlineAccounts) }));
}

/** How long sending `messages` takes under the budgets of the accounts that reach the groups (rough, for planning). */
export function estimateSeconds(
  messages: number,
  accounts: { status: string; sendsPerMinute: number; sendsPerHour: number; dailyBudget: number }[],
  pacing: { minGapMs: number; jitterMs: number } = { minGapMs: 1000, jitterMs: 2000 },
): number {
  const live = accounts.filter((a) => a.status === "ONLINE");
  const use = live.length ? live : accounts;
  if (!messages || !use.length) return 0;
  const gap = pacing.minGapMs + pacing.jitterMs / 2;
  const perMinute = use.reduce((s, a) => s + Math.min(a.sendsPerMinute, gap > 0 ? 60_000 / gap : Infinity), 0);
  const perHour = use.reduce((s, a) => s + Math.min(a.sendsPerHour, a.dailyBudget), 0);
  const perDay = use.reduce((s, a) => s + a.dailyBudget, 0);
  const byMinute = (messages / perMinute) * 60;
  const byHour = messages > perHour ? Math.floor(messages / perHour) * 3600 : 0;
  const byDay = messages > perDay ? Math.floor(messages / perDay) * 86_400 : 0;
  return Math.ceil(Math.max(byMinute, byHour, byDay));
}

/** `opts.attachment`: a picture or file goes with the text (one more message per group). */
export async function previewTarget(prisma: Tx, orgPath: string, target: BroadcastTarget, body: string, pacing?: { minGapMs: number; jitterMs: number }, opts: { attachment?: boolean } = {}): Promise<Preview> {
  const partsPerGroup = checkBody(body) + (opts.attachment ? 1 : 0);
  const groups = await resolveTarget(prisma, orgPath, target);
  return previewOf(prisma, groups, partsPerGroup, pacing);
}

async function previewOf(prisma: Tx, groups: ResolvedGroup[], partsPerGroup: number, pacing?: { minGapMs: number; jitterMs: number }): Promise<Preview> {
  const towns = new Map<string, { townId: number | null; townName: string; groups: number }>();
  for (const g of groups) {
    const k = String(g.townId);
    const t = towns.get(k) ?? { townId: g.townId, townName: g.townName ?? "县直", groups: 0 };
    t.groups++;
    towns.set(k, t);
  }
  const ids = groups.map((g) => g.id);
  const accounts = ids.length
    ? await prisma.$queryRawUnsafe<{ id: number; name: string; status: string; groups: bigint; sendsPerMinute: number; sendsPerHour: number; dailyBudget: number }[]>(
        `SELECT b.id, b.name, b.status::text AS status, count(*) AS groups, b."sendsPerMinute", b."sendsPerHour", b."dailyBudget"
           FROM "GroupAccount" ga JOIN "BotAccount" b ON b.id = ga."accountId"
          WHERE ga.active AND ga."groupId" = ANY($1::int[]) GROUP BY b.id ORDER BY b.id`,
        ids,
      )
    : [];
  const messages = groups.length * partsPerGroup;
  return {
    groups: groups.length,
    perTown: [...towns.values()].sort((a, b) => (a.townId ?? 0) - (b.townId ?? 0)),
    accounts: accounts.map((a) => ({ ...a, groups: Number(a.groups) })),
    groupsWithoutOnlineAccount: groups.filter((g) => g.onlineAccounts === 0).length,
    partsPerGroup,
    messages,
    estimatedSeconds: estimateSeconds(messages, accounts, pacing),
  };
}

function formatNumber(id: number, at: Date) {
  const d = new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, "");
  return `GB${d}-${String(id).padStart(4, "0")}`;
}

/** GB20261130-0007 or a bare id. */
export function parseBroadcastRef(s: string): { id: number } | { number: string } | null {
  const t = s.trim().toUpperCase();
  if (/^GB\d{8}-\d{1,}$/.test(t)) return { number: t };
  if (/^\d+$/.test(t)) return { id: Number(t) };
  return null;
}

async function findBroadcast(prisma: Tx, ref: number | string) {
  const where = typeof ref === "number" ? { id: ref } : (() => {
    const p = parseBroadcastRef(ref);
    if (!p) throw new AppError("BROADCAST_NUMBER_INVALID", `“${ref}”不是广播编号，编号形如 GB20261130-0007`);
    return "id" in p ? { id: p.id } : { number: p.number };
  })();
  const b = await prisma.broadcast.findUnique({ where, include: { drafter: { select: { id: true, displayName: true, orgUnit: { select: { path: true } } } } } });
  if (!b) throw new AppError("BROADCAST_NOT_FOUND");
  return b;
}

function requireSameCounty(actor: BroadcastActor, drafterPath: string) {
  if (!actor.orgPath || !drafterPath.startsWith(actor.orgPath)) throw new AppError("OUT_OF_SCOPE", "无权处理其他县的广播");
}

/** Creates a broadcast awaiting approval. The target is checked now (and resolved again, once, at send time). */
export async function draftBroadcast(prisma: Tx, actor: BroadcastActor, input: DraftInput, now = new Date(), pacing?: { minGapMs: number; jitterMs: number }) {
  requireCountyAdmin(actor, "起草县级广播");
  const partsPerGroup = checkBody(input.body);
  if (input.scheduledAt && input.scheduledAt.getTime() <= now.getTime()) {
    throw new AppError("BROADCAST_SEND_TIME_PAST");
  }
  const groups = await resolveTarget(prisma, actor.orgPath!, input.target);
  if (!groups.length) throw new AppError("BROADCAST_TARGET_NO_GROUPS");
  const body = input.body.trim();
  const title = (input.title?.trim() || Array.from(body.split("\n")[0]).slice(0, 20).join("")).slice(0, MAX_TITLE);
  const b = await inTx(prisma, async (tx) => {
    const row = await tx.broadcast.create({
      data: {
        number: `tmp-${now.getTime()}-${Math.random().toString(36).slice(2)}`,
        title,
        body,
        attachment: (input.attachment ?? undefined) as Prisma.InputJsonValue | undefined,
        target: input.target as unknown as Prisma.InputJsonValue,
        status: "PENDING_APPROVAL",
        scheduledAt: input.scheduledAt ?? null,
        drafterId: actor.cadreUserId!,
      },
    });
    const saved = await tx.broadcast.update({ where: { id: row.id }, data: { number: formatNumber(row.id, now) } });
    await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "broadcast.draft", targetType: "Broadcast", targetId: row.id, detail: { target: input.target, groups: groups.length }, requestId: actor.requestId });
    return saved;
  });
  return { broadcast: b, preview: await previewOf(prisma, groups, partsPerGroup + (input.attachment ? 1 : 0), pacing) };
}

/**
 * Writes one delivery per resolved group in one statement, inside the caller's transaction. Accounts are left open
 * (accountId null): any account that reaches the group and has budget sends it, once.
 */
async function fanOut(tx: Prisma.TransactionClient, b: { id: number; body: string; target: unknown; attachment?: unknown }, orgPath: string, now: Date) {
  const groups = await resolveTarget(tx, orgPath, b.target as BroadcastTarget);
  // The attachment travels by reference: each delivery names the stored file, the sender fetches and sends it.
  const attachment = (b.attachment ?? null) as BroadcastAttachment | null;
  await enqueueMany(
    tx,
    groups.map((g) => ({
      channel: g.channel,
      accountId: null,
      groupId: g.id,
      identityId: null,
      body: b.body,
      idempotencyKey: `broadcast:${b.id}:group:${g.id}`,
      payload: attachment ? { attachment } : undefined,
      priority: PRIORITY.bulk,
      notBefore: now,
      broadcastId: b.id,
    })),
  );
  await tx.broadcast.update({ where: { id: b.id }, data: { status: "SENDING", resolvedAt: now, resolvedCount: groups.length } });
  return groups.length;
}

export interface Decision {
  broadcast: { id: number; number: string; status: string };
  /** Groups written to the outbox now (0 when scheduled for later). */
  queued: number;
}

/** A second county admin approves: sent now, or at its scheduled time. Approving twice sends once. */
export async function approveBroadcast(prisma: Tx, actor: BroadcastActor, ref: number | string, now = new Date()): Promise<Decision> {
  requireCountyAdmin(actor, "批准县级广播");
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor, b.drafter.orgUnit.path);
  if (b.drafterId === actor.cadreUserId) throw new AppError("BROADCAST_SELF_APPROVAL", "不能批准自己起草的广播，请由另一位县级管理员审批");
  if (b.status !== "PENDING_APPROVAL") throw new AppError("BROADCAST_ALREADY_DECIDED", `该广播${STATUS_LABEL[b.status]}，无需再审批`);
  const later = b.scheduledAt && b.scheduledAt.getTime() > now.getTime();
  return inTx(prisma, async (tx) => {
    const { count } = await tx.broadcast.updateMany({ where: { id: b.id, status: "PENDING_APPROVAL" }, data: { status: later ? "SCHEDULED" : "SENDING" } });
    if (count !== 1) throw new AppError("BROADCAST_ALREADY_DECIDED");
    await tx.broadcastApproval.create({ data: { broadcastId: b.id, approverId: actor.cadreUserId!, decision: "APPROVED" } });
    const queued = later ? 0 : await fanOut(tx, b, b.drafter.orgUnit.path, now);
    await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "broadcast.approve", targetType: "Broadcast", targetId: b.id, detail: { queued, scheduledAt: b.scheduledAt?.toISOString() ?? null }, requestId: actor.requestId });
    return { broadcast: { id: b.id, number: b.number, status: later ? "SCHEDULED" : "SENDING" }, queued };
  });
}

export async function rejectBroadcast(prisma: Tx, actor: BroadcastActor, ref: number | string, reason: string) {
  requireCountyAdmin(actor, "驳回县级广播");
  if (!reason?.trim()) throw new AppError("BROADCAST_REASON_REQUIRED");
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor, b.drafter.orgUnit.path);
  if (b.drafterId === actor.cadreUserId) throw new AppError("BROADCAST_SELF_APPROVAL", "不能审批自己起草的广播；如需撤下，请取消它");
  return inTx(prisma, async (tx) => {
    const { count } = await tx.broadcast.updateMany({ where: { id: b.id, status: "PENDING_APPROVAL" }, data: { status: "REJECTED" } });
    if (count !== 1) throw new AppError("BROADCAST_ALREADY_DECIDED", `该广播${STATUS_LABEL[b.status]}，无需再审批`);
    await tx.broadcastApproval.create({ data: { broadcastId: b.id, approverId: actor.cadreUserId!, decision: "REJECTED", reason: reason.trim().slice(0, 500) } });
    await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "broadcast.reject", targetType: "Broadcast", targetId: b.id, detail: { reason }, requestId: actor.requestId });
    return { id: b.id, number: b.number, status: "REJECTED" as const };
  });
}

/** Cancels what has not gone out yet; what a sender already holds goes out (it was on its way). */
export async function cancelBroadcast(prisma: Tx, actor: BroadcastActor, ref: number | string, now = new Date()) {
  requireCountyAdmin(actor, "取消县级广播");
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor, b.drafter.orgUnit.path);
  return inTx(prisma, async (tx) => {
    const { count } = await tx.broadcast.updateMany({
      where: { id: b.id, status: { in: ["DRAFT", "PENDING_APPROVAL", "SCHEDULED", "SENDING", "PAUSED"] } },
      data: { status: "CANCELLED", cancelledAt: now },
    });
    if (count !== 1) throw new AppError("BROADCAST_NOT_CANCELLABLE", `该广播${STATUS_LABEL[b.status]}，不能再取消`);
    const cancelled = await sweepCancelled(tx, b.id);
    await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "broadcast.cancel", targetType: "Broadcast", targetId: b.id, detail: { cancelled }, requestId: actor.requestId });
    return { id: b.id, number: b.number, status: "CANCELLED" as const, cancelled };
  });
}

const sweepCancelled = (tx: Tx, id: number) =>
  tx.$executeRawUnsafe(`UPDATE "Delivery" SET status = 'CANCELLED', "lockedBy" = NULL, "lockedUntil" = NULL, "updatedAt" = now() WHERE "broadcastId" = $1 AND status = 'QUEUED'`, id);

/** Pauses sending: senders stop claiming its rows (a row already claimed goes out). */
export const pauseBroadcast = (prisma: Tx, actor: BroadcastActor, ref: number | string) =>
  moveSending(prisma, actor, ref, { what: "暂停县级广播", from: "SENDING", to: "PAUSED", code: "BROADCAST_NOT_SENDING", only: "只有发送中的广播可以暂停", action: "broadcast.pause" });

export const resumeBroadcast = (prisma: Tx, actor: BroadcastActor, ref: number | string) =>
  moveSending(prisma, actor, ref, { what: "恢复县级广播", from: "PAUSED", to: "SENDING", code: "BROADCAST_NOT_PAUSED", only: "只有已暂停的广播可以恢复", action: "broadcast.resume" });

/** Pause and resume: one compare-and-set between SENDING and PAUSED, refused with `code` from any other status, audited. */
async function moveSending<To extends "PAUSED" | "SENDING">(
  prisma: Tx,
  actor: BroadcastActor,
  ref: number | string,
  m: { what: string; from: "SENDING" | "PAUSED"; to: To; code: ErrorCodeWithStatus<409>; only: string; action: string },
) {
  requireCountyAdmin(actor, m.what);
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor, b.drafter.orgUnit.path);
  const { count } = await prisma.broadcast.updateMany({ where: { id: b.id, status: m.from }, data: { status: m.to } });
  if (count !== 1) throw new AppError(m.code, `该广播${STATUS_LABEL[b.status]}，${m.only}`);
  await audit(prisma, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: m.action, targetType: "Broadcast", targetId: b.id, requestId: actor.requestId });
  return { id: b.id, number: b.number, status: m.to };
}

/** Puts just the failed groups back in the queue (any account may take them). */
export async function retryFailed(prisma: Tx, actor: BroadcastActor, ref: number | string, now = new Date()) {
  requireCountyAdmin(actor, "重发县级广播");
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor, b.drafter.orgUnit.path);
  if (!["SENDING", "COMPLETED", "PAUSED"].includes(b.status)) throw new AppError("BROADCAST_NOT_RETRYABLE", `该广播${STATUS_LABEL[b.status]}，不能重发`);
  return inTx(prisma, async (tx) => {
    const requeued = await tx.$executeRawUnsafe(
      `UPDATE "Delivery" SET status = 'QUEUED', attempts = 0, "accountId" = NULL, "nextAttemptAt" = $2, "updatedAt" = now()
        WHERE "broadcastId" = $1 AND status = 'FAILED'`,
      b.id,
      now,
    );
    if (requeued > 0 && b.status === "COMPLETED") await tx.broadcast.update({ where: { id: b.id }, data: { status: "SENDING", completedAt: null } });
    await audit(tx, { actorId: actor.cadreUserId, actorIdentityId: actor.identityId, channel: actor.channel, action: "broadcast.retry", targetType: "Broadcast", targetId: b.id, detail: { requeued }, requestId: actor.requestId });
    return { id: b.id, number: b.number, requeued };
  });
}

/** The jobs tick: fans out scheduled broadcasts whose time has come, and marks finished ones completed. */
export async function runDueBroadcasts(prisma: PrismaClient, now = new Date()): Promise<{ started: number[]; completed: number }> {
  const due = await prisma.broadcast.findMany({
    where: { status: "SCHEDULED", scheduledAt: { lte: now } },
    select: { id: true, body: true, target: true, attachment: true, drafter: { select: { orgUnit: { select: { path: true } } } } },
    orderBy: { scheduledAt: "asc" },
    take: 20,
  });
  const started: number[] = [];
  for (const b of due) {
    await inTx(prisma, async (tx) => {
      // Claimed by the status change: a second jobs process (or a retried tick) finds nothing to do.
      const { count } = await tx.broadcast.updateMany({ where: { id: b.id, status: "SCHEDULED" }, data: { status: "SENDING" } });
      if (count !== 1) return;
      const queued = await fanOut(tx, b, b.drafter.orgUnit.path, now);
      await audit(tx, { channel: "jobs", action: "broadcast.start", targetType: "Broadcast", targetId: b.id, detail: { queued } });
      started.push(b.id);
    });
  }
  const completed = await prisma.$executeRawUnsafe(
    `UPDATE "Broadcast" b SET status = 'COMPLETED', "completedAt" = now(), "updatedAt" = now()
      WHERE b.status = 'SENDING' AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."broadcastId" = b.id AND d.status IN ('QUEUED', 'SENDING'))`,
  );
  return { started, completed };
}

export interface ReportCounts {
  total: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  cancelled: number;
  /** Queued for groups no online account reaches now (reported apart from queued; not failed). */
  waiting: number;
}

export interface BroadcastReport {
  broadcast: { id: number; number: string; title: string; status: string; statusLabel: string; scheduledAt: Date | null; resolvedAt: Date | null; cancelledAt: Date | null; completedAt: Date | null };
  totals: ReportCounts;
  perTown: (ReportCounts & { townId: number | null; townName: string })[];
  failed: { deliveryId: string; groupId: number; topic: string; townName: string; errorClass: string | null; error: string | null }[];
  waiting: { groupId: number; topic: string; townName: string }[];
}

const zero = (): ReportCounts => ({ total: 0, queued: 0, sending: 0, sent: 0, failed: 0, cancelled: 0, waiting: 0 });

export async function broadcastReport(prisma: Tx, actor: Pick<BroadcastActor, "role" | "orgPath">, ref: number | string): Promise<BroadcastReport> {
  if (actor.role !== "COUNTY_ADMIN") throw new AppError("COUNTY_ADMIN_REQUIRED", "只有县级管理员可以查看广播发送情况");
  let b = await findBroadcast(prisma, ref);
  requireSameCounty(actor as BroadcastActor, b.drafter.orgUnit.path);
  if (b.status === "CANCELLED") await sweepCancelled(prisma, b.id);
  if (b.status === "SENDING") {
    await prisma.$executeRawUnsafe(
      `UPDATE "Broadcast" b SET status = 'COMPLETED', "completedAt" = now(), "updatedAt" = now()
        WHERE b.id = $1 AND b.status = 'SENDING' AND NOT EXISTS (SELECT 1 FROM "Delivery" d WHERE d."broadcastId" = b.id AND d.status IN ('QUEUED', 'SENDING'))`,
      b.id,
    );
    b = await findBroadcast(prisma, b.id);
  }
  const rows = await prisma.$queryRawUnsafe<
    { id: bigint; status: string; groupId: number; topic: string; townId: number | null; townName: string | null; errorClass: string | null; error: string | null; online: boolean }[]
  >(
    `SELECT d.id, d.status::text AS status, d."groupId", g.topic, t.id AS "townId", t.name AS "townName", d."errorClass", d.error,
            EXISTS (SELECT 1 FROM "GroupAccount" ga JOIN "BotAccount" a ON a.id = ga."accountId"
                     WHERE ga."groupId" = d."groupId" AND ga.active AND a.status = 'ONLINE') AS online
       FROM "Delivery" d
       JOIN "ChatGroup" g ON g.id = d."groupId"
       LEFT JOIN "OrgUnit" u ON u.id = g."orgUnitId"
       LEFT JOIN "OrgUnit" t ON t.kind = 'TOWN' AND u.path LIKE t.path || '%'
      WHERE d."broadcastId" = $1
      ORDER BY d.id`,
    b.id,
  );
  const totals = zero();
  const towns = new Map<string, ReportCounts & { townId: number | null; townName: string }>();
  const failed: BroadcastReport["failed"] = [];
  const waiting: BroadcastReport["waiting"] = [];
  for (const r of rows) {
    const townName = r.townName ?? "县直";
    const t = towns.get(String(r.townId)) ?? { ...zero(), townId: r.townId, townName };
    towns.set(String(r.townId), t);
    const isWaiting = r.status === "QUEUED" && (!r.online || r.errorClass === "offline");
    const k: keyof ReportCounts = isWaiting ? "waiting" : (r.status.toLowerCase() as keyof ReportCounts);
    for (const c of [totals, t]) {
      c.total++;
      c[k]++;
    }
    if (r.status === "FAILED") failed.push({ deliveryId: String(r.id), groupId: r.groupId, topic: r.topic, townName, errorClass: r.errorClass, error: r.error });
    if (isWaiting) waiting.push({ groupId: r.groupId, topic: r.topic, townName });
  }
  return {
    broadcast: { id: b.id, number: b.number, title: b.title, status: b.status, statusLabel: STATUS_LABEL[b.status], scheduledAt: b.scheduledAt, resolvedAt: b.resolvedAt, cancelledAt: b.cancelledAt, completedAt: b.completedAt },
    totals,
    perTown: [...towns.values()].sort((a, b2) => (a.townId ?? 0) - (b2.townId ?? 0)),
    failed,
    waiting,
  };
}

/** Broadcasts awaiting approval in the actor's county (for 待审广播 and the console). */
export function pendingBroadcasts(prisma: Tx, actor: Pick<BroadcastActor, "role" | "orgPath">) {
  return countyBroadcasts(prisma, actor, "PENDING_APPROVAL", "asc", 50);
}

/** The county's broadcasts in one status (newest first), or all of them when `status` is omitted; at most `limit`. */
export function listBroadcasts(prisma: Tx, actor: Pick<BroadcastActor, "role" | "orgPath">, status: BroadcastStatus | undefined, limit: number) {
  return countyBroadcasts(prisma, actor, status, "desc", limit);
}

async function countyBroadcasts(prisma: Tx, actor: Pick<BroadcastActor, "role" | "orgPath">, status: BroadcastStatus | undefined, order: "asc" | "desc", take: number) {
  if (actor.role !== "COUNTY_ADMIN" || !actor.orgPath) throw new AppError("COUNTY_ADMIN_REQUIRED", "只有县级管理员可以查看县级广播");
  return prisma.broadcast.findMany({
    where: { ...(status ? { status } : {}), drafter: { orgUnit: { path: { startsWith: actor.orgPath } } } },
    include: { drafter: { select: { id: true, displayName: true } } },
    orderBy: { id: order },
    take,
  });
}

export async function getBroadcast(prisma: Tx, actor: Pick<BroadcastActor, "role" | "orgPath">, ref: number | string) {
  if (actor.role !== "COUNTY_ADMIN") throw new AppError("COUNTY_ADMIN_REQUIRED", "只有县级管理员可以查看县级广播");
  const b = await findBroadcast(prisma, ref);
  requireSameCounty(actor as BroadcastActor, b.drafter.orgUnit.path);
  const approvals = await prisma.broadcastApproval.findMany({ where: { broadcastId: b.id }, include: { approver: { select: { id: true, displayName: true } } }, orderBy: { id: "asc" } });
  return { ...b, approvals };
}
