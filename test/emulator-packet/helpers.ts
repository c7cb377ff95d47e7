// Peers inside the emulator's namespaces, driven over stdin/stdout (see fixtures/peer.ts), and
// small statistics helpers for the packet emulator tests.
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { PacketLinkEmulator, TopologySideName } from '../../src/emulator/packet/index.js';
import type { LinkProfile } from '../../src/emulator/profiles.js';

export const PEER_SCRIPT = fileURLToPath(new URL('./fixtures/peer.ts', import.meta.url));

export type PeerMessage = Record<string, unknown> & { id?: number; event?: string; error?: string };

export interface Peer {
  pid: number;
  events: PeerMessage[];
  request(op: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<PeerMessage>;
  waitForEvent(what: string, match: (event: PeerMessage) => boolean, timeoutMs?: number): Promise<PeerMessage>;
}

/** Starts fixtures/peer.ts in the client or gateway namespace and waits until it is ready. */
export async function startPeer(emulator: PacketLinkEmulator, side: TopologySideName): Promise<Peer> {
  const child = emulator.spawnNode(side, PEER_SCRIPT, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: PeerMessage[] = [];
  const replies = new Map<number, (message: PeerMessage) => void>();
  const listeners = new Set<() => void>();
  let nextId = 1;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as PeerMessage;
    if (message.id !== undefined) replies.get(message.id)?.(message);
    else events.push(message);
    for (const listener of listeners) listener();
  });

  const waitForEvent = (what: string, match: (event: PeerMessage) => boolean, timeoutMs = 10_000): Promise<PeerMessage> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = events.find(match);
        if (found === undefined) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from the ${side} peer`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const request = (op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<PeerMessage> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer command ${op} in the ${side} namespace timed out after ${timeoutMs} ms`)), timeoutMs);
      replies.set(id, (message) => {
        clearTimeout(timer);
        replies.delete(id);
        if (message.error !== undefined) reject(new Error(`peer command ${op} failed: ${message.error}`));
        else resolve(message);
      });
      child.stdin!.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  };

  const ready = await waitForEvent('ready', (event) => event.event === 'ready');
  return { pid: ready.pid as number, events, request, waitForEvent };
}

/** Builds a profile with the same one-way delay and loss in both directions. */
export function symmetricProfile(delayMs: number, lossRate: number, overrides: Partial<LinkProfile> = {}): LinkProfile {
  return {
    name: 'test',
    description: `${delayMs} ms each way, ${lossRate * 100}% loss`,
    up: { delayMs, jitterMs: 0, lossRate },
    down: { delayMs, jitterMs: 0, lossRate },
    ...overrides,
  };
}

/** The q-quantile (0..1) of `values` by the nearest-rank method. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}
