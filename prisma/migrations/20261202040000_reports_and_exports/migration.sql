-- CreateEnum
CREATE TYPE "FileJobStatus" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED');

-- CreateTable
CREATE TABLE "Report" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "filters" JSONB,
    "periodStart" TIMESTAMP(3) NOT NULL,
    "periodEnd" TIMESTAMP(3) NOT NULL,
    "notifyEmail" TEXT,
    "status" "FileJobStatus" NOT NULL DEFAULT 'QUEUED',
    "workflowId" TEXT NOT NULL,
    "scheduleId" TEXT,
    "idempotencyKey" TEXT,
    "requestHash" TEXT,
    "requestedBy" TEXT,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "rowsTotal" INTEGER,
    "fileKey" TEXT,
    "fileBytes" BIGINT,
    "contentType" TEXT,
    "sha256" TEXT,
    "error" TEXT,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Report_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Export" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "entities" TEXT[],
    "format" TEXT NOT NULL,
    "filters" JSONB,
    "notifyEmail" TEXT,
    "status" "FileJobStatus" NOT NULL DEFAULT 'QUEUED',
    "workflowId" TEXT NOT NULL,
    "idempotencyKey" TEXT,
    "requestHash" TEXT,
    "requestedBy" TEXT,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "rowsTotal" INTEGER,
    "bytesDone" BIGINT NOT NULL DEFAULT 0,
    "checkpoint" JSONB,
    "resumes" INTEGER NOT NULL DEFAULT 0,
    "fileKey" TEXT,
    "fileBytes" BIGINT,
    "contentType" TEXT,
    "sha256" TEXT,
    "error" TEXT,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Export_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReportSchedule" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "filters" JSONB,
    "notifyEmail" TEXT,
    "scheduleId" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ReportSchedule_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Report_workflowId_key" ON "Report"("workflowId");

-- CreateIndex
CREATE INDEX "Report_tenantId_createdAt_idx" ON "Report"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "Report_status_expiresAt_idx" ON "Report"("status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Report_tenantId_idempotencyKey_key" ON "Report"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "Export_workflowId_key" ON "Export"("workflowId");

-- CreateIndex
CREATE INDEX "Export_tenantId_createdAt_idx" ON "Export"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "Export_tenantId_status_idx" ON "Export"("tenantId", "status");

-- CreateIndex
CREATE INDEX "Export_status_expiresAt_idx" ON "Export"("status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Export_tenantId_idempotencyKey_key" ON "Export"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "ReportSchedule_scheduleId_key" ON "ReportSchedule"("scheduleId");

-- CreateIndex
CREATE INDEX "ReportSchedule_tenantId_createdAt_idx" ON "ReportSchedule"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "Slot_tenantId_id_idx" ON "Slot"("tenantId", "id");

-- CreateIndex
CREATE INDEX "WaitlistEntry_tenantId_id_idx" ON "WaitlistEntry"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Hold_tenantId_createdAt_idx" ON "Hold"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "Notification_tenantId_id_idx" ON "Notification"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Retailer_tenantId_id_idx" ON "Retailer"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Vendor_tenantId_id_idx" ON "Vendor"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Order_tenantId_id_idx" ON "Order"("tenantId", "id");

-- CreateIndex
CREATE INDEX "Payment_tenantId_receivedAt_idx" ON "Payment"("tenantId", "receivedAt");

-- AddForeignKey
ALTER TABLE "Report" ADD CONSTRAINT "Report_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Report" ADD CONSTRAINT "Report_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "ReportSchedule"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Export" ADD CONSTRAINT "Export_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReportSchedule" ADD CONSTRAINT "ReportSchedule_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

