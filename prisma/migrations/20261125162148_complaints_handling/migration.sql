-- AlterEnum
ALTER TYPE "ComplaintEventKind" ADD VALUE 'URGENT_SET';

-- AlterTable
ALTER TABLE "Complaint" ADD COLUMN     "anonymous" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "extensionDays" INTEGER,
ADD COLUMN     "location" TEXT,
ADD COLUMN     "ownerMemberId" INTEGER,
ADD COLUMN     "remindedDueAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "ComplaintEvent" ADD COLUMN     "actorMemberId" INTEGER,
ADD COLUMN     "channel" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE INDEX "Complaint_ownerMemberId_status_idx" ON "Complaint"("ownerMemberId", "status");

-- AddForeignKey
ALTER TABLE "Complaint" ADD CONSTRAINT "Complaint_ownerMemberId_fkey" FOREIGN KEY ("ownerMemberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ComplaintEvent" ADD CONSTRAINT "ComplaintEvent_actorMemberId_fkey" FOREIGN KEY ("actorMemberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;
