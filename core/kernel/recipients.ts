// Who is told about an org unit, and how a private or group message goes into the outbox. The one definition used by
// complaints, calendar reminders, the final tally of a meeting, meeting notices and broadcasts.
//
// The people of a unit: the active secretaries of its branch (the unit itself, or a party group's branch) and the
// active console logins attached to the unit with a cadre role (not MEMBER) that are linked to a roster member. Each
// is reached privately through one chat identity per platform: the most recently seen one we can still send from (a
// QQ number always; a WeChat contact id only through the bot account that saw it).
// Who is told: a town's, county's or city's cadre group (ChatGroup kind CADRE) when one is bound — then only the
// group; otherwise the unit's people. Branch groups are never told by this rule (villagers are in them). When nobody
// is reached, the caller's fallback applies: one level up (`parent`, the default), the unit's own groups with a note
// (`groups`, the calendar's reminders to a secretary who has not bound WeChat or QQ yet), or nobody (`none`).
//
// The rule is one SQL statement over many units at once (`unitReach`), so a sweep over 10,000 branches is a few
// statements; `tellUnit` is the same statement for one unit plus the fallback.
import type { Prisma, PrismaClient } from "../db/index.ts";
import { enqueue, PRIORITY } from "../delivery/outbox.ts";

type Db = Prisma.TransactionClient | PrismaClient;

/** The platforms the bot can speak on (the mini-program cannot be messaged). */
export const CHAT_CHANNELS = ["WECHAT", "QQ"] as const;
export type ChatChannel = (typeof CHAT_CHANNELS)[number];

/** Timestamps are stored as UTC without a zone. */
const DB_NOW = `(now() AT TIME ZONE 'UTC')`;

/** Unit kinds told through their cadre group when one is bound. */
const CADRE_GROUP_KINDS = new Set(["TOWN", "COUNTY", "CITY"]);

/** A private chat we can send to: the identity and, for WeChat, the account that knows it. */
export interface PrivateReach {
  id: number;
  channel: ChatChannel;
  accountId: number | null;
  memberId: number | null;
}
export interface GroupReach {
  id: number;
  channel: ChatChannel;
}

export interface UnitReach {
  unitId: number;
  kind: string;
  name: string;
  parentId: number | null;
  /** The unit's people (see the file comment), one identity per person and platform. */
  people: PrivateReach[];
  /** Bound active cadre groups of a town, county or city (empty for other kinds). */
  cadreGroups: GroupReach[];
  /** Every active chat group bound to the unit (the `groups` fallback). */
  groups: GroupReach[];
}

/** One outbox row to write: exactly one of groupId / identityId. */
export interface Send {
  channel: ChatChannel;
  accountId: number | null;
  groupId: number | null;
  identityId: number | null;
  body: string;
  idempotencyKey: string;
}

/**
 * The people rule as SQL: rows ("unitId", "memberId") for the units in `$1` (int[]). Secretaries count while on the
 * current roster (ACTIVE, PROBATIONARY).
 */
const UNIT_PEOPLE_SQL = `
  SELECT u.id AS "unitId", m.id AS "memberId"
    FROM "OrgUnit" u
    JOIN "Member" m ON m."branchId" = (CASE u.kind WHEN 'BRANCH' THEN u.id WHEN 'PARTY_GROUP' THEN u."parentId" END)
   WHERE u.id = ANY($1::int[]) AND m."isSecretary" AND m.status IN ('ACTIVE', 'PROBATIONARY')
  UNION
  SELECT c."orgUnitId", c."memberId" FROM "CadreUser" c
   WHERE c."orgUnitId" = ANY($1::int[]) AND c.active AND c.role <> 'MEMBER' AND c."memberId" IS NOT NULL`;

