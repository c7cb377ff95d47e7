import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/emulator/index.js';
import { parseProcNetCounters, tcpCounterDelta, toKernelTcpCounters } from '../../src/experiment/kernel-tcp.js';
import { computeStalls, stallThresholdMs } from '../../src/experiment/stalls.js';

describe('stall threshold', () => {
  it('adds two round trips to the downlink delay', () => {
    const profile = { ...getProfile('lan'), up: { ...getProfile('lan').up, delayMs: 375, jitterMs: 0 }, down: { ...getProfile('lan').down, delayMs: 375, jitterMs: 10 } };
    expect(stallThresholdMs(profile)).toBe(375 + 10 + 1_500);
  });

  it('waits at least 100 ms beyond the delay', () => {
    const profile = { ...getProfile('lan'), up: { ...getProfile('lan').up, delayMs: 10, jitterMs: 0 }, down: { ...getProfile('lan').down, delayMs: 10, jitterMs: 0 } };
    expect(stallThresholdMs(profile)).toBe(110);
  });
});

describe('stalls', () => {
  it('ignores messages within the threshold', () => {
    const summary = computeStalls(
      [
        { device: 0, publishedAtMs: 1_000, latencyMs: 20 },
        { device: 1, publishedAtMs: 1_000, latencyMs: 100 },
      ],
      100,
    );
    expect(summary).toEqual({ thresholdMs: 100, count: 0, totalMs: 0, maxMs: 0, lateMessages: 0, devicesStalled: 0 });
  });

  it('merges overlapping waits of one device', () => {
    // Published at 0, 50 and 100 ms and released together at 600 ms, as behind one lost packet.
    const summary = computeStalls(
      [
        { device: 3, publishedAtMs: 0, latencyMs: 600 },
        { device: 3, publishedAtMs: 50, latencyMs: 550 },
        { device: 3, publishedAtMs: 100, latencyMs: 500 },
      ],
      100,
    );
    // One interval from 0 + 100 to 600.
    expect(summary).toMatchObject({ count: 1, totalMs: 500, maxMs: 500, lateMessages: 3, devicesStalled: 1 });
  });

  it('counts separate waits and devices apart', () => {
    const summary = computeStalls(
      [
        { device: 0, publishedAtMs: 0, latencyMs: 300 },
        { device: 0, publishedAtMs: 1_000, latencyMs: 250 },
        { device: 1, publishedAtMs: 0, latencyMs: 300 },
        { device: 1, publishedAtMs: 10, latencyMs: 5 },
      ],
      100,
    );
    expect(summary).toMatchObject({ count: 3, totalMs: 200 + 150 + 200, maxMs: 200, lateMessages: 3, devicesStalled: 2 });
  });
});

const SNMP = `Ip: Forwarding DefaultTTL
Ip: 2 64
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens OutSegs RetransSegs
Tcp: 1 200 120000 -1 5 440 17
Udp: InDatagrams NoPorts
Udp: 12 0
TcpExt: SyncookiesSent TCPLossProbes TCPTimeouts TCPFastRetrans TCPSynRetrans
TcpExt: 0 9 2 4 1
`;

describe('kernel TCP counters', () => {
  it('reads name and value line pairs', () => {
    const tables = parseProcNetCounters(SNMP);
    expect(tables.Tcp).toMatchObject({ MaxConn: -1, OutSegs: 440, RetransSegs: 17 });
    expect(tables.Udp).toEqual({ InDatagrams: 12, NoPorts: 0 });
    expect(toKernelTcpCounters(tables)).toEqual({ retransSegs: 17, outSegs: 440, lossProbes: 9, timeouts: 2, fastRetrans: 4, synRetrans: 1 });
  });

  it('reads zeros for missing tables', () => {
    expect(toKernelTcpCounters({})).toEqual({ retransSegs: 0, outSegs: 0, lossProbes: 0, timeouts: 0, fastRetrans: 0, synRetrans: 0 });
  });

  it('subtracts counters', () => {
    const before = toKernelTcpCounters(parseProcNetCounters(SNMP));
    const after = { ...before, retransSegs: 30, outSegs: 500 };
    expect(tcpCounterDelta(before, after)).toEqual({ retransSegs: 13, outSegs: 60, lossProbes: 0, timeouts: 0, fastRetrans: 0, synRetrans: 0 });
  });
});
