-- The cascade offering a slot now: a hold is made only for it (activities/waitlist.ts, lockSlotForCascade).
ALTER TABLE "Slot" ADD COLUMN "cascadeId" TEXT;
