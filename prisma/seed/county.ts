// The simulated county: a deterministic, plausible 县 → 镇/街道 → 村/社区 → 党支部 → 党小组 → 党员 tree plus the
// chat side (one bot account, a WeChat group per branch, cadre groups) and console logins. Pure data, no database:
// the same options always give the same rows, so demos, tests and benchmarks talk about the same county.
//
// Ids are assigned here (explicit ids in createMany) so materialised paths are known before insert; the loader
// resets the id sequences afterwards.
import { generateHistory, historyDay, type AttendanceRow, type ComplaintEventRow, type ComplaintRow, type DailyCounterRow, type MeetingRow } from "./history.ts";
import type {
  AccountStatus,
  CadreRole,
  Channel,
  Gender,
  GroupKind,
  MemberStatus,
  OrgKind,
} from "../../core/db/index.ts";

export interface GenerateOptions {
  /** PRNG seed; default 1. */
  seed?: number;
  /** Exact number of party members; default 25,000. */
  members?: number;
  /** BotAccount.name and ChatIdentity.scope; default "wx-main" (config BOT_ACCOUNT). */
  accountName?: string;
  /**
   * Also generate a past (history.ts): six months of meetings with attendance, and complaints in every state, up to
   * `asOf`. Default false: tests and benchmarks that only need the county keep loading exactly the county.
   */
  history?: boolean;
  /** The "today" of the history (default: now); only its China date matters, so a day's runs give the same rows. */
  asOf?: Date;
}

export const DEFAULT_SEED = 1;
export const DEFAULT_MEMBERS = 25_000;
export const DEFAULT_ACCOUNT_NAME = "wx-main";

/** Demo console passwords, one per role, printed by `npm run seed` and the demo. Never use outside a demo. */
export const DEMO_PASSWORDS = {
  county: "County@2026",
  town: "Town@2026",
  secretary: "Branch@2026",
} as const;

export const COUNTY_CODE = "C01";
export const COUNTY_NAME = "示范县";

/** Fixed "today" of the simulation: ages, join dates and binding times derive from it, never from the clock. */
const REFERENCE_DATE = Date.UTC(2026, 10, 1); // 2026-11-01
const REFERENCE_YEAR = 2026;
const BOUND_AT = new Date(Date.UTC(2026, 2, 1, 1, 30)); // groups bound / identities linked at roll-out

// ───────────────────────────── row shapes (ready for createMany) ─────────────────────────────

export interface OrgUnitRow {
  id: number;
  code: string;
  name: string;
  kind: OrgKind;
  parentId: number | null;
  path: string;
  depth: number;
  themeDayOfMonth: number | null;
}

export interface MemberRow {
  id: number;
  name: string;
  gender: Gender;
  branchId: number;
  partyGroupId: number | null;
  phone: string | null;
  birthYear: number;
  joinedPartyOn: Date;
  status: MemberStatus;
  isSecretary: boolean;
  isCommittee: boolean;
  isGroupLeader: boolean;
}

export interface BotAccountRow {
  id: number;
  name: string;
  channel: Channel;
  displayName: string;
  status: AccountStatus;
}

export interface ChatGroupRow {
  id: number;
  channel: Channel;
  platformGroupId: string;
  topic: string;
  kind: GroupKind;
  orgUnitId: number;
  boundAt: Date;
  memberCount: number;
}

export interface GroupAccountRow {
  groupId: number;
  accountId: number;
}

export interface ChatIdentityRow {
  id: number;
  channel: Channel;
  scope: string;
  platformUserId: string;
  displayName: string;
  memberId: number;
  linkedAt: Date;
}

export interface GroupMembershipRow {
  groupId: number;
  identityId: number;
}

/** A console login; the loader turns `password` into `passwordHash`. */
export interface CadreUserSeed {
  id: number;
  username: string;
  password: string;
  displayName: string;
  role: CadreRole;
  orgUnitId: number;
  memberId: number | null;
}

