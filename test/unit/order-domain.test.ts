import { extractLinks, isValidRecipient, type NotificationTemplate } from '../../domain/notifications';
import { signOfferToken, verifyOfferToken } from '../../domain/offer-token';
import { formatAmount, orderReference, vendorResponseUrl, type OrderTemplate } from '../../domain/order-messages';
import {
  CREDIT_SCORE_BASE,
  CREDIT_SCORE_MAX,
  CREDIT_SCORE_MIN,
  CreditRefusal,
  creditDecision,
  creditScore,
  orderCategories,
  orderTotal,
  type OrderItem,
  type PaymentHistory,
} from '../../domain/orders';
import { paymentDueDate, paymentReminderSchedule, type ReminderKind } from '../../domain/payment-reminders';
import { hashVendorToken, signVendorToken, verifyVendorToken } from '../../domain/vendor-token';
import {
  MAX_VENDORS_PER_ORDER,
  ineligibility,
  rankVendors,
  vendorScore,
  type RoutingNeed,
  type VendorCandidate,
} from '../../domain/vendors';
import { renderNotification } from '../support/legacy-messages';

const SECRET = 'unit-test-offer-secret-of-32-characters!';

describe('order totals and categories', () => {
  const items: OrderItem[] = [
    { sku: 'MLK-1', name: 'Milk 1l', category: 'dairy', quantity: 12, unitPrice: 129 },
    { sku: 'BRD-1', name: 'Sourdough', category: 'bakery', quantity: 3, unitPrice: 450 },
    { sku: 'CHS-1', name: 'Cheddar', category: 'dairy', quantity: 1, unitPrice: 899 },
  ];

  it('totals quantity times unit price over all lines, in minor units, and an empty order totals 0', () => {
    const total = orderTotal(items);

    expect(total).toBe(12 * 129 + 3 * 450 + 899);
    expect(orderTotal([])).toBe(0);
  });

  it('lists each category the order needs once, sorted', () => {
    const categories = orderCategories(items);

    expect(categories).toEqual(['bakery', 'dairy']);
    expect(orderCategories([])).toEqual([]);
  });
});

describe('credit check', () => {
  const position = { creditLimit: 100_000, outstanding: 30_000, flagged: false };

  it('approves an order within the available credit and reports what is available', () => {
    const decision = creditDecision(position, 50_000);

    expect(decision).toEqual({ approved: true, available: 70_000 });
  });

  it('approves an order that uses exactly the available credit', () => {
    const decision = creditDecision(position, 70_000);

    expect(decision).toEqual({ approved: true, available: 70_000 });
  });

  it('refuses an order over the available credit as CREDIT_LIMIT_EXCEEDED, naming the total and what is available', () => {
    const decision = creditDecision(position, 70_001);

    expect(decision).toMatchObject({ approved: false, code: CreditRefusal.OverLimit, available: 70_000 });
    expect(CreditRefusal.OverLimit).toBe('CREDIT_LIMIT_EXCEEDED');
    expect(decision.approved === false && decision.reason).toBe(
      'The order total 70001 exceeds the available credit 70000 (limit 100000, outstanding 30000)',
    );
  });

  it('a retailer already over its limit is told 0 is available, not a negative amount', () => {
    const decision = creditDecision({ creditLimit: 10_000, outstanding: 12_000, flagged: false }, 1);

    expect(decision).toMatchObject({ approved: false, code: CreditRefusal.OverLimit, available: -2_000 });
    expect(decision.approved === false && decision.reason).toContain('available credit 0 ');
  });

  it('refuses a flagged retailer as RETAILER_FLAGGED even when the order is within the limit', () => {
    const decision = creditDecision({ ...position, flagged: true }, 1_000);

    expect(decision).toMatchObject({ approved: false, code: CreditRefusal.Flagged, available: 70_000 });
    expect(CreditRefusal.Flagged).toBe('RETAILER_FLAGGED');
  });
});

