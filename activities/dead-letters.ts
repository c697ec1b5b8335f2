import { heartbeat } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { sweepDeadLetters, type DeadLetterSweepCounts } from '../api/services/operations/dead-letter';
import type { PrismaClient } from '../lib/db';

export interface RecordDeadLettersInput {
  /** Runs that closed before this (ISO) were recorded by an earlier cleanup. */
  closedSince: string;
}

/**
 * The daily cleanup's record of every tenant's dead letters: the inbox's own sweep
 * (api/services/operations/dead-letter.ts), so a failure becomes a DeadLetter row, and outlives
 * Temporal's retention, even when nobody opens the inbox in time. It heartbeats its running counts
 * after each page; a retry starts over, and finds the rows it recorded already as seen again.
 */
export function createDeadLetterActivities({
  prisma,
  temporal,
}: {
  prisma: PrismaClient;
  temporal?: { client: Client };
}) {
  return {
    async recordDeadLetters({ closedSince }: RecordDeadLettersInput): Promise<DeadLetterSweepCounts> {
      if (!temporal) {
        throw ApplicationFailure.nonRetryable('No Temporal client to read failed runs with', 'NotConfigured');
      }
      return sweepDeadLetters({ prisma, temporal: temporal.client }, new Date(closedSince), (counts) =>
        heartbeat(counts),
      );
    },
  };
}