export interface CountyData {
  options: Required<GenerateOptions>;
  /** Parents before children (county, towns, villages, branches, party groups), so batches never break the FK. */
  orgUnits: OrgUnitRow[];
  members: MemberRow[];
  botAccounts: BotAccountRow[];
  chatGroups: ChatGroupRow[];
  groupAccounts: GroupAccountRow[];
  chatIdentities: ChatIdentityRow[];
  groupMemberships: GroupMembershipRow[];
  cadreUsers: CadreUserSeed[];
  /** The past (empty unless options.history). */
  meetings: MeetingRow[];
  attendances: AttendanceRow[];
  complaints: ComplaintRow[];
  complaintEvents: ComplaintEventRow[];
  dailyCounters: DailyCounterRow[];
}

// ───────────────────────────── PRNG ─────────────────────────────

/** mulberry32: tiny, fast, good enough for test data, and identical on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes seed and stream label so each stream (org, people, chat) is independent: the org tree of a seed does not
 * change when only the member count does. */
export function streamSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Inclusive on both ends. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  normal(mean = 0, sd = 1): number {
    // Box–Muller; 1 - u keeps log away from 0.
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
  /** Draws k distinct items, order of the source kept. */
  sample<T>(items: readonly T[], k: number): T[] {
    const idx = this.shuffle(items.map((_, i) => i)).slice(0, k).sort((a, b) => a - b);
    return idx.map((i) => items[i]);
  }
}

export class Weighted<T> {
  private readonly cumulative: number[] = [];
  private readonly total: number;
  constructor(private readonly items: readonly (readonly [T, number])[]) {
    let sum = 0;
    for (const [, w] of items) this.cumulative.push((sum += w));
    this.total = sum;
  }
  draw(rng: Rng): T {
    const x = rng.float() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo][0];
  }
}

/** Splits `total` into integer parts proportional to `weights`, each at least `min`, summing exactly to `total`
 * (largest remainder). */
function apportion(total: number, weights: number[], min: number): number[] {
  const rest = total - min * weights.length;
  if (rest < 0) throw new RangeError(`cannot give ${weights.length} parts at least ${min} out of ${total}`);
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (rest * w) / sum);
  const parts = exact.map((x) => Math.floor(x));
  let left = rest - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k++, left--) parts[byRemainder[k % byRemainder.length][1]]++;
  return parts.map((p) => p + min);
}

// ───────────────────────────── names ─────────────────────────────

// Approximate shares (%) from the 2020 census surname ranking; the tail is lumped at a small weight.
const SURNAMES = new Weighted<string>([
  ["王", 7.1], ["李", 7.0], ["张", 6.6], ["刘", 5.4], ["陈", 4.5], ["杨", 3.1], ["黄", 2.2], ["赵", 2.2],
  ["吴", 2.0], ["周", 1.9], ["徐", 1.6], ["孙", 1.5], ["马", 1.4], ["朱", 1.3], ["胡", 1.3], ["郭", 1.2],
  ["何", 1.2], ["高", 1.1], ["林", 1.1], ["罗", 1.0], ["郑", 0.9], ["梁", 0.9], ["谢", 0.8], ["宋", 0.7],
  ["唐", 0.7], ["许", 0.7], ["韩", 0.6], ["冯", 0.6], ["邓", 0.6], ["曹", 0.6], ["彭", 0.6], ["曾", 0.5],
  ["肖", 0.5], ["田", 0.5], ["董", 0.5], ["袁", 0.5], ["潘", 0.4], ["于", 0.4], ["蒋", 0.4], ["蔡", 0.4],
  ["余", 0.4], ["杜", 0.4], ["叶", 0.4], ["程", 0.4], ["苏", 0.3], ["魏", 0.3], ["吕", 0.3], ["丁", 0.3],
  ["任", 0.3], ["沈", 0.3], ["姚", 0.3], ["卢", 0.3], ["姜", 0.3], ["崔", 0.3], ["钟", 0.3], ["谭", 0.2],
  ["陆", 0.2], ["汪", 0.2], ["范", 0.2], ["金", 0.2], ["石", 0.2], ["廖", 0.2], ["贾", 0.2], ["夏", 0.2],
  ["韦", 0.2], ["付", 0.2], ["方", 0.2], ["白", 0.2], ["邹", 0.2], ["孟", 0.2], ["熊", 0.2], ["秦", 0.2],
  ["邱", 0.2], ["江", 0.2], ["尹", 0.2], ["薛", 0.2], ["闫", 0.2], ["段", 0.2], ["雷", 0.2], ["侯", 0.2],
  ["龙", 0.1], ["史", 0.1], ["陶", 0.1], ["黎", 0.1], ["贺", 0.1], ["顾", 0.1], ["毛", 0.1], ["郝", 0.1],
  ["欧阳", 0.04], ["司马", 0.01], ["上官", 0.01], ["诸葛", 0.01],
]);
// Surnames that give village names (李家庄村): common ones, so the clan bias below is plausible.
const VILLAGE_SURNAMES = [
  "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
  "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "田", "董", "袁", "潘", "于", "蒋", "杜",
  "程", "魏", "吕", "丁", "任", "姚", "崔", "贾", "孟", "段", "侯", "史", "郝", "牛", "庞", "岳",
];

