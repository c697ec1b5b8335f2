import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FileStoreConfig } from './config';
import { createS3FileStore } from './file-store-s3';

/**
 * Where reports and exports keep their files: a directory (the default, under the data
 * directory) or an S3-compatible bucket (lib/file-store-s3.ts), behind one interface. Keys are
 * paths made of IDs only (`{tenantId}/exports/{exportId}.csv`), never names a tenant supplied.
 *
 * Writers are resumable: a writer that lost its process can be replaced by one opened with the
 * last checkpoint it reported, which keeps exactly the bytes that checkpoint covered.
 */
export interface FileStore {
  /**
   * Starts writing `key` afresh, or resumes after `resumeFrom` (dropping whatever followed it).
   * `attempt` (the activity's attempt) keeps two attempts of one job from writing the same
   * unfinished data: one that lost its heartbeat may still be running when its retry starts.
   */
  openWriter(key: string, resumeFrom?: WriterCheckpoint, options?: { attempt?: number }): Promise<FileWriter>;
  /** The finished file, or null when there is none (never written, removed, or not finished). */
  open(key: string): Promise<{ stream: Readable; bytes: number } | null>;
  /** Removes the file and any unfinished upload of it; removing what is not there is not an error. */
  remove(key: string, unfinished?: WriterCheckpoint): Promise<void>;
}

export interface FileWriter {
  write(chunk: string | Buffer): Promise<void>;
  /**
   * Makes what was written so far durable and says where a new writer may resume, or returns
   * null when it cannot be made durable yet (an S3 part needs 5 MiB): keep the previous checkpoint.
   */
  checkpoint(): Promise<WriterCheckpoint | null>;
  /** Completes the file: it becomes readable with {@link FileStore.open}. */
  finish(): Promise<{ bytes: number; sha256: string }>;
  /** Gives up: nothing of this file remains. */
  abort(): Promise<void>;
  /**
   * What {@link FileStore.remove} needs to clean up this writer's leftovers, known from the moment
   * it opened (before any checkpoint): record it so a crash before the first checkpoint leaks nothing.
   */
  unfinished(): WriterCheckpoint;
  /** Stops writing and lets go of the file, keeping it for a later attempt to resume from its checkpoint. */
  release(): Promise<void>;
}

/** Everything a new writer needs to continue: JSON, so it travels in activity heartbeat details. */
export interface WriterCheckpoint {
  bytes: number;
  /** Store-specific state (an S3 multipart upload's ID and parts). */
  upload?: { uploadId: string; parts: { partNumber: number; etag: string }[] };
  /** A local writer's partial file (its name in the key's directory), which the bytes are in. */
  partial?: string;
}

/** Resolves `key` inside `root`, refusing anything that would leave it. */
function resolveInside(root: string, key: string): string {
  const file = path.resolve(root, key);
  if (!file.startsWith(path.resolve(root) + path.sep)) throw new Error(`file key outside the store: ${key}`);
  return file;
}

/** Whether `entry` is a partial file of `file`: `{name}.partial` or `{name}.{attempt}.partial`. */
function isPartialOf(file: string, entry: string): boolean {
  const name = path.basename(file);
  if (!entry.startsWith(`${name}.`) || !entry.endsWith('.partial')) return false;
  const attempt = entry.slice(name.length + 1, -'.partial'.length);
  return attempt === '' || /^\d+$/.test(attempt);
}

/**
 * Files in a directory. A file is written as `{key}.{attempt}.partial` (`{key}.partial` without an
 * attempt) and renamed when finished, so a reader never sees half a file and two attempts never
 * write the same partial file; a checkpoint is an fsync, the byte count and the partial file's
 * name. Resuming copies the bytes the checkpoint covers into the new attempt's partial file (the
 * old attempt's file is left to it and to `remove`).
 */
export function createLocalFileStore(root: string): FileStore {
  return {
    async openWriter(key, resumeFrom, options) {
      const file = resolveInside(root, key);
      const partialName = `${path.basename(file)}${options?.attempt ? `.${options.attempt}` : ''}.partial`;
      const partial = path.join(path.dirname(file), partialName);
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const resumedName = resumeFrom?.partial ?? `${path.basename(file)}.partial`;
      if (resumeFrom && resumedName !== partialName) {
        if (!isPartialOf(file, resumedName)) throw new Error(`cannot resume ${key}: the checkpoint names another file`);
        await fs.promises
          .copyFile(path.join(path.dirname(file), resumedName), partial)
          .catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') throw new Error(`cannot resume ${key}: its partial file is gone`);
            throw error;
          });
      }
      const handle = await fs.promises.open(partial, resumeFrom ? 'r+' : 'w').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && resumeFrom) throw new Error(`cannot resume ${key}: its partial file is gone`);
        throw error;
      });
      let bytes = resumeFrom?.bytes ?? 0;
      if (resumeFrom) {
        const { size } = await handle.stat();
        if (size < bytes) {
          await handle.close();
          throw new Error(`cannot resume ${key}: the partial file has ${size} bytes, the checkpoint ${bytes}`);
        }
        await handle.truncate(bytes);
      }
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      };
      return {
        async write(chunk) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          let offset = 0;
          while (offset < buffer.length) {
            const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, bytes);
            offset += bytesWritten;
            bytes += bytesWritten;
          }
        },
        async checkpoint() {
          await handle.datasync();
          return { bytes, partial: partialName };
        },
        async finish() {
          await handle.datasync();
          await close();
          await fs.promises.rename(partial, file);
          return { bytes, sha256: await sha256Of(fs.createReadStream(file)) };
        },
        async abort() {
          await close();
          await fs.promises.rm(partial, { force: true });
        },
        unfinished() {
          return { bytes: 0, partial: partialName };
        },
        release: close,
      };
    },
    async open(key) {
      const file = resolveInside(root, key);
      try {
        const { size } = await fs.promises.stat(file);
        return { stream: fs.createReadStream(file), bytes: size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
    async remove(key) {
      const file = resolveInside(root, key);
      const entries = await fs.promises.readdir(path.dirname(file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw error;
      });
      const partials = entries.filter((entry) => isPartialOf(file, entry));
      await Promise.all(
        [file, ...partials.map((entry) => path.join(path.dirname(file), entry))].map((target) =>
          fs.promises.rm(target, { force: true }),
        ),
      );
    },
  };
}

/** SHA-256 (hex) of a stream, read in chunks. */
export async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The store configuration names (FILE_STORE). */
export function createFileStore(config: FileStoreConfig): FileStore {
  if (config.kind === 'local') return createLocalFileStore(config.dir);
  return createS3FileStore(config);
}
