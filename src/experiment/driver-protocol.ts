// The JSON-lines protocol between the runner and the device driver (device-driver.ts), which runs
// the fleet in the client's network namespace. The runner writes requests to the driver's stdin,
// one JSON object a line. The driver writes events and replies to its stdout the same way, and its
// pino log lines to stderr.
import type { ExperimentPhase } from './errors.js';
import type { FleetSpec, FleetSummary } from './fleet.js';

export type DriverRequest =
  | { type: 'start'; id: number; spec: FleetSpec; logLevel: string }
  | { type: 'connect'; id: number; indices: number[]; concurrency: number; deadline: number }
  | { type: 'summary'; id: number }
  | { type: 'close'; id: number; graceMs: number };

export type DriverMessage =
  /** The driver has loaded its modules and reads requests. */
  | { type: 'listening' }
  | { type: 'receipt'; device: number; messageId: string; publishedAtMs: number; latencyMs: number }
  | { type: 'connected'; count: number }
  | { type: 'reply'; id: number; ok: true; summary?: FleetSummary }
  | { type: 'reply'; id: number; ok: false; message: string; phase?: ExperimentPhase };

/** Splits a stream of text chunks into lines and passes each complete, non-empty line on. */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0) onLine(line);
  };
}
