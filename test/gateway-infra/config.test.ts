import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/args.js';
import {
  defaultGatewayConfig,
  GATEWAY_FLAGS,
  loadAuthSecret,
  loadGatewayConfig,
  loadTlsFiles,
  parseByteSize,
  parseDuration,
  parseGatewayConfigText,
  parseHostPort,
  parseListenSpec,
  toGatewayOptions,
} from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { HmacTokenAuthority } from '../../src/gateway/auth.js';
import { silentLogger } from '../../src/logger.js';
import { builtinTransports } from '../../transports/index.js';

const SECRET = 'config-test-secret-0123456789abcdef-0123456789';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pushlab-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

async function configErrorAsync(action: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const FULL_CONFIG = {
  listeners: [
    { transport: 'tcp', host: '127.0.0.1', port: 7100, settings: { noDelay: false } },
    { transport: 'tcp-plain', host: '::1', port: 0 },
  ],
  http: { host: '127.0.0.2', port: 8100, maxBodyBytes: 4096 },
  tls: { certFile: 'certs/gateway.pem', keyFile: '/etc/pushlab/key.pem' },
  auth: { secretFile: 'secret.txt', leewayMs: 1000 },
  heartbeat: { intervalMs: 20000, timeoutMs: 5000 },
  maxFrameSize: 32768,
  handshakeTimeoutMs: 3000,
  coalescing: { enabled: false, maxBytes: 8192, maxDelayMs: 2 },
  sendWindow: 64,
  inboxLimit: 500,
  workers: 1,
  logLevel: 'debug',
};

describe('config file', () => {
  it('loads every key of a good file', async () => {
    const file = await writeConfig('full.json', FULL_CONFIG);

    const config = await loadGatewayConfig({ configFile: file, env: {} });

    expect(config).toEqual({
      ...FULL_CONFIG,
      tls: { certFile: path.join(dir, 'certs/gateway.pem'), keyFile: '/etc/pushlab/key.pem' },
      auth: { secretFile: path.join(dir, 'secret.txt'), secret: undefined, leewayMs: 1000 },
    });
  });

  it('keeps defaults for keys the file leaves out', async () => {
    const file = await writeConfig('partial.json', { sendWindow: 8 });
    const config = await loadGatewayConfig({ configFile: file, env: {} });
    expect(config).toEqual({ ...defaultGatewayConfig(), sendWindow: 8 });
  });

  it('names each bad field in its message', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ listeners: [] }, /listeners must be a non-empty array/],
      [{ listeners: 'tcp' }, /listeners must be a non-empty array of \{transport, host, port, settings\?\}, got "tcp"/],
      [{ listeners: [{ host: '127.0.0.1', port: 1 }] }, /listeners\[0\]\.transport must be a non-empty string, got nothing/],
      [{ listeners: [{ transport: 'tcp', host: '', port: 1 }] }, /listeners\[0\]\.host must be a non-empty string/],
      [{ listeners: [{ transport: 'tcp', host: 'h', port: 70000 }] }, /listeners\[0\]\.port must be an integer from 0 to 65535/],
      [{ listeners: [{ transport: 'tcp', host: 'h', port: 1, settings: [] }] }, /listeners\[0\]\.settings must be an object/],
      [{ listeners: [{ transport: 'tcp', host: 'h', port: 1, tls: true }] }, /unknown key\(s\) "tls" in listeners\[0\]/],
      [{ http: { port: '8080' } }, /http\.port must be an integer from 0 to 65535 .*got "8080"/],
      [{ http: { host: 5 } }, /http\.host must be a non-empty string, got number 5/],
      [{ http: { maxBodyBytes: 0 } }, /http\.maxBodyBytes must be an integer from 1/],
      [{ tls: { certFile: 'c.pem' } }, /tls\.keyFile must be a non-empty string, got nothing/],
      [{ auth: { secret: 's', secretFile: 'f' } }, /auth\.secret and auth\.secretFile are both set/],
      [{ auth: { leewayMs: -1 } }, /auth\.leewayMs must be an integer from 0/],
      [{ heartbeat: { intervalMs: 0 } }, /heartbeat\.intervalMs must be an integer from 1 .*milliseconds/],
      [{ heartbeat: { timeoutMs: 1.5 } }, /heartbeat\.timeoutMs must be an integer/],
      [{ heartbeat: 30 }, /heartbeat must be an object, got number 30/],
      [{ maxFrameSize: 100 }, /maxFrameSize must be an integer from 1024 to 16777216 \(bytes\)/],
      [{ handshakeTimeoutMs: null }, /handshakeTimeoutMs must be an integer .*got null/],
      [{ coalescing: { enabled: 'yes' } }, /coalescing\.enabled must be true or false, got "yes"/],
      [{ coalescing: { maxBytes: 0 } }, /coalescing\.maxBytes must be an integer/],
      [{ coalescing: { maxDelayMs: -5 } }, /coalescing\.maxDelayMs must be an integer from 0/],
      [{ sendWindow: 0 }, /sendWindow must be an integer from 1/],
      [{ inboxLimit: 'many' }, /inboxLimit must be an integer/],
      [{ logLevel: 'verbose' }, /logLevel must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/],
      [{ listen: [] }, /unknown key\(s\) "listen" in the top level/],
      [{ heartbeat: { interval: 5 } }, /unknown key\(s\) "interval" in heartbeat; allowed keys: intervalMs, timeoutMs/],
    ];
    for (const [content, expected] of cases) {
      const error = configError(() => parseGatewayConfigText(JSON.stringify(content), 'gateway.json', dir));
      expect(error.message, JSON.stringify(content)).toMatch(expected);
      expect(error.message, JSON.stringify(content)).toMatch(/^gateway\.json: /);
    }
  });

  it('rejects two listeners on one address', () => {
    const content = { listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 7000 }, { transport: 'tcp', host: '127.0.0.1', port: 7000 }] };
    expect(configError(() => parseGatewayConfigText(JSON.stringify(content), 'gateway.json', dir)).message).toMatch(/listeners\[1\] repeats listeners\[0\]/);
  });

  it('rejects a file that is not JSON', async () => {
    const file = await writeConfig('broken.json', '{ "sendWindow": ');
    const error = await configErrorAsync(() => loadGatewayConfig({ configFile: file, env: {} }));
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/not valid JSON/);
  });

  it('rejects a missing file', async () => {
    const error = await configErrorAsync(() => loadGatewayConfig({ configFile: path.join(dir, 'absent.json'), env: {} }));
    expect(error.message).toMatch(/cannot read config file .*absent\.json/);
  });
});

