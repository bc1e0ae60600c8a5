import pg from "pg";
import { deleteKeysWithPrefix } from "../../core/redis.ts";

export default async function globalTeardown() {
  const base = process.env.NETBRANCH_TEST_DB_ADMIN_URL;
  const dbName = process.env.NETBRANCH_TEST_DB_NAME;
  if (base && dbName && !process.env.KEEP_TEST_DB) {
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    // The run's template and every per-file copy made from it (test/support/db.ts).
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2", [dbName, `${dbName}\\_%`]);
    for (const r of rows) await admin.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
    await admin.end();
  }
  const prefix = process.env.NETBRANCH_TEST_REDIS_PREFIX;
  if (prefix) await deleteKeysWithPrefix(process.env.NETBRANCH_TEST_REDIS_URL!, prefix);
}
