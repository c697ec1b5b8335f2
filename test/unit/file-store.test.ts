import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalFileStore, sha256Of } from '../../lib/file-store';

describe('the local file store', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-store-'));
  const store = createLocalFileStore(root);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('keeps a file partial until finished, and a resumed writer drops what followed its checkpoint', async () => {
    const writer = await store.openWriter('t1/exports/a.csv');
    await writer.write('header\r\n');
    const checkpoint = await writer.checkpoint();
    await writer.write('lost row\r\n');
    expect(await store.open('t1/exports/a.csv')).toBeNull();

    const resumed = await store.openWriter('t1/exports/a.csv', checkpoint!);
    await resumed.write('row\r\n');
    const finished = await resumed.finish();

    const expected = 'header\r\nrow\r\n';
    expect(finished).toEqual({ bytes: expected.length, sha256: createHash('sha256').update(expected).digest('hex') });
    const opened = await store.open('t1/exports/a.csv');
    expect(opened?.bytes).toBe(expected.length);
    expect(await sha256Of(opened!.stream)).toBe(finished.sha256);
    expect(fs.existsSync(path.join(root, 't1/exports/a.csv.partial'))).toBe(false);
  });

  it('an aborted writer and a removed file leave nothing behind', async () => {
    const writer = await store.openWriter('t1/exports/b.csv');
    await writer.write('x');
    await writer.abort();
    const done = await store.openWriter('t1/exports/c.csv');
    await done.write('y');
    await done.finish();

    await store.remove('t1/exports/c.csv');

    expect(fs.readdirSync(path.join(root, 't1/exports')).filter((name) => /^[bc]/.test(name))).toEqual([]);
    await expect(store.remove('t1/exports/never.csv')).resolves.toBeUndefined();
  });

  it('refuses to resume when the partial file is gone or shorter than the checkpoint', async () => {
    await expect(store.openWriter('t1/exports/gone.csv', { bytes: 10 })).rejects.toThrow(/partial file is gone/);
    const writer = await store.openWriter('t1/exports/short.csv');
    await writer.write('abc');
    await writer.checkpoint();
    await expect(store.openWriter('t1/exports/short.csv', { bytes: 100 })).rejects.toThrow(/has 3 bytes/);
  });

  it('refuses keys that would leave its directory', async () => {
    await expect(store.openWriter('../outside.csv')).rejects.toThrow(/outside the store/);
    await expect(store.open('../../etc/passwd')).rejects.toThrow(/outside the store/);
  });

  it('gives each attempt its own partial file, and a retry resumes from the one its checkpoint names', async () => {
    const first = await store.openWriter('t1/exports/d.csv', undefined, { attempt: 1 });
    await first.write('header\r\n');
    const checkpoint = await first.checkpoint();
    expect(checkpoint).toEqual({ bytes: 8, partial: 'd.csv.1.partial' });
    expect(first.unfinished()).toEqual({ bytes: 0, partial: 'd.csv.1.partial' });

    const retry = await store.openWriter('t1/exports/d.csv', checkpoint!, { attempt: 2 });
    // The first attempt, still running after it lost its heartbeat, writes only into its own file.
    await first.write('stale row\r\n');
    await retry.write('row\r\n');
    await retry.finish();

    const opened = await store.open('t1/exports/d.csv');
    expect(await new Response(opened!.stream as unknown as ReadableStream).text()).toBe('header\r\nrow\r\n');
    await first.abort();
    await store.remove('t1/exports/d.csv');
    expect(fs.readdirSync(path.join(root, 't1/exports')).filter((name) => name.startsWith('d.csv'))).toEqual([]);
  });

  it('removes every attempt’s partial file of a key and no other key’s', async () => {
    const one = await store.openWriter('t1/exports/e.csv', undefined, { attempt: 1 });
    const two = await store.openWriter('t1/exports/e.csv', undefined, { attempt: 2 });
    const other = await store.openWriter('t1/exports/e.csv2', undefined, { attempt: 1 });
    await Promise.all([one.write('a'), two.write('b'), other.write('c')]);

    await store.remove('t1/exports/e.csv');

    expect(fs.readdirSync(path.join(root, 't1/exports')).filter((name) => name.startsWith('e.csv'))).toEqual([
      'e.csv2.1.partial',
    ]);
    await other.abort();
  });
});
