// The organisation tree through the HTTP API against real Postgres: a town admin builds villages, branches and a
// 联合党委 in their town, a secretary adds a party group to their own branch, units are renamed, re-coded and moved
// (the whole subtree's paths follow), deactivation is refused while anything is left (and says exactly what), and
// every change is audited. Then a city above two counties: a county admin sees only their county (tree, units,
// reports) and the 季通报 asked for the city ranks its counties.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { startApi, type RunningApi } from "../api/app.ts";
import { chinaDate } from "../core/calendar/periods.ts";
import { sendDueReports } from "../core/calendar/reports.ts";
import type { PrismaClient } from "../core/db/index.ts";
import { cadreTokens } from "./support/cadres.ts";
import { createTestContext, type TestContext } from "./support/context.ts";
import { smallCounty, type SmallCounty } from "./support/fixtures.ts";
import { apiCaller, expectApiError as expectError } from "./support/http.ts";

let ctx: TestContext;
let api: RunningApi;
let county: SmallCounty;
let town2: { id: number; path: string };
const tokens = {} as Record<"county" | "town1" | "town2" | "sec1" | "member1", string>;
const call = apiCaller(() => api.url);

const post = (token: string, body: unknown) => call("/api/org/units", { token, body });
const patch = (token: string, id: number, body: unknown) => call(`/api/org/units/${id}`, { token, method: "PATCH", body });
const audits = (action: string, targetId: number) => ctx.db.prisma.auditLog.findMany({ where: { action, targetId: String(targetId) }, orderBy: { id: "asc" } });

beforeAll(async () => {
  ctx = await createTestContext("api-org", { redis: false });
  const prisma = ctx.db.prisma;
  county = await smallCounty(prisma, "OG");
  town2 = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "OGC-T2" }, select: { id: true, path: true } });
  Object.assign(
    tokens,
    await cadreTokens(ctx, "og", [
      { key: "county", role: "COUNTY_ADMIN", orgUnitId: county.county.id },
      { key: "town1", role: "TOWN_ADMIN", orgUnitId: county.town1.id },
      { key: "town2", role: "TOWN_ADMIN", orgUnitId: town2.id },
      { key: "sec1", role: "BRANCH_SECRETARY", orgUnitId: county.branch1.id },
      { key: "member1", role: "MEMBER", orgUnitId: county.branch1.id },
    ]),
  );
  api = await startApi(ctx);
});

afterAll(async () => {
  await api?.close();
  await ctx?.close();
});

