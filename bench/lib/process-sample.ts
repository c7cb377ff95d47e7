// CPU and memory readings of the current process, taken inside the child that runs the server under
// test so the load generator's own work never shows up in them.
import { performance } from 'node:perf_hooks';

export interface ProcessSample {
  /** Monotonic time of the reading, ms. */
  atMs: number;
  /** Cumulative CPU time since the process started, µs. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

export function sampleProcess(): ProcessSample {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    atMs: performance.now(),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    arrayBuffersBytes: memory.arrayBuffers,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs full garbage collections until the heap stops shrinking (at most `maxRounds`), with pauses
 * so that finalizers and freed native buffers are processed between rounds. Needs --expose-gc.
 */
export async function collectGarbage(maxRounds = 6): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('garbage collection is not exposed; start this process with node --expose-gc');
  let previous = Number.POSITIVE_INFINITY;
  for (let round = 0; round < maxRounds; round++) {
    gc();
    await sleep(100);
    const used = process.memoryUsage().heapUsed;
    if (used >= previous * 0.999) return;
    previous = used;
  }
}
