// Writes docs/BENCHMARKS.md: a fixed introduction, then one results section per benchmark between
// HTML comment markers. A run of some benchmarks replaces only their sections and keeps the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BenchReport } from './report.js';
import { targetsTable } from './report.js';

export const RUN_ALL_COMMAND = 'node --import tsx bench/run-all.ts';

const INTRODUCTION = `# Benchmarks

Measured numbers of the pushlab gateway, each next to a baseline measured in the same run on the
same machine. The code is in \`bench/\`; every number below was written by \`bench/run-all.ts\`.

| benchmark | question | baseline in the same run |
|---|---|---|
| \`push-ack-tcp\` | How many pushes per second, and per CPU-second of the gateway, are delivered and acknowledged over TCP + TLS 1.3, and with what latency? | A raw TLS 1.3 server (\`bench/baseline-child.ts\`) that sends messages of the same size with the same window and takes a cumulative ack, with no session layer. |
| \`idle-sessions\` | How much memory does one idle TLS session cost the gateway at 10,000 sessions? | A bare TLS 1.3 server holding the same number of idle sockets. |
| \`coalescing\` | What does small-frame coalescing save (writes, CPU) under the push workload? | The same gateway with \`coalescing.enabled: false\`. |
| \`idle-quic\` | How much memory does one idle QUIC session cost the gateway at 2,000 sessions, which objects make it up, and how many bytes does an idle QUIC session send per hour? | The same gateway holding as many idle TCP + TLS sessions, and idle TCP + TLS sessions for the bytes per hour. |
| \`quic-vs-tcp\` | How many pushes per second, and per gateway CPU-second, are acknowledged over QUIC, and with what latency? | The same workload over TCP + TLS, with UDP and WebTransport rows. |
| \`loss-30\` | Does every message arrive under 30 % loss in each direction, how late, and when is the last one in? | The same workload over UDP, TCP + TLS and QUIC, each on a fresh gateway behind the same emulated link. |

## Running

\`\`\`sh
make bench                                          # all six, about 9 minutes; rewrites this file
${RUN_ALL_COMMAND} idle-sessions coalescing  # a subset; the other sections stay as they are
${RUN_ALL_COMMAND} --no-write                # print the results without touching this file
node --import tsx bench/push-ack-tcp.ts --windows 8 --measure-ms 5000   # one benchmark, printed only
node --import tsx bench/quic-vs-tcp.ts --transports tcp,quic --rounds 1   # two transports, printed only
\`\`\`

All traffic stays on 127.0.0.1, except that \`loss-30\` on the packet backend runs its gateways and
devices in network namespaces of its own, joined only to each other (198.18.0.0/15, see
docs/PACKET-EMULATION.md). \`loss-30\` uses the packet backend when the machine can run it (root,
\`/dev/net/tun\`, the TUN addon built with \`npm run build --prefix native/tun\`) and otherwise the
relay, and its section says which one ran. The servers under test run in child processes, so their
CPU time and memory are read apart from the clients, which run in the bench process. Each child is
killed when the bench process exits or fails. Setting \`PUSHLAB_BENCH_CPU_PROFILE=DIR\` writes a V8 CPU
profile of every child into DIR; \`PUSHLAB_BENCH_HEAP_SNAPSHOT=DIR\` writes heap snapshots of the
idle-session servers before and after the sessions open.

## How to read these numbers

Compare the ratios, not the absolute values. Absolute throughput depends on the machine and on
whatever else runs on it. Each table has a row for the CPU that other processes used during the
measurement, and on a shared machine that row is often far from zero. A ratio against a baseline
measured minutes apart on the same machine carries over to other machines much better.

"Acked messages per server CPU-second" divides acked messages by the user + system CPU time of the
server process alone, so it stays meaningful when the machine, not the server, is the limit. On
2 cores the clients compete with the server for CPU, so messages per second there are a lower
bound.

Latency is measured under a closed loop. With W messages in flight per connection, a message
spends most of its latency waiting behind the others in flight (mean latency ≈ messages in flight
÷ throughput), so compare latencies only between rows with the same window.

Memory per session is the growth of the server process between two readings taken after forced
garbage collection, divided by the number of sessions. Node.js does not count OpenSSL's
per-connection state as \`external\` memory, so that state shows only in RSS. The kernel rows are
machine-wide and include other processes' churn. Their difference between the two columns ranged
from 0.4 to 1.7 KiB per connection over seven runs on the machine named below.

## Limits of these measurements

- Clients and servers share one machine. On 2 cores the bench process and the server child compete
  for CPU, and so does anything else running there.
- Every server runs its TypeScript through tsx, as \`bin/pushlab.mjs\` does. tsx's transform wraps
  each named function expression in a helper that sets the function's \`name\`, and that moves the
  function's properties into a dictionary of about 250 bytes. The heap snapshots of the idle-session
  run show three such closures per gateway session (about 0.75 KB); compiled JavaScript would not
  pay this.
- The gateway keeps the ids of the last 20,000 messages of each device (twice the default inbox
  limit) to detect duplicate publishes. Its memory grows through a push run, and its publish cost
  changes once that window is full; each push section states how many messages per device the
  gateway published over the run.
- Latency samples come from the gateway's own ack-latency histogram, which the bench child wraps
  to keep exact values (the gateway has no ack event), read with a sub-millisecond clock that the
  child injects.
- The QUIC and WebTransport clients run on the same @matrixai/quic library as the servers, in the
  bench process. Their CPU time is in the client rows, and on 2 cores it competes with the
  gateway's.
- \`loss-30\` runs the experiment runner (\`src/experiment/\`, docs/EXPERIMENTS.md) with one cell
  per transport. Its latency runs from the gateway's publish time to the device's receipt, both read
  from the machine's wall clock, and its percentiles come from a few hundred messages, so p99 is
  one of the few slowest.
`;

function markers(name: string): { start: string; end: string } {
  return { start: `<!-- results:${name}:start -->`, end: `<!-- results:${name}:end -->` };
}

export function renderSection(report: BenchReport): string {
  const { start, end } = markers(report.name);
  const targets = report.targets.length > 0 && !report.body.includes(targetsTable(report.targets)) ? `\n\n${targetsTable(report.targets)}` : '';
  return [
    start,
    `## ${report.title} (\`${report.name}\`)`,
    '',
    `- Command: \`${report.command}\``,
    `- Date: ${report.date}`,
    `- Machine: ${report.machine}`,
    '',
    `${report.body}${targets}`,
    end,
  ].join('\n');
}

/** Rewrites `file`, replacing the sections of `reports` and keeping every other section already there. */
export function updateBenchmarksDoc(file: string, reports: BenchReport[], order: string[]): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const sections = new Map<string, string>();
  for (const name of order) {
    const { start, end } = markers(name);
    const from = existing.indexOf(start);
    const to = existing.indexOf(end);
    if (from >= 0 && to > from) sections.set(name, existing.slice(from, to + end.length));
  }
  for (const report of reports) sections.set(report.name, renderSection(report));
  const body = order.filter((name) => sections.has(name)).map((name) => sections.get(name)!);
  writeFileSync(file, `${INTRODUCTION}\n${body.join('\n\n')}\n`);
}
