// What a 绑定码, a private 我是 and a WeChat re-login must not do: hand a stranger a cadre's role, or silently drop a
// live group from notices. Real PostgreSQL through the core functions the bot and the API call.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Channel } from "../core/db/index.ts";
import { bindCodeToRevoke, issueBindCode, redeemBindCode, revokeRefusedBindCode, type BindCodeActor } from "../core/chat/bind-codes.ts";
import { bindGroup, selfLink } from "../core/chat/binding.ts";
import { chatPrincipal } from "../core/chat/principal.ts";
import { reconcileGroupsAfterLogin, touchGroup } from "../core/chat/registry.ts";
import type { CadreRole } from "../core/org/scope.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";

let ctx: TestContext;
let county: SmallCounty;
let actors: Record<"county" | "town1", BindCodeActor>;
let seq = 0;

const prisma = () => ctx.db.prisma;

async function cadreFor(role: CadreRole, orgUnitId: number, memberId?: number) {
  return prisma().cadreUser.create({ data: { username: `g-${++seq}`, passwordHash: "x", displayName: `干部${seq}`, role, orgUnitId, memberId } });
}

async function member(name: string, branchId: number, phone: string, isSecretary = false) {
  return prisma().member.create({ data: { name, branchId, phone, isSecretary, gender: "MALE" } });
}

async function freshGroup(channel: Channel, topic: string, orgUnitId: number | null = null) {
  return prisma().chatGroup.create({ data: { channel, platformGroupId: `g-${++seq}`, topic, orgUnitId, kind: orgUnitId ? "BRANCH" : "OTHER" } });
}

async function stranger(channel: Channel = "WECHAT") {
  return prisma().chatIdentity.create({ data: { channel, scope: channel === "WECHAT" ? "wx-g" : "", platformUserId: `u-${++seq}`, displayName: `路人${seq}` } });
}

const redeem = (identityId: number, code: string, groupId: number, channel: Channel = "WECHAT") =>
  prisma().$transaction((tx) => redeemBindCode(tx, { identityId, memberId: null }, { text: code, groupId, channel }));

beforeAll(async () => {
  ctx = await createTestContext("bindguard", { redis: false });
  county = await smallCounty(prisma(), "BG");
  const countyUser = await cadreFor("COUNTY_ADMIN", county.county.id);
  const townUser = await cadreFor("TOWN_ADMIN", county.town1.id);
  actors = {
    county: { role: "COUNTY_ADMIN", orgPath: county.county.path, cadreUserId: countyUser.id, channel: "API" },
    town1: { role: "TOWN_ADMIN", orgPath: county.town1.path, cadreUserId: townUser.id, channel: "API" },
  };
});

afterAll(async () => {
  await ctx?.close();
});

