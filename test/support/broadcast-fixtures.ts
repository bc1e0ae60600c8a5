// What the broadcast tests share: county admins as actors, bot accounts with budgets, bound rooms, bots logged in.
import { expect } from "@jest/globals";
import { startBot, type BotHandle } from "../../bot/index.ts";
import type { MockWechat } from "../../bot/adapters/wechaty-mock.ts";
import type { BroadcastActor } from "../../core/broadcasts/broadcasts.ts";
import type { AppContext } from "../../core/context.ts";
import type { BotAccount, PrismaClient } from "../../core/db/index.ts";
import { eventually } from "./eventually.ts";

/** A console login with `role` at `unit`, as the actor the broadcast service takes. */
export async function cadreActor(
  prisma: PrismaClient,
  username: string,
  unit: { id: number; path: string },
  role: "COUNTY_ADMIN" | "TOWN_ADMIN" = "COUNTY_ADMIN",
): Promise<BroadcastActor> {
  const u = await prisma.cadreUser.create({ data: { username, passwordHash: "x", displayName: username, role, orgUnitId: unit.id } });
  return { cadreUserId: u.id, role, orgPath: unit.path, channel: "api" };
}

/** A WeChat bot account; budgets generous unless the test is about them. */
export function botAccount(prisma: PrismaClient, name: string, budget: Partial<Pick<BotAccount, "sendsPerMinute" | "sendsPerHour">> = {}) {
  return prisma.botAccount.create({ data: { name, channel: "WECHAT", sendsPerMinute: 600, sendsPerHour: 10_000, ...budget } });
}

/** A WeChat room bound to an org unit, reachable through the given accounts. */
export async function boundGroup(prisma: PrismaClient, room: string, unitId: number, accounts: BotAccount[], kind: "BRANCH" | "CADRE" = "BRANCH") {
  const g = await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: room, topic: room, orgUnitId: unitId, kind } });
  for (const a of accounts) await prisma.groupAccount.create({ data: { groupId: g.id, accountId: a.id } });
  return g;
}

/** Starts the bot for account `name` on this simulated WeChat and waits until it is logged in (adapter and database). */
export async function startOnline(app: AppContext, wechat: MockWechat, name: string, started: BotHandle[]): Promise<BotHandle> {
  const bot = await startBot(app, { puppet: wechat.puppet, account: name });
  started.push(bot);
  wechat.login();
  await eventually(async () => {
    expect(bot.adapter.isOnline()).toBe(true);
    expect((await app.db.prisma.botAccount.findUniqueOrThrow({ where: { id: bot.accountId } })).status).toBe("ONLINE");
  });
  return bot;
}