// Given names are built from a "first" and a "last" character pool per gender: real two-character names have a
// positional pattern (志强, 建华, 秀英, 丽娟) that uniform pairs of characters do not.
const MALE_FIRST = [..."志建国文德永振海晓春俊家明宏立子天世金伟卫新庆红正成长学光兴锦云玉瑞宇浩博嘉泽"];
const MALE_LAST = [..."强伟明华军杰涛斌刚平辉鹏飞波宁峰林东海龙生福成勇磊超亮新民刚荣胜利彬凯鑫宇浩然轩阳杰洋"];
const FEMALE_FIRST = [..."秀桂玉丽美晓春海雪红淑慧小婷静佳丹雅金凤彩翠爱素月冬艳欣梦思诗雨佳子一"];
const FEMALE_LAST = [..."英兰芳华珍梅霞萍红燕娟丽玲琴云莲敏静婷洁琳芬凤霞娜颖雯倩怡涵萱妍蕾菲"];
// Given names typical of members born before the mid-1960s (建国, 秀英): old rural rosters are full of them.
const OLD_MALE_NAMES = ["建国", "国庆", "建军", "卫东", "国强", "建华", "志强", "德明", "永福", "振华", "光明", "国栋", "树林", "长生", "福贵", "保国", "爱国", "卫国", "红军", "跃进"];
const OLD_FEMALE_NAMES = ["秀英", "桂英", "秀兰", "玉兰", "桂兰", "凤英", "秀珍", "淑珍", "玉珍", "桂芳", "秀云", "桂珍", "玉梅", "淑英", "凤兰", "秀芳", "翠花", "金凤", "春梅", "玉芬"];

function givenName(rng: Rng, gender: Gender, birthYear: number): string {
  const female = gender === "FEMALE";
  if (birthYear < 1966 && rng.chance(0.35)) return rng.pick(female ? OLD_FEMALE_NAMES : OLD_MALE_NAMES);
  const last = female ? FEMALE_LAST : MALE_LAST;
  if (rng.chance(0.28)) return rng.pick(last);
  const b = rng.pick(last);
  // Reduplicated names (婷婷, 丽丽) exist, mostly for women.
  if (female && rng.chance(0.03)) return b + b;
  let a = rng.pick(female ? FEMALE_FIRST : MALE_FIRST);
  while (a === b) a = rng.pick(female ? FEMALE_FIRST : MALE_FIRST);
  return a + b;
}

// ───────────────────────────── places ─────────────────────────────

type TownType = "城关" | "街道" | "镇" | "乡";

const STREET_NAMES = ["城东街道", "城西街道", "城南街道", "城北街道", "文昌街道", "新华街道", "凤鸣街道"];
const TOWN_NAMES = [
  "东山镇", "西河镇", "南岭镇", "北塘镇", "石桥镇", "柳林镇", "白沙镇", "马坊镇", "龙泉镇", "新集镇", "双河镇", "三里镇",
  "高庙镇", "杨柳镇", "桃园镇", "金山镇", "青石镇", "大王庄镇", "太平镇", "永安镇", "长乐镇", "兴隆镇", "黄土镇", "官桥镇",
];
const TOWNSHIP_NAMES = ["清河乡", "梨园乡", "花园乡", "沙河乡", "凤凰乡", "松林乡", "石门乡", "古城乡", "云台乡", "芦岭乡"];

