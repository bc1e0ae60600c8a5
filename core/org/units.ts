// Reading the org tree within the caller's scope.
import type { Database } from "../db/index.ts";
import { requireUnitInScope, subtreeWhere, type ScopeHolder } from "./scope.ts";

export interface Page {
  page: number;
  pageSize: number;
}

/** Direct, active children of `parentId`, ordered by code; the parent itself must be in scope. */
export async function listChildUnits(db: Database, holder: ScopeHolder, parentId: number, { page, pageSize }: Page) {
  const parent = await requireUnitInScope(db, holder, parentId);
  // The subtree filter is redundant once the parent is in scope; it stays so this query cannot leak if the
  // check above is ever refactored away.
  const where = { parentId: parent.id, active: true, ...subtreeWhere(holder) };
  const [total, rows] = await db.prisma.$transaction([
    db.prisma.orgUnit.count({ where }),
    db.prisma.orgUnit.findMany({
      where,
      orderBy: [{ code: "asc" }, { id: "asc" }],
      skip: (page - 1) * pageSize,
      take: pageSize,
      select: { id: true, code: true, name: true, kind: true, path: true, _count: { select: { children: { where: { active: true } } } } },
    }),
  ]);
  return {
    parent: { id: parent.id, code: parent.code, name: parent.name, kind: parent.kind },
    items: rows.map(({ _count, ...u }) => ({ ...u, childCount: _count.children })),
    page,
    pageSize,
    total,
  };
}
