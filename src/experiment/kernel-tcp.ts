// Kernel TCP counters of one network namespace, read from /proc/net/snmp (Tcp: RetransSegs,
// OutSegs) and /proc/net/netstat (TcpExt: TCPLossProbes, TCPTimeouts, TCPFastRetrans,
// TCPSynRetrans). Both files show the counters of the reading process's network namespace, so the
// runner reads them with `ip netns exec`. Each namespace of the packet backend is fresh, so its
// counters count only that cell's traffic (the gateway namespace's loopback traffic to the HTTP API
// included, which never retransmits).
import { execFile } from 'node:child_process';

export interface KernelTcpCounters {
  /** Segments sent again (Tcp RetransSegs). */
  retransSegs: number;
  outSegs: number;
  lossProbes: number;
  timeouts: number;
  fastRetrans: number;
  synRetrans: number;
}

const READ_TIMEOUT_MS = 5_000;

/** Parses the "Prefix: names…" / "Prefix: values…" line pairs of /proc/net/snmp and /proc/net/netstat. */
export function parseProcNetCounters(text: string): Record<string, Record<string, number>> {
  const tables: Record<string, Record<string, number>> = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    const prefix = names[0];
    if (prefix === undefined || !prefix.endsWith(':') || values[0] !== prefix || names.length !== values.length) continue;
    // A header line is followed by its values; skip the values line so it is not read as a header.
    if (values.slice(1).some((value) => !/^-?\d+$/.test(value))) continue;
    const table: Record<string, number> = (tables[prefix.slice(0, -1)] ??= {});
    for (let column = 1; column < names.length; column++) table[names[column]!] = Number(values[column]);
    i++;
  }
  return tables;
}

export function toKernelTcpCounters(tables: Record<string, Record<string, number>>): KernelTcpCounters {
  const tcp = tables.Tcp ?? {};
  const ext = tables.TcpExt ?? {};
  return {
    retransSegs: tcp.RetransSegs ?? 0,
    outSegs: tcp.OutSegs ?? 0,
    lossProbes: ext.TCPLossProbes ?? 0,
    timeouts: ext.TCPTimeouts ?? 0,
    fastRetrans: ext.TCPFastRetrans ?? 0,
    synRetrans: ext.TCPSynRetrans ?? 0,
  };
}

/** Reads the counters inside the named network namespace; rejects when `ip netns exec` fails. */
export function readNamespaceTcpCounters(namespace: string): Promise<KernelTcpCounters> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', namespace, 'cat', '/proc/net/snmp', '/proc/net/netstat'], { timeout: READ_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout) => {
      if (error !== null) {
        reject(error);
        return;
      }
      resolve(toKernelTcpCounters(parseProcNetCounters(stdout)));
    });
  });
}

/** Counter increase from `before` to `after`. */
export function tcpCounterDelta(before: KernelTcpCounters, after: KernelTcpCounters): KernelTcpCounters {
  return {
    retransSegs: after.retransSegs - before.retransSegs,
    outSegs: after.outSegs - before.outSegs,
    lossProbes: after.lossProbes - before.lossProbes,
    timeouts: after.timeouts - before.timeouts,
    fastRetrans: after.fastRetrans - before.fastRetrans,
    synRetrans: after.synRetrans - before.synRetrans,
  };
}
