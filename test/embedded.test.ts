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
import { seedIfEmpty } from "../prisma/seed/load.ts";

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

  test("the demo's county: every seeded group is in the simulated WeChat, so the login sync loses none and each is reachable", async () => {
    const config = loadConfig({ PGLITE_DIR: path.join(dir, "county"), API_PORT: "0", API_HOST: "127.0.0.1", SENDER_POLL_MS: "200" });
    const wechat = new MockWechat();
    const runtime = await startRuntime({
      roles: ["api", "bot", "jobs"],
      config,
      log: createLogger("silent"),
      bot: { puppet: wechat.puppet },
      beforeRoles: async (ctx) => void (await seedIfEmpty(ctx.db.prisma, { members: 600, accountName: config.BOT_ACCOUNT, history: true })),
    });
    try {
      const { prisma } = runtime.ctx.db;
      const groups = await prisma.chatGroup.findMany({
        include: { memberships: { where: { leftAt: null }, include: { identity: true } } },
        orderBy: { id: "asc" },
      });
      expect(groups.length).toBeGreaterThan(250);
      const t0 = Date.now();
      wechat.rooms(groups.map((g) => ({ id: g.platformGroupId, topic: g.topic, members: g.memberships.map((m) => ({ id: m.identity.platformUserId, name: m.identity.displayName })) })));
      expect(Date.now() - t0).toBeLessThan(5_000);
      wechat.login();
      // The sync after login touches every group it finds (GroupAccount.lastSeenAt); wait until all were seen.
      const deadline = Date.now() + 60_000;
      const since = new Date(t0);
      while ((await prisma.groupAccount.count({ where: { lastSeenAt: { gte: since } } })) < groups.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(await prisma.groupAccount.count({ where: { lastSeenAt: { gte: since } } })).toBe(groups.length);
      expect(await prisma.chatGroup.count({ where: { OR: [{ lostAt: { not: null } }, { active: false }] } })).toBe(0);
      expect((await runtime.bot!.adapter.groups()).length).toBe(groups.length);
      // A town's cadre group and the last branch group answer a send, as a county broadcast's deliveries would.
      for (const g of [groups.find((x) => x.kind === "CADRE" && x.orgUnitId !== 1)!, groups[groups.length - 1]]) {
        const got = wechat.waitForBot(g.platformGroupId, (t) => t === "通知测试");
        await runtime.bot!.adapter.send({ kind: "group", groupId: g.platformGroupId }, "通知测试");
        await got;
      }
    } finally {
      await runtime.stop();
    }
  }, 180_000);
});