describe('config flags', () => {
  const flags = (...argv: string[]) => parseFlags('gateway', argv, GATEWAY_FLAGS);

  it('override the file', async () => {
    const file = await writeConfig('override.json', FULL_CONFIG);
    const config = await loadGatewayConfig({
      configFile: file,
      env: {},
      flags: flags(
        '--listen', 'tcp=127.0.0.1:0',
        '--listen', 'tcp-plain=[::1]:7200',
        '--http', '127.0.0.1:0',
        '--max-body-bytes', '64KiB',
        '--log-level', 'warn',
        '--auth-secret-file', 'flag-secret.txt',
        '--tls-cert', 'flag-cert.pem',
        '--tls-key', 'flag-key.pem',
        '--heartbeat-interval', '1.5s',
        '--heartbeat-timeout', '2m',
        '--max-frame-size', '1MiB',
        '--handshake-timeout', '750ms',
        '--coalescing',
        '--coalescing-max-bytes', '4096',
        '--coalescing-max-delay', '1ms',
        '--send-window', '16',
        '--inbox-limit', '20',
      ),
    });

    expect(config.listeners).toEqual([
      { transport: 'tcp', host: '127.0.0.1', port: 0 },
      { transport: 'tcp-plain', host: '::1', port: 7200 },
    ]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 0, maxBodyBytes: 65536 });
    expect(config.logLevel).toBe('warn');
    expect(config.auth).toEqual({ secretFile: path.resolve('flag-secret.txt'), secret: undefined, leewayMs: 1000 });
    expect(config.tls).toEqual({ certFile: path.resolve('flag-cert.pem'), keyFile: path.resolve('flag-key.pem') });
    expect(config.heartbeat).toEqual({ intervalMs: 1500, timeoutMs: 120_000 });
    expect(config.maxFrameSize).toBe(1024 * 1024);
    expect(config.handshakeTimeoutMs).toBe(750);
    expect(config.coalescing).toEqual({ enabled: true, maxBytes: 4096, maxDelayMs: 1 });
    expect(config.sendWindow).toBe(16);
    expect(config.inboxLimit).toBe(20);
  });

  it('turn coalescing off with --no-coalescing', async () => {
    const config = await loadGatewayConfig({ env: {}, flags: flags('--no-coalescing') });
    expect(config.coalescing.enabled).toBe(false);
  });

  it('name the flag in each bad value', async () => {
    const cases: [string[], RegExp][] = [
      [['--listen', 'tcp'], /--listen: expected TRANSPORT=HOST:PORT/],
      [['--listen', '=127.0.0.1:1'], /--listen: expected TRANSPORT=HOST:PORT/],
      [['--listen', 'tcp=127.0.0.1'], /--listen: expected HOST:PORT/],
      [['--http', '127.0.0.1:99999'], /--http: port 99999 is out of range/],
      [['--http', '::1:80'], /--http: expected HOST:PORT .*\[::1\]:8080/],
      [['--max-body-bytes', 'lots'], /--max-body-bytes: expected a size in bytes/],
      [['--log-level', 'loud'], /--log-level must be one of/],
      [['--heartbeat-interval', '30'], /--heartbeat-interval: expected a duration with a unit/],
      [['--heartbeat-timeout', '0s'], /--heartbeat-timeout: expected 1 to/],
      [['--max-frame-size', '10'], /--max-frame-size: expected 1024 to 16777216 bytes, got 10/],
      [['--handshake-timeout', '10 s'], /--handshake-timeout: expected a duration/],
      [['--send-window=-1'], /--send-window: expected a whole number/],
      [['--inbox-limit', '0'], /--inbox-limit: expected 1 to/],
      [['--tls-cert', 'c.pem'], /--tls-cert and --tls-key must be given together/],
    ];
    for (const [argv, expected] of cases) {
      const error = await configErrorAsync(() => loadGatewayConfig({ env: {}, flags: flags(...argv) }));
      expect(error.message, argv.join(' ')).toMatch(expected);
    }
  });

  it('reject an unknown flag by name', () => {
    const error = configError(() => flags('--listen-on', 'tcp=127.0.0.1:1'));
    expect(error.message).toMatch(/unknown option --listen-on/);
    expect(error.message).toMatch(/pushlab gateway --help/);
  });
});

