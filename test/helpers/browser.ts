// A headless Chromium (Debian's, driven by playwright-core) for the hosted-page tests,
// kept off the network: nothing but loopback resolves, background services are off, and
// every request to another host is recorded so a test can fail on it. Pages are watched
// for what an XSS or a CSP mistake would show: dialogs, script errors, CSP reports.
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's package; CHROMIUM_PATH points elsewhere (e.g. on a developer's machine). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const SCREENSHOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots');

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  // Only loopback names resolve: nothing the browser tries on its own reaches out.
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
];

/**
 * Launches Chromium, closed after the test. A missing browser fails the test with a clear
 * message rather than skipping it: these tests are the only check of the hosted pages.
 */
export async function launchBrowser(t: Pick<TestContext, 'after'>): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium is missing at ${CHROMIUM_PATH}: install it (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
  t.after(() => browser.close());
  return browser;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Every alert/confirm/prompt/beforeunload opened, as `type: message` (each is dismissed). */
  dialogs: string[];
  /** Console messages of type error (CSP violations are reported there too). */
  consoleErrors: string[];
  /** Uncaught script errors of the page and its frames. */
  pageErrors: string[];
  /** Requests to anything but loopback (none should ever happen). */
  offsite: string[];
  /** The console errors that are CSP reports. */
  cspViolations(): string[];
  /** No dialog opened, no script error, no request left loopback. */
  assertClean(what?: string): void;
}

/**
 * A fresh context (its own cookies: a new browser profile, in effect) with one watched page.
 * `colorScheme` drives prefers-color-scheme; the viewport suits a phone-sized screenshot.
 */
export async function watchedPage(
  browser: Browser,
  options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 480, height: 720 },
    colorScheme: options.colorScheme ?? 'light',
    serviceWorkers: 'block',
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const offsite: string[] = [];
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && !LOOPBACK.has(url.hostname))
      offsite.push(request.url());
  });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  return {
    context,
    page,
    dialogs,
    consoleErrors,
    pageErrors,
    offsite,
    cspViolations: () => consoleErrors.filter((text) => /Content Security Policy/i.test(text)),
    assertClean(what = 'the page') {
      assert.deepEqual(dialogs, [], `${what}: no dialog may open (a script ran)`);
      assert.deepEqual(pageErrors, [], `${what}: no script error`);
      assert.deepEqual(offsite, [], `${what}: no request may leave loopback`);
    },
  };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A full-page screenshot, checked to be a real PNG. Written to docs/screenshots/<name>-<scheme>.png
 * only with UPDATE_SCREENSHOTS=1, so that an ordinary test run leaves the git tree clean.
 */
export async function screenshot(page: Page, name: string, scheme: 'light' | 'dark'): Promise<Buffer> {
  const png = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), `${name}-${scheme}: a PNG`);
  assert.ok(png.length > 2000, `${name}-${scheme}: not empty (${png.length} bytes)`);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    writeFileSync(join(SCREENSHOT_DIR, `${name}-${scheme}.png`), png);
  }
  return png;
}

/** Both colour schemes of the page as it stands; the two must differ (the dark styles apply). */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  const background: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    background.push(await page.evaluate<string>('getComputedStyle(document.body).backgroundColor'));
    await screenshot(page, name, colorScheme);
  }
  assert.notEqual(background[0], background[1], `${name}: the dark scheme changes the page's background`);
  await page.emulateMedia({ colorScheme: 'light' });
}
