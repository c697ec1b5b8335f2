import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { PrismaClient } from '../../lib/db';
import { signDownloadToken } from '../../lib/download-links';
import { notificationStartOptions } from '../../workflows/notification.contract';
import { listRoutes, routeKey } from '../support/routes';
import { useApiStack, type ApiStack } from '../support/api-stack';

/**
 * The cross-tenant matrix: for every route that takes an ID, tenant B's token on tenant A's
 * object answers exactly as it does for an object that does not exist, and for tenant-scoped
 * routes that answer is 404. The routes are read from the app itself, so a new ID route without
 * a case here fails the suite.
 */

type Ids = {
  slotId: string;
  entryId: string;
  retailerId: string;
  vendorId: string;
  orderId: string;
  reminderId: string;
  slug: string;
  /** Tenant B's own vendor: the assign route checks the vendor before the order. */
  ownVendorId: string;
  notificationId: string;
  /** A template A saved its own version of; templates are per tenant, keyed by name. */
  templateName: string;
  webhookId: string;
  webhookDeliveryId: string;
  eventId: string;
  ruleId: string;
  reportId: string;
  reportScheduleId: string;
  exportId: string;
  /** A download link B signs for itself naming A's export: the row must still be the token tenant's. */
  downloadToken: string;
  /** A's running workflow: its TenantId search attribute is A's. */
  workflowId: string;
  deadLetterId: string;
  /** The Temporal Schedule of A's report schedule, as the Schedules API names it. */
  temporalScheduleId: string;
  /** A flow A paused; a pause is per tenant, keyed by the flow's name. */
  flow: string;
};

interface Case {
  /** What the path's parameters are filled with. */
  params: (ids: Ids) => Record<string, string>;
  body?: (ids: Ids) => object;
  /** Headers the route needs before it looks at the ID (an Idempotency-Key). */
  headers?: () => Record<string, string>;
  /**
   * Tenant-scoped objects answer 404; platform routes answer 403 to any tenant's token, whatever the slug.
   * 200: a route keyed by a name every tenant has its own copy of (a notification template, a flow's pause):
   * B acts on B's copy, exactly as for a name A never used, and A's is untouched.
   */
  expected: 404 | 403 | 200;
  /** The 404's code where the route names what is missing (WORKFLOW_NOT_FOUND); NOT_FOUND otherwise. */
  notFoundCode?: string;
}

const tenantScoped = (params: Case['params'], body?: Case['body']): Case => ({ params, body, expected: 404 });
const platformOnly = (body?: Case['body']): Case => ({ params: (ids) => ({ slug: ids.slug }), body, expected: 403 });

const slot = (ids: Ids) => ({ slotId: ids.slotId });
const order = (ids: Ids) => ({ orderId: ids.orderId });
const notification = (ids: Ids) => ({ notificationId: ids.notificationId });
/** PUT acts on the email template and DELETE on the SMS one, so B's copy from the PUT case never meets the DELETE case. */
const template = (channel: 'EMAIL' | 'SMS') => (ids: Ids) => ({ template: ids.templateName, channel });
const reminder = (ids: Ids) => ({ id: ids.reminderId });
const webhook = (ids: Ids) => ({ id: ids.webhookId });
const report = (ids: Ids) => ({ reportId: ids.reportId });
const reportSchedule = (ids: Ids) => ({ scheduleId: ids.reportScheduleId });
const exportJob = (ids: Ids) => ({ exportId: ids.exportId });
const workflow = (ids: Ids) => ({ workflowId: ids.workflowId });
const workflowScoped = (params: Case['params'], body?: Case['body']): Case => ({
  ...tenantScoped(params, body),
  notFoundCode: 'WORKFLOW_NOT_FOUND',
});
const deadLetterScoped = (body?: Case['body']): Case => ({
  ...tenantScoped((ids) => ({ id: ids.deadLetterId }), body),
  notFoundCode: 'DEAD_LETTER_NOT_FOUND',
});
const temporalSchedule = (ids: Ids) => ({ scheduleId: ids.temporalScheduleId });
const flowPause = (ids: Ids) => ({ flow: ids.flow });
const withIdempotencyKey = (scoped: Case): Case => ({
  ...scoped,
  headers: () => ({ 'Idempotency-Key': randomUUID() }),
});

