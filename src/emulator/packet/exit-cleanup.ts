// Removes this process's namespaces when it exits without closing its emulators: on 'exit'
// (process.exit, an uncaught exception) and on SIGINT, SIGTERM and SIGHUP. A SIGKILL leaves them
// behind for cleanupStale(). TUN devices need no handler: the kernel removes a non-persistent TUN
// device when its last descriptor closes, which happens at any exit.
import { deleteNamespaceSync } from './namespaces.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const live = new Set<string>();
let installed = false;

function cleanupSync(): void {
  for (const name of live) {
    try {
      deleteNamespaceSync(name);
    } catch {
      // The process is exiting, so no caller remains to receive the error.
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupSync();
  uninstall();
  // Without other listeners, re-raise so the default action (exit by signal) still happens.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

// Handlers are removed once nothing is tracked, so an idle process keeps the default signal behaviour.
function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', cleanupSync);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Registers namespaces to remove if the process exits before untrackNamespaces() is called. */
export function trackNamespaces(names: readonly string[]): void {
  for (const name of names) live.add(name);
  if (live.size > 0) install();
}

export function untrackNamespaces(names: readonly string[]): void {
  for (const name of names) live.delete(name);
  if (live.size === 0) uninstall();
}