describe("building a town's tree", () => {
  let villageA: number;
  let villageB: number;
  let branchA: number;

  test("a town admin creates two villages and a branch; each answer is the unit with its parent, path and empty counts; audited", async () => {
    const a = await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "张家湾村", code: "OGC-T1-V2", category: "村" });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({
      parentId: county.town1.id,
      code: "OGC-T1-V2",
      name: "张家湾村",
      kind: "VILLAGE",
      category: "村",
      active: true,
      depth: 2,
      parent: { id: county.town1.id, code: "OGC-T1", name: "东山镇", kind: "TOWN" },
      spans: [],
      counts: { children: 0, members: 0, groups: 0, openComplaints: 0 },
    });
    expect(a.json.path).toBe(`${county.town1.path}${a.json.id}/`);
    villageA = a.json.id;
    const b = await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "石桥社区", code: "OGC-T1-V3", category: "社区" });
    expect(b.status).toBe(201);
    villageB = b.json.id;
    const br = await post(tokens.town1, { parentId: villageA, kind: "BRANCH", name: "张家湾村党支部", code: "OGC-T1-V2-B" });
    expect(br.status).toBe(201);
    expect(br.json).toMatchObject({ kind: "BRANCH", category: null, depth: 3, path: `${county.town1.path}${villageA}/${br.json.id}/` });
    branchA = br.json.id;

    const [log] = await audits("org.unit_create", villageA);
    expect(log.detail).toMatchObject({ after: { code: "OGC-T1-V2", name: "张家湾村", kind: "VILLAGE", parentId: county.town1.id } });
    expect(log.actorId).not.toBeNull();
  });

  test("a 联合党委 spans two villages of its town, and a 产业党支部 hangs directly under the town; a 村党支部 may not", async () => {
    const joint = await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "东山片区联合党委", code: "OGC-T1-J1", category: "联合党委", spans: [villageA, villageB] });
    expect(joint.status).toBe(201);
    expect(joint.json.spans.map((s: { id: number }) => s.id).sort()).toEqual([villageA, villageB].sort());
    const industry = await post(tokens.town1, { parentId: county.town1.id, kind: "BRANCH", name: "东山柑橘产业党支部", code: "OGC-T1-CY1", category: "产业党支部" });
    expect(industry.status).toBe(201);
    const underJoint = await post(tokens.town1, { parentId: joint.json.id, kind: "BRANCH", name: "片区联合党支部", code: "OGC-T1-J1-B", category: "联合党支部" });
    expect(underJoint.status).toBe(201);

    const village = expectError(await post(tokens.town1, { parentId: county.town1.id, kind: "BRANCH", name: "某村党支部", code: "OGC-T1-XB", category: "村党支部" }), 400, "UNIT_KIND_INVALID");
    expect(village.message).toContain("村（社区）党支部请建在对应的村");
    // A village of another town cannot be spanned (the county admin sees both towns, so it is the rule, not the scope).
    const river = await ctx.db.prisma.orgUnit.findUniqueOrThrow({ where: { code: "OGC-T2-V1" } });
    const other = expectError(await patch(tokens.county, joint.json.id, { spans: [villageA, river.id] }), 400, "ORG_SPAN_INVALID");
    expect(other.message).toContain("不在同一个乡镇");
    // Only a 联合党委 spans villages.
    expectError(await patch(tokens.town1, villageA, { spans: [villageB] }), 400, "ORG_SPAN_INVALID");
    // The spans are unchanged by the refused patch.
    expect((await ctx.db.prisma.orgSpan.count({ where: { jointId: joint.json.id } }))).toBe(2);
  });

  test("kinds must fit their parent; codes are unique and well-formed; categories per kind", async () => {
    expectError(await post(tokens.county, { parentId: county.county.id, kind: "BRANCH", name: "县直党支部", code: "OGC-B1" }), 400, "UNIT_KIND_INVALID");
    expectError(await post(tokens.town1, { parentId: branchA, kind: "VILLAGE", name: "错村", code: "OGC-X1" }), 400, "UNIT_KIND_INVALID");
    const taken = expectError(await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "重码村", code: "OGC-T1-V1" }), 409, "UNIT_CODE_TAKEN");
    expect(taken.message).toContain("OGC-T1-V1");
    const bad = expectError(await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "怪码村", code: "东山 1" }), 400, "VALIDATION_FAILED");
    expect(bad.fields?.[0].field).toBe("body.code");
    const cat = expectError(await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "类别错村", code: "OGC-T1-V9", category: "产业党支部" }), 400, "UNIT_CATEGORY_INVALID");
    expect(cat.message).toContain("村、社区、联合党委");

    const cats = await call("/api/org/categories", { token: tokens.sec1 });
    expect(cats.status).toBe(200);
    expect(cats.json.items).toContainEqual({ kind: "VILLAGE", category: "联合党委", label: expect.stringContaining("联合党委") });
    expect(cats.json.items.filter((c: { kind: string }) => c.kind === "TOWN").map((c: { category: string }) => c.category)).toEqual(["镇", "乡", "街道"]);
  });

  test("scope and roles: another town's admin, a secretary creating a branch and a member are refused; a secretary adds a party group to their own branch only", async () => {
    expectError(await post(tokens.town2, { parentId: county.town1.id, kind: "VILLAGE", name: "越界村", code: "OGC-T1-V8" }), 403, "OUT_OF_SCOPE");
    expectError(await post(tokens.sec1, { parentId: county.branch1.id, kind: "BRANCH", name: "支部", code: "OGC-S1" }), 403, "ROLE_REQUIRED");
    expectError(await post(tokens.member1, { parentId: county.branch1.id, kind: "PARTY_GROUP", name: "第二党小组", code: "OGC-S2" }), 403, "FORBIDDEN");
    expectError(await post(tokens.sec1, { parentId: county.branch2.id, kind: "PARTY_GROUP", name: "第一党小组", code: "OGC-S3" }), 403, "OUT_OF_SCOPE");
    expectError(await post(tokens.town1, { parentId: county.county.id, kind: "TOWN", name: "新镇", code: "OGC-T9" }), 403, "OUT_OF_SCOPE");
    const g = await post(tokens.sec1, { parentId: county.branch1.id, kind: "PARTY_GROUP", name: "第一党小组", code: "OGC-T1-V1-B-G1" });
    expect(g.status).toBe(201);
    expect(g.json).toMatchObject({ kind: "PARTY_GROUP", depth: 4, parent: { id: county.branch1.id } });
    // Nothing was written by the refused requests.
    expect(await ctx.db.prisma.orgUnit.count({ where: { code: { in: ["OGC-T1-V8", "OGC-S1", "OGC-S2", "OGC-S3", "OGC-T9"] } } })).toBe(0);
  });

  test("rename, re-code and re-categorise: the answer and the audit log show before and after", async () => {
    const res = await patch(tokens.town1, villageA, { name: "张家湾社区", code: "OGC-T1-C2", category: "社区" });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: villageA, name: "张家湾社区", code: "OGC-T1-C2", category: "社区" });
    const logs = await audits("org.unit_update", villageA);
    expect(logs).toHaveLength(1);
    expect(logs[0].detail).toMatchObject({ before: { name: "张家湾村", code: "OGC-T1-V2", category: "村" }, after: { name: "张家湾社区", code: "OGC-T1-C2", category: "社区" } });
    expectError(await patch(tokens.town1, villageA, { code: "OGC-T1-V1" }), 409, "UNIT_CODE_TAKEN");
    expectError(await patch(tokens.sec1, villageA, { name: "越权" }), 403, "OUT_OF_SCOPE");
    // The same patch again changes nothing and logs nothing.
    expect((await patch(tokens.town1, villageA, { name: "张家湾社区" })).status).toBe(200);
    expect(await audits("org.unit_update", villageA)).toHaveLength(1);
  });

  test("move: the whole subtree follows (paths and depths), not under itself or its descendant, not out of scope", async () => {
    const prisma = ctx.db.prisma;
    const group = await prisma.orgUnit.create({ data: { code: "OGC-T1-C2-B-G1", name: "第一党小组", kind: "PARTY_GROUP", parentId: branchA, path: "/", depth: 4 } });
    const branchPath = (await prisma.orgUnit.findUniqueOrThrow({ where: { id: branchA } })).path;
    await prisma.orgUnit.update({ where: { id: group.id }, data: { path: `${branchPath}${group.id}/` } });

    expectError(await patch(tokens.town1, villageA, { parentId: town2.id }), 403, "OUT_OF_SCOPE");
    expectError(await patch(tokens.county, county.town1.id, { parentId: county.town1.id }), 400, "UNIT_MOVE_INVALID");
    const under = expectError(await patch(tokens.county, county.town1.id, { parentId: villageB }), 400, "UNIT_MOVE_INVALID");
    expect(under.message).toContain("下级单位");
    expectError(await patch(tokens.town1, villageA, { parentId: branchA }), 400, "UNIT_MOVE_INVALID");
    expectError(await patch(tokens.town1, branchA, { parentId: county.town1.id }), 400, "UNIT_KIND_INVALID");
    // The village is spanned by its town's 联合党委: moving it to another town would break that, so it is refused
    // until the 联合党委 lets go of it.
    const broken = expectError(await patch(tokens.county, villageA, { parentId: town2.id }), 409, "ORG_SPAN_BROKEN");
    expect(broken.message).toContain("东山片区联合党委");
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: villageA } })).parentId).toBe(county.town1.id);
    const joint = await prisma.orgUnit.findUniqueOrThrow({ where: { code: "OGC-T1-J1" } });
    expect((await patch(tokens.town1, joint.id, { spans: [villageB] })).json.spans).toEqual([{ id: villageB, code: "OGC-T1-V3", name: "石桥社区" }]);

    const moved = await patch(tokens.county, villageA, { parentId: town2.id });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ parentId: town2.id, depth: 2, path: `${town2.path}${villageA}/` });
    const b = await prisma.orgUnit.findUniqueOrThrow({ where: { id: branchA } });
    const g = await prisma.orgUnit.findUniqueOrThrow({ where: { id: group.id } });
    expect({ bPath: b.path, bDepth: b.depth, gPath: g.path, gDepth: g.depth }).toEqual({
      bPath: `${town2.path}${villageA}/${branchA}/`,
      bDepth: 3,
      gPath: `${town2.path}${villageA}/${branchA}/${group.id}/`,
      gDepth: 4,
    });
  });
});

