import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { useApiStack } from '../support/api-stack';
import { launchChromium, seriousAxeViolations, viewports } from '../support/browser';

/** Screenshots of the landing page and Swagger UI, kept for people to look at after a run. */
const ARTIFACTS_DIR = path.join(__dirname, '..', '..', 'test-artifacts', 'api-docs');

/** The `href`s of a page's links, in order. */
const hrefsOf = (html: string) => [...html.matchAll(/<a href="([^"]+)"/g)].map((match) => match[1]!);

/** The `src`s and stylesheet `href`s a page loads. */
const assetsOf = (html: string) => [
  ...[...html.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]!),
  ...[...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((match) => match[1]!),
];

/** A port nothing listens on now, for a server whose address the configuration must name beforehand. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('the landing page, the API docs and the OpenAPI document', () => {
  let port: number;
  // PUBLIC_BASE_URL names the server the browser tests open, so Swagger UI's "Try it out" reaches it.
  const stack = useApiStack({
    config: async () => {
      port = await freePort();
      return { TEMPORAL_UI_URL: 'http://temporal-ui.test:8233/', PUBLIC_BASE_URL: `http://127.0.0.1:${port}` };
    },
  });

  it('GET / is a page linking the console, the API docs and document, the Web UI, the health endpoints and the metrics', async () => {
    const response = await request(stack.app).get('/');

    expect(response.status).toBe(200);
    expect(response.type).toBe('text/html');
    expect(hrefsOf(response.text)).toEqual([
      '/console',
      `http://temporal-ui.test:8233/namespaces/${stack.config.temporal.namespace}/workflows`,
      '/api/docs',
      '/api/openapi.json',
      '/healthz',
      '/readyz',
      '/metrics',
    ]);
    // Helmet's headers, as on every other answer: no inline script could run here.
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('GET /api/openapi.json answers the OpenAPI 3.1 document as JSON, the same one on every call', async () => {
    const first = await request(stack.app).get('/api/openapi.json');
    const second = await request(stack.app).get('/api/openapi.json');

    expect(first.status).toBe(200);
    expect(first.type).toBe('application/json');
    expect(first.body).toMatchObject({
      openapi: '3.1.0',
      info: { title: 'Holdfast API' },
      servers: [{ url: stack.config.api.publicBaseUrl }],
    });
    expect(second.body).toEqual(first.body);
  });

  it('GET /api/docs is Swagger UI on the document, with only scripts of its own origin that are all there', async () => {
    const response = await request(stack.app).get('/api/docs');

    expect(response.status).toBe(200);
    expect(response.type).toBe('text/html');
    expect(response.text).not.toMatch(/<script>/);
    const assets = assetsOf(response.text);
    expect(assets).toEqual([
      '/api/docs/assets/swagger-ui-bundle.js',
      '/api/docs/assets/holdfast-initializer.js',
      '/api/docs/assets/swagger-ui.css',
    ]);
    for (const asset of assets) {
      const served = await request(stack.app).get(asset);
      expect({ asset, status: served.status }).toEqual({ asset, status: 200 });
    }
    const initializer = await request(stack.app).get('/api/docs/assets/holdfast-initializer.js');
    expect(initializer.type).toBe('application/javascript');
    expect(initializer.text).toContain("url: '/api/openapi.json'");
  });

  it("serves only Swagger UI's own files under /api/docs/assets, not the package's demo page", async () => {
    for (const file of ['index.html', 'swagger-initializer.js', 'package.json', '../package.json']) {
      const response = await request(stack.app).get(`/api/docs/assets/${file}`);
      expect({ file, status: response.status }).toEqual({ file, status: 404 });
    }
  });

  it('refuses query parameters on the document and the docs page, like every other route', async () => {
    const response = await request(stack.app).get('/api/openapi.json').query({ format: 'yaml' });

    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });

  describe('in a real browser', () => {
    let browser: Browser;
    let server: http.Server;
    let baseUrl: string;

    beforeAll(async () => {
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      browser = await launchChromium();
      server = http.createServer(stack.app);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      baseUrl = stack.config.api.publicBaseUrl;
    });

    afterAll(async () => {
      await browser?.close();
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    });

    it('Swagger UI renders every tag of the document under the CSP, and "Try it out" works with the token given to "Authorize"', async () => {
      const context = await browser.newContext({ viewport: viewports.desktop });
      const page = await context.newPage();
      const refused: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') refused.push(message.text());
      });
      page.on('pageerror', (error) => refused.push(error.message));

      await page.goto(`${baseUrl}/api/docs`);
      await page.locator('.opblock-tag').first().waitFor();
      const tags = await page.locator('.opblock-tag').allTextContents();

      await page.locator('.auth-wrapper .authorize').click();
      const dialog = page.locator('.dialog-ux');
      await dialog.waitFor();
      const dialogText = await dialog.textContent();
      await dialog.locator('input').fill(stack.tokens.operator.replace(/^Bearer /, ''));
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'swagger-ui-authorize.png') });
      await dialog.locator('button.authorize').click();
      await dialog.locator('button.btn-done').click();

      const getMe = page.locator('#operations-Tenant-getMe');
      await getMe.locator('.opblock-summary').click();
      await getMe.locator('.try-out__btn').click();
      await getMe.locator('.execute').click();
      const answer = getMe.locator('.live-responses-table .response');
      await answer.waitFor();
      const status = await answer.locator('.response-col_status').textContent();
      const body = await answer.locator('.response-col_description').textContent();
      await getMe.screenshot({ path: path.join(ARTIFACTS_DIR, 'swagger-ui-try-it-out.png') });
      await context.close();

      const { body: document } = await request(stack.app).get('/api/openapi.json');
      for (const { name } of document.tags as Array<{ name: string }>) {
        expect(tags.some((text) => text.startsWith(name))).toBe(true);
      }
      expect(dialogText).toContain('bearerAuth');
      expect(dialogText).toContain('JWT');
      expect(status?.trim()).toBe('200');
      expect(body).toContain(stack.tenant.id);
      expect(body).toContain('operator');
      expect(refused).toEqual([]);
    });

    it('the landing page has no serious accessibility problems, on a phone too', async () => {
      const context = await browser.newContext({ viewport: viewports.phone });
      const page = await context.newPage();
      await page.goto(`${baseUrl}/`);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'landing-phone.png'), fullPage: true });
      const overflows = await page.evaluate(() => {
        const view = globalThis as unknown as {
          innerWidth: number;
          document: { documentElement: { scrollWidth: number } };
        };
        return view.document.documentElement.scrollWidth > view.innerWidth;
      });

      expect(overflows).toBe(false);
      expect(await seriousAxeViolations(browser, context, `${baseUrl}/`)).toEqual([]);
      await context.close();
    });
  });
});
