-- CreateTable
CREATE TABLE "PayloadKeyScope" (
    "scope" TEXT NOT NULL,
    "tenantId" TEXT,
    "salt" BYTEA,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "erasedAt" TIMESTAMP(3),
    "erasedBy" TEXT,

    CONSTRAINT "PayloadKeyScope_pkey" PRIMARY KEY ("scope")
);

-- CreateIndex
CREATE INDEX "PayloadKeyScope_tenantId_idx" ON "PayloadKeyScope"("tenantId");

