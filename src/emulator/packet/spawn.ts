// Starting processes inside a network namespace with `ip netns exec`, which execs the command
// directly, so the ChildProcess pid is the command's own pid.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Runs `command args` inside the named namespace. */
export function spawnInNamespace(namespace: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', namespace, command, ...args], options);
}

/** Runs a TypeScript or JavaScript file with this Node binary and tsx inside the named namespace. */
export function spawnNodeInNamespace(namespace: string, script: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
  return spawnInNamespace(namespace, process.execPath, ['--import', 'tsx', script, ...args], options);
}

/**
 * Sends SIGTERM, then SIGKILL if the process is still running after `graceMs`; resolves once it
 * has exited.
 */
export async function stopProcess(child: ChildProcess, graceMs = 1_000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
