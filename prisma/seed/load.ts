// Loads a generated county (county.ts) into an empty database, in one transaction, then moves the id sequences
// past the explicit ids. Works on PostgreSQL and PGlite.
//
// Rows go in as one `INSERT … SELECT FROM unnest($1::int[], $2::text[], …)` per batch: one statement with one
// array parameter per column. Prisma 6.19's createMany costs ~0.7 ms of client CPU per row (its query compiler
// expands every value into a template fragment), so 75,000 rows took ~27 s; unnest is bounded by the database
// (~40 µs per row with its indexes and foreign keys) and has no bind-parameter limit. bench/seed.bench.ts keeps the
// createMany figure for comparison.
import { hash } from "@node-rs/argon2";
import type { Prisma, PrismaClient } from "../../core/db/index.ts";
import {
  generateCounty,
  type BotAccountRow,
  type CadreUserSeed,
  type ChatGroupRow,
  type ChatIdentityRow,
  type CountyData,
  type GenerateOptions,
  type GroupAccountRow,
  type GroupMembershipRow,
  type MemberRow,
  type OrgUnitRow,
} from "./county.ts";
import type { AttendanceRow, ComplaintEventRow, ComplaintRow, DailyCounterRow, MeetingRow } from "./history.ts";

/** Insert steps, in dependency order. */
export const SEED_STEPS = [
  "orgUnits",
  "botAccounts",
  "chatGroups",
  "groupAccounts",
  "members",
  "chatIdentities",
  "groupMemberships",
  "cadreUsers",
  "meetings",
  "attendances",
  "complaints",
  "complaintEvents",
  "dailyCounters",
] as const;
export type SeedStep = (typeof SEED_STEPS)[number];

export const SEED_STEP_LABELS: Record<SeedStep, string> = {
  orgUnits: "组织",
  botAccounts: "机器人账号",
  chatGroups: "群",
  groupAccounts: "群-账号关联",
  members: "成员",
  chatIdentities: "微信身份",
  groupMemberships: "群成员",
  cadreUsers: "干部账号",
  meetings: "会议",
  attendances: "签到记录",
  complaints: "民情诉求",
  complaintEvents: "诉求办理记录",
  dailyCounters: "诉求编号",
};

export type SeedCounts = Record<SeedStep, number>;

export interface LoadOptions {
  /** Called after every batch; `done === total` once per step (also for empty steps). */
  onProgress?(step: SeedStep, done: number, total: number): void;
  /** Rows per INSERT. Default 5000: large enough that round-trips stop mattering, small enough that progress moves. */
  batchSize?: number;
}

export class SeedError extends Error {}

export type CadreUserRow = Omit<CadreUserSeed, "password"> & { passwordHash: string };

/** The row type of each step, as inserted. */
export interface SeedRows {
  orgUnits: OrgUnitRow;
  botAccounts: BotAccountRow;
  chatGroups: ChatGroupRow;
  groupAccounts: GroupAccountRow;
  members: MemberRow;
  chatIdentities: ChatIdentityRow;
  groupMemberships: GroupMembershipRow;
  cadreUsers: CadreUserRow;
  meetings: MeetingRow;
  attendances: AttendanceRow;
  complaints: ComplaintRow;
  complaintEvents: ComplaintEventRow;
  dailyCounters: DailyCounterRow;
}

type SqlType = "int" | "text" | "bool" | "date" | "timestamp" | "jsonb" | `"${string}"`;
interface TableSpec<R> {
  table: string;
  /** @updatedAt has no database default: Prisma fills it on create, so the raw insert must too. */
  updatedAt: boolean;
  /** Every field of the row, in insert order; keys are the column names. */
  columns: { [K in keyof R]-?: SqlType };
}