describe('config environment', () => {
  it('uses PUSHLAB_LOG_LEVEL below the file', async () => {
    expect((await loadGatewayConfig({ env: { PUSHLAB_LOG_LEVEL: 'error' } })).logLevel).toBe('error');
    const file = await writeConfig('level.json', { logLevel: 'trace' });
    expect((await loadGatewayConfig({ configFile: file, env: { PUSHLAB_LOG_LEVEL: 'error' } })).logLevel).toBe('trace');
  });

  it('names a bad PUSHLAB_LOG_LEVEL', async () => {
    const error = await configErrorAsync(() => loadGatewayConfig({ env: { PUSHLAB_LOG_LEVEL: 'chatty' } }));
    expect(error.message).toMatch(/environment variable PUSHLAB_LOG_LEVEL must be one of/);
  });
});

describe('auth secret loading', () => {
  it('reads a secret file without its final line break', async () => {
    const file = await writeConfig('secret-newline.txt', `${SECRET}\n`);
    const loaded = await loadAuthSecret({ secretFile: file }, {});
    expect(loaded?.secret.toString('utf8')).toBe(SECRET);
    expect(loaded?.source).toContain(file);
  });

  it('prefers the file, then the inline secret, then the environment', async () => {
    const file = await writeConfig('secret-order.txt', `file-${SECRET}`);
    const env = { PUSHLAB_AUTH_SECRET: `env-${SECRET}` };
    expect((await loadAuthSecret({ secretFile: file, secret: `inline-${SECRET}` }, env))?.secret.toString()).toBe(`file-${SECRET}`);
    expect((await loadAuthSecret({ secret: `inline-${SECRET}` }, env))?.secret.toString()).toBe(`inline-${SECRET}`);
    expect((await loadAuthSecret({}, env))?.secret.toString()).toBe(`env-${SECRET}`);
    expect(await loadAuthSecret({}, {})).toBeUndefined();
  });

  it('names the source of a short secret', async () => {
    const file = await writeConfig('secret-short.txt', 'too-short\n');
    expect((await configErrorAsync(() => loadAuthSecret({ secretFile: file }, {}))).message).toMatch(/auth\.secretFile .*9 bytes; at least 32/);
    expect((await configErrorAsync(() => loadAuthSecret({}, { PUSHLAB_AUTH_SECRET: 'short' }))).message).toMatch(/PUSHLAB_AUTH_SECRET: .*5 bytes/);
  });

  it('names an unreadable secret file', async () => {
    const error = await configErrorAsync(() => loadAuthSecret({ secretFile: path.join(dir, 'no-such-secret') }, {}));
    expect(error.message).toMatch(/auth\.secretFile: cannot read .*no-such-secret/);
  });
});