const VILLAGE_PLACE_SUFFIX_JIA = ["庄", "村", "湾", "坝", "沟", "洼", "营", "寨", "堡", "岭", "河", "店", "集", "楼", "屯", "台"];
const VILLAGE_PLACE_SUFFIX = ["庄", "营", "集", "寨", "楼", "店", "屯", "桥", "坊", "岗"];
const VILLAGE_DIRECTIONS = ["东", "西", "南", "北", "前", "后", "上", "下", "大", "小", "新", "老"];
const VILLAGE_FEATURES = ["庄", "河", "岗", "湾", "坡", "沟", "桥", "店", "营", "堡", "塘", "坪", "寨", "屯", "洼", "岭"];
const VILLAGE_WORDS = [
  "石桥", "柳树", "杏花", "桃园", "梨树", "枣林", "松树", "槐树", "杨树", "白石", "黄土", "青山", "红旗", "新华", "前进",
  "胜利", "和平", "团结", "幸福", "光明", "建设", "友谊", "东风", "五星", "双龙", "三合", "永丰", "丰收", "兴旺", "太平",
  "长青", "平安", "金鸡", "凤凰", "龙王", "马头", "牛角", "石门", "沙河", "清水", "白杨", "桑园", "稻香", "荷花", "芦塘",
];
const COMMUNITY_STEMS = [
  "河西", "河东", "城南", "城北", "文化", "建设", "人民", "解放", "新华", "胜利", "花园", "幸福", "和平", "阳光", "锦绣",
  "滨河", "站前", "中山", "育才", "康乐", "翠苑", "南关", "北关", "东关", "西关", "府前", "学府", "振兴", "朝阳", "明珠",
  "金桥", "柳岸", "书院", "文庙", "钟楼", "鼓楼", "青年", "工农", "向阳", "长安", "东门", "西门", "南门", "北门", "龙湖",
  "凤栖", "紫荆", "桂花", "丽景", "清风", "华苑", "新城", "古城", "塔院", "仓前", "车站", "园林", "文峰", "湖滨", "火车站",
];
// Mostly bare (幸福社区), some after a road (人民路社区).
const COMMUNITY_SUFFIXES = new Weighted<string>([["", 6], ["路", 2], ["街", 1], ["里", 1]]);

function villageName(rng: Rng): { name: string; clan: string | null } {
  const r = rng.float();
  if (r < 0.4) {
    const s = rng.pick(VILLAGE_SURNAMES);
    return { name: `${s}家${rng.pick(VILLAGE_PLACE_SUFFIX_JIA)}村`, clan: s };
  }
  if (r < 0.6) {
    const s = rng.pick(VILLAGE_SURNAMES);
    return { name: `${s}${rng.pick(VILLAGE_PLACE_SUFFIX)}村`, clan: s };
  }
  if (r < 0.8) return { name: `${rng.pick(VILLAGE_DIRECTIONS)}${rng.pick(VILLAGE_FEATURES)}村`, clan: null };
  return { name: `${rng.pick(VILLAGE_WORDS)}村`, clan: null };
}

/** One community per stem: 文庙路社区 next to 文庙街社区 reads like a bug. Falls back to a numbered name. */
function communityName(rng: Rng, usedStems: Set<string>): string {
  const free = COMMUNITY_STEMS.filter((s) => !usedStems.has(s));
  if (!free.length) return `${rng.pick(COMMUNITY_STEMS)}${rng.pick(CHINESE_ORDINALS)}社区`;
  const stem = rng.pick(free);
  usedStems.add(stem);
  return `${stem}${COMMUNITY_SUFFIXES.draw(rng)}社区`;
}

const CHINESE_ORDINALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
const pad = (n: number, width = 2) => String(n).padStart(width, "0");