const TABLES: { [S in SeedStep]: TableSpec<SeedRows[S]> } = {
  orgUnits: {
    table: "OrgUnit",
    updatedAt: true,
    columns: { id: "int", code: "text", name: "text", kind: '"OrgKind"', parentId: "int", path: "text", depth: "int", themeDayOfMonth: "int" },
  },
  botAccounts: {
    table: "BotAccount",
    updatedAt: true,
    columns: { id: "int", name: "text", channel: '"Channel"', displayName: "text", status: '"AccountStatus"' },
  },
  chatGroups: {
    table: "ChatGroup",
    updatedAt: true,
    columns: {
      id: "int", channel: '"Channel"', platformGroupId: "text", topic: "text", kind: '"GroupKind"', orgUnitId: "int",
      boundAt: "timestamp", memberCount: "int",
    },
  },
  groupAccounts: { table: "GroupAccount", updatedAt: false, columns: { groupId: "int", accountId: "int" } },
  members: {
    table: "Member",
    updatedAt: true,
    columns: {
      id: "int", name: "text", gender: '"Gender"', branchId: "int", partyGroupId: "int", phone: "text", birthYear: "int",
      joinedPartyOn: "date", status: '"MemberStatus"', isSecretary: "bool", isCommittee: "bool", isGroupLeader: "bool",
    },
  },
  chatIdentities: {
    table: "ChatIdentity",
    updatedAt: false,
    columns: {
      id: "int", channel: '"Channel"', scope: "text", platformUserId: "text", displayName: "text", memberId: "int",
      linkedAt: "timestamp",
    },
  },
  groupMemberships: { table: "GroupMembership", updatedAt: false, columns: { groupId: "int", identityId: "int" } },
  cadreUsers: {
    table: "CadreUser",
    updatedAt: true,
    columns: {
      id: "int", username: "text", passwordHash: "text", displayName: "text", role: '"CadreRole"', orgUnitId: "int",
      memberId: "int",
    },
  },
  meetings: {
    table: "Meeting",
    updatedAt: false,
    columns: {
      id: "int", orgUnitId: "int", type: '"MeetingType"', topic: "text", place: "text", plannedAt: "timestamp", durationMinutes: "int",
      heldAt: "timestamp", checkinOpensAt: "timestamp", checkinClosesAt: "timestamp", status: '"MeetingStatus"', minutes: "text",
      createdById: "int", finalizedAt: "timestamp", createdAt: "timestamp", updatedAt: "timestamp",
    },
  },
  attendances: {
    table: "Attendance",
    updatedAt: false,
    columns: {
      meetingId: "int", memberId: "int", identityId: "int", status: '"AttendanceStatus"', source: '"AttendanceSource"', note: "text",
      leaveDecision: '"LeaveDecision"', decidedById: "int", decidedAt: "timestamp", groupId: "int", ackedAt: "timestamp",
      recordedAt: "timestamp", updatedAt: "timestamp",
    },
  },
  complaints: {
    table: "Complaint",
    updatedAt: false,
    columns: {
      id: "int", number: "text", orgUnitId: "int", filerIdentityId: "int", filerMemberId: "int", filerName: "text", filerPhone: "text",
      channel: '"Channel"', content: "text", category: "text", location: "text", anonymous: "bool", urgent: "bool",
      status: '"ComplaintStatus"', ownerId: "int", ownerMemberId: "int", responseDueAt: "timestamp", resolveDueAt: "timestamp",
      claimedAt: "timestamp", resolvedAt: "timestamp", resolution: "text", rating: '"ComplaintRating"', ratingComment: "text",
      ratedAt: "timestamp", reopenCount: "int", escalationLevel: "int", extensionDays: "int", remindedDueAt: "timestamp",
      createdAt: "timestamp", updatedAt: "timestamp",
    },
  },
  complaintEvents: {
    table: "ComplaintEvent",
    updatedAt: false,
    columns: {
      complaintId: "int", kind: '"ComplaintEventKind"', actorId: "int", actorMemberId: "int", actorIdentityId: "int", channel: "text",
      fromUnitId: "int", toUnitId: "int", note: "text", data: "jsonb", createdAt: "timestamp",
    },
  },
  dailyCounters: { table: "DailyCounter", updatedAt: false, columns: { scope: "text", day: "text", value: "int" } },
};

// Serialises concurrent seeders (api and jobs starting together on an empty database); arbitrary but fixed.
const SEED_LOCK_KEY = 724_001_118;
// Tables whose ids the generator assigns; their sequences must continue after the largest one.
const SEQUENCED_TABLES = ["OrgUnit", "Member", "BotAccount", "ChatGroup", "ChatIdentity", "CadreUser", "Meeting", "Attendance", "Complaint", "ComplaintEvent"] as const;

type RawRunner = Pick<Prisma.TransactionClient, "$executeRawUnsafe">;

/** Hashes each distinct password once: argon2 costs tens of milliseconds, and 270 users share three passwords. */
export async function hashPasswords(passwords: Iterable<string>): Promise<Map<string, string>> {
  const distinct = [...new Set(passwords)];
  const hashes = await Promise.all(distinct.map((p) => hash(p)));
  return new Map(distinct.map((p, i) => [p, hashes[i]]));
}

/** The generated logins with their passwords hashed, as inserted. */
export async function cadreUserRows(users: CadreUserSeed[]): Promise<CadreUserRow[]> {
  const hashes = await hashPasswords(users.map((u) => u.password));
  return users.map(({ password, ...u }) => ({ ...u, passwordHash: hashes.get(password)! }));
}

