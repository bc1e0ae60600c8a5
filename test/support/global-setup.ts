// One database and one Redis key prefix per test run, so parallel runs (two developers, CI) never collide.
import pg from "pg";
import { randomBytes } from "node:crypto";
import { applyMigrations } from "../../core/db/migrate.ts";

export default async function globalSetup() {
  const base = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const dbName = `netbranch_test_${runId}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await applyMigrations({ query: (sql, params) => client.query(sql, params as any[]), exec: (sql) => client.query(sql) });
  await client.end();
  // Workers are forked after globalSetup and inherit these.
  process.env.NETBRANCH_TEST_RUN_ID = runId;
  process.env.NETBRANCH_TEST_DB_ADMIN_URL = base;
  process.env.NETBRANCH_TEST_DB_NAME = dbName;
  process.env.NETBRANCH_TEST_DATABASE_URL = url.toString();
  process.env.NETBRANCH_TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  process.env.NETBRANCH_TEST_REDIS_PREFIX = `nbtest:${runId}:`;
  process.env.LOG_LEVEL ??= "silent";
}
