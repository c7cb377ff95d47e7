import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadScenario, parseScenario } from '../../src/experiment/scenario.js';
import { planCells } from '../../src/experiment/experiment.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import { TcpTransport } from '../../transports/tcp/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function minimal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'unit',
    transports: ['tcp'],
    profiles: ['wifi'],
    devices: 4,
    durationMs: 5_000,
    publishRatePerSec: 10,
    heartbeat: { intervalMs: 500, timeoutMs: 1_000 },
    ...overrides,
  };
}

function parse(raw: unknown): ReturnType<typeof parseScenario> {
  return parseScenario(raw, 'unit.json', ROOT);
}

function messageOf(raw: unknown): string {
  try {
    parse(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the scenario to be rejected');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pushlab-scenario-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scenario files', () => {
  it('loads experiments/default.json', () => {
    const scenario = loadScenario(path.join(ROOT, 'experiments/default.json'));
    expect(scenario.name).toBe('default');
    expect(scenario.backend).toBe('auto');
    expect(scenario.transports).toEqual(['tcp', 'quic', 'udp']);
    const byName = new Map(scenario.profiles.map((profile) => [profile.name, profile]));
    expect([...byName.keys()]).toEqual(['loss-2', 'loss-30', 'rtt-750', 'blackholes', 'rebind']);
    expect(byName.get('loss-2')!.down.lossRate).toBe(0.02);
    expect(byName.get('loss-30')!.up.lossRate).toBe(0.3);
    expect(byName.get('rtt-750')!.up.delayMs + byName.get('rtt-750')!.down.delayMs).toBe(750);
    expect(scenario.profileEvents.blackholes).toEqual([
      { type: 'blackhole', atMs: 500, durationMs: 5_000, direction: 'up' },
      { type: 'blackhole', atMs: 6_000, durationMs: 2_000, direction: 'down' },
    ]);
    expect(scenario.profileEvents.rebind).toEqual([{ type: 'rebind', atMs: 1_000 }]);
    // Sessions should survive the 5 s blackhole, so the transports have to recover by themselves.
    expect(scenario.heartbeat.intervalMs + scenario.heartbeat.timeoutMs).toBeGreaterThan(5_000);
  });

  it.each(['profiles', 'adverse-full', 'smoke-packet'])('loads experiments/%s.json', (name) => {
    const scenario = loadScenario(path.join(ROOT, `experiments/${name}.json`));
    expect(scenario.name).toBe(name);
  });

  it('loads experiments/smoke.json', () => {
    const scenario = loadScenario(path.join(ROOT, 'experiments/smoke.json'));
    expect(scenario.name).toBe('smoke');
    expect(scenario.outage!.durationMs).toBeGreaterThan(scenario.heartbeat.intervalMs + scenario.heartbeat.timeoutMs);
  });

  it('reports a missing file', () => {
    expect(() => loadScenario(path.join(dir, 'absent.json'))).toThrow(/cannot read scenario file .*absent\.json/);
  });

  it('reports invalid JSON', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"name": ');
    expect(() => loadScenario(file)).toThrow(/broken\.json is not valid JSON/);
  });

  it('resolves trace paths against the scenario directory', async () => {
    await mkdir(path.join(dir, 'traces'), { recursive: true });
    await writeFile(path.join(dir, 'traces/up.trace'), '1\n2\n3\n4\n');
    await writeFile(path.join(dir, 'traces/down.trace'), '1\n1\n2\n2\n');
    const file = path.join(dir, 'trace.json');
    await writeFile(file, JSON.stringify(minimal({ profiles: [{ trace: { up: 'traces/up.trace', down: 'traces/down.trace' }, name: 'cell', delayMs: 20 }] })));
    const [profile] = loadScenario(file).profiles;
    expect(profile!.name).toBe('cell');
    expect(profile!.up.traceFile).toBe(path.join(dir, 'traces/up.trace'));
    expect(profile!.down.traceFile).toBe(path.join(dir, 'traces/down.trace'));
    expect(profile!.up.delayMs).toBe(20);
  });

  it('uses one trace for both directions', async () => {
    await writeFile(path.join(dir, 'both.trace'), '5\n10\n');
    const file = path.join(dir, 'one-trace.json');
    await writeFile(file, JSON.stringify(minimal({ profiles: [{ trace: 'both.trace' }] })));
    const [profile] = loadScenario(file).profiles;
    expect(profile!.name).toBe('both.trace');
    expect(profile!.up.traceFile).toBe(path.join(dir, 'both.trace'));
    expect(profile!.down.traceFile).toBe(path.join(dir, 'both.trace'));
  });

  it('rejects a malformed trace with its line', async () => {
    await writeFile(path.join(dir, 'bad.trace'), '5\nten\n');
    const file = path.join(dir, 'bad-trace.json');
    await writeFile(file, JSON.stringify(minimal({ profiles: [{ trace: 'bad.trace' }] })));
    expect(() => loadScenario(file)).toThrow(/profiles\[0\]: invalid mahimahi trace .*bad\.trace line 2/);
  });
});

describe('scenario defaults', () => {
  it('fills optional fields', () => {
    const scenario = parse(minimal());
    expect(scenario.description).toBe('');
    expect(scenario.seed).toBe(1);
    expect(scenario.backend).toBe('auto');
    expect(scenario.outage).toBeNull();
    expect(scenario.measureMemory).toBe(true);
    expect(scenario.profileEvents).toEqual({ wifi: [] });
    expect(scenario.profileDurationMs).toEqual({ wifi: 5_000 });
    expect(scenario.connectConcurrency).toBe(10);
    expect(scenario.highPriorityShare).toBe(0.2);
    expect(scenario.payloadBytes).toBe(128);
    expect(scenario.drainTimeoutMs).toBe(30_000);
    expect(scenario.client).toEqual({ attemptTimeoutMs: 10_000, backoffInitialMs: 500, backoffMaxMs: 5_000 });
  });

  it('defaults the outage direction to both', () => {
    expect(parse(minimal({ outage: { atMs: 1_000, durationMs: 2_000 } })).outage).toEqual({ atMs: 1_000, durationMs: 2_000, direction: 'both' });
  });

  it('reads profile events and durations', () => {
    const scenario = parse(
      minimal({
        profiles: [
          { profile: 'wifi', name: 'wifi-rebind', events: [{ type: 'rebind', atMs: 2_000 }, { type: 'blackhole', atMs: 100, durationMs: 1_000 }] },
          { name: 'long', up: { delayMs: 1, jitterMs: 0, lossRate: 0 }, down: { delayMs: 1, jitterMs: 0, lossRate: 0 }, durationMs: 9_000, events: [{ type: 'blackhole', atMs: 6_000, durationMs: 3_000, direction: 'down' }] },
        ],
      }),
    );
    expect(scenario.profiles.map((profile) => profile.name)).toEqual(['wifi-rebind', 'long']);
    expect(scenario.profiles[0]!.up.delayMs).toBeGreaterThan(0);
    // Events come sorted by start time; the direction defaults to both.
    expect(scenario.profileEvents['wifi-rebind']).toEqual([
      { type: 'blackhole', atMs: 100, durationMs: 1_000, direction: 'both' },
      { type: 'rebind', atMs: 2_000 },
    ]);
    expect(scenario.profileDurationMs).toEqual({ 'wifi-rebind': 5_000, long: 9_000 });
  });

  it('accepts an inline profile', () => {
    const inline = { name: 'flaky', up: { delayMs: 50, jitterMs: 5, lossRate: 0.02 }, down: { delayMs: 50, jitterMs: 5, lossRate: 0.02, bandwidthKbps: 1_000 } };
    const [profile] = parse(minimal({ profiles: [inline] })).profiles;
    expect(profile!.name).toBe('flaky');
    expect(profile!.down.bandwidthKbps).toBe(1_000);
    expect(profile!.description).toBe('inline profile flaky');
  });
});

describe('scenario validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing name', { name: undefined }, /unit\.json: name is missing/],
    ['unknown key', { devcies: 3 }, /unknown key\(s\) "devcies" in the top level/],
    ['empty transports', { transports: [] }, /transports must be a non-empty array, got an empty array/],
    ['repeated transport', { transports: ['tcp', 'tcp'] }, /transports\[1\] repeats the name "tcp"/],
    ['bad transport name', { transports: ['tcp plain'] }, /transports\[0\] must be a name/],
    ['unknown profile', { profiles: ['5g'] }, /profiles\[0\]: unknown link profile "5g"; valid profiles: lan, wifi/],
    ['repeated profile', { profiles: ['wifi', 'wifi'] }, /profiles\[1\] repeats the name "wifi"/],
    ['profile of wrong type', { profiles: [3] }, /profiles\[0\] must be a built-in profile name/],
    ['inline profile field', { profiles: [{ name: 'x', up: { delayMs: -1, jitterMs: 0, lossRate: 0 }, down: { delayMs: 0, jitterMs: 0, lossRate: 0 } }] }, /profiles\[0\]: x\.up\.delayMs must be a finite number >= 0/],
    ['inline profile key', { profiles: [{ name: 'x', up: { delay: 1 }, down: {} }] }, /unknown key\(s\) "delay" in profiles\[0\]\.up/],
    ['one device', { devices: 1 }, /devices must be an integer from 2 to 5000/],
    ['fractional devices', { devices: 2.5 }, /devices must be an integer/],
    ['short duration', { durationMs: 10 }, /durationMs must be an integer from 1000/],
    ['zero rate', { publishRatePerSec: 0 }, /publishRatePerSec must be a number from 0\.1/],
    ['share above one', { highPriorityShare: 1.5 }, /highPriorityShare must be a number from 0 to 1/],
    ['large payload', { payloadBytes: 100_000 }, /payloadBytes must be an integer from 1 to 32768/],
    ['missing heartbeat timeout', { heartbeat: { intervalMs: 500 } }, /heartbeat\.timeoutMs is missing/],
    ['zero heartbeat interval', { heartbeat: { intervalMs: 0, timeoutMs: 1 } }, /heartbeat\.intervalMs must be an integer from 1/],
    ['outage past the end', { outage: { atMs: 4_000, durationMs: 2_000 } }, /outage\.durationMs must be at most 1000 ms so the outage ends within the publish phase/],
    ['outage direction', { outage: { atMs: 0, durationMs: 100, direction: 'sideways' } }, /outage\.direction must be "up", "down" or "both", got "sideways"/],
    ['unknown backend', { backend: 'netem' }, /backend must be one of "auto", "packet", "relay", got "netem"/],
    ['measureMemory type', { measureMemory: 'yes' }, /measureMemory must be true or false, got "yes"/],
    ['event type', { profiles: [{ profile: 'wifi', events: [{ type: 'flap', atMs: 1 }] }] }, /profiles\[0\]\.events\[0\]\.type must be "blackhole" or "rebind", got "flap"/],
    ['event past the end', { profiles: [{ profile: 'wifi', events: [{ type: 'blackhole', atMs: 4_000, durationMs: 2_000 }] }] }, /profiles\[0\]\.events\[0\]\.durationMs must be at most 1000 ms/],
    ['rebind key', { profiles: [{ profile: 'wifi', events: [{ type: 'rebind', atMs: 1, durationMs: 5 }] }] }, /unknown key\(s\) "durationMs" in profiles\[0\]\.events\[0\]/],
    ['events not a list', { profiles: [{ profile: 'wifi', events: {} }] }, /profiles\[0\]\.events must be an array of events/],
    ['unknown built-in', { profiles: [{ profile: '6g' }] }, /profiles\[0\]: unknown link profile "6g"/],
    ['profile duration', { profiles: [{ profile: 'wifi', durationMs: 10 }] }, /profiles\[0\]\.durationMs must be an integer from 1000/],
    ['outage beyond a profile', { outage: { atMs: 1_000, durationMs: 2_000 }, profiles: [{ profile: 'wifi', durationMs: 2_000 }] }, /profiles\[0\]\.durationMs must be at least 3000 ms so the scenario's outage ends within it, got 2000/],
    ['backoff order', { client: { backoffInitialMs: 2_000, backoffMaxMs: 1_000 } }, /client\.backoffMaxMs must be at least client\.backoffInitialMs \(2000\)/],
    ['seed out of range', { seed: -1 }, /seed must be an integer from 0/],
    ['trace without files', { profiles: [{ trace: { up: 'a' } }] }, /profiles\[0\]\.trace\.down is missing/],
  ];

  it.each(cases)('rejects %s', (_label, overrides, pattern) => {
    expect(messageOf(minimal(overrides))).toMatch(pattern);
  });

  it('rejects a non-object scenario', () => {
    expect(messageOf([1, 2])).toMatch(/the scenario must be a JSON object, got an array/);
  });
});

describe('cell planning', () => {
  const registry = new TransportRegistry().register('tcp', () => new TcpTransport('tcp'));

  it('pairs every transport with every profile', () => {
    const scenario = parse(minimal({ transports: ['tcp'], profiles: ['wifi', '3g', 'lan'] }));
    const plan = planCells(scenario, registry);
    expect(plan.cells.map((cell) => `${cell.transport}/${cell.profile.name}`)).toEqual(['tcp/wifi', 'tcp/3g', 'tcp/lan']);
    expect(plan.skipped).toEqual([]);
  });

  it('skips an unregistered transport with a reason', () => {
    const scenario = parse(minimal({ transports: ['quic', 'tcp'] }));
    const plan = planCells(scenario, registry);
    expect(plan.cells.map((cell) => cell.transport)).toEqual(['tcp']);
    expect(plan.skipped).toEqual([{ transport: 'quic', reason: 'not registered in this build (registered transports: tcp)' }]);
  });

  it('fails when no transport is registered', () => {
    const scenario = parse(minimal({ transports: ['quic', 'udp'] }));
    expect(() => planCells(scenario, registry)).toThrow(/none of the transports quic, udp is registered; registered transports: tcp/);
  });
});
