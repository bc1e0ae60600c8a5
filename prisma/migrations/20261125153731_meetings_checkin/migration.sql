-- AlterTable
ALTER TABLE "Attendance" ADD COLUMN     "ackedAt" TIMESTAMP(3),
ADD COLUMN     "decidedAt" TIMESTAMP(3),
ADD COLUMN     "groupId" INTEGER,
ADD COLUMN     "repeatedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Meeting" ADD COLUMN     "cancelReason" TEXT,
ADD COLUMN     "cancelledAt" TIMESTAMP(3),
ADD COLUMN     "qrRequired" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "Attendance_ackedAt_idx" ON "Attendance"("ackedAt");

-- CreateIndex
CREATE INDEX "Attendance_repeatedAt_idx" ON "Attendance"("repeatedAt");
