// Launches the system Chromium for the browser runner and the browser tests.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { ConfigError } from '../errors.js';

/** Debian's chromium package; PUSHLAB_CHROMIUM points elsewhere. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet headless run. QUIC stays on, because WebTransport needs it. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PUSHLAB_CHROMIUM || DEFAULT_CHROMIUM_PATH;
}

/**
 * Starts Chromium. `hostRules` go into --host-resolver-rules after the rule that maps localhost to
 * 127.0.0.1, which keeps Chromium from trying ::1 first.
 */
export async function launchChromium(options: { path?: string; hostRules?: string[] } = {}): Promise<Browser> {
  const executablePath = options.path ?? chromiumPath();
  if (!existsSync(executablePath)) {
    throw new ConfigError(`Chromium not found at ${executablePath}; install it with "apt-get install -y chromium" or set PUSHLAB_CHROMIUM to a Chromium binary`);
  }
  const rules = ['MAP localhost 127.0.0.1', ...(options.hostRules ?? [])].join(', ');
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, `--host-resolver-rules=${rules}`], timeout: 30_000 });
}
