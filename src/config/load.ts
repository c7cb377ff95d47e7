// Loading the gateway configuration. Precedence, lowest first: built-in defaults, environment
// variables, the JSON config file, CLI flags. Secret and certificate files are read here too, so
// every failure to read them is a ConfigError naming the key that pointed at the file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, toError } from '../errors.js';
import { MIN_SECRET_BYTES } from '../gateway/auth.js';
import type { TlsServerMaterial } from '../transport/types.js';
import { applyGatewayFlags, type GatewayFlagValues } from './flags.js';
import { defaultGatewayConfig, ENV_AUTH_SECRET, ENV_LOG_LEVEL, type AuthConfig, type GatewayConfig, type TlsFilesConfig } from './schema.js';
import { applyConfigFile, checkConfigConsistency, readLogLevel } from './validate.js';

export interface LoadGatewayConfigOptions {
  /** Path of the JSON config file; none means defaults, environment and flags only. */
  configFile?: string;
  /** Parsed flag values (see GATEWAY_FLAGS); `config` among them is ignored in favour of configFile. */
  flags?: GatewayFlagValues;
  env?: NodeJS.ProcessEnv;
}

export async function loadGatewayConfig(options: LoadGatewayConfigOptions = {}): Promise<GatewayConfig> {
  const env = options.env ?? process.env;
  let config = defaultGatewayConfig();

  const envLevel = env[ENV_LOG_LEVEL];
  if (envLevel !== undefined && envLevel !== '') config.logLevel = readLogLevel(envLevel, `environment variable ${ENV_LOG_LEVEL}`);

  if (options.configFile !== undefined) {
    const file = path.resolve(options.configFile);
    config = applyConfigFile(config, await readJsonFile(file), file, path.dirname(file));
  }
  if (options.flags !== undefined) config = applyGatewayFlags(config, options.flags);

  checkConfigConsistency(config);
  return config;
}

/** Parses config file text; exported so tests and embedders can validate a file's content directly. */
export function parseGatewayConfigText(textContent: string, source: string, baseDir: string): GatewayConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(textContent);
  } catch (error) {
    throw new ConfigError(`${source}: not valid JSON: ${toError(error).message}`, { cause: error });
  }
  const config = applyConfigFile(defaultGatewayConfig(), raw, source, baseDir);
  checkConfigConsistency(config);
  return config;
}

async function readJsonFile(file: string): Promise<unknown> {
  let textContent: string;
  try {
    textContent = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${toError(error).message}`, { cause: error });
  }
  try {
    return JSON.parse(textContent);
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON: ${toError(error).message}`, { cause: error });
  }
}

export interface LoadedSecret {
  secret: Buffer;
  /** Description of the secret's origin for logs; never the secret itself. */
  source: string;
}

/**
 * Reads the token secret from auth.secretFile, auth.secret or the environment, in that order.
 * Returns undefined when none is set. A secret shorter than 32 bytes is a ConfigError naming its source.
 */
export async function loadAuthSecret(auth: Pick<AuthConfig, 'secret' | 'secretFile'>, env: NodeJS.ProcessEnv = process.env): Promise<LoadedSecret | undefined> {
  let loaded: LoadedSecret | undefined;
  if (auth.secretFile !== undefined) {
    let content: string;
    try {
      content = await readFile(auth.secretFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`auth.secretFile: cannot read ${auth.secretFile}: ${toError(error).message}`, { cause: error });
    }
    // Editors and `echo` add a final line break; it is not part of the secret.
    loaded = { secret: Buffer.from(content.replace(/\r?\n$/, ''), 'utf8'), source: `auth.secretFile (${auth.secretFile})` };
  } else if (auth.secret !== undefined) {
    loaded = { secret: Buffer.from(auth.secret, 'utf8'), source: 'auth.secret' };
  } else if (env[ENV_AUTH_SECRET] !== undefined && env[ENV_AUTH_SECRET] !== '') {
    loaded = { secret: Buffer.from(env[ENV_AUTH_SECRET], 'utf8'), source: `environment variable ${ENV_AUTH_SECRET}` };
  }
  if (loaded !== undefined && loaded.secret.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `${loaded.source}: the auth secret is ${loaded.secret.length} bytes; at least ${MIN_SECRET_BYTES} are required (for example: openssl rand -base64 48)`,
    );
  }
  return loaded;
}

/** Reads the PEM certificate and key named by the tls section. */
export async function loadTlsFiles(tls: TlsFilesConfig): Promise<TlsServerMaterial> {
  const read = async (file: string, key: string, block: RegExp, label: string): Promise<string> => {
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`${key}: cannot read ${file}: ${toError(error).message}`, { cause: error });
    }
    if (!block.test(content)) throw new ConfigError(`${key}: ${file} is not a PEM file with a ${label} block`);
    return content;
  };
  return {
    cert: await read(tls.certFile, 'tls.certFile', /-----BEGIN CERTIFICATE-----/, 'CERTIFICATE'),
    // PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY") all work with node:tls.
    key: await read(tls.keyFile, 'tls.keyFile', /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'PRIVATE KEY'),
  };
}
