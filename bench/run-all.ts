// Runs the benchmarks (all, or those named on the command line), prints a summary and rewrites their
// sections of docs/BENCHMARKS.md. Usage:
//
//   node --import tsx bench/run-all.ts [push-ack-tcp] [idle-sessions] [coalescing] [idle-quic]
//                                      [quic-vs-tcp] [loss-30] [--no-write]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as coalescing from './coalescing.js';
import * as idleQuic from './idle-quic.js';
import * as idleSessions from './idle-sessions.js';
import * as loss30 from './loss-30.js';
import * as pushAck from './push-ack-tcp.js';
import * as quicVsTcp from './quic-vs-tcp.js';
import { RUN_ALL_COMMAND, updateBenchmarksDoc } from './lib/doc.js';
import type { BenchReport } from './lib/report.js';

const DOC_FILE = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));

const BENCHMARKS: { name: string; run(command: string): Promise<BenchReport> }[] = [
  { name: pushAck.NAME, run: (command) => pushAck.run(pushAck.PUSH_ACK_DEFAULTS, command) },
  { name: idleSessions.NAME, run: (command) => idleSessions.run({ sessions: 10_000 }, command) },
  { name: coalescing.NAME, run: (command) => coalescing.run(coalescing.COALESCING_DEFAULTS, command) },
  { name: idleQuic.NAME, run: (command) => idleQuic.run(idleQuic.IDLE_QUIC_DEFAULTS, command) },
  { name: quicVsTcp.NAME, run: (command) => quicVsTcp.run(quicVsTcp.QUIC_VS_TCP_DEFAULTS, command) },
  { name: loss30.NAME, run: (command) => loss30.run(loss30.LOSS_30_DEFAULTS, command) },
];
const ORDER = BENCHMARKS.map((b) => b.name);

const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: { 'no-write': { type: 'boolean' } }, allowPositionals: true });
const unknown = positionals.filter((name) => !ORDER.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.map((n) => `"${n}"`).join(', ')}; choose from ${ORDER.join(', ')}`);
  process.exit(2);
}
const selected = positionals.length > 0 ? BENCHMARKS.filter((b) => positionals.includes(b.name)) : BENCHMARKS;

const reports: BenchReport[] = [];
const started = Date.now();
for (const benchmark of selected) {
  const benchStarted = Date.now();
  console.error(`== ${benchmark.name}`);
  // The command that reproduces this section: run-all with this benchmark's name.
  const report = await benchmark.run(`${RUN_ALL_COMMAND} ${benchmark.name}`);
  reports.push(report);
  console.error(`== ${benchmark.name} done in ${((Date.now() - benchStarted) / 1000).toFixed(0)} s`);
}

console.log(`\nSummary (${((Date.now() - started) / 1000).toFixed(0)} s in total)`);
for (const report of reports) {
  console.log(`\n${report.name}`);
  for (const line of report.summary) console.log(`  ${line}`);
  for (const target of report.targets) console.log(`  target ${target.name}: ${target.target}, measured ${target.measured}: ${target.met ? 'met' : 'NOT met'}`);
}

if (values['no-write']) {
  console.log('\n--no-write: docs/BENCHMARKS.md left unchanged');
} else {
  updateBenchmarksDoc(DOC_FILE, reports, ORDER);
  console.log(`\nwrote ${DOC_FILE}`);
}
