-- AlterEnum
ALTER TYPE "MemberStatus" ADD VALUE 'SUSPENDED';

-- AlterEnum
ALTER TYPE "OrgKind" ADD VALUE 'CITY';

-- AlterTable
ALTER TABLE "CadreUser" ADD COLUMN     "createdById" INTEGER,
ADD COLUMN     "disabledAt" TIMESTAMP(3),
ADD COLUMN     "mustChangePassword" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "passwordChangedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "ChatGroup" ADD COLUMN     "lostAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Member" ADD COLUMN     "fullMemberOn" DATE,
ADD COLUMN     "rosterSince" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "OrgUnit" ADD COLUMN     "category" TEXT,
ADD COLUMN     "deactivatedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "OrgSpan" (
    "jointId" INTEGER NOT NULL,
    "villageId" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OrgSpan_pkey" PRIMARY KEY ("jointId","villageId")
);

-- CreateTable
CREATE TABLE "MemberStint" (
    "id" SERIAL NOT NULL,
    "memberId" INTEGER NOT NULL,
    "branchId" INTEGER NOT NULL,
    "partyGroupId" INTEGER,
    "status" "MemberStatus" NOT NULL,
    "validFrom" TIMESTAMP(3),
    "validTo" TIMESTAMP(3) NOT NULL,
    "endedBy" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MemberStint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BindCode" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "orgUnitId" INTEGER NOT NULL,
    "memberId" INTEGER,
    "createdById" INTEGER,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "usedByIdentityId" INTEGER,
    "usedGroupId" INTEGER,
    "revokedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BindCode_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "OrgSpan_villageId_idx" ON "OrgSpan"("villageId");

-- CreateIndex
CREATE INDEX "MemberStint_memberId_validTo_idx" ON "MemberStint"("memberId", "validTo");

-- CreateIndex
CREATE INDEX "MemberStint_branchId_validTo_idx" ON "MemberStint"("branchId", "validTo");

-- CreateIndex
CREATE INDEX "MemberStint_partyGroupId_validTo_idx" ON "MemberStint"("partyGroupId", "validTo");

-- CreateIndex
CREATE UNIQUE INDEX "BindCode_code_key" ON "BindCode"("code");

-- CreateIndex
CREATE INDEX "BindCode_orgUnitId_createdAt_idx" ON "BindCode"("orgUnitId", "createdAt");

-- AddForeignKey
ALTER TABLE "OrgSpan" ADD CONSTRAINT "OrgSpan_jointId_fkey" FOREIGN KEY ("jointId") REFERENCES "OrgUnit"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OrgSpan" ADD CONSTRAINT "OrgSpan_villageId_fkey" FOREIGN KEY ("villageId") REFERENCES "OrgUnit"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberStint" ADD CONSTRAINT "MemberStint_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberStint" ADD CONSTRAINT "MemberStint_branchId_fkey" FOREIGN KEY ("branchId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MemberStint" ADD CONSTRAINT "MemberStint_partyGroupId_fkey" FOREIGN KEY ("partyGroupId") REFERENCES "OrgUnit"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BindCode" ADD CONSTRAINT "BindCode_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BindCode" ADD CONSTRAINT "BindCode_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BindCode" ADD CONSTRAINT "BindCode_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "CadreUser"("id") ON DELETE SET NULL ON UPDATE CASCADE;
