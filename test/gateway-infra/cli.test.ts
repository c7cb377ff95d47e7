import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/args.js';
import type { ReadyLine } from '../../src/cli/gateway-command.js';
import { runCli } from '../../src/cli/main.js';
import { PushClient } from '../../src/client/client.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { silentLogger } from '../../src/logger.js';
import { seededRandom } from '../../src/random.js';
import { builtinTransports } from '../../transports/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAUNCHER = path.join(ROOT, 'bin/pushlab.mjs');
const SECRET = 'cli-test-secret-0123456789abcdef-0123456789';
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 15_000;

let dir: string;
let secretFile: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pushlab-cli-'));
  secretFile = path.join(dir, 'secret.txt');
  await writeFile(secretFile, `${SECRET}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const children: ChildProcess[] = [];
const clients: PushClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface CapturedRun {
  status: number;
  stdout: string;
  stderr: string;
}

async function runInProcess(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env };
  // In-process runs never reach a running gateway, so the stop signal never needs to arrive.
  const status = await runCli(argv, io, () => new Promise<string>(() => undefined));
  return { status, stdout, stderr };
}

interface SpawnedCli {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnCli(argv: string[], env: NodeJS.ProcessEnv = {}): SpawnedCli {
  const child = spawn(process.execPath, [LAUNCHER, ...argv], { cwd: ROOT, env: { ...process.env, PUSHLAB_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exit };
}

/** Resolves with the first stdout line; rejects when the process exits first or the timeout passes. */
function readReadyLine(spawned: SpawnedCli): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within ${READY_TIMEOUT_MS} ms; stderr:\n${spawned.stderr()}`)), READY_TIMEOUT_MS);
    spawned.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(buffered.slice(0, newline)) as ReadyLine);
    });
    void spawned.exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before the ready line; stderr:\n${spawned.stderr()}`));
    });
  });
}

async function waitForExit(spawned: SpawnedCli): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${EXIT_TIMEOUT_MS} ms; stderr:\n${spawned.stderr()}`)), EXIT_TIMEOUT_MS);
  });
  try {
    return await Promise.race([spawned.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('pushlab gateway process', () => {
  it('prints a ready line, serves HTTP and exits 0 on SIGTERM', async () => {
    const spawned = spawnCli(['gateway', '--listen', 'tcp=127.0.0.1:0', '--http', '127.0.0.1:0']);

    const ready = await readReadyLine(spawned);

    expect(ready.event).toBe('ready');
    expect(ready.pid).toBe(spawned.child.pid);
    expect(ready.listeners).toHaveLength(1);
    expect(ready.listeners[0]).toMatchObject({ transport: 'tcp', host: '127.0.0.1' });
    expect(ready.listeners[0]!.port).toBeGreaterThan(0);
    expect(ready.http.host).toBe('127.0.0.1');
    expect(ready.tls.selfSigned).toBe(true);
    expect(ready.tls.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ready.tls.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);

    const health = await fetch(`http://127.0.0.1:${ready.http.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', sessions: 0, listeners: [{ transport: 'tcp', port: ready.listeners[0]!.port }] });

    const metrics = await fetch(`http://127.0.0.1:${ready.http.port}/metrics`);
    const text = await metrics.text();
    expect(metrics.status).toBe(200);
    expect(text).toContain('# TYPE pushlab_connections_opened_total counter');
    expect(text).toContain('# TYPE pushlab_gateway_process_resident_memory_bytes gauge');

    spawned.child.kill('SIGTERM');
    const exit = await waitForExit(spawned);
    expect(exit.code, spawned.stderr()).toBe(0);
    expect(spawned.stderr()).toContain('shutdown complete');
    expect(spawned.stderr()).toContain('self-signed certificate for development only');
  });

  it('delivers an HTTP publish to a client holding a CLI token', async () => {
    const spawned = spawnCli(['gateway', '--listen', 'tcp=127.0.0.1:0', '--http', '127.0.0.1:0', '--auth-secret-file', secretFile, '--log-level', 'warn']);
    const ready = await readReadyLine(spawned);
    const token = await runInProcess(['token', '--user', 'alice', '--device', 'phone', '--ttl', '5m', '--secret-file', secretFile]);
    expect(token.status).toBe(0);

    const client = new PushClient({
      transport: builtinTransports().create('tcp'),
      host: ready.listeners[0]!.host,
      port: ready.listeners[0]!.port,
      tls: { ca: ready.tls.cert, serverName: 'localhost' },
      userId: 'alice',
      deviceId: 'phone',
      token: token.stdout.trim(),
      random: seededRandom(7),
      connectTimeoutMs: 5_000,
      logger: silentLogger(),
    });
    clients.push(client);
    const received: string[] = [];
    client.on('message', (message) => received.push(Buffer.from(message.payload).toString('utf8')));
    await client.connect();

    const publish = await fetch(`http://127.0.0.1:${ready.http.port}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'alice', deviceId: 'phone', payload: 'from the CLI test' }),
    });
    expect(publish.status).toBe(200);
    expect(((await publish.json()) as { deliveries: unknown[] }).deliveries).toEqual([{ deviceId: 'phone', seq: 1, status: 'sent' }]);
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual(['from the CLI test']);

    client.close();
    spawned.child.kill('SIGINT');
    expect((await waitForExit(spawned)).code, spawned.stderr()).toBe(0);
  });

  it('exits 2 on an unknown flag', async () => {
    const spawned = spawnCli(['gateway', '--listen-on', 'tcp=127.0.0.1:0']);
    const exit = await waitForExit(spawned);
    expect(exit.code).toBe(2);
    expect(spawned.stderr()).toContain('pushlab: unknown option --listen-on');
  });

  it('exits 1 when the HTTP port is taken', async () => {
    const first = spawnCli(['gateway', '--listen', 'tcp=127.0.0.1:0', '--http', '127.0.0.1:0', '--log-level', 'warn']);
    const ready = await readReadyLine(first);

    const second = spawnCli(['gateway', '--listen', 'tcp=127.0.0.1:0', '--http', `127.0.0.1:${ready.http.port}`]);
    const exit = await waitForExit(second);
    expect(exit.code).toBe(1);
    expect(second.stderr()).toContain('HTTP API failed to start');

    first.child.kill('SIGTERM');
    expect((await waitForExit(first)).code).toBe(0);
  });
});

describe('pushlab command line', () => {
  it('prints the main help', async () => {
    const run = await runInProcess(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: pushlab COMMAND/);
    expect(run.stdout).toContain('gateway');
    expect(run.stdout).toContain('token');
  });

  it('prints per-command help with units', async () => {
    const gateway = await runInProcess(['gateway', '--help']);
    expect(gateway.status).toBe(0);
    expect(gateway.stdout).toMatch(/--heartbeat-interval DURATION +Send silence/);
    expect(gateway.stdout).toContain('Default: 30s.');
    expect(gateway.stdout).toContain('--no-coalescing');

    const token = await runInProcess(['help', 'token']);
    expect(token.status).toBe(0);
    expect(token.stdout).toMatch(/--ttl DURATION +Lifetime from now/);
  });

  it('rejects no command and an unknown command with status 2', async () => {
    const none = await runInProcess([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Usage: pushlab COMMAND/);

    const unknown = await runInProcess(['gatewy']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "gatewy"');

    const badTopic = await runInProcess(['help', 'frobnicate']);
    expect(badTopic.status).toBe(2);
  });

  it('issues a token the gateway verifies', async () => {
    const run = await runInProcess(['token', '--user', 'alice', '--device', 'phone', '--ttl', '1h', '--secret-file', secretFile]);

    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.endsWith('\n')).toBe(true);
    const claims = new HmacTokenAuthority(SECRET).verify(run.stdout.trim(), { userId: 'alice', deviceId: 'phone' });
    expect(claims.expiresAt - claims.issuedAt).toBe(3_600_000);
  });

  it('reads the token secret from the environment', async () => {
    const run = await runInProcess(['token', '--user', 'bob'], { PUSHLAB_AUTH_SECRET: SECRET });
    expect(run.status, run.stderr).toBe(0);
    expect(new HmacTokenAuthority(SECRET).verify(run.stdout.trim(), { userId: 'bob', deviceId: 'any' }).deviceId).toBeUndefined();
  });

  it('reads the token secret from a config file', async () => {
    const config = path.join(dir, 'token-config.json');
    await writeFile(config, JSON.stringify({ auth: { secretFile: 'secret.txt' } }));
    const run = await runInProcess(['token', '--user', 'carol', '--config', config]);
    expect(run.status, run.stderr).toBe(0);
    expect(new HmacTokenAuthority(SECRET).verify(run.stdout.trim(), { userId: 'carol', deviceId: 'x' }).userId).toBe('carol');
  });

  it('rejects bad token requests with status 2', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['token', '--secret-file', 'x'], {}, /--user is required/],
      [['token', '--user', 'alice'], {}, /no auth secret/],
      [['token', '--user', 'alice', '--ttl', '60'], { PUSHLAB_AUTH_SECRET: SECRET }, /--ttl: expected a duration with a unit/],
      [['token', '--user', 'alice', '--ttl', '400d'], { PUSHLAB_AUTH_SECRET: SECRET }, /--ttl/],
      [['token', '--user', 'alice', '--ttl', '0s'], { PUSHLAB_AUTH_SECRET: SECRET }, /--ttl: expected more than 0/],
      [['token', '--user', 'alice'], { PUSHLAB_AUTH_SECRET: 'short' }, /PUSHLAB_AUTH_SECRET: the auth secret is 5 bytes/],
      [['token', '--user', 'alice', '--bogus'], {}, /unknown option --bogus/],
      [['token', '--user', 'alice', 'extra'], {}, /Unexpected argument 'extra'/],
    ];
    for (const [argv, env, message] of cases) {
      const run = await runInProcess(argv, env);
      expect(run.status, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toMatch(message);
      expect(run.stdout, argv.join(' ')).toBe('');
    }
  });

  it('rejects an invalid gateway config with status 2 before starting', async () => {
    const config = path.join(dir, 'bad-gateway.json');
    await writeFile(config, JSON.stringify({ heartbeat: { intervalMs: 'often' } }));
    const run = await runInProcess(['gateway', '--config', config]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/heartbeat\.intervalMs must be an integer/);
  });
});
