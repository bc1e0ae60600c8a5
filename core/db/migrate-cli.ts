// `npm run db:migrate`: applies the committed migrations to DATABASE_URL, or to the embedded PGlite data dir.
import { loadConfig, ConfigError } from "../config.ts";
import { createLogger } from "../log.ts";
import { openDatabase } from "./index.ts";
import { readMigrations } from "./migrate.ts";

const log = createLogger();
try {
  const config = loadConfig();
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, retries: config.DB_CONNECT_RETRIES, logger: log });
  await db.connect({ migrate: true });
  console.log(`数据库（${db.kind === "postgres" ? "PostgreSQL" : `PGlite ${config.PGLITE_DIR}`}）已是最新：共 ${readMigrations().length} 个迁移`);
  await db.close();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : `迁移失败：${(e as Error).message}`);
  process.exit(1);
}
