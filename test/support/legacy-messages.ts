import {
  formatUtc,
  type NotificationChannel,
  type NotificationTemplate,
  type RenderedMessage,
} from '../../domain/notifications';
import type { OnboardingOutcome, OnboardingTemplate } from '../../domain/onboarding-messages';
import { formatAmount, type OrderTemplate } from '../../domain/order-messages';
import type { ReminderKind } from '../../domain/payment-reminders';

/**
 * Renders a template for a channel as Holdfast wrote its messages before tenants could change them.
 * Messages render from the Liquid defaults of domain/templates/sources.ts (with the tenant's
 * override) in activities/templates.ts; the unit tests hold those defaults to exactly this output.
 */
export function renderNotification(channel: NotificationChannel, template: NotificationTemplate): RenderedMessage {
  switch (template.name) {
    case 'waitlist.offer': {
      const { tenantName, customerName, slotName, startsAt, expiresAt, acceptUrl, declineUrl } = template.data;
      const when = startsAt ? ` (${formatUtc(startsAt)})` : '';
      if (channel !== 'EMAIL') {
        return {
          subject: null,
          text: `${tenantName}: ${slotName}${when} is free for you until ${formatUtc(expiresAt)}. Accept: ${acceptUrl} Decline: ${declineUrl}`,
        };
      }
      return {
        subject: `A place is free for you: ${slotName}`,
        text: [
          `Hello ${customerName},`,
          '',
          `${slotName}${when} at ${tenantName} has become free, and it is held for you until ${formatUtc(expiresAt)}.`,
          '',
          `Accept it: ${acceptUrl}`,
          `Decline it: ${declineUrl}`,
          '',
          'If you do nothing, the place goes to the next person on the waitlist when the hold ends.',
        ].join('\n'),
      };
    }
    case 'waitlist.confirmation': {
      const { tenantName, customerName, slotName, startsAt } = template.data;
      const when = startsAt ? ` on ${formatUtc(startsAt)}` : '';
      const text = `Hello ${customerName}, ${slotName}${when} at ${tenantName} is confirmed for you.`;
      return channel === 'EMAIL' ? { subject: `Confirmed: ${slotName}`, text } : { subject: null, text };
    }
    case 'waitlist.escalation': {
      const { tenantName, slotId, slotName, offered, declined, expired, unreachable } = template.data;
      const text = [
        `${slotName} (${slotId}) at ${tenantName} could not be filled from its waitlist.`,
        '',
        `Offers made: ${offered}; declined: ${declined}; expired: ${expired}; unreachable: ${unreachable}.`,
        'The slot is marked UNFILLED. Add people to the waitlist and release it again to restart the cascade.',
      ].join('\n');
      return { subject: channel === 'EMAIL' ? `Unfilled: ${slotName}` : null, text };
    }
    case 'tenant.welcome':
    case 'onboarding.unsuccessful':
      return renderOnboardingMessage(channel, template);
    case 'order.vendor-offer':
    case 'order.confirmed':
    case 'order.rejected':
    case 'order.needs-attention':
    case 'order.cancelled':
    case 'order.delivery-update':
    case 'payment.reminder':
      return renderOrderMessage(channel, template);
  }
}

const outcomeTitles: Record<OnboardingOutcome, string> = {
  failed: 'failed',
  rejected: 'was rejected',
  cancelled: 'was cancelled',
};

/** Renders an onboarding template; both are email-only, so an SMS gets the same text without a subject. */
export function renderOnboardingMessage(channel: NotificationChannel, template: OnboardingTemplate): RenderedMessage {
  const withSubject = (subject: string, text: string): RenderedMessage => ({
    subject: channel === 'EMAIL' ? subject : null,
    text,
  });
  switch (template.name) {
    case 'tenant.welcome': {
      const { organizationName, adminName, tier, invitationUrl, invitationExpiresAt } = template.data;
      return withSubject(
        `Welcome to Holdfast, ${organizationName}`,
        [
          `Hello ${adminName},`,
          '',
          `${organizationName} is set up on Holdfast (${tier} plan), and you are its administrator.`,
          '',
          `Accept your invitation to get started: ${invitationUrl}`,
          '',
          `The link works once and until ${invitationExpiresAt.slice(0, 10)}. If you did not expect this email, ignore it.`,
        ].join('\n'),
      );
    }
    case 'onboarding.unsuccessful': {
      const { organizationName, slug, tenantId, workflowId, outcome, reason, failedStep, compensations } =
        template.data;
      const undone = compensations.map(
        (c) => `  - ${c.step}: ${c.status === 'done' ? 'undone' : `FAILED (${c.error ?? 'unknown error'})`}`,
      );
      const manual = compensations.some((c) => c.status === 'failed');
      return withSubject(
        `Onboarding of ${organizationName} ${outcomeTitles[outcome]}`,
        [
          `The onboarding of ${organizationName} (slug ${slug}, tenant ${tenantId}) ${outcomeTitles[outcome]}.`,
          '',
          `Reason: ${reason}`,
          ...(failedStep ? [`Failed step: ${failedStep}`] : []),
          '',
          compensations.length > 0 ? 'What was undone:' : 'Nothing had been done, so nothing was undone.',
          ...undone,
          ...(manual ? ['', 'Some steps could not be undone automatically and need a person.'] : []),
          '',
          `Workflow: ${workflowId}`,
        ].join('\n'),
      );
    }
  }
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
