import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { createFileStore } from '../../lib/file-store';
import { createS3FileStore, MIN_PART_BYTES, s3ObjectExists } from '../../lib/file-store-s3';
import { s3Credentials, startS3Server, type S3ServerHandle } from '../../scripts/stack/s3-server';

/** Against a real S3-compatible server (moto, installed from PyPI by scripts/stack/s3-server.ts). */
describe('the S3 file store', () => {
  let server: S3ServerHandle;
  let client: S3Client;
  const bucket = `holdfast-${randomUUID()}`;
  const config = () => ({
    kind: 's3' as const,
    endpoint: server.endpoint,
    region: s3Credentials.region,
    bucket,
    accessKeyId: s3Credentials.accessKeyId,
    secretAccessKey: s3Credentials.secretAccessKey,
    forcePathStyle: true,
  });

  beforeAll(async () => {
    server = await startS3Server();
    client = new S3Client({
      endpoint: server.endpoint,
      region: s3Credentials.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3Credentials.accessKeyId, secretAccessKey: s3Credentials.secretAccessKey },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  }, 600_000);

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  const block = (fill: string, bytes: number) => Buffer.alloc(bytes, fill);
  const read = async (stream: Readable) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  it('checkpoints only what is in parts, and a writer resumed from a checkpoint completes the same object', async () => {
    const store = createS3FileStore(config(), { client });
    const key = `tenant/exports/${randomUUID()}.csv`;
    const writer = await store.openWriter(key);
    await writer.write(block('a', 1024));
    expect(await writer.checkpoint()).toBeNull();
    await writer.write(block('b', MIN_PART_BYTES));
    const checkpoint = await writer.checkpoint();
    expect(checkpoint).toMatchObject({ bytes: MIN_PART_BYTES + 1024, upload: { parts: [{ partNumber: 1 }] } });
    // The lost writer went on past its checkpoint: a second part that the resumed writer overwrites.
    await writer.write(block('x', MIN_PART_BYTES));
    await writer.checkpoint();

    const resumed = await store.openWriter(key, JSON.parse(JSON.stringify(checkpoint)));
    await resumed.write(block('c', MIN_PART_BYTES));
    await resumed.write(block('d', 10));
    const finished = await resumed.finish();

    const expected = Buffer.concat([
      block('a', 1024),
      block('b', MIN_PART_BYTES),
      block('c', MIN_PART_BYTES),
      block('d', 10),
    ]);
    expect(finished).toEqual({ bytes: expected.length, sha256: createHash('sha256').update(expected).digest('hex') });
    const opened = await store.open(key);
    expect(opened?.bytes).toBe(expected.length);
    expect((await read(opened!.stream)).equals(expected)).toBe(true);
  });

  it('finishes a small file in one part, and removing it leaves nothing', async () => {
    const store = createFileStore(config());
    const key = `tenant/reports/${randomUUID()}.json`;
    const writer = await store.openWriter(key);
    await writer.write('{"rows":[]}');
    await writer.finish();
    expect(await s3ObjectExists(client, bucket, key)).toBe(true);

    await store.remove(key);

    expect(await store.open(key)).toBeNull();
    await expect(store.remove(key)).resolves.toBeUndefined();
  });

  it('removing an unfinished file aborts its upload, so it can no longer be resumed', async () => {
    const store = createS3FileStore(config(), { client });
    const key = `tenant/exports/${randomUUID()}.csv`;
    const writer = await store.openWriter(key);
    await writer.write(block('a', MIN_PART_BYTES));
    const checkpoint = (await writer.checkpoint())!;

    await store.remove(key, checkpoint);

    await expect(
      client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: checkpoint.upload!.uploadId })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(store.openWriter(key, checkpoint)).rejects.toThrow(/upload is gone/);
    expect(await store.open(key)).toBeNull();
  });

  it('an aborted writer leaves no object and no upload', async () => {
    const store = createS3FileStore(config(), { client });
    const key = `tenant/exports/${randomUUID()}.csv`;
    const writer = await store.openWriter(key);
    await writer.write(block('a', MIN_PART_BYTES));
    const checkpoint = (await writer.checkpoint())!;

    await writer.abort();

    expect(await store.open(key)).toBeNull();
    await expect(store.openWriter(key, checkpoint)).rejects.toThrow(/upload is gone/);
  });
});
