import type { Client } from '@temporalio/client';
import type { TenantTier } from '../domain/tenants';
import type { Config } from '../lib/config';
import type { PrismaClient } from '../lib/db';
import type { TenantFairnessLookup } from '../lib/tenant-fairness';
import type { FileStore } from '../lib/file-store';
import type { BillingProvider } from './billing';
import { createCleanupActivities } from './cleanup';
import { createDeadLetterActivities } from './dead-letters';
import { defaultOutageWaits, rejectingDataErrors, waitingOutDatabaseOutages } from './database-failures';
import { createEventActivities } from './events';
import { createExportActivities } from './exports';
import { createFileDeliveryActivities } from './file-deliveries';
import { createNotificationActivities, createNotifier, type MailTransport } from './notifications';
import { createOnboardingActivities } from './onboarding';
import { createOrderActivities } from './orders';
import { createReminderActivities } from './reminders';
import { createReportActivities } from './reports';
import type { SmsProvider } from './sms-provider';
import { createWaitlistActivities } from './waitlist';
import { createWebhookActivities, type WebhookDeliverySettings } from './webhooks';

/** Everything activities may touch, built once by the worker's composition root. */
export interface ActivityDeps {
  prisma: PrismaClient;
  /** Outbound email; without it email notifications fail with ChannelNotConfigured. */
  mail?: { transport: MailTransport; from: string };
  /** Outbound SMS; without it SMS is skipped. */
  sms?: SmsProvider;
  /** Outbound WhatsApp (the HTTP provider adapter); without it WhatsApp messages are skipped. */
  whatsapp?: SmsProvider;
  /** Signs the offer response tokens, and (under a derived key) vendors' (config.offerTokenSecret). */
  offerTokenSecret: string;
  /** The API's public URL, for links in messages (config.api.publicBaseUrl). */
  publicBaseUrl: string;
  /** The billing provider onboarding calls; without it onboarding fails with BillingNotConfigured. */
  billing?: BillingProvider;
  /** Onboarding settings (config.billing.prices and config.onboarding). */
  onboarding: {
    billingPrices: Record<TenantTier, string>;
    invitationTokenSecret: string;
    platformAdminEmail: string;
  };
  /**
   * Starts the workflows that activities hand work to (an event's fan-out, a notification's
   * delivery, a webhook delivery), and reads failed runs for the daily cleanup's dead-letter
   * record; absent in tests of activities that use neither.
   */
  temporal?: { client: Client; taskQueue: string; fairnessOf?: TenantFairnessLookup };
  /** Signed webhook delivery (config.webhooks); without it deliveries fail with ChannelNotConfigured. */
  webhooks?: WebhookDeliverySettings;
  /** Where reports and exports write their files (config.files.store); without it they fail with FileStoreNotConfigured. */
  files?: FileStore;
  /** Reports' and exports' settings: retention, download links, page size, per-tenant caps (config.files, config.exports). */
  fileJobs?: FileJobSettings;
  /**
   * The rate of each task queue that has one (WORKER_<KIND>_RATE), by queue name: messages that waited
   * out a database outage run again no faster than that (activities/database-failures.ts).
   */
  messageRates?: ReadonlyMap<string, number>;
  /** The clock activities stamp rows with; tests may pin it. */
  now?: () => Date;
}

export interface FileJobSettings {
  retentionMs: number;
  downloadLinkTtlMs: number;
  downloadLinkSecret: string;
  exportPageSize: number;
  exportsPerTenant: Record<TenantTier, number>;
}

/** The file-job settings of a configuration, for the worker's and the tests' composition roots. */
export function fileJobSettings(config: Pick<Config, 'files' | 'exports'>): FileJobSettings {
  return {
    retentionMs: config.files.retentionMs,
    downloadLinkTtlMs: config.files.downloadLinkTtlMs,
    downloadLinkSecret: config.files.downloadLinkSecret,
    exportPageSize: config.exports.pageSize,
    exportsPerTenant: config.exports.perTenant,
  };
}

/**
 * All activities the worker registers; workflows import this type only, never the values.
 * Every one is wrapped so that data the database refuses (SQLSTATE classes 22 and 23, Prisma
 * validation errors) ends the activity with a non-retryable `DataRejected` instead of being
 * retried like an outage; those that send a message wait out a database outage within their
 * attempt, so that it does not use up attempts counted against the provider
 * (activities/database-failures.ts).
 */
export function createActivities(deps: ActivityDeps) {
  const notifier = createNotifier(deps);
  const activities = rejectingDataErrors({
    ...createCleanupActivities(deps),
    ...createDeadLetterActivities(deps),
    ...createNotificationActivities(deps),
    ...createWaitlistActivities({ ...deps, notifier }),
    ...createOnboardingActivities({ ...deps, ...deps.onboarding, notifier }),
    ...createOrderActivities({ ...deps, notifier }),
    ...createReminderActivities(deps),
    ...createEventActivities(deps),
    ...createWebhookActivities(deps),
    ...createReportActivities(deps),
    ...createFileDeliveryActivities(deps),
    ...createExportActivities(deps),
  });
  // The activities that send a message, whose attempts are counted against the provider.
  return waitingOutDatabaseOutages(
    activities,
    [
      'sendOfferNotification',
      'sendConfirmation',
      'sendEscalation',
      'sendOrderNotification',
      'sendVendorOffer',
      'sendWelcomeEmail',
      'notifyOnboardingUnsuccessful',
      'sendNotification',
      'deliverNotification',
    ],
    { ...defaultOutageWaits, ratePerSecond: (taskQueue) => deps.messageRates?.get(taskQueue) },
  );
}

export type Activities = ReturnType<typeof createActivities>;