const MOBILE_PREFIXES = [
  "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
  "150", "151", "152", "153", "155", "156", "157", "158", "159",
  "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
];
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

// ───────────────────────────── generator ─────────────────────────────

interface Village {
  org: OrgUnitRow;
  town: OrgUnitRow;
  townIndex: number;
  community: boolean;
  clan: string | null;
  branch?: OrgUnitRow;
  groups: OrgUnitRow[];
}

export function generateCounty(opts: GenerateOptions = {}): CountyData {
  const options: Required<GenerateOptions> = {
    seed: opts.seed ?? DEFAULT_SEED,
    members: opts.members ?? DEFAULT_MEMBERS,
    accountName: opts.accountName ?? DEFAULT_ACCOUNT_NAME,
    history: opts.history ?? false,
    asOf: historyDay(opts.asOf ?? new Date()),
  };
  if (!Number.isInteger(options.members) || options.members < 0) throw new RangeError("members must be a non-negative integer");
  if (!Number.isInteger(options.seed)) throw new RangeError("seed must be an integer");

  const orgRng = new Rng(streamSeed(options.seed, 1));
  const peopleRng = new Rng(streamSeed(options.seed, 2));
  const chatRng = new Rng(streamSeed(options.seed, 3));

  // ── organisation: county, 20 towns, ~250 villages, one branch each, 3–6 party groups per branch ──
  const orgUnits: OrgUnitRow[] = [];
  let nextOrgId = 1;
  const addOrg = (code: string, name: string, kind: OrgKind, parent: OrgUnitRow | null): OrgUnitRow => {
    const id = nextOrgId++;
    const row: OrgUnitRow = {
      id,
      code,
      name,
      kind,
      parentId: parent?.id ?? null,
      path: `${parent?.path ?? "/"}${id}/`,
      depth: parent ? parent.depth + 1 : 0,
      themeDayOfMonth: null,
    };
    orgUnits.push(row);
    return row;
  };

  const county = addOrg(COUNTY_CODE, COUNTY_NAME, "COUNTY", null);

  // The county seat's 城关镇 first, then the urban 街道, then 镇 and 乡 — the order county rosters use.
  const townPlan: { name: string; type: TownType }[] = [
    { name: "城关镇", type: "城关" },
    ...orgRng.sample(STREET_NAMES, 3).map((name) => ({ name, type: "街道" as const })),
    ...orgRng.sample(TOWN_NAMES, 12).map((name) => ({ name, type: "镇" as const })),
    ...orgRng.sample(TOWNSHIP_NAMES, 4).map((name) => ({ name, type: "乡" as const })),
  ];
  const towns = townPlan.map((t, i) => addOrg(`${COUNTY_CODE}-T${pad(i + 1)}`, t.name, "TOWN", county));

  const baseWeight: Record<TownType, number> = { 城关: 1.1, 街道: 0.6, 镇: 1.0, 乡: 0.75 };
  const townWeights = townPlan.map((t) => baseWeight[t.type] * Math.exp(orgRng.normal(0, 0.25)));
  const villageCounts = apportion(orgRng.int(242, 258), townWeights, 5);

  const usedVillageNames = new Set<string>();
  const usedCommunityStems = new Set<string>();
  const uniqueName = (make: () => string): string => {
    for (;;) {
      const name = make();
      if (!usedVillageNames.has(name)) {
        usedVillageNames.add(name);
        return name;
      }
    }
  };
  const villages: Village[] = [];
  townPlan.forEach((plan, ti) => {
    const town = towns[ti];
    const stem = plan.name.replace(/(街道|镇|乡)$/, "");
    for (let vi = 0; vi < villageCounts[ti]; vi++) {
      // 街道 are all communities; 城关镇 is half urban; a 镇 has its seat community (东山社区) first.
      const community =
        plan.type === "街道" ||
        (plan.type === "城关" && orgRng.chance(0.5)) ||
        (plan.type === "镇" && vi === 0 && orgRng.chance(0.6));
      let clan: string | null = null;
      let name: string;
      if (community && plan.type === "镇" && !usedVillageNames.has(`${stem}社区`)) {
        name = uniqueName(() => `${stem}社区`);
      } else if (community) {
        name = uniqueName(() => communityName(orgRng, usedCommunityStems));
      } else {
        name = uniqueName(() => {
          const v = villageName(orgRng);
          clan = v.clan;
          return v.name;
        });
      }
      const org = addOrg(`${town.code}-V${pad(vi + 1)}`, name, "VILLAGE", town);
      villages.push({ org, town, townIndex: ti, community, clan, groups: [] });
    }
  });
  for (const v of villages) {
    v.branch = addOrg(`${v.org.code}-B`, `${v.org.name}党支部`, "BRANCH", v.org);
    // Most branches keep the county's 主题党日; some fixed their own day.
    if (orgRng.chance(0.3)) v.branch.themeDayOfMonth = orgRng.pick([5, 8, 10, 15, 20, 25]);
  }
  for (const v of villages) {
    const n = orgRng.int(3, 6);
    for (let g = 0; g < n; g++) {
      v.groups.push(addOrg(`${v.branch!.code}-G${g + 1}`, `第${CHINESE_ORDINALS[g]}党小组`, "PARTY_GROUP", v.branch!));
    }
  }
  // Branch sizes are drawn from the org stream too, so the tree and the proportions do not move with `members`.
  const branchWeights = villages.map((v) => (v.community ? 1.2 : 1.0) * Math.exp(orgRng.normal(0, 0.45)));

  // ── members ──
  const minPerBranch = Math.min(3, Math.floor(options.members / villages.length));
  const sizes = apportion(options.members, branchWeights, minPerBranch);
  const members: MemberRow[] = [];
  const phones = new Set<string>();
  const newPhone = (): string => {
    for (;;) {
      const p = peopleRng.pick(MOBILE_PREFIXES) + String(peopleRng.int(0, 99_999_999)).padStart(8, "0");
      if (!phones.has(p)) {
        phones.add(p);
        return p;
      }
    }
  };
  const branchMembers: MemberRow[][] = [];

  villages.forEach((v, bi) => {
    const roster: MemberRow[] = [];
    for (let k = 0; k < sizes[bi]; k++) {
      const gender: Gender = peopleRng.chance(v.community ? 0.55 : 0.72) ? "MALE" : "FEMALE";
      // Rural membership skews old: a third of the roster is past 65.
      const band = peopleRng.float();
      const age =
        band < 0.18 ? peopleRng.int(22, 35) : band < 0.4 ? peopleRng.int(36, 50) : band < 0.7 ? peopleRng.int(51, 65) : peopleRng.int(66, 92);
      const birthYear = REFERENCE_YEAR - age;
      const probationary = peopleRng.chance(age <= 45 ? 0.08 : 0.005);
      let joinedPartyOn: Date;
      if (probationary) {
        // 预备期 is one year: joined within the last twelve months.
        joinedPartyOn = new Date(REFERENCE_DATE - peopleRng.int(10, 360) * 86_400_000);
      } else {
        // Full members joined at 18 or older and more than a year ago (the probation year is over); many on 七一.
        const joinAge = Math.max(18, Math.min(Math.round(peopleRng.normal(27, 6)), REFERENCE_YEAR - 2 - birthYear));
        const onJulyFirst = peopleRng.chance(0.15);
        joinedPartyOn = new Date(
          Date.UTC(birthYear + joinAge, onJulyFirst ? 6 : peopleRng.int(0, 11), onJulyFirst ? 1 : peopleRng.int(1, 28)),
        );
      }
      // Villages named after a clan (李家庄村) are full of that surname.
      const surname = v.clan && peopleRng.chance(0.35) ? v.clan : SURNAMES.draw(peopleRng);
      roster.push({
        id: 0,
        name: surname + givenName(peopleRng, gender, birthYear),
        gender,
        branchId: v.branch!.id,
        partyGroupId: null,
        phone: age >= 80 && peopleRng.chance(0.25) ? null : newPhone(),
        birthYear,
        joinedPartyOn,
        status: probationary ? "PROBATIONARY" : "ACTIVE",
        isSecretary: false,
        isCommittee: false,
        isGroupLeader: false,
      });
    }
    if (roster.length) assignRoles(peopleRng, roster, v.groups);
    for (const m of roster) {
      m.id = members.length + 1;
      members.push(m);
    }
    branchMembers.push(roster);
  });

  // ── chat side ──
  const accountId = 1;
  const botAccounts: BotAccountRow[] = [
    { id: accountId, name: options.accountName, channel: "WECHAT", displayName: `${COUNTY_NAME}党建助手`, status: "OFFLINE" },
  ];
  const roomIds = new Set<string>();
  const newRoomId = (): string => {
    for (;;) {
      const id = `${chatRng.int(1, 4)}${String(chatRng.int(0, 9_999_999_999)).padStart(10, "0")}@chatroom`;
      if (!roomIds.has(id)) {
        roomIds.add(id);
        return id;
      }
    }
  };
  const wxids = new Set<string>();
  const newWxid = (): string => {
    for (;;) {
      let s = "wxid_";
      for (let i = 0; i < 14; i++) s += ID_ALPHABET[chatRng.int(0, ID_ALPHABET.length - 1)];
      if (!wxids.has(s)) {
        wxids.add(s);
        return s;
      }
    }
  };

  const chatGroups: ChatGroupRow[] = [];
  const addGroup = (kind: GroupKind, org: OrgUnitRow, topic: string): ChatGroupRow => {
    const row: ChatGroupRow = {
      id: chatGroups.length + 1,
      channel: "WECHAT",
      platformGroupId: newRoomId(),
      topic,
      kind,
      orgUnitId: org.id,
      boundAt: BOUND_AT,
      memberCount: 0,
    };
    chatGroups.push(row);
    return row;
  };
  addGroup("CADRE", county, `${COUNTY_NAME}党建工作群`);
  const townGroups = towns.map((t) => addGroup("CADRE", t, `${t.name}党建工作群`));
  const branchGroups = villages.map((v) => addGroup("BRANCH", v.branch!, `${v.org.name}党员群`));

  const chatIdentities: ChatIdentityRow[] = [];
  const groupMemberships: GroupMembershipRow[] = [];
  const identityOf = new Map<number, number>();
  villages.forEach((_, bi) => {
    const group = branchGroups[bi];
    for (const m of branchMembers[bi]) {
      const id = chatIdentities.length + 1;
      chatIdentities.push({
        id,
        channel: "WECHAT",
        scope: options.accountName,
        platformUserId: newWxid(),
        displayName: m.name,
        memberId: m.id,
        linkedAt: BOUND_AT,
      });
      identityOf.set(m.id, id);
      groupMemberships.push({ groupId: group.id, identityId: id });
      group.memberCount++;
    }
  });
  // Secretaries also sit in their town's cadre group, where overdue alerts and reports land.
  villages.forEach((v, bi) => {
    const secretary = branchMembers[bi].find((m) => m.isSecretary);
    if (!secretary) return;
    const group = townGroups[v.townIndex];
    groupMemberships.push({ groupId: group.id, identityId: identityOf.get(secretary.id)! });
    group.memberCount++;
  });
  const groupAccounts: GroupAccountRow[] = chatGroups.map((g) => ({ groupId: g.id, accountId }));

  // ── console logins ──
  const cadreUsers: CadreUserSeed[] = [];
  const addUser = (u: Omit<CadreUserSeed, "id">) => cadreUsers.push({ id: cadreUsers.length + 1, ...u });
  addUser({ username: "county_admin", password: DEMO_PASSWORDS.county, displayName: "县委组织部管理员", role: "COUNTY_ADMIN", orgUnitId: county.id, memberId: null });
  // A second county admin: broadcasts need approval by someone other than the drafter.
  addUser({ username: "county_admin2", password: DEMO_PASSWORDS.county, displayName: "县委组织部审核员", role: "COUNTY_ADMIN", orgUnitId: county.id, memberId: null });
  // A town admin (组织委员) is a party member too: one of the committee of the town's first branch (its seat), who
  // sits in the town's cadre group, so the demo can speak as them (本月报告 privately) with a chat identity.
  towns.forEach((t, i) => {
    const admin = townAdminMember(villages, branchMembers, i);
    if (admin) {
      const identityId = identityOf.get(admin.id)!;
      groupMemberships.push({ groupId: townGroups[i].id, identityId });
      townGroups[i].memberCount++;
    }
    addUser({
      username: `town${pad(i + 1)}_admin`,
      password: DEMO_PASSWORDS.town,
      displayName: admin?.name ?? `${t.name}组织委员`,
      role: "TOWN_ADMIN",
      orgUnitId: t.id,
      memberId: admin?.id ?? null,
    });
  });
  villages.forEach((v, bi) => {
    const secretary = branchMembers[bi].find((m) => m.isSecretary);
    if (!secretary) return;
    addUser({
      username: secretaryUsername(v.org.code),
      password: DEMO_PASSWORDS.secretary,
      displayName: secretary.name,
      role: "BRANCH_SECRETARY",
      orgUnitId: v.branch!.id,
      memberId: secretary.id,
    });
  });

  const data: CountyData = {
    options, orgUnits, members, botAccounts, chatGroups, groupAccounts, chatIdentities, groupMemberships, cadreUsers,
    meetings: [], attendances: [], complaints: [], complaintEvents: [], dailyCounters: [],
  };
  if (options.history) Object.assign(data, generateHistory(data, new Rng(streamSeed(options.seed, 4))));
  return data;
}

