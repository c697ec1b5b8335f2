import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { PermanentFailures } from './errors';
import { fiveMessageAttempts, untilTheDatabaseAnswers } from './retry-profiles';

/**
 * The activities order routing calls, one profile per kind of step, each with the reason for its
 * retries. Pure workflow code: these are proxies, the activities themselves run on the worker.
 */

// Database writes retry until the database answers; a refused write stops the order in NEEDS_ATTENTION.
// A write cancelled mid-flight may still commit, so cancellation waits for it to finish; the cancel
// clean-up then always runs after it.
export const {
  checkCredit,
  rankVendorsForOrder,
  offerOrderToVendor,
  settleRoutingAttempt,
  assignOrder,
  markNeedsAttention,
  cancelOrderRecord,
  recordFulfilment,
  markOrderPaid,
  flagRetailer,
} = proxyActivities<Activities>({
  ...untilTheDatabaseAnswers,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

// Messages to retailers and operators.
export const { sendOrderNotification } = proxyActivities<Activities>(fiveMessageAttempts);

// The vendor's offer goes through its WhatsApp/SMS provider. A 429 fails with the provider's
// Retry-After as nextRetryDelay, so throttling waits as long as asked instead of burning the
// backoff; the extra attempts leave room for a provider that throttles more than once.
export const { sendVendorOffer } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 8,
    nonRetryableErrorTypes: PermanentFailures.message,
  },
});

// A credit score is a refresh, not a step of the order: 3 attempts. A score that cannot be
// recomputed now is recomputed at the next trigger; it never holds the order up.
export const { recalculateCreditScore } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: PermanentFailures.step,
  },
});
