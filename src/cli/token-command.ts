// `pushlab token`: prints a signed device token, for tests, experiments and manual clients.
import path from 'node:path';
import { loadAuthSecret, loadGatewayConfig } from '../config/load.js';
import { ENV_AUTH_SECRET } from '../config/schema.js';
import { formatDuration, parseDuration } from '../config/values.js';
import { ConfigError } from '../errors.js';
import { HmacTokenAuthority } from '../gateway/auth.js';
import { EXIT_OK, formatHelp, parseFlags, type CliIo, type FlagSpec } from './args.js';

const DEFAULT_TTL_MS = 3_600_000;
/** A device token is a bearer credential, so its lifetime is capped to limit the damage if it leaks. */
const MAX_TTL_MS = 366 * 86_400_000;

const TOKEN_FLAGS: readonly FlagSpec[] = [
  { name: 'user', type: 'string', value: 'USER_ID', help: 'User the token is issued for. Required.' },
  { name: 'device', type: 'string', value: 'DEVICE_ID', help: 'Device the token is limited to. Default: any device of the user.' },
  { name: 'ttl', type: 'string', value: 'DURATION', help: `Lifetime from now (500ms, 30s, 5m, 1h forms; at most 366 days). Default: ${formatDuration(DEFAULT_TTL_MS)}.` },
  {
    name: 'secret-file',
    type: 'string',
    value: 'FILE',
    help: `File holding the HMAC secret (at least 32 bytes). Default: auth.secret or auth.secretFile from --config, then $${ENV_AUTH_SECRET}.`,
  },
  { name: 'config', type: 'string', value: 'FILE', help: 'Gateway config file to read the auth secret from.' },
];

export const TOKEN_HELP = formatHelp(
  'pushlab token --user USER_ID [--device DEVICE_ID] [--ttl DURATION] [--secret-file FILE]',
  'Prints a device token signed with the gateway\'s auth secret (HMAC-SHA256), followed by a line break.',
  TOKEN_FLAGS,
);

export async function runTokenCommand(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags('token', argv, TOKEN_FLAGS);
  if (flags.help === true) {
    io.stdout.write(TOKEN_HELP);
    return EXIT_OK;
  }

  const userId = flags.user;
  if (typeof userId !== 'string' || userId.length === 0) {
    throw new ConfigError("--user is required: the user id the token is issued for. Run 'pushlab token --help' for the options.");
  }
  const deviceId = typeof flags.device === 'string' ? flags.device : undefined;
  if (deviceId === '') throw new ConfigError('--device: expected a non-empty device id');
  const ttlMs = typeof flags.ttl === 'string' ? parseDuration(flags.ttl, '--ttl') : DEFAULT_TTL_MS;
  if (ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw new ConfigError(`--ttl: expected more than 0 and at most 366d, got ${String(flags.ttl)}`);

  const auth =
    typeof flags['secret-file'] === 'string'
      ? { secretFile: path.resolve(flags['secret-file']) }
      : typeof flags.config === 'string'
        ? (await loadGatewayConfig({ configFile: flags.config, env: io.env })).auth
        : {};
  const loaded = await loadAuthSecret(auth, io.env);
  if (loaded === undefined) {
    throw new ConfigError(`no auth secret: give --secret-file, --config with an auth section, or set ${ENV_AUTH_SECRET}`);
  }

  const token = new HmacTokenAuthority(loaded.secret).issue(deviceId === undefined ? { userId, ttlMs } : { userId, deviceId, ttlMs });
  io.stdout.write(`${token}\n`);
  return EXIT_OK;
}