describe("a 绑定码 cannot hand out a console role at or above its issuer's", () => {
  test("a town admin naming a member who is himself a town or county admin is refused; a member with a lower console login is fine", async () => {
    const town = await member("周镇长", county.branch1.id, "13011110001");
    await cadreFor("TOWN_ADMIN", county.town1.id, town.id);
    const top = await member("吴书记", county.branch1.id, "13011110002");
    await cadreFor("COUNTY_ADMIN", county.county.id, top.id);
    for (const m of [town, top]) {
      await expect(issueBindCode(prisma(), actors.town1, county.branch1.id, { memberId: m.id })).rejects.toMatchObject({ status: 400, code: "BIND_CODE_MEMBER_NOT_ALLOWED" });
    }
    expect(await prisma().bindCode.count({ where: { memberId: { in: [town.id, top.id] } } })).toBe(0);

    const sec = await member("郑支书", county.branch1.id, "13011110003");
    await cadreFor("BRANCH_SECRETARY", county.branch1.id, sec.id);
    await expect(issueBindCode(prisma(), actors.town1, county.branch1.id, { memberId: sec.id })).resolves.toMatchObject({ member: { id: sec.id } });
  });

  test("a member given a console login after the code was issued: redeeming it is refused, nobody is linked and the code stays unused", async () => {
    const m = await member("冯干部", county.branch1.id, "13011110004");
    const code = await issueBindCode(prisma(), actors.town1, county.branch1.id, { memberId: m.id });
    await cadreFor("TOWN_ADMIN", county.town1.id, m.id);
    const who = await stranger();
    const group = await freshGroup("WECHAT", "冯家群");
    await expect(redeem(who.id, code.code, group.id)).rejects.toMatchObject({ code: "BIND_CODE_MEMBER_NOT_ALLOWED" });
    expect((await prisma().chatIdentity.findUniqueOrThrow({ where: { id: who.id } })).memberId).toBeNull();
    expect((await prisma().bindCode.findUniqueOrThrow({ where: { id: code.id } })).usedAt).toBeNull();
    expect((await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).orgUnitId).toBeNull();
    expect((await prisma().member.findUniqueOrThrow({ where: { id: m.id } })).isSecretary).toBe(false);
  });

  test("a code with no issuer only links members without a console login", async () => {
    const m = await member("陈支书", county.branch1.id, "13011110005");
    await cadreFor("BRANCH_SECRETARY", county.branch1.id, m.id);
    const row = await prisma().bindCode.create({ data: { code: "GHJKMN", orgUnitId: county.branch1.id, memberId: m.id, expiresAt: new Date(Date.now() + 3600_000) } });
    const who = await stranger();
    await expect(redeem(who.id, row.code, (await freshGroup("WECHAT", "陈家群")).id)).rejects.toMatchObject({ code: "BIND_CODE_MEMBER_NOT_ALLOWED" });
    expect((await prisma().chatIdentity.findUniqueOrThrow({ where: { id: who.id } })).memberId).toBeNull();
  });

  test("a county admin's code for a branch naming a town admin links him, but does not mark him the branch's secretary", async () => {
    const m = await member("褚镇干部", county.branch2.id, "13011110006");
    await cadreFor("TOWN_ADMIN", county.town1.id, m.id);
    const code = await issueBindCode(prisma(), actors.county, county.branch2.id, { memberId: m.id });
    const who = await stranger();
    const r = await redeem(who.id, code.code, (await freshGroup("WECHAT", "河西新群")).id);
    expect(r.member).toMatchObject({ id: m.id });
    expect((await prisma().chatIdentity.findUniqueOrThrow({ where: { id: who.id } })).memberId).toBe(m.id);
    expect((await prisma().member.findUniqueOrThrow({ where: { id: m.id } })).isSecretary).toBe(false);
  });
});

describe("a private 我是 does not link secretaries or cadres", () => {
  test("a stranger who knows a secretary's or a cadre's name and phone ending is told to use 绑定 or ask in the group; an ordinary member still links", async () => {
    await freshGroup("WECHAT", "李家庄村党员群（私聊测试）", county.branch1.id);
    const cadre = await member("卫干部", county.branch1.id, "13011117777");
    await cadreFor("BRANCH_SECRETARY", county.branch1.id, cadre.id);
    for (const [name, tail] of [["王五", "9999"], ["卫干部", "7777"]]) {
      const who = await stranger();
      const p = { identityId: who.id, memberId: null, name: who.displayName };
      const err = await prisma().$transaction((tx) => selfLink(tx, p, { name, phoneTail: tail, channel: "WECHAT" })).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "SELF_LINK_CADRE_PRIVATE" });
      expect((err as Error).message).toContain("绑定 绑定码");
      expect((err as Error).message).toContain("登记");
      expect((await prisma().chatIdentity.findUniqueOrThrow({ where: { id: who.id } })).memberId).toBeNull();
      expect(await chatPrincipal(prisma(), { id: who.id, memberId: null, displayName: who.displayName })).toMatchObject({ role: null });
    }
    const who = await stranger();
    const r = await prisma().$transaction((tx) => selfLink(tx, { identityId: who.id, memberId: null, name: "x" }, { name: "张三", phoneTail: "1234", channel: "WECHAT" }));
    expect(r.member).toMatchObject({ id: county.members.zhangsan.id });
  });

  test("in the branch's own group, the secretary's 我是 still links him", async () => {
    const group = await freshGroup("QQ", "李家庄村QQ群", county.branch1.id);
    const who = await stranger("QQ");
    const r = await prisma().$transaction((tx) => selfLink(tx, { identityId: who.id, memberId: null, name: "x" }, { groupId: group.id, name: "王五", phoneTail: "9999", channel: "QQ" }));
    expect(r.member).toMatchObject({ id: county.members.wangwu.id });
  });
});

