// The browser harness every flow shares: the system Chromium through playwright-core (no browser
// download), a page that records every console error and page error, screenshots, named steps.
//
// Run through crates/weft/tests/web_e2e.rs, which starts `weft demo` and passes its URL:
//   node tests/e2e/flows.mjs http://127.0.0.1:PORT SCREENSHOT_DIR [FLOW...]

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.WEFT_CHROMIUM || '/usr/bin/chromium';

// Flags for a quiet, reproducible headless run on a machine without a GPU or a user session.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// How long one action or expectation waits before it fails: generous for a loaded 2-core machine,
// short enough that a broken page fails fast.
export const TIMEOUT = 15_000;

// Chromium logs every 4xx answer as a console error ("Failed to load resource"). A step that provokes
// a refusal on purpose (and checks that the page shows it) names the API path it expects it from in
// `step(name, body, { refusals: [/regex/] })`; any other 4xx, a 5xx, a missing /ui file or any error
// the page itself logs fails the run.
function isDeclaredRefusal(message, refusals) {
  const text = message.text();
  if (!/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return false;
  const path = new URL(message.location()?.url || '', 'http://x').pathname;
  return refusals.some((pattern) => pattern.test(path));
}

export class Harness {
  constructor(baseUrl, screenshotDir) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.screenshotDir = screenshotDir;
    this.errors = [];
    this.shots = 0;
    this.currentStep = '(start)';
    this.refusals = [];
    mkdirSync(screenshotDir, { recursive: true });
  }

  async launch() {
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    this.context = await this.browser.newContext({ viewport: { width: 1366, height: 900 } });
    this.context.setDefaultTimeout(TIMEOUT);
    this.page = await this.newPage();
    return this.page;
  }

  /// A page whose console errors, page errors and failed /ui requests are recorded against the step.
  async newPage() {
    const page = await this.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' && !isDeclaredRefusal(message, this.refusals)) {
        this.errors.push(`[${this.currentStep}] console error: ${message.text()} (${message.location()?.url || '?'})`);
      }
    });
    page.on('pageerror', (error) => {
      this.errors.push(`[${this.currentStep}] page error: ${error.stack || error.message}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 500) {
        this.errors.push(`[${this.currentStep}] HTTP ${response.status()} from ${response.url()}`);
      }
    });
    return page;
  }

  url(path) {
    return this.baseUrl + path;
  }

  /// Screenshot of the whole page, numbered in the order taken: target/e2e-screenshots/NN-name.png.
  async shot(name, page = this.page) {
    this.shots += 1;
    const file = join(this.screenshotDir, `${String(this.shots).padStart(2, '0')}-${name}.png`);
    // From the top: a page scrolled to a field would draw the sticky header across the middle.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /// Runs one named step; a failure says which step, with a screenshot of where it stood.
  async step(name, body, { refusals = [] } = {}) {
    this.currentStep = name;
    this.refusals = refusals;
    const started = Date.now();
    try {
      await body();
    } catch (error) {
      try {
        await this.shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      } catch {
        // The page may be gone; the original error matters more.
      }
      error.message = `step "${name}": ${error.message}`;
      throw error;
    }
    console.log(`  ok  ${name} (${Date.now() - started} ms)`);
  }

  async close() {
    if (this.browser) await this.browser.close();
  }
}

/// Polls `probe` until it returns a truthy value; fails with `what` after `timeout` ms.
export async function eventually(what, probe, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/// The demo's people's API tokens by name (`weft demo` writes them; web_e2e.rs passes them), or
/// none when the demo runs without authentication.
export const TOKENS = JSON.parse(process.env.WEFT_DEMO_TOKENS || '{}');

/// A JSON call to the API outside the page (to check what the UI did), as `actor`.
export async function api(baseUrl, path, { method = 'GET', body, actor = 'admin' } = {}) {
  const who = TOKENS[actor] ? { authorization: `Bearer ${TOKENS[actor]}` } : { 'x-weft-actor': actor };
  const response = await fetch(baseUrl + path, {
    method,
    headers: { 'content-type': 'application/json', ...who },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}