/** The reachability rule as SQL over a `people` relation ("unitId", "memberId"): one identity per person and platform. */
const REACH_SQL = `
  SELECT DISTINCT ON (p."unitId", i."memberId", i.channel) p."unitId", i.id, i.channel::text AS channel, a.id AS "accountId", i."memberId"
    FROM people p
    JOIN "ChatIdentity" i ON i."memberId" = p."memberId" AND i.channel IN ('WECHAT', 'QQ')
    LEFT JOIN "BotAccount" a ON i.channel = 'WECHAT' AND a.name = i.scope
   WHERE i.channel = 'QQ' OR a.id IS NOT NULL
   ORDER BY p."unitId", i."memberId", i.channel, i."lastSeenAt" DESC, i.id DESC`;

type Row = { tag: "u" | "i" | "g"; unitId: number; id: number | null; channel: ChatChannel | null; accountId: number | null; memberId: number | null; text: string | null; parentId: number | null };

/** Who can be reached about each unit, in one statement (units that do not exist are absent from the map). */
export async function unitReach(db: Db, unitIds: number[]): Promise<Map<number, UnitReach>> {
  const out = new Map<number, UnitReach>();
  if (unitIds.length === 0) return out;
  const rows = await db.$queryRawUnsafe<Row[]>(
    `WITH people AS (${UNIT_PEOPLE_SQL}),
     reach AS (${REACH_SQL})
     SELECT 'u' AS tag, u.id AS "unitId", NULL::int AS id, NULL::text AS channel, NULL::int AS "accountId", NULL::int AS "memberId", u.kind::text || ':' || u.name AS text, u."parentId"
       FROM "OrgUnit" u WHERE u.id = ANY($1::int[])
     UNION ALL
     SELECT 'i', r."unitId", r.id, r.channel, r."accountId", r."memberId", NULL, NULL FROM reach r
     UNION ALL
     SELECT 'g', g."orgUnitId", g.id, g.channel::text, NULL, NULL, g.kind::text, NULL FROM "ChatGroup" g
      WHERE g."orgUnitId" = ANY($1::int[]) AND g.active AND g.channel IN ('WECHAT', 'QQ')
     ORDER BY 1 DESC, 2, 3`,
    [...new Set(unitIds)],
  );
  // 'u' rows sort first (ORDER BY tag DESC), so every unit exists before its people and groups.
  for (const r of rows) {
    if (r.tag === "u") {
      const sep = r.text!.indexOf(":");
      out.set(r.unitId, { unitId: r.unitId, kind: r.text!.slice(0, sep), name: r.text!.slice(sep + 1), parentId: r.parentId, people: [], cadreGroups: [], groups: [] });
      continue;
    }
    const unit = out.get(r.unitId)!;
    if (r.tag === "i") unit.people.push({ id: r.id!, channel: r.channel!, accountId: r.accountId, memberId: r.memberId });
    else {
      const g = { id: r.id!, channel: r.channel! };
      unit.groups.push(g);
      if (r.text === "CADRE" && CADRE_GROUP_KINDS.has(unit.kind)) unit.cadreGroups.push(g);
    }
  }
  return out;
}

/** The same reachability rule for given members (a ticket's owner or filer, a meeting's publisher). */
export async function memberReach(db: Db, memberIds: number[]): Promise<PrivateReach[]> {
  const ids = [...new Set(memberIds)];
  if (ids.length === 0) return [];
  const rows = await db.$queryRawUnsafe<PrivateReach[]>(
    `WITH people AS (SELECT 0 AS "unitId", x AS "memberId" FROM unnest($1::int[]) AS x),
     reach AS (${REACH_SQL})
     SELECT id, channel, "accountId", "memberId" FROM reach ORDER BY "memberId", channel`,
    ids,
  );
  // Keep the callers' order of members (a ticket's filer first, say), then platform.
  return rows.sort((a, b) => ids.indexOf(a.memberId!) - ids.indexOf(b.memberId!));
}

/** An identity as given (one not linked to a member): reachable when it is QQ, or WeChat through a known account. */
async function identityReach(db: Db, identityIds: number[]): Promise<PrivateReach[]> {
  if (identityIds.length === 0) return [];
  return db.$queryRawUnsafe<PrivateReach[]>(
    `SELECT i.id, i.channel::text AS channel, a.id AS "accountId", i."memberId"
       FROM "ChatIdentity" i LEFT JOIN "BotAccount" a ON i.channel = 'WECHAT' AND a.name = i.scope
      WHERE i.id = ANY($1::int[]) AND (i.channel = 'QQ' OR a.id IS NOT NULL) ORDER BY i.id`,
    identityIds,
  );
}