describe("a WeChat re-login with an incomplete group list", () => {
  const message = (platformGroupId: string, topic: string, userId: string) => ({
    channel: "WECHAT" as const,
    account: "wx-guard",
    conversation: { kind: "group" as const, groupId: platformGroupId, topic },
    sender: { platformUserId: userId, displayName: "赵六" },
    text: "你好",
    mentions: [],
    mentionsMe: false,
    at: new Date(),
  });

  test("an empty list changes nothing; an unmatched group is only listed as lost (still active), and its next message restores it", async () => {
    const account = await prisma().botAccount.create({ data: { name: "wx-guard", channel: "WECHAT" } });
    const group = await freshGroup("WECHAT", "河西村党员微信群（重登）", county.branch2.id);
    await prisma().groupAccount.create({ data: { groupId: group.id, accountId: account.id } });

    expect(await reconcileGroupsAfterLogin(prisma(), { id: account.id, channel: "WECHAT" }, [])).toEqual({ moved: [], lost: [] });
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).toMatchObject({ active: true, lostAt: null });

    const outcome = await reconcileGroupsAfterLogin(prisma(), { id: account.id, channel: "WECHAT" }, ["some-other-room@chatroom"]);
    expect(outcome.lost).toEqual([group.id]);
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).toMatchObject({ active: true, lostAt: expect.any(Date), orgUnitId: county.branch2.id });
    expect(await prisma().groupAccount.findUniqueOrThrow({ where: { groupId_accountId: { groupId: group.id, accountId: account.id } } })).toMatchObject({ active: true });

    const speaker = await prisma().chatIdentity.create({ data: { channel: "WECHAT", scope: "wx-guard", platformUserId: "wg-1", displayName: "赵六" } });
    await touchGroup(prisma(), message(group.platformGroupId, group.topic, "wg-1"), account.id, speaker.id);
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).toMatchObject({ active: true, lostAt: null });
    expect(await prisma().auditLog.count({ where: { action: "group.found_again", targetId: String(group.id) } })).toBe(1);
  });

  test("a group bound or heard from after the platform's list was taken is not judged by that list", async () => {
    const account = await prisma().botAccount.create({ data: { name: "wx-guard-late", channel: "WECHAT" } });
    const listedAt = new Date();
    await new Promise((r) => setTimeout(r, 5));
    // Bound while the login's group sync was still running (the list above did not have it yet).
    const group = await freshGroup("WECHAT", "新建群（同步中绑定）", county.branch2.id);
    await prisma().groupAccount.create({ data: { groupId: group.id, accountId: account.id } });
    const outcome = await reconcileGroupsAfterLogin(prisma(), { id: account.id, channel: "WECHAT" }, ["some-other-room@chatroom"], new Date(), listedAt);
    expect(outcome.lost).toEqual([]);
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).toMatchObject({ lostAt: null, active: true });
  });

  test("绑定 <码> or 绑定支部 answered 'already bound' in a group listed as lost (left inactive by an older version) makes it live again", async () => {
    const group = await freshGroup("WECHAT", "东山镇干部群（已绑定）", county.town1.id);
    await prisma().chatGroup.update({ where: { id: group.id }, data: { lostAt: new Date(), active: false } });
    const code = await issueBindCode(prisma(), actors.town1, county.town1.id, {});
    const r = await redeem((await stranger()).id, code.code, group.id);
    expect(r.alreadyBound).toBe(true);
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: group.id } })).toMatchObject({ active: true, lostAt: null });

    await prisma().chatGroup.update({ where: { id: group.id }, data: { lostAt: new Date(), active: false } });
    const sec = await stranger();
    await prisma().chatIdentity.update({ where: { id: sec.id }, data: { memberId: county.members.wangwu.id } });
    const p = await chatPrincipal(prisma(), { id: sec.id, memberId: county.members.wangwu.id, displayName: "王五" });
    const branchGroup = await freshGroup("WECHAT", "李家庄村群（已绑定）", county.branch1.id);
    await prisma().chatGroup.update({ where: { id: branchGroup.id }, data: { lostAt: new Date(), active: false } });
    expect(await prisma().$transaction((tx) => bindGroup(tx, p, branchGroup.id, county.branch1.code, "WECHAT"))).toMatchObject({ already: true });
    expect(await prisma().chatGroup.findUniqueOrThrow({ where: { id: branchGroup.id } })).toMatchObject({ active: true, lostAt: null });
  });
});

