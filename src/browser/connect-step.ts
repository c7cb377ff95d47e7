// One rung of one connection attempt: open a link over one transport, send the hello and wait for
// the welcome, within a time limit. The client's link callbacks carry the step's binding, so
// events from a link the client already replaced or gave up on are recognised and ignored.
import type { Clock } from '../clock.js';
import { PushlabError, TransportError, toError } from '../errors.js';
import type { Link, LinkContext, LinkOpener } from './links/link.js';

export interface Binding {
  readonly attempt: number;
  readonly transport: string;
  link: Link | null;
  /** True from the welcome on. */
  connected: boolean;
  /** Set when the client gave up on this binding; a link that opens later is dropped at once. */
  abandoned: boolean;
  /** Resolves at the welcome; rejects on timeout, abandonment, a close frame or the link's end before it. */
  readonly settled: Promise<void>;
  settle(error?: Error): void;
}

export function createBinding(attempt: number, transport: string): Binding {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const settled = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  // connectStep consumes a rejection later; this keeps an early one from counting as unhandled.
  settled.catch(() => undefined);
  return {
    attempt,
    transport,
    link: null,
    connected: false,
    abandoned: false,
    settled,
    settle: (error?: Error) => (error ? reject(error) : resolve()),
  };
}

export interface ConnectStepParams {
  binding: Binding;
  open: LinkOpener;
  /** The link context without the signal, which the step adds. */
  context: Omit<LinkContext, 'signal'>;
  hello: Uint8Array;
  timeoutMs: number;
  clock: Clock;
  /** Aborted when the whole attempt is abandoned. */
  signal: AbortSignal;
}

/**
 * Opens the link and sends the hello; the client settles the binding when the welcome (or a close
 * frame) arrives. Returns null when connected, or the error that ended the step, with the link
 * already dropped.
 */
export async function connectStep(params: ConnectStepParams): Promise<PushlabError | null> {
  const { binding, timeoutMs } = params;
  const { transport, attempt } = binding;
  const step = new AbortController();
  const abandon = (): void => binding.settle(new TransportError('TRANSPORT_FAILED', `${transport} attempt ${attempt} abandoned`));
  params.signal.addEventListener('abort', abandon, { once: true });
  const timer = params.clock.setTimeout(() => binding.settle(new TransportError('CONNECT_TIMEOUT', `${transport} got no welcome within ${timeoutMs} ms`)), timeoutMs);
  // Whatever ends the step early also stops the opener's fetch or handshake.
  void binding.settled.catch(() => step.abort());

  try {
    const opening = params.open({ ...params.context, signal: step.signal });
    // A link that opens after the step gave up must never carry a hello.
    opening.then((link) => binding.abandoned && link.destroy(), () => undefined);
    binding.link = await Promise.race([opening, binding.settled.then(() => null)]);
    if (binding.link === null) throw new TransportError('TRANSPORT_FAILED', `${transport} attempt ${attempt} settled before its link opened`);
    binding.link.send(params.hello);
    await binding.settled;
    return null;
  } catch (error) {
    binding.abandoned = true;
    binding.link?.destroy();
    return error instanceof PushlabError ? error : new TransportError('TRANSPORT_FAILED', toError(error).message, { cause: error });
  } finally {
    timer.cancel();
    params.signal.removeEventListener('abort', abandon);
  }
}
