import type { ReminderKind } from './payment-reminders';
import type { NotificationChannel, RenderedMessage } from './notifications';

/**
 * The order-routing messages (the seed's ORDER_CONFIRMATION, VENDOR_NOTIFICATION,
 * DELIVERY_UPDATE and PAYMENT_REMINDER), in the shape of the other notification templates.
 * Pure; domain/notifications.ts renders them through {@link renderOrderMessage}.
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

const day = (iso: string) => iso.slice(0, 10);

const reminderTitles: Record<ReminderKind, string> = {
  DUE_SOON: 'Payment due soon',
  OVERDUE: 'Payment overdue',
  FINAL_NOTICE: 'Final notice',
};

export function renderOrderMessage(channel: NotificationChannel, template: OrderTemplate): RenderedMessage {
  const message = (subject: string, text: string): RenderedMessage => ({
    subject: channel === 'EMAIL' ? subject : null,
    text,
  });
  switch (template.name) {
    case 'order.vendor-offer': {
      const { tenantName, vendorName, orderRef, itemsSummary, total, deliveryRegion, respondBy, acceptUrl, rejectUrl } =
        template.data;
      return message(
        `New order ${orderRef} for ${deliveryRegion}`,
        [
          `Hello ${vendorName}, ${tenantName} offers you order ${orderRef} for delivery in ${deliveryRegion}:`,
          itemsSummary,
          `Total ${formatAmount(total)}. Please answer by ${respondBy.slice(0, 16).replace('T', ' ')} UTC.`,
          `Accept: ${acceptUrl}`,
          `Reject: ${rejectUrl}`,
        ].join('\n'),
      );
    }
    case 'order.confirmed': {
      const { tenantName, retailerName, orderRef, vendorName, total } = template.data;
      return message(
        `Order ${orderRef} confirmed`,
        `Hello ${retailerName}, your order ${orderRef} (${formatAmount(total)}) at ${tenantName} is confirmed; ${vendorName} will deliver it.`,
      );
    }
    case 'order.rejected': {
      const { tenantName, retailerName, orderRef, reason } = template.data;
      return message(
        `Order ${orderRef} could not be accepted`,
        `Hello ${retailerName}, ${tenantName} could not accept your order ${orderRef}: ${reason}.`,
      );
    }
    case 'order.needs-attention': {
      const { tenantName, orderId, orderRef, retailerName, deliveryRegion, vendorsTried } = template.data;
      return message(
        `Order ${orderRef} needs a vendor`,
        [
          `No vendor took order ${orderRef} (${orderId}) of ${retailerName} for ${deliveryRegion} at ${tenantName}; ${vendorsTried} vendor(s) were tried.`,
          'Assign a vendor by hand within 24 hours (POST /api/v1/orders/{id}/assign), or the order is cancelled.',
        ].join('\n'),
      );
    }
    case 'order.cancelled': {
      const { tenantName, recipientName, orderRef, reason } = template.data;
      return message(
        `Order ${orderRef} cancelled`,
        `Hello ${recipientName}, order ${orderRef} at ${tenantName} has been cancelled: ${reason}.`,
      );
    }
    case 'order.delivery-update': {
      const { tenantName, retailerName, orderRef, status, dueDate, total } = template.data;
      const text =
        status === 'DISPATCHED'
          ? `Hello ${retailerName}, your order ${orderRef} from ${tenantName} is on its way.`
          : `Hello ${retailerName}, your order ${orderRef} from ${tenantName} has been delivered. ${formatAmount(total)} is due by ${day(dueDate ?? '')}.`;
      return message(`Order ${orderRef} ${status === 'DISPATCHED' ? 'dispatched' : 'delivered'}`, text);
    }
    case 'payment.reminder': {
      const { tenantName, retailerName, orderRef, kind, amountDue, dueDate } = template.data;
      const lead =
        kind === 'DUE_SOON'
          ? `${formatAmount(amountDue)} for order ${orderRef} is due on ${day(dueDate)}.`
          : kind === 'OVERDUE'
            ? `${formatAmount(amountDue)} for order ${orderRef} was due on ${day(dueDate)} and is overdue.`
            : `${formatAmount(amountDue)} for order ${orderRef} is still unpaid since ${day(dueDate)}. This is the final notice; your account is flagged until it is paid.`;
      return message(`${reminderTitles[kind]}: order ${orderRef}`, `Hello ${retailerName}, ${lead} (${tenantName})`);
    }
  }
}
