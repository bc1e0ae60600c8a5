// The embedded path (`npm run demo` with nothing configured): PGlite on disk and in-process coordination run the
// migrations, keep data across restarts, and serve a member's 帮助 end to end.
import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../core/config.ts";
import { openDatabase } from "../core/db/index.ts";
import { readMigrations } from "../core/db/migrate.ts";
import { startRuntime } from "../core/runtime.ts";
import { createLogger } from "../core/log.ts";
import { MockWechat } from "../bot/adapters/wechaty-mock.ts";

const dir = mkdtempSync(path.join(tmpdir(), "netbranch-pglite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("embedded mode", () => {
  test("a fresh PGlite data dir is created and migrated; a reopen applies nothing and keeps the data", async () => {
    const dataDir = path.join(dir, "nested", "pglite");
    let db = await openDatabase({ pgliteDir: dataDir, retries: 0 });
    try {
      expect(db.kind).toBe("pglite");
      await db.connect({ migrate: false });
      expect(await db.migrate()).toEqual(readMigrations().map((m) => m.name));
      await db.prisma.orgUnit.create({ data: { code: "C99", name: "测试县", kind: "COUNTY", path: "/1/", depth: 0 } });
    } finally {
      await db.close();
    }
    db = await openDatabase({ pgliteDir: dataDir, retries: 0 });
    try {
      expect(await db.migrate()).toEqual([]);
      expect(await db.prisma.orgUnit.findUnique({ where: { code: "C99" } })).toMatchObject({ name: "测试县" });
      // Unique violations surface as Prisma's P2002 on PGlite too (pglite-prisma-adapter >= 0.7).
      await expect(db.prisma.orgUnit.create({ data: { code: "C99", name: "重复", kind: "COUNTY", path: "/2/", depth: 0 } })).rejects.toMatchObject({ code: "P2002" });
    } finally {
      await db.close();
    }
  }, 60_000);

  test("the whole system in one process: API ready, jobs running, 帮助 answered in the mock group", async () => {
    const config = loadConfig({
      PGLITE_DIR: path.join(dir, "runtime"),
      API_PORT: "0",
      API_HOST: "127.0.0.1",
      SENDER_MIN_GAP_MS: "0",
      SENDER_JITTER_MS: "0",
      SENDER_POLL_MS: "200",
      JOBS_HEARTBEAT_CRON: "* * * * * *",
    });
    expect([config.dbMode, config.coordMode]).toEqual(["pglite", "memory"]);
    const wechat = new MockWechat();
    const runtime = await startRuntime({ roles: ["api", "bot", "jobs"], config, log: createLogger("silent"), bot: { puppet: wechat.puppet } });
    try {
      wechat.room("smoke@chatroom", "冒烟测试支部", [{ id: "wxid_a", name: "王五" }]);
      wechat.login();
      const ready = await fetch(`${runtime.api!.url}/readyz`);
      expect(ready.status).toBe(200);
      const reply = wechat.waitForBot("smoke@chatroom", (t) => t.includes("可用命令"));
      wechat.say("wxid_a", "帮助", "smoke@chatroom");
      await reply;
      const deadline = Date.now() + 5_000;
      while ((await runtime.ctx.db.prisma.jobRun.count({ where: { job: "heartbeat" } })) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await runtime.ctx.db.prisma.jobRun.count({ where: { job: "heartbeat", status: "DONE" } })).toBeGreaterThan(0);
    } finally {
      await runtime.stop();
    }
  }, 90_000);
});
