// The simulated county's past, so the dashboard, the 参会率 trend and the 季通报 show real-looking figures from the
// first start: six months (and the current month so far) of 三会一课 meetings and study sessions with attendance, and
// 民情诉求 in every state. Pure and deterministic: the same county, seed and day give the same rows.
//
// Everything here is settled history, so starting the system on it sends nothing it should not:
// - every meeting is before today and finalized (finalizedAt set), every chat check-in already announced (ackedAt
//   set): the finalize job and the summary loop have nothing to do, and the calendar's catch-up finds their
//   reminders expired (the meeting is over);
// - complaints carry the events the escalation job would have written by then (催办, 逾期上报 to the town and the
//   county, closing after the rating window), computed with the default time limits; their state is what
//   applyEvent makes of their events, so history and columns agree.
import type { AttendanceSource, AttendanceStatus, ComplaintEventKind, ComplaintRating, ComplaintStatus, LeaveDecision, MeetingStatus, MeetingType } from "../../core/db/index.ts";
import { WorkCalendar } from "../../core/calendar/workdays.ts";
import { countyEscalationAt, deadlinesFrom, redoDeadline, type ComplaintConfig } from "../../core/complaints/deadlines.ts";
import { applyEvent, isOpen, type ComplaintState, type StateEvent } from "../../core/complaints/state.ts";
import type { CountyData, MemberRow, Rng } from "./county.ts";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const CHINA_OFFSET = 8 * HOUR;
/** Months of history: the current month so far and the five before it. */
export const HISTORY_MONTHS = 6;

/** The time limits the history's complaints follow: the defaults of core/config.ts. */
const COMPLAINT_DEFAULTS = {
  COMPLAINT_RESPONSE_WORKDAYS: 1,
  COMPLAINT_RESOLVE_WORKDAYS: 5,
  COMPLAINT_URGENT_RESPONSE_HOURS: 2,
  COMPLAINT_URGENT_RESOLVE_WORKDAYS: 1,
  COMPLAINT_ESCALATE_AGAIN_WORKDAYS: 2,
  COMPLAINT_PHOTO_WINDOW_MIN: 5,
  COMPLAINT_PHOTO_MAX_BYTES: 10 * 1024 * 1024,
  COMPLAINT_RATING_WINDOW_DAYS: 7,
} satisfies ComplaintConfig;

// ───────────────────────────── row shapes ─────────────────────────────

