// Counties for the 三会一课 calendar tests: a small one with every kind of branch the reminders treat differently,
// and a large one (thousands of branches, one linked secretary each) for crash and concurrency tests.
import type { MeetingStatus, MeetingType, PrismaClient } from "../../core/db/index.ts";
import { linkWechat } from "./fixtures.ts";

export const CAL_ACCOUNT = "wx-calendar";

/** China wall-clock time → instant ("2026-11-24T09:00" is 01:00 UTC). */
export const cn = (local: string) => new Date(`${local}+08:00`);

type Unit = { id: number; code: string; name: string; path: string };

export interface CalendarCounty {
  county: Unit;
  town1: Unit;
  town2: Unit;
  /** 东山镇 李家庄村: two party groups; secretary 王五 linked on WeChat. */
  b1: Unit & { g1: Unit; g2: Unit };
  /** 东山镇 王家村: no party groups; secretary 钱八 linked. */
  b2: Unit;
  /** 西河乡 河西村: one party group; secretary 赵六 linked. */
  b3: Unit & { g1: Unit };
  /** 西河乡 河东村: secretary 周九 has no chat identity, so its reminders go to its group. */
  b4: Unit;
  /** Each branch's bound WeChat group; each town's cadre group. */
  groups: { b1: number; b2: number; b3: number; b4: number; town1: number; town2: number };
  /** The secretaries' WeChat identities (b4 has none). */
  identities: { b1: number; b2: number; b3: number };
  accountId: number;
}

