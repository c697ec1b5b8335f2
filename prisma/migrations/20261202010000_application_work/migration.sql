-- CreateEnum
CREATE TYPE "NotificationSource" AS ENUM ('FLOW', 'API', 'RULE', 'REMINDER');

-- CreateEnum
CREATE TYPE "WebhookEndpointStatus" AS ENUM ('ACTIVE', 'DISABLED');

-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "ReminderStatus" AS ENUM ('ACTIVE', 'COMPLETED', 'FINISHED', 'CANCELLED');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "NotificationStatus" ADD VALUE 'SCHEDULED';
ALTER TYPE "NotificationStatus" ADD VALUE 'CANCELLED';

-- OutboxEvent.deliveredAt meant "handed on", and is now the start of the event fan-out workflow.
ALTER INDEX "OutboxEvent_deliveredAt_createdAt_idx" RENAME TO "OutboxEvent_publishedAt_createdAt_idx";
ALTER TABLE "OutboxEvent" RENAME COLUMN "deliveredAt" TO "publishedAt";

-- AlterTable
ALTER TABLE "Tenant" ADD COLUMN     "defaultLocale" TEXT NOT NULL DEFAULT 'en',
ADD COLUMN     "webhookFailureThreshold" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "webhookMaxAttempts" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "webhookRetryInitialSeconds" INTEGER NOT NULL DEFAULT 10;

-- AlterTable
ALTER TABLE "OutboxEvent" ADD COLUMN     "eventKey" TEXT,
ADD COLUMN     "occurredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "requestHash" TEXT,
ADD COLUMN     "source" TEXT NOT NULL DEFAULT 'FLOW',
ADD COLUMN     "subjectId" TEXT,
ADD COLUMN     "subjectType" TEXT;

-- Events written before events had keys are keyed by their row ID, and occurred when they were written.
-- Nothing ever consumed them, and no rule or webhook existed to receive them: they count as published.
UPDATE "OutboxEvent" SET "eventKey" = "id", "occurredAt" = "createdAt", "publishedAt" = COALESCE("publishedAt", "createdAt");
ALTER TABLE "OutboxEvent" ALTER COLUMN "eventKey" SET NOT NULL;

-- AlterTable
ALTER TABLE "TenantNotificationTemplate" DROP CONSTRAINT "TenantNotificationTemplate_pkey",
ADD COLUMN     "html" TEXT,
ADD COLUMN     "locale" TEXT NOT NULL DEFAULT 'en',
ADD COLUMN     "subject" TEXT,
ADD COLUMN     "text" TEXT,
ADD CONSTRAINT "TenantNotificationTemplate_pkey" PRIMARY KEY ("tenantId", "template", "channel", "locale");

-- AlterTable
ALTER TABLE "Notification" ADD COLUMN     "cancelledAt" TIMESTAMP(3),
ADD COLUMN     "data" JSONB,
ADD COLUMN     "eventId" TEXT,
ADD COLUMN     "html" TEXT,
ADD COLUMN     "locale" TEXT,
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 3,
ADD COLUMN     "reminderId" TEXT,
ADD COLUMN     "requestHash" TEXT,
ADD COLUMN     "ruleId" TEXT,
ADD COLUMN     "sendAt" TIMESTAMP(3),
ADD COLUMN     "source" "NotificationSource" NOT NULL DEFAULT 'FLOW',
ADD COLUMN     "subject" TEXT,
ADD COLUMN     "text" TEXT,
ADD COLUMN     "workflowId" TEXT;

-- CreateTable
CREATE TABLE "NotificationRule" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "condition" JSONB,
    "channel" "NotificationChannel" NOT NULL,
    "template" TEXT NOT NULL,
    "recipientPath" TEXT NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 3,
    "delaySeconds" INTEGER NOT NULL DEFAULT 0,
    "locale" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "NotificationRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookEndpoint" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "description" TEXT,
    "events" TEXT[],
    "status" "WebhookEndpointStatus" NOT NULL DEFAULT 'ACTIVE',
    "disabledReason" TEXT,
    "disabledAt" TIMESTAMP(3),
    "secretCiphertext" TEXT NOT NULL,
    "previousSecretCiphertext" TEXT,
    "previousSecretExpiresAt" TIMESTAMP(3),
    "consecutiveFailures" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WebhookEndpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "endpointId" TEXT NOT NULL,
    "eventId" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "workflowId" TEXT NOT NULL,
    "lastError" TEXT,
    "completedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookAttempt" (
    "id" TEXT NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "attemptKey" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "statusCode" INTEGER,
    "error" TEXT,
    "responseBody" TEXT,

    CONSTRAINT "WebhookAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Reminder" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "subjectType" TEXT NOT NULL,
    "subjectId" TEXT NOT NULL,
    "channel" "NotificationChannel" NOT NULL,
    "recipient" TEXT NOT NULL,
    "recipientName" TEXT,
    "template" TEXT NOT NULL,
    "dueAt" TIMESTAMP(3) NOT NULL,
    "steps" JSONB NOT NULL,
    "notifyOnCreate" BOOLEAN NOT NULL DEFAULT false,
    "status" "ReminderStatus" NOT NULL DEFAULT 'ACTIVE',
    "workflowId" TEXT NOT NULL,
    "completedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Reminder_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "NotificationRule_tenantId_eventType_idx" ON "NotificationRule"("tenantId", "eventType");

-- CreateIndex
CREATE INDEX "WebhookEndpoint_tenantId_createdAt_idx" ON "WebhookEndpoint"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_tenantId_createdAt_idx" ON "WebhookDelivery"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookDelivery_endpointId_eventId_key" ON "WebhookDelivery"("endpointId", "eventId");

-- CreateIndex
CREATE INDEX "WebhookDelivery_endpointId_createdAt_idx" ON "WebhookDelivery"("endpointId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookAttempt_attemptKey_key" ON "WebhookAttempt"("attemptKey");

-- CreateIndex
CREATE INDEX "WebhookAttempt_deliveryId_startedAt_idx" ON "WebhookAttempt"("deliveryId", "startedAt");

-- CreateIndex
CREATE INDEX "Reminder_tenantId_status_createdAt_idx" ON "Reminder"("tenantId", "status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Reminder_tenantId_idempotencyKey_key" ON "Reminder"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "OutboxEvent_tenantId_type_createdAt_idx" ON "OutboxEvent"("tenantId", "type", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "OutboxEvent_tenantId_eventKey_key" ON "OutboxEvent"("tenantId", "eventKey");

-- CreateIndex
CREATE INDEX "Notification_tenantId_status_createdAt_idx" ON "Notification"("tenantId", "status", "createdAt");

-- CreateIndex
CREATE INDEX "Notification_tenantId_channel_createdAt_idx" ON "Notification"("tenantId", "channel", "createdAt");

-- CreateIndex
CREATE INDEX "Notification_reminderId_idx" ON "Notification"("reminderId");

-- AddForeignKey
ALTER TABLE "NotificationRule" ADD CONSTRAINT "NotificationRule_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookEndpoint" ADD CONSTRAINT "WebhookEndpoint_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "WebhookEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "OutboxEvent"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookAttempt" ADD CONSTRAINT "WebhookAttempt_deliveryId_fkey" FOREIGN KEY ("deliveryId") REFERENCES "WebhookDelivery"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Reminder" ADD CONSTRAINT "Reminder_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

