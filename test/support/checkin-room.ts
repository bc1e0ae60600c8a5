// A large village group for check-in reliability tests: one branch whose whole roster (hundreds of members, created
// in bulk) sits in one WeChat room, linked through one or more bot accounts, with a study session whose check-in
// window is open now; plus a bot adapter that counts what reached the bot's message handler.
import { WechatyAdapter } from "../../bot/adapters/wechaty.ts";
import type { MockWechat } from "../../bot/adapters/wechaty-mock.ts";
import type { ChatMessage } from "../../bot/adapters/types.ts";
import type { PrismaClient } from "../../core/db/index.ts";
import type { Logger } from "../../core/log.ts";

export interface RoomPerson {
  /** WeChat contact id (the same through every account, as the mock has it). */
  id: string;
  /** Nickname in the room. */
  nick: string;
  memberId: number;
  /** Roster name (what summaries show for a linked member). */
  name: string;
}

export interface CheckinRoom {
  branchId: number;
  groupId: number;
  meetingId: number;
  people: RoomPerson[];
}

export interface CheckinRoomOptions {
  room: string;
  size: number;
  /** Bot accounts in the room (a BotAccount with a generous budget and a GroupAccount link each). */
  accounts: string[];
  /** Accounts through which every member has linked their identity (default: all of them). */
  linkedThrough?: string[];
  /** Distinguishes codes and ids when one database holds several rooms. */
  tag?: string;
}

/** Creates the branch, its roster, the bound group, the accounts and identities (in bulk) and an open session. */
export async function checkinRoom(prisma: PrismaClient, opts: CheckinRoomOptions): Promise<CheckinRoom> {
  const tag = opts.tag ?? "R";
  const created = await prisma.orgUnit.create({ data: { code: `${tag}-B`, name: `${tag}村党支部`, kind: "BRANCH", path: "/", depth: 0 } });
  const branch = await prisma.orgUnit.update({ where: { id: created.id }, data: { path: `/${created.id}/` } });
  const pad = (i: number) => String(i).padStart(3, "0");
  await prisma.member.createMany({
    data: Array.from({ length: opts.size }, (_, i) => ({ name: `党员${tag}${pad(i)}`, branchId: branch.id, phone: `139${String(i).padStart(8, "0")}`, gender: "MALE" as const })),
  });
  const members = await prisma.member.findMany({ where: { branchId: branch.id }, orderBy: { id: "asc" }, select: { id: true, name: true } });
  const people: RoomPerson[] = members.map((m, i) => ({ id: `wxid_${tag.toLowerCase()}_${pad(i)}`, nick: `村民${tag}${pad(i)}`, memberId: m.id, name: m.name }));

  const group = await prisma.chatGroup.create({
    data: { channel: "WECHAT", platformGroupId: opts.room, topic: `${tag}村党员群`, orgUnitId: branch.id, kind: "BRANCH", memberCount: opts.size },
  });
  for (const name of opts.accounts) {
    const account = await prisma.botAccount.create({ data: { name, channel: "WECHAT", sendsPerMinute: 500, sendsPerHour: 5000 } });
    await prisma.groupAccount.create({ data: { groupId: group.id, accountId: account.id } });
  }
  const linkedAt = new Date();
  for (const scope of opts.linkedThrough ?? opts.accounts) {
    await prisma.chatIdentity.createMany({
      data: people.map((p) => ({ channel: "WECHAT" as const, scope, platformUserId: p.id, displayName: p.nick, memberId: p.memberId, linkedAt })),
    });
  }
  const now = Date.now();
  const meeting = await prisma.meeting.create({
    data: {
      orgUnitId: branch.id,
      type: "STUDY",
      topic: `${tag}可靠性测试学习`,
      plannedAt: new Date(now),
      checkinOpensAt: new Date(now - 30 * 60_000),
      checkinClosesAt: new Date(now + 60 * 60_000),
      status: "PLANNED",
    },
  });
  return { branchId: branch.id, groupId: group.id, meetingId: meeting.id, people };
}

export interface HandlerStats {
  /** Messages handed to the bot's handler (accepted from the platform), in order. */
  entered: ChatMessage[];
  /** Handler calls that have returned or thrown. */
  settled: number;
  /** First line of each handler failure. */
  failures: string[];
  /** Called as each message enters the handler, with how many have entered so far. */
  onEnter?: (entered: number) => void;
}

/**
 * The WechatyAdapter startBot would build for the mock, except that every call of the message handler startBot
 * registers (handleMessage) is counted: which messages the bot accepted and whether their handling finished.
 */
export function countingAdapter(wechat: MockWechat, account: string, log: Logger): { adapter: WechatyAdapter; stats: HandlerStats } {
  const adapter = new WechatyAdapter({ account, puppetName: "wechaty-puppet-mock", puppet: wechat.puppet, log });
  const stats: HandlerStats = { entered: [], settled: 0, failures: [] };
  const register = adapter.onMessage.bind(adapter);
  adapter.onMessage = (handler) =>
    register(async (m) => {
      stats.entered.push(m);
      stats.onEnter?.(stats.entered.length);
      try {
        await handler(m);
      } catch (e) {
        stats.failures.push(String((e as Error)?.message ?? e).split("\n")[0]);
        throw e;
      } finally {
        stats.settled++;
      }
    });
  return { adapter, stats };
}
