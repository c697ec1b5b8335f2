import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { requestLogging } from '../../api/request-log';
import { createLogger } from '../../lib/logger';

/** An app that logs its requests into `lines`, with a limiter that answers download links before any route. */
function appLoggingTo(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = express();
  app.use(requestLogging(createLogger({ logLevel: 'info' }, 'test', { destination })));
  app.use('/api/v1/downloads', (_req, res) => {
    res.status(429).end();
  });
  return app;
}

describe('request lines', () => {
  it('never carry a download link token, even for a request no route answered', async () => {
    const lines: Record<string, unknown>[] = [];
    const token = 'd1.eyJrIjoiZXhwb3J0In0.c2lnbmF0dXJlLW9mLXRoZS1saW5r';

    const answer = await request(appLoggingTo(lines)).get(`/api/v1/downloads/${token}`);

    expect(answer.status).toBe(429);
    const line = lines.find((candidate) => candidate.msg === 'request completed' || 'path' in candidate);
    expect(line).toMatchObject({ path: '/api/v1/downloads/:token' });
    expect(JSON.stringify(lines)).not.toContain(token.split('.')[2]);
  });
});