describe("deactivating", () => {
  test("refused while members, groups and open complaints are left, with exactly what is left; then done once empty, and undone", async () => {
    const prisma = ctx.db.prisma;
    await prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: "og-room-1", topic: "李家庄村党支部", kind: "BRANCH", orgUnitId: county.branch1.id } });
    const due = new Date(Date.now() + 86_400_000);
    await prisma.complaint.create({ data: { number: "OG-1", orgUnitId: county.branch1.id, channel: "WECHAT", content: "路灯坏了", responseDueAt: due, resolveDueAt: due } });
    await prisma.complaint.create({ data: { number: "OG-2", orgUnitId: county.branch1.id, channel: "WECHAT", content: "已结案", status: "CLOSED", responseDueAt: due, resolveDueAt: due } });
    const members = await prisma.member.count({ where: { branchId: county.branch1.id, status: { in: ["ACTIVE", "PROBATIONARY"] } } });
    const children = await prisma.orgUnit.count({ where: { parentId: county.branch1.id, active: true } });

    const e = expectError(await patch(tokens.town1, county.branch1.id, { active: false }), 409, "UNIT_NOT_EMPTY");
    // The branch's two console accounts (sec1, member1) are counted too.
    expect(e.message).toContain(`还有 ${children} 个下级单位、${members} 名党员、1 个群、1 件未办结诉求、2 个干部账号`);
    expect(e.left).toEqual({ children, members, groups: 1, openComplaints: 1, cadres: 2 });
    const v = expectError(await patch(tokens.town1, (await prisma.orgUnit.findUniqueOrThrow({ where: { code: "OGC-T1-V1" } })).id, { active: false }), 409, "UNIT_NOT_EMPTY");
    expect(v.message).toContain("还有 1 个下级单位");
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: county.branch1.id } })).active).toBe(true);

    // The detail shows the same counts.
    const d = await call(`/api/org/units/${county.branch1.id}`, { token: tokens.sec1 });
    expect(d.json.counts).toEqual({ children, members, groups: 1, openComplaints: 1, cadres: 2 });

    // An empty unit goes; it leaves the tree but can still be read and re-activated.
    const empty = await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "空村", code: "OGC-T1-V7" });
    const off = await patch(tokens.town1, empty.json.id, { active: false });
    expect(off.status).toBe(200);
    expect(off.json.active).toBe(false);
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: empty.json.id } })).deactivatedAt).not.toBeNull();
    const tree = await call("/api/org/tree", { token: tokens.town1 });
    expect(tree.json.items.map((u: { id: number }) => u.id)).not.toContain(empty.json.id);
    const all = await call("/api/org/tree?includeInactive=true", { token: tokens.town1 });
    expect(all.json.items.find((u: { id: number }) => u.id === empty.json.id)).toMatchObject({ active: false });
    expectError(await patch(tokens.town1, empty.json.id, { name: "改名" }), 409, "UNIT_INACTIVE");
    expectError(await post(tokens.town1, { parentId: empty.json.id, kind: "BRANCH", name: "空村党支部", code: "OGC-T1-V7-B" }), 400, "UNIT_PARENT_INACTIVE");
    const on = await patch(tokens.town1, empty.json.id, { active: true });
    expect(on.json).toMatchObject({ active: true });
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: empty.json.id } })).deactivatedAt).toBeNull();
    // Nobody deactivates the unit their own login hangs on.
    expectError(await patch(tokens.town2, town2.id, { active: false }), 403, "UNIT_IS_OWN");
  });
});

