import { randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import type { PrismaClient } from '../../lib/db';
import { getCascadeStateQuery } from '../../workflows/waitlist-cascade';
import { getOrderStateQuery } from '../../workflows/order-routing';
import { getOnboardingProgressQuery } from '../../workflows/tenant-onboarding';
import { getWebhookDeliveryStateQuery } from '../../workflows/webhook-delivery.contract';
import { getNotificationStateQuery } from '../../workflows/notification.contract';
import { getReminderStateQuery } from '../../workflows/reminder-sequence.contract';
import { getFanOutStateQuery } from '../../workflows/event-fan-out.contract';
import { reportStateQuery } from '../../workflows/report.contract';
import { exportStateQuery } from '../../workflows/export.contract';
import { exportLaneStateQuery } from '../../workflows/export-lane.contract';
import { signDownloadToken } from '../../lib/download-links';
import { orderRoutingId } from '../../workflows/order-routing.contract';
import { eventually } from '../support/eventually';
import { consoleRoutes, listRoutes, routeKey } from '../support/routes';
import { useApiStack } from '../support/api-stack';
import { createTestTenant } from '../support/stack';

/**
 * Hostile input, generated: thousands of requests over every route, public ones included, with
 * NUL bytes, lone surrogates, huge and negative numbers, extreme dates, wrong types, extra keys,
 * long strings and odd IDs, under tokens for real, unknown, inactive and malformed tenants.
 * No answer may be a 500, and afterwards no flow the requests touched may be stuck retrying.
 *
 * HOSTILE_RUNS sets the number of requests (default 5,000); HOSTILE_SEED replays a run.
 */

const RUNS = Number(process.env.HOSTILE_RUNS ?? 5000);
const SEED = process.env.HOSTILE_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.HOSTILE_SEED);

const hostileStrings = [
  'x\u0000y',
  '\u0000',
  '\ud800',
  'a\udc00b',
  'end\ud83d',
  'A'.repeat(5_000),
  '',
  '   ',
  '%00',
  '../../etc/passwd',
  `'; DROP TABLE "Tenant"; --`,
  '<script>alert(1)</script>',
  '\u202egnp.exe',
  '😀👩‍👩‍👧',
  'null',
  '0',
  '-1',
  '1e309',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '9999-12-31T23:59:59Z',
  '2026-02-30T10:00:00Z',
  '\r\nSet-Cookie: x=y',
  'ＡＢＣ',
  't-00000000-0000-0000-0000-000000000000',
  '00000000-0000-0000-0000-000000000000',
];

