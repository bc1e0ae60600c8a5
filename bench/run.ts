// `npm run bench [-- <name filter>…]`: runs bench/*.bench.ts in name order against real PostgreSQL
// (BENCH_DATABASE_URL, default postgres@127.0.0.1:5432) and prints a table. Exits 1 when any benchmark throws.
// BENCH_REPEAT overrides the number of runs per side (default 3).
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BenchHarness, DEFAULT_ADMIN_URL, formatResult } from "./harness.ts";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".bench.ts") && (!filters.length || filters.some((x) => f.includes(x))))
    .sort();
  if (!files.length) {
    console.error(filters.length ? `没有匹配 ${filters.join(" ")} 的基准测试` : "bench/ 下没有 *.bench.ts");
    return 1;
  }
  const repeat = process.env.BENCH_REPEAT ? Number(process.env.BENCH_REPEAT) : undefined;
  if (repeat !== undefined && !(Number.isInteger(repeat) && repeat > 0)) {
    console.error(`BENCH_REPEAT 必须是正整数（当前值："${process.env.BENCH_REPEAT}"）`);
    return 2;
  }
  const adminUrl = process.env.BENCH_DATABASE_URL || DEFAULT_ADMIN_URL;
  const h = new BenchHarness({ adminUrl, repeat });

  // Ctrl+C must not leave bench_* databases behind.
  const interrupt = (signal: NodeJS.Signals) => {
    console.error(`\n收到 ${signal}，正在删除临时数据库…`);
    // Bounded: a hung server must not turn Ctrl+C into a hang.
    setTimeout(() => process.exit(130), 15_000).unref();
    void h.cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  try {
    await h.checkServer();
  } catch (e) {
    console.error(`无法连接 PostgreSQL（${new URL(adminUrl).host}）：${(e as Error).message}`);
    return 1;
  }

  const failed: string[] = [];
  try {
    for (const file of files) {
      console.log(`▶ ${file}`);
      try {
        const mod = (await import(pathToFileURL(path.join(BENCH_DIR, file)).href)) as { default?: unknown };
        if (typeof mod.default !== "function") throw new Error("没有默认导出的函数 (h: BenchHarness) => Promise<void>");
        await (mod.default as (h: BenchHarness) => Promise<void>)(h);
      } catch (e) {
        failed.push(file);
        console.error(`✗ ${file} 失败：${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  } finally {
    await h.cleanup();
  }

  console.log("\n基准测试结果（中位数；比值 = 本实现 / 基线，越小越好）");
  for (const r of h.results) console.log(`  ${formatResult(r)}`);
  if (failed.length) console.log(`失败：${failed.join("、")}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