/** True when the county root exists: the database has been seeded (or set up by hand) and must not be seeded. */
export async function isSeeded(prisma: Pick<PrismaClient, "orgUnit">): Promise<boolean> {
  return (await prisma.orgUnit.findFirst({ where: { kind: "COUNTY" }, select: { id: true } })) !== null;
}

/**
 * What the database already holds that the seed's rows would clash with (organisation units, console logins, bot
 * accounts: a process that started on the empty database creates its bot account), in Chinese; null when empty.
 */
export async function existingData(prisma: Pick<PrismaClient, "orgUnit" | "cadreUser" | "botAccount">): Promise<string | null> {
  // One after the other: inside an interactive transaction the queries share one connection anyway.
  const units = await prisma.orgUnit.count();
  const users = await prisma.cadreUser.count();
  const accounts = await prisma.botAccount.findMany({ select: { name: true }, orderBy: { id: "asc" }, take: 3 });
  const parts = [
    units ? `${units} 个组织单位` : "",
    users ? `${users} 个干部账号` : "",
    accounts.length ? `机器人账号 ${accounts.map((a) => a.name).join("、")}（系统启动过后会自动创建）` : "",
  ].filter(Boolean);
  return parts.length ? parts.join("，") : null;
}

/** The refusal: the seed writes fixed ids and the demo logins, so it only ever goes into an empty database. */
export function notEmptyError(what: string): SeedError {
  return new SeedError(`数据库不是空的（已有${what}），拒绝导入模拟县数据：模拟数据只能导入一个从未使用过的空数据库，已有数据不会被改动。`);
}

/**
 * Inserts `data` into an empty database (the ids are the generator's, so any existing row in these tables can
 * collide). Throws SeedError when the database holds anything already; everything or nothing is written (one
 * transaction).
 */
export async function loadCounty(prisma: PrismaClient, data: CountyData, opts: LoadOptions = {}): Promise<SeedCounts> {
  const result = await load(prisma, data, opts);
  if ("refused" in result) throw notEmptyError(result.refused);
  return result.counts;
}

/**
 * Generates and loads the county unless the database has organisation units already (seeded before, also by
 * another process meanwhile): then returns false and writes nothing. Throws SeedError when there are no units but
 * other rows the seed would clash with (console logins, a bot account from an earlier start).
 */
export async function seedIfEmpty(prisma: PrismaClient, opts: GenerateOptions & LoadOptions = {}): Promise<boolean> {
  // Cheap check first: generating 25,000 members is wasted work on every start of a seeded database.
  if ((await prisma.orgUnit.count()) > 0) return false;
  const result = await load(prisma, generateCounty(opts), opts);
  if (!("refused" in result)) return true;
  if ((await prisma.orgUnit.count()) > 0) return false;
  throw notEmptyError(result.refused);
}

