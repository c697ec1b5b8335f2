import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config';
import { createFileStore, type FileStore } from '../lib/file-store';
import type { PrismaClient } from '../lib/db';
import type { Logger } from '../lib/logger';
import type { EncryptionCodec } from '../lib/data-converter';
import { createConfiguredCodec } from '../lib/payload-key-scopes';
import {
  authenticate,
  createTenantStatusCache,
  createTokenVerifier,
  type TenantStatusCache,
  type VerifyToken,
} from './auth';
import { createConsoleRouter } from './console/router';
import { CODEC_PATH } from './console/session';
import { errorMiddleware, notFoundRoute } from './errors';
import { createHealthRouter, databaseProbe, temporalProbe, type ReadinessProbe } from './health';
import { createLandingRouter } from './landing';
import { apiProcessMetrics, createMetricsRouter, httpMetricsMiddleware, type ApiMetrics } from './metrics';
import { createApiDocsRouter } from './openapi/docs';
import { allRouteSpecs } from './openapi/routes';
import { privateResponse, securityHeaders } from './pages';
import { createRateLimits, PUBLIC_TOKEN_PATHS } from './rate-limits';
import { requestLogging } from './request-log';
import type { WorkflowRouterDeps } from './router-deps';
import { CODEC_BODY_LIMIT, createCodecRouter } from './routes/codec';
import { createDeadLetterRouter } from './routes/dead-letter';
import { createDevOutboxRouter } from './routes/dev-outbox';
import { createDownloadsRouter } from './routes/downloads';
import { createEventsRouter } from './routes/events';
import { createExportsRouter } from './routes/exports';
import { createFlowsRouter } from './routes/flows';
import { createInvitationsRouter } from './routes/invitations';
import { createNotificationRulesRouter } from './routes/notification-rules';
import { createNotificationTemplatesRouter } from './routes/notification-templates';
import { createNotificationsRouter } from './routes/notifications';
import { createOffersRouter } from './routes/offers';
import { createOrdersRouter } from './routes/orders';
import { createPartnersRouter } from './routes/partners';
import { createRemindersRouter } from './routes/reminders';
import { createReportSchedulesRouter } from './routes/report-schedules';
import { createReportsRouter } from './routes/reports';
import { createSchedulesRouter } from './routes/schedules';
import { createSlotsRouter } from './routes/slots';
import { createStatsRouter } from './routes/stats';
import { createTenantRouter } from './routes/tenant';
import { createTenantErasureRouter } from './routes/tenant-erasure';
import { createTenantsRouter } from './routes/tenants';
import { createVendorPortalRouter } from './routes/vendor-portal';
import { createWebhooksRouter } from './routes/webhooks';
import { createWorkflowsRouter } from './routes/workflows';
import type { DownloadLinkSettings } from './services/file-jobs';
import { createRefreshGate } from './services/operations/dead-letter';
import { createStatsCache } from './services/operations/stats';