describe('TLS file loading', () => {
  it('names a file that is not PEM', async () => {
    const cert = await writeConfig('not-a-cert.pem', 'hello');
    const key = await writeConfig('key.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    expect((await configErrorAsync(() => loadTlsFiles({ certFile: cert, keyFile: key }))).message).toMatch(/tls\.certFile: .*not-a-cert\.pem is not a PEM file/);
  });

  it('names an unreadable key file', async () => {
    const cert = await writeConfig('cert.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const error = await configErrorAsync(() => loadTlsFiles({ certFile: cert, keyFile: path.join(dir, 'absent-key.pem') }));
    expect(error.message).toMatch(/tls\.keyFile: cannot read/);
  });
});

describe('toGatewayOptions', () => {
  it('maps every setting', async () => {
    const file = await writeConfig('options.json', FULL_CONFIG);
    const config = await loadGatewayConfig({ configFile: file, env: {} });
    const registry = builtinTransports();
    const authenticator = new HmacTokenAuthority(SECRET);
    const logger = silentLogger();
    const tls = { cert: 'CERT', key: 'KEY' };

    const options = toGatewayOptions(config, { registry, logger, tls, authenticator });

    expect(options).toEqual({
      registry,
      listeners: FULL_CONFIG.listeners,
      tls,
      authenticator,
      heartbeat: FULL_CONFIG.heartbeat,
      maxFrameSize: FULL_CONFIG.maxFrameSize,
      handshakeTimeoutMs: FULL_CONFIG.handshakeTimeoutMs,
      coalescing: FULL_CONFIG.coalescing,
      sendWindow: FULL_CONFIG.sendWindow,
      inboxLimit: FULL_CONFIG.inboxLimit,
      logger,
    });
  });

  it('names an unregistered transport', () => {
    const config = { ...defaultGatewayConfig(), listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }, { transport: 'carrier-pigeon', host: '127.0.0.1', port: 0 }] };
    const error = configError(() => toGatewayOptions(config, { registry: builtinTransports(), logger: silentLogger(), authenticator: new HmacTokenAuthority(SECRET) }));
    expect(error.message).toMatch(/listeners\[1\]\.transport: unknown transport "carrier-pigeon"; registered transports: tcp, tcp-plain/);
  });
});

describe('config value parsers', () => {
  it('parse durations with units', () => {
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration('0.5s', 'x')).toBe(500);
    expect(parseDuration('5m', 'x')).toBe(300_000);
    expect(parseDuration('2h', 'x')).toBe(7_200_000);
    expect(() => parseDuration('5', 'x')).toThrow(/x: expected a duration with a unit/);
    expect(() => parseDuration('5d', 'x')).toThrow(ConfigError);
  });

  it('parse byte sizes', () => {
    expect(parseByteSize('100', 'x')).toBe(100);
    expect(parseByteSize('64KiB', 'x')).toBe(65_536);
    expect(parseByteSize('2mib', 'x')).toBe(2 * 1024 * 1024);
    expect(() => parseByteSize('1.5KiB', 'x')).toThrow(/x: expected a size in bytes/);
  });

  it('parse addresses and listener specs', () => {
    expect(parseHostPort('localhost:0', 'x')).toEqual({ host: 'localhost', port: 0 });
    expect(parseHostPort('[::1]:8080', 'x')).toEqual({ host: '::1', port: 8080 });
    expect(parseListenSpec('tcp=127.0.0.1:7000', 'x')).toEqual({ transport: 'tcp', host: '127.0.0.1', port: 7000 });
    expect(() => parseHostPort('127.0.0.1', 'x')).toThrow(/x: expected HOST:PORT/);
  });
});

describe('workers setting', () => {
  it('rejects a UDP-based listener with several workers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pushlab-workers-'));
    const file = path.join(dir, 'workers.json');
    await writeFile(file, JSON.stringify({ workers: 2, listeners: [{ transport: 'quic', host: '127.0.0.1', port: 0 }] }));
    await expect(loadGatewayConfig({ configFile: file, env: {} })).rejects.toThrow(/listeners\[0\]\.transport: "quic" cannot run with workers > 1/);
  });

  it('rejects a worker count out of range', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pushlab-workers-'));
    const file = path.join(dir, 'workers.json');
    await writeFile(file, JSON.stringify({ workers: 0 }));
    await expect(loadGatewayConfig({ configFile: file, env: {} })).rejects.toThrow(/workers must be an integer from 1/);
  });
});
