// Applies prisma/migrations/*/migration.sql in name order, on PostgreSQL (pg) or PGlite, and records them in
// `_prisma_migrations` exactly as `prisma migrate deploy` does (same DDL, checksum = sha256 of the file), so the
// Prisma CLI's `migrate status` agrees with us. We run our own because the CLI's Wasm engine cannot open PGlite
// in-process, and a server needs no Prisma CLI at start-up.
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface SqlRunner {
  /** Parameterised single statement. */
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
  /** Multi-statement script (simple-query protocol). */
  exec(sql: string): Promise<unknown>;
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");
// Arbitrary constant: every netbranch process agrees on it, so concurrent starts migrate one at a time.
const ADVISORY_LOCK_KEY = 724_001_117;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export class MigrationError extends Error {}

/** Returns the names of the migrations applied by this call. */
export async function applyMigrations(db: SqlRunner, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = readMigrations(dir);
  await db.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
  try {
    await db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const { rows } = await db.query(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const done = new Map<string, { checksum: string; finished: boolean }>(
      rows.map((r: any) => [r.migration_name, { checksum: r.checksum, finished: r.finished_at != null }]),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      const prior = done.get(m.name);
      if (prior && !prior.finished) {
        throw new MigrationError(`迁移 ${m.name} 上次执行失败，需要人工处理后再启动（见 _prisma_migrations 表）`);
      }
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new MigrationError(`迁移 ${m.name} 在执行后被修改过（校验和不一致）；已提交的迁移不能再改，请新建迁移`);
        }
        continue;
      }
      // The script and its bookkeeping row commit together: a failed migration leaves no trace to clean up.
      await db.exec("BEGIN");
      try {
        await db.exec(m.sql);
        await db.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), m.checksum, m.name],
        );
        await db.exec("COMMIT");
      } catch (e) {
        await db.exec("ROLLBACK").catch(() => undefined);
        throw new MigrationError(`迁移 ${m.name} 执行失败：${(e as Error).message}`);
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    await db.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]).catch(() => undefined);
  }
}
