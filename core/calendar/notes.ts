// The calendar's memory of what it has said. Every reminder, alert and report has a key (kind, target, period);
// claiming the key and writing the outbox rows happen in one transaction, so a second jobs process, a retried tick
// or a process killed mid-run can neither double nor lose one (design.md: level-triggered jobs).
import type { Prisma, PrismaClient } from "../db/index.ts";

type Tx = Prisma.TransactionClient;

export interface NoteInput {
  key: string;
  kind: string;
  orgUnitId?: number | null;
  period?: string | null;
  dueAt: Date;
}

/** What a tick does with something that fell due at `dueAt`. */
export type NoteAction = { act: "wait" } | { act: "send" } | { act: "skip"; reason: string };

/**
 * Catch-up policy: not yet due → wait; due, within the horizon and still useful → send; otherwise recorded as
 * skipped (after downtime, a reminder for a meeting that has started, or one days late, would only confuse).
 */
export function noteAction(now: Date, dueAt: Date, horizonMs: number, expiresAt?: Date | null): NoteAction {
  if (now < dueAt) return { act: "wait" };
  if (expiresAt && now >= expiresAt) return { act: "skip", reason: "EXPIRED" };
  if (now.getTime() - dueAt.getTime() > horizonMs) return { act: "skip", reason: "PAST_CATCHUP_HORIZON" };
  return { act: "send" };
}

/**
 * Claims the note's key; true when this caller won it and must now write its deliveries in the same transaction
 * (then call setNoteDeliveries). false: someone already sent or skipped it.
 */
export async function claimNote(tx: Tx, note: NoteInput, status: "SENT" | "SKIPPED" = "SENT", reason?: string): Promise<boolean> {
  const { count } = await tx.calendarNote.createMany({
    data: [{ key: note.key, kind: note.kind, orgUnitId: note.orgUnitId ?? null, period: note.period ?? null, dueAt: note.dueAt, status, reason: reason ?? null }],
    skipDuplicates: true,
  });
  return count === 1;
}

export async function setNoteDeliveries(tx: Tx, key: string, deliveries: number) {
  await tx.calendarNote.update({ where: { key }, data: { deliveries } });
}

/** Keys among `keys` already sent or skipped: one query with one array parameter, whatever the sweep's size. */
export async function knownNotes(tx: Tx | PrismaClient, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM "CalendarNote" WHERE key = ANY(${keys}::text[])`;
  return new Set(rows.map((r) => r.key));
}