describe('credit score', () => {
  const history = (overrides: Partial<PaymentHistory> = {}): PaymentHistory => ({
    paidOnTime: 0,
    paidLate: 0,
    overdueUnpaid: 0,
    finalNotices: 0,
    outstanding: 0,
    creditLimit: 100_000,
    ...overrides,
  });

  it('starts a retailer with no history at 600', () => {
    const score = creditScore(history());

    expect(score).toBe(600);
    expect(CREDIT_SCORE_BASE).toBe(600);
  });

  it('raises the score 10 points per on-time payment, counting at most 25 of them, up to the maximum', () => {
    const scores = [10, 25, 26, 100].map((paidOnTime) => creditScore(history({ paidOnTime })));

    expect(scores).toEqual([700, 850, 850, 850]);
  });

  it('lowers the score for late payments (15), overdue orders (40) and final notices (80) each', () => {
    const late = creditScore(history({ paidLate: 2 }));
    const overdue = creditScore(history({ overdueUnpaid: 1 }));
    const finalNotice = creditScore(history({ finalNotices: 1 }));
    const all = creditScore(history({ paidOnTime: 5, paidLate: 1, overdueUnpaid: 1, finalNotices: 1 }));

    expect([late, overdue, finalNotice]).toEqual([570, 560, 520]);
    expect(all).toBe(600 + 50 - 15 - 40 - 80);
  });

  it('lowers the score for using more than half of the credit limit, counting at most all of it', () => {
    const utilisation = [0.5, 0.8, 1, 1.5].map((used) => creditScore(history({ outstanding: used * 100_000 })));

    expect(utilisation).toEqual([600, 570, 550, 550]);
  });

  it('never goes below 300 nor above 850', () => {
    const worst = creditScore(history({ paidLate: 20, overdueUnpaid: 10, finalNotices: 10, outstanding: 100_000 }));
    const best = creditScore(history({ paidOnTime: 1_000 }));

    expect(worst).toBe(CREDIT_SCORE_MIN);
    expect(CREDIT_SCORE_MIN).toBe(300);
    expect(best).toBe(CREDIT_SCORE_MAX);
    expect(CREDIT_SCORE_MAX).toBe(850);
  });

  it('is deterministic: the same history always scores the same, so a repeated recalculation writes the same number', () => {
    const input = history({ paidOnTime: 7, paidLate: 1, overdueUnpaid: 1, outstanding: 73_000 });
    const copy = { ...input };

    const scores = [creditScore(input), creditScore(input), creditScore({ ...input })];

    expect(new Set(scores).size).toBe(1);
    expect(input).toEqual(copy);
  });
});

describe('vendor ranking', () => {
  const need: RoutingNeed = { deliveryRegion: 'north', categories: ['bakery', 'dairy'] };
  const vendor = (id: string, overrides: Partial<VendorCandidate> = {}): VendorCandidate => ({
    id,
    region: 'north',
    categories: ['bakery', 'dairy', 'produce'],
    capacity: 4,
    rating: 4,
    active: true,
    openOrders: 0,
    recentRejections: 0,
    ...overrides,
  });

  it('says why a vendor cannot take the order: inactive, another region, a missing category, at capacity', () => {
    const reasons = [
      vendor('inactive', { active: false }),
      vendor('south', { region: 'south' }),
      vendor('no-dairy', { categories: ['bakery'] }),
      vendor('full', { capacity: 2, openOrders: 2 }),
      vendor('ok', { capacity: 2, openOrders: 1 }),
    ].map((candidate) => ineligibility(candidate, need));

    expect(reasons).toEqual(['inactive', 'serves another region', 'does not supply dairy', 'at capacity', null]);
  });

  it('offers the order only to eligible vendors', () => {
    const vendors = [
      vendor('inactive', { active: false, rating: 5 }),
      vendor('south', { region: 'south', rating: 5 }),
      vendor('no-dairy', { categories: ['bakery'], rating: 5 }),
      vendor('full', { capacity: 2, openOrders: 2, rating: 5 }),
      vendor('ok'),
    ];

    const ranked = rankVendors(vendors, need);

    expect(ranked.map((v) => v.id)).toEqual(['ok']);
  });

  it('scores a vendor by its rating, less a point per recent rejection, less half its load', () => {
    const score = vendorScore(vendor('v', { rating: 4.5, recentRejections: 1, openOrders: 1, capacity: 4 }));

    expect(score).toBe(4.5 - 1 - 0.125);
  });

  it('offers the best-scoring vendor first: a high rating loses to recent rejections, and load counts', () => {
    const vendors = [
      vendor('top-rated-but-rejects', { rating: 5, recentRejections: 2 }),
      vendor('busy', { rating: 4, openOrders: 3 }),
      vendor('idle', { rating: 4 }),
      vendor('good', { rating: 4.5, openOrders: 2 }),
    ];

    const ranked = rankVendors(vendors, need);

    expect(ranked.map((v) => v.id)).toEqual(['good', 'idle', 'busy', 'top-rated-but-rejects']);
  });

  it('breaks a tie in score by fewer open orders, then by ID', () => {
    const vendors = [
      vendor('v-more-open', { rating: 4, capacity: 4, openOrders: 2 }),
      vendor('v-b', { rating: 4, capacity: 2, openOrders: 1 }),
      vendor('v-a', { rating: 4, capacity: 2, openOrders: 1 }),
    ];

    const ranked = rankVendors(vendors, need);

    expect(vendors.map(vendorScore)).toEqual([3.75, 3.75, 3.75]);
    expect(ranked.map((v) => v.id)).toEqual(['v-a', 'v-b', 'v-more-open']);
  });

  it('breaks a tie in score by fewer open orders also when fractional ratings make the tie', () => {
    // 3.0 - 0.5 * 1/5 and 3.2 - 0.5 * 3/5 are both 2.9; in floating point the second comes out 2.9000000000000004.
    const vendors = [
      vendor('v-z-fewer-open', { rating: 3, capacity: 5, openOrders: 1 }),
      vendor('v-a-more-open', { rating: 3.2, capacity: 5, openOrders: 3 }),
    ];

    const ranked = rankVendors(vendors, need);

    expect(ranked.map((v) => v.id)).toEqual(['v-z-fewer-open', 'v-a-more-open']);
  });

  it('returns at most the limit asked for, and by default at most MAX_VENDORS_PER_ORDER', () => {
    const vendors = Array.from({ length: 25 }, (_, i) => vendor(`v-${String(i).padStart(2, '0')}`, { rating: i / 5 }));

    const top3 = rankVendors(vendors, need, 3);
    const byDefault = rankVendors(vendors, need);

    expect(top3.map((v) => v.id)).toEqual(['v-24', 'v-23', 'v-22']);
    expect(byDefault).toHaveLength(MAX_VENDORS_PER_ORDER);
    expect(MAX_VENDORS_PER_ORDER).toBe(20);
  });

  it('leaves the list it was given in its order', () => {
    const vendors = [vendor('low', { rating: 1 }), vendor('high', { rating: 5 })];

    rankVendors(vendors, need);

    expect(vendors.map((v) => v.id)).toEqual(['low', 'high']);
  });
});

