// The browser client bundle as the gateway serves it: built in memory with esbuild on the first
// request and kept for the life of the process. scripts/build-browser.mjs contains the one set
// of build options.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BUILD_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts/build-browser.mjs');

interface BuildScript {
  buildBrowserBundle(options?: { minify?: boolean; sourcemap?: boolean }): Promise<string>;
}

let cached: Promise<string> | null = null;

/** Returns the bundle text, building it once; a failed build is retried on the next call. */
export function loadBrowserBundle(): Promise<string> {
  cached ??= (async () => {
    const script = (await import(pathToFileURL(BUILD_SCRIPT).href)) as BuildScript;
    return script.buildBrowserBundle();
  })();
  cached.catch(() => {
    cached = null;
  });
  return cached;
}
