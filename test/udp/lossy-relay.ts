// A seeded UDP relay on loopback for the UDP transport tests. It sits between one client and the
// server and drops datagrams with a per-direction probability. A test can also tamper with,
// record, replay or inject datagrams, or move the server-facing socket to a new port (a NAT
// rebinding).
import dgram from 'node:dgram';
import { seededRandom, type Random } from '../../src/random.js';

export type Direction = 'toServer' | 'toClient';

/** Decides the fate of one datagram; return a Buffer to forward a modified copy. */
export type RelayFilter = (direction: Direction, datagram: Buffer, index: number) => 'pass' | 'drop' | Buffer;

export interface RelayOptions {
  server: { host: string; port: number };
  seed: number;
  /** Probability (0..1) of dropping a client-to-server datagram. */
  lossToServer?: number;
  /** Probability (0..1) of dropping a server-to-client datagram. */
  lossToClient?: number;
  /** Keep a copy of every forwarded datagram from the start. */
  record?: boolean;
}

interface DirectionState {
  loss: number;
  random: Random;
  seen: number;
  forwarded: number;
  dropped: number;
  recorded: Buffer[];
}

export class LossyRelay {
  filter: RelayFilter | null = null;
  /** Keep a copy of every forwarded datagram (for replay tests). */
  record = false;
  private readonly front: dgram.Socket;
  private upstream: dgram.Socket;
  private client: { address: string; port: number } | null = null;
  private readonly state: Record<Direction, DirectionState>;

  private constructor(
    private readonly options: RelayOptions,
    front: dgram.Socket,
    upstream: dgram.Socket,
  ) {
    this.front = front;
    this.upstream = upstream;
    this.record = options.record ?? false;
    const make = (loss: number, seed: number): DirectionState => ({ loss, random: seededRandom(seed), seen: 0, forwarded: 0, dropped: 0, recorded: [] });
    this.state = {
      toServer: make(options.lossToServer ?? 0, options.seed),
      toClient: make(options.lossToClient ?? 0, options.seed ^ 0x5bd1e995),
    };
    front.on('message', (datagram, remote) => {
      this.client = { address: remote.address, port: remote.port };
      this.forward('toServer', datagram);
    });
    this.attachUpstream(upstream);
  }

  static async start(options: RelayOptions): Promise<LossyRelay> {
    const front = await bindSocket();
    const upstream = await bindSocket();
    return new LossyRelay(options, front, upstream);
  }

  /** The port clients dial. */
  get port(): number {
    return this.front.address().port;
  }

  /** Source port of the datagrams towards the server. */
  get upstreamPort(): number {
    return this.upstream.address().port;
  }

  stats(direction: Direction): { seen: number; forwarded: number; dropped: number } {
    const { seen, forwarded, dropped } = this.state[direction];
    return { seen, forwarded, dropped };
  }

  recorded(direction: Direction): Buffer[] {
    return this.state[direction].recorded;
  }

  setLoss(direction: Direction, loss: number): void {
    this.state[direction].loss = loss;
  }

  /** Sends a datagram as if it came through the relay (replays and forgeries). */
  inject(direction: Direction, datagram: Buffer): void {
    this.send(direction, datagram);
  }

  /** Moves the server-facing side to a fresh socket, so datagrams reach the server from a new source port. */
  async rebind(): Promise<void> {
    const next = await bindSocket();
    const previous = this.upstream;
    this.upstream = next;
    this.attachUpstream(next);
    previous.removeAllListeners('message');
    previous.close();
  }

  async close(): Promise<void> {
    await Promise.all([closeSocket(this.front), closeSocket(this.upstream)]);
  }

  private attachUpstream(socket: dgram.Socket): void {
    socket.on('message', (datagram) => this.forward('toClient', datagram));
  }

  private forward(direction: Direction, datagram: Buffer): void {
    const state = this.state[direction];
    const index = state.seen++;
    // Draw the loss decision first and always, so a filter does not shift the seeded sequence.
    const lost = state.random() < state.loss;
    let outgoing = datagram;
    if (this.filter) {
      const verdict = this.filter(direction, datagram, index);
      if (verdict === 'drop') {
        state.dropped += 1;
        return;
      }
      if (verdict !== 'pass') outgoing = verdict;
    }
    if (lost) {
      state.dropped += 1;
      return;
    }
    state.forwarded += 1;
    if (this.record) state.recorded.push(Buffer.from(outgoing));
    this.send(direction, outgoing);
  }

  private send(direction: Direction, datagram: Buffer): void {
    if (direction === 'toServer') {
      this.upstream.send(datagram, this.options.server.port, this.options.server.host);
    } else if (this.client) {
      this.front.send(datagram, this.client.port, this.client.address);
    }
  }
}

function bindSocket(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // Large buffers, so the relay itself drops only what the seeded loss decides.
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
