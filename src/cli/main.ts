#!/usr/bin/env node
// The `pushlab` command. bin/pushlab.mjs runs this file through tsx, so no build step is needed;
// running it directly (`tsx src/cli/main.ts …` or the compiled file) works as well.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { PushlabError, toError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './args.js';
import { GATEWAY_HELP, runGatewayCommand } from './gateway-command.js';
import { runTokenCommand, TOKEN_HELP } from './token-command.js';

export const MAIN_HELP = [
  'Usage: pushlab COMMAND [options]',
  '',
  'Build and compare the long-connection transports of a mobile push system.',
  '',
  'Commands:',
  '  gateway          Start the push gateway and its HTTP API (publish, health, metrics)',
  '  token            Print a signed device token',
  '  help [COMMAND]   Show this help, or the options of COMMAND',
  '',
  "Run 'pushlab COMMAND --help' for the options of a command; docs/CONFIG.md describes the config file.",
  'Exit status: 0 on success, 1 on a runtime failure, 2 on invalid usage or configuration.',
  '',
].join('\n');

const COMMAND_HELP: Record<string, string> = { gateway: GATEWAY_HELP, token: TOKEN_HELP };

/**
 * Runs one CLI invocation and returns its exit status. The gateway command calls `waitForStop`
 * once, and stops when the returned promise resolves with the name of a signal.
 */
export async function runCli(argv: string[], io: CliIo, waitForStop: () => Promise<string>): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.stderr.write(MAIN_HELP);
        return EXIT_USAGE;
      case '--help':
      case '-h':
        io.stdout.write(MAIN_HELP);
        return EXIT_OK;
      case 'help':
        return showHelp(rest[0], io);
      case 'gateway':
        return await runGatewayCommand(rest, io, waitForStop());
      case 'token':
        return await runTokenCommand(rest, io);
      default:
        io.stderr.write(`pushlab: unknown command ${JSON.stringify(command)}; commands: gateway, token, help. Run 'pushlab --help' for usage.\n`);
        return EXIT_USAGE;
    }
  } catch (error) {
    // Configuration and usage problems are the user's to fix, so they get exit status 2 and no stack.
    if (error instanceof PushlabError && error.code === 'CONFIG_INVALID') {
      io.stderr.write(`pushlab: ${error.message}\n`);
      return EXIT_USAGE;
    }
    const failure = toError(error);
    io.stderr.write(`pushlab: ${failure.message}\n${failure.stack ?? ''}\n`);
    return EXIT_FAILURE;
  }
}

function showHelp(topic: string | undefined, io: CliIo): number {
  if (topic === undefined) {
    io.stdout.write(MAIN_HELP);
    return EXIT_OK;
  }
  const text = COMMAND_HELP[topic];
  if (text === undefined) {
    io.stderr.write(`pushlab: no help for ${JSON.stringify(topic)}; commands: ${Object.keys(COMMAND_HELP).join(', ')}\n`);
    return EXIT_USAGE;
  }
  io.stdout.write(text);
  return EXIT_OK;
}

/**
 * Resolves on the first SIGINT or SIGTERM. The listeners are `once`, so a second signal during a
 * slow shutdown gets Node's default handling and ends the process at once.
 */
function waitForProcessSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Runs the CLI on this process's arguments and exits with its status. */
export async function runFromProcess(argv: string[] = process.argv.slice(2)): Promise<never> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const status = await runCli(argv, io, waitForProcessSignal);
  // Exit explicitly so that no leftover handle (a prom-client collector, a socket in its close grace)
  // keeps the process alive. Node writes stdout and stderr synchronously to files, and to pipes on
  // Linux (Node.js docs, "A note on process I/O"), so no output is lost there.
  // NOTE: on macOS, pipe writes are asynchronous and a long final write could be cut short.
  process.exit(status);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runFromProcess();