const cases: Record<string, Case> = {
  'GET /api/v1/slots/:slotId': tenantScoped(slot),
  'POST /api/v1/slots/:slotId/waitlist': tenantScoped(slot, () => ({
    customerName: 'Mallory',
    email: `mallory-${randomUUID().slice(0, 6)}@example.test`,
  })),
  'GET /api/v1/slots/:slotId/waitlist': tenantScoped(slot),
  'DELETE /api/v1/slots/:slotId/waitlist/:entryId': tenantScoped((ids) => ({
    slotId: ids.slotId,
    entryId: ids.entryId,
  })),
  'POST /api/v1/slots/:slotId/release': tenantScoped(slot),
  'GET /api/v1/slots/:slotId/cascade': tenantScoped(slot),
  'POST /api/v1/slots/:slotId/cascade/extend': tenantScoped(slot, () => ({ minutes: 5 })),
  'POST /api/v1/slots/:slotId/cascade/cancel': tenantScoped(slot),
  'GET /api/v1/retailers/:id': tenantScoped((ids) => ({ id: ids.retailerId })),
  'PATCH /api/v1/retailers/:id': tenantScoped(
    (ids) => ({ id: ids.retailerId }),
    () => ({ name: 'Stolen' }),
  ),
  'GET /api/v1/vendors/:id': tenantScoped((ids) => ({ id: ids.vendorId })),
  'PATCH /api/v1/vendors/:id': tenantScoped(
    (ids) => ({ id: ids.vendorId }),
    () => ({ active: false }),
  ),
  'GET /api/v1/orders/:orderId': tenantScoped(order),
  'POST /api/v1/orders/:orderId/assign': tenantScoped(order, (ids) => ({ vendorId: ids.ownVendorId })),
  'POST /api/v1/orders/:orderId/status': tenantScoped(order, () => ({ status: 'DISPATCHED' })),
  'POST /api/v1/orders/:orderId/cancel': tenantScoped(order, () => ({ reason: 'not yours' })),
  'POST /api/v1/orders/:orderId/payments': tenantScoped(order, () => ({
    amount: 100,
    reference: `ref-${randomUUID()}`,
  })),
  'POST /api/v1/orders/:orderId/reminders/send-now': withIdempotencyKey(
    tenantScoped(order, () => ({ kind: 'OVERDUE' })),
  ),
  'POST /api/v1/retailers/:id/credit-score/recalculate': tenantScoped((ids) => ({ id: ids.retailerId })),
  'GET /api/v1/reminders/:id': tenantScoped(reminder),
  'PATCH /api/v1/reminders/:id': tenantScoped(reminder, () => ({ dueAt: '2027-01-05T09:00:00Z' })),
  'POST /api/v1/reminders/:id/complete': tenantScoped(reminder, () => ({ reason: 'not yours' })),
  'GET /api/v1/notifications/:notificationId': tenantScoped(notification),
  'POST /api/v1/notifications/:notificationId/cancel': tenantScoped(notification),
  'POST /api/v1/notifications/:notificationId/retry': tenantScoped(notification),
  'PUT /api/v1/notification-templates/:template/:channel': {
    params: template('EMAIL'),
    body: () => ({ subject: 'Not yours' }),
    expected: 200,
  },
  'DELETE /api/v1/notification-templates/:template/:channel': tenantScoped(template('SMS')),
  'GET /api/v1/webhooks/:id': tenantScoped(webhook),
  'PATCH /api/v1/webhooks/:id': tenantScoped(webhook, () => ({ events: ['*'], description: 'Stolen' })),
  'DELETE /api/v1/webhooks/:id': tenantScoped(webhook),
  'POST /api/v1/webhooks/:id/rotate-secret': tenantScoped(webhook),
  'POST /api/v1/webhooks/:id/test': tenantScoped(webhook),
  'GET /api/v1/webhooks/:id/deliveries': tenantScoped(webhook),
  'POST /api/v1/webhooks/deliveries/:deliveryId/replay': tenantScoped((ids) => ({ deliveryId: ids.webhookDeliveryId })),
  'GET /api/v1/events/:eventId': tenantScoped((ids) => ({ eventId: ids.eventId })),
  'GET /api/v1/notification-rules/:ruleId': tenantScoped((ids) => ({ ruleId: ids.ruleId })),
  'PATCH /api/v1/notification-rules/:ruleId': tenantScoped(
    (ids) => ({ ruleId: ids.ruleId }),
    () => ({ enabled: false }),
  ),
  'DELETE /api/v1/notification-rules/:ruleId': tenantScoped((ids) => ({ ruleId: ids.ruleId })),
  'GET /api/v1/reports/:reportId': tenantScoped(report),
  'GET /api/v1/reports/:reportId/download': tenantScoped(report),
  'POST /api/v1/reports/:reportId/cancel': tenantScoped(report),
  'POST /api/v1/reports/:reportId/link': tenantScoped(report),
  'GET /api/v1/report-schedules/:scheduleId': tenantScoped(reportSchedule),
  'POST /api/v1/report-schedules/:scheduleId/pause': tenantScoped(reportSchedule, () => ({ note: 'not yours' })),
  'POST /api/v1/report-schedules/:scheduleId/unpause': tenantScoped(reportSchedule),
  'POST /api/v1/report-schedules/:scheduleId/trigger': tenantScoped(reportSchedule),
  'DELETE /api/v1/report-schedules/:scheduleId': tenantScoped(reportSchedule),
  'GET /api/v1/exports/:exportId': tenantScoped(exportJob),
  'GET /api/v1/exports/:exportId/download': tenantScoped(exportJob),
  'POST /api/v1/exports/:exportId/cancel': tenantScoped(exportJob),
  'POST /api/v1/exports/:exportId/link': tenantScoped(exportJob),
  'GET /api/v1/downloads/:token': tenantScoped((ids) => ({ token: ids.downloadToken })),
  'GET /api/v1/tenants/:slug/onboarding': tenantScoped((ids) => ({ slug: ids.slug })),
  'POST /api/v1/tenants/:slug/onboarding/approve': platformOnly(),
  'POST /api/v1/tenants/:slug/onboarding/reject': platformOnly(() => ({ reason: 'not yours' })),
  'POST /api/v1/tenants/:slug/onboarding/cancel': platformOnly(),
  'POST /api/v1/tenants/:slug/suspend': platformOnly(() => ({ reason: 'not yours' })),
  'POST /api/v1/tenants/:slug/reactivate': platformOnly(() => ({ reason: 'not yours' })),
  'POST /api/v1/tenants/:slug/erase': platformOnly(),
  // The operations API: a workflow is A's by its TenantId search attribute, whatever its ID says.
  'GET /api/v1/workflows/:workflowId': workflowScoped(workflow),
  'POST /api/v1/workflows/:workflowId/cancel': workflowScoped(workflow),
  'POST /api/v1/workflows/:workflowId/terminate': workflowScoped(workflow, () => ({ reason: 'not yours' })),
  'POST /api/v1/workflows/:workflowId/reset': workflowScoped(workflow, () => ({ reason: 'not yours' })),
  'POST /api/v1/workflows/:workflowId/actions/:action': workflowScoped((ids) => ({
    workflowId: ids.workflowId,
    action: 'send-now',
  })),
  'POST /api/v1/dead-letter/:id/retry': deadLetterScoped(() => ({ mode: 'rerun', reason: 'not yours' })),
  'POST /api/v1/dead-letter/:id/discard': deadLetterScoped(() => ({ reason: 'not yours' })),
  'POST /api/v1/schedules/:scheduleId/pause': tenantScoped(temporalSchedule, () => ({ note: 'not yours' })),
  'POST /api/v1/schedules/:scheduleId/unpause': tenantScoped(temporalSchedule),
  'POST /api/v1/schedules/:scheduleId/trigger': tenantScoped(temporalSchedule),
  'POST /api/v1/flows/:flow/pause': { params: flowPause, body: () => ({ reason: 'not yours' }), expected: 200 },
  'POST /api/v1/flows/:flow/resume': { params: flowPause, expected: 200 },
};

