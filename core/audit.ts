// Every cadre action is written to the audit log: who, what, when, from which channel.
import type { Prisma, PrismaClient } from "./db/index.ts";

type Tx = Prisma.TransactionClient | PrismaClient;

export interface AuditEntry {
  actorId?: number | null;
  actorIdentityId?: number | null;
  /** "api", "WECHAT", "QQ", "MINIPROGRAM", "jobs" … */
  channel: string;
  action: string;
  targetType?: string;
  targetId?: string | number;
  detail?: Record<string, unknown>;
  requestId?: string;
}

export async function audit(tx: Tx, e: AuditEntry) {
  await tx.auditLog.create({
    data: {
      actorId: e.actorId ?? null,
      actorIdentityId: e.actorIdentityId ?? null,
      channel: e.channel,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId === undefined ? undefined : String(e.targetId),
      detail: e.detail as Prisma.InputJsonValue | undefined,
      requestId: e.requestId,
    },
  });
}
