import type { PrismaClient } from '../lib/db';
import { createCleanupActivities } from './cleanup';
import { createNotificationActivities, createNotifier, type MailTransport } from './notifications';
import type { SmsProvider } from './sms-provider';
import { createWaitlistActivities } from './waitlist';

/** Everything activities may touch, built once by the worker's composition root. */
export interface ActivityDeps {
  prisma: PrismaClient;
  /** Outbound email; without it email notifications fail with ChannelNotConfigured. */
  mail?: { transport: MailTransport; from: string };
  /** Outbound SMS; without it SMS is skipped. */
  sms?: SmsProvider;
  /** Signs the offer response tokens (config.offerTokenSecret). */
  offerTokenSecret: string;
  /** The API's public URL, for links in messages (config.api.publicBaseUrl). */
  publicBaseUrl: string;
  /** The clock activities stamp rows with; tests may pin it. */
  now?: () => Date;
}

/** All activities the worker registers; workflows import this type only, never the values. */
export function createActivities(deps: ActivityDeps) {
  const notifier = createNotifier(deps);
  return {
    ...createCleanupActivities(deps),
    ...createNotificationActivities(deps),
    ...createWaitlistActivities({ ...deps, notifier }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