describe('payment reminders', () => {
  const deliveredAt = '2026-12-01T09:00:00.000Z';
  const day = (n: number) => new Date(Date.parse(deliveredAt) + n * 24 * 60 * 60 * 1000).toISOString();

  it('puts the due date the payment terms after delivery', () => {
    const due = paymentDueDate(deliveredAt, 14);

    expect(due).toBe('2026-12-15T09:00:00.000Z');
    expect(paymentDueDate('2026-12-20T09:30:00.000Z', 30)).toBe('2027-01-19T09:30:00.000Z');
  });

  it('on 14-day terms: DUE_SOON on day 12, OVERDUE on days 14, 17, 20, 23 and 26, FINAL_NOTICE on day 28', () => {
    const schedule = paymentReminderSchedule(deliveredAt, paymentDueDate(deliveredAt, 14));

    expect(schedule).toEqual([
      { kind: 'DUE_SOON', sequence: 1, at: day(12) },
      { kind: 'OVERDUE', sequence: 2, at: day(14) },
      { kind: 'OVERDUE', sequence: 3, at: day(17) },
      { kind: 'OVERDUE', sequence: 4, at: day(20) },
      { kind: 'OVERDUE', sequence: 5, at: day(23) },
      { kind: 'OVERDUE', sequence: 6, at: day(26) },
      { kind: 'FINAL_NOTICE', sequence: 7, at: day(28) },
    ]);
  });

  it('on 2-day terms leaves out the DUE_SOON, which would fall on the delivery itself', () => {
    const schedule = paymentReminderSchedule(deliveredAt, paymentDueDate(deliveredAt, 2));

    expect(schedule.map((r) => r.kind)).toEqual([
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'OVERDUE',
      'FINAL_NOTICE',
    ]);
    expect(schedule.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(schedule[0]!.at).toBe(day(2));
  });

  it('on 3-day terms keeps the DUE_SOON, the day after delivery', () => {
    const schedule = paymentReminderSchedule(deliveredAt, paymentDueDate(deliveredAt, 3));

    expect(schedule[0]).toEqual({ kind: 'DUE_SOON', sequence: 1, at: day(1) });
  });
});

describe('order messages', () => {
  const orderId = '3f1c2a9e-7b4d-4000-8000-000000000001';
  const orderRef = orderReference(orderId);
  const acceptUrl = vendorResponseUrl('https://holdfast.test/', 'v1.abc.def', 'accept');
  const rejectUrl = vendorResponseUrl('https://holdfast.test', 'v1.abc.def', 'reject');
  const reminder = (kind: ReminderKind): OrderTemplate => ({
    name: 'payment.reminder',
    data: {
      tenantName: 'Acme Wholesale',
      retailerName: 'Corner Shop',
      orderRef,
      kind,
      amountDue: 123_450,
      dueDate: '2026-12-15T09:00:00.000Z',
    },
  });
  const templates: OrderTemplate[] = [
    {
      name: 'order.vendor-offer',
      data: {
        tenantName: 'Acme Wholesale',
        vendorName: 'Fresh Farms',
        orderRef,
        itemsSummary: '12 x Milk 1l, 3 x Sourdough',
        total: 123_450,
        deliveryRegion: 'north',
        respondBy: '2026-12-01T10:15:00.000Z',
        acceptUrl,
        rejectUrl,
      },
    },
    {
      name: 'order.confirmed',
      data: {
        tenantName: 'Acme Wholesale',
        retailerName: 'Corner Shop',
        orderRef,
        vendorName: 'Fresh Farms',
        total: 500,
      },
    },
    {
      name: 'order.rejected',
      data: { tenantName: 'Acme Wholesale', retailerName: 'Corner Shop', orderRef, reason: 'CREDIT_LIMIT_EXCEEDED' },
    },
    {
      name: 'order.needs-attention',
      data: {
        tenantName: 'Acme Wholesale',
        orderId,
        orderRef,
        retailerName: 'Corner Shop',
        deliveryRegion: 'north',
        vendorsTried: 3,
      },
    },
    {
      name: 'order.cancelled',
      data: {
        tenantName: 'Acme Wholesale',
        recipientName: 'Fresh Farms',
        orderRef,
        reason: 'the retailer called it off',
      },
    },
    {
      name: 'order.delivery-update',
      data: {
        tenantName: 'Acme Wholesale',
        retailerName: 'Corner Shop',
        orderRef,
        status: 'DISPATCHED',
        dueDate: null,
        total: 500,
      },
    },
    {
      name: 'order.delivery-update',
      data: {
        tenantName: 'Acme Wholesale',
        retailerName: 'Corner Shop',
        orderRef,
        status: 'DELIVERED',
        dueDate: '2026-12-15T09:00:00.000Z',
        total: 123_450,
      },
    },
    reminder('DUE_SOON'),
    reminder('OVERDUE'),
    reminder('FINAL_NOTICE'),
  ];

  const label = (template: OrderTemplate) =>
    template.name === 'order.delivery-update'
      ? `${template.name} (${template.data.status})`
      : template.name === 'payment.reminder'
        ? `${template.name} (${template.data.kind})`
        : template.name;

  it.each(templates.map((template) => [label(template), template] as const))(
    '%s: the email has a subject, SMS and WhatsApp carry the same text without one',
    (_name, template: NotificationTemplate) => {
      const email = renderNotification('EMAIL', template);
      const sms = renderNotification('SMS', template);
      const whatsapp = renderNotification('WHATSAPP', template);

      expect(email.subject).toEqual(expect.stringContaining(orderRef));
      expect(email.text).toContain(orderRef);
      expect(sms).toEqual({ subject: null, text: email.text });
      expect(whatsapp).toEqual({ subject: null, text: email.text });
    },
  );

  it('the vendor offer carries the accept and the reject link, the total and the deadline', () => {
    const offer = renderNotification('WHATSAPP', templates[0]!);

    expect(extractLinks(offer.text)).toEqual([
      'https://holdfast.test/api/v1/vendor/offers/respond?token=v1.abc.def&decision=accept',
      'https://holdfast.test/api/v1/vendor/offers/respond?token=v1.abc.def&decision=reject',
    ]);
    expect(offer.text).toContain('Hello Fresh Farms, Acme Wholesale offers you order ORD-3F1C2A9E');
    expect(offer.text).toContain('12 x Milk 1l, 3 x Sourdough');
    expect(offer.text).toContain('Total 1,234.50. Please answer by 2026-12-01 10:15 UTC.');
    expect(renderNotification('EMAIL', templates[0]!).subject).toBe('New order ORD-3F1C2A9E for north');
  });

  it('tells the operator which order needs a vendor, how many were tried and how to assign one', () => {
    const message = renderNotification('EMAIL', templates[3]!);

    expect(message.subject).toBe('Order ORD-3F1C2A9E needs a vendor');
    expect(message.text).toContain(`(${orderId})`);
    expect(message.text).toContain('3 vendor(s) were tried');
    expect(message.text).toContain('POST /api/v1/orders/{id}/assign');
  });

  it('a delivered update names the amount and the due day; a dispatched one says it is on its way', () => {
    const dispatched = renderNotification('EMAIL', templates[5]!);
    const delivered = renderNotification('EMAIL', templates[6]!);

    expect(dispatched.subject).toBe('Order ORD-3F1C2A9E dispatched');
    expect(dispatched.text).toContain('is on its way');
    expect(delivered.subject).toBe('Order ORD-3F1C2A9E delivered');
    expect(delivered.text).toContain('1,234.50 is due by 2026-12-15.');
  });

  it('each payment reminder says which kind it is, the amount and the due day', () => {
    const [dueSoon, overdue, finalNotice] = (['DUE_SOON', 'OVERDUE', 'FINAL_NOTICE'] as const).map((kind) =>
      renderNotification('EMAIL', reminder(kind)),
    );

    expect(dueSoon!.subject).toBe('Payment due soon: order ORD-3F1C2A9E');
    expect(dueSoon!.text).toContain('1,234.50 for order ORD-3F1C2A9E is due on 2026-12-15.');
    expect(overdue!.subject).toBe('Payment overdue: order ORD-3F1C2A9E');
    expect(overdue!.text).toContain('was due on 2026-12-15 and is overdue');
    expect(finalNotice!.subject).toBe('Final notice: order ORD-3F1C2A9E');
    expect(finalNotice!.text).toContain('This is the final notice; your account is flagged until it is paid.');
  });

  it('the confirmation, refusal and cancellation name the vendor, the amount or the reason', () => {
    const [confirmed, rejected, cancelled] = [1, 2, 4].map((i) => renderNotification('EMAIL', templates[i]!));

    expect(confirmed!.text).toBe(
      'Hello Corner Shop, your order ORD-3F1C2A9E (5.00) at Acme Wholesale is confirmed; Fresh Farms will deliver it.',
    );
    expect(rejected!.text).toBe(
      'Hello Corner Shop, Acme Wholesale could not accept your order ORD-3F1C2A9E: CREDIT_LIMIT_EXCEEDED.',
    );
    expect(cancelled!.subject).toBe('Order ORD-3F1C2A9E cancelled');
    expect(cancelled!.text).toContain('has been cancelled: the retailer called it off.');
  });

  it('formats minor units with two decimals and thousands separators', () => {
    const amounts = [0, 5, 500, 123_450, 100_000_000].map(formatAmount);

    expect(amounts).toEqual(['0.00', '0.05', '5.00', '1,234.50', '1,000,000.00']);
  });

  it('refers to an order by the first block of its ID, upper-cased', () => {
    const reference = orderReference(orderId);

    expect(reference).toBe('ORD-3F1C2A9E');
  });
});

describe('vendor tokens', () => {
  const claims = { tenantId: 'tenant-1', attemptId: '9a8b7c6d-0000-4000-8000-000000000001' };

  it('round-trips the tenant and routing attempt, and the same attempt always gets the same token', () => {
    const token = signVendorToken(SECRET, claims);

    expect(verifyVendorToken(SECRET, token)).toEqual(claims);
    expect(signVendorToken(SECRET, claims)).toBe(token);
    expect(hashVendorToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a tampered token, a truncated one and one signed with another secret', () => {
    const token = signVendorToken(SECRET, claims);
    const [version, , signature] = token.split('.');
    const otherPayload = Buffer.from(JSON.stringify({ t: 'tenant-2', h: claims.attemptId })).toString('base64url');

    expect(verifyVendorToken(SECRET, `${version}.${otherPayload}.${signature}`)).toBeUndefined();
    expect(verifyVendorToken(SECRET, token.slice(0, -3))).toBeUndefined();
    expect(verifyVendorToken('another-secret-of-at-least-32-characters', token)).toBeUndefined();
    expect(verifyVendorToken(SECRET, 'not a token')).toBeUndefined();
  });

  it('a waitlist offer token signed with the same secret does not pass as a vendor token, nor the other way round', () => {
    const offerToken = signOfferToken(SECRET, { tenantId: claims.tenantId, holdId: claims.attemptId });
    const vendorToken = signVendorToken(SECRET, claims);

    expect(verifyOfferToken(SECRET, offerToken)).toBeDefined();
    expect(verifyVendorToken(SECRET, offerToken)).toBeUndefined();
    expect(verifyOfferToken(SECRET, vendorToken)).toBeUndefined();
    expect(vendorToken).not.toBe(offerToken);
  });

  it('accepts E.164 numbers only for WhatsApp, as for SMS', () => {
    const valid = ['+14155550123', '+4915112345678'].map((n) => isValidRecipient('WHATSAPP', n));
    const invalid = ['015112345678', '+0123456789', 'ada@example.com', '+1 415 555 0123'].map((n) =>
      isValidRecipient('WHATSAPP', n),
    );

    expect(valid).toEqual([true, true]);
    expect(invalid).toEqual([false, false, false, false]);
  });
});
