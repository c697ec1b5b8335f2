import { randomBytes, randomUUID } from 'node:crypto';
import { ReplayError, Worker, type WorkflowBundle } from '@temporalio/worker';
import {
  createDataConverter,
  createEncryptionCodec,
  ENCRYPTED_ENCODING,
  encryptedPayloadScope,
  METADATA_ENCODING,
  PayloadTamperedError,
} from '../../lib/data-converter';
import { tenantScope } from '../../lib/payload-scope';
import { notificationWorkflow, notificationWorkflowId } from '../../workflows/notification';
import { TenantIdKey } from '../../workflows/search-attributes';
import { historyPayloads } from '../support/history-payloads';
import { FakeNotificationLedger } from '../support/notification-fake';
import { bundleWorkflows } from '../support/stack';
import { useTimeSkippingWorkers } from '../support/time-skipping';

/**
 * The recorded fixtures (test/histories) are kept in clear, so their replay only shows that the codec
 * lets plaintext through. Histories written in production are encrypted: a worker that picks up a
 * run after a restart, or an operator replaying it, decrypts it on the way into the workflow code.
 * Here a notification runs to completion through the production codec, and its history is replayed.
 */
describe('replay of an encrypted history', () => {
  const temporal = useTimeSkippingWorkers();
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    bundle = await bundleWorkflows();
  });

  it('a notification history, encrypted under its tenant, replays with its key and fails with another', async () => {
    const tenantId = `t-${randomUUID()}`;
    const notificationId = randomUUID();
    const workflowId = notificationWorkflowId(tenantId, notificationId);
    const fake = new FakeNotificationLedger();
    const history = await temporal.runWithWorker(fake.activities(), 'encrypted-replay', async (taskQueue) => {
      const handle = await temporal.env.client.workflow.start(notificationWorkflow, {
        taskQueue,
        workflowId,
        args: [{ tenantId, notificationId, priority: 3 }],
        typedSearchAttributes: [{ key: TenantIdKey, value: tenantId }],
      });
      expect(await handle.result()).toMatchObject({ status: 'SENT' });
      return handle.fetchHistory();
    });
    expect(fake.deliveries).toBe(1);

    const payloads = historyPayloads(history);
    // The input, the activity's input and result, and the workflow's result at least.
    expect(payloads.length).toBeGreaterThanOrEqual(4);
    for (const { payload } of payloads) {
      expect(Buffer.from(payload.metadata![METADATA_ENCODING]!).toString()).toBe(ENCRYPTED_ENCODING);
      expect(encryptedPayloadScope(payload)).toBe(tenantScope(tenantId));
    }

    const dataConverter = temporal.env.client.options.dataConverter;
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, history, workflowId),
    ).resolves.toBeUndefined();

    // Same key id and a salt for every scope, but another master key: only the decryption can fail.
    const otherKeyCodec = createEncryptionCodec({
      keys: [{ id: 'unit-test', key: randomBytes(32) }],
      salts: { saltOf: () => Promise.resolve(Buffer.alloc(32)) },
      keyCacheTtlMs: 60_000,
    });
    // The replay error carries the workflow task's failure encoded, so the codec's own error is kept here.
    const decodeErrors: unknown[] = [];
    const otherKeyConverter = createDataConverter({
      encode: (payloads, context) => otherKeyCodec.encode(payloads, context),
      decode: (payloads, context) =>
        otherKeyCodec.decode(payloads, context).catch((error: unknown) => {
          decodeErrors.push(error);
          throw error;
        }),
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: otherKeyConverter }, history, workflowId),
    ).rejects.toThrow(ReplayError);
    expect(decodeErrors[0]).toBeInstanceOf(PayloadTamperedError);
    expect(decodeErrors[0]).toMatchObject({ scope: tenantScope(tenantId) });
  });
});
