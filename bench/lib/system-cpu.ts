// Machine-wide CPU time from /proc/stat (Linux), so a report can show how much of the machine other
// processes used while a benchmark was measuring. Elsewhere the reading is null and reports show n/a.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface SystemCpuReading {
  /** Busy CPU-seconds summed over all cores since boot. */
  busySeconds: number;
}

/** Clock ticks per second of /proc/stat; 100 on every mainstream Linux build (USER_HZ). */
const USER_HZ = 100;

export function readSystemCpu(): SystemCpuReading | null {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const fields = text.split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the only non-busy ones.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return { busySeconds: (user + nice + system + irq + softirq + steal) / USER_HZ };
}

/** Average number of busy cores between two readings taken `seconds` apart. */
export function busyCores(first: SystemCpuReading | null, last: SystemCpuReading | null, seconds: number): number | null {
  if (!first || !last || seconds <= 0) return null;
  return Math.min(os.cpus().length, (last.busySeconds - first.busySeconds) / seconds);
}
