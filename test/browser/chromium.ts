// Launches the system Chromium for the browser tests. The tests need a real browser and never
// skip: without one they fail with a message that names the package to install.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PUSHLAB_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet headless run; QUIC stays on because WebTransport needs it. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts Chromium. `hostRules` are added to --host-resolver-rules after the rule that maps
 * localhost to 127.0.0.1 (so Chromium never tries ::1 first).
 */
export async function launchChromium(hostRules: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}. The browser tests need it: run "apt-get install -y chromium" or set PUSHLAB_CHROMIUM to a Chromium binary.`);
  }
  const rules = ['MAP localhost 127.0.0.1', ...hostRules].join(', ');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--host-resolver-rules=${rules}`], timeout: 30_000 });
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
