import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { LinkEmulator } from '../../src/emulator/emulator.js';
import { TraceInvalidError } from '../../src/emulator/errors.js';
import { builtInProfiles, getProfile, profileNames, resolveProfile, traceProfile, validateProfile } from '../../src/emulator/profiles.js';
import { testProfile } from './helpers.js';

describe('link profiles', () => {
  it('built-in profiles exist and validate', () => {
    expect(profileNames()).toEqual(expect.arrayContaining(['lan', 'wifi', '4g', '3g', 'lossy-edge']));
    for (const profile of Object.values(builtInProfiles())) {
      expect(() => validateProfile(profile)).not.toThrow();
      expect(profile.description.length).toBeGreaterThan(0);
    }
  });

  it('lan has no impairment', () => {
    const lan = getProfile('lan');
    for (const side of [lan.up, lan.down]) {
      expect(side).toEqual({ delayMs: 0, jitterMs: 0, lossRate: 0 });
    }
    expect(lan.natIdleTimeoutMs).toBeUndefined();
  });

  it('profiles get worse from wifi to lossy-edge', () => {
    const names = ['wifi', '4g', '3g', 'lossy-edge'];
    const profiles = names.map((name) => getProfile(name));
    for (let i = 1; i < profiles.length; i++) {
      const better = profiles[i - 1]!;
      const worse = profiles[i]!;
      expect(worse.down.delayMs).toBeGreaterThan(better.down.delayMs);
      expect(worse.down.lossRate).toBeGreaterThan(better.down.lossRate);
      expect(worse.down.bandwidthKbps!).toBeLessThan(better.down.bandwidthKbps!);
    }
  });

  it('unknown name lists the valid ones', () => {
    expect(() => getProfile('5g')).toThrow(ConfigError);
    expect(() => getProfile('5g')).toThrow(/unknown link profile "5g"; valid profiles: lan, wifi, 4g, 3g, lossy-edge/);
  });

  it('emulator start rejects an unknown profile', async () => {
    await expect(LinkEmulator.start({ protocol: 'tcp', targetHost: '127.0.0.1', targetPort: 9, profile: 'nope' })).rejects.toThrow(/valid profiles/);
  });

  it('lookups return independent copies', () => {
    const first = getProfile('wifi');
    first.up.delayMs = 999;
    expect(getProfile('wifi').up.delayMs).toBe(10);
    const custom = testProfile();
    const resolved = resolveProfile(custom);
    resolved.down.delayMs = 5;
    expect(custom.down.delayMs).toBe(0);
  });

  it('invalid custom profile names the field', () => {
    expect(() => resolveProfile(testProfile({ natIdleTimeoutMs: -5 }))).toThrow(/test.natIdleTimeoutMs/);
    expect(() => resolveProfile(testProfile({ down: { delayMs: 0, jitterMs: 0, lossRate: 2 } }))).toThrow(/test.down.lossRate/);
  });

  it('trace profile references trace files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    writeFileSync(join(dir, 'cell.up'), '1\n2\n');
    writeFileSync(join(dir, 'cell.down'), '1\n1\n2\n');
    const profile = traceProfile({ name: 'cell', upTraceFile: join(dir, 'cell.up'), downTraceFile: join(dir, 'cell.down'), delayMs: 25 });
    expect(profile.up.traceFile).toBe(join(dir, 'cell.up'));
    expect(profile.down.delayMs).toBe(25);
    expect(profile.up.bandwidthKbps).toBeUndefined();
  });

  it('emulator start rejects a broken trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushlab-trace-'));
    writeFileSync(join(dir, 'bad.up'), '1\nfast\n');
    writeFileSync(join(dir, 'ok.down'), '1\n');
    const profile = traceProfile({ upTraceFile: join(dir, 'bad.up'), downTraceFile: join(dir, 'ok.down') });
    await expect(LinkEmulator.start({ protocol: 'udp', targetHost: '127.0.0.1', targetPort: 9, profile })).rejects.toThrow(TraceInvalidError);
  });
});