export interface MeetingRow {
  id: number;
  orgUnitId: number;
  type: MeetingType;
  topic: string;
  place: string;
  plannedAt: Date;
  durationMinutes: number;
  heldAt: Date | null;
  checkinOpensAt: Date;
  checkinClosesAt: Date;
  status: MeetingStatus;
  minutes: string | null;
  createdById: number | null;
  finalizedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface AttendanceRow {
  meetingId: number;
  memberId: number;
  identityId: number | null;
  status: AttendanceStatus;
  source: AttendanceSource;
  note: string | null;
  leaveDecision: LeaveDecision | null;
  decidedById: number | null;
  decidedAt: Date | null;
  groupId: number | null;
  ackedAt: Date | null;
  recordedAt: Date;
  updatedAt: Date;
}

export interface ComplaintRow {
  id: number;
  number: string;
  orgUnitId: number;
  filerIdentityId: number | null;
  filerMemberId: number | null;
  filerName: string;
  filerPhone: string | null;
  channel: "WECHAT";
  content: string;
  category: string;
  location: string | null;
  anonymous: boolean;
  urgent: boolean;
  status: ComplaintStatus;
  ownerId: number | null;
  ownerMemberId: number | null;
  responseDueAt: Date;
  resolveDueAt: Date;
  claimedAt: Date | null;
  resolvedAt: Date | null;
  resolution: string | null;
  rating: ComplaintRating | null;
  ratingComment: string | null;
  ratedAt: Date | null;
  reopenCount: number;
  escalationLevel: number;
  extensionDays: number | null;
  remindedDueAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ComplaintEventRow {
  complaintId: number;
  kind: ComplaintEventKind;
  actorId: number | null;
  actorMemberId: number | null;
  actorIdentityId: number | null;
  channel: string;
  fromUnitId: number | null;
  toUnitId: number | null;
  note: string | null;
  data: unknown;
  createdAt: Date;
}

export interface DailyCounterRow {
  scope: string;
  day: string;
  value: number;
}

export interface History {
  meetings: MeetingRow[];
  attendances: AttendanceRow[];
  complaints: ComplaintRow[];
  complaintEvents: ComplaintEventRow[];
  dailyCounters: DailyCounterRow[];
}

// ───────────────────────────── time ─────────────────────────────

/** Local midnight (Asia/Shanghai) of the day containing `d`: the history's "today". */
export function historyDay(d: Date): Date {
  const local = d.getTime() + CHINA_OFFSET;
  return new Date(local - (((local % DAY) + DAY) % DAY) - CHINA_OFFSET);
}

/** The instant of a local date and time; month may overflow. */
const at = (year: number, month: number, day: number, hour = 0, minute = 0) => new Date(Date.UTC(year, month - 1, day, hour, minute) - CHINA_OFFSET);
const localParts = (d: Date) => {
  const l = new Date(d.getTime() + CHINA_OFFSET);
  return { year: l.getUTCFullYear(), month: l.getUTCMonth() + 1, day: l.getUTCDate() };
};
const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const stamp = (d: Date) => new Date(d.getTime() + CHINA_OFFSET).toISOString().slice(0, 10).replace(/-/g, "");

// ───────────────────────────── wording ─────────────────────────────

const COMMITTEE_TOPICS = [
  "研究部署本月党建和村级重点工作", "研究发展党员和入党积极分子培养工作", "研究村集体经济项目推进情况", "讨论本月民生实事和为民办事清单",
  "研究安全生产和防汛防火工作", "研究党员积分管理和评星定级", "研究困难党员和困难群众帮扶名单", "分析研判本月民情诉求办理情况",
];
const THEME_TOPICS: Record<number, string> = {
  1: "开展新春走访慰问困难党员活动", 2: "学习中央一号文件精神", 3: "学雷锋志愿服务活动", 4: "清明祭英烈主题教育",
  5: "“五一”劳动模范事迹学习", 6: "党纪学习教育专题学习", 7: "庆祝中国共产党成立105周年暨重温入党誓词", 8: "学习习近平总书记重要讲话精神",
  9: "秋收助农志愿服务", 10: "重阳节走访慰问老党员", 11: "学习党的二十届四中全会精神", 12: "年终组织生活会准备和谈心谈话",
};
const GROUP_TOPICS = ["传达支部委员会会议精神，交流党员联系户情况", "学习党章和党内法规，讨论本组民情", "组织党员开展环境卫生整治", "学习支部主题党日内容，开展批评与自我批评"];
const CONGRESS_TOPICS = ["通报支部季度工作，讨论接收预备党员", "审议村级重大事项“四议两公开”", "选举出席上级党代会代表候选人推荐人选", "通报党费收缴和党务公开情况"];
const LECTURE_TOPICS = ["书记讲党课：弘扬伟大建党精神", "书记讲党课：推进乡村全面振兴", "老党员讲党课：我的入党故事", "专题党课：严守党的纪律规矩"];
const STUDY_TOPICS = ["学习党的二十届四中全会精神", "学习《中国共产党农村基层组织工作条例》", "学习习近平新时代中国特色社会主义思想", "学习乡村振兴政策文件"];
const LEAVE_NOTES = ["外出务工", "身体不适", "家中有事", "在外地照顾孩子", "住院治疗", "农忙", "出差"];

/** What villagers complain about: category, content, where, how it was settled. */
const COMPLAINTS: { category: string; content: string; location: string | null; resolution: string }[] = [
  { category: "基础设施", content: "村东头路灯坏了好几天了，晚上出行不安全", location: "村东头", resolution: "已联系电工更换灯泡，路灯恢复照明" },
  { category: "基础设施", content: "通组道路有一段塌陷，雨天车辆无法通行", location: "三组通组路", resolution: "已用碎石填平并设置警示标志，列入明年硬化计划" },
  { category: "饮水", content: "这几天自来水浑浊，有泥沙", location: null, resolution: "水厂已冲洗管网，水质检测合格" },
  { category: "饮水", content: "二组水压太低，楼上接不到水", location: "二组", resolution: "已更换加压泵，水压恢复正常" },
  { category: "环境卫生", content: "垃圾收集点好几天没有清运，味道很大", location: "村委会旁垃圾点", resolution: "已督促保洁公司每日清运，并增加一个垃圾桶" },
  { category: "环境卫生", content: "河道里漂浮垃圾较多，希望清理", location: "村前小河", resolution: "已组织党员志愿者清理河道，河长定期巡查" },
  { category: "社会保障", content: "母亲的医保卡报销不了门诊费用，不知道怎么办", location: null, resolution: "已协助到镇便民服务中心办理门诊慢特病备案" },
  { category: "社会保障", content: "申请低保三个月了还没有结果", location: null, resolution: "已向镇民政办核实，材料补齐后已通过审核" },
  { category: "社会保障", content: "养老保险缴费记录少了一年，请帮忙查询", location: null, resolution: "已联系社保所核对，漏记年份已补录" },
  { category: "邻里纠纷", content: "邻居在宅基地边上砌墙，占了我家的路", location: null, resolution: "村调委会现场调解，双方签订协议，围墙已后退" },
  { category: "邻里纠纷", content: "养狗不拴绳，孩子被吓到好几次", location: null, resolution: "已上门劝导犬主文明养犬，承诺拴绳出行" },
  { category: "农业生产", content: "灌溉渠堵塞，下游的田放不进水", location: "南坝灌溉渠", resolution: "已组织清淤，渠道恢复通水" },
  { category: "农业生产", content: "希望请农技员来讲讲果树病虫害防治", location: null, resolution: "已联系镇农技站，本周六在村委会开展培训" },
  { category: "农业生产", content: "耕地地力保护补贴没有到账", location: null, resolution: "已核实系银行卡号有误，更正后补贴已发放" },
  { category: "安全隐患", content: "村口电线杆倾斜，怕刮风倒下来", location: "村口", resolution: "已报供电所，电杆已扶正加固" },
  { category: "安全隐患", content: "学校门口车辆太多太快，希望设减速带", location: "小学门口", resolution: "已协调交管部门安装减速带和警示牌" },
  { category: "公共服务", content: "卫生室下午经常没人，看病不方便", location: "村卫生室", resolution: "已与镇卫生院协调，卫生室实行全天值班" },
  { category: "公共服务", content: "快递只能到镇上取，老人取件困难", location: null, resolution: "已在村党群服务中心设快递代收点" },
  { category: "村务公开", content: "想了解今年村集体收入和支出情况", location: null, resolution: "已在村务公开栏公布上半年收支明细，并当面解释" },
  { category: "村务公开", content: "修路占地补偿标准没有公示", location: null, resolution: "补偿标准已在公开栏和党员群公示" },
];
const RATING_COMMENTS: Record<ComplaintRating, string[]> = {
  SATISFIED: ["修得很及时", "谢谢书记", "办得很好", "", "", ""],
  BASICALLY_SATISFIED: ["慢了点", "基本解决了", "", ""],
  DISSATISFIED: ["问题还没彻底解决", "过两天又坏了", "没人来看过"],
};

// ───────────────────────────── generator ─────────────────────────────

interface BranchCtx {
  id: number;
  townId: number;
  countyId: number;
  themeDay: number;
  community: boolean;
  roster: MemberRow[];
  committee: MemberRow[];
  groups: { id: number; members: MemberRow[] }[];
  secretary: MemberRow | undefined;
  secretaryUserId: number | null;
  chatGroupId: number | null;
  /** Chance a required meeting is held, and the usual share present. */
  diligence: number;
  turnout: number;
}

export function generateHistory(c: Pick<CountyData, "options" | "orgUnits" | "members" | "chatIdentities" | "chatGroups" | "cadreUsers">, rng: Rng): History {
  const today = c.options.asOf;
  const { year: ty, month: tm } = localParts(today);
  const firstMonth = { year: ty, month: tm - (HISTORY_MONTHS - 1) };
  const historyStart = at(firstMonth.year, firstMonth.month, 1);

  const identityOf = new Map<number, number>();
  for (const i of c.chatIdentities) if (!identityOf.has(i.memberId)) identityOf.set(i.memberId, i.id);
  const userOf = new Map<number, number>();
  for (const u of c.cadreUsers) if (u.memberId != null) userOf.set(u.memberId, u.id);
  const groupOf = new Map<number, number>();
  for (const g of c.chatGroups) if (g.kind === "BRANCH") groupOf.set(g.orgUnitId, g.id);

  const byId = new Map(c.orgUnits.map((o) => [o.id, o]));
  const branches = new Map<number, BranchCtx>();
  for (const o of c.orgUnits) {
    if (o.kind !== "BRANCH") continue;
    const ancestors = o.path.split("/").filter(Boolean).map(Number);
    const profile = rng.float();
    // Most branches keep the rules; some slip now and then; a few lag badly (the dashboard's red).
    // Turnout is what village branches see with many members away working: most, rarely all.
    const [diligence, turnout] = profile < 0.68 ? [0.97, 0.8] : profile < 0.88 ? [0.78, 0.68] : [0.4, 0.55];
    branches.set(o.id, {
      id: o.id,
      townId: ancestors[1],
      countyId: ancestors[0],
      themeDay: o.themeDayOfMonth ?? 10,
      community: byId.get(o.parentId!)?.name.endsWith("社区") ?? false,
      roster: [],
      committee: [],
      groups: [],
      secretary: undefined,
      secretaryUserId: null,
      chatGroupId: groupOf.get(o.id) ?? null,
      diligence,
      turnout: Math.min(0.95, Math.max(0.4, turnout + rng.normal(0, 0.04))),
    });
  }
  const groupIndex = new Map<number, { id: number; members: MemberRow[] }>();
  for (const o of c.orgUnits) {
    if (o.kind !== "PARTY_GROUP") continue;
    const g = { id: o.id, members: [] as MemberRow[] };
    groupIndex.set(o.id, g);
    branches.get(o.parentId!)?.groups.push(g);
  }
  for (const m of c.members) {
    const b = branches.get(m.branchId);
    if (!b || (m.status !== "ACTIVE" && m.status !== "PROBATIONARY")) continue;
    b.roster.push(m);
    if (m.isCommittee) b.committee.push(m);
    if (m.isSecretary) {
      b.secretary = m;
      b.secretaryUserId = userOf.get(m.id) ?? null;
    }
    if (m.partyGroupId != null) groupIndex.get(m.partyGroupId)?.members.push(m);
  }

  const meetings: MeetingRow[] = [];
  const attendances: AttendanceRow[] = [];

  const addMeeting = (b: BranchCtx, orgUnitId: number, type: MeetingType, topic: string, plannedAt: Date, people: MemberRow[], turnout: number) => {
    // Only what is over: today's and later meetings are for the people trying the demo to publish.
    if (plannedAt >= today || plannedAt < historyStart) return;
    const duration = type === "COMMITTEE" ? 60 : type === "PARTY_GROUP" ? 60 : 90;
    const opens = new Date(plannedAt.getTime() - 30 * 60_000);
    const closes = new Date(plannedAt.getTime() + duration * 60_000);
    const id = meetings.length + 1;
    const created = new Date(plannedAt.getTime() - rng.int(2, 6) * DAY - rng.int(0, 8) * HOUR);
    meetings.push({
      id,
      orgUnitId,
      type,
      topic,
      place: b.community ? "社区党群服务中心" : type === "COMMITTEE" ? "村委会办公室" : "村党群服务中心会议室",
      plannedAt,
      durationMinutes: duration,
      heldAt: plannedAt,
      checkinOpensAt: opens,
      checkinClosesAt: closes,
      status: "HELD",
      minutes: null,
      createdById: b.secretaryUserId,
      finalizedAt: new Date(closes.getTime() + 60_000),
      createdAt: created,
      updatedAt: new Date(closes.getTime() + 60_000),
    });
    const rate = Math.min(0.98, Math.max(0.3, turnout + rng.normal(0, 0.05)));
    const decider = b.secretaryUserId;
    for (const m of people) {
      if (m.joinedPartyOn > plannedAt) continue;
      const identityId = identityOf.get(m.id) ?? null;
      // The organiser is always there.
      if (m.isSecretary || rng.chance(rate)) {
        const viaChat = identityId !== null && b.chatGroupId !== null && rng.chance(0.9);
        const recorded = viaChat
          ? new Date(opens.getTime() + rng.int(0, 45) * 60_000 + rng.int(0, 59) * 1000)
          : new Date(Math.min(closes.getTime() + rng.int(1, 20) * HOUR, Math.max(closes.getTime() + 60_000, today.getTime() - 60_000))); // 补录 in the console afterwards, before today
        attendances.push({
          meetingId: id,
          memberId: m.id,
          identityId: viaChat ? identityId : null,
          status: "PRESENT",
          source: viaChat ? "WECHAT" : "CONSOLE",
          note: null,
          leaveDecision: null,
          decidedById: null,
          decidedAt: null,
          groupId: viaChat ? b.chatGroupId : null,
          ackedAt: viaChat ? new Date(recorded.getTime() + 60_000) : null,
          recordedAt: recorded,
          updatedAt: recorded,
        });
      } else if (identityId !== null && b.chatGroupId !== null && rng.chance(0.3)) {
        const recorded = new Date(plannedAt.getTime() - rng.int(1, 20) * HOUR - rng.int(0, 59) * 60_000);
        const decided = new Date(recorded.getTime() + rng.int(10, 180) * 60_000);
        attendances.push({
          meetingId: id,
          memberId: m.id,
          identityId,
          status: "LEAVE",
          source: "WECHAT",
          note: rng.pick(LEAVE_NOTES),
          leaveDecision: "APPROVED",
          decidedById: decider,
          decidedAt: decided,
          groupId: b.chatGroupId,
          ackedAt: new Date(recorded.getTime() + 60_000),
          recordedAt: recorded,
          updatedAt: decided,
        });
      }
    }
  };

  for (const b of branches.values()) {
    if (!b.roster.length) continue;
    // Quarterly meetings: one month of each quarter, chosen per branch and quarter.
    const quarterPick = new Map<string, { congress: number; lecture: number }>();
    for (let k = HISTORY_MONTHS - 1; k >= 0; k--) {
      const year = ty + Math.floor((tm - 1 - k) / 12);
      const month = ((((tm - 1 - k) % 12) + 12) % 12) + 1;
      const qKey = `${year}-${Math.ceil(month / 3)}`;
      if (!quarterPick.has(qKey)) quarterPick.set(qKey, { congress: rng.int(0, 2), lecture: rng.int(0, 2) });
      const pick = quarterPick.get(qKey)!;
      const inQuarter = (month - 1) % 3;
      // Lagging branches slip more in the latest months (what a town's 月报告 would flag).
      const p = k <= 1 && b.diligence < 0.5 ? b.diligence * 0.7 : b.diligence;

      if (rng.chance(p)) {
        addMeeting(b, b.id, "COMMITTEE", rng.pick(COMMITTEE_TOPICS), at(year, month, rng.int(2, 8), rng.pick([9, 14, 19]), 30), b.committee.length ? b.committee : [b.secretary ?? b.roster[0]], Math.max(b.turnout, 0.85));
      }
      const themeHeld = rng.chance(p);
      const themeDate = Math.min(daysIn(year, month), b.themeDay + (rng.chance(0.2) ? rng.int(-2, 2) : 0));
      if (themeHeld) addMeeting(b, b.id, "THEME_DAY", THEME_TOPICS[month], at(year, month, Math.max(1, themeDate), 9, 0), b.roster, b.turnout);
      for (const g of b.groups) {
        if (g.members.length && rng.chance(p * 0.88)) {
          addMeeting(b, g.id, "PARTY_GROUP", rng.pick(GROUP_TOPICS), at(year, month, rng.int(12, 25), 19, 30), g.members, b.turnout);
        }
      }
      if (inQuarter === pick.congress && rng.chance(p)) {
        // A lagging branch's 党员大会 may miss the quorum (half the members): held, but it does not count.
        addMeeting(b, b.id, "MEMBER_CONGRESS", rng.pick(CONGRESS_TOPICS), at(year, month, rng.int(15, 25), 9, 0), b.roster, b.turnout);
      }
      if (inQuarter === pick.lecture && rng.chance(p)) {
        // Usually right after the 主题党日, in the same room.
        const lectureAt = themeHeld ? at(year, month, Math.max(1, themeDate), 10, 40) : at(year, month, rng.int(16, 26), 15, 0);
        addMeeting(b, b.id, "PARTY_LECTURE", rng.pick(LECTURE_TOPICS), lectureAt, b.roster, b.turnout - 0.02);
      }
      if (rng.chance(0.08)) {
        addMeeting(b, b.id, "STUDY", rng.pick(STUDY_TOPICS), at(year, month, rng.int(13, 28), 19, 30), b.roster, b.turnout - 0.08);
      }
    }
  }

  const complaintsOut = generateComplaints(c, branches, rng, historyStart, today);
  return { meetings, attendances, ...complaintsOut };
}

// ───────────────────────────── complaints ─────────────────────────────

interface Planned {
  at: Date;
  e: Omit<ComplaintEventRow, "complaintId" | "createdAt">;
}

function generateComplaints(
  c: Pick<CountyData, "chatIdentities">,
  branches: Map<number, BranchCtx>,
  rng: Rng,
  historyStart: Date,
  today: Date,
): Pick<History, "complaints" | "complaintEvents" | "dailyCounters"> {
  const calendar = new WorkCalendar();
  const cfg = COMPLAINT_DEFAULTS;
  const identityOf = new Map<number, number>();
  for (const i of c.chatIdentities) if (!identityOf.has(i.memberId)) identityOf.set(i.memberId, i.id);
  const span = today.getTime() - HOUR - historyStart.getTime();

  interface Draft {
    filedAt: Date;
    row: Omit<ComplaintRow, "id" | "number" | keyof ComplaintState | "createdAt" | "updatedAt">;
    events: (Omit<ComplaintEventRow, "complaintId">)[];
    state: ComplaintState;
  }
  const drafts: Draft[] = [];

  for (const b of branches.values()) {
    if (!b.roster.length || !b.secretary) continue;
    const n = rng.int(0, 3) + (b.community ? 1 : 0) + (b.roster.length > 120 ? 1 : 0);
    for (let k = 0; k < n; k++) {
      // Skewed to recent weeks, so some are still open; filed in the daytime, China time.
      const day = historyDay(new Date(historyStart.getTime() + span * Math.pow(rng.float(), 0.7)));
      const filedAt = new Date(day.getTime() + rng.int(8, 20) * HOUR + rng.int(0, 59) * 60_000 + rng.int(0, 59) * 1000);
      if (filedAt >= today) continue;
      const filer = rng.pick(b.roster.filter((m) => !m.isSecretary).length ? b.roster.filter((m) => !m.isSecretary) : b.roster);
      const identityId = identityOf.get(filer.id) ?? null;
      const anonymous = rng.chance(0.06);
      const topic = rng.pick(COMPLAINTS);
      const due = deadlinesFrom(calendar, cfg, filedAt, false);
      const filedData = { unitId: b.id, urgent: false, responseDueAt: due.responseDueAt.toISOString(), resolveDueAt: due.resolveDueAt.toISOString() };
      const filerFields = { actorId: null, actorMemberId: anonymous ? null : filer.id, actorIdentityId: identityId, channel: "WECHAT" };
      const viaChat = rng.chance(0.7);
      const cadre = { actorId: b.secretaryUserId, actorMemberId: b.secretary.id, actorIdentityId: viaChat ? (identityOf.get(b.secretary.id) ?? null) : null, channel: viaChat ? "WECHAT" : "api" };

      // What people do, with times; the jobs' steps are merged in below.
      const human: Planned[] = [];
      const after = (t: Date, minH: number, maxH: number) => new Date(t.getTime() + rng.int(Math.round(minH * 60), Math.round(maxH * 60)) * 60_000);
      if (rng.chance(0.04)) {
        human.push({ at: after(filedAt, 1, 20), e: { ...filerFields, kind: "WITHDRAWN", fromUnitId: null, toUnitId: null, note: "问题已自行解决", data: {} } });
      } else {
        const claimRoll = rng.float();
        const respondWindowH = (due.responseDueAt.getTime() - filedAt.getTime()) / HOUR;
        // Left alone (still unclaimed, or never resolved) only lately: an old ticket was handled in the end, if late.
        const recent = filedAt.getTime() > today.getTime() - 15 * DAY;
        const claimedAt =
          claimRoll < 0.85 ? after(filedAt, 0.3, Math.max(0.5, respondWindowH - 0.5)) : claimRoll < 0.96 || !recent ? after(due.responseDueAt, 1, 30) : null;
        if (claimedAt) {
          human.push({ at: claimedAt, e: { ...cadre, kind: "CLAIMED", fromUnitId: null, toUnitId: null, note: null, data: {} } });
          if (rng.chance(0.3)) human.push({ at: after(claimedAt, 2, 30), e: { ...cadre, kind: "REPLIED", fromUnitId: null, toUnitId: null, note: "已安排人员现场查看，请您耐心等待", data: {} } });
          const resolveRoll = rng.float();
          const resolveWindowH = Math.max(4, (due.resolveDueAt.getTime() - claimedAt.getTime()) / HOUR);
          const resolvedAt =
            resolveRoll < 0.84 ? after(claimedAt, 3, resolveWindowH - 1) : resolveRoll < 0.95 || !recent ? after(due.resolveDueAt, 4, 60) : null;
          if (resolvedAt) {
            human.push({ at: resolvedAt, e: { ...cadre, kind: "RESOLVED", fromUnitId: null, toUnitId: null, note: topic.resolution, data: {} } });
            if (rng.chance(0.8)) {
              const ratedAt = after(resolvedAt, 1, 72);
              const r = rng.float();
              const rating: ComplaintRating = r < 0.72 ? "SATISFIED" : r < 0.9 ? "BASICALLY_SATISFIED" : "DISSATISFIED";
              const comment = rng.pick(RATING_COMMENTS[rating]) || null;
              human.push({ at: ratedAt, e: { ...filerFields, kind: "RATED", fromUnitId: null, toUnitId: null, note: comment, data: { rating } } });
              if (rating === "DISSATISFIED") {
                const reopenAt = new Date(ratedAt.getTime() + 1000);
                const redo = redoDeadline(calendar, cfg, reopenAt, false);
                human.push({ at: reopenAt, e: { ...filerFields, kind: "REOPENED", fromUnitId: null, toUnitId: null, note: comment, data: { resolveDueAt: redo.toISOString() } } });
                const again = after(reopenAt, 20, 90);
                human.push({ at: again, e: { ...cadre, kind: "RESOLVED", fromUnitId: null, toUnitId: null, note: `回访后重新办理：${topic.resolution}`, data: {} } });
                if (rng.chance(0.85)) {
                  const second: ComplaintRating = rng.chance(0.7) ? "BASICALLY_SATISFIED" : "SATISFIED";
                  human.push({ at: after(again, 2, 48), e: { ...filerFields, kind: "RATED", fromUnitId: null, toUnitId: null, note: null, data: { rating: second } } });
                }
              }
            }
          }
        }
      }
      const filedEvent = { ...filerFields, kind: "FILED" as const, fromUnitId: null, toUnitId: b.id, note: null, data: filedData, createdAt: filedAt };
      const { events, state } = playOut(filedEvent, human, today, b, calendar, cfg);
      drafts.push({
        filedAt,
        row: {
          filerIdentityId: identityId,
          filerMemberId: anonymous ? null : filer.id,
          filerName: anonymous ? "" : filer.name,
          filerPhone: anonymous ? null : filer.phone,
          channel: "WECHAT",
          content: topic.content,
          category: topic.category,
          location: topic.location,
          anonymous,
        },
        events,
        state,
      });
    }
  }

  // Numbers count per China day in filing order, as nextComplaintNumber does; the counters continue from there.
  drafts.sort((a, b) => a.filedAt.getTime() - b.filedAt.getTime());
  const perDay = new Map<string, number>();
  const complaints: ComplaintRow[] = [];
  const complaintEvents: ComplaintEventRow[] = [];
  drafts.forEach((d, i) => {
    const day = stamp(d.filedAt);
    const seq = (perDay.get(day) ?? 0) + 1;
    perDay.set(day, seq);
    const id = i + 1;
    complaints.push({
      id,
      number: `LX${day}-${String(seq).padStart(4, "0")}`,
      ...d.row,
      ...d.state,
      createdAt: d.filedAt,
      updatedAt: d.events[d.events.length - 1].createdAt,
    });
    for (const e of d.events) complaintEvents.push({ complaintId: id, ...e });
  });
  const dailyCounters = [...perDay].map(([day, value]) => ({ scope: "complaint", day, value }));
  return { complaints, complaintEvents, dailyCounters };
}

/**
 * Applies the people's steps in time order and, in between, the escalation job's (every 5 minutes): 催办 when
 * unclaimed past the response limit, 逾期上报 to the town then the county, closing when unrated past the window.
 * A step the state no longer allows (rating a ticket the job already closed) is dropped, as the service would refuse it.
 */
function playOut(
  filed: Omit<ComplaintEventRow, "complaintId">,
  human: Planned[],
  today: Date,
  b: BranchCtx,
  calendar: WorkCalendar,
  cfg: ComplaintConfig,
): { events: Omit<ComplaintEventRow, "complaintId">[]; state: ComplaintState } {
  const asState = (e: Omit<ComplaintEventRow, "complaintId">): StateEvent => ({ ...e, createdAt: e.createdAt });
  let state = applyEvent(null, asState(filed));
  const events = [filed];
  // The job runs every 5 minutes; a step due just before midnight is written at the last moment of the history.
  const tick = (t: Date) => new Date(Math.min(Math.ceil(t.getTime() / 300_000) * 300_000 + 3000, Math.max(t.getTime(), today.getTime() - 1000)));
  const system = { actorId: null, actorMemberId: null, actorIdentityId: null, channel: "jobs" };
  const nextJobStep = (s: ComplaintState): Omit<ComplaintEventRow, "complaintId"> | null => {
    const steps: Omit<ComplaintEventRow, "complaintId">[] = [];
    if (s.status === "SUBMITTED" && s.remindedDueAt?.getTime() !== s.responseDueAt.getTime()) {
      steps.push({ ...system, kind: "REMINDED", fromUnitId: null, toUnitId: s.orgUnitId, note: null, data: { responseDueAt: s.responseDueAt.toISOString() }, createdAt: tick(s.responseDueAt) });
    }
    if (isOpen(s.status) && s.escalationLevel === 0) {
      steps.push({ ...system, kind: "ESCALATED", fromUnitId: s.orgUnitId, toUnitId: b.townId, note: null, data: { level: 1 }, createdAt: tick(s.resolveDueAt) });
    }
    if (isOpen(s.status) && s.escalationLevel === 1) {
      steps.push({ ...system, kind: "ESCALATED", fromUnitId: s.orgUnitId, toUnitId: b.countyId, note: null, data: { level: 2 }, createdAt: tick(countyEscalationAt(calendar, cfg, s.resolveDueAt)) });
    }
    if (s.status === "RESOLVED" && !s.rating && s.resolvedAt) {
      steps.push({ ...system, kind: "CLOSED", fromUnitId: null, toUnitId: null, note: "评价期已过，自动结案", data: { reason: "rating-window" }, createdAt: tick(new Date(s.resolvedAt.getTime() + cfg.COMPLAINT_RATING_WINDOW_DAYS * DAY)) });
    }
    steps.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime());
    return steps[0] ?? null;
  };
  const apply = (e: Omit<ComplaintEventRow, "complaintId">): boolean => {
    try {
      state = applyEvent(state, asState(e));
      events.push(e);
      return true;
    } catch {
      // Not allowed any more in this state: the person's step never happened.
      return false;
    }
  };
  const queue = [...human].sort((x, y) => x.at.getTime() - y.at.getTime());
  for (;;) {
    const h = queue[0];
    const job = nextJobStep(state);
    const hAt = h && h.at < today ? h.at : null;
    if (job && job.createdAt < today && (!hAt || job.createdAt < hAt)) {
      // The job's conditions mirror the reducer's, so this holds; stopping beats looping if they ever drift apart.
      if (!apply(job)) break;
      continue;
    }
    if (!hAt) break;
    queue.shift();
    apply({ ...h.e, createdAt: hAt });
  }
  return { events, state };
}