export interface AppDeps {
  config: Config;
  logger: Logger;
  prisma: PrismaClient;
  temporal: Client;
  /**
   * The payload codec the codec server and tenant erasure use; pass the one in `temporal`'s data
   * converter. Defaults to a new one built from `config.payloads`.
   */
  codec?: EncryptionCodec;
  /** Defaults to the verifier built from `config.auth`. */
  verifyToken?: VerifyToken;
  /** Defaults to a cache that trusts an ACTIVE answer for TENANT_STATUS_TTL_MS. */
  tenantStatus?: TenantStatusCache;
  /** Defaults to Temporal and the database. */
  readinessProbes?: ReadinessProbe[];
  /** Where report and export files are read from; defaults to the configured store (config.files.store). */
  files?: FileStore;
  /** Where GET /metrics reads from and requests are timed; defaults to the process's own registry. */
  metrics?: ApiMetrics;
}

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, prisma, temporal } = deps;
  const verifyToken = deps.verifyToken ?? createTokenVerifier(config.auth);
  const tenantStatus = deps.tenantStatus ?? createTenantStatusCache(prisma);
  const codec = deps.codec ?? createConfiguredCodec(config.payloads, prisma);
  const app = express();
  app.disable('x-powered-by');
  // Which peers may name the client in X-Forwarded-For: the per-IP rate limits count req.ip.
  app.set('trust proxy', config.api.trustProxy);

  const metrics = deps.metrics ?? apiProcessMetrics();
  // First, so a request's time includes everything the API does with it.
  app.use(httpMetricsMiddleware(metrics, app));
  app.use(requestLogging(logger));
  app.use(securityHeaders(config.api.publicBaseUrl));
  // The codec server takes what Temporal stores, up to its own payload limit, not what API clients send.
  app.use(CODEC_PATH, express.json({ limit: CODEC_BODY_LIMIT }));
  app.use(express.json({ limit: config.api.bodyLimit }));

  app.use(createHealthRouter(deps.readinessProbes ?? [temporalProbe(temporal), databaseProbe(prisma)]));
  // Open unless METRICS_TOKEN is set: scraped by Prometheus, on a private network.
  if (config.env === 'production' && config.operations.metricsToken === undefined) {
    logger.warn('METRICS_TOKEN is unset: GET /metrics is open to anyone who can reach the API (docs/metrics.md)');
  }
  app.use(createMetricsRouter({ metrics, token: config.operations.metricsToken }));
  app.use(createLandingRouter({ temporalUiUrl: config.temporal.uiUrl, temporalNamespace: config.temporal.namespace }));
  // The OpenAPI document and Swagger UI: open, like the health endpoints; the API they describe is not.
  app.use(createApiDocsRouter({ routes: allRouteSpecs, publicBaseUrl: config.api.publicBaseUrl }));

  const rateLimits = createRateLimits({ settings: config.rateLimits, logger, prisma });
  // Tokens in links are the public endpoints' only credential: limit guessing per IP and per token.
  app.use(PUBLIC_TOKEN_PATHS, ...rateLimits.publicTokens);
  // A download link carries its token in the path: limited per IP like the other token endpoints.
  app.use('/api/v1/downloads', ...rateLimits.publicTokens);
  // Link tokens, and the names, emails and phones of customers, vendors and invitees in every API answer:
  // kept out of shared caches, the browser's history cache and Referer headers.
  app.use('/api/v1', privateResponse);
  // The candidate's endpoint is authenticated by its signed offer token, not a JWT.
  app.use('/api/v1', createOffersRouter({ prisma, temporal, offerTokenSecret: config.offerTokenSecret }));
  // The invited user's endpoint is authenticated by the token in the welcome email.
  app.use('/api/v1', createInvitationsRouter({ prisma }));
  // Vendors answer order offers and report fulfilment with the signed token in the offer's links.
  app.use('/api/v1', createVendorPortalRouter({ prisma, temporal, offerTokenSecret: config.offerTokenSecret }));
  const files = deps.files ?? createFileStore(config.files.store);
  // Report and export files by signed, short-lived link: the link is the credential.
  app.use('/api/v1', createDownloadsRouter({ prisma, files, secret: config.files.downloadLinkSecret }));

  const v1 = express.Router();
  v1.use(rateLimits.authFailures(authenticate(verifyToken, tenantStatus)));
  v1.use(rateLimits.tenantWrites);
  // Every router that starts workflows gets the same deps, so FAIRNESS_WEIGHTS weighs every start.
  const workflows: WorkflowRouterDeps = {
    prisma,
    temporal,
    taskQueue: config.temporal.taskQueue,
    fairnessWeights: config.worker.fairnessWeights,
  };
  const downloadLinks: DownloadLinkSettings = {
    secret: config.files.downloadLinkSecret,
    ttlMs: config.files.downloadLinkTtlMs,
    publicBaseUrl: config.api.publicBaseUrl,
  };
  v1.use(createTenantRouter({ prisma }));
  v1.use(createSlotsRouter(workflows));
  v1.use(createTenantsRouter({ ...workflows, tenantStatus }));
  v1.use(createTenantErasureRouter({ prisma, temporal, codec }));
  v1.use(createPartnersRouter({ prisma }));
  v1.use(createOrdersRouter(workflows));
  v1.use(createRemindersRouter(workflows));
  v1.use(createWebhooksRouter({ ...workflows, webhooks: config.webhooks }));
  v1.use(createEventsRouter(workflows));
  v1.use(createNotificationRulesRouter({ prisma }));
  v1.use(createNotificationsRouter(workflows));
  v1.use(createNotificationTemplatesRouter({ prisma }));
  v1.use(createReportsRouter({ ...workflows, files, downloadLinks }));
  v1.use(createReportSchedulesRouter(workflows));
  v1.use(createExportsRouter({ ...workflows, files, downloadLinks }));
  v1.use(createFlowsRouter(workflows));
  v1.use(createSchedulesRouter({ ...workflows, logger }));
  // The operations API (docs/operations.md): one stats cache and one dead-letter refresh window per process.
  const operations = {
    ...workflows,
    logger,
    uiUrl: config.temporal.uiUrl,
    // Page tokens are signed with a label of their own, so the secret signs nothing an offer link could use.
    pageTokenSecret: config.offerTokenSecret,
    deadLetterActivityAttempts: config.operations.deadLetterActivityAttempts,
    refreshGate: createRefreshGate(config.operations.statsTtlMs),
  };
  const statsCache = createStatsCache(config.operations.statsTtlMs);
  v1.use(createWorkflowsRouter(operations));
  v1.use(createStatsRouter({ ...operations, statsCache }));
  v1.use(createDeadLetterRouter(operations));
  if (config.env === 'development' && config.devOutboxFile) {
    v1.use(createDevOutboxRouter({ outboxFile: config.devOutboxFile, prisma }));
  }
  app.use('/api/v1', v1);

  // The codec server (docs/encryption.md): the Temporal Web UI and CLI decode histories through it, at the
  // root and not under /api/v1, with the API's tokens or the console's codec cookie.
  app.use(
    createCodecRouter({
      codec,
      logger,
      namespace: config.temporal.namespace,
      corsOrigins: config.payloads.codecCorsOrigins,
      verifyToken,
      tenantStatus,
      limitAuthFailures: rateLimits.authFailures,
    }),
  );

  // The tenant console (docs/console.md): HTML pages over the same services, signed in with the API's tokens.
  app.use(
    '/console',
    createConsoleRouter({
      config,
      logger,
      prisma,
      temporal,
      verifyToken,
      tenantStatus,
      limitAuthFailures: rateLimits.authFailures,
      limitTenantWrites: rateLimits.tenantWrites,
      // The API's own caches: the console and the API show the same numbers.
      operations: { ...operations, statsCache },
    }),
  );

  app.use(notFoundRoute);
  app.use(errorMiddleware(logger));
  return app;
}