const hostileNumbers = [
  0,
  -0,
  -1,
  1,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  1e12,
  1e308,
  1.5,
  0.1,
];

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...hostileStrings) },
  { weight: 3, arbitrary: fc.constantFrom(...hostileNumbers) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((date) => date.toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** Each flow's state query, by workflow type. */
const stateQueries: Record<string, string> = {
  waitlistCascadeWorkflow: getCascadeStateQuery.name,
  orderRoutingWorkflow: getOrderStateQuery.name,
  tenantOnboardingWorkflow: getOnboardingProgressQuery.name,
  webhookDeliveryWorkflow: getWebhookDeliveryStateQuery.name,
  notificationWorkflow: getNotificationStateQuery.name,
  reminderSequenceWorkflow: getReminderStateQuery.name,
  eventFanOutWorkflow: getFanOutStateQuery.name,
  reportWorkflow: reportStateQuery.name,
  exportWorkflow: exportStateQuery.name,
  exportLaneWorkflow: exportLaneStateQuery.name,
};

type Fixtures = {
  slotId: string;
  entryId: string;
  retailerId: string;
  vendorId: string;
  orderId: string;
  slug: string;
  otherTenantSlotId: string;
  /** A tenant of its own for suspend and reactivate, so the requests never lock the fixtures' tenant out. */
  suspendableSlug: string;
  eventId: string;
  ruleId: string;
  reportId: string;
  reportScheduleId: string;
  exportId: string;
  /** A genuine download link of the export. */
  downloadToken: string;
  /** Running flows of the tenant, for the operations API to act on. */
  workflowIds: string[];
  /** Dead letters of the tenant: a failed report run, and a notification that no longer exists. */
  deadLetterIds: string[];
  /** The Temporal Schedule of the report schedule, as the Schedules API names it. */
  temporalScheduleId: string;
};

interface RouteSpec {
  /** A body the route accepts, to mutate one field at a time. */
  body?: (fx: Fixtures) => Record<string, unknown>;
  query?: (fx: Fixtures) => Record<string, unknown>;
  /** Authenticated by a token in the body or query, not a JWT. */
  publicToken?: 'offer' | 'vendor' | 'invitation';
  /** Headers the route requires before it reads the body (an Idempotency-Key). */
  headers?: () => Record<string, string>;
}

const idempotencyKey = () => ({ 'Idempotency-Key': `fuzz-${randomUUID()}` });

const person = () => ({ customerName: 'Ana Lima', email: `ana-${randomUUID().slice(0, 8)}@example.test` });
const items = () => [{ sku: 'APL-1', name: 'Apples', category: 'produce', quantity: 2, unitPrice: 250 }];

/** Every route of the app, with a valid request to start from. A route missing here fails the suite. */
const specs: Record<string, RouteSpec> = {
  'GET /healthz': {},
  'GET /readyz': {},
  'GET /api/v1/offers/respond': { publicToken: 'offer', query: () => ({ decision: 'accept' }) },
  'POST /api/v1/offers/respond': { publicToken: 'offer', body: () => ({ decision: 'decline' }) },
  'GET /api/v1/invitations/accept': { publicToken: 'invitation', query: () => ({}) },
  'POST /api/v1/invitations/accept': { publicToken: 'invitation', body: () => ({}) },
  'GET /api/v1/vendor/offers/respond': { publicToken: 'vendor', query: () => ({ decision: 'reject' }) },
  'POST /api/v1/vendor/offers/respond': {
    publicToken: 'vendor',
    body: () => ({ decision: 'reject', reason: 'no stock' }),
  },
  'POST /api/v1/vendor/orders/status': { publicToken: 'vendor', body: () => ({ status: 'DISPATCHED' }) },
  'GET /api/v1/me': {},
  'GET /api/v1/tenant': {},
  'PATCH /api/v1/tenant/settings': { body: () => ({ holdMinutes: 20, retentionDays: 30, paymentTermsDays: 14 }) },
  'POST /api/v1/slots': { body: () => ({ name: 'Dr. Lee, 14:30', startsAt: '2027-01-05T14:30:00Z', holdMinutes: 5 }) },
  'GET /api/v1/slots/:slotId': {},
  'POST /api/v1/slots/:slotId/waitlist': { body: () => ({ ...person(), phone: '+14155550101', priority: 1 }) },
  'GET /api/v1/slots/:slotId/waitlist': { query: () => ({ status: 'WAITING', limit: 10 }) },
  'DELETE /api/v1/slots/:slotId/waitlist/:entryId': {},
  'POST /api/v1/slots/:slotId/release': {},
  'GET /api/v1/slots/:slotId/cascade': {},
  'POST /api/v1/slots/:slotId/cascade/extend': { body: () => ({ minutes: 5 }) },
  'POST /api/v1/slots/:slotId/cascade/cancel': {},
  'POST /api/v1/tenants': {
    body: () => ({
      organizationName: 'Fuzz Clinics',
      slug: `fuzz-${randomUUID().slice(0, 8)}`,
      adminEmail: 'admin@fuzz.test',
      adminName: 'Fuzz Admin',
      tier: 'free',
    }),
  },
  'GET /api/v1/tenants/:slug/onboarding': {},
  'POST /api/v1/tenants/:slug/onboarding/approve': { body: () => ({ note: 'looks fine' }) },
  'POST /api/v1/tenants/:slug/onboarding/reject': { body: () => ({ reason: 'not a real clinic' }) },
  'POST /api/v1/tenants/:slug/onboarding/cancel': {},
  'POST /api/v1/tenants/:slug/suspend': { body: () => ({ reason: 'unpaid invoices' }) },
  'POST /api/v1/tenants/:slug/reactivate': { body: () => ({ reason: 'paid up' }) },
  'POST /api/v1/tenants/:slug/erase': {},
  'POST /codec/encode': {
    body: () => ({ payloads: [{ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: 'IkRyLiBMZWUi' }] }),
  },
  'POST /codec/decode': {
    body: () => ({ payloads: [{ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: 'IkRyLiBMZWUi' }] }),
  },
  'POST /api/v1/retailers': {
    body: () => ({ name: 'Corner Shop', channel: 'EMAIL', contact: 'shop@example.test', creditLimit: 500_000 }),
  },
  'GET /api/v1/retailers': { query: () => ({ limit: 10, offset: 0 }) },
  'GET /api/v1/retailers/:id': {},
  'PATCH /api/v1/retailers/:id': { body: () => ({ name: 'Corner Shop 2', creditLimit: 600_000 }) },
  'POST /api/v1/vendors': {
    body: () => ({
      name: 'Fresh Farms',
      region: 'north',
      categories: ['produce'],
      capacity: 5,
      channel: 'EMAIL',
      contact: 'farm@example.test',
    }),
  },
  'GET /api/v1/vendors': { query: () => ({ region: 'north', active: 'true', limit: 10 }) },
  'GET /api/v1/vendors/:id': {},
  'PATCH /api/v1/vendors/:id': { body: () => ({ rating: 4.5, capacity: 6 }) },
  'POST /api/v1/orders': {
    body: (fx) => ({
      retailerId: fx.retailerId,
      items: items(),
      deliveryRegion: 'north',
      clientOrderRef: `ref-${randomUUID().slice(0, 8)}`,
    }),
  },
  'GET /api/v1/orders': { query: () => ({ status: 'ROUTING', limit: 10, offset: 0 }) },
  'GET /api/v1/orders/:orderId': {},
  'POST /api/v1/orders/:orderId/assign': { body: (fx) => ({ vendorId: fx.vendorId }) },
  'POST /api/v1/orders/:orderId/status': { body: () => ({ status: 'DISPATCHED' }) },
  'POST /api/v1/orders/:orderId/cancel': { body: () => ({ reason: 'customer changed their mind' }) },
  'POST /api/v1/orders/:orderId/payments': {
    body: () => ({ amount: 100, reference: `pay-${randomUUID().slice(0, 8)}` }),
  },
  'POST /api/v1/orders/:orderId/reminders/send-now': { headers: idempotencyKey, body: () => ({ kind: 'OVERDUE' }) },
  'POST /api/v1/retailers/:id/credit-score/recalculate': {},
  'POST /api/v1/reminders': {
    headers: idempotencyKey,
    body: () => ({
      subject: { type: 'settlement', id: 'S-1042' },
      recipient: { channel: 'EMAIL', to: 'payer@example.test', name: 'Corner Shop' },
      template: 'settlement.reminder',
      data: { reference: 'S-1042', amountDue: 250_000 },
      dueAt: '2027-01-05T09:00:00Z',
      steps: [
        { at: '-2d', kind: 'DUE_SOON' },
        { every: '3d', from: '+3d', until: '+12d', kind: 'OVERDUE' },
      ],
      notifyOnCreate: false,
    }),
  },
  'GET /api/v1/reminders': { query: () => ({ status: 'ACTIVE', subjectType: 'settlement', limit: 10 }) },
  'GET /api/v1/reminders/:id': {},
  'PATCH /api/v1/reminders/:id': {
    body: () => ({ dueAt: '2027-01-06T09:00:00Z', recipient: { channel: 'SMS', to: '+14155550101' } }),
  },
  'POST /api/v1/reminders/:id/complete': { body: () => ({ reason: 'settled' }) },
  // The endpoint subscribes to an event type nothing publishes, so no fuzzed flow delivers to it.
  'POST /api/v1/webhooks': {
    body: () => ({ url: 'http://127.0.0.1:9/hooks', events: ['fuzz.never_published'], description: 'fuzz' }),
  },
  'GET /api/v1/webhooks': { query: () => ({ limit: 10, offset: 0 }) },
  'GET /api/v1/webhooks/:id': {},
  'PATCH /api/v1/webhooks/:id': { body: () => ({ description: 'renamed', events: ['fuzz.never_published'] }) },
  'DELETE /api/v1/webhooks/:id': {},
  'POST /api/v1/webhooks/:id/rotate-secret': {},
  'POST /api/v1/webhooks/:id/test': {},
  'GET /api/v1/webhooks/:id/deliveries': { query: () => ({ limit: 10 }) },
  'POST /api/v1/webhooks/deliveries/:deliveryId/replay': {},
  // Scheduled a day ahead, so no fuzzed notification is sent while the suite runs.
  'POST /api/v1/notifications': {
    headers: idempotencyKey,
    body: () => ({
      channel: 'EMAIL',
      to: 'fuzz@example.test',
      template: 'generic.message',
      data: { subject: 'Fuzz', body: 'Hello' },
      priority: 'low',
      delay: '24h',
    }),
  },
  'GET /api/v1/notifications': { query: () => ({ status: 'SCHEDULED', channel: 'EMAIL', limit: 10 }) },
  'GET /api/v1/notifications/:notificationId': {},
  'POST /api/v1/notifications/:notificationId/cancel': {},
  'POST /api/v1/notifications/:notificationId/retry': {},
  'GET /api/v1/notification-templates': {},
  'PUT /api/v1/notification-templates/:template/:channel': {
    body: () => ({ subject: 'Ticket {{ ticketRef }}', text: 'Ticket {{ ticketRef }} is {{ status }}.' }),
  },
  'DELETE /api/v1/notification-templates/:template/:channel': { query: () => ({ locale: 'en' }) },
  'GET /api/v1/dev/outbox': { query: () => ({ limit: 5 }) },
  'POST /api/v1/events': {
    body: () => ({
      id: `fuzz-${randomUUID()}`,
      type: 'fuzz.reported',
      subject: { type: 'ticket', id: 'T-1' },
      data: { customer: { email: 'fuzz@example.test' }, priority: 'high' },
      occurredAt: '2026-12-01T10:00:00Z',
    }),
  },
  'GET /api/v1/events': { query: () => ({ type: 'fuzz.reported', since: '2026-12-01T00:00:00Z', limit: 10 }) },
  'GET /api/v1/events/:eventId': {},
  // Rules listen to an event type nothing reports, so no fuzzed event sends a message.
  'POST /api/v1/notification-rules': {
    body: () => ({
      name: 'Fuzz rule',
      eventType: 'fuzz.never_published',
      condition: { path: 'priority', in: ['high'] },
      channel: 'EMAIL',
      template: 'generic.message',
      recipientPath: 'customer.email',
      priority: 'low',
      delay: '1h',
    }),
  },
  'GET /api/v1/notification-rules': { query: () => ({ eventType: 'fuzz.never_published', limit: 10 }) },
  'GET /api/v1/notification-rules/:ruleId': {},
  'PATCH /api/v1/notification-rules/:ruleId': { body: () => ({ enabled: false, delay: 60 }) },
  'DELETE /api/v1/notification-rules/:ruleId': {},
  'POST /api/v1/reports': {
    headers: idempotencyKey,
    body: () => ({
      type: 'credit-summary',
      format: 'csv',
      filters: { from: '2026-11-01', to: '2026-11-30T12:00:00Z' },
      notifyEmail: 'fuzz@example.test',
    }),
  },
  'GET /api/v1/reports': { query: () => ({ status: 'COMPLETED', type: 'credit-summary', limit: 10 }) },
  'GET /api/v1/reports/:reportId': {},
  'GET /api/v1/reports/:reportId/download': {},
  'POST /api/v1/reports/:reportId/cancel': {},
  'POST /api/v1/reports/:reportId/link': {},
  // Schedules made here are deleted in afterAll; their cron would only fire on a 29 February.
  'POST /api/v1/report-schedules': {
    headers: idempotencyKey,
    body: () => ({
      type: 'notifications',
      format: 'pdf',
      cron: '0 6 29 2 *',
      timezone: 'Europe/Berlin',
      notifyEmail: 'fuzz@example.test',
      period: 'week',
      filters: { channel: 'EMAIL' },
    }),
  },
  'GET /api/v1/report-schedules': { query: () => ({ limit: 10, offset: 0 }) },
  'GET /api/v1/report-schedules/:scheduleId': {},
  'POST /api/v1/report-schedules/:scheduleId/pause': { body: () => ({ note: 'quarter close' }) },
  'POST /api/v1/report-schedules/:scheduleId/unpause': { body: () => ({ note: 'books closed' }) },
  'POST /api/v1/report-schedules/:scheduleId/trigger': {},
  'DELETE /api/v1/report-schedules/:scheduleId': {},
  'POST /api/v1/exports': {
    headers: idempotencyKey,
    body: () => ({
      entities: ['orders', 'vendors'],
      format: 'csv',
      filters: { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', status: 'PENDING' },
      notifyEmail: 'fuzz@example.test',
    }),
  },
  'GET /api/v1/exports': { query: () => ({ status: 'COMPLETED', limit: 10, offset: 0 }) },
  'GET /api/v1/exports/:exportId': {},
  'GET /api/v1/exports/:exportId/download': {},
  'POST /api/v1/exports/:exportId/cancel': {},
  'POST /api/v1/exports/:exportId/link': {},
  // The link is the credential: no bearer token is needed, and one given is ignored.
  'GET /api/v1/downloads/:token': {},
  // The operations API, acting on the tenant's real flows, dead letters and report schedule.
  'GET /api/v1/workflows': {
    query: () => ({ type: 'orders', status: 'running', since: '2026-12-01T00:00:00Z', pageSize: 10 }),
  },
  'GET /api/v1/workflows/:workflowId': {},
  'POST /api/v1/workflows/:workflowId/cancel': { body: () => ({ reason: 'fuzz' }) },
  'POST /api/v1/workflows/:workflowId/terminate': { body: () => ({ reason: 'fuzz' }) },
  'POST /api/v1/workflows/:workflowId/reset': { headers: idempotencyKey, body: () => ({ reason: 'fuzz', to: 'last' }) },
  'POST /api/v1/workflows/:workflowId/actions/:action': {},
  'GET /api/v1/stats': {},
  'GET /api/v1/dead-letter': { query: () => ({ flow: 'reports', kind: 'WORKFLOW_FAILED', limit: 10, offset: 0 }) },
  'POST /api/v1/dead-letter/:id/retry': { body: () => ({ mode: 'rerun', reason: 'fuzz' }) },
  'POST /api/v1/dead-letter/:id/discard': { body: () => ({ reason: 'fuzz' }) },
  'GET /api/v1/flows': {},
  'POST /api/v1/flows/:flow/pause': { body: () => ({ reason: 'fuzz' }) },
  'POST /api/v1/flows/:flow/resume': {},
  'GET /api/v1/schedules': {},
  'POST /api/v1/schedules/:scheduleId/pause': { body: () => ({ note: 'fuzz' }) },
  'POST /api/v1/schedules/:scheduleId/unpause': { body: () => ({ note: 'fuzz' }) },
  'POST /api/v1/schedules/:scheduleId/trigger': {},
  // Open pages and documents, with no bearer token of their own: fuzzed all the same, since none may
  // answer 500 either. GET /metrics answers only its own 400 to a query (test/api/metrics.test.ts).
  'GET /': {},
  'GET /api/openapi.json': {},
  'GET /api/docs': {},
  'GET /metrics': {},
};

/**
 * Routes left out by name (a route in neither list fails the suite): the console's pages sign in with a
 * cookie session and need the session's CSRF token on every POST, so no request generated here gets past
 * its sign-in. test/browser/console.test.ts drives them in a real browser (sign-in refusals, forged and
 * CSRF-less POSTs, another tenant's IDs); they call the same operations services fuzzed above.
 */
const notBearerApi = [...consoleRoutes];

type Principal =
  | 'member'
  | 'operator'
  | 'tenant-admin'
  | 'platform-admin'
  | 'other-tenant'
  | 'unknown-tenant'
  | 'pending-tenant'
  | 'failed-tenant'
  | 'suspended-tenant'
  | 'nul-in-tenant'
  | 'wrong-claim-types'
  | 'garbage'
  | 'none';

const principals: Principal[] = [
  'member',
  'operator',
  'tenant-admin',
  'platform-admin',
  'other-tenant',
  'unknown-tenant',
  'pending-tenant',
  'failed-tenant',
  'suspended-tenant',
  'nul-in-tenant',
  'wrong-claim-types',
  'garbage',
  'none',
];

/** The index of a real ID or token, or a hostile value in its place. */
const realOrHostile = (realWeight: number, hostileWeight: number) =>
  fc.oneof(
    { weight: realWeight, arbitrary: fc.record({ real: fc.nat() }) },
    { weight: hostileWeight, arbitrary: fc.record({ hostile: hostileValue }) },
  );

const principalWeights: Partial<Record<Principal, number>> = {
  'tenant-admin': 8,
  operator: 3,
  member: 2,
  'platform-admin': 4,
};

/** How one generated request departs from the valid one. */
type BodyShape =
  | { kind: 'valid' }
  | { kind: 'mutated'; pick: number; value: unknown }
  | { kind: 'extra-key'; key: string; value: unknown }
  | { kind: 'replaced'; value: unknown }
  | { kind: 'absent' }
  | { kind: 'malformed-json' }
  | { kind: 'form' };

const bodyShape: fc.Arbitrary<BodyShape> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'valid' as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('mutated' as const), pick: fc.nat(), value: hostileValue }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('extra-key' as const),
      key: fc.constantFrom('tenantId', '__proto__', 'constructor', 'status', 'x\u0000'),
      value: hostileValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replaced' as const), value: hostileValue }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'absent' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'malformed-json' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'form' as const }) },
);

/**
 * encodeURIComponent, except that an unpaired surrogate (which it refuses) is sent as the bytes
 * a careless client would send for it, so the server still meets it in paths and query strings.
 */
function percentEncode(text: string): string {
  let encoded = '';
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    const pairs = code >= 0xd800 && code <= 0xdbff && /[\udc00-\udfff]/.test(text[index + 1] ?? '');
    if (pairs) {
      encoded += encodeURIComponent(text.slice(index, index + 2));
      index++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      encoded += `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`;
    } else {
      encoded += encodeURIComponent(text[index]!);
    }
  }
  return encoded;
}