export const privateSend = (p: Pick<PrivateReach, "id" | "channel" | "accountId">, body: string, key: string): Send => ({
  channel: p.channel,
  accountId: p.accountId,
  groupId: null,
  identityId: p.id,
  body,
  idempotencyKey: `${key}:i${p.id}`,
});
export const groupSend = (g: GroupReach, body: string, key: string): Send => ({ channel: g.channel, accountId: null, groupId: g.id, identityId: null, body, idempotencyKey: `${key}:g${g.id}` });

export type Fallback = { to: "parent" } | { to: "groups"; note: string } | { to: "none" };

/**
 * What is written for one unit, without going up a level: its cadre group, else its people; and `also`, people the
 * caller adds (a meeting's publisher), each person and platform once. When that is nobody and the fallback is
 * `groups`, the unit's groups with the note appended. An empty list means nobody here.
 */
export function unitSends(r: UnitReach, body: string, key: string, fallback: Fallback, also: PrivateReach[] = []): Send[] {
  const seen = new Set<string>();
  const people = [...(r.cadreGroups.length ? [] : r.people), ...also].filter((p) => {
    const k = `${p.memberId ?? `i${p.id}`}:${p.channel}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const sends = [...r.cadreGroups.map((g) => groupSend(g, body, key)), ...people.map((p) => privateSend(p, body, key))];
  if (sends.length === 0 && fallback.to === "groups") return r.groups.map((g) => groupSend(g, `${body}\n${fallback.note}`, key));
  return sends;
}

const upBody = (unitName: string, body: string) => `（「${unitName}」暂无可联系的负责人，转告上级）\n${body}`;

export interface TellUnitOptions {
  /** When nobody is reached (default: one level up). */
  fallback?: Fallback;
  /** People told with the unit's own (a meeting's publisher): members, and identities not linked to a member. */
  alsoMembers?: number[];
  alsoIdentities?: number[];
  priority?: number;
}

/** The deliveries `tellUnit` would write (going up levels while nobody is reached and the fallback is `parent`). */
export async function planUnit(db: Db, unitId: number, body: string, key: string, opts: TellUnitOptions = {}): Promise<Send[]> {
  const fallback = opts.fallback ?? { to: "parent" };
  // An identity linked to a member stands for that member (their most recent reachable chat per platform).
  const linked = opts.alsoIdentities?.length ? await db.chatIdentity.findMany({ where: { id: { in: opts.alsoIdentities } }, select: { id: true, memberId: true } }) : [];
  const also = [
    ...(await memberReach(db, [...(opts.alsoMembers ?? []), ...linked.flatMap((i) => (i.memberId == null ? [] : [i.memberId]))])),
    ...(await identityReach(db, linked.filter((i) => i.memberId == null).map((i) => i.id))),
  ];
  let first: UnitReach | undefined;
  for (let id: number | null = unitId, k = key, extra = also; id != null; k = `${k}:up`, extra = []) {
    const r = (await unitReach(db, [id])).get(id);
    if (!r) return [];
    first ??= r;
    const sends = unitSends(r, r === first ? body : upBody(first.name, body), k, r === first ? fallback : { to: "parent" }, extra);
    if (sends.length || fallback.to !== "parent") return sends;
    id = r.parentId;
  }
  return [];
}

/** Tells a unit (see the file comment) through the outbox; returns how many chats are written to (or were before). */
export async function tellUnit(tx: Db, unitId: number, body: string, key: string, opts: TellUnitOptions = {}): Promise<number> {
  const sends = await planUnit(tx, unitId, body, key, opts);
  for (const s of sends) await enqueueSend(tx, s, opts.priority ?? PRIORITY.notice);
  return sends.length;
}

/** Private messages to members (one chat per person and platform); returns how many chats can be reached. */
export async function tellMembers(tx: Db, memberIds: number[], body: string, key: string, priority: number = PRIORITY.notice): Promise<number> {
  const reach = await memberReach(tx, memberIds);
  for (const p of reach) await enqueueSend(tx, privateSend(p, body, key), priority);
  return reach.length;
}

/** Every active chat group bound to the unit (a meeting's notice, changes and reminders); returns how many groups. */
export async function tellGroups(tx: Db, unitId: number, body: string, key: string, priority: number = PRIORITY.notice): Promise<number> {
  const groups = (await unitReach(tx, [unitId])).get(unitId)?.groups ?? [];
  for (const g of groups) await enqueueSend(tx, groupSend(g, body, key), priority);
  return groups.length;
}

// ───────────────────────────── enqueueing ─────────────────────────────

function enqueueSend(tx: Db, s: Send, priority: number) {
  return enqueue(tx, { channel: s.channel, accountId: s.accountId, groupId: s.groupId, identityId: s.identityId, body: s.body, priority, idempotencyKey: s.idempotencyKey });
}

/**
 * A private message to one identity, under `key` as given. A WeChat contact id only means something to the account
 * that saw it: that account is chosen (false when it is unknown); QQ goes through any QQ account with budget.
 */
export async function enqueuePrivate(tx: Db, identity: { id: number; channel: string; scope: string }, body: string, key: string, priority: number = PRIORITY.notice): Promise<boolean> {
  if (!(CHAT_CHANNELS as readonly string[]).includes(identity.channel)) return false;
  let accountId: number | null = null;
  if (identity.channel === "WECHAT") {
    const account = await tx.botAccount.findUnique({ where: { name: identity.scope }, select: { id: true } });
    if (!account) return false;
    accountId = account.id;
  }
  return enqueue(tx, { channel: identity.channel as ChatChannel, accountId, identityId: identity.id, body, priority, idempotencyKey: key });
}

/** A private message to a member's most recently seen reachable chat (a complaint's filer); false when none. */
export async function enqueueToMember(tx: Db, memberId: number, body: string, key: string, priority: number = PRIORITY.notice): Promise<boolean> {
  const [p] = await memberReach(tx, [memberId]);
  if (!p) return false;
  await enqueueSend(tx, { ...privateSend(p, body, key), idempotencyKey: key }, priority);
  return true;
}

export interface BulkSend extends Send {
  priority: number;
  /** Mentions, attachments: the payload column as given. */
  payload?: unknown;
  notBefore?: Date;
  broadcastId?: number | null;
}

/**
 * Many outbox rows in one statement (a reminder sweep, a county broadcast), each once per idempotency key; the
 * accounts are as given (null: any account that reaches the group and has budget); due at `notBefore`, else now by
 * the database's clock (a job run with a test clock must not schedule into its future). Returns the rows written now.
 */
export async function enqueueMany(tx: Db, sends: BulkSend[]): Promise<number> {
  if (sends.length === 0) return 0;
  const col = <T>(f: (s: BulkSend) => T) => sends.map(f);
  // Everything but int travels as text[] (PGlite cannot send arrays of enums, timestamps or json); the server casts.
  return tx.$executeRawUnsafe(
    `INSERT INTO "Delivery" (channel, "accountId", "groupId", "identityId", body, payload, priority, "idempotencyKey", "nextAttemptAt", "broadcastId", "updatedAt")
     SELECT c::"Channel", a, g, i, b, p::jsonb, pr, k, COALESCE(na::timestamp(3), ${DB_NOW}), bc, ${DB_NOW}
       FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::int[])
            WITH ORDINALITY AS x(c, a, g, i, b, p, pr, k, na, bc, ord)
      ORDER BY ord
     ON CONFLICT ("idempotencyKey") DO NOTHING`,
    col((s) => s.channel),
    col((s) => s.accountId),
    col((s) => s.groupId),
    col((s) => s.identityId),
    col((s) => s.body),
    col((s) => (s.payload == null ? null : JSON.stringify(s.payload))),
    col((s) => s.priority),
    col((s) => s.idempotencyKey),
    col((s) => s.notBefore?.toISOString() ?? null),
    col((s) => s.broadcastId ?? null),
  );
}
