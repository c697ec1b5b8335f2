import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FileJobStatus } from '../../generated/prisma/enums';
import { isUniqueViolation, type PrismaClient } from '../../lib/db';
import { issueDownloadLink, type DownloadKind } from '../../lib/download-links';
import { AppError, conflict } from '../errors';

/**
 * What reports and exports share once requested: a row that waits, runs and ends with a file kept
 * for a while. How such a row is shown, cancelled, served and linked to is the same for both; only
 * the kind (`report`, `export`) in paths, error codes and messages differs.
 */

/** The columns of a Report or Export row that describe its run and its file. */
export interface FileJobRow {
  id: string;
  tenantId: string;
  status: FileJobStatus;
  workflowId: string;
  fileKey: string | null;
  fileBytes: bigint | null;
  contentType: string | null;
  sha256: string | null;
  expiresAt: Date | null;
}

/** Signed download links (config.files, config.api.publicBaseUrl). */
export interface DownloadLinkSettings {
  secret: string;
  ttlMs: number;
  publicBaseUrl: string;
}

/**
 * The row an Idempotency-Key stands for: the one a request with the key made, or a new one from
 * `insert` (which checks the new request first). A concurrent request with the same key that
 * wins the insert is answered with its row.
 *
 * @throws 422 IDEMPOTENCY_KEY_REUSED for a known key with another body (another request hash).
 */
export async function rowForIdempotencyKey<Row extends { id: string; requestHash: string | null }>(
  kind: DownloadKind,
  requestHash: string,
  findByKey: () => Promise<Row | null>,
  insert: () => Promise<Row>,
): Promise<{ row: Row; created: boolean }> {
  const findKnown = async () => {
    const known = await findByKey();
    if (known && known.requestHash !== requestHash) {
      throw new AppError(
        422,
        'IDEMPOTENCY_KEY_REUSED',
        `This Idempotency-Key was used for a different ${kind} request`,
        { [`${kind}Id`]: known.id },
      );
    }
    return known;
  };
  const known = await findKnown();
  if (known) return { row: known, created: false };
  try {
    return { row: await insert(), created: true };
  } catch (error) {
    // A concurrent request with the same key won the insert: answer its row.
    if (!isUniqueViolation(error)) throw error;
    const winner = await findKnown();
    if (!winner) throw error;
    return { row: winner, created: false };
  }
}

/** Starts a row's workflow, or joins the one running; a run that has already closed is left as it ended. */
export async function startOrJoin(start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** Whether the row's file has passed its retention (the cleanup may not have removed it yet). */
export function isExpired(row: FileJobRow, now: Date): boolean {
  return row.status === 'EXPIRED' || (row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime());
}

/** The status the API shows: a completed row whose file passed its retention is EXPIRED already. */
export function shownStatus(row: FileJobRow, now: Date): FileJobStatus {
  return isExpired(row, now) && row.status === 'COMPLETED' ? 'EXPIRED' : row.status;
}

/** The row's file as the API shows it, with the path that downloads it while it is kept; null before it is written. */
export function presentFile(kind: DownloadKind, row: FileJobRow, now: Date) {
  if (row.status !== 'COMPLETED' || row.fileBytes === null) return null;
  return {
    bytes: Number(row.fileBytes),
    contentType: row.contentType,
    sha256: row.sha256,
    expiresAt: row.expiresAt,
    download: isExpired(row, now) ? null : `/api/v1/${kind}s/${row.id}/download`,
  };
}

/**
 * Asks the row's workflow to stop; the workflow removes the partial file and marks the row
 * CANCELLED. A row whose workflow no longer exists (terminated, or its history deleted) has
 * nobody left to settle it, so it is marked CANCELLED here; the daily cleanup removes any partial
 * file it left. A cancelled row is answered as it is; `reload` reads the row again after asking.
 *
 * @throws 409 REPORT_FINISHED / EXPORT_FINISHED for a row that completed, failed or expired.
 */
export async function cancelFileJob<Row extends FileJobRow, Shown extends object>(
  { temporal, prisma }: { temporal: Client; prisma: PrismaClient },
  kind: DownloadKind,
  row: Row,
  reload: () => Promise<Row>,
  present: (row: Row) => Shown,
) {
  if (row.status === 'CANCELLED') return { ...present(row), cancelRequested: false };
  if (row.status !== 'QUEUED' && row.status !== 'RUNNING') {
    throw conflict(
      `${kind.toUpperCase()}_FINISHED`,
      `The ${kind} is ${row.status.toLowerCase()} and can no longer be cancelled`,
      { [`${kind}Id`]: row.id, status: row.status },
    );
  }
  try {
    await temporal.workflow.getHandle(row.workflowId).cancel();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    const unsettled = { id: row.id, tenantId: row.tenantId, status: { in: ['QUEUED', 'RUNNING'] as FileJobStatus[] } };
    const cancelled = { status: 'CANCELLED' as const, completedAt: new Date() };
    if (kind === 'report') await prisma.report.updateMany({ where: unsettled, data: cancelled });
    else await prisma.export.updateMany({ where: unsettled, data: cancelled });
  }
  return { ...present(await reload()), cancelRequested: true };
}

/**
 * The row, checked ready to be read: completed, with its file, and within its retention.
 *
 * @throws 410 REPORT_EXPIRED / EXPORT_EXPIRED after its retention, 409 REPORT_NOT_READY /
 *   EXPORT_NOT_READY before it completed (or when it failed or was cancelled).
 */
export function checkFileReady<Row extends FileJobRow>(kind: DownloadKind, row: Row, now: Date) {
  const KIND = kind.toUpperCase();
  if (isExpired(row, now)) {
    throw new AppError(410, `${KIND}_EXPIRED`, `The ${kind} file has expired`, { [`${kind}Id`]: row.id });
  }
  if (row.status !== 'COMPLETED' || !row.fileKey) {
    throw conflict(`${KIND}_NOT_READY`, `The ${kind} is ${row.status.toLowerCase()}, not completed`, {
      [`${kind}Id`]: row.id,
      status: row.status,
    });
  }
  return row as Row & { fileKey: string };
}

/** A short-lived signed link to a ready row's file; it never outlives the file. */
export function fileLink(settings: DownloadLinkSettings, kind: DownloadKind, row: FileJobRow, now: Date) {
  const link = issueDownloadLink(
    settings,
    { kind, id: row.id, tenantId: row.tenantId, fileExpiresAt: row.expiresAt },
    now,
  );
  return { url: link.url, expiresAt: link.expiresAt.toISOString() };
}
