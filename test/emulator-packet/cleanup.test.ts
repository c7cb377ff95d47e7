import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import {
  cleanupStale,
  isPacketBackendAvailable,
  listNamespaces,
  namespacePairNames,
  PacketLinkEmulator,
  type LinkEmulatorControl,
} from '../../src/emulator/packet/index.js';
import { startPeer } from './helpers.js';

const CRASH_SCRIPT = fileURLToPath(new URL('./fixtures/crash-run.ts', import.meta.url));
/** A prefix of its own, so cleanupStale here only ever finds namespaces of this file's crashed children. */
const CRASH_PREFIX = 'plabcrash-';

beforeAll(async () => {
  const availability = await isPacketBackendAvailable();
  if (!availability.available) throw new Error(`packet emulator backend unavailable: ${availability.reason}`);
  await cleanupStale(CRASH_PREFIX);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Descriptors of this process that refer to /dev/net/tun. */
function openTunDescriptors(): number {
  let count = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === '/dev/net/tun') count++;
    } catch {
      // The descriptor readdir itself used is already closed.
    }
  }
  return count;
}

function linksIn(namespace: string): string {
  return execFileSync('ip', ['-n', namespace, '-o', 'link', 'show'], { encoding: 'utf8' });
}

interface CrashReport {
  client: string;
  gateway: string;
  innerPid: number;
}

/** Runs fixtures/crash-run.ts and resolves with its report and a promise of its exit. */
async function crashRun(mode: 'throw' | 'hang'): Promise<{ report: CrashReport; pid: number; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CRASH_SCRIPT, mode, CRASH_PREFIX], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`crash-run.ts exited with ${code} before reporting`)));
  });
  return { report: JSON.parse(line) as CrashReport, pid: child.pid!, exited };
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('packet emulator cleanup', () => {
  it('close removes namespaces, devices and processes', async () => {
    const emulator = await PacketLinkEmulator.start({ profile: 'lan' });
    const peer = await startPeer(emulator, 'gateway');
    const names = [emulator.clientNamespace, emulator.gatewayNamespace];
    expect(await listNamespaces()).toEqual(expect.arrayContaining(names));
    expect(linksIn(emulator.clientNamespace)).toContain('plab0');
    // The devices live only in the namespaces, never in the test's own namespace.
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain('plab0');
    expect(openTunDescriptors()).toBe(2);

    await emulator.close();

    const remaining = await listNamespaces();
    for (const name of names) expect(remaining).not.toContain(name);
    expect(isAlive(peer.pid)).toBe(false);
    expect(openTunDescriptors()).toBe(0);
    // A second close is a no-op.
    await emulator.close();
  });

  it('failed start removes what it created', async () => {
    const label = 'collide';
    const names = namespacePairNames('plab-', label);
    // A namespace that already has the gateway's name makes setup fail after the client namespace exists.
    execFileSync('ip', ['netns', 'add', names.gateway]);
    try {
      await expect(PacketLinkEmulator.start({ profile: 'lan', label })).rejects.toMatchObject({ name: 'PacketEmulatorError', kind: 'setup-failed' });
      const remaining = await listNamespaces();
      expect(remaining).not.toContain(names.client);
      // A namespace the emulator did not create is never removed.
      expect(remaining).toContain(names.gateway);
    } finally {
      execFileSync('ip', ['netns', 'del', names.gateway]);
    }
  });

  it('exit handler cleans up after an uncaught exception', async () => {
    const { report, exited } = await crashRun('throw');

    expect(await exited).not.toBe(0);
    const remaining = await listNamespaces();
    expect(remaining).not.toContain(report.client);
    expect(remaining).not.toContain(report.gateway);
    await waitUntil('the process in the namespace to end', () => !isAlive(report.innerPid));
  });

  it('cleanupStale removes what a killed run left', async () => {
    const { report, pid, exited } = await crashRun('hang');
    process.kill(pid, 'SIGKILL');
    await exited;

    // SIGKILL runs no handler, so the namespaces stay; the kernel removed the TUN devices with the
    // killed process's descriptors.
    expect(await listNamespaces()).toEqual(expect.arrayContaining([report.client, report.gateway]));
    expect(linksIn(report.gateway)).not.toContain('plab0');
    expect(isAlive(report.innerPid)).toBe(true);

    const removed = await cleanupStale(CRASH_PREFIX);

    expect(removed.sort()).toEqual([report.client, report.gateway].sort());
    const remaining = await listNamespaces();
    expect(remaining).not.toContain(report.client);
    expect(remaining).not.toContain(report.gateway);
    await waitUntil('the orphaned process to end', () => !isAlive(report.innerPid));
  });

  it('cleanupStale keeps namespaces of live runs', async () => {
    const emulator = await PacketLinkEmulator.start({ profile: 'lan', namespacePrefix: CRASH_PREFIX });
    try {
      expect(await cleanupStale(CRASH_PREFIX)).toEqual([]);
      expect(await listNamespaces()).toContain(emulator.clientNamespace);
    } finally {
      await emulator.close();
    }
  });

  it('both backends implement the shared control type', () => {
    expectTypeOf<PacketLinkEmulator>().toMatchTypeOf<LinkEmulatorControl>();
    expectTypeOf<LinkEmulator>().toMatchTypeOf<LinkEmulatorControl>();
  });
});
