// Each test file gets its own database, copied from the run's migrated template (CREATE DATABASE … TEMPLATE is a
// file copy: milliseconds), so files running in parallel never see each other's rows.
import pg from "pg";
import { randomBytes } from "node:crypto";
import { openDatabase, type Database } from "../../core/db/index.ts";

export interface TestDatabase extends Database {
  url: string;
  name: string;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = process.env.NETBRANCH_TEST_DB_ADMIN_URL;
  const template = process.env.NETBRANCH_TEST_DB_NAME;
  if (!admin || !template) throw new Error("test/support/global-setup.ts did not run");
  const name = `${template}_${randomBytes(4).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), pgliteDir: "memory://", retries: 0, poolSize: 20 });
  return { ...db, url: url.toString(), name };
}

/** A Redis key prefix unique to this test file within the run. */
export function testRedisPrefix(label: string): string {
  return `${process.env.NETBRANCH_TEST_REDIS_PREFIX ?? `nbtest:${Date.now()}:`}${label}:${randomBytes(3).toString("hex")}:`;
}

export const testRedisUrl = () => process.env.NETBRANCH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
