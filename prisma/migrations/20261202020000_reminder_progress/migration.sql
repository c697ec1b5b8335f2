-- The template data of a reminder, and what became of its steps once its sequence closed.
ALTER TABLE "Reminder" ADD COLUMN "data" JSONB;
ALTER TABLE "Reminder" ADD COLUMN "stepLog" JSONB;
ALTER TABLE "Reminder" ADD COLUMN "closedReason" TEXT;