describe("what a unit change must not orphan", () => {
  test("a village with nothing but two active console accounts is not deactivated; the message names them; once they are disabled it goes", async () => {
    const prisma = ctx.db.prisma;
    const village = await post(tokens.town1, { parentId: county.town1.id, kind: "VILLAGE", name: "柳树村", code: "OGC-T1-V8" });
    expect(village.status).toBe(201);
    await cadreTokens(ctx, "og-v8", [
      { key: "a", role: "BRANCH_SECRETARY", orgUnitId: village.json.id },
      { key: "b", role: "MEMBER", orgUnitId: village.json.id },
    ]);
    const e = expectError(await patch(tokens.town1, village.json.id, { active: false }), 409, "UNIT_NOT_EMPTY");
    expect(e.message).toContain("还有 2 个干部账号");
    expect(e.message).toContain("og-v8-a");
    expect(e.message).toContain("og-v8-b");
    expect(e.left).toMatchObject({ children: 0, members: 0, cadres: 2 });
    expect((await prisma.orgUnit.findUniqueOrThrow({ where: { id: village.json.id } })).active).toBe(true);

    await prisma.cadreUser.updateMany({ where: { username: { in: ["og-v8-a", "og-v8-b"] } }, data: { active: false, disabledAt: new Date() } });
    const off = await patch(tokens.town1, village.json.id, { active: false });
    expect(off.status).toBe(200);
    expect(off.json.active).toBe(false);
  });

  test("a party group with current members is not moved to another branch (its members would be split from it); once emptied it moves", async () => {
    const prisma = ctx.db.prisma;
    const group = await post(tokens.sec1, { parentId: county.branch1.id, kind: "PARTY_GROUP", name: "搬迁党小组", code: "OGC-T1-V1-B-G9" });
    expect(group.status).toBe(201);
    await prisma.member.update({ where: { id: county.members.lisi.id }, data: { partyGroupId: group.json.id } });

    const e = expectError(await patch(tokens.county, group.json.id, { parentId: county.branch2.id }), 409, "UNIT_NOT_EMPTY");
    expect(e.message).toContain("1 名党员");
    expect(e.message).toContain("党小组");
    const unit = await prisma.orgUnit.findUniqueOrThrow({ where: { id: group.json.id } });
    expect(unit.parentId).toBe(county.branch1.id);
    const lisi = await prisma.member.findUniqueOrThrow({ where: { id: county.members.lisi.id } });
    expect({ branchId: lisi.branchId, partyGroupId: lisi.partyGroupId }).toEqual({ branchId: county.branch1.id, partyGroupId: group.json.id });

    // Reassigned within the branch (不分党小组): the group is empty and may move.
    await prisma.member.update({ where: { id: county.members.lisi.id }, data: { partyGroupId: null } });
    const moved = await patch(tokens.county, group.json.id, { parentId: county.branch2.id });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ parentId: county.branch2.id });
  });
});

