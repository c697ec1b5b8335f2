-- CreateEnum
CREATE TYPE "DeadLetterKind" AS ENUM ('WORKFLOW_FAILED', 'WORKFLOW_TIMED_OUT', 'ACTIVITY_RETRYING', 'NEEDS_ATTENTION', 'NOTIFICATION_FAILED');

-- CreateEnum
CREATE TYPE "DeadLetterResolution" AS ENUM ('RETRIED', 'DISCARDED');

-- CreateTable
CREATE TABLE "FlowPause" (
    "tenantId" TEXT NOT NULL,
    "flow" TEXT NOT NULL,
    "reason" TEXT,
    "pausedBy" TEXT NOT NULL,
    "pausedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "pausedSchedules" TEXT[] DEFAULT ARRAY[]::TEXT[],

    CONSTRAINT "FlowPause_pkey" PRIMARY KEY ("tenantId","flow")
);

-- CreateTable
CREATE TABLE "DeadLetter" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "kind" "DeadLetterKind" NOT NULL,
    "flow" TEXT NOT NULL,
    "ref" TEXT NOT NULL,
    "workflowId" TEXT NOT NULL,
    "runId" TEXT,
    "notificationId" TEXT,
    "businessKey" TEXT,
    "failureType" TEXT,
    "failureMessage" TEXT,
    "failedAt" TIMESTAMP(3),
    "firstSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolution" "DeadLetterResolution",
    "resolvedBy" TEXT,
    "resolvedAt" TIMESTAMP(3),
    "resolutionReason" TEXT,

    CONSTRAINT "DeadLetter_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "DeadLetter_tenantId_resolution_lastSeenAt_idx" ON "DeadLetter"("tenantId", "resolution", "lastSeenAt");

-- CreateIndex
CREATE UNIQUE INDEX "DeadLetter_tenantId_kind_ref_key" ON "DeadLetter"("tenantId", "kind", "ref");

-- AddForeignKey
ALTER TABLE "FlowPause" ADD CONSTRAINT "FlowPause_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeadLetter" ADD CONSTRAINT "DeadLetter_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

