// The browser globals the client reads beyond WebTransport and fetch: randomness and the 'online'
// event. Both are looked up at call time, so the modules also load (and typecheck) under Node.

/**
 * Returns 128 random bits as hex. crypto.randomUUID exists only in secure contexts, but a page
 * that is not one must still get far enough to report why WebTransport is missing.
 */
export function randomInstanceId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

interface NetworkEventTarget {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
}

/** Returns the global event target where the browser fires 'online', or undefined outside browsers. */
export function networkEvents(): NetworkEventTarget | undefined {
  const target = globalThis as { addEventListener?: unknown };
  return typeof target.addEventListener === 'function' ? (globalThis as unknown as NetworkEventTarget) : undefined;
}
