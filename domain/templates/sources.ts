/**
 * The Liquid sources of every template Holdfast sends, as shipped. A tenant's
 * TenantNotificationTemplate row may replace any part (subject, text, html) per channel and
 * locale. The flows' templates reproduce the messages they sent before templates existed, word
 * for word; the filters `utc`, `day` and `amount` format dates and money as those messages did
 * (activities/templates.ts defines them).
 */

/** One template's sources for a channel group; null parts are not sent (SMS has no subject or HTML). */
export interface TemplateSources {
  subject: string | null;
  text: string;
  html: string | null;
}

/** A template kind: its documentation, its sources for email and for short channels, and sample data. */
export interface TemplateKind {
  name: string;
  description: string;
  /** Each variable the data carries, with what it holds. */
  variables: Record<string, string>;
  email: TemplateSources;
  /** SMS and WhatsApp: one text, no subject or HTML; the email text when absent. */
  short?: string;
  /** Data a template of this kind is checked against when a tenant saves one. */
  sample: Record<string, unknown>;
}

const lines = (...parts: string[]) => parts.join('\n');
const when = (field: string, prefix: string) => `{% if ${field} %}${prefix}{{ ${field} | utc }}{% endif %}`;

const waitlist: TemplateKind[] = [
  {
    name: 'waitlist.offer',
    description: 'A place became free and is held for the candidate until the hold ends.',
    variables: {
      tenantName: 'the tenant',
      customerName: 'the candidate',
      slotName: 'the slot',
      startsAt: 'ISO-8601 start of the slot, or null',
      expiresAt: 'ISO-8601 end of the hold',
      acceptUrl: 'the link that accepts (added when sending; never stored)',
      declineUrl: 'the link that declines (added when sending; never stored)',
    },
    email: {
      subject: 'A place is free for you: {{ slotName }}',
      text: lines(
        'Hello {{ customerName }},',
        '',
        `{{ slotName }}${when('startsAt', ' (')}{% if startsAt %}){% endif %} at {{ tenantName }} has become free, and it is held for you until {{ expiresAt | utc }}.`,
        '',
        'Accept it: {{ acceptUrl }}',
        'Decline it: {{ declineUrl }}',
        '',
        'If you do nothing, the place goes to the next person on the waitlist when the hold ends.',
      ),
      html: null,
    },
    short: `{{ tenantName }}: {{ slotName }}${when('startsAt', ' (')}{% if startsAt %}){% endif %} is free for you until {{ expiresAt | utc }}. Accept: {{ acceptUrl }} Decline: {{ declineUrl }}`,
    sample: {
      tenantName: 'Harbour Dental',
      customerName: 'Ada',
      slotName: 'Check-up',
      startsAt: '2026-12-24T09:00:00.000Z',
      expiresAt: '2026-12-23T18:00:00.000Z',
      acceptUrl: 'https://holdfast.example/accept',
      declineUrl: 'https://holdfast.example/decline',
    },
  },
  {
    name: 'waitlist.confirmation',
    description: 'The candidate accepted; the place is theirs.',
    variables: {
      tenantName: 'the tenant',
      customerName: 'the candidate',
      slotName: 'the slot',
      startsAt: 'ISO-8601 start of the slot, or null',
    },
    email: {
      subject: 'Confirmed: {{ slotName }}',
      text: `Hello {{ customerName }}, {{ slotName }}${when('startsAt', ' on ')} at {{ tenantName }} is confirmed for you.`,
      html: null,
    },
    sample: { tenantName: 'Harbour Dental', customerName: 'Ada', slotName: 'Check-up', startsAt: null },
  },
  {
    name: 'waitlist.escalation',
    description: "To the tenant's escalation address: a slot could not be filled from its waitlist.",
    variables: {
      tenantName: 'the tenant',
      slotId: 'the slot ID',
      slotName: 'the slot',
      offered: 'offers made',
      declined: 'offers declined',
      expired: 'offers expired',
      unreachable: 'candidates who could not be reached',
    },
    email: {
      subject: 'Unfilled: {{ slotName }}',
      text: lines(
        '{{ slotName }} ({{ slotId }}) at {{ tenantName }} could not be filled from its waitlist.',
        '',
        'Offers made: {{ offered }}; declined: {{ declined }}; expired: {{ expired }}; unreachable: {{ unreachable }}.',
        'The slot is marked UNFILLED. Add people to the waitlist and release it again to restart the cascade.',
      ),
      html: null,
    },
    sample: {
      tenantName: 'Harbour Dental',
      slotId: '00000000-0000-4000-8000-000000000000',
      slotName: 'Check-up',
      offered: 3,
      declined: 1,
      expired: 1,
      unreachable: 1,
    },
  },
];

