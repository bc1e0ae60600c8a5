// County servers often run PostgreSQL with TimeZone = Asia/Shanghai. Prisma stores DateTime as UTC in `timestamp`
// columns while the outbox's raw SQL compares them with now(): unless our sessions are in UTC, a message put off
// for an hour would be due at once (and a lease would expire 8 hours late). What must not happen: a delivery
// claimed before its time.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { openDatabase, type Database } from "../core/db/index.ts";
import { claimDue, enqueue } from "../core/delivery/outbox.ts";
import { createTestDatabase, type TestDatabase } from "./support/db.ts";

let base: TestDatabase;
let db: Database;

beforeAll(async () => {
  base = await createTestDatabase();
  await base.sql.query(`ALTER DATABASE "${base.name}" SET timezone TO 'Asia/Shanghai'`);
  // New sessions pick up the database default; ours must override it.
  db = await openDatabase({ url: base.url, pgliteDir: "memory://", retries: 0, poolSize: 2 });
});

afterAll(async () => {
  await db?.close();
  await base?.close();
});

test("our sessions run in UTC even when the database default is Asia/Shanghai", async () => {
  const { rows } = await db.sql.query(`SELECT current_setting('TimeZone') AS tz`);
  expect((rows as { tz: string }[])[0].tz).toBe("UTC");
});

test("a delivery due in an hour is not claimed now; one due now is", async () => {
  const account = await db.prisma.botAccount.create({ data: { name: "wx-tz", channel: "WECHAT" } });
  const group = await db.prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "tz@chatroom" } });
  await enqueue(db.prisma, { channel: "WECHAT", accountId: account.id, groupId: group.id, body: "一小时后", idempotencyKey: "tz:later", notBefore: new Date(Date.now() + 3600_000) });
  await enqueue(db.prisma, { channel: "WECHAT", accountId: account.id, groupId: group.id, body: "现在", idempotencyKey: "tz:now" });
  const claimed = await claimDue(db.prisma, account.id, "wx-tz:test", 10);
  expect(claimed.map((d) => d.body)).toEqual(["现在"]);
});
