import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { verifyDownloadToken, type DownloadKind } from '../../lib/download-links';
import type { FileStore } from '../../lib/file-store';
import type { PrismaClient } from '../../lib/db';
import { AppError } from '../errors';
import { readyExport } from './exports';
import { readyReport } from './reports';

/** A finished file as a download route serves it. */
export interface StoredFile {
  kind: DownloadKind;
  id: string;
  fileKey: string;
  contentType: string;
  /** The name the browser saves it under: made of IDs, types and dates only. */
  filename: string;
  sha256?: string | null;
}

/** The file's row says COMPLETED but the store has no file (removed by hand, or a store that lost it). */
const fileGone = (file: StoredFile) =>
  new AppError(410, 'FILE_GONE', `The ${file.kind} file is no longer stored`, { [`${file.kind}Id`]: file.id });

/**
 * Streams a finished file from the store as an attachment: Content-Type, Content-Length,
 * Content-Disposition and, when known, its SHA-256 as the ETag. The file is read in chunks, never
 * held in memory. A client that goes away mid-file ends the read.
 *
 * @throws AppError 410 FILE_GONE when the store has no such file.
 */
export async function sendStoredFile(res: Response, files: FileStore, file: StoredFile): Promise<void> {
  const opened = await files.open(file.fileKey);
  if (!opened) throw fileGone(file);
  res.status(200);
  res.set({
    'Content-Type': file.contentType,
    'Content-Length': String(opened.bytes),
    'Content-Disposition': `attachment; filename="${file.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    ...(file.sha256 ? { ETag: `"${file.sha256}"` } : {}),
  });
  try {
    await pipeline(opened.stream, res);
  } catch (error) {
    // Headers are gone: all that is left is to end the response; a client that left needs nothing.
    opened.stream.destroy();
    if (!res.destroyed) res.destroy(error as Error);
  }
}

export interface PublicDownloadDeps {
  prisma: PrismaClient;
  files: FileStore;
  /** config.files.downloadLinkSecret */
  secret: string;
}

/** A forged, malformed or truncated token: 404 like a file that does not exist, revealing nothing. */
const invalidLink = () => new AppError(404, 'NOT_FOUND', 'Download not found');

/**
 * The file a signed download link names, checked: a genuine, unexpired token whose row still
 * belongs to the token's tenant and is COMPLETED and unexpired.
 *
 * @throws 404 NOT_FOUND (forged, or the row is gone or another tenant's),
 *   410 DOWNLOAD_LINK_EXPIRED, 410 EXPORT_EXPIRED / REPORT_EXPIRED, 409 *_NOT_READY.
 */
export async function fileOfDownloadLink(
  { prisma, secret }: Omit<PublicDownloadDeps, 'files'>,
  token: string,
  now = new Date(),
): Promise<StoredFile> {
  const check = verifyDownloadToken(secret, token, now);
  if (!check.valid) {
    if (check.reason === 'expired') throw new AppError(410, 'DOWNLOAD_LINK_EXPIRED', 'This download link has expired');
    throw invalidLink();
  }
  const { kind, id, tenantId } = check.claims;
  try {
    if (kind === 'export') return exportFile(await readyExport(prisma, tenantId, id, now));
    return reportFile(await readyReport(prisma, tenantId, id, now));
  } catch (error) {
    if (error instanceof AppError && error.status === 404) throw invalidLink();
    throw error;
  }
}

/** The stored columns of a ready Report or Export row that say how its file is served. */
interface ReadyFileColumns {
  id: string;
  fileKey: string;
  format: string;
  contentType: string | null;
  sha256: string | null;
}

function storedFile(kind: DownloadKind, row: ReadyFileColumns, filename: string): StoredFile {
  return {
    kind,
    id: row.id,
    fileKey: row.fileKey,
    contentType: row.contentType ?? 'application/octet-stream',
    filename,
    sha256: row.sha256,
  };
}

/** How a report's file is served: named by its type and the first day of its period. */
export function reportFile(row: ReadyFileColumns & { type: string; periodStart: Date }): StoredFile {
  return storedFile('report', row, `${row.type}-${row.periodStart.toISOString().slice(0, 10)}.${row.format}`);
}

/** How an export's file is served: named by the day it was asked for and its ID. */
export function exportFile(row: ReadyFileColumns & { createdAt: Date }): StoredFile {
  return storedFile('export', row, `export-${row.createdAt.toISOString().slice(0, 10)}-${row.id}.${row.format}`);
}
