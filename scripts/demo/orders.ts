import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { orderReference } from '../../domain/order-messages';
import {
  answer,
  answerLink,
  anything,
  awaitMessage,
  check,
  conforming,
  demoTenantId,
  expectAnswer,
  linkToken,
  note,
  poll,
  since,
  stamp,
  step,
  temporalQuery,
  type DemoTokens,
} from './tour';

const demoRetailerId = '00000000-0000-4000-8000-000000000101';
const vendorOfferRoute = '/vendor/offers/respond';

const placedOrder = z.object({ orderId: z.string() });
const orderRow = z.object({ status: z.string(), total: z.number() });
const orderState = z.object({ status: z.string(), reminders: z.array(z.object({ status: z.string() })) });

/** An order is offered to vendors in rank order, dispatched, delivered and paid; its reminders stop. */
export async function ordersTour({ tenant }: DemoTokens): Promise<void> {
  step('orders: place an order for the demo retailer in Kathmandu');
  const placed = since();
  const { orderId } = await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/orders',
      token: tenant,
      headers: { 'Idempotency-Key': `demo-${randomUUID()}` },
      body: {
        retailerId: demoRetailerId,
        deliveryRegion: 'kathmandu',
        items: [{ sku: 'RICE-5', name: 'Rice 5 kg', category: 'grocery', quantity: 10, unitPrice: 1200 }],
      },
    },
    [202],
    placedOrder,
  );
  note(`ORDER=${orderId}`);

  // On a fresh stack the best vendor is Himalayan Wholesale (WhatsApp); its rejection lowers its score for 30
  // days, so on later runs Valley Traders (email) is asked first.
  step('orders: the best-ranked vendor gets the offer and rejects it');
  const firstOffer = await awaitMessage(tenant, placed, {
    route: vendorOfferRoute,
    mentioning: orderReference(orderId),
  });
  const rejectedAt = since();
  const reject = {
    token: linkToken(firstOffer, vendorOfferRoute, 'reject'),
    decision: 'reject',
    reason: 'out of stock',
  };
  await answerLink('/api/v1/vendor/offers/respond', reject, 'rejected');

  step('orders: the next vendor gets the offer and accepts it');
  const secondOffer = await awaitMessage(tenant, rejectedAt, {
    route: vendorOfferRoute,
    mentioning: orderReference(orderId),
  });
  check(secondOffer.to !== firstOffer.to, `the offer went to ${firstOffer.to} again`);
  const accept = { token: linkToken(secondOffer, vendorOfferRoute, 'accept'), decision: 'accept' };
  await answerLink('/api/v1/vendor/offers/respond', accept, 'accepted');

  const readOrder = (quiet: boolean) => answer({ path: `/api/v1/orders/${orderId}`, token: tenant }, orderRow, quiet);
  for (const status of ['DISPATCHED', 'DELIVERED'] as const) {
    step(`orders: the order is ${status}`);
    await expectAnswer(
      { method: 'POST', path: `/api/v1/orders/${orderId}/status`, token: tenant, body: { status } },
      [202],
      anything,
    );
    await poll(`the order did not become ${status}`, readOrder, (row) => row.status === status);
  }

  step('orders: the retailer pays in full; the reminders stop and the order is PAID');
  const { total } = await readOrder(true);
  await expectAnswer(
    {
      method: 'POST',
      path: `/api/v1/orders/${orderId}/payments`,
      token: tenant,
      body: { amount: total, reference: `bank-${stamp}` },
    },
    [201, 202],
    anything,
  );
  const paid = await poll(
    'the order did not reach PAID with its reminders cancelled',
    async (quiet) =>
      conforming(orderState, await temporalQuery(`order:${demoTenantId}:${orderId}`, 'getOrderState', quiet)),
    (state) => state.status === 'PAID' && state.reminders.every((reminder) => reminder.status !== 'scheduled'),
  );
  note(`PAID; reminders ${paid.reminders.map((reminder) => reminder.status).join(', ')}`);
}
