import { createHash } from 'node:crypto';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import { EmulatorError } from '../../src/emulator/errors.js';
import type { LinkProfile } from '../../src/emulator/profiles.js';
import { seededRandom } from '../../src/random.js';
import { collect, sleep, tcpConnect, tcpTarget, testProfile, waitFor, type TcpTarget } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(profile: LinkProfile | string, onSocket?: (socket: net.Socket) => void) {
  const target: TcpTarget = await tcpTarget(onSocket);
  const emulator = await LinkEmulator.start({ protocol: 'tcp', targetHost: '127.0.0.1', targetPort: target.port, profile, seed: 5 });
  cleanups.push(() => target.close(), () => emulator.close());
  const connect = async (): Promise<net.Socket> => {
    const socket = await tcpConnect(emulator.address.port);
    cleanups.push(() => {
      socket.destroy();
    });
    return socket;
  };
  return { target, emulator, connect };
}

function seededBytes(size: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

const echo = (socket: net.Socket): void => {
  socket.pipe(socket);
};

describe('tcp relay', () => {
  it('delay adds latency in each direction', async () => {
    const profile = testProfile({ up: { delayMs: 40, jitterMs: 0, lossRate: 0 }, down: { delayMs: 30, jitterMs: 0, lossRate: 0 } });
    const { connect } = await setup(profile, echo);
    const client = await connect();
    const received = collect(client);

    const sentAt = performance.now();
    client.write('ping');
    await waitFor('echo', () => received.data().length === 4);
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(69);
  });

  it('byte stream stays intact and ordered for 1 MB', async () => {
    const direction = { delayMs: 5, jitterMs: 5, lossRate: 0.05, bandwidthKbps: 400_000 };
    const { emulator, connect } = await setup(testProfile({ up: direction, down: direction }), echo);
    const client = await connect();
    const received = collect(client);

    const payload = seededBytes(1024 * 1024, 99);
    client.write(payload);
    await waitFor('1 MB echoed', () => received.data().length >= payload.length, 15_000);

    expect(received.data().length).toBe(payload.length);
    expect(sha256(received.data())).toBe(sha256(payload));
    const stats = emulator.stats();
    expect(stats.up.forwardedBytes).toBe(payload.length);
    expect(stats.down.forwardedBytes).toBe(payload.length);
    expect(stats.up.dropped.loss).toBe(0);
    expect(stats.up.lossDelayedUnits + stats.down.lossDelayedUnits).toBeGreaterThan(0);
  });

  it('blackhole holds data and a client close until restore', async () => {
    const { target, emulator, connect } = await setup('lan');
    const client = await connect();
    await waitFor('target accepted', () => target.sockets.length === 1);
    const atTarget = collect(target.sockets[0] as net.Socket);

    emulator.blackhole('both');
    client.write('hello');
    client.end();
    await sleep(200);
    expect(atTarget.data().length).toBe(0);
    expect(atTarget.ended()).toBe(false);
    expect(emulator.stats().up.maxHeldBytes).toBe(5);

    emulator.restore();
    await waitFor('held data and FIN', () => atTarget.ended());
    expect(atTarget.data().toString()).toBe('hello');
  });

  it('blackhole hides a target close from the client', async () => {
    const { target, emulator, connect } = await setup('lan');
    const client = await connect();
    const atClient = collect(client);
    await waitFor('target accepted', () => target.sockets.length === 1);

    emulator.blackhole('both');
    const serverSide = target.sockets[0] as net.Socket;
    serverSide.end('bye');
    serverSide.destroy();
    await sleep(200);
    expect(atClient.data().length).toBe(0);
    expect(atClient.ended()).toBe(false);
    expect(atClient.closed()).toBe(false);

    emulator.restore();
    await waitFor('deferred close', () => atClient.ended());
    expect(atClient.data().toString()).toBe('bye');
  });

  it('blackhole defers a client reset', async () => {
    const { target, emulator, connect } = await setup('lan');
    const client = await connect();
    await waitFor('target accepted', () => target.sockets.length === 1);
    const serverSide = target.sockets[0] as net.Socket;
    const atTarget = collect(serverSide);
    let targetError: NodeJS.ErrnoException | undefined;
    serverSide.on('error', (error) => {
      targetError = error;
    });

    emulator.blackhole('up');
    client.resetAndDestroy();
    await sleep(150);
    expect(atTarget.closed()).toBe(false);

    emulator.restore();
    await waitFor('reset reaches the target', () => atTarget.closed());
    expect(atTarget.ended()).toBe(false);
    expect(targetError?.code).toBe('ECONNRESET');
  });

  it('failed dial resets the client', async () => {
    const closedTarget = await tcpTarget();
    const port = closedTarget.port;
    await closedTarget.close();
    const emulator = await LinkEmulator.start({ protocol: 'tcp', targetHost: '127.0.0.1', targetPort: port, profile: 'lan' });
    cleanups.push(() => emulator.close());

    const client = await tcpConnect(emulator.address.port);
    const atClient = collect(client);
    await waitFor('client reset', () => atClient.closed());
    expect(atClient.ended()).toBe(false);
    await waitFor('connection forgotten', () => emulator.stats().activeFlows === 0);
  });

  it('new connection stalls during an upstream blackhole', async () => {
    const { target, emulator, connect } = await setup('lan');
    emulator.blackhole('up');
    const client = await connect();
    client.write('early');
    await sleep(150);
    expect(target.sockets.length).toBe(0);

    emulator.restore();
    await waitFor('target accepted', () => target.sockets.length === 1);
    const atTarget = collect(target.sockets[0] as net.Socket);
    await waitFor('held data', () => atTarget.data().toString() === 'early');
  });

  it('queue limit pauses reading during a blackhole', async () => {
    const limit = 64 * 1024;
    const profile = testProfile({ up: { delayMs: 0, jitterMs: 0, lossRate: 0, queueLimitBytes: limit } });
    const { target, emulator, connect } = await setup(profile);
    const client = await connect();
    await waitFor('target accepted', () => target.sockets.length === 1);
    const atTarget = collect(target.sockets[0] as net.Socket);

    emulator.blackhole('up');
    const payload = seededBytes(1024 * 1024, 3);
    client.write(payload);
    await sleep(200);
    // Reading pauses after the read that crossed the limit; one read adds at most 64 KiB.
    expect(emulator.stats().up.maxHeldBytes).toBeGreaterThan(limit);
    expect(emulator.stats().up.maxHeldBytes).toBeLessThanOrEqual(limit + 64 * 1024);
    expect(atTarget.data().length).toBe(0);

    emulator.restore();
    await waitFor('1 MB delivered', () => atTarget.data().length === payload.length, 10_000);
    expect(sha256(atTarget.data())).toBe(sha256(payload));
  });

  it('blackholeFor and scheduled windows end by themselves', async () => {
    const { target, emulator, connect } = await setup('lan', echo);
    const client = await connect();
    const received = collect(client);
    await waitFor('target accepted', () => target.sockets.length === 1);

    emulator.blackholeFor(150, 'both');
    client.write('a');
    await sleep(75);
    expect(received.data().length).toBe(0);
    await waitFor('echo after the window', () => received.data().toString() === 'a', 1_000);

    emulator.scheduleBlackholes([{ atMs: 0, durationMs: 100, direction: 'down' }]);
    await waitFor('scheduled window started', () => emulator.stats().blackhole.down, 1_000);
    await waitFor('scheduled window ended', () => !emulator.stats().blackhole.down, 1_000);
  });

  it('nat timeout kills an idle connection silently', async () => {
    const { target, emulator, connect } = await setup(testProfile({ natIdleTimeoutMs: 150 }));
    const client = await connect();
    const atClient = collect(client);
    await waitFor('target accepted', () => target.sockets.length === 1);
    const serverSide = target.sockets[0] as net.Socket;
    const atTarget = collect(serverSide);
    client.write('fresh');
    await waitFor('data before the timeout', () => atTarget.data().toString() === 'fresh');

    await sleep(300);
    client.write('late');
    serverSide.end();
    await waitFor('late data dropped', () => emulator.stats().up.dropped.nat === 1);
    await sleep(100);
    expect(atTarget.data().toString()).toBe('fresh');
    expect(atClient.ended()).toBe(false);
  });

  it('stats state that loss is not packet-level', async () => {
    const { emulator } = await setup('3g');
    const stats = emulator.stats();
    expect(stats.backend).toBe('relay');
    expect(stats.protocol).toBe('tcp');
    expect(stats.up.unit).toBe('chunk');
    expect(stats.tcpLossModel).toMatch(/not packet-level/);
    expect(emulator.describe()).toMatch(/not packet-level/);
  });

  it('rebind is unsupported for tcp', async () => {
    const { emulator } = await setup('lan');
    expect(() => emulator.rebind()).toThrow(EmulatorError);
    expect(() => emulator.rebind()).toThrow(/only for protocol "udp"/);
  });

  it('close ends every connection in bounded time', async () => {
    const { emulator, connect } = await setup('lan');
    const client = await connect();
    const atClient = collect(client);
    emulator.blackhole('both');

    const startedAt = performance.now();
    await emulator.close();
    expect(performance.now() - startedAt).toBeLessThan(2_500);
    // The client allows half-open connections, so it receives the FIN but stays open itself.
    await waitFor('client saw the end', () => atClient.ended());
  });
});