/**
 * Routes that take an ID but are not the bearer-token JSON API, left out of the matrix by name (a
 * route missing from both lists still fails the suite). The console's pages (/console/...) sign in
 * with a cookie session and answer HTML: test/browser/console.test.ts signs in another tenant's
 * operator and checks that a workflow of this tenant is the same 404 page as a missing one, and that
 * none of its workflows, dead letters or schedules shows on any page; the console acts through the
 * same operations services this matrix covers.
 */
const notBearerApi = [
  'POST /console/dead-letters/:id/retry',
  'POST /console/dead-letters/:id/discard',
  'GET /console/workflows/:workflowId',
  'POST /console/workflows/:workflowId/cancel',
  'POST /console/workflows/:workflowId/terminate',
  'POST /console/workflows/:workflowId/reset',
  'POST /console/workflows/:workflowId/actions/:action',
  'POST /console/schedules/:scheduleId/:action',
  'POST /console/flows/:flow/pause',
  'POST /console/flows/:flow/resume',
];

const fill = (path: string, params: Record<string, string>) =>
  path.replace(/:(\w+)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });

describe('tenant isolation: tenant B on tenant A’s objects', () => {
  const stack = useApiStack();
  let prisma: PrismaClient;
  let app: ApiStack['app'];
  let ownedByA: Ids;
  let missing: Ids;
  let tenantA: string;
  let adminOfB: string;

  beforeAll(async () => {
    ({ prisma, app } = stack);
    const [a, b] = [stack.tenant, stack.otherTenant];
    tenantA = a.id;
    adminOfB = stack.tokens.otherAdmin;

    const slotRow = await prisma.slot.create({ data: { tenantId: a.id, name: 'Dr. Lee, 14:30' } });
    const entry = await prisma.waitlistEntry.create({
      data: { tenantId: a.id, slotId: slotRow.id, customerName: 'Ana', email: 'ana@example.test' },
    });
    const retailer = await prisma.retailer.create({
      data: {
        tenantId: a.id,
        name: 'Corner Shop',
        channel: 'EMAIL',
        contact: 'shop@example.test',
        creditLimit: 100_000,
      },
    });
    const vendorFields = { region: 'north', categories: ['produce'], capacity: 5, channel: 'EMAIL' as const };
    const vendor = await prisma.vendor.create({
      data: { tenantId: a.id, name: 'Fresh Farms', contact: 'farm@example.test', ...vendorFields },
    });
    const ownVendor = await prisma.vendor.create({
      data: { tenantId: b.id, name: 'B Farms', contact: 'b-farm@example.test', ...vendorFields },
    });
    const orderRow = await prisma.order.create({
      data: {
        tenantId: a.id,
        retailerId: retailer.id,
        items: [{ sku: 'A-1', name: 'Apples', category: 'produce', quantity: 1, unitPrice: 100 }],
        total: 100,
        deliveryRegion: 'north',
        requestHash: 'isolation-test',
      },
    });
    const reminderId = randomUUID();
    await prisma.reminder.create({
      data: {
        id: reminderId,
        tenantId: a.id,
        idempotencyKey: `isolation-${reminderId}`,
        requestHash: 'isolation-test',
        subjectType: 'settlement',
        subjectId: 'S-1',
        channel: 'EMAIL',
        recipient: 'payer@example.test',
        template: 'settlement.reminder',
        dueAt: new Date('2027-01-01T09:00:00Z'),
        steps: [{ at: '0', kind: 'DUE' }],
        workflowId: `reminder:${a.id}:${reminderId}`,
      },
    });
    const notificationRow = await prisma.notification.create({
      data: {
        tenantId: a.id,
        channel: 'EMAIL',
        recipient: 'ana@example.test',
        template: 'generic.message',
        idempotencyKey: `${a.id}:api:isolation-${randomUUID()}`,
        status: 'FAILED',
      },
    });
    await prisma.tenantNotificationTemplate.createMany({
      data: [
        { tenantId: a.id, template: 'ticket.update', channel: 'EMAIL', locale: 'en', subject: 'A only' },
        { tenantId: a.id, template: 'ticket.update', channel: 'SMS', locale: 'en', text: 'A only' },
      ],
    });
    const endpoint = await prisma.webhookEndpoint.create({
      data: { tenantId: a.id, url: 'https://hooks.example.test/a', events: ['*'], secretCiphertext: 'v1.sealed' },
    });
    const event = await prisma.outboxEvent.create({
      data: { tenantId: a.id, eventKey: `isolation-${randomUUID()}`, type: 'ticket.created', payload: {} },
    });
    const webhookDelivery = await prisma.webhookDelivery.create({
      data: {
        tenantId: a.id,
        endpointId: endpoint.id,
        eventId: event.id,
        eventType: event.type,
        workflowId: `webhook:${a.id}:${endpoint.id}:${event.id}`,
        status: 'SUCCEEDED',
      },
    });
    const rule = await prisma.notificationRule.create({
      data: {
        tenantId: a.id,
        name: 'A only',
        eventType: 'ticket.created',
        channel: 'EMAIL',
        template: 'ticket.update',
        recipientPath: 'customer.email',
      },
    });
    // A completed report with its file, and a schedule row (B is refused before any Schedule is touched).
    const reportRow = await prisma.report.create({
      data: {
        tenantId: a.id,
        type: 'order-volume',
        format: 'csv',
        periodStart: new Date('2026-11-01T00:00:00Z'),
        periodEnd: new Date('2026-12-01T00:00:00Z'),
        status: 'COMPLETED',
        workflowId: `report:${a.id}:${randomUUID()}`,
        fileKey: `${a.id}/reports/isolation.csv`,
        fileBytes: 10n,
        contentType: 'text/csv',
        expiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    const scheduleRowId = randomUUID();
    await prisma.reportSchedule.create({
      data: {
        id: scheduleRowId,
        tenantId: a.id,
        type: 'order-volume',
        format: 'pdf',
        cron: '0 6 * * MON',
        timezone: 'UTC',
        period: 'week',
        notifyEmail: 'a@example.test',
        scheduleId: `report-schedule:${a.id}:${scheduleRowId}`,
      },
    });
    const exportRow = await prisma.export.create({
      data: {
        tenantId: a.id,
        entities: ['orders'],
        format: 'csv',
        status: 'COMPLETED',
        workflowId: `export:${a.id}:${randomUUID()}`,
        fileKey: `${a.id}/exports/isolation.csv`,
        fileBytes: 10n,
        contentType: 'text/csv; charset=utf-8',
        expiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    // A's notification, running with no worker to take it: it stays running for the whole suite.
    const notificationInput = { tenantId: a.id, notificationId: randomUUID(), priority: 3 };
    const started = await stack.client.workflow.start('notificationWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      args: [notificationInput],
      ...notificationStartOptions(notificationInput, new Date()),
    });
    const deadLetter = await prisma.deadLetter.create({
      data: {
        tenantId: a.id,
        kind: 'WORKFLOW_FAILED',
        flow: 'notifications',
        ref: randomUUID(),
        workflowId: started.workflowId,
        failureMessage: 'A only',
      },
    });
    await prisma.flowPause.create({ data: { tenantId: a.id, flow: 'exports', reason: 'A only', pausedBy: 'a-admin' } });
    const linkOfB = (exportId: string) =>
      signDownloadToken(stack.config.files.downloadLinkSecret, {
        kind: 'export',
        id: exportId,
        tenantId: b.id,
        expiresAt: new Date(Date.now() + 3_600_000),
      });
    ownedByA = {
      slotId: slotRow.id,
      entryId: entry.id,
      retailerId: retailer.id,
      vendorId: vendor.id,
      orderId: orderRow.id,
      reminderId,
      slug: a.slug,
      ownVendorId: ownVendor.id,
      notificationId: notificationRow.id,
      templateName: 'ticket.update',
      webhookId: endpoint.id,
      webhookDeliveryId: webhookDelivery.id,
      eventId: event.id,
      ruleId: rule.id,
      reportId: reportRow.id,
      reportScheduleId: scheduleRowId,
      exportId: exportRow.id,
      downloadToken: linkOfB(exportRow.id),
      workflowId: started.workflowId,
      deadLetterId: deadLetter.id,
      temporalScheduleId: `report-schedule:${a.id}:${scheduleRowId}`,
      flow: 'exports',
    };
    missing = {
      ...ownedByA,
      slotId: randomUUID(),
      entryId: randomUUID(),
      retailerId: randomUUID(),
      vendorId: randomUUID(),
      orderId: randomUUID(),
      reminderId: randomUUID(),
      slug: `missing-${randomUUID().slice(0, 8)}`,
      notificationId: randomUUID(),
      templateName: 'order.confirmed',
      webhookId: randomUUID(),
      webhookDeliveryId: randomUUID(),
      eventId: randomUUID(),
      ruleId: randomUUID(),
      reportId: randomUUID(),
      reportScheduleId: randomUUID(),
      exportId: randomUUID(),
      workflowId: `notification:${a.id}:${randomUUID()}`,
      deadLetterId: randomUUID(),
      temporalScheduleId: `report-schedule:${a.id}:${randomUUID()}`,
      flow: 'events',
    };
    missing.downloadToken = linkOfB(missing.exportId);
  });

  afterAll(async () => {
    await stack.client.workflow
      .getHandle(ownedByA.workflowId)
      .terminate('tenant isolation suite finished')
      .catch(() => undefined);
  });

  const idRoutes = () =>
    listRoutes(app)
      .filter((route) => route.path.includes('/:'))
      .map(routeKey)
      .filter((key) => !notBearerApi.includes(key));

  it('has a case for every route that takes an ID, and no case for a route that is gone', () => {
    const routes = idRoutes();

    expect([...routes].sort()).toEqual(Object.keys(cases).sort());
    expect(routes.length).toBe(71);
    expect(listRoutes(app).map(routeKey)).toEqual(expect.arrayContaining(notBearerApi));
  });

  const send = (key: string, ids: Ids) => {
    const [method, path] = key.split(' ') as [string, string];
    const { params, body, headers } = cases[key]!;
    const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    const agent = request(app);
    const call = agent[verb](fill(path, params(ids)))
      .set('Authorization', adminOfB)
      .set(headers?.() ?? {});
    return body ? call.send(body(ids)) : call;
  };

  it.each(Object.keys(cases))('%s answers B as if A’s object did not exist', async (key) => {
    const onA = await send(key, ownedByA);
    const onNothing = await send(key, missing);

    const { expected, notFoundCode } = cases[key]!;
    expect({ status: onA.status, code: onA.body?.error?.code }).toEqual({
      status: expected,
      code: expected === 404 ? (notFoundCode ?? 'NOT_FOUND') : expected === 403 ? 'FORBIDDEN' : undefined,
    });
    expect(onNothing.status).toBe(onA.status);
    expect(onNothing.body?.error?.code).toBe(onA.body?.error?.code);
  });

  it('A’s objects are absent from B’s lists, and untouched by B’s attempts', async () => {
    const lists = [
      '/api/v1/retailers',
      '/api/v1/vendors',
      '/api/v1/orders',
      '/api/v1/reminders',
      '/api/v1/events',
      '/api/v1/notification-rules',
      '/api/v1/reports',
      '/api/v1/report-schedules',
      '/api/v1/exports',
      '/api/v1/workflows',
      '/api/v1/dead-letter',
      '/api/v1/schedules',
      '/api/v1/flows',
      '/api/v1/stats',
    ];
    for (const path of lists) {
      const listed = await request(app).get(path).set('Authorization', adminOfB);
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.body)).not.toContain(tenantA);
      const { retailerId, vendorId, orderId, reminderId, eventId, ruleId } = ownedByA;
      for (const id of [retailerId, vendorId, orderId, reminderId, eventId, ruleId]) {
        expect(JSON.stringify(listed.body)).not.toContain(id);
      }
    }
    expect(await prisma.notificationRule.findUniqueOrThrow({ where: { id: ownedByA.ruleId } })).toMatchObject({
      enabled: true,
    });
    const retailer = await prisma.retailer.findUniqueOrThrow({ where: { id: ownedByA.retailerId } });
    const vendor = await prisma.vendor.findUniqueOrThrow({ where: { id: ownedByA.vendorId } });
    const entries = await prisma.waitlistEntry.count({ where: { slotId: ownedByA.slotId } });
    expect({ retailer: retailer.name, vendorActive: vendor.active, entries }).toEqual({
      retailer: 'Corner Shop',
      vendorActive: true,
      entries: 1,
    });
    const notifications = await request(app).get('/api/v1/notifications').set('Authorization', adminOfB);
    expect(notifications.status).toBe(200);
    expect(JSON.stringify(notifications.body)).not.toContain(ownedByA.notificationId);
    const templates = await request(app).get('/api/v1/notification-templates').set('Authorization', adminOfB);
    expect(JSON.stringify(templates.body.overrides)).not.toContain('A only');
    const aTemplate = await prisma.tenantNotificationTemplate.findUniqueOrThrow({
      where: {
        tenantId_template_channel_locale: {
          tenantId: tenantA,
          template: 'ticket.update',
          channel: 'EMAIL',
          locale: 'en',
        },
      },
    });
    expect(aTemplate.subject).toBe('A only');
    const aNotification = await prisma.notification.findUniqueOrThrow({ where: { id: ownedByA.notificationId } });
    expect(aNotification.status).toBe('FAILED');
    const webhooks = await request(app).get('/api/v1/webhooks').set('Authorization', adminOfB);
    expect(webhooks.status).toBe(200);
    expect(JSON.stringify(webhooks.body)).not.toContain(ownedByA.webhookId);
    const aEndpoint = await prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: ownedByA.webhookId } });
    expect({ description: aEndpoint.description, secret: aEndpoint.secretCiphertext }).toEqual({
      description: null,
      secret: 'v1.sealed',
    });
    expect(await prisma.webhookDelivery.count({ where: { endpointId: ownedByA.webhookId } })).toBe(1);
    const { status: workflowStatus } = await stack.client.workflow.getHandle(ownedByA.workflowId).describe();
    expect(workflowStatus.name).toBe('RUNNING');
    const aDeadLetter = await prisma.deadLetter.findUniqueOrThrow({ where: { id: ownedByA.deadLetterId } });
    expect(aDeadLetter.resolution).toBeNull();
    const aPause = await prisma.flowPause.findUniqueOrThrow({
      where: { tenantId_flow: { tenantId: tenantA, flow: 'exports' } },
    });
    expect({ reason: aPause.reason, pausedBy: aPause.pausedBy }).toEqual({ reason: 'A only', pausedBy: 'a-admin' });
  });
});
