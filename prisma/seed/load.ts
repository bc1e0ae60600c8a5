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
}

type SqlType = "int" | "text" | "bool" | "date" | "timestamp" | `"${string}"`;
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
};

// Serialises concurrent seeders (api and jobs starting together on an empty database); arbitrary but fixed.
const SEED_LOCK_KEY = 724_001_118;
// Tables whose ids the generator assigns; their sequences must continue after the largest one.
const SEQUENCED_TABLES = ["OrgUnit", "Member", "BotAccount", "ChatGroup", "ChatIdentity", "CadreUser"] as const;

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
 * Inserts `data` into an empty database (the ids are the generator's, so any existing row in these tables can
 * collide). Throws SeedError when a county already exists; everything or nothing is written (one transaction).
 */
export async function loadCounty(prisma: PrismaClient, data: CountyData, opts: LoadOptions = {}): Promise<SeedCounts> {
  const counts = await load(prisma, data, opts);
  if (!counts) throw new SeedError("数据库中已有县级组织，拒绝重复导入种子数据");
  return counts;
}

/**
 * Generates and loads the county unless one exists. Returns false (and writes nothing) when the database already
 * has a county, also when another process seeded it meanwhile.
 */
export async function seedIfEmpty(prisma: PrismaClient, opts: GenerateOptions & LoadOptions = {}): Promise<boolean> {
  // Cheap check first: generating 25,000 members is wasted work on every start of a seeded database.
  if (await isSeeded(prisma)) return false;
  return (await load(prisma, generateCounty(opts), opts)) !== null;
}

async function load(prisma: PrismaClient, data: CountyData, opts: LoadOptions): Promise<SeedCounts | null> {
  const batchSize = opts.batchSize ?? 5000;
  // Hash before the transaction opens: no reason to hold a connection and the lock while the CPU works.
  const rows: { [S in SeedStep]: SeedRows[S][] } = { ...data, cadreUsers: await cadreUserRows(data.cadreUsers) };

  return prisma.$transaction(
    async (tx) => {
      // Held until commit: a second seeder waits here, then sees the county and backs off.
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`);
      if (await isSeeded(tx)) return null;
      const counts = {} as SeedCounts;
      const now = new Date();
      for (const step of SEED_STEPS) {
        const all: object[] = rows[step];
        let done = 0;
        for (let i = 0; i < all.length; i += batchSize) {
          done += await insertRows(tx, TABLES[step], all.slice(i, i + batchSize), now);
          opts.onProgress?.(step, done, all.length);
        }
        if (!all.length) opts.onProgress?.(step, 0, 0);
        counts[step] = done;
      }
      await resetSequences(tx);
      return counts;
    },
    // 25,000 members take seconds on Postgres and longer on PGlite; the 5 s default would abort a slow machine.
    { timeout: 10 * 60_000, maxWait: 60_000 },
  );
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
