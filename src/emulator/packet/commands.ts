// Runs iproute2 and other system commands with a time limit and typed errors.
import { execFile, execFileSync } from 'node:child_process';
import { PacketEmulatorError } from './errors.js';

/** No command the emulator runs should take this long; a hung `ip` must not hang a test run. */
const COMMAND_TIMEOUT_MS = 10_000;

function describeFailure(file: string, args: readonly string[], error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string }).stderr?.toString().trim();
  let detail = error instanceof Error ? error.message : String(error);
  // iproute2 explains failures on stderr, for example "Cannot create namespace file ... File exists".
  if (stderr !== undefined && stderr !== '') detail = stderr;
  return `${file} ${args.join(' ')} failed: ${detail}`;
}

/** Runs `file args` and resolves with its stdout; throws PacketEmulatorError ('command-failed'). */
export function runCommand(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new PacketEmulatorError('command-failed', describeFailure(file, args, { ...error, stderr, message: error.message }), { cause: error }));
        return;
      }
      resolve(stdout);
    });
  });
}

/** Synchronous runCommand, for process exit handlers, where nothing asynchronous runs any more. */
export function runCommandSync(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new PacketEmulatorError('command-failed', describeFailure(file, args, error), { cause: error });
  }
}

export const runIp = (args: readonly string[]): Promise<string> => runCommand('ip', args);
export const runIpSync = (args: readonly string[]): string => runCommandSync('ip', args);