/** The town's admin: a full, non-secretary committee member of its first branch (fallback: any non-secretary). */
function townAdminMember(villages: Village[], branchMembers: MemberRow[][], townIndex: number): MemberRow | undefined {
  const bi = villages.findIndex((v) => v.townIndex === townIndex);
  if (bi < 0) return undefined;
  const roster = branchMembers[bi];
  return (
    roster.find((m) => m.isCommittee && !m.isSecretary && m.status === "ACTIVE") ??
    roster.find((m) => !m.isSecretary && m.status === "ACTIVE") ??
    roster.find((m) => !m.isSecretary)
  );
}

/** "C01-T03-V07" → "sec_t03v07". */
export function secretaryUsername(villageCode: string): string {
  const m = /-T(\d+)-V(\d+)/.exec(villageCode);
  if (!m) throw new Error(`not a village code: ${villageCode}`);
  return `sec_t${m[1]}v${m[2]}`;
}

/** Party groups, secretary (also on the committee), 2–4 more committee members, one leader per non-empty group. */
function assignRoles(rng: Rng, roster: MemberRow[], groups: OrgUnitRow[]): void {
  // Contiguous blocks: a party group is a neighbourhood, so the roster order (by household) is kept.
  const n = roster.length;
  groups.forEach((g, gi) => {
    for (let k = Math.floor((gi * n) / groups.length); k < Math.floor(((gi + 1) * n) / groups.length); k++) roster[k].partyGroupId = g.id;
  });

  const full = roster.filter((m) => m.status === "ACTIVE");
  const prime = full.filter((m) => REFERENCE_YEAR - m.birthYear >= 30 && REFERENCE_YEAR - m.birthYear <= 62);
  const pool = prime.length ? prime : full.length ? full : roster;
  // Secretaries are more often men than the roster is; weight rather than exclude.
  const weighted = new Weighted(pool.map((m) => [m, m.gender === "MALE" ? 3 : 1] as const));
  const secretary = weighted.draw(rng);
  secretary.isSecretary = true;
  secretary.isCommittee = true;

  const others = (full.length ? full : roster).filter((m) => m !== secretary);
  for (const m of rng.sample(others, Math.min(rng.int(2, 4), others.length))) m.isCommittee = true;

  for (const g of groups) {
    const inGroup = roster.filter((m) => m.partyGroupId === g.id);
    if (!inGroup.length) continue;
    const leader = inGroup.find((m) => !m.isSecretary && m.status === "ACTIVE") ?? inGroup[0];
    leader.isGroupLeader = true;
  }
}