async function load(prisma: PrismaClient, data: CountyData, opts: LoadOptions): Promise<{ counts: SeedCounts } | { refused: string }> {
  const batchSize = opts.batchSize ?? 5000;
  // Hash before the transaction opens: no reason to hold a connection and the lock while the CPU works.
  const rows: { [S in SeedStep]: SeedRows[S][] } = { ...data, cadreUsers: await cadreUserRows(data.cadreUsers) };

  try {
    return await prisma.$transaction(
      async (tx) => {
        // Held until commit: a second seeder waits here, then sees the county and backs off.
        await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`);
        const existing = await existingData(tx);
        if (existing) return { refused: existing };
        await skipForeignKeyChecks(tx);
        const counts = {} as SeedCounts;
        const now = new Date();
        for (const step of SEED_STEPS) {
          const all: object[] = rows[step];
          // A big table is filled without its secondary indexes, which are then built once, sorted: maintaining six
          // indexes row by row was most of the cost of 250,000 attendance rows.
          const indexes = all.length >= BULK_INDEX_ROWS ? await dropSecondaryIndexes(tx, TABLES[step].table) : [];
          let done = 0;
          for (let i = 0; i < all.length; i += batchSize) {
            done += await insertRows(tx, TABLES[step], all.slice(i, i + batchSize), now);
            opts.onProgress?.(step, done, all.length);
          }
          for (const definition of indexes) await tx.$executeRawUnsafe(definition);
          if (!all.length) opts.onProgress?.(step, 0, 0);
          counts[step] = done;
        }
        await resetSequences(tx);
        // Fresh statistics: with none, the planner guessed the report queries (the 参会率 over 250,000 attendance
        // rows) into minutes instead of milliseconds until autovacuum got round to the tables.
        for (const step of SEED_STEPS) if (rows[step].length >= 1000) await tx.$executeRawUnsafe(`ANALYZE "${TABLES[step].table}"`);
        return { counts };
      },
      // 25,000 members take seconds on Postgres and longer on PGlite; the 5 s default would abort a slow machine.
      { timeout: 10 * 60_000, maxWait: 60_000 },
    );
  } catch (e) {
    // A process that does not take the seed's lock (a bot creating its account) wrote a clashing row meanwhile.
    if (isUniqueViolation(e)) return { refused: "其他进程在导入期间写入的数据" };
    throw e;
  }
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string; meta?: { code?: string } };
  return err?.code === "P2002" || err?.code === "23505" || err?.meta?.code === "23505" || /23505|duplicate key|unique constraint/i.test(err?.message ?? "");
}

/**
 * For this transaction only, when allowed (a superuser: always on embedded PGlite), the per-row foreign-key checks
 * are skipped: every id the generator writes points at a row it wrote before (test/seed.test.ts checks that the
 * loaded rows join up), the database is empty, and the checks were half the cost of the attendance rows. The schema
 * has no triggers of its own for this to skip. Without the right the load simply runs with the checks.
 */
async function skipForeignKeyChecks(tx: Pick<Prisma.TransactionClient, "$queryRawUnsafe" | "$executeRawUnsafe">): Promise<void> {
  const [{ superuser }] = await tx.$queryRawUnsafe<{ superuser: boolean }[]>(`SELECT current_setting('is_superuser') = 'on' AS superuser`);
  if (superuser) await tx.$executeRawUnsafe(`SET LOCAL session_replication_role = replica`);
}

/** Tables getting at least this many rows are loaded without their secondary indexes (rebuilt afterwards). */
const BULK_INDEX_ROWS = 20_000;

/**
 * Drops the table's indexes that back no constraint (Prisma's @@index and @@unique are plain indexes) and returns
 * their definitions to run again. Inside the seed's transaction, so a failure leaves them as they were; the table
 * is new and empty, nobody else reads it meanwhile (and would wait for the commit).
 */
async function dropSecondaryIndexes(tx: Pick<Prisma.TransactionClient, "$queryRawUnsafe" | "$executeRawUnsafe">, table: string): Promise<string[]> {
  const rows = await tx.$queryRawUnsafe<{ name: string; definition: string }[]>(
    `SELECT i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND i.tablename = $1
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`,
    table,
  );
  for (const r of rows) await tx.$executeRawUnsafe(`DROP INDEX "${r.name.replace(/"/g, '""')}"`);
  return rows.map((r) => r.definition);
}

/** One INSERT … SELECT FROM unnest(…) for `rows`; returns the number of rows inserted. */
async function insertRows<R>(db: RawRunner, spec: TableSpec<R>, rows: R[], now: Date): Promise<number> {
  if (!rows.length) return 0;
  const columns = Object.keys(spec.columns) as (keyof R & string)[];
  const params: unknown[] = [];
  const arrays = columns.map((c) => {
    const type: SqlType = spec.columns[c];
    params.push(rows.map((r) => encode(r[c], type)));
    // Everything but int travels as text[]: PGlite cannot serialise an array parameter of an enum (or other
    // non-builtin) type and sends "A,B" instead of "{A,B}"; the cast then happens in the server.
    const n = params.length;
    if (type === "int") return `$${n}::int[]`;
    if (type === "text") return `$${n}::text[]`;
    return `$${n}::text[]::${type === "timestamp" ? "timestamp(3)" : type}[]`;
  });
  const names = columns.map((c) => `"${c}"`);
  let select = "u.*";
  if (spec.updatedAt) {
    params.push(now.toISOString());
    names.push(`"updatedAt"`);
    select += `, $${params.length}::timestamp(3)`;
  }
  return db.$executeRawUnsafe(
    `INSERT INTO "${spec.table}" (${names.join(", ")}) SELECT ${select} FROM unnest(${arrays.join(", ")}) AS u`,
    ...params,
  );
}

function encode(value: unknown, type: SqlType): string | number | null {
  if (value === null || value === undefined) return null;
  // Prisma stores DateTime as UTC in `timestamp(3)`; casting "…Z" text to timestamp keeps the UTC wall time.
  if (value instanceof Date) return type === "date" ? value.toISOString().slice(0, 10) : value.toISOString();
  if (type === "jsonb") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return value as string | number;
}

/** Moves each id sequence past the explicit ids (or back to 1 for an empty table), in one statement. */
export async function resetSequences(db: RawRunner): Promise<void> {
  const calls = SEQUENCED_TABLES.map(
    (t) =>
      `setval(pg_get_serial_sequence('"${t}"', 'id'), COALESCE((SELECT max(id) FROM "${t}"), 1), (SELECT max(id) FROM "${t}") IS NOT NULL)`,
  );
  await db.$executeRawUnsafe(`SELECT ${calls.join(", ")}`);
}