describe("reading the tree", () => {
  test("a town admin's tree is their town, parents before children, party groups included; another town's root is refused", async () => {
    const res = await call("/api/org/tree", { token: tokens.town1 });
    expect(res.status).toBe(200);
    expect(res.json.root).toMatchObject({ id: county.town1.id, kind: "TOWN", depth: 1 });
    const items: { id: number; parentId: number | null; kind: string; depth: number }[] = res.json.items;
    expect(items[0].id).toBe(county.town1.id);
    const seen = new Set<number>();
    for (const u of items) {
      if (u.id !== county.town1.id) expect(seen.has(u.parentId!)).toBe(true);
      seen.add(u.id);
    }
    expect(items.some((u) => u.kind === "PARTY_GROUP")).toBe(true);
    const paths = await ctx.db.prisma.orgUnit.findMany({ where: { id: { in: items.map((u) => u.id) } }, select: { path: true } });
    expect(paths.every((p) => p.path.startsWith(county.town1.path))).toBe(true);
    expectError(await call(`/api/org/tree?rootId=${town2.id}`, { token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/org/units/${town2.id}`, { token: tokens.town1 }), 403, "OUT_OF_SCOPE");
    expectError(await call("/api/org/units/999999", { token: tokens.town1 }), 404, "ORG_UNIT_NOT_FOUND");
    const sub = await call(`/api/org/tree?rootId=${county.branch1.id}`, { token: tokens.county });
    expect(sub.json.root.id).toBe(county.branch1.id);
    expect(sub.json.items.every((u: { kind: string }) => u.kind === "BRANCH" || u.kind === "PARTY_GROUP")).toBe(true);
  });
});

// ───────────────────────────── a city above two counties ─────────────────────────────

async function unit(prisma: PrismaClient, code: string, name: string, kind: "CITY" | "COUNTY" | "TOWN" | "VILLAGE" | "BRANCH", parent?: { id: number; path: string; depth: number }) {
  const row = await prisma.orgUnit.create({ data: { code, name, kind, parentId: parent?.id, path: "/", depth: parent ? parent.depth + 1 : 0 } });
  return prisma.orgUnit.update({ where: { id: row.id }, data: { path: `${parent?.path ?? "/"}${row.id}/` }, select: { id: true, path: true, depth: true, code: true, name: true } });
}

describe("a city with two counties", () => {
  let city: { id: number; path: string; depth: number };
  let countyA: { id: number; path: string; depth: number };
  let countyB: { id: number; path: string; depth: number };
  let townA: { id: number; path: string; depth: number };
  const t = {} as Record<"city" | "countyA" | "townA", string>;

  beforeAll(async () => {
    const prisma = ctx.db.prisma;
    city = await unit(prisma, "CY", "江城市", "CITY");
    countyA = await unit(prisma, "CY-A", "甲县", "COUNTY", city);
    countyB = await unit(prisma, "CY-B", "乙县", "COUNTY", city);
    townA = await unit(prisma, "CY-A-T1", "甲一镇", "TOWN", countyA);
    const townB = await unit(prisma, "CY-B-T1", "乙一镇", "TOWN", countyB);
    const vA = await unit(prisma, "CY-A-T1-V1", "甲一村", "VILLAGE", townA);
    const vB = await unit(prisma, "CY-B-T1-V1", "乙一村", "VILLAGE", townB);
    await unit(prisma, "CY-A-T1-V1-B", "甲一村党支部", "BRANCH", vA);
    await unit(prisma, "CY-B-T1-V1-B", "乙一村党支部", "BRANCH", vB);
    Object.assign(
      t,
      await cadreTokens(ctx, "cy", [
        { key: "city", role: "COUNTY_ADMIN", orgUnitId: city.id },
        { key: "countyA", role: "COUNTY_ADMIN", orgUnitId: countyA.id },
        { key: "townA", role: "TOWN_ADMIN", orgUnitId: townA.id },
      ]),
    );
  });

  test("a county admin sees only their county: tree, units, reports", async () => {
    const tree = await call("/api/org/tree", { token: t.countyA });
    expect(tree.json.root).toMatchObject({ id: countyA.id, kind: "COUNTY" });
    expect(tree.json.items.map((u: { code: string }) => u.code)).toEqual(expect.arrayContaining(["CY-A", "CY-A-T1", "CY-A-T1-V1", "CY-A-T1-V1-B"]));
    expect(tree.json.items.some((u: { code: string }) => u.code.startsWith("CY-B"))).toBe(false);
    expectError(await call(`/api/org/units/${countyB.id}`, { token: t.countyA }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/org/units/${city.id}`, { token: t.countyA }), 403, "OUT_OF_SCOPE");
    expectError(await call(`/api/reports/monthly?period=2026-10&unitId=${countyB.id}`, { token: t.countyA }), 403, "OUT_OF_SCOPE");
    const monthly = await call("/api/reports/monthly?period=2026-10", { token: t.countyA });
    expect(monthly.status).toBe(200);
    expect(monthly.json.unit).toMatchObject({ id: countyA.id });
    expect(monthly.json.towns.map((x: { name: string }) => x.name)).toEqual(["甲一镇"]);
    expect(monthly.json.branches.map((x: { name: string; townName: string }) => [x.name, x.townName])).toEqual([["甲一村党支部", "甲一镇"]]);
    // Their 季通报 ranks their own towns, not the city's counties.
    const q = await call("/api/reports/quarterly?period=2026-Q3", { token: t.countyA });
    expect(q.status).toBe(200);
    expect(q.json.county).toMatchObject({ id: countyA.id });
    expect(q.json.towns.map((x: { name: string }) => x.name)).toEqual(["甲一镇"]);
    expectError(await call(`/api/reports/quarterly?period=2026-Q3&unitId=${city.id}`, { token: t.countyA }), 403, "OUT_OF_SCOPE");
    // A county admin creates towns in their county only; a county is created by the city's admin.
    expectError(await post(t.countyA, { parentId: countyB.id, kind: "TOWN", name: "越界镇", code: "CY-B-T9" }), 403, "OUT_OF_SCOPE");
    expect((await post(t.city, { parentId: city.id, kind: "COUNTY", name: "丙县", code: "CY-C" })).status).toBe(201);
    expectError(await post(t.townA, { parentId: countyA.id, kind: "TOWN", name: "新镇", code: "CY-A-T9" }), 403, "OUT_OF_SCOPE");
  });

  test("the 季通报 and the 月报告 asked for the city rank its counties", async () => {
    const q = await call("/api/reports/quarterly?period=2026-Q3", { token: t.city });
    expect(q.status).toBe(200);
    expect(q.json.county).toMatchObject({ id: city.id, kind: "CITY" });
    expect(q.json.towns.map((x: { name: string }) => x.name).sort()).toEqual(["丙县", "乙县", "甲县"].sort());
    const m = await call("/api/reports/monthly?period=2026-10", { token: t.city });
    expect(m.status).toBe(200);
    expect(m.json.towns.map((x: { name: string }) => x.name).sort()).toEqual(["丙县", "乙县", "甲县"].sort());
    expect(m.json.branches.map((x: { name: string; townName: string }) => [x.name, x.townName]).sort()).toEqual([
      ["乙一村党支部", "乙县"],
      ["甲一村党支部", "甲县"],
    ]);
    expect(m.json.total.compliance.branches).toBe(2);
  });

  test("the report job under a city: its group gets the counties ranked, each county's group its own towns, each town's group its line", async () => {
    const prisma = ctx.db.prisma;
    const group = (orgUnitId: number, id: string) => prisma.chatGroup.create({ data: { channel: "WECHAT", platformGroupId: id, topic: id, kind: "CADRE", orgUnitId } });
    await group(city.id, "cy-city@chatroom");
    await group(countyA.id, "cy-a@chatroom");
    await group(townA.id, "cy-a-t1@chatroom");
    const at = chinaDate(2026, 10, 1, 9, 30);
    expect((await sendDueReports(prisma, ctx.config, at)).sent).toBe(2);
    const said = await prisma.delivery.findMany({ include: { group: true }, orderBy: { id: "asc" } });
    const to = (g: string, head: string) => said.filter((d) => d.group?.platformGroupId === g && d.body.startsWith(head)).map((d) => d.body);
    expect(to("cy-city@chatroom", "【月报告】")).toEqual([expect.stringMatching(/^【月报告】2026年9月 江城市\n3 个县（市、区）、2 个支部/)]);
    expect(to("cy-city@chatroom", "【季通报】")).toEqual([expect.stringMatching(/^【季通报】2026年第三季度县（市、区）三会一课和民情诉求工作排名/)]);
    // The county's group: its line of the city's report, and its own report over its towns.
    expect(to("cy-a@chatroom", "【月报告】")).toEqual(expect.arrayContaining([expect.stringMatching(/^【月报告】2026年9月 甲县\n1 个乡镇、1 个支部/)]));
    expect(to("cy-a@chatroom", "【季通报】")).toEqual(expect.arrayContaining([expect.stringMatching(/^【季通报】2026年第三季度乡镇三会一课/)]));
    expect(to("cy-a-t1@chatroom", "【月报告】")).toEqual([expect.stringMatching(/^【月报告】2026年9月 甲一镇\n支部 1 个/)]);
    // One snapshot: the root's, which the county admin's own bulletin does not use.
    expect(await prisma.reportSnapshot.count({ where: { kind: "QUARTERLY", period: "2026-Q3" } })).toBe(1);
    const q = await call("/api/reports/quarterly?period=2026-Q3", { token: t.countyA });
    expect(q.json).toMatchObject({ source: "live", county: { id: countyA.id } });
    const qc = await call("/api/reports/quarterly?period=2026-Q3", { token: t.city });
    expect(qc.json).toMatchObject({ source: "snapshot", county: { id: city.id } });
  });
});
