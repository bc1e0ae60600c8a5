// Notices and read receipts: a member sees the notices of their branch and every unit above it; reading one in
// the mini-program, or answering 收到 in the group, records a read; cadres see who has and has not read.
import type { Channel, Prisma, PrismaClient } from "../db/index.ts";
import { AppError } from "../kernel/errors.ts";
import { pathInScope, subtreeWhere, type ScopeHolder } from "../org/scope.ts";
import { rosterWhere } from "../chat/binding.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

/** How long after a notice "收到" in its group still counts as reading it. */
export const RECEIPT_WINDOW_MS = 7 * 24 * 3600_000;

/** "/1/4/37/" → [1, 4, 37]: the unit and its ancestors. */
export const pathIds = (path: string) => path.split("/").filter(Boolean).map(Number);

export interface NoticeReader extends ScopeHolder {
  kind: "cadre" | "mp";
  memberId: number | null;
}

/** Members see their own units' notices (branch and above); cadres see their subtree's. */
function visibleWhere(reader: NoticeReader): Prisma.NoticeWhereInput {
  if (reader.kind === "mp") {
    if (!reader.orgPath) return { id: { in: [] } };
    // The branch and everything above it, and the member's own party group (below the branch).
    const own = reader.memberId != null ? [{ orgUnit: { partyGroupMembers: { some: { id: reader.memberId } } } }] : [];
    return { OR: [{ orgUnitId: { in: pathIds(reader.orgPath) } }, ...own] };
  }
  return { orgUnit: subtreeWhere(reader) };
}

export async function listNotices(tx: Tx, reader: NoticeReader, opts: { unitId?: number; limit: number; before?: number }) {
  const rows = await tx.notice.findMany({
    where: { AND: [visibleWhere(reader), opts.unitId ? { orgUnitId: opts.unitId } : {}, opts.before ? { id: { lt: opts.before } } : {}] },
    orderBy: { id: "desc" },
    take: opts.limit,
    include: {
      orgUnit: { select: { id: true, name: true } },
      meeting: { select: { id: true, type: true, plannedAt: true, status: true } },
      reads: reader.memberId ? { where: { memberId: reader.memberId }, select: { readAt: true } } : false,
    },
  });
  return rows.map(({ reads, ...n }) => ({ ...n, readAt: (reads as { readAt: Date }[] | undefined)?.[0]?.readAt ?? null }));
}

async function visibleNotice(tx: Tx, reader: NoticeReader, id: number) {
  const notice = await tx.notice.findUnique({
    where: { id },
    include: { orgUnit: { select: { id: true, name: true, path: true, kind: true } }, meeting: { select: { id: true, type: true, plannedAt: true, status: true, place: true } } },
  });
  if (!notice) throw new AppError("NOTICE_NOT_FOUND");
  const ownPartyGroup =
    reader.kind === "mp" && reader.memberId != null && notice.orgUnit.kind === "PARTY_GROUP" &&
    (await tx.member.count({ where: { id: reader.memberId, partyGroupId: notice.orgUnit.id } })) > 0;
  const ok = reader.kind === "mp" ? (!!reader.orgPath && reader.orgPath.startsWith(notice.orgUnit.path)) || ownPartyGroup : pathInScope(reader, notice.orgUnit.path);
  if (!ok) throw new AppError("OUT_OF_SCOPE", "无权查看该通知");
  return notice;
}

/** Opening a notice marks it read for the member reading it (the first read counts). */
export async function openNotice(tx: Tx, reader: NoticeReader, id: number, via: Channel) {
  const notice = await visibleNotice(tx, reader, id);
  let readAt: Date | null = null;
  if (reader.memberId != null) {
    await tx.noticeRead.createMany({ data: [{ noticeId: id, memberId: reader.memberId, via }], skipDuplicates: true });
    readAt = (await tx.noticeRead.findUnique({ where: { noticeId_memberId: { noticeId: id, memberId: reader.memberId } } }))?.readAt ?? null;
  }
  return { notice, readAt };
}

/** Who on the notice unit's roster has read it and who has not (cadres of that unit or above). */
export async function readReport(tx: Tx, reader: ScopeHolder, id: number) {
  const notice = await tx.notice.findUnique({ where: { id }, include: { orgUnit: true } });
  if (!notice) throw new AppError("NOTICE_NOT_FOUND");
  if (!pathInScope(reader, notice.orgUnit.path)) throw new AppError("OUT_OF_SCOPE", "无权查看该通知的阅读情况");
  const [roster, reads] = await Promise.all([
    tx.member.findMany({ where: rosterWhere(notice.orgUnit), select: { id: true, name: true }, orderBy: { id: "asc" } }),
    tx.noticeRead.findMany({ where: { noticeId: id }, select: { memberId: true, via: true, readAt: true }, orderBy: { readAt: "asc" } }),
  ]);
  const byMember = new Map(reads.map((r) => [r.memberId, r]));
  const read = roster.filter((m) => byMember.has(m.id)).map((m) => ({ memberId: m.id, name: m.name, via: byMember.get(m.id)!.via, readAt: byMember.get(m.id)!.readAt }));
  const unread = roster.filter((m) => !byMember.has(m.id)).map((m) => ({ memberId: m.id, name: m.name }));
  return { notice, rosterCount: roster.length, read, unread };
}

/** 收到 in a group: the latest notice of the group's unit from the last week counts as read. Returns it, if any. */
export async function acknowledgeLatestNotice(tx: Tx, memberId: number, unitId: number, via: Channel, now = new Date()) {
  const notice = await tx.notice.findFirst({ where: { orgUnitId: unitId, publishedAt: { gte: new Date(now.getTime() - RECEIPT_WINDOW_MS) } }, orderBy: { id: "desc" } });
  if (!notice) return null;
  await tx.noticeRead.createMany({ data: [{ noticeId: notice.id, memberId, via }], skipDuplicates: true });
  return notice;
}
