import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { businessMetrics, type BusinessMetricName } from '../../domain/business-metrics';
import type { Config } from '../../lib/config';
import { taskQueueFor } from '../../lib/task-queues';
import { freePort } from '../../scripts/stack/ports';
import { installRuntime } from '../../workers/main';
import { notificationWorkflow } from '../../workflows/notification';
import { FailureType } from '../../workflows/errors';
import { waitlistCascadeWorkflow } from '../../workflows/waitlist-cascade';
import { webhookDeliveryWorkflow } from '../../workflows/webhook-delivery';
import { eventually } from '../support/eventually';
import { businessMetricSdkLabels, sampleNamesOf, sdkMetricLabels, sdkMetrics } from '../support/observability';
import { FakeNotificationLedger, InvalidRecipient } from '../support/notification-fake';
import { FakeWaitlist } from '../support/waitlist-fake';
import { FakeWebhooks } from '../support/webhooks-fake';
import { bundleWorkflows, testConfig, testDataConverter, testLogger } from '../support/stack';

/** One sample of a scrape: its metric name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseScrape(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a Prometheus sample: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1]!, label[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/**
 * The worker's runtime exports what the workflows emit through the workflow metric meter on
 * WORKER_METRICS_PORT: scraped here exactly as Prometheus scrapes it, so the names and labels the
 * docs, alerts and dashboard use are the ones the exporter really produces.
 */