describe("binding a new group clears only the lost group it replaces", () => {
  test("same unit, same platform, same name: cleared; another name or the other platform: still listed as lost", async () => {
    const lostAt = new Date();
    const mk = async (channel: Channel, topic: string) => {
      const g = await freshGroup(channel, topic, county.branch2.id);
      return prisma().chatGroup.update({ where: { id: g.id }, data: { lostAt } });
    };
    const same = await mk("WECHAT", "河西村党员群");
    const otherName = await mk("WECHAT", "河西村青年党员群");
    const otherPlatform = await mk("QQ", "河西村党员群");
    const code = await issueBindCode(prisma(), actors.county, county.branch2.id, {});
    const fresh = await freshGroup("WECHAT", "河西村党员群");
    const r = await redeem((await stranger()).id, code.code, fresh.id);
    expect(r.clearedLostGroupIds).toEqual([same.id]);
    const rows = await prisma().chatGroup.findMany({ where: { id: { in: [same.id, otherName.id, otherPlatform.id] } }, orderBy: { id: "asc" } });
    expect(rows.map((g) => g.lostAt == null)).toEqual([true, false, false]);
  });
});

describe("a valid code refused in chat is revoked", () => {
  test("its member left the roster, or the sender is someone else: the refusal names the code to revoke, and revoking it is audited once", async () => {
    const m = await member("蒋党员", county.branch1.id, "13011110008");
    const code = await issueBindCode(prisma(), actors.town1, county.branch1.id, { memberId: m.id });
    await prisma().member.update({ where: { id: m.id }, data: { status: "TRANSFERRED_OUT" } });
    const who = await stranger();
    const err = await redeem(who.id, code.code, (await freshGroup("WECHAT", "蒋家群")).id).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "BIND_CODE_MEMBER_GONE" });
    expect(bindCodeToRevoke(err)).toBe(code.id);
    expect(await revokeRefusedBindCode(prisma(), code.id, { identityId: who.id, channel: "WECHAT", refusal: "BIND_CODE_MEMBER_GONE" })).toBe(true);
    expect(await revokeRefusedBindCode(prisma(), code.id, { identityId: who.id, channel: "WECHAT", refusal: "BIND_CODE_MEMBER_GONE" })).toBe(false);
    expect((await prisma().bindCode.findUniqueOrThrow({ where: { id: code.id } })).revokedAt).not.toBeNull();
    expect(await prisma().auditLog.findMany({ where: { action: "bind_code.revoke", targetId: String(code.id) } })).toEqual([
      expect.objectContaining({ actorIdentityId: who.id, detail: expect.objectContaining({ reason: "refused_in_chat" }) }),
    ]);

    // A wrong code is not anybody's to revoke.
    expect(bindCodeToRevoke(await redeem(who.id, "ZZZZZZ", (await freshGroup("WECHAT", "错码群")).id).catch((e: unknown) => e))).toBeUndefined();
  });
});
