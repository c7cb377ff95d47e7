// Kernel memory readings (Linux) for the idle-session benchmark: slab memory, where socket, inode
// and file structures live, and the pages that TCP socket buffers hold. Both are machine-wide, so
// the numbers include other processes' churn; large connection counts keep that noise small.
import { readFileSync } from 'node:fs';

export interface KernelMemoryReading {
  /** Slab allocator memory, bytes (/proc/meminfo Slab). */
  slabBytes: number;
  /** Memory held by TCP socket buffers, bytes (/proc/net/sockstat "TCP: mem", in pages). */
  tcpBufferBytes: number;
}

const PAGE_BYTES = 4096;

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function readKernelMemory(): KernelMemoryReading | null {
  const meminfo = readOrNull('/proc/meminfo');
  const sockstat = readOrNull('/proc/net/sockstat');
  if (meminfo === null || sockstat === null) return null;
  const slabKiB = /^Slab:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  const tcpPages = /^TCP:.*\bmem (\d+)$/m.exec(sockstat)?.[1];
  if (slabKiB === undefined || tcpPages === undefined) return null;
  return { slabBytes: Number(slabKiB) * 1024, tcpBufferBytes: Number(tcpPages) * PAGE_BYTES };
}
