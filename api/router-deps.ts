import type { Client } from '@temporalio/client';
import type { FairnessWeights } from '../domain/tenant-fairness';
import type { PrismaClient } from '../lib/db';

/** What a router whose routes start, signal, update or query workflows needs. */
export interface WorkflowRouterDeps {
  prisma: PrismaClient;
  temporal: Client;
  /** The task queue the routes start workflows on (config.temporal.taskQueue). */
  taskQueue: string;
  /** Each plan's weight on shared task queues (FAIRNESS_WEIGHTS, config.worker.fairnessWeights). */
  fairnessWeights: FairnessWeights;
}
