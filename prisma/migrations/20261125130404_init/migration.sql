-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "OrgKind" AS ENUM ('COUNTY', 'TOWN', 'VILLAGE', 'BRANCH', 'PARTY_GROUP');

-- CreateEnum
CREATE TYPE "Gender" AS ENUM ('MALE', 'FEMALE', 'UNKNOWN');

-- CreateEnum
CREATE TYPE "MemberStatus" AS ENUM ('ACTIVE', 'PROBATIONARY', 'TRANSFERRED_OUT', 'DECEASED');

-- CreateEnum
CREATE TYPE "Channel" AS ENUM ('WECHAT', 'QQ', 'MINIPROGRAM');

-- CreateEnum
CREATE TYPE "CadreRole" AS ENUM ('COUNTY_ADMIN', 'TOWN_ADMIN', 'BRANCH_SECRETARY', 'MEMBER');

-- CreateEnum
CREATE TYPE "AccountStatus" AS ENUM ('OFFLINE', 'NEED_LOGIN', 'ONLINE', 'RATE_LIMITED', 'COOLDOWN', 'DISABLED');

-- CreateEnum
CREATE TYPE "GroupKind" AS ENUM ('BRANCH', 'CADRE', 'OTHER');

-- CreateEnum
CREATE TYPE "MeetingType" AS ENUM ('MEMBER_CONGRESS', 'COMMITTEE', 'PARTY_GROUP', 'PARTY_LECTURE', 'THEME_DAY', 'STUDY');

-- CreateEnum
CREATE TYPE "MeetingStatus" AS ENUM ('PLANNED', 'HELD', 'CANCELLED');

-- CreateEnum
CREATE TYPE "AttendanceStatus" AS ENUM ('PRESENT', 'LEAVE', 'ABSENT');

-- CreateEnum
CREATE TYPE "LeaveDecision" AS ENUM ('PENDING', 'APPROVED', 'REJECTED');

-- CreateEnum
CREATE TYPE "AttendanceSource" AS ENUM ('WECHAT', 'QQ', 'MINIPROGRAM', 'CONSOLE', 'IMPORT');

-- CreateEnum
CREATE TYPE "ComplaintStatus" AS ENUM ('SUBMITTED', 'CLAIMED', 'RESOLVED', 'REOPENED', 'CLOSED', 'WITHDRAWN');

-- CreateEnum
CREATE TYPE "ComplaintRating" AS ENUM ('SATISFIED', 'BASICALLY_SATISFIED', 'DISSATISFIED');

-- CreateEnum
CREATE TYPE "ComplaintEventKind" AS ENUM ('FILED', 'INFO_ADDED', 'CLAIMED', 'TRANSFERRED', 'REPLIED', 'EXTENSION_REQUESTED', 'EXTENSION_APPROVED', 'EXTENSION_REJECTED', 'RESOLVED', 'RATED', 'REOPENED', 'WITHDRAWN', 'REMINDED', 'ESCALATED', 'CLOSED');

