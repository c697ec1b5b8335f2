import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Express } from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * A real browser for the console's tests: Debian's Chromium, driven by playwright-core, headless.
 * CI installs it (.ci/run); CHROMIUM_PATH points elsewhere when it lives somewhere else.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots of the console's pages are kept, for people to look at after a run. */
export const CONSOLE_ARTIFACTS_DIR = path.join(__dirname, '..', '..', 'test-artifacts', 'console');

export const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM_PATH}: install it with \`sudo apt-get install -y chromium\` ` +
        '(as .ci/run does), or set CHROMIUM_PATH to a Chromium or Chrome binary',
    );
  }
  // --no-sandbox: CI and containers run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox'] });
}

/** A browser context with JavaScript off: the console must work without it. */
export function newConsoleContext(browser: Browser, viewport: keyof typeof viewports = 'desktop') {
  return browser.newContext({ javaScriptEnabled: false, viewport: viewports[viewport] });
}

export interface ServedApp {
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves `app` on the loopback interface: on `port` when another server must know the address
 * beforehand (the Web UI's codec endpoint), otherwise on an ephemeral one.
 */
export async function serve(app: Express, port = 0): Promise<ServedApp> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * Saves the page as `<name>-desktop.png` and `<name>-phone.png`, whole-page, by reopening its URL
 * in a context of each size with the same cookies.
 */
export async function screenshotBothSizes(browser: Browser, from: BrowserContext, url: string, name: string) {
  fs.mkdirSync(CONSOLE_ARTIFACTS_DIR, { recursive: true });
  const cookies = await from.cookies();
  for (const size of Object.keys(viewports) as Array<keyof typeof viewports>) {
    const context = await newConsoleContext(browser, size);
    try {
      await context.addCookies(cookies);
      const page = await context.newPage();
      await page.goto(url);
      await page.screenshot({ path: path.join(CONSOLE_ARTIFACTS_DIR, `${name}-${size}.png`), fullPage: true });
    } finally {
      await context.close();
    }
  }
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** What {@link checkPage} finds on a page at one viewport size. */
export interface PageCheck {
  /** The serious and critical accessibility violations axe-core reports. */
  violations: AxeViolation[];
  /** How wide the document is, in CSS pixels: wider than the viewport means sideways scrolling. */
  scrollWidth: number;
}

/**
 * Opens the page's URL at `size` and runs axe-core on it (WCAG 2.x A and AA rules and best
 * practices), keeping the serious and critical violations, and measures the document's width.
 * axe runs in a context of its own with scripts on, since the console's pages have none and the
 * CSP would refuse an injected one.
 */
export async function checkPage(
  browser: Browser,
  from: BrowserContext,
  url: string,
  size: keyof typeof viewports,
): Promise<PageCheck> {
  const context = await browser.newContext({ bypassCSP: true, viewport: viewports[size] });
  try {
    await context.addCookies(await from.cookies());
    const page: Page = await context.newPage();
    await page.goto(url);
    const scrollWidth = await page.evaluate(
      () =>
        (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement
          .scrollWidth,
    );
    await page.addScriptTag({ content: axeSource });
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
      const result = await axe.run();
      return result.violations as Array<{
        id: string;
        impact: string | null;
        help: string;
        nodes: Array<{ target: unknown[] }>;
      }>;
    });
    return {
      scrollWidth,
      violations: violations
        .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
        .map((violation): AxeViolation => ({
          id: violation.id,
          impact: violation.impact,
          help: violation.help,
          nodes: violation.nodes.map((node) => JSON.stringify(node.target)),
        })),
    };
  } finally {
    await context.close();
  }
}

/** The serious and critical accessibility violations axe-core finds on the page's URL at `size`. */
export async function seriousAxeViolations(
  browser: Browser,
  from: BrowserContext,
  url: string,
  size: keyof typeof viewports = 'desktop',
): Promise<AxeViolation[]> {
  return (await checkPage(browser, from, url, size)).violations;
}
