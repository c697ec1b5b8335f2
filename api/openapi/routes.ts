import { healthRoutes } from '../health';
import { metricsRoutes } from '../metrics';
import { codecRoutes } from '../routes/codec';
import { deadLetterRoutes } from '../routes/dead-letter';
import { devOutboxRoutes } from '../routes/dev-outbox';
import { downloadsRoutes } from '../routes/downloads';
import { eventsRoutes } from '../routes/events';
import { exportsRoutes } from '../routes/exports';
import { flowsRoutes } from '../routes/flows';
import { invitationsRoutes } from '../routes/invitations';
import { notificationRulesRoutes } from '../routes/notification-rules';
import { notificationTemplatesRoutes } from '../routes/notification-templates';
import { notificationsRoutes } from '../routes/notifications';
import { offersRoutes } from '../routes/offers';
import { ordersRoutes } from '../routes/orders';
import { partnersRoutes } from '../routes/partners';
import { remindersRoutes } from '../routes/reminders';
import { reportSchedulesRoutes } from '../routes/report-schedules';
import { reportsRoutes } from '../routes/reports';
import { schedulesRoutes } from '../routes/schedules';
import { slotsRoutes } from '../routes/slots';
import { statsRoutes } from '../routes/stats';
import { tenantRoutes } from '../routes/tenant';
import { tenantErasureRoutes } from '../routes/tenant-erasure';
import { tenantsRoutes } from '../routes/tenants';
import { vendorPortalRoutes } from '../routes/vendor-portal';
import { webhooksRoutes } from '../routes/webhooks';
import { workflowsRoutes } from '../routes/workflows';
import { documentationRoutes } from './docs';
import type { RouteSpec } from './route-spec';

/**
 * Every route's spec, in the order the docs list their tags' first appearance. A route mounted in
 * api/app.ts without an entry here fails test/api/openapi.test.ts.
 */
export const allRouteSpecs: readonly RouteSpec[] = [
  ...healthRoutes,
  ...metricsRoutes,
  // The operator's surface: what runs, what is stuck, and the levers to fix it.
  ...statsRoutes,
  ...workflowsRoutes,
  ...deadLetterRoutes,
  ...flowsRoutes,
  ...schedulesRoutes,
  ...tenantRoutes,
  ...tenantsRoutes,
  ...tenantErasureRoutes,
  ...slotsRoutes,
  ...offersRoutes,
  ...partnersRoutes,
  ...ordersRoutes,
  ...vendorPortalRoutes,
  ...remindersRoutes,
  ...invitationsRoutes,
  ...eventsRoutes,
  ...notificationRulesRoutes,
  ...notificationsRoutes,
  ...notificationTemplatesRoutes,
  ...webhooksRoutes,
  ...reportsRoutes,
  ...reportSchedulesRoutes,
  ...exportsRoutes,
  ...downloadsRoutes,
  ...devOutboxRoutes,
  ...codecRoutes,
  ...documentationRoutes,
];