-- CreateEnum
CREATE TYPE "BroadcastStatus" AS ENUM ('DRAFT', 'PENDING_APPROVAL', 'REJECTED', 'SCHEDULED', 'SENDING', 'PAUSED', 'COMPLETED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "ApprovalDecision" AS ENUM ('APPROVED', 'REJECTED');

-- CreateEnum
CREATE TYPE "DeliveryStatus" AS ENUM ('QUEUED', 'SENDING', 'SENT', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "JobRunStatus" AS ENUM ('RUNNING', 'DONE', 'FAILED', 'SKIPPED');

-- CreateTable
CREATE TABLE "OrgUnit" (
    "id" SERIAL NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "OrgKind" NOT NULL,
    "parentId" INTEGER,
    "path" TEXT NOT NULL,
    "depth" INTEGER NOT NULL,
    "themeDayOfMonth" INTEGER,
    "rulesOverride" JSONB,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "OrgUnit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Member" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "gender" "Gender" NOT NULL DEFAULT 'UNKNOWN',
    "branchId" INTEGER NOT NULL,
    "partyGroupId" INTEGER,
    "phone" TEXT,
    "birthYear" INTEGER,
    "joinedPartyOn" DATE,
    "status" "MemberStatus" NOT NULL DEFAULT 'ACTIVE',
    "isSecretary" BOOLEAN NOT NULL DEFAULT false,
    "isCommittee" BOOLEAN NOT NULL DEFAULT false,
    "isGroupLeader" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Member_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChatIdentity" (
    "id" SERIAL NOT NULL,
    "channel" "Channel" NOT NULL,
    "scope" TEXT NOT NULL DEFAULT '',
    "platformUserId" TEXT NOT NULL,
    "displayName" TEXT NOT NULL DEFAULT '',
    "unionId" TEXT,
    "memberId" INTEGER,
    "linkedAt" TIMESTAMP(3),
    "firstSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChatIdentity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CadreUser" (
    "id" SERIAL NOT NULL,
    "username" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "displayName" TEXT NOT NULL,
    "role" "CadreRole" NOT NULL,
    "orgUnitId" INTEGER NOT NULL,
    "memberId" INTEGER,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "tokenVersion" INTEGER NOT NULL DEFAULT 0,
    "lastLoginAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CadreUser_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BotAccount" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "channel" "Channel" NOT NULL,
    "platformSelfId" TEXT,
    "displayName" TEXT NOT NULL DEFAULT '',
    "puppet" TEXT,
    "status" "AccountStatus" NOT NULL DEFAULT 'OFFLINE',
    "statusReason" TEXT,
    "loginQr" TEXT,
    "loginQrAt" TIMESTAMP(3),
    "cooldownUntil" TIMESTAMP(3),
    "sendsPerMinute" INTEGER NOT NULL DEFAULT 20,
    "dailyBudget" INTEGER NOT NULL DEFAULT 2000,
    "lastSeenAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BotAccount_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChatGroup" (
    "id" SERIAL NOT NULL,
    "channel" "Channel" NOT NULL,
    "platformGroupId" TEXT NOT NULL,
    "topic" TEXT NOT NULL DEFAULT '',
    "kind" "GroupKind" NOT NULL DEFAULT 'OTHER',
    "orgUnitId" INTEGER,
    "boundAt" TIMESTAMP(3),
    "boundByIdentityId" INTEGER,
    "memberCount" INTEGER NOT NULL DEFAULT 0,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ChatGroup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "GroupAccount" (
    "groupId" INTEGER NOT NULL,
    "accountId" INTEGER NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GroupAccount_pkey" PRIMARY KEY ("groupId","accountId")
);

-- CreateTable
CREATE TABLE "GroupMembership" (
    "groupId" INTEGER NOT NULL,
    "identityId" INTEGER NOT NULL,
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leftAt" TIMESTAMP(3),

    CONSTRAINT "GroupMembership_pkey" PRIMARY KEY ("groupId","identityId")
);

-- CreateTable
CREATE TABLE "Meeting" (
    "id" SERIAL NOT NULL,
    "orgUnitId" INTEGER NOT NULL,
    "type" "MeetingType" NOT NULL DEFAULT 'STUDY',
    "topic" TEXT NOT NULL,
    "place" TEXT,
    "plannedAt" TIMESTAMP(3) NOT NULL,
    "durationMinutes" INTEGER NOT NULL DEFAULT 90,
    "heldAt" TIMESTAMP(3),
    "checkinOpensAt" TIMESTAMP(3) NOT NULL,
    "checkinClosesAt" TIMESTAMP(3) NOT NULL,
    "status" "MeetingStatus" NOT NULL DEFAULT 'PLANNED',
    "minutes" TEXT,
    "createdById" INTEGER,
    "createdByIdentityId" INTEGER,
    "finalizedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Meeting_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Attendance" (
    "id" SERIAL NOT NULL,
    "meetingId" INTEGER NOT NULL,
    "memberId" INTEGER,
    "identityId" INTEGER,
    "status" "AttendanceStatus" NOT NULL,
    "source" "AttendanceSource" NOT NULL,
    "note" TEXT,
    "leaveDecision" "LeaveDecision",
    "decidedById" INTEGER,
    "recordedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Attendance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Notice" (
    "id" SERIAL NOT NULL,
    "orgUnitId" INTEGER NOT NULL,
    "meetingId" INTEGER,
    "broadcastId" INTEGER,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "publishedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Notice_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "NoticeRead" (
    "noticeId" INTEGER NOT NULL,
    "memberId" INTEGER NOT NULL,
    "via" "Channel" NOT NULL,
    "readAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NoticeRead_pkey" PRIMARY KEY ("noticeId","memberId")
);

-- CreateTable
CREATE TABLE "Complaint" (
    "id" SERIAL NOT NULL,
    "number" TEXT NOT NULL,
    "orgUnitId" INTEGER NOT NULL,
    "filerIdentityId" INTEGER,
    "filerMemberId" INTEGER,
    "filerName" TEXT NOT NULL DEFAULT '',
    "filerPhone" TEXT,
    "channel" "Channel" NOT NULL,
    "content" TEXT NOT NULL,
    "category" TEXT,
    "urgent" BOOLEAN NOT NULL DEFAULT false,
    "status" "ComplaintStatus" NOT NULL DEFAULT 'SUBMITTED',
    "ownerId" INTEGER,
    "responseDueAt" TIMESTAMP(3) NOT NULL,
    "resolveDueAt" TIMESTAMP(3) NOT NULL,
    "claimedAt" TIMESTAMP(3),
    "resolvedAt" TIMESTAMP(3),
    "resolution" TEXT,
    "rating" "ComplaintRating",
    "ratingComment" TEXT,
    "ratedAt" TIMESTAMP(3),
    "reopenCount" INTEGER NOT NULL DEFAULT 0,
    "escalationLevel" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Complaint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ComplaintEvent" (
    "id" SERIAL NOT NULL,
    "complaintId" INTEGER NOT NULL,
    "kind" "ComplaintEventKind" NOT NULL,
    "actorId" INTEGER,
    "actorIdentityId" INTEGER,
    "fromUnitId" INTEGER,
    "toUnitId" INTEGER,
    "note" TEXT,
    "data" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ComplaintEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ComplaintAttachment" (
    "id" SERIAL NOT NULL,
    "complaintId" INTEGER NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'image',
    "location" TEXT NOT NULL,
    "mimeType" TEXT,
    "sizeBytes" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ComplaintAttachment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DailyCounter" (
    "scope" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "value" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "DailyCounter_pkey" PRIMARY KEY ("scope","day")
);

-- CreateTable
CREATE TABLE "CalendarOverride" (
    "date" DATE NOT NULL,
    "isWorkday" BOOLEAN NOT NULL,
    "note" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CalendarOverride_pkey" PRIMARY KEY ("date")
);

-- CreateTable
CREATE TABLE "Broadcast" (
    "id" SERIAL NOT NULL,
    "number" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "attachment" JSONB,
    "target" JSONB NOT NULL,
    "status" "BroadcastStatus" NOT NULL DEFAULT 'DRAFT',
    "scheduledAt" TIMESTAMP(3),
    "drafterId" INTEGER NOT NULL,
    "resolvedAt" TIMESTAMP(3),
    "resolvedCount" INTEGER,
    "cancelledAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Broadcast_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BroadcastApproval" (
    "id" SERIAL NOT NULL,
    "broadcastId" INTEGER NOT NULL,
    "approverId" INTEGER NOT NULL,
    "decision" "ApprovalDecision" NOT NULL,
    "reason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BroadcastApproval_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Delivery" (
    "id" BIGSERIAL NOT NULL,
    "channel" "Channel" NOT NULL,
    "accountId" INTEGER,
    "groupId" INTEGER,
    "identityId" INTEGER,
    "body" TEXT NOT NULL,
    "payload" JSONB,
    "priority" INTEGER NOT NULL DEFAULT 5,
    "status" "DeliveryStatus" NOT NULL DEFAULT 'QUEUED',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMP(3),
    "idempotencyKey" TEXT NOT NULL,
    "errorClass" TEXT,
    "error" TEXT,
    "broadcastId" INTEGER,
    "sentAt" TIMESTAMP(3),
    "platformMessageId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Delivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditLog" (
    "id" BIGSERIAL NOT NULL,
    "actorId" INTEGER,
    "actorIdentityId" INTEGER,
    "channel" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "targetType" TEXT,
    "targetId" TEXT,
    "detail" JSONB,
    "requestId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JobRun" (
    "id" SERIAL NOT NULL,
    "job" TEXT NOT NULL,
    "fireAt" TIMESTAMP(3) NOT NULL,
    "status" "JobRunStatus" NOT NULL DEFAULT 'RUNNING',
    "runner" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),
    "result" JSONB,
    "error" TEXT,

    CONSTRAINT "JobRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Setting" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Setting_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "OrgUnit_code_key" ON "OrgUnit"("code");

-- CreateIndex
CREATE INDEX "OrgUnit_parentId_idx" ON "OrgUnit"("parentId");

-- CreateIndex
CREATE INDEX "OrgUnit_path_idx" ON "OrgUnit"("path");

-- CreateIndex
CREATE INDEX "OrgUnit_kind_active_idx" ON "OrgUnit"("kind", "active");

-- CreateIndex
CREATE INDEX "Member_branchId_status_idx" ON "Member"("branchId", "status");

-- CreateIndex
CREATE INDEX "Member_partyGroupId_idx" ON "Member"("partyGroupId");

-- CreateIndex
CREATE INDEX "Member_branchId_name_idx" ON "Member"("branchId", "name");

-- CreateIndex
CREATE INDEX "Member_phone_idx" ON "Member"("phone");

-- CreateIndex
CREATE INDEX "ChatIdentity_memberId_idx" ON "ChatIdentity"("memberId");

-- CreateIndex
CREATE INDEX "ChatIdentity_unionId_idx" ON "ChatIdentity"("unionId");

-- CreateIndex
CREATE UNIQUE INDEX "ChatIdentity_channel_scope_platformUserId_key" ON "ChatIdentity"("channel", "scope", "platformUserId");

-- CreateIndex
CREATE UNIQUE INDEX "CadreUser_username_key" ON "CadreUser"("username");

-- CreateIndex
CREATE UNIQUE INDEX "CadreUser_memberId_key" ON "CadreUser"("memberId");

-- CreateIndex
CREATE INDEX "CadreUser_orgUnitId_role_idx" ON "CadreUser"("orgUnitId", "role");

-- CreateIndex
CREATE UNIQUE INDEX "BotAccount_name_key" ON "BotAccount"("name");

-- CreateIndex
CREATE INDEX "BotAccount_channel_status_idx" ON "BotAccount"("channel", "status");

-- CreateIndex
CREATE INDEX "ChatGroup_orgUnitId_kind_idx" ON "ChatGroup"("orgUnitId", "kind");

-- CreateIndex
CREATE INDEX "ChatGroup_kind_active_idx" ON "ChatGroup"("kind", "active");

-- CreateIndex
CREATE UNIQUE INDEX "ChatGroup_channel_platformGroupId_key" ON "ChatGroup"("channel", "platformGroupId");

-- CreateIndex
CREATE INDEX "GroupAccount_accountId_active_idx" ON "GroupAccount"("accountId", "active");

-- CreateIndex
CREATE INDEX "GroupMembership_identityId_idx" ON "GroupMembership"("identityId");

-- CreateIndex
CREATE INDEX "Meeting_orgUnitId_plannedAt_idx" ON "Meeting"("orgUnitId", "plannedAt");

-- CreateIndex
CREATE INDEX "Meeting_status_plannedAt_idx" ON "Meeting"("status", "plannedAt");

-- CreateIndex
CREATE INDEX "Meeting_type_plannedAt_idx" ON "Meeting"("type", "plannedAt");

-- CreateIndex
CREATE INDEX "Meeting_checkinClosesAt_finalizedAt_idx" ON "Meeting"("checkinClosesAt", "finalizedAt");

-- CreateIndex
CREATE INDEX "Attendance_memberId_idx" ON "Attendance"("memberId");

-- CreateIndex
CREATE INDEX "Attendance_meetingId_status_idx" ON "Attendance"("meetingId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "Attendance_meetingId_memberId_key" ON "Attendance"("meetingId", "memberId");

-- CreateIndex
CREATE UNIQUE INDEX "Attendance_meetingId_identityId_key" ON "Attendance"("meetingId", "identityId");

-- CreateIndex
CREATE INDEX "Notice_orgUnitId_publishedAt_idx" ON "Notice"("orgUnitId", "publishedAt");

-- CreateIndex
CREATE INDEX "Notice_meetingId_idx" ON "Notice"("meetingId");

-- CreateIndex
CREATE INDEX "Notice_broadcastId_idx" ON "Notice"("broadcastId");

-- CreateIndex
CREATE INDEX "NoticeRead_memberId_idx" ON "NoticeRead"("memberId");

-- CreateIndex
CREATE UNIQUE INDEX "Complaint_number_key" ON "Complaint"("number");

-- CreateIndex
CREATE INDEX "Complaint_orgUnitId_status_idx" ON "Complaint"("orgUnitId", "status");

-- CreateIndex
CREATE INDEX "Complaint_status_responseDueAt_idx" ON "Complaint"("status", "responseDueAt");

-- CreateIndex
CREATE INDEX "Complaint_status_resolveDueAt_idx" ON "Complaint"("status", "resolveDueAt");

-- CreateIndex
CREATE INDEX "Complaint_filerIdentityId_idx" ON "Complaint"("filerIdentityId");

-- CreateIndex
CREATE INDEX "Complaint_filerMemberId_idx" ON "Complaint"("filerMemberId");

-- CreateIndex
CREATE INDEX "Complaint_ownerId_status_idx" ON "Complaint"("ownerId", "status");

-- CreateIndex
CREATE INDEX "Complaint_createdAt_idx" ON "Complaint"("createdAt");

-- CreateIndex
CREATE INDEX "ComplaintEvent_complaintId_createdAt_idx" ON "ComplaintEvent"("complaintId", "createdAt");

-- CreateIndex
CREATE INDEX "ComplaintEvent_kind_createdAt_idx" ON "ComplaintEvent"("kind", "createdAt");

-- CreateIndex
CREATE INDEX "ComplaintAttachment_complaintId_idx" ON "ComplaintAttachment"("complaintId");

-- CreateIndex
CREATE UNIQUE INDEX "Broadcast_number_key" ON "Broadcast"("number");

-- CreateIndex
CREATE INDEX "Broadcast_status_scheduledAt_idx" ON "Broadcast"("status", "scheduledAt");

-- CreateIndex
CREATE INDEX "Broadcast_drafterId_idx" ON "Broadcast"("drafterId");

-- CreateIndex
CREATE INDEX "BroadcastApproval_broadcastId_decision_idx" ON "BroadcastApproval"("broadcastId", "decision");

-- CreateIndex
CREATE UNIQUE INDEX "BroadcastApproval_broadcastId_approverId_key" ON "BroadcastApproval"("broadcastId", "approverId");

-- CreateIndex
CREATE UNIQUE INDEX "Delivery_idempotencyKey_key" ON "Delivery"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Delivery_status_priority_nextAttemptAt_idx" ON "Delivery"("status", "priority", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "Delivery_accountId_status_nextAttemptAt_idx" ON "Delivery"("accountId", "status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "Delivery_broadcastId_status_idx" ON "Delivery"("broadcastId", "status");

-- CreateIndex
CREATE INDEX "Delivery_groupId_createdAt_idx" ON "Delivery"("groupId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditLog_createdAt_idx" ON "AuditLog"("createdAt");

-- CreateIndex
CREATE INDEX "AuditLog_actorId_createdAt_idx" ON "AuditLog"("actorId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditLog_targetType_targetId_idx" ON "AuditLog"("targetType", "targetId");

-- CreateIndex
CREATE INDEX "JobRun_job_status_idx" ON "JobRun"("job", "status");

-- CreateIndex
CREATE UNIQUE INDEX "JobRun_job_fireAt_key" ON "JobRun"("job", "fireAt");

-- AddForeignKey
ALTER TABLE "OrgUnit" ADD CONSTRAINT "OrgUnit_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Member" ADD CONSTRAINT "Member_branchId_fkey" FOREIGN KEY ("branchId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Member" ADD CONSTRAINT "Member_partyGroupId_fkey" FOREIGN KEY ("partyGroupId") REFERENCES "OrgUnit"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChatIdentity" ADD CONSTRAINT "ChatIdentity_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CadreUser" ADD CONSTRAINT "CadreUser_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CadreUser" ADD CONSTRAINT "CadreUser_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChatGroup" ADD CONSTRAINT "ChatGroup_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GroupAccount" ADD CONSTRAINT "GroupAccount_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ChatGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GroupAccount" ADD CONSTRAINT "GroupAccount_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BotAccount"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GroupMembership" ADD CONSTRAINT "GroupMembership_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ChatGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GroupMembership" ADD CONSTRAINT "GroupMembership_identityId_fkey" FOREIGN KEY ("identityId") REFERENCES "ChatIdentity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Meeting" ADD CONSTRAINT "Meeting_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Meeting" ADD CONSTRAINT "Meeting_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "CadreUser"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Attendance" ADD CONSTRAINT "Attendance_meetingId_fkey" FOREIGN KEY ("meetingId") REFERENCES "Meeting"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Attendance" ADD CONSTRAINT "Attendance_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Attendance" ADD CONSTRAINT "Attendance_identityId_fkey" FOREIGN KEY ("identityId") REFERENCES "ChatIdentity"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notice" ADD CONSTRAINT "Notice_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notice" ADD CONSTRAINT "Notice_meetingId_fkey" FOREIGN KEY ("meetingId") REFERENCES "Meeting"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notice" ADD CONSTRAINT "Notice_broadcastId_fkey" FOREIGN KEY ("broadcastId") REFERENCES "Broadcast"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "NoticeRead" ADD CONSTRAINT "NoticeRead_noticeId_fkey" FOREIGN KEY ("noticeId") REFERENCES "Notice"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "NoticeRead" ADD CONSTRAINT "NoticeRead_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Member"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Complaint" ADD CONSTRAINT "Complaint_orgUnitId_fkey" FOREIGN KEY ("orgUnitId") REFERENCES "OrgUnit"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Complaint" ADD CONSTRAINT "Complaint_filerIdentityId_fkey" FOREIGN KEY ("filerIdentityId") REFERENCES "ChatIdentity"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Complaint" ADD CONSTRAINT "Complaint_filerMemberId_fkey" FOREIGN KEY ("filerMemberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Complaint" ADD CONSTRAINT "Complaint_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "CadreUser"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ComplaintEvent" ADD CONSTRAINT "ComplaintEvent_complaintId_fkey" FOREIGN KEY ("complaintId") REFERENCES "Complaint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ComplaintEvent" ADD CONSTRAINT "ComplaintEvent_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "CadreUser"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ComplaintAttachment" ADD CONSTRAINT "ComplaintAttachment_complaintId_fkey" FOREIGN KEY ("complaintId") REFERENCES "Complaint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Broadcast" ADD CONSTRAINT "Broadcast_drafterId_fkey" FOREIGN KEY ("drafterId") REFERENCES "CadreUser"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BroadcastApproval" ADD CONSTRAINT "BroadcastApproval_broadcastId_fkey" FOREIGN KEY ("broadcastId") REFERENCES "Broadcast"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BroadcastApproval" ADD CONSTRAINT "BroadcastApproval_approverId_fkey" FOREIGN KEY ("approverId") REFERENCES "CadreUser"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "BotAccount"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ChatGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_identityId_fkey" FOREIGN KEY ("identityId") REFERENCES "ChatIdentity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_broadcastId_fkey" FOREIGN KEY ("broadcastId") REFERENCES "Broadcast"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditLog" ADD CONSTRAINT "AuditLog_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "CadreUser"("id") ON DELETE SET NULL ON UPDATE CASCADE;
