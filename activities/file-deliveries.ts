import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../lib/db';
import { issueDownloadLink, type DownloadKind } from '../lib/download-links';
import { FailureType } from '../workflows/errors';
import type { FileJobSettings } from './index';
import { publishEvent } from './event-publishing';
import { enqueueNotification, IdempotencyConflict } from './notification-requests';

/**
 * Telling a tenant that a report or an export is ready, shared by both flows: an
 * `export.completed` / `report.completed` event (the tenant's notification rules and webhooks see
 * it) and, when the request named `notifyEmail`, an email with a signed download link.
 *
 * The event carries no download token: events go to webhooks and rules, and a link is a bearer
 * credential. Only the email carries one, and it lives only in the notification's row.
 */

/** The events and email templates of a finished file, by kind. */
export const FILE_READY = {
  export: { event: 'export.completed', template: 'export.ready' },
  report: { event: 'report.completed', template: 'report.ready' },
} as const satisfies Record<DownloadKind, { event: string; template: string }>;

export interface FileDeliveryDeps {
  prisma: PrismaClient;
  temporal?: { client: Client; taskQueue: string };
  fileJobs?: FileJobSettings;
  publicBaseUrl: string;
  now?: () => Date;
}

export interface FileReadyInput {
  kind: DownloadKind;
  tenantId: string;
  /** The Report or Export row. */
  id: string;
}

export interface FileReadyAnnouncement {
  /** The event's row, or null when the file is not (or no longer) COMPLETED. */
  eventId: string | null;
  /** The email's notification, or null without `notifyEmail` or when nothing was announced. */
  notificationId: string | null;
}

/** What a finished row says about its file, whatever its kind. */
interface FinishedFile {
  status: string;
  format: string;
  notifyEmail: string | null;
  rows: number;
  bytes: number;
  completedAt: Date | null;
  expiresAt: Date | null;
  /** Kind-specific facts for the event and the email (an export's entities, a report's type and period). */
  facts: Record<string, unknown>;
}

/** The columns a Report and an Export row share about their file. */
interface FileJobColumns {
  status: string;
  format: string;
  notifyEmail: string | null;
  rowsDone: number;
  fileBytes: bigint | null;
  completedAt: Date | null;
  expiresAt: Date | null;
}

function finishedFile(row: FileJobColumns, facts: FinishedFile['facts']): FinishedFile {
  return {
    status: row.status,
    format: row.format,
    notifyEmail: row.notifyEmail,
    rows: row.rowsDone,
    bytes: Number(row.fileBytes ?? 0n),
    completedAt: row.completedAt,
    expiresAt: row.expiresAt,
    facts,
  };
}

async function readFinishedFile(prisma: PrismaClient, input: FileReadyInput): Promise<FinishedFile | null> {
  const where = { id: input.id, tenantId: input.tenantId };
  if (input.kind === 'export') {
    const row = await prisma.export.findFirst({ where });
    return row && finishedFile(row, { entities: row.entities });
  }
  const row = await prisma.report.findFirst({ where });
  return (
    row &&
    finishedFile(row, {
      type: row.type,
      periodStart: row.periodStart.toISOString(),
      periodEnd: row.periodEnd.toISOString(),
    })
  );
}

/**
 * Publishes the file's `*.completed` event and enqueues its `*-ready` email, reading the row
 * itself (call it after the row is COMPLETED). Idempotent: the event's key is `{kind}.completed:{id}`
 * and the email's `{kind}.ready:{id}`, and the link in the email is derived from the row's
 * completion time, so a retry asks for exactly the same message. A row that is no longer
 * COMPLETED (cancelled, or its file already expired) is not announced.
 *
 * @throws ApplicationFailure NotFound (non-retryable) when the row is not the tenant's or is gone;
 *   ChannelNotConfigured when the worker has no Temporal client or file-job settings.
 */
export async function announceFileReady(deps: FileDeliveryDeps, input: FileReadyInput): Promise<FileReadyAnnouncement> {
  const { prisma, temporal, fileJobs } = deps;
  if (!temporal || !fileJobs) {
    throw ApplicationFailure.nonRetryable(
      'Events and notifications are not configured for file jobs',
      FailureType.ChannelNotConfigured,
    );
  }
  const file = await readFinishedFile(prisma, input);
  if (!file) {
    throw ApplicationFailure.nonRetryable(`${input.kind} ${input.id} of the tenant is gone`, FailureType.NotFound);
  }
  if (file.status !== 'COMPLETED') return { eventId: null, notificationId: null };

  const names = FILE_READY[input.kind];
  const { eventId } = await publishEvent(
    { prisma, temporal },
    {
      tenantId: input.tenantId,
      key: `${names.event}:${input.id}`,
      type: names.event,
      subject: { type: input.kind, id: input.id },
      data: { id: input.id, kind: input.kind, format: file.format, bytes: file.bytes, rows: file.rows, ...file.facts },
      source: 'FLOW',
    },
  );
  if (!file.notifyEmail) return { eventId, notificationId: null };

  const tenant = await prisma.tenant.findUnique({ where: { id: input.tenantId }, select: { name: true } });
  // From the completion time, not the clock: a retry must rebuild the same link and so the same request.
  const link = issueDownloadLink(
    { secret: fileJobs.downloadLinkSecret, ttlMs: fileJobs.downloadLinkTtlMs, publicBaseUrl: deps.publicBaseUrl },
    { kind: input.kind, id: input.id, tenantId: input.tenantId, fileExpiresAt: file.expiresAt },
    file.completedAt ?? new Date(0),
  );
  try {
    const { notificationId } = await enqueueNotification(
      { prisma, temporal, ...(deps.now ? { now: deps.now } : {}) },
      {
        tenantId: input.tenantId,
        source: 'FLOW',
        key: `${input.kind}.ready:${input.id}`,
        channel: 'EMAIL',
        to: file.notifyEmail,
        template: names.template,
        data: {
          tenantName: tenant?.name ?? '',
          id: input.id,
          format: file.format,
          rows: file.rows,
          bytes: file.bytes,
          ...file.facts,
          downloadUrl: link.url,
          linkExpiresAt: link.expiresAt.toISOString(),
          fileExpiresAt: file.expiresAt?.toISOString() ?? null,
        },
      },
    );
    return { eventId, notificationId };
  } catch (error) {
    // The key names the one email of this file: an earlier request under it already told the recipient.
    if (error instanceof IdempotencyConflict) return { eventId, notificationId: error.notificationId };
    throw error;
  }
}

/**
 * The activity both flows call when their file is ready: `announceFileReady({ kind, tenantId, id })`
 * on the interactive queue, with the notify retry profile.
 */
export function createFileDeliveryActivities(deps: FileDeliveryDeps) {
  return {
    /** See {@link announceFileReady}. */
    async announceFileReady(input: FileReadyInput): Promise<FileReadyAnnouncement> {
      return announceFileReady(deps, input);
    },
  };
}
