import { composeOrderMessage, type OrderForMessage } from '../../domain/order-messages';

const order: OrderForMessage = {
  id: '0f1e2d3c-0000-4000-8000-000000000001',
  total: 12_500,
  deliveryRegion: 'north',
  statusReason: null,
  dueDate: new Date('2026-12-31T00:00:00.000Z'),
  tenant: { name: 'Acme', adminEmail: 'admin@acme.test' },
  retailer: { name: 'Corner Shop', channel: 'SMS', contact: '+15550001111' },
  vendor: { name: 'Fast Vendor' },
};
const vendor = { id: 'vendor-1', name: 'Slow Vendor', channel: 'EMAIL' as const, contact: 'slow@vendor.test' };

describe('composing order messages', () => {
  it('the confirmation goes to the retailer on its channel, keyed by the order', () => {
    expect(composeOrderMessage(order, { kind: 'confirmed' })).toEqual({
      channel: 'SMS',
      recipient: '+15550001111',
      idempotencyKey: `order:${order.id}:confirmed`,
      template: {
        name: 'order.confirmed',
        data: {
          tenantName: 'Acme',
          retailerName: 'Corner Shop',
          orderRef: 'ORD-0F1E2D3C',
          vendorName: 'Fast Vendor',
          total: 12_500,
        },
      },
    });
  });

  it('a rejection carries the stored reason, or "refused" when there is none', () => {
    const message = composeOrderMessage({ ...order, statusReason: 'CREDIT_LIMIT_EXCEEDED' }, { kind: 'rejected' });
    expect(message).toMatchObject({ template: { name: 'order.rejected', data: { reason: 'CREDIT_LIMIT_EXCEEDED' } } });
    expect(composeOrderMessage(order, { kind: 'rejected' })).toMatchObject({
      template: { data: { reason: 'refused' } },
    });
  });

  it('needs-attention goes to the tenant admin by email with the vendors tried, and is skipped without an admin email', () => {
    expect(composeOrderMessage(order, { kind: 'needs-attention' }, { vendorsTried: 3 })).toMatchObject({
      channel: 'EMAIL',
      recipient: 'admin@acme.test',
      idempotencyKey: `order:${order.id}:needs-attention`,
      template: { name: 'order.needs-attention', data: { vendorsTried: 3, deliveryRegion: 'north' } },
    });
    const noAdmin = { ...order, tenant: { name: 'Acme', adminEmail: null } };
    expect(composeOrderMessage(noAdmin, { kind: 'needs-attention' })).toEqual({
      skipped: 'the tenant has no admin email',
    });
  });

  it('a cancellation reaches the retailer, and each vendor told on its own channel under its own key', () => {
    expect(composeOrderMessage(order, { kind: 'cancelled', audience: 'retailer' })).toMatchObject({
      recipient: '+15550001111',
      idempotencyKey: `order:${order.id}:cancelled:retailer`,
      template: { name: 'order.cancelled', data: { recipientName: 'Corner Shop', reason: 'cancelled' } },
    });
    expect(
      composeOrderMessage(order, { kind: 'cancelled', audience: 'vendor', vendorId: vendor.id }, { vendor }),
    ).toMatchObject({
      channel: 'EMAIL',
      recipient: 'slow@vendor.test',
      idempotencyKey: `order:${order.id}:cancelled:vendor:vendor-1`,
      template: { data: { recipientName: 'Slow Vendor' } },
    });
  });

  it('a cancellation for a vendor that no longer exists is skipped', () => {
    const request = { kind: 'cancelled', audience: 'vendor', vendorId: 'gone' } as const;
    expect(composeOrderMessage(order, request, { vendor: null })).toEqual({ skipped: 'the vendor no longer exists' });
  });

  it('a delivery update is keyed by its step and carries the due date', () => {
    expect(composeOrderMessage(order, { kind: 'delivery-update', status: 'DELIVERED' })).toMatchObject({
      idempotencyKey: `order:${order.id}:delivered`,
      template: { name: 'order.delivery-update', data: { status: 'DELIVERED', dueDate: '2026-12-31T00:00:00.000Z' } },
    });
  });

  it('a reminder is keyed by its sequence and kind, and falls back to the reminder time without a due date', () => {
    const reminder = { sequence: 2, kind: 'OVERDUE' as const, at: '2027-01-03T00:00:00.000Z' };
    expect(
      composeOrderMessage({ ...order, dueDate: null }, { kind: 'reminder', reminder, amountDue: 500 }),
    ).toMatchObject({
      idempotencyKey: `order:${order.id}:reminder:2:overdue`,
      template: { name: 'payment.reminder', data: { kind: 'OVERDUE', amountDue: 500, dueDate: reminder.at } },
    });
  });
});
