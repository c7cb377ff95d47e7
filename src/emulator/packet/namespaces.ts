// Network namespaces of the packet emulator, created and removed with iproute2's `ip netns`.
//
// Names are `${prefix}${pid}-${label}-c` (client) and `-g` (gateway). The owner's pid in the name
// lets cleanupStale() remove what a crashed run left behind without touching namespaces of runs
// that are still alive, including parallel test workers.
import type { Logger } from '../../logger.js';
import { runCommand, runCommandSync, runIp, runIpSync } from './commands.js';
import { PacketEmulatorError } from './errors.js';

export const DEFAULT_NAMESPACE_PREFIX = 'plab-';
/** Directory in which `ip netns add` bind-mounts named namespaces (iproute2's NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/run/netns';

export interface NamespacePairNames {
  client: string;
  gateway: string;
}

const NAME_PART = /^[A-Za-z0-9_.-]+$/;
/** Keeps names readable in `ip netns list`; iproute2 itself allows up to NAME_MAX. */
const MAX_NAME_LENGTH = 64;

export function netnsPath(name: string): string {
  return `${NETNS_RUN_DIR}/${name}`;
}

/** Builds the two namespace names of one emulator; throws PacketEmulatorError for an invalid prefix or label. */
export function namespacePairNames(prefix: string, label: string, pid = process.pid): NamespacePairNames {
  for (const [what, value] of [['prefix', prefix], ['label', label]] as const) {
    if (!NAME_PART.test(value)) {
      throw new PacketEmulatorError('setup-failed', `namespace ${what} must match ${NAME_PART.source}, got ${JSON.stringify(value)}`);
    }
  }
  const base = `${prefix}${pid}-${label}`;
  if (base.length + 2 > MAX_NAME_LENGTH) {
    throw new PacketEmulatorError('setup-failed', `namespace name ${base}-c is longer than ${MAX_NAME_LENGTH} characters; use a shorter prefix or label`);
  }
  return { client: `${base}-c`, gateway: `${base}-g` };
}

/** Returns the pid encoded in a namespace name made by namespacePairNames, or undefined. */
export function ownerPidOf(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const match = /^(\d+)-.+-[cg]$/.exec(name.slice(prefix.length));
  return match === null ? undefined : Number(match[1]);
}

function parseNamespaceList(output: string): string[] {
  // Each line is "name" or "name (id: N)".
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

export async function listNamespaces(): Promise<string[]> {
  return parseNamespaceList(await runIp(['netns', 'list']));
}

/**
 * Sets loopback up and disables IPv6 in a new namespace. With IPv6 off, the kernel sends no router
 * solicitations or MLD reports across the emulated link. The emulator forwards IPv4 only, so
 * those packets would show up in the stats as dropped 'unsupported'.
 */
export async function prepareNamespace(name: string, logger: Logger): Promise<void> {
  await runIp(['-n', name, 'link', 'set', 'lo', 'up']);
  try {
    await runCommand('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  } catch (error) {
    logger.warn({ err: error, namespace: name }, 'disabling IPv6 in the namespace failed; IPv6 packets will be dropped as unsupported');
  }
}

function parsePids(output: string): number[] {
  return output
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** Pids of the processes running inside a named namespace. */
export async function namespacePids(name: string): Promise<number[]> {
  return parsePids(await runIp(['netns', 'pids', name]));
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Kills every process left inside the namespace and removes its name. A process would otherwise
 * keep the namespace alive, unnamed and out of reach of cleanupStale().
 */
export async function deleteNamespace(name: string): Promise<void> {
  killAll(await namespacePids(name).catch(() => []));
  await runIp(['netns', 'del', name]);
}

/** deleteNamespace for process exit handlers. */
export function deleteNamespaceSync(name: string): void {
  let pids: number[] = [];
  try {
    pids = parsePids(runIpSync(['netns', 'pids', name]));
  } catch {
    // The namespace may be half created; removing the name below is still worth trying.
  }
  killAll(pids);
  runCommandSync('ip', ['netns', 'del', name]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the pid exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces named with `prefix` whose owner process is gone (a run that crashed or was
 * killed), with the processes inside them, and returns their names. Namespaces of live owners
 * and names that do not follow namespacePairNames are left alone.
 * NOTE: a reused pid makes a stale namespace look alive; it is then removed by a later call.
 */
export async function cleanupStale(prefix = DEFAULT_NAMESPACE_PREFIX, logger?: Logger): Promise<string[]> {
  if (prefix === '') throw new PacketEmulatorError('setup-failed', 'cleanupStale needs a non-empty prefix, so it never removes namespaces it did not create');
  const removed: string[] = [];
  for (const name of await listNamespaces()) {
    const owner = ownerPidOf(name, prefix);
    if (owner === undefined || owner === process.pid || isAlive(owner)) continue;
    await deleteNamespace(name);
    removed.push(name);
    logger?.info({ namespace: name, ownerPid: owner }, 'removed stale namespace');
  }
  return removed;
}
