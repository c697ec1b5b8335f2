import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config';
import type { PrismaClient } from '../lib/db';
import type { Logger } from '../lib/logger';
import { authenticate, createTokenVerifier, type VerifyToken } from './auth';
import { errorMiddleware, notFoundRoute } from './errors';
import { createHealthRouter, databaseProbe, temporalProbe, type ReadinessProbe } from './health';
import { createDevOutboxRouter } from './routes/dev-outbox';
import { createInvitationsRouter } from './routes/invitations';
import { createOffersRouter } from './routes/offers';
import { createOrdersRouter } from './routes/orders';
import { createPartnersRouter } from './routes/partners';
import { createSlotsRouter } from './routes/slots';
import { createTenantRouter } from './routes/tenant';
import { createTenantsRouter } from './routes/tenants';
import { createVendorPortalRouter } from './routes/vendor-portal';

export interface AppDeps {
  config: Config;
  logger: Logger;
  prisma: PrismaClient;
  temporal: Client;
  /** Defaults to the verifier built from `config.auth`. */
  verifyToken?: VerifyToken;
  /** Defaults to Temporal and the database. */
  readinessProbes?: ReadinessProbe[];
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, prisma, temporal } = deps;
  const verifyToken = deps.verifyToken ?? createTokenVerifier(config.auth);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );
  app.use(helmet());
  app.use(express.json({ limit: config.api.bodyLimit }));

  app.use(createHealthRouter(deps.readinessProbes ?? [temporalProbe(temporal), databaseProbe(prisma)]));

  // The candidate's endpoint is authenticated by its signed offer token, not a JWT.
  app.use('/api/v1', createOffersRouter({ prisma, temporal, offerTokenSecret: config.offerTokenSecret }));
  // The invited user's endpoint is authenticated by the token in the welcome email.
  app.use('/api/v1', createInvitationsRouter({ prisma }));
  // Vendors answer order offers and report fulfilment with the signed token in the offer's links.
  app.use('/api/v1', createVendorPortalRouter({ prisma, temporal, offerTokenSecret: config.offerTokenSecret }));

  const v1 = express.Router();
  v1.use(authenticate(verifyToken));
  v1.use(createTenantRouter({ prisma }));
  v1.use(createSlotsRouter({ prisma, temporal, taskQueue: config.temporal.taskQueue }));
  v1.use(createTenantsRouter({ prisma, temporal, taskQueue: config.temporal.taskQueue }));
  v1.use(createPartnersRouter({ prisma }));
  v1.use(createOrdersRouter({ prisma, temporal, taskQueue: config.temporal.taskQueue }));
  if (config.env === 'development' && config.devOutboxFile) {
    v1.use(createDevOutboxRouter({ outboxFile: config.devOutboxFile }));
  }
  app.use('/api/v1', v1);

  app.use(notFoundRoute);
  app.use(errorMiddleware(logger));
  return app;
}
