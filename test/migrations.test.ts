// The schema and the committed migrations must never drift, and the migration runner must agree with Prisma's.
import { describe, expect, test } from "@jest/globals";
import { readMigrations } from "../core/db/migrate.ts";
import { createTestDatabase } from "./support/db.ts";
import { runCommand } from "./support/run.ts";

const prismaEnv = () => ({ ...process.env, NODE_OPTIONS: "", DATABASE_URL: process.env.NETBRANCH_TEST_DB_ADMIN_URL! });

describe("migrations", () => {
  test("prisma/schema.prisma and prisma/migrations describe the same database", async () => {
    const res = await runCommand(
      "npx",
      ["prisma", "migrate", "diff", "--from-migrations", "prisma/migrations", "--to-schema-datamodel", "prisma/schema.prisma", "--exit-code"],
      { env: prismaEnv() },
    );
    // Exit code 2 means a difference: someone edited schema.prisma without `npm run db:new -- <name>`.
    expect({ code: res.code, out: res.stdout }).toEqual({ code: 0, out: expect.stringContaining("No difference detected") });
  }, 60_000);

  test("a database migrated by our runner is up to date for the Prisma CLI", async () => {
    const db = await createTestDatabase();
    try {
      const res = await runCommand("npx", ["prisma", "migrate", "status"], { env: { ...prismaEnv(), DATABASE_URL: db.url } });
      expect(res.stdout).toContain("Database schema is up to date");
    } finally {
      await db.close();
    }
  }, 60_000);

  test("re-running is a no-op, and an edited applied migration is refused", async () => {
    const db = await createTestDatabase();
    try {
      expect(await db.migrate()).toEqual([]);
      const [first] = readMigrations();
      await db.sql.query(`UPDATE "_prisma_migrations" SET checksum = 'tampered' WHERE migration_name = $1`, [first.name]);
      await expect(db.migrate()).rejects.toThrow(/校验和不一致/);
    } finally {
      await db.close();
    }
  });
});
