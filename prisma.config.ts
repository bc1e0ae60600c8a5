// Prisma 6.19.x CLI with the Wasm schema engine: no native engine download (offline and air-gapped servers).
// Used only by the CLI (generate / migrate diff / status); the app builds its own PrismaClient + adapter
// (core/db/index.ts) and applies migrations with its own runner (core/db/migrate.ts).
// Every workaround for the offline engine lives here; each names the failure it prevents (see shared notes).
import path from "node:path";
import pg from "pg";
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

// The schema's env("DATABASE_URL") must resolve, otherwise `prisma generate` falls back to downloading the
// native query engine (offline => ENOTFOUND binaries.prisma.sh).
process.env.DATABASE_URL ??= "postgresql://postgres@127.0.0.1:5432/postgres";

// Fix 1: adapter-pg cannot deserialize Postgres' internal "char" type (oid 18) returned by the schema engine's
// introspection (relkind, contype): `migrate diff --from-migrations` fails with "Column type 'char' could not be
// deserialized". Report it as text (oid 25).
const charAsText = (r: any) => {
  for (const f of r?.fields ?? []) if (f.dataTypeID === 18) f.dataTypeID = 25;
  return r;
};
const origQuery = pg.Client.prototype.query as (...a: any[]) => any;
(pg.Client.prototype as any).query = function (...args: any[]) {
  const last = args[args.length - 1];
  if (typeof last === "function") {
    args[args.length - 1] = (err: unknown, res: unknown) => last(err, err ? res : charAsText(res));
    return origQuery.apply(this, args);
  }
  const res = origQuery.apply(this, args);
  return res && typeof res.then === "function" ? res.then(charAsText) : res;
};

// Fix 2: the adapter's executeScript() splits migration.sql on ";", which breaks dollar-quoted bodies
// ("unterminated dollar-quoted string", then P3009). Send the script whole (simple-query protocol).
function wholeScript<T extends object>(adapter: T): T {
  (adapter as any).executeScript = async function (script: string) {
    try {
      await this.client.query(script);
    } catch (e) {
      this.onError(e);
    }
  };
  return adapter;
}

// Fix 3 (speed): the Wasm schema engine arms a 10 s timer it never clears; unref timers armed from WebAssembly
// so the CLI exits when its work is done.
const realSetTimeout = globalThis.setTimeout;
(globalThis as any).setTimeout = function (this: unknown, ...args: any[]) {
  const t = (realSetTimeout as any).apply(this, args);
  if (new Error().stack?.includes("wasm://")) t?.unref?.();
  return t;
};

// Discrete fields, not connectionString: connectToShadowDb() spreads the config with another `database`, and a
// connectionString would override it, pointing the "shadow" DB at the real one (P3006 on the real DB).
function pgConfig(url: string): pg.PoolConfig {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.slice(1)),
    idleTimeoutMillis: 100, // otherwise every CLI command idles ~10 s before exiting
  };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    const factory = new PrismaPg(pgConfig(process.env.DATABASE_URL!));
    const connect = factory.connect.bind(factory);
    const connectToShadowDb = factory.connectToShadowDb.bind(factory);
    factory.connect = async () => wholeScript(await connect());
    factory.connectToShadowDb = async () => wholeScript(await connectToShadowDb());
    return factory;
  },
});
