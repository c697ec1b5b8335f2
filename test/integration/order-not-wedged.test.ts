import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import type { SmsProvider } from '../../activities/sms-provider';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { FailureType, FlowRejection } from '../../workflows/errors';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import {
  cancelOrderUpdate,
  getOrderStateQuery,
  orderRoutingWorkflow,
  vendorRespondUpdate,
} from '../../workflows/order-routing';
import { FlowStatusKey } from '../../workflows/search-attributes';
import { eventually } from '../support/eventually';
import { useApiStack } from '../support/api-stack';
import { rejectionOf } from '../support/workflow-handles';

const { EventType } = proto.api.enums.v1;

/**
 * Hostile input sent straight to the order workflow through the Temporal client, as the CLI, the
 * Web UI or any other client could, bypassing the API's validation: a real worker (the activities
 * as registered, against a real PostgreSQL) on the dev server. The WhatsApp provider is an
 * in-process stand-in that records what it is asked to send.
 */
describe('no input wedges an order on the real stack (dev server, worker, PostgreSQL)', () => {
  const sent: Array<{ to: string; body: string }> = [];
  const whatsapp: SmsProvider = {
    send: async ({ to, body }) => {
      sent.push({ to, body });
      return { id: `wa-${sent.length}` };
    },
  };
  const stack = useApiStack({ worker: { whatsapp } });
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let tenantId: string;

  beforeAll(() => {
    ({ config, prisma, client } = stack);
    tenantId = stack.tenant.id;
  });

  /** A retailer, one vendor and a PENDING order in a region of their own. */
  async function placeOrder(): Promise<{ orderId: string; vendorContact: string }> {
    const region = `region-${randomUUID()}`;
    const vendorContact = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    const retailer = await prisma.retailer.create({
      data: { tenantId, name: 'Corner Shop', channel: 'WHATSAPP', contact: '+14155550100', creditLimit: 100_000 },
    });
    await prisma.vendor.create({
      data: {
        tenantId,
        name: 'Ada Supplies',
        region,
        categories: ['grocery'],
        capacity: 5,
        rating: 4.5,
        channel: 'WHATSAPP',
        contact: vendorContact,
      },
    });
    const order = await prisma.order.create({
      data: {
        tenantId,
        retailerId: retailer.id,
        items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 2, unitPrice: 1250 }],
        total: 2500,
        deliveryRegion: region,
        requestHash: 'test',
      },
    });
    return { orderId: order.id, vendorContact };
  }

  const start = (orderId: string, workflowId = orderRoutingId(tenantId, orderId)) =>
    client.workflow.start(orderRoutingWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [{ tenantId, orderId }],
    });

  /** How many Updates the workflow accepted: a validator's rejection writes none. */
  async function acceptedUpdates(handle: WorkflowHandle): Promise<number> {
    const { events } = await handle.fetchHistory();
    return (events ?? []).filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
      .length;
  }

  it('a cancel and a vendor rejection with a NUL in the reason are refused at once, no activity retries, and a clean cancel then succeeds', async () => {
    const { orderId, vendorContact } = await placeOrder();
    const handle = await start(orderId);
    await eventually(() => sent.find((message) => message.to === vendorContact));
    const offer = await prisma.routingAttempt.findFirstOrThrow({ where: { orderId, outcome: 'OFFERED' } });

    const cancelRefusal = await rejectionOf(
      handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'x\u0000y', actor: 'user:operator' }] }),
    );
    const respondRefusal = await rejectionOf(
      handle.executeUpdate(vendorRespondUpdate, {
        args: [{ tokenHash: offer.tokenHash!, decision: 'reject', reason: 'x\u0000y' }],
      }),
    );
    const { raw } = await handle.describe();
    const accepted = await acceptedUpdates(handle);
    const routing = await handle.query(getOrderStateQuery);
    const cancelled = await handle.executeUpdate(cancelOrderUpdate, {
      args: [{ reason: 'the retailer changed its mind', actor: 'user:operator' }],
    });
    const result = await handle.result();

    expect(cancelRefusal).toBe(FlowRejection.InvalidInput);
    expect(respondRefusal).toBe(FlowRejection.InvalidInput);
    expect((raw.pendingActivities ?? []).every((activity) => (activity.attempt ?? 1) < 3)).toBe(true);
    expect(accepted).toBe(0);
    expect(routing).toMatchObject({ status: 'ROUTING', failure: null, currentOffer: { attemptId: offer.id } });
    expect(cancelled).toEqual({ status: 'cancelled' });
    expect(result).toMatchObject({ outcome: 'cancelled', status: 'CANCELLED' });
    const order = await prisma.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(order).toMatchObject({ status: 'CANCELLED', statusReason: 'the retailer changed its mind' });
    const attempt = await prisma.routingAttempt.findUniqueOrThrow({ where: { id: offer.id } });
    expect(attempt.outcome).toBe('CANCELLED');
  });

  it('an order the database refuses (a NUL in its ID) stops in NEEDS_ATTENTION after one attempt instead of retrying forever', async () => {
    const handle = await start(`order\u0000${randomUUID()}`, orderRoutingId(tenantId, randomUUID()));

    const error = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const state = await handle.query(getOrderStateQuery);
    const { events } = await handle.fetchHistory();
    const { typedSearchAttributes } = await handle.describe();

    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe(FailureType.NeedsAttention);
    expect(state).toMatchObject({
      status: 'NEEDS_ATTENTION',
      failure: { step: 'checkCredit', type: FailureType.DataRejected },
    });
    expect(state.statusReason).toMatch(/^checkCredit failed: The database refused the data: .*SQLSTATE 22021/);
    expect(typedSearchAttributes.get(FlowStatusKey)).toBe('NEEDS_ATTENTION');
    const attempts = (events ?? [])
      .filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
      .map((event) => event.activityTaskStartedEventAttributes?.attempt);
    // checkCredit, then the attempt to mark the order NEEDS_ATTENTION: one attempt each.
    expect(attempts).toEqual([1, 1]);
  });
});
