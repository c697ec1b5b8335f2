-- A delivery whose endpoint was disabled before it could be sent ends SKIPPED: nothing was sent.
ALTER TYPE "WebhookDeliveryStatus" ADD VALUE 'SKIPPED';
