// A small county for chat tests: two towns, a branch in each, a few members with phones on file.
import type { PrismaClient } from "../../core/db/index.ts";

export interface SmallCounty {
  county: { id: number; path: string };
  town1: { id: number; path: string };
  branch1: { id: number; code: string; name: string; path: string };
  branch2: { id: number; code: string; name: string; path: string };
  members: Record<"zhangsan" | "lisi" | "wangwu" | "zhaoliu" | "sunqi", { id: number; name: string }>;
}

export async function smallCounty(prisma: PrismaClient, prefix = "X"): Promise<SmallCounty> {
  const unit = async (code: string, name: string, kind: "COUNTY" | "TOWN" | "VILLAGE" | "BRANCH", parent?: { id: number; path: string }) => {
    const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent?.id, path: "/", depth: parent ? parent.path.split("/").length - 2 : 0 } });
    const path = `${parent?.path ?? "/"}${row.id}/`;
    return prisma.orgUnit.update({ where: { id: row.id }, data: { path } });
  };
  const county = await unit(`${prefix}C`, "测试县", "COUNTY");
  const town1 = await unit(`${prefix}C-T1`, "东山镇", "TOWN", county);
  const town2 = await unit(`${prefix}C-T2`, "西河乡", "TOWN", county);
  const v1 = await unit(`${prefix}C-T1-V1`, "李家庄村", "VILLAGE", town1);
  const v2 = await unit(`${prefix}C-T2-V1`, "河西村", "VILLAGE", town2);
  const branch1 = await unit(`${prefix}C-T1-V1-B`, "李家庄村党支部", "BRANCH", v1);
  const branch2 = await unit(`${prefix}C-T2-V1-B`, "河西村党支部", "BRANCH", v2);
  const member = (name: string, branchId: number, phone: string, isSecretary = false) =>
    prisma.member.create({ data: { name, branchId, phone, isSecretary, gender: "MALE" } });
  const members = {
    zhangsan: await member("张三", branch1.id, "13800001234"),
    lisi: await member("李四", branch1.id, "13900005678"),
    wangwu: await member("王五", branch1.id, "13700009999", true),
    sunqi: await member("孙七", branch1.id, "13600002222"),
    zhaoliu: await member("赵六", branch2.id, "13500003333", true),
  };
  return { county, town1, branch1, branch2, members };
}

/** Links a WeChat identity (as the bot will see it) to a roster member, as a finished 我是 would have. */
export async function linkWechat(prisma: PrismaClient, account: string, platformUserId: string, displayName: string, memberId: number) {
  return prisma.chatIdentity.upsert({
    where: { channel_scope_platformUserId: { channel: "WECHAT", scope: account, platformUserId } },
    create: { channel: "WECHAT", scope: account, platformUserId, displayName, memberId, linkedAt: new Date() },
    update: { memberId, linkedAt: new Date() },
  });
}