const onboarding: TemplateKind[] = [
  {
    name: 'tenant.welcome',
    description: "To a new tenant's administrator: the invitation to Holdfast.",
    variables: {
      organizationName: 'the new tenant',
      adminName: 'its administrator',
      tier: 'its plan',
      invitationUrl: 'the invitation link (added when sending; never stored)',
      invitationExpiresAt: 'ISO-8601 end of the invitation',
    },
    email: {
      subject: 'Welcome to Holdfast, {{ organizationName }}',
      text: lines(
        'Hello {{ adminName }},',
        '',
        '{{ organizationName }} is set up on Holdfast ({{ tier }} plan), and you are its administrator.',
        '',
        'Accept your invitation to get started: {{ invitationUrl }}',
        '',
        'The link works once and until {{ invitationExpiresAt | day }}. If you did not expect this email, ignore it.',
      ),
      html: null,
    },
    sample: {
      organizationName: 'Harbour Dental',
      adminName: 'Ada',
      tier: 'professional',
      invitationUrl: 'https://holdfast.example/invitation',
      invitationExpiresAt: '2026-12-24T09:00:00.000Z',
    },
  },
  {
    name: 'onboarding.unsuccessful',
    description: 'To the platform admin: an onboarding failed, was rejected or was cancelled, and what was undone.',
    variables: {
      organizationName: 'the organization',
      slug: 'its slug',
      tenantId: 'its tenant ID',
      workflowId: 'the onboarding workflow',
      outcome: 'failed, rejected or cancelled',
      reason: 'why',
      failedStep: 'the step that failed, or null',
      compensations: 'a list of { step, status: done|failed, error }',
    },
    email: {
      subject:
        "{% case outcome %}{% when 'failed' %}{% assign title = 'failed' %}{% when 'rejected' %}{% assign title = 'was rejected' %}{% else %}{% assign title = 'was cancelled' %}{% endcase %}Onboarding of {{ organizationName }} {{ title }}",
      text: lines(
        "{% case outcome %}{% when 'failed' %}{% assign title = 'failed' %}{% when 'rejected' %}{% assign title = 'was rejected' %}{% else %}{% assign title = 'was cancelled' %}{% endcase %}{% assign stuck = compensations | where: 'status', 'failed' %}The onboarding of {{ organizationName }} (slug {{ slug }}, tenant {{ tenantId }}) {{ title }}.",
        '',
        'Reason: {{ reason }}{% if failedStep %}',
        'Failed step: {{ failedStep }}{% endif %}',
        '',
        '{% if compensations.size > 0 %}What was undone:{% else %}Nothing had been done, so nothing was undone.{% endif %}{% for c in compensations %}',
        "  - {{ c.step }}: {% if c.status == 'done' %}undone{% else %}FAILED ({% if c.error %}{{ c.error }}{% else %}unknown error{% endif %}){% endif %}{% endfor %}{% if stuck.size > 0 %}",
        '',
        'Some steps could not be undone automatically and need a person.{% endif %}',
        '',
        'Workflow: {{ workflowId }}',
      ),
      html: null,
    },
    sample: {
      organizationName: 'Harbour Dental',
      slug: 'harbour-dental',
      tenantId: '00000000-0000-4000-8000-000000000000',
      workflowId: 'onboarding:harbour-dental',
      outcome: 'failed',
      reason: 'the card was declined',
      failedStep: 'createSubscription',
      compensations: [{ step: 'createTenant', status: 'done', error: null }],
    },
  },
];

const orderData = { tenantName: 'the tenant', orderRef: 'the short order reference (ORD-…)' };

