import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildDashboard, defaultOutDir } from '../../web/build-dashboard.js';

/** Debian's Chromium (`apt-get install chromium`): playwright-core drives it, and never downloads a browser. */
export const chromiumPath = '/usr/bin/chromium';
const chromiumFlags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(t: Pick<TestContext, 'after'>): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install Debian's Chromium (apt-get install -y chromium)`);
  }
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags, headless: true });
  t.after(() => browser.close());
  return browser;
}

/** The dashboard the app serves (web/dist), built now when missing or older than its sources. */
export function ensureDashboardBuilt() {
  return buildDashboard(defaultOutDir, { ifStale: true });
}

/** Every console error and uncaught page error, as text, from the moment of the call. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

/** Waits until the text of `[data-testid=testId]` contains `text`. */
export async function waitForText(page: Page, testId: string, text: string, timeoutMs = 15_000): Promise<void> {
  await page.locator(`[data-testid="${testId}"]`).filter({ hasText: text }).waitFor({ timeout: timeoutMs });
}

/** True when the page is no wider than the viewport (no horizontal scrolling). Evaluated in the page. */
export function fitsViewport(page: Page): Promise<boolean> {
  return page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');
}
