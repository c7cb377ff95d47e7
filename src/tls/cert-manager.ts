// Certificates for WebTransport servers that browsers reach through serverCertificateHashes.
//
// A browser accepts a pinned certificate only if it is ECDSA P-256 and valid for less than
// 14 days, and it pins the SHA-256 of the DER bytes (not of the PEM text). So in 'self-signed'
// mode the manager issues 10-day certificates and rotates at day 7. It keeps publishing the
// previous hash until that certificate expires, because pages that fetched the hash list earlier
// and connections opened before the rotation still use it. 'pinned' mode checks a caller's
// certificate against the same rules; 'provided' mode takes a CA-issued certificate, which needs
// no pinning and has no 14-day limit.
//
// Dates come from the injected clock, whose now() must be wall-clock epoch milliseconds
// (systemClock and VirtualClock both are).
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { PushlabError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { createSelfSignedCertificate } from './self-signed.js';

const DAY_MS = 86_400_000;
/** Pinned certificates must be valid for less than this. */
export const MAX_PINNED_VALIDITY_MS = 14 * DAY_MS;
const ROTATION_RETRY_MS = 60_000;

export type CertificateErrorReason =
  | 'INVALID_CERTIFICATE'
  | 'KEY_TYPE'
  | 'KEY_MISMATCH'
  | 'VALIDITY_TOO_LONG'
  | 'EXPIRED'
  | 'HASH_OVER_PEM'
  | 'HASH_MISMATCH'
  | 'INVALID_OPTIONS';

/** A certificate, key, hash or option that cannot be used; `reason` names the rule that failed. */
export class CertificateError extends PushlabError {
  override readonly name = 'CertificateError';
  constructor(readonly reason: CertificateErrorReason, message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

export interface ManagedCertificate {
  /** PEM of the certificate. */
  cert: string;
  /** PEM of the private key. */
  key: string;
  der: Uint8Array;
  /** SHA-256 over `der`. */
  sha256: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

/** One entry of the list a page passes as `serverCertificateHashes` to `new WebTransport()`. */
export interface CertificateHashEntry {
  algorithm: 'sha-256';
  /** Base64 of the SHA-256 over DER; the page decodes it into a Uint8Array. */
  value: string;
  hex: string;
  /** ISO 8601; the page should fetch the list again before then. */
  notAfter: string;
}

export interface CertificateDigest {
  der: Uint8Array;
  sha256: Uint8Array;
  base64: string;
  hex: string;
}

const PEM_MARKER = '-----BEGIN';

function parseCertificate(input: string | Uint8Array): X509Certificate {
  let source: string | Buffer;
  if (typeof input === 'string') {
    if (!input.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CertificateError('INVALID_CERTIFICATE', 'certificate text is not PEM (no "-----BEGIN CERTIFICATE-----" line); pass PEM text or DER bytes');
    }
    source = input;
  } else {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // PEM text handed over as bytes is still PEM: decode it instead of hashing the text.
    source = bytes.subarray(0, PEM_MARKER.length).toString('latin1') === PEM_MARKER ? bytes.toString('utf8') : bytes;
  }
  try {
    return new X509Certificate(source);
  } catch (error) {
    throw new CertificateError('INVALID_CERTIFICATE', `certificate does not parse: ${toError(error).message}`, { cause: error });
  }
}

function digestOf(certificate: X509Certificate): CertificateDigest {
  const der = new Uint8Array(certificate.raw);
  const sha256 = createHash('sha256').update(der).digest();
  return { der, sha256: new Uint8Array(sha256), base64: sha256.toString('base64'), hex: sha256.toString('hex') };
}

/**
 * Computes the SHA-256 a browser pins: over the DER bytes. PEM input (a string, or bytes starting
 * with "-----BEGIN") is decoded to DER first; input that is not a certificate is rejected.
 */
export function hashCertificate(input: string | Uint8Array): CertificateDigest {
  return digestOf(parseCertificate(input));
}

function decodeHash(hash: string | Uint8Array): Buffer {
  if (typeof hash !== 'string') return Buffer.from(hash);
  if (/^[0-9a-f]{64}$/i.test(hash)) return Buffer.from(hash, 'hex');
  return Buffer.from(hash, 'base64');
}

/**
 * Checks that `hash` (bytes, hex or base64) is the SHA-256 over the certificate's DER. A hash of
 * the PEM text, a common mistake, is rejected with reason HASH_OVER_PEM; any other mismatch with
 * HASH_MISMATCH.
 */
export function verifyCertificateHash(certificate: string | Uint8Array, hash: string | Uint8Array): void {
  const parsed = parseCertificate(certificate);
  const expected = Buffer.from(digestOf(parsed).sha256);
  const actual = decodeHash(hash);
  if (actual.length === 32 && actual.equals(expected)) return;

  const pemTexts = new Set([parsed.toString(), parsed.toString().trimEnd(), parsed.toString().replace(/\n/g, '\r\n')]);
  if (typeof certificate === 'string') pemTexts.add(certificate).add(certificate.trim());
  for (const text of pemTexts) {
    if (actual.equals(createHash('sha256').update(text, 'utf8').digest())) {
      throw new CertificateError('HASH_OVER_PEM', 'certificate hash was computed over the PEM text; browsers pin the SHA-256 of the DER bytes');
    }
  }
  throw new CertificateError('HASH_MISMATCH', `certificate hash ${actual.toString('hex')} does not match the SHA-256 of the DER bytes, ${expected.toString('hex')}`);
}

function managed(parsed: X509Certificate, cert: string, key: string): ManagedCertificate {
  const digest = digestOf(parsed);
  return { cert, key, der: digest.der, sha256: digest.sha256, notBefore: new Date(parsed.validFrom), notAfter: new Date(parsed.validTo) };
}

/** Parses and checks a caller's certificate and key: they must match and the certificate must not have expired. */
function loadCertificate(cert: string, key: string, now: number): ManagedCertificate {
  const parsed = parseCertificate(cert);
  let matches: boolean;
  try {
    matches = parsed.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new CertificateError('INVALID_CERTIFICATE', `private key does not parse: ${toError(error).message}`, { cause: error });
  }
  if (!matches) throw new CertificateError('KEY_MISMATCH', 'private key does not belong to the certificate');
  const certificate = managed(parsed, parsed.toString(), key);
  if (certificate.notAfter.getTime() <= now) throw new CertificateError('EXPIRED', `certificate expired at ${certificate.notAfter.toISOString()}`);
  return certificate;
}

/** Applies the browser rules for pinned certificates: ECDSA P-256 and a validity under 14 days. */
export function checkPinnable(certificate: string | Uint8Array): void {
  const parsed = parseCertificate(certificate);
  const publicKey = parsed.publicKey;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (publicKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new CertificateError('KEY_TYPE', `pinned certificates must use an ECDSA P-256 key, got ${publicKey.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`);
  }
  const validity = new Date(parsed.validTo).getTime() - new Date(parsed.validFrom).getTime();
  if (validity >= MAX_PINNED_VALIDITY_MS) {
    throw new CertificateError('VALIDITY_TOO_LONG', `pinned certificates must be valid for less than 14 days, this one for ${(validity / DAY_MS).toFixed(2)} days`);
  }
}

export type CertificateMode = 'self-signed' | 'pinned' | 'provided';

interface CommonOptions {
  clock?: Clock;
  logger?: Logger;
}

export interface SelfSignedManagerOptions extends CommonOptions {
  /** Validity of each certificate in days; default 10, must be below 14. */
  validityDays?: number;
  /** Days after a certificate's notBefore at which the next one replaces it; default 7. */
  rotateAfterDays?: number;
  dnsNames?: string[];
  ipAddresses?: string[];
}

export interface SuppliedCertificateOptions extends CommonOptions {
  /** PEM of the certificate (leaf first when it is a chain). */
  cert: string;
  /** PEM of the private key. */
  key: string;
  /** In 'pinned' mode, a hash the caller expects; checked against the DER. */
  expectedSha256?: string | Uint8Array;
}

type RotationListener = (certificate: ManagedCertificate) => void;

export class CertificateManager {
  private certificates: ManagedCertificate[];
  private readonly listeners = new Set<RotationListener>();
  private running = false;
  private timer: TimerHandle | null = null;
  private rotation: Promise<boolean> | null = null;
  /** Work started by the last timer: the rotation check and the next schedule. */
  private tick: Promise<void> | null = null;

  private constructor(
    readonly mode: CertificateMode,
    first: ManagedCertificate,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly generation: Required<Pick<SelfSignedManagerOptions, 'validityDays' | 'rotateAfterDays'>> & Pick<SelfSignedManagerOptions, 'dnsNames' | 'ipAddresses'>,
  ) {
    this.certificates = [first];
  }

  /** Issues the first certificate; call start() to rotate on the clock. */
  static async selfSigned(options: SelfSignedManagerOptions = {}): Promise<CertificateManager> {
    const validityDays = options.validityDays ?? 10;
    const rotateAfterDays = options.rotateAfterDays ?? 7;
    if (!(validityDays > 0 && validityDays * DAY_MS < MAX_PINNED_VALIDITY_MS)) {
      throw new CertificateError('VALIDITY_TOO_LONG', `validityDays must be above 0 and below 14, got ${validityDays}`);
    }
    if (!(rotateAfterDays > 0 && rotateAfterDays < validityDays)) {
      throw new CertificateError('INVALID_OPTIONS', `rotateAfterDays must be above 0 and below validityDays (${validityDays}), got ${rotateAfterDays}`);
    }
    const clock = options.clock ?? systemClock;
    const logger = (options.logger ?? silentLogger()).child({ component: 'cert-manager' });
    const generation = { validityDays, rotateAfterDays, dnsNames: options.dnsNames, ipAddresses: options.ipAddresses };
    const first = await issue(clock.now(), generation);
    logger.info({ notAfter: first.notAfter.toISOString() }, 'issued self-signed certificate');
    return new CertificateManager('self-signed', first, clock, logger, generation);
  }

  /** Takes a caller's short-lived certificate for pinning; rejects what browsers would reject. */
  static pinned(options: SuppliedCertificateOptions): CertificateManager {
    const clock = options.clock ?? systemClock;
    checkPinnable(options.cert);
    const certificate = loadCertificate(options.cert, options.key, clock.now());
    if (options.expectedSha256 !== undefined) verifyCertificateHash(options.cert, options.expectedSha256);
    return CertificateManager.fixed('pinned', certificate, options);
  }

  /** Takes a CA-issued certificate: any key type and validity; no hashes are published. */
  static provided(options: SuppliedCertificateOptions): CertificateManager {
    const certificate = loadCertificate(options.cert, options.key, (options.clock ?? systemClock).now());
    return CertificateManager.fixed('provided', certificate, options);
  }

  private static fixed(mode: CertificateMode, certificate: ManagedCertificate, options: CommonOptions): CertificateManager {
    const logger = (options.logger ?? silentLogger()).child({ component: 'cert-manager' });
    logger.info({ mode, notAfter: certificate.notAfter.toISOString() }, 'loaded certificate');
    return new CertificateManager(mode, certificate, options.clock ?? systemClock, logger, { validityDays: 0, rotateAfterDays: 0 });
  }

  /** Returns the certificate and key for new connections. */
  current(): ManagedCertificate {
    return this.certificates[0]!;
  }

  /** Returns every certificate that has not expired at `now`, newest first. */
  validCertificates(now = this.clock.now()): ManagedCertificate[] {
    return this.certificates.filter((certificate) => certificate.notAfter.getTime() > now);
  }

  /** Hashes of every unexpired certificate, newest first; empty in 'provided' mode. */
  hashes(now = this.clock.now()): CertificateHashEntry[] {
    if (this.mode === 'provided') return [];
    return this.validCertificates(now).map((certificate) => {
      const sha256 = Buffer.from(certificate.sha256);
      return { algorithm: 'sha-256', value: sha256.toString('base64'), hex: sha256.toString('hex'), notAfter: certificate.notAfter.toISOString() };
    });
  }

  /** Calls `listener` with each new current certificate; returns a function that unsubscribes. */
  onRotate(listener: RotationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Drops expired certificates and, in 'self-signed' mode, issues a new current certificate when
   * the current one is rotateAfterDays old. Returns true when it rotated. Concurrent calls share
   * one rotation.
   */
  rotateIfDue(now = this.clock.now()): Promise<boolean> {
    this.certificates = [this.current(), ...this.certificates.slice(1).filter((certificate) => certificate.notAfter.getTime() > now)];
    if (this.mode !== 'self-signed' || now < this.rotationDueAt()) return Promise.resolve(false);
    this.rotation ??= this.rotate(now).finally(() => {
      this.rotation = null;
    });
    return this.rotation;
  }

  /**
   * Schedules rotation and the dropping of expired certificates on the clock. Only 'self-signed'
   * mode has anything to schedule; in the other modes the caller replaces the certificate.
   */
  start(): void {
    if (this.running || this.mode !== 'self-signed') return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Resolves once a rotation in progress and the timer work around it have finished; for tests that drive the clock. */
  async idle(): Promise<void> {
    await this.rotation;
    await this.tick;
  }

  private rotationDueAt(): number {
    return this.current().notBefore.getTime() + this.generation.rotateAfterDays * DAY_MS;
  }

  // NOTE: the new hash is published only when the certificate starts serving, so a page holding a
  // hash list fetched just before the rotation fails its next connection until it fetches again.
  private async rotate(now: number): Promise<boolean> {
    const next = await issue(now, this.generation);
    const previous = this.current();
    this.certificates = [next, ...this.certificates.filter((certificate) => certificate.notAfter.getTime() > now)];
    this.logger.info({ notAfter: next.notAfter.toISOString(), previousNotAfter: previous.notAfter.toISOString() }, 'rotated self-signed certificate');
    for (const listener of this.listeners) listener(next);
    return true;
  }

  /** Next instant something changes: the current certificate's rotation or an older one's expiry. */
  private nextEventAt(): number {
    const expiries = this.certificates.slice(1).map((certificate) => certificate.notAfter.getTime());
    return Math.min(this.rotationDueAt(), ...expiries);
  }

  private schedule(delayMs = Math.max(0, this.nextEventAt() - this.clock.now())): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.tick = this.rotateIfDue().then(
        () => this.schedule(),
        (error: unknown) => {
          this.logger.error({ err: toError(error) }, 'certificate rotation failed; retrying in a minute');
          this.schedule(ROTATION_RETRY_MS);
        },
      );
    }, delayMs);
  }
}

async function issue(now: number, generation: Pick<SelfSignedManagerOptions, 'validityDays' | 'dnsNames' | 'ipAddresses'>): Promise<ManagedCertificate> {
  // Back-dated by a minute, as createSelfSignedCertificate does by default, for peers whose clock
  // is slightly behind; the validity span stays validityDays.
  const { cert, key, der, sha256, notBefore, notAfter } = await createSelfSignedCertificate({
    notBefore: new Date(now - 60_000),
    validityDays: generation.validityDays,
    dnsNames: generation.dnsNames,
    ipAddresses: generation.ipAddresses,
  });
  return { cert, key, der, sha256, notBefore, notAfter };
}

/** Accepts pages served from localhost, 127.0.0.1 or [::1] on any port, over http or https. */
export function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

export interface HashEndpointOptions {
  /** Default /webtransport/cert-hashes. */
  path?: string;
  /** Origins that may read the list cross-origin; default isLoopbackOrigin. */
  isAllowedOrigin?: (origin: string) => boolean;
}

/**
 * Returns a node:http request handler that serves `{ "hashes": [...] }` (see CertificateHashEntry)
 * at GET `path`, with CORS headers for allowed origins; other paths get 404.
 */
export function certificateHashesHandler(manager: CertificateManager, options: HashEndpointOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const path = options.path ?? '/webtransport/cert-hashes';
  const isAllowedOrigin = options.isAllowedOrigin ?? isLoopbackOrigin;
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const origin = req.headers.origin;
    const cors: Record<string, string> = { vary: 'origin' };
    if (origin !== undefined && isAllowedOrigin(origin)) cors['access-control-allow-origin'] = origin;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...cors, allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    const body = JSON.stringify({ hashes: manager.hashes() });
    res.writeHead(200, { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