const orders: TemplateKind[] = [
  {
    name: 'order.vendor-offer',
    description: 'To a vendor: an order is offered to them until a deadline.',
    variables: {
      ...orderData,
      vendorName: 'the vendor',
      itemsSummary: 'one line per item',
      total: 'the total in minor units (format with `| amount`)',
      deliveryRegion: 'the delivery region',
      respondBy: 'ISO-8601 deadline',
      acceptUrl: 'the link that accepts (added when sending; never stored)',
      rejectUrl: 'the link that rejects (added when sending; never stored)',
    },
    email: {
      subject: 'New order {{ orderRef }} for {{ deliveryRegion }}',
      text: lines(
        'Hello {{ vendorName }}, {{ tenantName }} offers you order {{ orderRef }} for delivery in {{ deliveryRegion }}:',
        '{{ itemsSummary }}',
        'Total {{ total | amount }}. Please answer by {{ respondBy | utc }}.',
        'Accept: {{ acceptUrl }}',
        'Reject: {{ rejectUrl }}',
      ),
      html: null,
    },
    sample: {
      tenantName: 'Northwind',
      vendorName: 'Acme Supply',
      orderRef: 'ORD-0A1B2C3D',
      itemsSummary: '2 × Widget',
      total: 12345,
      deliveryRegion: 'north',
      respondBy: '2026-12-24T09:00:00.000Z',
      acceptUrl: 'https://holdfast.example/accept',
      rejectUrl: 'https://holdfast.example/reject',
    },
  },
  {
    name: 'order.confirmed',
    description: 'To the retailer: a vendor took the order.',
    variables: { ...orderData, retailerName: 'the retailer', vendorName: 'the vendor', total: 'minor units' },
    email: {
      subject: 'Order {{ orderRef }} confirmed',
      text: 'Hello {{ retailerName }}, your order {{ orderRef }} ({{ total | amount }}) at {{ tenantName }} is confirmed; {{ vendorName }} will deliver it.',
      html: null,
    },
    sample: {
      tenantName: 'Northwind',
      retailerName: 'Corner Shop',
      orderRef: 'ORD-0A1B2C3D',
      vendorName: 'Acme',
      total: 100,
    },
  },
  {
    name: 'order.rejected',
    description: 'To the retailer: the order was refused (e.g. credit).',
    variables: { ...orderData, retailerName: 'the retailer', reason: 'why' },
    email: {
      subject: 'Order {{ orderRef }} could not be accepted',
      text: 'Hello {{ retailerName }}, {{ tenantName }} could not accept your order {{ orderRef }}: {{ reason }}.',
      html: null,
    },
    sample: { tenantName: 'Northwind', retailerName: 'Corner Shop', orderRef: 'ORD-0A1B2C3D', reason: 'credit limit' },
  },
  {
    name: 'order.needs-attention',
    description: "To the tenant's admin: no vendor took the order; assign one by hand.",
    variables: {
      ...orderData,
      orderId: 'the order ID',
      retailerName: 'the retailer',
      deliveryRegion: 'the delivery region',
      vendorsTried: 'how many vendors were tried',
    },
    email: {
      subject: 'Order {{ orderRef }} needs a vendor',
      text: lines(
        'No vendor took order {{ orderRef }} ({{ orderId }}) of {{ retailerName }} for {{ deliveryRegion }} at {{ tenantName }}; {{ vendorsTried }} vendor(s) were tried.',
        'Assign a vendor by hand within 24 hours (POST /api/v1/orders/{id}/assign), or the order is cancelled.',
      ),
      html: null,
    },
    sample: {
      tenantName: 'Northwind',
      orderRef: 'ORD-0A1B2C3D',
      orderId: '0a1b2c3d-0000-4000-8000-000000000000',
      retailerName: 'Corner Shop',
      deliveryRegion: 'north',
      vendorsTried: 3,
    },
  },
  {
    name: 'order.cancelled',
    description: 'To the retailer or the assigned vendor: the order was cancelled.',
    variables: { ...orderData, recipientName: 'the retailer or vendor', reason: 'why' },
    email: {
      subject: 'Order {{ orderRef }} cancelled',
      text: 'Hello {{ recipientName }}, order {{ orderRef }} at {{ tenantName }} has been cancelled: {{ reason }}.',
      html: null,
    },
    sample: { tenantName: 'Northwind', recipientName: 'Corner Shop', orderRef: 'ORD-0A1B2C3D', reason: 'unpaid' },
  },
  {
    name: 'order.delivery-update',
    description: 'To the retailer: the order was dispatched or delivered.',
    variables: {
      ...orderData,
      retailerName: 'the retailer',
      status: 'DISPATCHED or DELIVERED',
      dueDate: 'ISO-8601 payment due date once delivered, else null',
      total: 'minor units',
    },
    email: {
      subject: "Order {{ orderRef }} {% if status == 'DISPATCHED' %}dispatched{% else %}delivered{% endif %}",
      text: "{% if status == 'DISPATCHED' %}Hello {{ retailerName }}, your order {{ orderRef }} from {{ tenantName }} is on its way.{% else %}Hello {{ retailerName }}, your order {{ orderRef }} from {{ tenantName }} has been delivered. {{ total | amount }} is due by {{ dueDate | day }}.{% endif %}",
      html: null,
    },
    sample: {
      tenantName: 'Northwind',
      retailerName: 'Corner Shop',
      orderRef: 'ORD-0A1B2C3D',
      status: 'DELIVERED',
      dueDate: '2026-12-24T09:00:00.000Z',
      total: 100,
    },
  },
  {
    name: 'payment.reminder',
    description: "To the retailer: an order's payment is due soon, overdue, or this is the final notice.",
    variables: {
      ...orderData,
      retailerName: 'the retailer',
      kind: 'DUE_SOON, OVERDUE or FINAL_NOTICE',
      amountDue: 'minor units',
      dueDate: 'ISO-8601 due date',
    },
    email: {
      subject:
        "{% case kind %}{% when 'DUE_SOON' %}Payment due soon{% when 'OVERDUE' %}Payment overdue{% else %}Final notice{% endcase %}: order {{ orderRef }}",
      text: "Hello {{ retailerName }}, {% case kind %}{% when 'DUE_SOON' %}{{ amountDue | amount }} for order {{ orderRef }} is due on {{ dueDate | day }}.{% when 'OVERDUE' %}{{ amountDue | amount }} for order {{ orderRef }} was due on {{ dueDate | day }} and is overdue.{% else %}{{ amountDue | amount }} for order {{ orderRef }} is still unpaid since {{ dueDate | day }}. This is the final notice; your account is flagged until it is paid.{% endcase %} ({{ tenantName }})",
      html: null,
    },
    sample: {
      tenantName: 'Northwind',
      retailerName: 'Corner Shop',
      orderRef: 'ORD-0A1B2C3D',
      kind: 'OVERDUE',
      amountDue: 100,
      dueDate: '2026-12-24T09:00:00.000Z',
    },
  },
];

