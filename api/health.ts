import type { RouteSpec } from './openapi/route-spec';
import { Router } from 'express';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../lib/db';

export interface ReadinessProbe {
  name: string;
  check(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function temporalProbe(client: Client): ReadinessProbe {
  return {
    name: 'temporal',
    check: async () => {
      await client.workflowService.getSystemInfo({});
    },
  };
}

export function databaseProbe(prisma: PrismaClient): ReadinessProbe {
  return {
    name: 'database',
    check: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
  };
}

/** `/healthz`: the process is alive. `/readyz`: every dependency answers, else 503 with the reasons. */
export function createHealthRouter(probes: ReadinessProbe[]): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), PROBE_TIMEOUT_MS);
          return { name: probe.name, ok: true as const };
        } catch (error) {
          return { name: probe.name, ok: false as const, reason: (error as Error).message };
        }
      }),
    );
    const failing = results.filter((result) => !result.ok);
    if (failing.length === 0) {
      res.json({ status: 'ready', checks: Object.fromEntries(results.map((r) => [r.name, 'ok'])) });
      return;
    }
    res.status(503).json({
      error: {
        code: 'NOT_READY',
        message: `Not ready: ${failing.map((f) => f.name).join(', ')} unreachable`,
        details: Object.fromEntries(failing.map((f) => [f.name, f.reason])),
      },
    });
  });
  return router;
}

const readyAnswer = z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.literal('ok')) });

export const healthRoutes: RouteSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'The process is alive',
    tag: 'Health',
    auth: 'none',
    responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    summary: 'Temporal and PostgreSQL answer',
    description: `Each dependency is probed with a ${PROBE_TIMEOUT_MS} ms timeout.`,
    tag: 'Health',
    auth: 'none',
    responses: {
      200: { description: 'Every dependency answers', schema: readyAnswer },
      503: { description: 'NOT_READY: the dependencies that do not answer, with the reasons in details' },
    },
  },
];
