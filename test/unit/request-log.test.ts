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

describe('probes and scrapes', () => {
  /** The probes and /metrics as the API mounts them, answering with the status the test asks for. */
  function appWithProbes(lines: Record<string, unknown>[], status: Record<string, number>) {
    const app = appLoggingTo(lines);
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      app.get(path, (_req, res) => {
        res.status(status[path] ?? 200).send('ok');
      });
    }
    app.get('/api/v1/me', (_req, res) => {
      res.json({});
    });
    return app;
  }
  const requestLines = (lines: Record<string, unknown>[]) =>
    lines.filter((line) => line.msg === 'request finished' || line.msg === 'request failed');

  it('write no line when they answer, so a scrape every 15 s does not fill the log; other requests still do', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = appWithProbes(lines, {});

    for (let scrape = 0; scrape < 3; scrape++) {
      expect((await request(app).get('/metrics')).status).toBe(200);
    }
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/readyz?verbose=1')).status).toBe(200);
    expect((await request(app).get('/api/v1/me')).status).toBe(200);

    expect(requestLines(lines).map((line) => line.route)).toEqual(['/api/v1/me']);
  });

  it('log their failures: a readiness probe that finds a dependency down, a scrape with the wrong token', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = appWithProbes(lines, { '/readyz': 503, '/metrics': 401 });

    await request(app).get('/readyz');
    await request(app).get('/metrics');

    expect(requestLines(lines).map(({ route, status, level }) => ({ route, status, level }))).toEqual([
      { route: '/readyz', status: 503, level: 50 },
      { route: '/metrics', status: 401, level: 30 },
    ]);
  });
});