const htmlPage = (...body: string[]) => ['<!doctype html>', '<html><body>', ...body, '</body></html>'].join('\n');

/** Templates for the API, notification rules and reminder sequences; these send HTML email too. */
const application: TemplateKind[] = [
  {
    name: 'generic.message',
    description: "A message whose subject and body come from the request's data.",
    variables: { subject: 'the subject (email)', body: 'the body; line breaks are kept' },
    email: {
      subject: '{{ subject }}',
      text: '{{ body }}',
      html: htmlPage('<p>{{ body | escape | newline_to_br | raw }}</p>'),
    },
    short: '{{ body }}',
    sample: { subject: 'Hello', body: 'Your appointment is confirmed.' },
  },
  {
    name: 'settlement.reminder',
    description: 'A step of a settlement reminder sequence: created, due soon, due, overdue or final notice.',
    variables: {
      tenantName: 'the tenant',
      recipientName: 'who owes',
      reference: 'the settlement reference',
      amountDue: 'minor units',
      dueDate: 'ISO-8601 due date',
      kind: 'CREATED, DUE_SOON, DUE, OVERDUE, FINAL_NOTICE or the tenant’s own',
    },
    email: {
      subject:
        "{% case kind %}{% when 'CREATED' %}Settlement {{ reference }}{% when 'DUE_SOON' %}Settlement due soon{% when 'DUE' %}Settlement due today{% when 'OVERDUE' %}Settlement overdue{% when 'FINAL_NOTICE' %}Final notice{% else %}Reminder{% endcase %}: {{ reference }}",
      text: lines(
        'Hello {{ recipientName }},',
        '',
        "{% case kind %}{% when 'CREATED' %}Settlement {{ reference }} of {{ amountDue | amount }} is due on {{ dueDate | day }}.{% when 'DUE_SOON' %}Settlement {{ reference }} of {{ amountDue | amount }} is due on {{ dueDate | day }}.{% when 'DUE' %}Settlement {{ reference }} of {{ amountDue | amount }} is due today.{% when 'OVERDUE' %}Settlement {{ reference }} of {{ amountDue | amount }} was due on {{ dueDate | day }} and is overdue.{% when 'FINAL_NOTICE' %}Settlement {{ reference }} of {{ amountDue | amount }} is still unpaid since {{ dueDate | day }}. This is the final notice.{% else %}A reminder about settlement {{ reference }} of {{ amountDue | amount }}, due on {{ dueDate | day }}.{% endcase %}",
        '',
        '{{ tenantName }}',
      ),
      html: htmlPage(
        '<p>Hello {{ recipientName }},</p>',
        "<p>Settlement <strong>{{ reference }}</strong> of {{ amountDue | amount }}: due on {{ dueDate | day }}{% if kind == 'OVERDUE' or kind == 'FINAL_NOTICE' %}, and overdue{% endif %}.</p>",
        '<p>{{ tenantName }}</p>',
      ),
    },
    short:
      "{{ tenantName }}: settlement {{ reference }} of {{ amountDue | amount }} {% if kind == 'OVERDUE' or kind == 'FINAL_NOTICE' %}was due on{% else %}is due on{% endif %} {{ dueDate | day }}.",
    sample: {
      tenantName: 'Northwind',
      recipientName: 'Corner Shop',
      reference: 'S-1042',
      amountDue: 250000,
      dueDate: '2026-12-24T09:00:00.000Z',
      kind: 'DUE_SOON',
    },
  },
  {
    name: 'ticket.update',
    description: 'A ticket was created, quoted, approved or assigned (notification rules on ticket.* events).',
    variables: {
      tenantName: 'the tenant',
      recipientName: 'the customer or technician',
      ticketRef: 'the ticket reference',
      status: 'what happened: created, quoted, approved, assigned, …',
      message: 'optional free text',
    },
    email: {
      subject: 'Ticket {{ ticketRef }}: {{ status }}',
      text: lines(
        'Hello {{ recipientName }},',
        '',
        'Ticket {{ ticketRef }} at {{ tenantName }} is {{ status }}.{% if message %}',
        '',
        '{{ message }}{% endif %}',
      ),
      html: htmlPage(
        '<p>Hello {{ recipientName }},</p>',
        '<p>Ticket <strong>{{ ticketRef }}</strong> at {{ tenantName }} is {{ status }}.</p>',
        '{% if message %}<p>{{ message | escape | newline_to_br | raw }}</p>{% endif %}',
      ),
    },
    short: '{{ tenantName }}: ticket {{ ticketRef }} is {{ status }}.{% if message %} {{ message }}{% endif %}',
    sample: { tenantName: 'Northwind', recipientName: 'Ada', ticketRef: 'T-77', status: 'assigned', message: null },
  },
  {
    name: 'webhook.endpoint-disabled',
    description: "To the tenant's admins: a webhook endpoint was disabled after failed deliveries or a 410.",
    variables: {
      tenantName: 'the tenant',
      endpointId: 'the endpoint ID',
      url: 'the endpoint URL',
      reason: 'why it was disabled',
      failures: 'consecutive failed deliveries',
    },
    email: {
      subject: 'Webhook endpoint disabled: {{ url }}',
      text: lines(
        'The webhook endpoint {{ url }} ({{ endpointId }}) of {{ tenantName }} was disabled: {{ reason }}.',
        'Consecutive failed deliveries: {{ failures }}.',
        '',
        'Fix the receiver, then enable it again with PATCH /api/v1/webhooks/{{ endpointId }} and replay the deliveries it missed.',
      ),
      html: htmlPage(
        '<p>The webhook endpoint <code>{{ url }}</code> ({{ endpointId }}) of {{ tenantName }} was disabled: {{ reason }}.</p>',
        '<p>Consecutive failed deliveries: {{ failures }}.</p>',
        '<p>Fix the receiver, then enable it again with <code>PATCH /api/v1/webhooks/{{ endpointId }}</code> and replay the deliveries it missed.</p>',
      ),
    },
    sample: {
      tenantName: 'Northwind',
      endpointId: '00000000-0000-4000-8000-000000000000',
      url: 'https://hooks.example/holdfast',
      reason: '10 consecutive deliveries failed',
      failures: 10,
    },
  },
  {
    name: 'export.ready',
    description: 'To the address an export named: its file is ready, with a short-lived download link.',
    variables: {
      tenantName: 'the tenant',
      id: 'the export ID',
      entities: 'the exported entities, in file order',
      format: 'csv or ndjson',
      rows: 'rows written',
      bytes: 'the file size in bytes',
      downloadUrl: 'the signed download link (valid until linkExpiresAt)',
      linkExpiresAt: 'ISO-8601 end of the link',
      fileExpiresAt: 'ISO-8601 time the file is removed, or null',
    },
    email: {
      subject: 'Your {{ tenantName }} export is ready',
      text: lines(
        'The export {{ id }} of {{ tenantName }} ({{ entities | join: ", " }}, {{ format }}) is ready: {{ rows }} rows, {{ bytes }} bytes.',
        '',
        'Download it: {{ downloadUrl }}',
        '',
        `The link works until {{ linkExpiresAt | utc }}.${when('fileExpiresAt', ' The file is removed at ')}`,
      ),
      html: htmlPage(
        '<p>The export {{ id }} of {{ tenantName }} ({{ entities | join: ", " }}, {{ format }}) is ready: {{ rows }} rows, {{ bytes }} bytes.</p>',
        '<p><a href="{{ downloadUrl }}">Download it</a></p>',
        `<p>The link works until {{ linkExpiresAt | utc }}.${when('fileExpiresAt', ' The file is removed at ')}</p>`,
      ),
    },
    sample: {
      tenantName: 'Northwind',
      id: '00000000-0000-4000-8000-000000000000',
      entities: ['orders', 'vendors'],
      format: 'csv',
      rows: 1200,
      bytes: 184320,
      downloadUrl: 'https://holdfast.example/api/v1/downloads/d1.sample.signature',
      linkExpiresAt: '2026-01-02T10:00:00.000Z',
      fileExpiresAt: '2026-01-09T09:00:00.000Z',
    },
  },
  {
    name: 'report.ready',
    description: 'To the address a report named: its file is ready, with a short-lived download link.',
    variables: {
      tenantName: 'the tenant',
      id: 'the report ID',
      type: 'the report type (e.g. payment-discipline)',
      periodStart: 'ISO-8601 start of the period',
      periodEnd: 'ISO-8601 end of the period',
      format: 'csv, json or pdf',
      rows: 'rows in the report',
      bytes: 'the file size in bytes',
      downloadUrl: 'the signed download link (valid until linkExpiresAt)',
      linkExpiresAt: 'ISO-8601 end of the link',
      fileExpiresAt: 'ISO-8601 time the file is removed, or null',
    },
    email: {
      subject: 'Your {{ type }} report for {{ tenantName }} is ready',
      text: lines(
        'The {{ type }} report of {{ tenantName }} for {{ periodStart | utc }} to {{ periodEnd | utc }} ({{ format }}) is ready.',
        '',
        'Download it: {{ downloadUrl }}',
        '',
        `The link works until {{ linkExpiresAt | utc }}.${when('fileExpiresAt', ' The file is removed at ')}`,
      ),
      html: htmlPage(
        '<p>The {{ type }} report of {{ tenantName }} for {{ periodStart | utc }} to {{ periodEnd | utc }} ({{ format }}) is ready.</p>',
        '<p><a href="{{ downloadUrl }}">Download it</a></p>',
        `<p>The link works until {{ linkExpiresAt | utc }}.${when('fileExpiresAt', ' The file is removed at ')}</p>`,
      ),
    },
    sample: {
      tenantName: 'Northwind',
      id: '00000000-0000-4000-8000-000000000000',
      type: 'payment-discipline',
      periodStart: '2026-01-01T00:00:00.000Z',
      periodEnd: '2026-01-08T00:00:00.000Z',
      format: 'pdf',
      rows: 42,
      bytes: 52100,
      downloadUrl: 'https://holdfast.example/api/v1/downloads/d1.sample.signature',
      linkExpiresAt: '2026-01-08T10:00:00.000Z',
      fileExpiresAt: '2026-01-15T09:00:00.000Z',
    },
  },
];

/** Every template kind Holdfast ships, by name. */
export const templateKinds: ReadonlyMap<string, TemplateKind> = new Map(
  [...waitlist, ...onboarding, ...orders, ...application].map((kind) => [kind.name, kind]),
);

/** The shipped sources of a template for a channel, or undefined for a name Holdfast does not ship. */
export function defaultSources(name: string, channel: 'EMAIL' | 'SMS' | 'WHATSAPP'): TemplateSources | undefined {
  const kind = templateKinds.get(name);
  if (!kind) return undefined;
  return channel === 'EMAIL' ? kind.email : { subject: null, text: kind.short ?? kind.email.text, html: null };
}
