-- CreateEnum
CREATE TYPE "CalendarNoteStatus" AS ENUM ('SENT', 'SKIPPED');

-- CreateEnum
CREATE TYPE "ReportKind" AS ENUM ('MONTHLY', 'QUARTERLY');

-- CreateTable
CREATE TABLE "CalendarNote" (
    "key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "orgUnitId" INTEGER,
    "period" TEXT,
    "dueAt" TIMESTAMP(3) NOT NULL,
    "status" "CalendarNoteStatus" NOT NULL,
    "reason" TEXT,
    "deliveries" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CalendarNote_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "ReportSnapshot" (
    "id" SERIAL NOT NULL,
    "kind" "ReportKind" NOT NULL,
    "period" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "generatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ReportSnapshot_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CalendarNote_kind_dueAt_idx" ON "CalendarNote"("kind", "dueAt");

-- CreateIndex
CREATE INDEX "CalendarNote_orgUnitId_kind_idx" ON "CalendarNote"("orgUnitId", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "ReportSnapshot_kind_period_key" ON "ReportSnapshot"("kind", "period");
