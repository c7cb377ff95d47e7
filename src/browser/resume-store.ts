// Storage for the client's resume position (session id and cumulative seq) between connections.
// In memory it survives reconnects. In sessionStorage it also survives a reload of the page, so
// the gateway replays only what the reloaded page has not acknowledged.
import type { BrowserLogger } from './logger.js';

export interface ResumePosition {
  sessionId: string;
  /** Every message with seq <= lastSeq arrived. */
  lastSeq: number;
}

export interface ResumeStore {
  load(): ResumePosition | undefined;
  save(position: ResumePosition): void;
  clear(): void;
}

export function memoryResumeStore(): ResumeStore {
  let position: ResumePosition | undefined;
  return {
    load: () => position,
    save: (next) => {
      position = { ...next };
    },
    clear: () => {
      position = undefined;
    },
  };
}

/** The subset of the Web Storage API the store uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the position under `key` in `storage` (default window.sessionStorage). Returns undefined
 * when no storage is available (a worker, or storage disabled), so the caller can fall back.
 */
export function webStorageResumeStore(key: string, storage?: StorageLike): ResumeStore | undefined {
  const target = storage ?? (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
  if (target === undefined) return undefined;
  return {
    load() {
      let raw: string | null;
      try {
        raw = target.getItem(key);
      } catch {
        return undefined;
      }
      return raw === null ? undefined : parsePosition(raw);
    },
    save(position) {
      try {
        target.setItem(key, JSON.stringify(position));
      } catch {
        // A full or disabled storage only costs the replay after a reload; reconnects still resume.
      }
    },
    clear() {
      try {
        target.removeItem(key);
      } catch {
        // Nothing stored, nothing to clear.
      }
    },
  };
}

/** Returns the stored position, or undefined when the text is not one (an older format, say). */
function parsePosition(raw: string): ResumePosition | undefined {
  try {
    const value = JSON.parse(raw) as Partial<ResumePosition>;
    if (typeof value.sessionId === 'string' && Number.isSafeInteger(value.lastSeq) && (value.lastSeq as number) >= 0) {
      return { sessionId: value.sessionId, lastSeq: value.lastSeq as number };
    }
  } catch {
    // Falls through to "no position".
  }
  return undefined;
}

/** Picks the store the client options ask for; 'session-storage' falls back to memory where there is none. */
export function resumeStoreFor(options: { resume?: 'memory' | 'session-storage' | ResumeStore; userId: string; deviceId: string }, logger: BrowserLogger): ResumeStore {
  const choice = options.resume ?? 'memory';
  if (typeof choice === 'object') return choice;
  if (choice === 'session-storage') {
    const store = webStorageResumeStore(`pushlab:resume:${options.userId}:${options.deviceId}`);
    if (store) return store;
    logger.warn({}, 'sessionStorage is unavailable; the resume position is kept in memory only');
  }
  return memoryResumeStore();
}
