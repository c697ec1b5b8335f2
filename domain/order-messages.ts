import type { ReminderKind, ScheduledReminder } from './payment-reminders';
import type { NotificationChannel } from './notifications';

/**
 * The order-routing messages (order confirmation, vendor notification, delivery
 * update and payment reminder), in the shape of the other notification templates. Pure.
 */

export type VendorDecision = 'accept' | 'reject';

export type OrderTemplate =
  | {
      name: 'order.vendor-offer';
      data: {
        tenantName: string;
        vendorName: string;
        orderRef: string;
        itemsSummary: string;
        total: number;
        deliveryRegion: string;
        /** ISO-8601. */
        respondBy: string;
        acceptUrl: string;
        rejectUrl: string;
      };
    }
  | {
      name: 'order.confirmed';
      data: { tenantName: string; retailerName: string; orderRef: string; vendorName: string; total: number };
    }
  | { name: 'order.rejected'; data: { tenantName: string; retailerName: string; orderRef: string; reason: string } }
  | {
      name: 'order.needs-attention';
      data: {
        tenantName: string;
        orderId: string;
        orderRef: string;
        retailerName: string;
        deliveryRegion: string;
        vendorsTried: number;
      };
    }
  | { name: 'order.cancelled'; data: { tenantName: string; recipientName: string; orderRef: string; reason: string } }
  | {
      name: 'order.delivery-update';
      /** dueDate (ISO-8601) once delivered. */
      data: {
        tenantName: string;
        retailerName: string;
        orderRef: string;
        status: 'DISPATCHED' | 'DELIVERED';
        dueDate: string | null;
        total: number;
      };
    }
  | {
      name: 'payment.reminder';
      data: {
        tenantName: string;
        retailerName: string;
        orderRef: string;
        kind: ReminderKind;
        amountDue: number;
        dueDate: string;
      };
    };

/** Minor units as `1,234.50`. */
export function formatAmount(minorUnits: number): string {
  return (minorUnits / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** The first block of an order ID: short enough for a text message, enough to find it. */
export function orderReference(orderId: string): string {
  return `ORD-${orderId.slice(0, 8).toUpperCase()}`;
}

/**
 * The link a vendor follows to answer an offer. Like the waitlist's, it opens a page (a GET never
 * acts) that POSTs `{ token, decision }`; scripts can read both parameters off the link.
 */
export function vendorResponseUrl(publicBaseUrl: string, token: string, decision: VendorDecision): string {
  const query = new URLSearchParams({ token, decision });
  return `${publicBaseUrl.replace(/\/$/, '')}/api/v1/vendor/offers/respond?${query.toString()}`;
}

/** Who a notification about an order goes to, and what it says. */
export type OrderMessage =
  | { kind: 'confirmed' }
  | { kind: 'rejected' }
  | { kind: 'needs-attention' }
  | { kind: 'cancelled'; audience: 'retailer' }
  | { kind: 'cancelled'; audience: 'vendor'; vendorId: string }
  | { kind: 'delivery-update'; status: 'DISPATCHED' | 'DELIVERED' }
  | { kind: 'reminder'; reminder: ScheduledReminder; amountDue: number };

/** What composing an order message reads of the order. */
export interface OrderForMessage {
  id: string;
  total: number;
  deliveryRegion: string;
  statusReason: string | null;
  dueDate: Date | null;
  tenant: { name: string; adminEmail: string | null };
  retailer: { name: string; channel: NotificationChannel; contact: string };
  vendor: { name: string } | null;
}

/** A party an order message can go to. */
export interface OrderParty {
  id: string;
  name: string;
  channel: NotificationChannel;
  contact: string;
}

/**
 * What a message needs beyond the order: how many vendors were tried (for `needs-attention`) and
 * the vendor a cancellation goes to (null once it no longer exists).
 */
export interface OrderMessageFacts {
  vendorsTried?: number;
  vendor?: OrderParty | null;
}

/** A message ready for the notification ledger: its recipient, channel, business identity and template. */
export interface ComposedOrderMessage {
  channel: NotificationChannel;
  recipient: string;
  idempotencyKey: string;
  template: OrderTemplate;
}

/**
 * The message for `request` about `order`, or why none is sent. The idempotency key names the
 * business event (`order:<id>:confirmed`, `order:<id>:reminder:2:overdue`, …), so a retried send
 * never delivers it twice.
 */
export function composeOrderMessage(
  order: OrderForMessage,
  request: OrderMessage,
  facts: OrderMessageFacts = {},
): ComposedOrderMessage | { skipped: string } {
  const tenantName = order.tenant.name;
  const retailerName = order.retailer.name;
  const orderRef = orderReference(order.id);
  const retailer = { channel: order.retailer.channel, recipient: order.retailer.contact };
  const key = (suffix: string) => `order:${order.id}:${suffix}`;
  switch (request.kind) {
    case 'confirmed': {
      const vendorName = order.vendor?.name ?? 'a vendor';
      return {
        ...retailer,
        idempotencyKey: key('confirmed'),
        template: {
          name: 'order.confirmed',
          data: { tenantName, retailerName, orderRef, vendorName, total: order.total },
        },
      };
    }
    case 'rejected':
      return {
        ...retailer,
        idempotencyKey: key('rejected'),
        template: {
          name: 'order.rejected',
          data: { tenantName, retailerName, orderRef, reason: order.statusReason ?? 'refused' },
        },
      };
    case 'needs-attention':
      if (!order.tenant.adminEmail) return { skipped: 'the tenant has no admin email' };
      return {
        channel: 'EMAIL',
        recipient: order.tenant.adminEmail,
        idempotencyKey: key('needs-attention'),
        template: {
          name: 'order.needs-attention',
          data: {
            tenantName,
            orderId: order.id,
            orderRef,
            retailerName,
            deliveryRegion: order.deliveryRegion,
            vendorsTried: facts.vendorsTried ?? 0,
          },
        },
      };
    case 'cancelled': {
      const reason = order.statusReason ?? 'cancelled';
      if (request.audience === 'retailer') {
        return {
          ...retailer,
          idempotencyKey: key('cancelled:retailer'),
          template: { name: 'order.cancelled', data: { tenantName, recipientName: retailerName, orderRef, reason } },
        };
      }
      const vendor = facts.vendor;
      if (!vendor) return { skipped: 'the vendor no longer exists' };
      return {
        channel: vendor.channel,
        recipient: vendor.contact,
        idempotencyKey: key(`cancelled:vendor:${vendor.id}`),
        template: { name: 'order.cancelled', data: { tenantName, recipientName: vendor.name, orderRef, reason } },
      };
    }
    case 'delivery-update':
      return {
        ...retailer,
        idempotencyKey: key(request.status.toLowerCase()),
        template: {
          name: 'order.delivery-update',
          data: {
            tenantName,
            retailerName,
            orderRef,
            status: request.status,
            dueDate: order.dueDate?.toISOString() ?? null,
            total: order.total,
          },
        },
      };
    case 'reminder': {
      const { reminder, amountDue } = request;
      return {
        ...retailer,
        idempotencyKey: key(`reminder:${reminder.sequence}:${reminder.kind.toLowerCase()}`),
        template: {
          name: 'payment.reminder',
          data: {
            tenantName,
            retailerName,
            orderRef,
            kind: reminder.kind,
            amountDue,
            dueDate: order.dueDate?.toISOString() ?? reminder.at,
          },
        },
      };
    }
  }
}
