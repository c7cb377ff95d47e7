// Loopback peers and polling helpers for the emulator tests.
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LinkProfile } from '../../src/emulator/profiles.js';

export { sleep };

/** Polls `condition` every 5 ms; throws with `what` when it is still false after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Builds a profile without impairment, with the given fields replaced. */
export function testProfile(overrides: Partial<LinkProfile> = {}): LinkProfile {
  return {
    name: 'test',
    description: 'test profile',
    up: { delayMs: 0, jitterMs: 0, lossRate: 0 },
    down: { delayMs: 0, jitterMs: 0, lossRate: 0 },
    ...overrides,
  };
}

export interface UdpPeer {
  socket: dgram.Socket;
  port: number;
  received: Array<{ payload: Buffer; port: number; atMs: number }>;
  send(payload: Buffer | string, port: number): void;
  close(): Promise<void>;
}

/** Binds a UDP socket on 127.0.0.1 that records every datagram and, if `echo`, sends it back. */
export async function udpPeer(echo = false): Promise<UdpPeer> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  const received: UdpPeer['received'] = [];
  socket.on('message', (payload, remote) => {
    received.push({ payload, port: remote.port, atMs: performance.now() });
    if (echo) socket.send(payload, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    socket,
    port: socket.address().port,
    received,
    send: (payload, port) => socket.send(payload, port, '127.0.0.1'),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

export interface TcpTarget {
  port: number;
  /** Server-side sockets in accept order. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** Starts a TCP server on 127.0.0.1 that calls `onSocket` for each connection (half-open allowed). */
export async function tcpTarget(onSocket: (socket: net.Socket) => void = () => {}): Promise<TcpTarget> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects to 127.0.0.1:port and resolves once connected. */
export async function tcpConnect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Collects what a socket receives and whether it saw the end of the stream. */
export function collect(socket: net.Socket): { data: () => Buffer; ended: () => boolean; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let ended = false;
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('end', () => {
    ended = true;
  });
  socket.on('close', () => {
    closed = true;
  });
  return { data: () => Buffer.concat(chunks), ended: () => ended, closed: () => closed };
}
