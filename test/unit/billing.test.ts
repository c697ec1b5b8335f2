import { ApplicationFailure } from '@temporalio/common';
import { createHttpBillingProvider, formEncode, type BillingProvider } from '../../activities/billing';
import { startBillingSandbox, type BillingSandboxHandle } from '../../scripts/stack/billing-sandbox';
import { FailureType } from '../../workflows/errors';

const API_KEY = 'sk_test_holdfast';

/** What a call threw, for assertions on its type and retryability. */
async function errorOf(call: Promise<unknown>): Promise<Error> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

/**
 * Long enough for the sandbox's first answer on a loaded CI machine (500 ms once was not), short enough for the
 * tests that wait out a hung request.
 */
const TIMEOUT_MS = 2000;

describe('billing adapter against the billing sandbox (real loopback HTTP)', () => {
  let sandbox: BillingSandboxHandle;
  let billing: BillingProvider;
  const customer = { email: 'ada@acme.test', name: 'Acme Clinics', metadata: { tenant_id: 't-1' } };

  beforeEach(async () => {
    sandbox = await startBillingSandbox({ apiKey: API_KEY });
    billing = createHttpBillingProvider({ url: sandbox.url, apiKey: API_KEY, timeoutMs: TIMEOUT_MS });
  });

  afterEach(async () => {
    await sandbox.stop();
  });

  it('creates a customer and a subscription, sending an Idempotency-Key with every call', async () => {
    const { id: customerId } = await billing.createCustomer(customer, 'k-customer');
    const subscription = await billing.createSubscription(
      { customerId, priceId: 'price_holdfast_professional', metadata: { tenant_id: 't-1' } },
      'k-subscription',
    );

    expect(customerId).toMatch(/^cus_/);
    expect(subscription).toEqual({ id: expect.stringMatching(/^sub_/), status: 'active' });
    expect(sandbox.customers()).toEqual([expect.objectContaining({ id: customerId, ...customer, deleted: false })]);
    expect(sandbox.subscriptions()).toEqual([
      expect.objectContaining({ customer: customerId, price: 'price_holdfast_professional', status: 'active' }),
    ]);
    expect(sandbox.requests().map((r) => r.idempotencyKey)).toEqual(['k-customer', 'k-subscription']);
  });

  it('a repeated idempotency key returns the first customer instead of creating a second', async () => {
    const first = await billing.createCustomer(customer, 'k-same');
    const second = await billing.createCustomer(customer, 'k-same');

    expect(second.id).toBe(first.id);
    expect(sandbox.customers()).toHaveLength(1);
    expect(sandbox.requests()[1]).toMatchObject({ replayed: true });
  });

  it('a call that timed out after the provider acted, retried with its key, leaves exactly one customer', async () => {
    sandbox.inject({ method: 'POST', path: '/v1/customers', fault: { type: 'process_then_hang' } });

    const timedOut = await errorOf(billing.createCustomer(customer, 'k-lost-answer'));
    const retried = await billing.createCustomer(customer, 'k-lost-answer');

    expect(timedOut.message).toContain(`no answer within ${TIMEOUT_MS} ms`);
    expect(timedOut).not.toBeInstanceOf(ApplicationFailure);
    expect(sandbox.customers()).toEqual([expect.objectContaining({ id: retried.id })]);
  });

  it('a declined card is a non-retryable CardDeclined, and any other 402 a non-retryable PaymentRequired', async () => {
    sandbox.inject({ path: '/v1/customers', fault: { type: 'card_declined' } });
    sandbox.inject({ path: '/v1/customers', fault: { type: 'status', status: 402 } });

    const declined = await errorOf(billing.createCustomer(customer, 'k-1'));
    const paymentRequired = await errorOf(billing.createCustomer(customer, 'k-2'));

    expect(declined).toMatchObject({ type: FailureType.CardDeclined, nonRetryable: true });
    expect(paymentRequired).toMatchObject({ type: FailureType.PaymentRequired, nonRetryable: true });
    expect(sandbox.customers()).toHaveLength(0);
  });

  it('5xx answers and timeouts are retryable plain errors', async () => {
    sandbox.inject({ path: '/v1/customers', fault: { type: 'status', status: 503 } });
    sandbox.inject({ path: '/v1/customers', fault: { type: 'hang' } });

    const unavailable = await errorOf(billing.createCustomer(customer, 'k-1'));
    const hung = await errorOf(billing.createCustomer(customer, 'k-2'));

    for (const error of [unavailable, hung]) expect(error).not.toBeInstanceOf(ApplicationFailure);
    expect(unavailable.message).toMatch(/answered 503/);
    expect(hung.message).toMatch(/no answer within/);
  });

  it('a 429 is retried after the Retry-After the provider names', async () => {
    sandbox.inject({ path: '/v1/customers', fault: { type: 'status', status: 429, retryAfterSeconds: 7 } });

    const throttled = await errorOf(billing.createCustomer(customer, 'k-1'));

    expect(throttled).toBeInstanceOf(ApplicationFailure);
    expect(throttled).toMatchObject({ type: FailureType.ProviderThrottled, nonRetryable: false, nextRetryDelay: 7000 });
  });

  it('refusals no retry can change are non-retryable ProviderRejected: a bad API key, a reused key with other parameters', async () => {
    const wrongKey = createHttpBillingProvider({ url: sandbox.url, apiKey: 'sk_wrong' });
    await billing.createCustomer(customer, 'k-reused');

    const unauthorized = await errorOf(wrongKey.createCustomer(customer, 'k-1'));
    const mismatch = await errorOf(billing.createCustomer({ ...customer, name: 'Other' }, 'k-reused'));

    expect(unauthorized).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
    expect(mismatch).toMatchObject({ type: FailureType.ProviderRejected, nonRetryable: true });
    expect(mismatch.message).toMatch(/same parameters/);
  });

  it('cancelling and deleting are idempotent: what is already gone counts as done', async () => {
    const { id: customerId } = await billing.createCustomer(customer, 'k-c');
    const { id: subscriptionId } = await billing.createSubscription(
      { customerId, priceId: 'price_holdfast_free', metadata: {} },
      'k-s',
    );

    const canceled = await billing.cancelSubscription(subscriptionId, 'k-cancel');
    const deleted = await billing.deleteCustomer(customerId, 'k-delete');
    const deletedAgain = await billing.deleteCustomer(customerId, 'k-delete-again');
    const unknown = await billing.cancelSubscription('sub_unknown', 'k-unknown');

    expect([canceled, deleted, deletedAgain, unknown]).toEqual(['removed', 'removed', 'missing', 'missing']);
    expect(sandbox.customers()[0]).toMatchObject({ deleted: true });
    expect(sandbox.subscriptions()[0]).toMatchObject({ status: 'canceled' });
  });

  it('deleting a customer cancels its subscriptions, as Stripe does', async () => {
    const { id: customerId } = await billing.createCustomer(customer, 'k-c');
    await billing.createSubscription({ customerId, priceId: 'price_holdfast_free', metadata: {} }, 'k-s');

    await billing.deleteCustomer(customerId, 'k-d');

    expect(sandbox.subscriptions()[0]).toMatchObject({ status: 'canceled' });
  });

  it('a fault applies only to the requests it names, as many times as asked', async () => {
    sandbox.inject({ method: 'POST', path: '/v1/subscriptions', times: 2, fault: { type: 'status', status: 500 } });

    const { id: customerId } = await billing.createCustomer(customer, 'k-c');
    const subscribe = () => billing.createSubscription({ customerId, priceId: 'p', metadata: {} }, 'k-s');
    const outcomes = [await errorOf(subscribe()), await errorOf(subscribe()), await subscribe()];

    expect(outcomes.map((outcome) => ('id' in outcome ? 'created' : 'failed'))).toEqual([
      'failed',
      'failed',
      'created',
    ]);
  });
});

describe('Stripe form encoding', () => {
  it('writes nested objects and arrays as bracketed keys', () => {
    const encoded = formEncode({ customer: 'cus_1', items: [{ price: 'p_1' }], metadata: { tenant_id: 't 1' } });

    expect(decodeURIComponent(encoded)).toBe('customer=cus_1&items[0][price]=p_1&metadata[tenant_id]=t+1');
  });
});
