-- What the admins' notice says about an endpoint the failure threshold disabled (its URL, the
-- failure count and the tenant's name at that moment), frozen in the transaction that disabled it,
-- so that every retry of the notice carries the same data.
ALTER TABLE "WebhookEndpoint" ADD COLUMN "disabledNotice" JSONB;

-- One endpoint per URL within a tenant: a retried registration must not make a second endpoint
-- that receives every event again under other webhook-ids.
CREATE UNIQUE INDEX "WebhookEndpoint_tenantId_url_key" ON "WebhookEndpoint"("tenantId", "url");
