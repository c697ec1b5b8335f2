import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { FileStoreConfig } from './config';
import type { FileStore, WriterCheckpoint } from './file-store';

/** S3's smallest part but the last: a checkpoint can only cover bytes sent in parts this large. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface S3FileStoreOptions {
  /** Bytes buffered before a part is sent (at least {@link MIN_PART_BYTES}); memory per writer stays near it. */
  partBytes?: number;
  /** A client of the caller's (tests); built from the configuration otherwise. */
  client?: S3Client;
}

type S3Config = Extract<FileStoreConfig, { kind: 's3' }>;

/** An S3 client for the configured bucket: any S3-compatible endpoint, path-style when asked. */
export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  });
}

const isMissing = (error: unknown) => {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || $metadata?.httpStatusCode === 404;
};

/**
 * Files in an S3-compatible bucket, written as multipart uploads. A writer buffers what it is
 * given and sends a part once the buffer holds `partBytes`; a checkpoint is the upload's ID and
 * the parts sent so far, and it exists only once everything written is in parts (S3 parts but the
 * last must be 5 MiB or more, so a checkpoint can cover no less). A resumed writer continues the
 * same upload after the checkpoint's parts: parts a lost writer sent after its last checkpoint are
 * overwritten by number or left out of the completed object. `finish` completes the upload and
 * reads the object back once for its SHA-256 (the running hash of a resumed writer is gone).
 * Each attempt continues the upload its checkpoint names, so attempts need no names of their own.
 */
export function createS3FileStore(config: S3Config, options: S3FileStoreOptions = {}): FileStore {
  const client = options.client ?? createS3Client(config);
  const Bucket = config.bucket;
  const partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? MIN_PART_BYTES);

  const abortUpload = async (Key: string, UploadId: string) => {
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  };

  return {
    async openWriter(Key, resumeFrom) {
      let uploadId: string;
      let parts: { partNumber: number; etag: string }[];
      let durableBytes: number;
      if (resumeFrom) {
        if (!resumeFrom.upload) {
          if (resumeFrom.bytes > 0) throw new Error(`cannot resume ${Key}: the checkpoint names no upload`);
          const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
          uploadId = created.UploadId!;
          parts = [];
        } else {
          uploadId = resumeFrom.upload.uploadId;
          parts = [...resumeFrom.upload.parts];
          // The upload must still be there: an aborted or expired one cannot be continued.
          try {
            await client.send(new ListPartsCommand({ Bucket, Key, UploadId: uploadId, MaxParts: 1 }));
          } catch (error) {
            if (isMissing(error)) throw new Error(`cannot resume ${Key}: its upload is gone`);
            throw error;
          }
        }
        durableBytes = resumeFrom.bytes;
      } else {
        const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
        uploadId = created.UploadId!;
        parts = [];
        durableBytes = 0;
      }

      let buffered: Buffer[] = [];
      let bufferedBytes = 0;
      const sendPart = async () => {
        const body = Buffer.concat(buffered, bufferedBytes);
        const PartNumber = parts.length + 1;
        const sent = await client.send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId: uploadId,
            PartNumber,
            Body: body,
            ContentLength: body.length,
          }),
        );
        parts.push({ partNumber: PartNumber, etag: sent.ETag! });
        durableBytes += body.length;
        buffered = [];
        bufferedBytes = 0;
      };
      const checkpointNow = (): WriterCheckpoint => ({
        bytes: durableBytes,
        upload: { uploadId, parts: parts.map((part) => ({ ...part })) },
      });

      return {
        async write(chunk) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          buffered.push(buffer);
          bufferedBytes += buffer.length;
          if (bufferedBytes >= partBytes) await sendPart();
        },
        async checkpoint() {
          if (bufferedBytes >= MIN_PART_BYTES) await sendPart();
          return bufferedBytes === 0 && parts.length > 0 ? checkpointNow() : null;
        },
        async finish() {
          // The last part may be small; an empty file still needs one part.
          if (bufferedBytes > 0 || parts.length === 0) await sendPart();
          await client.send(
            new CompleteMultipartUploadCommand({
              Bucket,
              Key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
            }),
          );
          const object = await client.send(new GetObjectCommand({ Bucket, Key }));
          const hash = createHash('sha256');
          for await (const chunk of object.Body as Readable) hash.update(chunk as Buffer);
          return { bytes: durableBytes, sha256: hash.digest('hex') };
        },
        async abort() {
          buffered = [];
          bufferedBytes = 0;
          await abortUpload(Key, uploadId);
        },
        unfinished() {
          return { bytes: 0, upload: { uploadId, parts: [] } };
        },
        release() {
          // The uploaded parts stay for the next attempt; what is buffered is past the last checkpoint anyway.
          buffered = [];
          bufferedBytes = 0;
          return Promise.resolve();
        },
      };
    },

    async open(Key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket, Key }));
        return { stream: object.Body as Readable, bytes: Number(object.ContentLength ?? 0) };
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
    },

    async remove(Key, unfinished) {
      if (unfinished?.upload) await abortUpload(Key, unfinished.upload.uploadId);
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key }));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    },
  };
}

/** Whether the bucket has the object (tests and operators). */
export async function s3ObjectExists(client: S3Client, Bucket: string, Key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket, Key }));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}