export async function calendarCounty(prisma: PrismaClient, prefix = "K"): Promise<CalendarCounty> {
  const unit = async (code: string, name: string, kind: "COUNTY" | "TOWN" | "VILLAGE" | "BRANCH" | "PARTY_GROUP", parent?: { id: number; path: string }): Promise<Unit> => {
    const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent?.id, path: "/", depth: parent ? parent.path.split("/").length - 2 : 0 } });
    return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent?.path ?? "/"}${row.id}/` }, select: { id: true, code: true, name: true, path: true } });
  };
  const county = await unit(`${prefix}C`, "测试县", "COUNTY");
  const town1 = await unit(`${prefix}C-T1`, "东山镇", "TOWN", county);
  const town2 = await unit(`${prefix}C-T2`, "西河乡", "TOWN", county);
  const branch = async (code: string, village: string, town: Unit) => unit(`${code}-B`, `${village}党支部`, "BRANCH", await unit(code, village, "VILLAGE", town));
  const b1 = await branch(`${prefix}C-T1-V1`, "李家庄村", town1);
  const b2 = await branch(`${prefix}C-T1-V2`, "王家村", town1);
  const b3 = await branch(`${prefix}C-T2-V1`, "河西村", town2);
  const b4 = await branch(`${prefix}C-T2-V2`, "河东村", town2);
  const b1g1 = await unit(`${b1.code}-G1`, "第一党小组", "PARTY_GROUP", b1);
  const b1g2 = await unit(`${b1.code}-G2`, "第二党小组", "PARTY_GROUP", b1);
  const b3g1 = await unit(`${b3.code}-G1`, "第一党小组", "PARTY_GROUP", b3);

  const member = (name: string, branchId: number, phone: string, isSecretary = false, partyGroupId?: number) =>
    prisma.member.create({ data: { name, branchId, phone, isSecretary, partyGroupId, gender: "MALE" } });
  const wangwu = await member("王五", b1.id, "13700009999", true, b1g1.id);
  await member("张三", b1.id, "13800001234", false, b1g1.id);
  await member("李四", b1.id, "13900005678", false, b1g2.id);
  const qianba = await member("钱八", b2.id, "13600008888", true);
  await member("孙七", b2.id, "13600002222");
  const zhaoliu = await member("赵六", b3.id, "13500003333", true, b3g1.id);
  await member("吴十", b3.id, "13500004444", false, b3g1.id);
  await member("周九", b4.id, "13400009999", true);

  const account = await prisma.botAccount.create({ data: { name: CAL_ACCOUNT, channel: "WECHAT", sendsPerMinute: 1000, sendsPerHour: 20000 } });
  const identities = {
    b1: (await linkWechat(prisma, CAL_ACCOUNT, "wx_wangwu", "王五", wangwu.id)).id,
    b2: (await linkWechat(prisma, CAL_ACCOUNT, "wx_qianba", "钱八", qianba.id)).id,
    b3: (await linkWechat(prisma, CAL_ACCOUNT, "wx_zhaoliu", "赵六", zhaoliu.id)).id,
  };
  const group = async (platformGroupId: string, topic: string, orgUnitId: number, kind: "BRANCH" | "CADRE") => {
    const g = await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId, topic, orgUnitId, kind, boundAt: new Date() } });
    await prisma.groupAccount.create({ data: { groupId: g.id, accountId: account.id } });
    return g.id;
  };
  const groups = {
    b1: await group(`${prefix}-lijiazhuang@chatroom`, "李家庄村党员群", b1.id, "BRANCH"),
    b2: await group(`${prefix}-wangjia@chatroom`, "王家村党员群", b2.id, "BRANCH"),
    b3: await group(`${prefix}-hexi@chatroom`, "河西村党员群", b3.id, "BRANCH"),
    b4: await group(`${prefix}-hedong@chatroom`, "河东村党员群", b4.id, "BRANCH"),
    town1: await group(`${prefix}-dongshan@chatroom`, "东山镇党建工作群", town1.id, "CADRE"),
    town2: await group(`${prefix}-xihe@chatroom`, "西河乡党建工作群", town2.id, "CADRE"),
  };
  return { county, town1, town2, b1: { ...b1, g1: b1g1, g2: b1g2 }, b2, b3: { ...b3, g1: b3g1 }, b4, groups, identities, accountId: account.id };
}

/**
 * A meeting as the record has it: planned (or held, with everyone of the unit's branch present), published at
 * `createdAt` (a clock of the test's choosing, not the machine's).
 */
export async function addMeeting(
  prisma: PrismaClient,
  m: { unitId: number; type: MeetingType; plannedAt: Date; status?: MeetingStatus; createdAt?: Date; topic?: string; place?: string },
) {
  const status = m.status ?? "PLANNED";
  const createdAt = m.createdAt ?? new Date(m.plannedAt.getTime() - 7 * 86_400_000);
  const meeting = await prisma.meeting.create({
    data: {
      orgUnitId: m.unitId,
      type: m.type,
      topic: m.topic ?? "学习党章",
      place: m.place ?? null,
      plannedAt: m.plannedAt,
      checkinOpensAt: new Date(m.plannedAt.getTime() - 30 * 60_000),
      checkinClosesAt: new Date(m.plannedAt.getTime() + 30 * 60_000),
      status,
      finalizedAt: status === "HELD" ? new Date(m.plannedAt.getTime() + 30 * 60_000) : null,
      heldAt: status === "HELD" ? m.plannedAt : null,
      createdAt,
      updatedAt: createdAt,
    },
  });
  if (status === "HELD") {
    const unit = await prisma.orgUnit.findUniqueOrThrow({ where: { id: m.unitId } });
    const branchId = unit.kind === "PARTY_GROUP" ? unit.parentId! : unit.id;
    const members = await prisma.member.findMany({ where: { branchId }, select: { id: true } });
    await prisma.attendance.createMany({ data: members.map((x) => ({ meetingId: meeting.id, memberId: x.id, status: "PRESENT" as const, source: "CONSOLE" as const })) });
  }
  return meeting;
}

export interface ManyBranches {
  countyId: number;
  townIds: number[];
  branchIds: number[];
  /** Branch id → its secretary's WeChat identity id. */
  identityOf: Map<number, number>;
}

/**
 * `towns` × `perTown` branches (no villages), each with one secretary linked on WeChat through CAL_ACCOUNT and no
 * meetings, and a cadre group per town: in a month's last week every branch is owed a due reminder.
 */
export async function manyBranches(prisma: PrismaClient, towns: number, perTown: number, prefix = "M"): Promise<ManyBranches> {
  const county = await prisma.orgUnit.create({ data: { code: `${prefix}C`, name: "大县", kind: "COUNTY", path: "/", depth: 0 } });
  await prisma.orgUnit.update({ where: { id: county.id }, data: { path: `/${county.id}/` } });
  const q = (sql: string, ...params: unknown[]) => prisma.$executeRawUnsafe(sql, ...params);
  await q(
    `INSERT INTO "OrgUnit" (code, name, kind, "parentId", path, depth, "updatedAt")
     SELECT $1 || '-T' || t, '第' || t || '镇', 'TOWN', $2::int, '/', 1, now() FROM generate_series(1, $3::int) t`,
    `${prefix}C`,
    county.id,
    towns,
  );
  await q(`UPDATE "OrgUnit" SET path = '/' || $1::int || '/' || id || '/' WHERE "parentId" = $1::int AND kind = 'TOWN'`, county.id);
  await q(
    `INSERT INTO "OrgUnit" (code, name, kind, "parentId", path, depth, "updatedAt")
     SELECT t.code || '-B' || i, t.name || '第' || i || '党支部', 'BRANCH', t.id, '/', 2, now()
       FROM "OrgUnit" t, generate_series(1, $2::int) i WHERE t."parentId" = $1::int AND t.kind = 'TOWN'`,
    county.id,
    perTown,
  );
  await q(
    `UPDATE "OrgUnit" b SET path = t.path || b.id || '/' FROM "OrgUnit" t
      WHERE b."parentId" = t.id AND t."parentId" = $1::int AND b.kind = 'BRANCH'`,
    county.id,
  );
  await prisma.botAccount.upsert({ where: { name: CAL_ACCOUNT }, create: { name: CAL_ACCOUNT, channel: "WECHAT" }, update: {} });
  await q(
    `INSERT INTO "Member" (name, "branchId", "isSecretary", "updatedAt")
     SELECT '书记' || b.id, b.id, true, now() FROM "OrgUnit" b WHERE b.kind = 'BRANCH' AND starts_with(b.path, $1)`,
    `/${county.id}/`,
  );
  await q(
    `INSERT INTO "ChatIdentity" (channel, scope, "platformUserId", "displayName", "memberId", "linkedAt")
     SELECT 'WECHAT', $2, 'wx_sec_' || m.id, m.name, m.id, now()
       FROM "Member" m JOIN "OrgUnit" b ON b.id = m."branchId" WHERE starts_with(b.path, $1)`,
    `/${county.id}/`,
    CAL_ACCOUNT,
  );
  await q(
    `INSERT INTO "ChatGroup" (channel, "platformGroupId", topic, kind, "orgUnitId", "updatedAt")
     SELECT 'WECHAT', t.code || '@chatroom', t.name || '党建工作群', 'CADRE', t.id, now() FROM "OrgUnit" t WHERE t."parentId" = $1::int AND t.kind = 'TOWN'`,
    county.id,
  );
  const townIds = (await prisma.orgUnit.findMany({ where: { parentId: county.id, kind: "TOWN" }, select: { id: true }, orderBy: { id: "asc" } })).map((t) => t.id);
  const rows = await prisma.$queryRawUnsafe<{ branchId: number; identityId: number }[]>(
    `SELECT b.id AS "branchId", i.id AS "identityId" FROM "OrgUnit" b JOIN "Member" m ON m."branchId" = b.id JOIN "ChatIdentity" i ON i."memberId" = m.id
      WHERE b.kind = 'BRANCH' AND starts_with(b.path, $1) ORDER BY b.id`,
    `/${county.id}/`,
  );
  return { countyId: county.id, townIds, branchIds: rows.map((r) => r.branchId), identityOf: new Map(rows.map((r) => [r.branchId, r.identityId])) };
}