describe('business metrics on the worker’s Prometheus endpoint', () => {
  let config: Config;
  let metricsUrl: string;
  let client: Client;
  let clientConnection: Connection;
  let workerConnection: NativeConnection;
  let bundle: WorkflowBundle;
  let worker: Worker;
  let emailWorker: Worker;
  let running: Promise<void>;
  const waitlist = new FakeWaitlist();
  const webhooks = new FakeWebhooks();
  const ledger = new FakeNotificationLedger();
  const tenantId = `t-${randomUUID()}`;

  beforeAll(async () => {
    const port = await freePort();
    config = testConfig({ WORKER_METRICS_PORT: String(port) });
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    // As the worker process does: the runtime, with its Prometheus exporter, before any connection.
    installRuntime(config, testLogger(config), { shutdownSignals: [] });
    // No database here: the codec keeps its salts in memory, shared by the client and both workers.
    const dataConverter = testDataConverter();
    clientConnection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection: clientConnection, namespace: config.temporal.namespace, dataConverter });
    workerConnection = await NativeConnection.connect({ address: config.temporal.address });
    bundle = await bundleWorkflows();
    worker = await Worker.create({
      connection: workerConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: bundle,
      dataConverter,
      activities: {
        ...waitlist.activities(),
        ...webhooks.activities(),
        ...ledger.activities(),
        // A delivery whose row the database refuses fails its run: the SDK's failure counters then show.
        prepareWebhookDelivery: async (input: { deliveryId: string }) => {
          if (input.deliveryId.startsWith('refused-')) {
            throw ApplicationFailure.nonRetryable('The delivery row cannot be stored', FailureType.DataRejected);
          }
          return webhooks.prepared;
        },
      },
    });
    // A notification started with its channel delivers on that provider's queue.
    emailWorker = await Worker.create({
      connection: workerConnection,
      namespace: config.temporal.namespace,
      taskQueue: taskQueueFor(config.temporal.taskQueue, 'email'),
      dataConverter,
      activities: ledger.activities(),
    });
    running = Promise.all([worker.run(), emailWorker.run()]).then(() => undefined);
  });

  afterAll(async () => {
    worker.shutdown();
    emailWorker.shutdown();
    await running;
    await workerConnection.close();
    await clientConnection.close();
  });

  /**
   * This suite's samples of the business metrics (other suites' task queues are left out), or
   * with `everyQueue` all of them, whatever task queue counted them.
   */
  async function scrape({ everyQueue = false } = {}): Promise<{ text: string; samples: Sample[] }> {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    const text = await response.text();
    const samples = parseScrape(text).filter(
      (sample) =>
        sample.name.startsWith('holdfast_') && (everyQueue || sample.labels.taskQueue === config.temporal.taskQueue),
    );
    return { text, samples };
  }

  const valueOf = (samples: Sample[], name: string, labels: Record<string, string>) =>
    samples.find(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )?.value;

  /**
   * What the suite's samples show after `run`, and how much a series grew since just before it;
   * waits for `first` to grow, since the runtime takes the counts in as the worker reports them.
   */
  async function measure(run: () => Promise<void>, first: [string, Record<string, string>]) {
    const before = (await scrape()).samples;
    await run();
    const grew = (samples: Sample[], name: string, labels: Record<string, string>) =>
      (valueOf(samples, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    const after = await eventually(async () => {
      const scraped = await scrape();
      return grew(scraped.samples, ...first) > 0 ? scraped : undefined;
    });
    return {
      text: after.text,
      growth: (name: string, labels: Record<string, string>) => grew(after.samples, name, labels),
    };
  }

  it('a cascade whose only hold expires counts the offer, the expiry, its duration and its outcome, with no tenant label', async () => {
    waitlist.holdMs = 1_000;
    waitlist.join('Ada');
    const slotId = `slot-${randomUUID()}`;

    const cascade = { workflowType: 'waitlistCascadeWorkflow', namespace: config.temporal.namespace };

    const { text, growth } = await measure(async () => {
      const result = await client.workflow.execute(waitlistCascadeWorkflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `metrics-cascade-${randomUUID()}`,
        args: [{ tenantId, slotId }],
      });
      expect(result.outcome).toBe('unfilled');
    }, ['holdfast_flows_completed_total', { flow: 'waitlist', outcome: 'unfilled' }]);

    expect(growth('holdfast_offers_sent_total', { ...cascade, flow: 'waitlist' })).toBe(1);
    expect(growth('holdfast_holds_expired_total', { ...cascade, flow: 'waitlist' })).toBe(1);
    expect(growth('holdfast_flows_completed_total', { ...cascade, flow: 'waitlist', outcome: 'unfilled' })).toBe(1);
    expect(growth('holdfast_cascade_duration_seconds_count', { ...cascade, outcome: 'unfilled' })).toBe(1);
    // The worker's runtime gives the cascade histogram bounds from a minute up (domain/business-metrics.ts).
    expect(growth('holdfast_cascade_duration_seconds_bucket', { outcome: 'unfilled', le: '60' })).toBe(1);
    expect(text).not.toContain(tenantId);
    expect(text).not.toContain(slotId);
  });

  it('a webhook delivery counts its outcome, under the flow and outcome labels only', async () => {
    const deliveryId = `delivery-${randomUUID()}`;

    const { text, growth } = await measure(async () => {
      const result = await client.workflow.execute(webhookDeliveryWorkflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `metrics-webhook-${randomUUID()}`,
        args: [{ tenantId, deliveryId }],
      });
      expect(result.status).toBe('SUCCEEDED');
    }, ['holdfast_webhook_deliveries_total', { outcome: 'succeeded' }]);

    expect(growth('holdfast_webhook_deliveries_total', { outcome: 'succeeded' })).toBe(1);
    expect(growth('holdfast_flows_completed_total', { flow: 'webhooks', outcome: 'succeeded' })).toBe(1);
    expect(text).not.toContain(deliveryId);
  });

  it('a notification that fails for good counts its channel and outcome', async () => {
    ledger.permanentFailure = InvalidRecipient;

    const { growth } = await measure(async () => {
      const result = await client.workflow.execute(notificationWorkflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `metrics-notification-${randomUUID()}`,
        args: [{ tenantId, notificationId: randomUUID(), priority: 2, channel: 'EMAIL' }],
      });
      expect(result.status).toBe('FAILED');
    }, ['holdfast_notifications_total', { channel: 'email', outcome: 'failed' }]);

    expect(growth('holdfast_notifications_total', { channel: 'email', outcome: 'failed' })).toBe(1);
    expect(growth('holdfast_flows_completed_total', { flow: 'notifications', outcome: 'failed' })).toBe(1);
  });

  it('the SDK metrics the alerts and the dashboard use are exported under the names they use', async () => {
    const refused = client.workflow.execute(webhookDeliveryWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `metrics-refused-${randomUUID()}`,
      args: [{ tenantId, deliveryId: `refused-${randomUUID()}` }],
    });
    await expect(refused).rejects.toThrow();

    const names = await eventually(async () => {
      const { text } = await scrape();
      const exported = new Set(parseScrape(text).map((sample) => sample.name));
      return exported.has('temporal_workflow_failed') ? exported : undefined;
    });
    const expected = Object.entries(sdkMetrics).flatMap(([name, type]) => sampleNamesOf(name, type));
    expect(expected.filter((name) => !names.has(name))).toEqual([]);

    // The labels the rules and panels group and filter by (test/unit/deploy-observability.test.ts).
    const { text } = await scrape();
    const samples = parseScrape(text);
    const missingLabels = Object.entries(sdkMetricLabels).flatMap(([name, labels]) => {
      const carried = new Set(
        samples
          .filter((sample) => sampleNamesOf(name, sdkMetrics[name as keyof typeof sdkMetrics]).includes(sample.name))
          .flatMap((sample) => Object.keys(sample.labels)),
      );
      return labels.filter((label) => !carried.has(label)).map((label) => `${name}: ${label}`);
    });
    expect(missingLabels).toEqual([]);
  });

  it('every business sample carries its declared labels and the SDK’s, and nothing that names a tenant', async () => {
    await client.workflow.execute(webhookDeliveryWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `metrics-labels-${randomUUID()}`,
      args: [{ tenantId, deliveryId: `delivery-${randomUUID()}` }],
    });

    const { samples } = await eventually(async () => {
      const scraped = await scrape();
      return scraped.samples.length > 0 ? scraped : undefined;
    });

    for (const sample of samples) {
      const metric = sample.name.replace(/_(bucket|sum|count)$/, '') as BusinessMetricName;
      const definition = businessMetrics[metric] ?? businessMetrics[sample.name as BusinessMetricName];
      expect(definition).toBeDefined();
      const expected: string[] = [...definition.labels, ...businessMetricSdkLabels[definition.emittedBy]];
      if (sample.name.endsWith('_bucket')) expected.push('le');
      expect(Object.keys(sample.labels).sort()).toEqual(expected.sort());
      expect(Object.values(sample.labels)).not.toContain(tenantId);
    }
  });

  it('replaying a finished flow’s history counts nothing again', async () => {
    waitlist.join('Ben');
    const handle = await client.workflow.start(waitlistCascadeWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `metrics-replay-${randomUUID()}`,
      args: [{ tenantId, slotId: `slot-${randomUUID()}` }],
    });
    await handle.result();
    // Every task queue's samples: the replay runs on a task queue of its own (`fake_replay_queue-…`),
    // so a count it made again would not carry this suite's task queue.
    const before = (await scrape({ everyQueue: true })).samples;

    await Worker.runReplayHistory(
      { workflowBundle: bundle, dataConverter: client.options.dataConverter },
      await handle.fetchHistory(),
      handle.workflowId,
    );
    const after = (await scrape({ everyQueue: true })).samples;

    expect(after.filter((sample) => sample.labels.taskQueue?.startsWith('fake_replay_queue'))).toEqual([]);
    expect(after).toEqual(before);
  });
});
