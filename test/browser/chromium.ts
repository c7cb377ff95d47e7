// Chromium for the browser tests. The tests need a real browser and never skip: without one,
// launchChromium fails with a message that names the package to install.
import type { Browser, Page } from 'playwright-core';
import { launchChromium as launch } from '../../src/browser-run/chromium.js';

/**
 * Starts Chromium. `hostRules` are added to --host-resolver-rules after the rule that maps
 * localhost to 127.0.0.1.
 */
export function launchChromium(hostRules: string[] = []): Promise<Browser> {
  return launch({ hostRules });
}

/** Collects the page's console errors and uncaught exceptions, for assertion messages. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return problems;
}
