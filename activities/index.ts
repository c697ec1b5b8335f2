import type { PrismaClient } from '../lib/db';
import { createCleanupActivities } from './cleanup';

/** Everything activities may touch, built once by the worker's composition root. */
export interface ActivityDeps {
  prisma: PrismaClient;
}

/** All activities the worker registers; workflows import this type only, never the values. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCleanupActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
