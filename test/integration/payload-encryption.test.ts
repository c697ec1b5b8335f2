import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decode, decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING, METADATA_ENCODING, METADATA_KEY_ID, METADATA_SCOPE } from '../../lib/data-converter';
import { rerunWorkflow, type DeadLetterDeps } from '../../api/services/operations/dead-letter';
import type { EncryptionCodec } from '../../lib/data-converter';
import { eraseTenantPayloadKeys } from '../../lib/payload-key-scopes';
import { tenantScope } from '../../lib/payload-scope';
import { notificationWorkflowId, type NotificationWorkflowInput } from '../../workflows/notification.contract';
import { waitlistCascadeId } from '../../workflows/waitlist-cascade.contract';
import { useApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import { bytesAsText, decodedHistoryText, historyPayloads, type HistoryPayload } from '../support/history-payloads';
import { SmsProvider } from '../support/sms-provider';
import { createTestTenant } from '../support/stack';

const EventType = temporal.api.enums.v1.EventType;

const text = (value: Uint8Array | null | undefined) => Buffer.from(value ?? new Uint8Array()).toString('utf8');
/** A payload's metadata as text, by name in order (a protobuf map keeps no order of its own). */
const metadataOf = (payload: Payload) =>
  Object.fromEntries(
    Object.entries(payload.metadata ?? {})
      .map(([name, value]) => [name, text(value)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );

/** Where a payload sits, without event numbers and list indexes: `activityTaskScheduledEventAttributes.input.payloads`. */
const placeOf = ({ path }: HistoryPayload) =>
  path
    .split('.')
    .filter((part) => part !== 'events' && !/^\d+$/.test(part))
    .join('.');

// Refuses every message (400): a delivery that fails for good at once.
const sms = new SmsProvider(400);

describe('payload encryption on the real stack: what the Temporal server keeps is ciphertext under the tenant’s key', () => {
  const stack = useApiStack({
    worker: true,
    mail: 'memory',
    terminateOnStop: true,
    config: async () => {
      await sms.start();
      return { SMS_PROVIDER_URL: sms.url, SMS_PROVIDER_TOKEN: 'sms-token' };
    },
    stop: () => sms.stop(),
  });

  /** A client of the same server with no codec: what the Web UI or the CLI shows to anyone without the codec server. */
  const plainClient = () =>
    new Client({ connection: stack.client.connection, namespace: stack.config.temporal.namespace });
  const activeKeyId = () => stack.config.payloads.keys[0]!.id;

  /**
   * Every payload is encrypted under the tenant's key, except what the SDK's core writes itself, past
   * the codec, on two kinds of marker: a `patched()` marker holds the patch's ID and nothing else, and
   * a local activity's marker describes the call (its sequence number, activity ID and type, attempt,
   * times). A local activity's result, on the same marker, is encrypted like any payload.
   */
  function expectEncryptedForTenant(all: HistoryPayload[]) {
    const patchMarkers = all.filter(({ path }) => path.includes('markerRecordedEventAttributes.details.patch-data'));
    for (const { payload } of patchMarkers) {
      expect(Object.keys(JSON.parse(text(payload.data)) as object).sort()).toEqual(['deprecated', 'id']);
    }
    const localActivityCalls = all.filter(({ path }) => /markerRecordedEventAttributes\.details\.data\./.test(path));
    for (const { payload } of localActivityCalls) {
      expect(Object.keys(JSON.parse(text(payload.data)) as object).sort()).toEqual([
        'activity_id',
        'activity_type',
        'attempt',
        'backoff',
        'complete_time',
        'original_schedule_time',
        'seq',
      ]);
    }
    const sdkWritten = [...patchMarkers, ...localActivityCalls];
    const payloads = all.filter((entry) => !sdkWritten.includes(entry));
    const expected = metadataOf({
      metadata: {
        [METADATA_ENCODING]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: Buffer.from(activeKeyId()),
        [METADATA_SCOPE]: Buffer.from(tenantScope(stack.tenant.id)),
      },
    });
    const wrong = payloads.filter(({ payload }) => JSON.stringify(metadataOf(payload)) !== JSON.stringify(expected));
    expect(wrong.map(({ path, payload }) => ({ path, metadata: metadataOf(payload) }))).toEqual([]);
    return payloads;
  }

  it('a waitlist cascade, from its start to an accepted offer: every payload of every event is encrypted, and decrypts to what was sent', async () => {
    const customer = { customerName: 'Ada Lovelace', email: `ada.lovelace.${randomUUID().slice(0, 8)}@mail.test` };
    const slot = await request(stack.app)
      .post('/api/v1/slots')
      .set('Authorization', stack.tokens.member)
      .send({ name: 'Dr. Lee 14:30' });
    expect(slot.status).toBe(201);
    const slotId = slot.body.id as string;
    const joined = await request(stack.app)
      .post(`/api/v1/slots/${slotId}/waitlist`)
      .set('Authorization', stack.tokens.member)
      .send(customer);
    expect(joined.status).toBe(201);
    const released = await request(stack.app)
      .post(`/api/v1/slots/${slotId}/release`)
      .set('Authorization', stack.tokens.operator);
    expect(released.status).toBe(202);
    const offer = await eventually(() => stack.mails.find((mail) => mail.to === customer.email));
    const link = new URL(offer.text.split(/\s+/).find((word) => word.includes('decision=accept'))!);
    const accepted = await request(stack.app)
      .post('/api/v1/offers/respond')
      .send({ token: link.searchParams.get('token'), decision: 'accept' });
    expect(accepted.status).toBe(200);
    const workflowId = waitlistCascadeId(stack.tenant.id, slotId);
    const result: unknown = await stack.client.workflow.getHandle(workflowId).result();

    const raw = await plainClient().workflow.getHandle(workflowId).fetchHistory();

    const payloads = expectEncryptedForTenant(historyPayloads(raw));
    const places = new Set(payloads.map(placeOf));
    for (const place of [
      'workflowExecutionStartedEventAttributes.input.payloads',
      'activityTaskScheduledEventAttributes.input.payloads',
      'activityTaskCompletedEventAttributes.result.payloads',
      // A local activity's result (the cascade's writes), on its marker.
      'markerRecordedEventAttributes.details.result.payloads',
      'workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.args.payloads',
      'workflowExecutionUpdateCompletedEventAttributes.outcome.success.payloads',
      'workflowExecutionCompletedEventAttributes.result.payloads',
    ]) {
      expect(places).toContain(place);
    }
    const rawText = bytesAsText(raw);
    // IDs stay readable (the search attributes are the slot's and the tenant's); names and addresses never are.
    for (const personal of ['Ada', 'Lovelace', customer.email, 'mail.test', 'Dr. Lee']) {
      expect(rawText).not.toContain(personal);
    }
    // Through the codec the same history reads back: the input the API sent, and the customer the activities saw.
    const started = raw.events!.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
    const converter = stack.client.options.loadedDataConverter;
    expect(
      await decodeArrayFromPayloads(converter, started.workflowExecutionStartedEventAttributes!.input!.payloads),
    ).toEqual([{ tenantId: stack.tenant.id, slotId }]);
    const completed = raw.events!.find(
      (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    )!;
    expect(
      await decodeArrayFromPayloads(converter, completed.workflowExecutionCompletedEventAttributes!.result!.payloads),
    ).toEqual([result]);
    const readable = await decodedHistoryText(stack.client, raw);
    expect(readable).toContain(slotId);
    expect(readable).toContain('Ada');
    process.stdout.write(
      `payload encryption: ${payloads.length} payloads of ${raw.events!.length} events encrypted, in ${[...places].sort().join(', ')}\n`,
    );
  });

  it('a failed delivery: the failure’s message travels encrypted, and only the codec reads it', async () => {
    const to = `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const sent = await request(stack.app)
      .post('/api/v1/notifications')
      .set('Authorization', stack.tokens.operator)
      .set('Idempotency-Key', randomUUID())
      .send({ channel: 'SMS', to, text: 'Your parcel for Ada Lovelace is ready' });
    expect(sent.status).toBe(202);
    const workflowId = sent.body.workflowId as string;
    await stack.client.workflow.getHandle(workflowId).result();

    const raw = await plainClient().workflow.getHandle(workflowId).fetchHistory();

    expectEncryptedForTenant(historyPayloads(raw));
    const failedStep = raw.events!.find((event) => event.activityTaskFailedEventAttributes)!;
    const failure = failedStep.activityTaskFailedEventAttributes!.failure!;
    const underlying = failure.cause ?? failure;
    expect(underlying.message).toBe('Encoded failure');
    expect(underlying.stackTrace).toBe('');
    expect(underlying.applicationFailureInfo?.type).toBe('ProviderRejected');
    expect(metadataOf(underlying.encodedAttributes!)).toMatchObject({ [METADATA_SCOPE]: tenantScope(stack.tenant.id) });
    const [attributes] = await decode(stack.client.options.loadedDataConverter.payloadCodecs, [
      underlying.encodedAttributes!,
    ]);
    const { message } = JSON.parse(text(attributes!.data)) as { message: string; stack_trace: string };
    expect(message.length).toBeGreaterThan(0);
    expect(bytesAsText(raw)).not.toContain(message);
    const rawText = bytesAsText(raw);
    for (const personal of [to, 'Ada Lovelace', 'parcel']) expect(rawText).not.toContain(personal);
  });

  it('a rerun from the dead-letter inbox copies the encrypted input as it is, and refuses once the tenant’s keys are erased', async () => {
    const tenant = await createTestTenant(stack.prisma);
    const input: NotificationWorkflowInput = { tenantId: tenant.id, notificationId: randomUUID(), priority: 3 };
    // No worker polls this queue: the runs only need their start events.
    const taskQueue = `${stack.config.temporal.taskQueue}-unpolled`;
    const first = await stack.client.workflow.start('notificationWorkflow', {
      taskQueue,
      workflowId: notificationWorkflowId(tenant.id, input.notificationId),
      args: [input],
    });
    await first.terminate('only its start event is needed');
    const deps = { temporal: stack.client } as DeadLetterDeps;
    const startInput = async (runId: string) => {
      const { events } = await plainClient().workflow.getHandle(first.workflowId, runId).fetchHistory();
      return events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    };

    const rerunId = await rerunWorkflow(deps, first.workflowId, first.firstExecutionRunId);
    await stack.client.workflow.getHandle(first.workflowId, rerunId).terminate('only its start event is needed');
    const [copied] = await startInput(rerunId);
    expect(Buffer.from(copied!.data!)).toEqual(Buffer.from((await startInput(first.firstExecutionRunId))[0]!.data!));
    expect(metadataOf(copied!)[METADATA_SCOPE]).toBe(tenantScope(tenant.id));
    expect(await decodeArrayFromPayloads(stack.client.options.loadedDataConverter, await startInput(rerunId))).toEqual([
      input,
    ]);

    await eraseTenantPayloadKeys(stack.prisma, tenant, 'platform-admin@example.com');
    (stack.client.options.loadedDataConverter.payloadCodecs[0] as EncryptionCodec).forgetScope(tenantScope(tenant.id));

    await expect(rerunWorkflow(deps, first.workflowId, first.firstExecutionRunId)).rejects.toMatchObject({
      status: 409,
      code: 'PAYLOADS_UNREADABLE',
    });
  });
});
