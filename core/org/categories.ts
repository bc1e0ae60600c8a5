// What a unit may be within its kind (OrgUnit.category) and which kind may hang under which: the one table the API,
// the console and the tree import all read. A null category means the kind's usual one (镇, 村, 村党支部 …).
import type { OrgKind } from "../db/generated/enums.ts";

export interface OrgCategory {
  kind: OrgKind;
  /** The stored value (OrgUnit.category), as people say it. */
  category: string;
  /** How the console shows it. */
  label: string;
}

export const JOINT_COMMITTEE = "联合党委";

/** Categories of a branch that sits on a village or community (only under a VILLAGE that is not a 联合党委). */
const VILLAGE_BRANCHES = ["村党支部", "社区党支部"];

export const ORG_CATEGORIES: readonly OrgCategory[] = [
  { kind: "CITY", category: "市", label: "市（州）" },
  { kind: "COUNTY", category: "县", label: "县" },
  { kind: "COUNTY", category: "市", label: "县级市" },
  { kind: "COUNTY", category: "区", label: "区" },
  { kind: "TOWN", category: "镇", label: "镇" },
  { kind: "TOWN", category: "乡", label: "乡" },
  { kind: "TOWN", category: "街道", label: "街道" },
  { kind: "VILLAGE", category: "村", label: "村" },
  { kind: "VILLAGE", category: "社区", label: "社区" },
  { kind: "VILLAGE", category: JOINT_COMMITTEE, label: "联合党委（跨村）" },
  { kind: "BRANCH", category: "村党支部", label: "村党支部" },
  { kind: "BRANCH", category: "社区党支部", label: "社区党支部" },
  { kind: "BRANCH", category: "产业党支部", label: "产业党支部（建在产业链上）" },
  { kind: "BRANCH", category: "合作社党支部", label: "合作社党支部" },
  { kind: "BRANCH", category: "项目党支部", label: "项目党支部" },
  { kind: "BRANCH", category: "网络党支部", label: "网络党支部（流动党员等）" },
  { kind: "BRANCH", category: "机关党支部", label: "机关党支部" },
  { kind: "BRANCH", category: "联合党支部", label: "联合党支部" },
  { kind: "PARTY_GROUP", category: "党小组", label: "党小组" },
];

export const KIND_LABEL: Record<OrgKind, string> = {
  CITY: "市",
  COUNTY: "县",
  TOWN: "乡镇（街道）",
  VILLAGE: "村（社区）",
  BRANCH: "党支部",
  PARTY_GROUP: "党小组",
};

/** The kinds that may be created under a unit of each kind. */
export const CHILD_KINDS: Record<OrgKind, readonly OrgKind[]> = {
  CITY: ["COUNTY"],
  COUNTY: ["TOWN"],
  TOWN: ["VILLAGE", "BRANCH"],
  VILLAGE: ["BRANCH"],
  BRANCH: ["PARTY_GROUP"],
  PARTY_GROUP: [],
};

export function categoryAllowed(kind: OrgKind, category: string | null): boolean {
  return category === null || ORG_CATEGORIES.some((c) => c.kind === kind && c.category === category);
}

export const categoriesOf = (kind: OrgKind) => ORG_CATEGORIES.filter((c) => c.kind === kind).map((c) => c.category);

/**
 * Why a unit of `kind`/`category` cannot hang under `parent`, or null when it can. A branch directly under a town is a
 * functional or joint one (not a 村/社区党支部, whose place is under its village); under a 联合党委 the same.
 */
export function placementProblem(parent: { kind: OrgKind; category: string | null; name: string }, kind: OrgKind, category: string | null): string | null {
  if (!CHILD_KINDS[parent.kind].includes(kind)) {
    const allowed = CHILD_KINDS[parent.kind].map((k) => KIND_LABEL[k]);
    return allowed.length
      ? `“${parent.name}”是${KIND_LABEL[parent.kind]}，其下只能设立${allowed.join("或")}，不能设立${KIND_LABEL[kind]}。`
      : `“${parent.name}”是${KIND_LABEL[parent.kind]}，其下不能再设立下级单位。`;
  }
  if (kind === "BRANCH" && (category === null || VILLAGE_BRANCHES.includes(category))) {
    const functional = parent.kind === "TOWN" || (parent.kind === "VILLAGE" && parent.category === JOINT_COMMITTEE);
    if (functional) {
      return `“${parent.name}”下直接设立的党支部须为功能型或联合党支部（产业党支部、合作社党支部、项目党支部、网络党支部、机关党支部、联合党支部），村（社区）党支部请建在对应的村（社区）下。`;
    }
  }
  return null;
}
