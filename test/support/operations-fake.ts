import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { NotificationActivities } from '../../activities/notifications';
import { FailureType } from '../../workflows/errors';
import { notificationStartOptions, type NotificationWorkflowInput } from '../../workflows/notification.contract';
import { orderRoutingStartOptions } from '../../workflows/order-routing.contract';
import { FakeOrders } from './orders-fake';

/**
 * What a fake notification delivery does, per notification:
 * - `deliver`: sent;
 * - `fail-run`: the delivery fails for good and recording the failure is refused for good too,
 *   so the workflow fails (a WORKFLOW_FAILED dead letter);
 * - `keep-retrying`: the delivery fails for good and recording it fails transiently on every
 *   attempt, so the run stays open with a step whose attempt climbs (ACTIVITY_RETRYING);
 * - `fail-run-unstorable`: as `fail-run`, with a failure message PostgreSQL cannot store as it is
 *   ({@link UNSTORABLE_FAILURE}: a NUL and an unpaired surrogate).
 */
export type DeliveryScript = 'deliver' | 'fail-run' | 'keep-retrying' | 'fail-run-unstorable';

/** Another system's error text with a NUL and an unpaired surrogate in it. */
export const UNSTORABLE_FAILURE = 'The ledger refused \u0000 the record \ud800 for good';

type Delivery = Awaited<ReturnType<NotificationActivities['deliverNotification']>>;

/**
 * Notification activities at the activity boundary, scripted per notification, plus an order
 * flow with no vendor to offer to (it stops NEEDS_ATTENTION and waits for an operator), for the
 * operations API's tests against the real dev server.
 */
export class OperationsFake {
  readonly scripts = new Map<string, DeliveryScript>();
  readonly orders = new FakeOrders();

  /** From now on, every notification is delivered and every failure recorded. */
  heal(): void {
    for (const id of this.scripts.keys()) this.scripts.set(id, 'deliver');
  }

  activities() {
    const notificationActivities: Pick<
      NotificationActivities,
      'deliverNotification' | 'failNotification' | 'cancelNotification' | 'markNotificationDue'
    > = {
      deliverNotification: async ({ notificationId }): Promise<Delivery> => {
        if ((this.scripts.get(notificationId) ?? 'deliver') === 'deliver') {
          return { status: 'SENT', sentAt: new Date().toISOString() };
        }
        throw ApplicationFailure.nonRetryable(
          'The recipient is not a valid EMAIL address',
          FailureType.InvalidRecipient,
        );
      },
      failNotification: async ({ notificationId }) => {
        const script = this.scripts.get(notificationId) ?? 'deliver';
        if (script === 'fail-run') {
          throw ApplicationFailure.nonRetryable('The ledger refused the failure record', FailureType.DataRejected);
        }
        if (script === 'keep-retrying') throw new Error('The ledger database is unavailable');
        if (script === 'fail-run-unstorable') {
          throw ApplicationFailure.nonRetryable(UNSTORABLE_FAILURE, FailureType.DataRejected);
        }
        return { eventId: `event-${notificationId}` };
      },
      cancelNotification: async () => {},
      markNotificationDue: async () => {},
    };
    return { ...this.orders.activities(), ...notificationActivities };
  }

  /**
   * Starts a notification's workflow as the API would (no channel, so delivery runs on the
   * stack's own queue), scripted as asked; `workflowId` overrides the usual ID.
   */
  async startNotification(
    client: Client,
    taskQueue: string,
    tenantId: string,
    script: DeliveryScript,
    options: { sendAt?: Date; workflowId?: string } = {},
  ) {
    const notificationId = randomUUID();
    this.scripts.set(notificationId, script);
    const input: NotificationWorkflowInput = {
      tenantId,
      notificationId,
      priority: 3,
      ...(options.sendAt ? { sendAt: options.sendAt.toISOString() } : {}),
    };
    const handle = await client.workflow.start('notificationWorkflow', {
      taskQueue,
      args: [input],
      ...notificationStartOptions(input, new Date()),
      ...(options.workflowId ? { workflowId: options.workflowId } : {}),
    });
    return { notificationId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, handle };
  }

  /** Starts an order whose routing finds no vendor: it stops NEEDS_ATTENTION (running) at once. */
  async startStuckOrder(client: Client, taskQueue: string, tenantId: string) {
    const orderId = randomUUID();
    const handle = await client.workflow.start('orderRoutingWorkflow', {
      taskQueue,
      args: [{ tenantId, orderId }],
      ...orderRoutingStartOptions(tenantId, orderId),
    });
    return { orderId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, handle };
  }
}
