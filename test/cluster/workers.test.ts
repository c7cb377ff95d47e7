// The gateway as several worker processes sharing one port: sessions land on any worker, state
// lives with the owner of each user, and publishes, resumes and upstream relays cross workers.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient, type ReceivedMessage } from '../../src/client/client.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { ownerIndex } from '../../src/routing/placement.js';
import { seededRandom } from '../../src/random.js';
import { builtinTransports } from '../../transports/index.js';
import { waitFor } from '../helpers/gateway-fixture.js';

const WORKERS = 2;
const secret = randomBytes(48).toString('base64');
const authority = new HmacTokenAuthority(secret);
let gateway: ChildProcess;
let ready: { listeners: { port: number }[]; http: { port: number }; tls: { cert: string } };
const clients: PushClient[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pushlab-cluster-'));
  writeFileSync(path.join(dir, 'secret'), secret);
  gateway = spawn(process.execPath, ['bin/pushlab.mjs', 'gateway', '--listen', 'tcp=127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', String(WORKERS), '--auth-secret-file', path.join(dir, 'secret'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: gateway.stdout! });
  ready = await new Promise((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line)));
    gateway.once('exit', (code) => reject(new Error(`gateway exited with ${code} before it was ready`)));
  });
});

afterAll(async () => {
  for (const client of clients) client.close();
  if (gateway.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
    gateway.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

function newClient(userId: string, deviceId: string, seed: number): PushClient {
  const client = new PushClient({
    transport: builtinTransports().create('tcp'),
    host: '127.0.0.1',
    port: ready.listeners[0]!.port,
    tls: { ca: ready.tls.cert, serverName: 'localhost' },
    userId,
    deviceId,
    token: authority.issue({ userId, deviceId, ttlMs: 600_000 }),
    random: seededRandom(seed),
    backoff: { initialMs: 50, maxMs: 300 },
  });
  clients.push(client);
  return client;
}

async function publish(body: Record<string, unknown>): Promise<{ deliveries: { status: string }[] }> {
  const response = await fetch(`http://127.0.0.1:${ready.http.port}/v1/publish`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(response.status).toBe(200);
  return (await response.json()) as { deliveries: { status: string }[] };
}

describe('multi-process gateway', () => {
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  const received = new Map<string, ReceivedMessage[]>();

  it('spreads users over every worker', () => {
    const owners = new Set(users.map((user) => ownerIndex(user, WORKERS)));
    expect(owners.size).toBe(WORKERS);
  });

  it('delivers publishes wherever the session landed', async () => {
    await Promise.all(
      users.map((user, i) => {
        const client = newClient(user, 'phone', i + 1);
        received.set(user, []);
        client.on('message', (m) => received.get(user)!.push(m));
        return client.connect();
      }),
    );
    for (const user of users) {
      const result = await publish({ userId: user, deviceId: 'phone', payload: `hello ${user}` });
      expect(result.deliveries).toMatchObject([{ status: 'sent' }]);
    }
    await waitFor(() => users.every((user) => received.get(user)!.length === 1), 10_000, 'every user to get one push');
    for (const user of users) expect(Buffer.from(received.get(user)![0]!.payload).toString()).toBe(`hello ${user}`);
  });

  it('resumes after reconnecting to any worker', async () => {
    const client = clients[0]!;
    const user = users[0]!;
    client.dropConnection();
    await publish({ userId: user, deviceId: 'phone', payload: 'while away' });
    await waitFor(() => received.get(user)!.length === 2, 10_000, 'the message sent while away');
    expect(received.get(user)!.map((m) => m.seq)).toEqual([1, 2]);
    expect(client.stats.duplicatesReceived).toBe(0);
  });

  it('relays a client publish to a user owned by another worker', async () => {
    const from = users.find((user) => ownerIndex(user, WORKERS) === 0)!;
    const to = users.find((user) => ownerIndex(user, WORKERS) === 1)!;
    const sender = clients[users.indexOf(from)]!;
    const before = received.get(to)!.length;
    const receipt = await sender.publish(Buffer.from('across workers'), { toUserId: to });
    expect(receipt.messageId).not.toBe('');
    await waitFor(() => received.get(to)!.length === before + 1, 10_000, 'the relayed publish');
  });

  it('aggregates metrics and health over workers', async () => {
    await waitFor(() => clients.every((c) => c.state.kind === 'connected'), 10_000);
    const text = await (await fetch(`http://127.0.0.1:${ready.http.port}/metrics`)).text();
    const helpLines = text.split('\n').filter((line) => line.startsWith('# HELP pushlab_sessions_active '));
    expect(helpLines).toHaveLength(1);
    const sessions = text.split('\n').filter((line) => line.startsWith('pushlab_sessions_active{')).reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    expect(sessions).toBe(users.length);
    // The primary polls worker session counts once a second.
    let sessionsInHealth = -1;
    await waitFor(() => {
      void fetch(`http://127.0.0.1:${ready.http.port}/healthz`)
        .then((response) => response.json())
        .then((health) => (sessionsInHealth = (health as { sessions: number }).sessions));
      return sessionsInHealth === users.length;
    }, 5_000, 'health to count every session');
  });
});
