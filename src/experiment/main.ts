// Entry point of the experiment runner (`make run-experiment`):
//   node --import tsx src/experiment/main.ts [--scenario FILE] [--out DIR] [--verbose]
// Prints progress and logs on stderr, the results table on stdout, and writes the JSON report.
// Exit status: 0 when every pair passed, 1 when a phase failed or a message was lost or
// duplicated, 2 for invalid usage or an invalid scenario.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { PushlabError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ExperimentError } from './errors.js';
import { runExperiment } from './experiment.js';
import { formatGatewayLogLine } from './gateway-process.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { formatSummary, writeReport } from './report.js';
import { loadScenario } from './scenario.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const HELP = `Usage: node --import tsx src/experiment/main.ts [--scenario FILE] [--out DIR] [--verbose]

Runs a pushlab experiment: for every transport × link profile of the scenario it opens an emulated
link (packet-level in network namespaces when run as root, else a userspace relay), starts a
gateway process and a fleet of devices, publishes through the HTTP API while the profile's link
events (blackholes, NAT rebinding) happen, drains, and reports connect time, latency, head-of-line
stalls, retransmissions, loss, duplicates, heartbeat cost and memory.

Options:
  --scenario FILE  Scenario JSON file. Default: experiments/default.json of this checkout.
  --out DIR        Directory for <scenario>-<time>.json and latest.json. Default: results.
  --verbose        Log at info level (runner and gateway) instead of warn.
  --help           Show this help.

Exit status: 0 when every pair passed, 1 when a phase failed or a message was lost or duplicated,
2 for invalid usage or an invalid scenario. docs/EXPERIMENTS.md describes the scenario format.
`;

export interface MainIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
}

export async function main(argv: string[], io: MainIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { scenario: { type: 'string' }, out: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`experiment: ${toError(error).message.split('\n')[0]}\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT_PASSED;
  }

  const verbose = values.verbose === true;
  const logger: Logger = pino({ level: verbose ? 'info' : 'warn', name: 'experiment' }, pino.destination({ fd: 2, sync: true }));
  const progress = new ProgressReporter(io.stderr);
  const scenarioFile = values.scenario ?? path.join(REPO_ROOT, 'experiments/default.json');
  const outDir = path.resolve(values.out ?? 'results');

  try {
    const scenario = loadScenario(scenarioFile);
    const report = await runExperiment(scenario, {
      logger,
      progress,
      gatewayLogLevel: verbose ? 'info' : 'warn',
      onGatewayLog: (line) => progress.note(`gateway ${formatGatewayLogLine(line)}`),
      onHelperLog: (line) => progress.note(formatHelperLogLine(line)),
    });
    io.stdout.write(formatSummary(report));
    const written = await writeReport(report, outDir);
    io.stdout.write(`report: ${written.file} (also ${written.latest})\n`);
    return report.outcome === 'passed' ? EXIT_PASSED : EXIT_FAILED;
  } catch (error) {
    if (error instanceof PushlabError && (error.code === 'CONFIG_INVALID' || error.code === 'TRACE_INVALID')) {
      io.stderr.write(`experiment: ${error.message}\n`);
      return EXIT_USAGE;
    }
    const failure = toError(error);
    // An ExperimentError's message names the cause and the fix; anything else gets its stack.
    const detail = error instanceof ExperimentError ? '' : `${failure.stack ?? ''}\n`;
    io.stderr.write(`experiment: failed: ${failure.message}\n${detail}`);
    return EXIT_FAILED;
  }
}

/** Formats "<helper> <pino JSON>" as "<helper> level: message {fields}". */
function formatHelperLogLine(line: string): string {
  const space = line.indexOf(' ');
  return space < 0 ? line : `${line.slice(0, space)} ${formatGatewayLogLine(line.slice(space + 1))}`;
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

if (isEntryPoint()) {
  // Exiting through process.exit runs the 'exit' hook that kills the gateway processes; a plain
  // signal death would skip it and leave them running.
  const signalStatus = { SIGINT: 130, SIGTERM: 143 } as const;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nexperiment: stopped by ${signal}; no report written\n`);
      process.exit(signalStatus[signal]);
    });
  }
  const status = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
  // Exit explicitly: a socket in its close grace period must not hold the finished run open.
  process.exit(status);
}