/** Sets one leaf of a JSON object (descending into arrays and objects) to `value`. */
function mutate(target: Record<string, unknown>, pick: number, value: unknown): Record<string, unknown> {
  const copy = structuredClone(target);
  const leaves: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        leaves.push([node, index]);
        walk(child);
      });
    } else if (node && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        leaves.push([node as Record<string, unknown>, key]);
        walk(child);
      }
    }
  };
  walk(copy);
  if (leaves.length === 0) return { field: value };
  const [parent, key] = leaves[pick % leaves.length]!;
  (parent as Record<string | number, unknown>)[key] = value;
  return copy;
}

describe('hostile input over every route', () => {
  const stack = useApiStack({
    worker: true,
    mail: 'memory',
    terminateOnStop: true,
    config: {
      // Development mode mounts the dev outbox, so it is fuzzed with every other route.
      APP_ENV: 'development',
      DEV_OUTBOX_FILE: path.join(os.tmpdir(), `holdfast-hostile-outbox-${process.pid}.jsonl`),
      // Thousands of requests from one address in a minute: a real client would be throttled, and 429 is
      // a fine answer, but this suite is here to reach the handlers behind the limits.
      RATE_LIMIT_PUBLIC_PER_MINUTE: '1000000',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
      RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
      RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '1000000',
    },
  });
  const { mails } = stack;
  let config: Config;
  let prisma: PrismaClient;
  let client: Client;
  let server: http.Server;
  let baseUrl: string;
  let fixtures: Fixtures;
  const tokens = new Map<Principal, string | undefined>();
  const publicTokens: Record<'offer' | 'vendor' | 'invitation', string[]> = { offer: [], vendor: [], invitation: [] };
  const tenantIds: string[] = [];

  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('hostile-suite')
      .setIssuer(config.auth.issuer)
      .setAudience(config.auth.audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(config.auth.jwtSecret));

  beforeAll(async () => {
    ({ config, prisma, client } = stack);
    server = http.createServer(stack.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const tenant = await createTestTenant(prisma, { holdMinutes: 30 });
    const other = await createTestTenant(prisma);
    const inactive = async (status: 'PENDING' | 'FAILED' | 'SUSPENDED') =>
      (await prisma.tenant.update({ where: { id: (await createTestTenant(prisma)).id }, data: { status } })).id;
    const [pending, failed, suspended] = await Promise.all([
      inactive('PENDING'),
      inactive('FAILED'),
      inactive('SUSPENDED'),
    ]);
    tenantIds.push(tenant.id, other.id, pending, failed, suspended);

    tokens.set('member', await sign({ tenantId: tenant.id, roles: ['member'] }));
    tokens.set('operator', await sign({ tenantId: tenant.id, roles: ['operator'] }));
    tokens.set('tenant-admin', await sign({ tenantId: tenant.id, roles: ['tenant-admin'] }));
    tokens.set('platform-admin', await sign({ tenantId: 'platform', roles: ['platform-admin'] }));
    tokens.set('other-tenant', await sign({ tenantId: other.id, roles: ['tenant-admin'] }));
    tokens.set('unknown-tenant', await sign({ tenantId: `t-${randomUUID()}`, roles: ['tenant-admin'] }));
    tokens.set('pending-tenant', await sign({ tenantId: pending, roles: ['tenant-admin'] }));
    tokens.set('failed-tenant', await sign({ tenantId: failed, roles: ['tenant-admin'] }));
    tokens.set('suspended-tenant', await sign({ tenantId: suspended, roles: ['tenant-admin'] }));
    tokens.set('nul-in-tenant', await sign({ tenantId: `${tenant.id}\u0000`, roles: ['tenant-admin'] }));
    tokens.set('wrong-claim-types', await sign({ tenantId: 42, roles: 'platform-admin' }));
    tokens.set('garbage', 'not.a.jwt');
    tokens.set('none', undefined);

    // Real objects, flows and links for the requests to aim at.
    const admin = { Authorization: `Bearer ${tokens.get('tenant-admin')}` };
    const api = request(baseUrl);
    const slot = await api.post('/api/v1/slots').set(admin).send({ name: 'Fuzz slot' });
    for (let index = 0; index < 3; index++) {
      await api.post(`/api/v1/slots/${slot.body.id}/waitlist`).set(admin).send(person());
    }
    const entry = await api.post(`/api/v1/slots/${slot.body.id}/waitlist`).set(admin).send(person());
    await api.post(`/api/v1/slots/${slot.body.id}/release`).set(admin).send();
    const retailer = await api
      .post('/api/v1/retailers')
      .set(admin)
      .send({ name: 'Corner Shop', channel: 'EMAIL', contact: 'shop@example.test', creditLimit: 10_000_000 });
    const vendorBody = specs['POST /api/v1/vendors']!.body!({} as Fixtures);
    const vendor = await api.post('/api/v1/vendors').set(admin).send(vendorBody);
    await api
      .post('/api/v1/vendors')
      .set(admin)
      .send({ ...vendorBody, contact: 'farm2@example.test' });
    const order = await api
      .post('/api/v1/orders')
      .set(admin)
      .send({ retailerId: retailer.body.id, items: items(), deliveryRegion: 'north' });
    const otherSlot = await prisma.slot.create({ data: { tenantId: other.id, name: 'Not yours' } });
    const event = await api
      .post('/api/v1/events')
      .set(admin)
      .send(specs['POST /api/v1/events']!.body!({} as Fixtures));
    const rule = await api
      .post('/api/v1/notification-rules')
      .set(admin)
      .send(specs['POST /api/v1/notification-rules']!.body!({} as Fixtures));
    const report = await api
      .post('/api/v1/reports')
      .set({ ...admin, ...idempotencyKey() })
      .send(specs['POST /api/v1/reports']!.body!({} as Fixtures));
    const reportSchedule = await api
      .post('/api/v1/report-schedules')
      .set({ ...admin, ...idempotencyKey() })
      .send(specs['POST /api/v1/report-schedules']!.body!({} as Fixtures));
    const exportJob = await api
      .post('/api/v1/exports')
      .set({ ...admin, ...idempotencyKey() })
      .send(specs['POST /api/v1/exports']!.body!({} as Fixtures));
    for (const response of [slot, entry, retailer, vendor, order, report, reportSchedule, exportJob]) {
      expect(response.status).toBeLessThan(300);
    }
    const reportRow = await prisma.report.findUniqueOrThrow({ where: { id: report.body.reportId } });
    const failedReport = await prisma.deadLetter.create({
      data: {
        tenantId: tenant.id,
        kind: 'WORKFLOW_FAILED',
        flow: 'reports',
        ref: randomUUID(),
        workflowId: reportRow.workflowId,
        failureMessage: 'fuzz',
      },
    });
    const goneNotification = randomUUID();
    const failedNotification = await prisma.deadLetter.create({
      data: {
        tenantId: tenant.id,
        kind: 'NOTIFICATION_FAILED',
        flow: 'notifications',
        ref: goneNotification,
        notificationId: goneNotification,
        workflowId: `notification:${tenant.id}:${goneNotification}`,
        failureMessage: 'fuzz',
      },
    });
    fixtures = {
      slotId: slot.body.id,
      entryId: entry.body.id,
      retailerId: retailer.body.id,
      vendorId: vendor.body.id,
      orderId: order.body.orderId,
      slug: tenant.slug,
      otherTenantSlotId: otherSlot.id,
      suspendableSlug: (await createTestTenant(prisma)).slug,
      eventId: event.body.eventId,
      ruleId: rule.body.id,
      reportId: report.body.reportId,
      reportScheduleId: reportSchedule.body.id,
      exportId: exportJob.body.exportId,
      downloadToken: signDownloadToken(stack.config.files.downloadLinkSecret, {
        kind: 'export',
        id: exportJob.body.exportId,
        tenantId: tenant.id,
        expiresAt: new Date(Date.now() + 3_600_000),
      }),
      workflowIds: [orderRoutingId(tenant.id, order.body.orderId), reportRow.workflowId],
      deadLetterIds: [failedReport.id, failedNotification.id],
      temporalScheduleId: reportSchedule.body.scheduleId,
    };

    const tokensFrom = (pathname: string) =>
      mails.flatMap((mail) =>
        [...mail.text.matchAll(/https?:\/\/\S+/g)]
          .map((match) => new URL(match[0]))
          .filter((url) => url.pathname === pathname)
          .map((url) => url.searchParams.get('token') ?? ''),
      );
    await eventually(() => tokensFrom('/api/v1/offers/respond').length > 0);
    await eventually(() => tokensFrom('/api/v1/vendor/offers/respond').length > 0);
    publicTokens.offer = tokensFrom('/api/v1/offers/respond');
    publicTokens.vendor = tokensFrom('/api/v1/vendor/offers/respond');
    publicTokens.invitation = [randomUUID().replace(/-/g, '').repeat(2)];
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    // Report Schedules live on the shared dev server beyond this stack: remove the ones the requests made.
    const schedules = await prisma.reportSchedule.findMany({ where: { tenantId: { in: tenantIds } } });
    for (const { scheduleId } of schedules) {
      await client.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
    }
  });

  it('covers every route of the app', () => {
    const routes = listRoutes(stack.app).map(routeKey);
    expect(routes.filter((route) => !notBearerApi.includes(route)).sort()).toEqual(Object.keys(specs).sort());
    expect(routes).toEqual(expect.arrayContaining(notBearerApi));
  });

  it(`${RUNS} generated requests: none answers 500 or more, and every error is the error body`, async () => {
    const statusCounts = new Map<number, number>();
    const idChoices = (name: string, route: string): string[] => {
      const changesStatus = /\/(suspend|reactivate)$/.test(route);
      const operations = /^\/api\/v1\/(dead-letter|schedules)\//.test(route);
      const real: Record<string, string[]> = {
        slotId: [fixtures.slotId, fixtures.otherTenantSlotId],
        entryId: [fixtures.entryId],
        id: operations ? fixtures.deadLetterIds : [fixtures.retailerId, fixtures.vendorId],
        orderId: [fixtures.orderId],
        eventId: [fixtures.eventId],
        ruleId: [fixtures.ruleId],
        reportId: [fixtures.reportId],
        scheduleId: [operations ? fixtures.temporalScheduleId : fixtures.reportScheduleId],
        workflowId: fixtures.workflowIds,
        action: ['expire-vendor-offer', 'send-now'],
        // A pausable flow (reports also pauses the report schedule), one that cannot pause, a platform one.
        flow: ['reports', 'onboarding', 'cleanup'],
        exportId: [fixtures.exportId],
        token: [fixtures.downloadToken],
        slug: [changesStatus ? fixtures.suspendableSlug : fixtures.slug, 'platform', 'fuzz-clinics'],
      };
      return [...(real[name] ?? []), randomUUID()];
    };

    const generated = fc.record({
      route: fc.constantFrom(...Object.keys(specs)),
      // Tokens that get past authentication are weighted up, so most requests reach the handlers.
      principal: fc.oneof(
        ...principals.map((principal) => ({
          weight: principalWeights[principal] ?? 1,
          arbitrary: fc.constant(principal),
        })),
      ),
      params: fc.array(realOrHostile(3, 1), { minLength: 2, maxLength: 2 }),
      body: bodyShape,
      query: bodyShape,
      publicToken: realOrHostile(3, 2),
    });

    await fc.assert(
      fc.asyncProperty(generated, async (input) => {
        const [method, template] = input.route.split(' ') as [string, string];
        const spec = specs[input.route]!;
        let paramIndex = 0;
        const path = template.replace(/:(\w+)/g, (_match, name: string) => {
          const choice = input.params[paramIndex++ % input.params.length];
          const value =
            'real' in choice!
              ? idChoices(name, template)[choice.real % idChoices(name, template).length]!
              : typeof choice!.hostile === 'string'
                ? choice!.hostile
                : JSON.stringify(choice!.hostile);
          return percentEncode(value);
        });

        const tokenValue = (() => {
          if (!spec.publicToken) return undefined;
          const real = publicTokens[spec.publicToken];
          if ('hostile' in input.publicToken) return input.publicToken.hostile;
          return real.length > 0 ? real[input.publicToken.real % real.length] : undefined;
        })();
        const shaped = (shape: BodyShape, valid: Record<string, unknown>): unknown => {
          switch (shape.kind) {
            case 'valid':
            case 'form':
            case 'malformed-json':
              return valid;
            case 'mutated':
              return mutate(valid, shape.pick, shape.value);
            case 'extra-key':
              return { ...valid, [shape.key]: shape.value };
            case 'replaced':
              return shape.value;
            case 'absent':
              return undefined;
          }
        };
        const withToken = (valid: Record<string, unknown>) =>
          spec.publicToken ? { token: tokenValue, ...valid } : valid;
        const query = shaped(input.query, withToken(spec.query?.(fixtures) ?? {}));
        const body = shaped(input.body, withToken(spec.body?.(fixtures) ?? {}));

        let call = request(baseUrl)[method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete'](path);
        const bearer = tokens.get(input.principal);
        if (bearer !== undefined) call = call.set('Authorization', `Bearer ${bearer}`);
        if (spec.headers) call = call.set(spec.headers());
        if (query && typeof query === 'object' && !Array.isArray(query)) {
          const pairs = Object.entries(query).map(
            ([key, value]) =>
              `${percentEncode(key)}=${percentEncode(typeof value === 'string' ? value : JSON.stringify(value))}`,
          );
          if (pairs.length > 0) call = call.query(pairs.join('&'));
        }
        if (method !== 'GET') {
          if (input.body.kind === 'malformed-json') call = call.set('Content-Type', 'application/json').send('{"a":');
          else if (input.body.kind === 'form') call = call.type('form').send(body as Record<string, string>);
          else if (body !== undefined) call = call.set('Content-Type', 'application/json').send(JSON.stringify(body));
        }
        const response = await call;

        statusCounts.set(response.status, (statusCounts.get(response.status) ?? 0) + 1);
        if (response.status >= 500) {
          throw new Error(
            `${method} ${path} as ${input.principal} → ${response.status} ${JSON.stringify(response.body)}`,
          );
        }
        if (response.status >= 400 && response.type === 'application/json') {
          expect(Object.keys(response.body)).toEqual(['error']);
          expect(Object.keys(response.body.error).sort()).toEqual(['code', 'details', 'message']);
          expect(response.body.error).toMatchObject({
            code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/),
            message: expect.any(String),
          });
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );

    const total = [...statusCounts.values()].reduce((sum, count) => sum + count, 0);
    const counts = [...statusCounts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}: ${count}`);
    process.stdout.write(`\nhostile input: ${total} requests (seed ${SEED}); status counts ${counts.join(', ')}\n`);
    expect(total).toBeGreaterThanOrEqual(RUNS);
    expect([...statusCounts.keys()].every((status) => status < 500)).toBe(true);
  });

  it('afterwards, no flow the requests touched is retrying an activity, and every one answers its state query', async () => {
    // Three attempts of the database profile take 1 s + 2 s of backoff: wait out that much and more,
    // so an activity that was retrying a refused write would show attempt 3 or more by now.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const touched: Array<{ workflowId: string; type: string }> = [];
    for await (const execution of client.workflow.list({ query: `TaskQueue="${config.temporal.taskQueue}"` })) {
      touched.push({ workflowId: execution.workflowId, type: execution.type });
    }
    const stuck: string[] = [];
    const unanswered: string[] = [];
    for (const { workflowId, type } of touched) {
      const handle = client.workflow.getHandle(workflowId);
      const { raw } = await handle.describe();
      for (const activity of raw.pendingActivities ?? []) {
        if ((activity.attempt ?? 1) >= 3)
          stuck.push(`${workflowId} ${activity.activityType?.name} attempt ${activity.attempt}`);
      }
      const queryName = stateQueries[type];
      if (!queryName) {
        unanswered.push(`${workflowId}: no state query known for ${type}`);
        continue;
      }
      await handle.query(queryName).catch((error: unknown) => unanswered.push(`${workflowId}: ${String(error)}`));
    }
    process.stdout.write(`hostile input: ${touched.length} workflows checked\n`);

    expect(touched.length).toBeGreaterThan(0);
    expect(stuck).toEqual([]);
    expect(unanswered).toEqual([]);
  });
});
