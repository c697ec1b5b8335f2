import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import request from 'supertest';
import type { MailTransport } from '../../activities/notifications';
import type { Config } from '../../lib/config';
import { taskQueueFor } from '../../lib/task-queues';
import type { Logger } from '../../lib/logger';
import type { PrismaClient } from '../../lib/db';
import { tenantFairnessLookup } from '../../lib/tenant-fairness';
import { enqueueNotification } from '../../activities/notification-requests';
import { startWorker, type RunningWorker } from '../../workers/main';
import { useApiStack, type ApiStack } from './api-stack';
import { until } from './eventually';
import { testConfig } from './stack';

/**
 * Helpers for the dispatch-order tests (priority and fairness): build a backlog on the email
 * queue while nothing polls it, then drain it with one email worker of concurrency 1 and read
 * the order the mails were handed over in. With one slot, that order is the server's dispatch order.
 */

/** Every worker kind but email: the stack's worker runs the workflows and leaves their deliveries queued. */
export const allQueuesButEmail = 'interactive,sms,whatsapp,reports,exports';

/**
 * A stack whose worker runs every queue but email. Each scenario has a stack, and so an email queue,
 * of its own that no worker has ever polled. Run one after the other on one queue, the second
 * scenario once saw one task out of order just after the first one's worker stopped (the server
 * still tracking that worker's last polls is the likely cause); the property under test is the
 * order of a backlog drained from the start, by a steady set of pollers.
 */
export function useBacklogStack(): ApiStack {
  return useApiStack({ worker: true, config: { WORKER_QUEUES: allQueuesButEmail }, terminateOnStop: true });
}

/** Tasks waiting on the email queue, as its partition counts them (one partition in tests). */
export async function emailBacklog(client: Client, config: Config): Promise<number> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: taskQueueFor(config.temporal.taskQueue, 'email') },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportStats: true,
  });
  return Number(response.stats?.approximateBacklogCount ?? 0);
}

/** Waits until at least `count` deliveries wait on the email queue (their workflows have all scheduled them). */
export function untilEmailBacklogReaches(client: Client, config: Config, count: number): Promise<void> {
  return until(async () => (await emailBacklog(client, config)) >= count, 200);
}

/** The levels a tenant may ask for (critical is reserved for Holdfast's own flows: api/schemas.ts). */
export type TenantPriorityName = 'high' | 'normal' | 'low';

/** Posts email notifications through the API, a few at a time; answers their IDs in posting order. */
export async function postEmails(
  stack: Pick<ApiStack, 'app'>,
  token: string,
  recipients: string[],
  priority: TenantPriorityName = 'normal',
  parallel = 8,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < recipients.length; start += parallel) {
    const batch = recipients.slice(start, start + parallel);
    const answers = await Promise.all(
      batch.map((to) =>
        request(stack.app)
          .post('/api/v1/notifications')
          .set('Authorization', token)
          .set('Idempotency-Key', `dispatch-order-${to}`)
          .send({ channel: 'EMAIL', to, subject: 'Dispatch order', text: 'A message in a backlog.', priority }),
      ),
    );
    for (const answer of answers) {
      if (answer.status !== 202) throw new Error(`POST /notifications answered ${answer.status}: ${answer.text}`);
      ids.push(answer.body.notificationId as string);
    }
  }
  return ids;
}

/**
 * Requests a critical email the way Holdfast's own flows do (source FLOW, through the notification
 * ledger's enqueueNotification, with the tenant's fairness): the one path a critical notification
 * can take, since the API refuses critical from tenants. Answers the notification's ID.
 */
export async function enqueueCriticalFlowEmail(
  stack: Pick<ApiStack, 'prisma' | 'client' | 'config'>,
  tenantId: string,
  to: string,
): Promise<string> {
  const { notificationId } = await enqueueNotification(
    {
      prisma: stack.prisma,
      temporal: {
        client: stack.client,
        taskQueue: stack.config.temporal.taskQueue,
        fairnessOf: tenantFairnessLookup(stack.prisma, stack.config.worker.fairnessWeights),
      },
    },
    {
      tenantId,
      source: 'FLOW',
      key: `dispatch-order-${to}`,
      channel: 'EMAIL',
      to,
      subject: 'Dispatch order',
      text: 'A critical message from a flow.',
      priority: 1,
    },
  );
  return notificationId;
}

/** The email worker of a drain: concurrency 1, recording each recipient in the order it was sent. */
export interface DrainingEmailWorker {
  readonly sent: string[];
}

/**
 * Runs `scenario` with the email queue's worker (WORKER_QUEUES=email, WORKER_EMAIL_CONCURRENCY=1) on
 * the stack's base queue, and stops that worker before returning, pass or fail: it delivers through
 * the stack's Prisma client, which the stack's teardown closes.
 */
export async function withDrainingEmailWorker<T>(
  stack: { config: Config; prisma: PrismaClient },
  logger: Logger,
  scenario: (drain: DrainingEmailWorker) => Promise<T>,
): Promise<T> {
  const sent: string[] = [];
  const transport: MailTransport = {
    sendMail: (message) => {
      sent.push(message.to);
      return Promise.resolve({ messageId: `dispatch-${sent.length}` });
    },
  };
  const config = testConfig({
    TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    WORKER_QUEUES: 'email',
    WORKER_EMAIL_CONCURRENCY: '1',
  });
  const running: RunningWorker = await startWorker(config, logger, {
    prisma: stack.prisma,
    mail: { transport, from: 'Holdfast <dispatch@holdfast.test>' },
  });
  try {
    return await scenario({ sent });
  } finally {
    running.shutdown();
    await running.done;
  }
}
