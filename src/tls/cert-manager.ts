// Certificates for WebTransport servers that browsers reach through serverCertificateHashes.
//
// Browsers pin ECDSA P-256 certificates valid for less than 14 days (certificate-checks.ts), so in
// 'self-signed' mode the manager issues 10-day certificates. A browser pins a list of hashes that
// it fetched earlier, and the server cannot know which list a client holds: TLS lets it present
// one certificate per connection. So rotation has two steps:
// - 'issued': at day 7 of the served certificate's life the manager issues the next certificate
//   (valid 10 days from its issue time) and publishes its hash next to the served one;
// - 'serving': when the served certificate expires (day 10), the next one starts serving.
// Each certificate is therefore published about 3 days before it serves, and serves until it
// expires. A page that pinned the old hash alone connects until the old certificate expires; a page
// that pinned only the new hash connects once it serves; the published list works throughout.
// 'pinned' mode checks a caller's certificate against the browser rules; 'provided' mode takes a
// CA-issued certificate, which needs no pinning and has no 14-day limit. Neither rotates.
//
// Dates come from the injected clock, whose now() must be wall-clock epoch milliseconds
// (systemClock and VirtualClock both are). A certificate counts as expired from its notAfter on.
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { toError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { CertificateError, MAX_PINNED_VALIDITY_MS, checkPinnable, loadCertificate, verifyCertificateHash, type ManagedCertificate } from './certificate-checks.js';
import { createSelfSignedCertificate } from './self-signed.js';

export * from './certificate-checks.js';
export * from './hash-endpoint.js';

const DAY_MS = 86_400_000;
const ROTATION_RETRY_MS = 60_000;
/** Bound on the rounds of rotateIfDue() in one timer tick; a round that applies nothing ends the tick. */
const MAX_STEPS_PER_TICK = 4;

/** One entry of the list a page passes as `serverCertificateHashes` to `new WebTransport()`. */
export interface CertificateHashEntry {
  algorithm: 'sha-256';
  /** Base64 of the SHA-256 over DER; the page decodes it into a Uint8Array. */
  value: string;
  hex: string;
  /** ISO 8601; the page should fetch the list again before then. */
  notAfter: string;
}

export type CertificateMode = 'self-signed' | 'pinned' | 'provided';

/** 'issued': a certificate was issued and its hash published. 'serving': new connections get it. */
export type RotationEvent = 'issued' | 'serving';

export interface RotationStep {
  event: RotationEvent;
  certificate: ManagedCertificate;
}

interface CommonOptions {
  clock?: Clock;
  logger?: Logger;
}

export interface SelfSignedManagerOptions extends CommonOptions {
  /** Validity of each certificate in days; default 10, must be below 14. */
  validityDays?: number;
  /** Age in days of the served certificate at which the next one is issued and published; default 7. */
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

type Generation = Required<Pick<SelfSignedManagerOptions, 'validityDays' | 'rotateAfterDays'>> & Pick<SelfSignedManagerOptions, 'dnsNames' | 'ipAddresses'>;
type RotationListener = (certificate: ManagedCertificate) => void;

export class CertificateManager {
  private served: ManagedCertificate;
  /** Issued and published, not served yet; only in 'self-signed' mode. */
  private next: ManagedCertificate | null = null;
  private readonly listeners: Record<RotationEvent, Set<RotationListener>> = { issued: new Set(), serving: new Set() };
  private running = false;
  private timer: TimerHandle | null = null;
  /** The chain of rotation steps; each call of rotateIfDue() runs after the previous one. */
  private work: Promise<unknown> = Promise.resolve();
  /** Work started by the last timer: the rotation steps and the next schedule. */
  private tick: Promise<void> | null = null;

  private constructor(
    readonly mode: CertificateMode,
    first: ManagedCertificate,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly generation: Generation,
  ) {
    this.served = first;
  }

  /** Issues the first certificate, which serves at once; call start() to rotate on the clock. */
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
    logger.info({ notBefore: first.notBefore.toISOString(), notAfter: first.notAfter.toISOString() }, 'issued self-signed certificate; serving it');
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

  /** Returns the certificate and key that new connections get. */
  serving(): ManagedCertificate {
    return this.served;
  }

  /** Returns the certificate issued to serve next, or null before day 7 of the served one. */
  upcoming(): ManagedCertificate | null {
    return this.next;
  }

  /** Returns every certificate that has not expired at `now`: the served one first, then the upcoming one. */
  validCertificates(now = this.clock.now()): ManagedCertificate[] {
    const all = this.next === null ? [this.served] : [this.served, this.next];
    return all.filter((certificate) => certificate.notAfter.getTime() > now);
  }

  /**
   * Hashes of every unexpired certificate, in validCertificates() order; empty in 'provided' mode.
   * A client pins the whole list: the served certificate is in it, and so is the upcoming one.
   */
  hashes(now = this.clock.now()): CertificateHashEntry[] {
    if (this.mode === 'provided') return [];
    return this.validCertificates(now).map((certificate) => {
      const sha256 = Buffer.from(certificate.sha256);
      return { algorithm: 'sha-256', value: sha256.toString('base64'), hex: sha256.toString('hex'), notAfter: certificate.notAfter.toISOString() };
    });
  }

  /** Calls `listener` on each `event` with the certificate concerned; returns a function that unsubscribes. */
  on(event: RotationEvent, listener: RotationListener): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /**
   * Applies the rotation steps due at `now` in 'self-signed' mode and returns them in order:
   * 'serving' when the served certificate has expired, then 'issued' when the served one is
   * rotateAfterDays old and nothing is upcoming. If the served certificate expired with no
   * unexpired upcoming one (a clock jump, or failed issues), a new certificate is issued and serves
   * at once. Calls run one after another.
   */
  rotateIfDue(now = this.clock.now()): Promise<RotationStep[]> {
    const run = this.work.then(() => this.step(now));
    this.work = run.catch(() => {});
    return run;
  }

  /** Schedules the rotation steps on the clock. Only 'self-signed' mode has anything to schedule. */
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

  /** Resolves once rotation steps in progress and the timer work around them have finished; for tests that drive the clock. */
  async idle(): Promise<void> {
    await this.work;
    await this.tick;
  }

  private async step(now: number): Promise<RotationStep[]> {
    if (this.mode !== 'self-signed') return [];
    const steps: RotationStep[] = [];
    if (this.served.notAfter.getTime() <= now) {
      if (this.next === null || this.next.notAfter.getTime() <= now) {
        this.logger.warn({ expiredAt: this.served.notAfter.toISOString() }, 'served certificate expired with no valid successor; issuing one to serve at once');
        this.next = null;
        steps.push(this.publish(await issue(now, this.generation)));
      }
      steps.push(this.switchToNext());
    }
    if (this.next === null && now >= this.nextIssueAt()) steps.push(this.publish(await issue(now, this.generation)));
    return steps;
  }

  private publish(certificate: ManagedCertificate): RotationStep {
    this.next = certificate;
    this.logger.info({ notBefore: certificate.notBefore.toISOString(), notAfter: certificate.notAfter.toISOString(), servedUntil: this.served.notAfter.toISOString() }, 'issued self-signed certificate; publishing its hash');
    this.emit('issued', certificate);
    return { event: 'issued', certificate };
  }

  private switchToNext(): RotationStep {
    const previous = this.served;
    this.served = this.next!;
    this.next = null;
    this.logger.info({ notAfter: this.served.notAfter.toISOString(), previousNotAfter: previous.notAfter.toISOString() }, 'serving the next certificate');
    this.emit('serving', this.served);
    return { event: 'serving', certificate: this.served };
  }

  private emit(event: RotationEvent, certificate: ManagedCertificate): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(certificate);
      } catch (error) {
        this.logger.error({ err: toError(error), event }, 'certificate rotation listener threw');
      }
    }
  }

  private nextIssueAt(): number {
    return this.served.notBefore.getTime() + this.generation.rotateAfterDays * DAY_MS;
  }

  /** Next instant a step is due: the next issue, or the served certificate's expiry once a successor is published. */
  private nextEventAt(): number {
    return this.next === null ? Math.min(this.nextIssueAt(), this.served.notAfter.getTime()) : this.served.notAfter.getTime();
  }

  private schedule(delayMs = Math.max(0, this.nextEventAt() - this.clock.now())): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.tick = this.runDueSteps().then(
        () => this.schedule(),
        (error: unknown) => {
          this.logger.error({ err: toError(error) }, 'certificate rotation failed; retrying in a minute');
          this.schedule(ROTATION_RETRY_MS);
        },
      );
    }, delayMs);
  }

  /**
   * Runs steps until none is due. Issuing a certificate takes real time, so a virtual clock may
   * have moved past further instants by the time a step ends.
   */
  private async runDueSteps(): Promise<void> {
    for (let round = 0; round < MAX_STEPS_PER_TICK; round++) {
      const steps = await this.rotateIfDue();
      if (steps.length === 0 || !this.running) return;
    }
  }
}

async function issue(now: number, generation: Pick<SelfSignedManagerOptions, 'validityDays' | 'dnsNames' | 'ipAddresses'>): Promise<ManagedCertificate> {
  // Back-dated by a minute, as createSelfSignedCertificate does by default, for peers whose clock
  // is slightly behind. Whole seconds, because X.509 dates have no fractions (RFC 5280 section
  // 4.1.2.5), so the dates kept here are the ones the certificate carries.
  const notBefore = new Date(Math.floor((now - 60_000) / 1000) * 1000);
  const { cert, key, der, sha256, notAfter } = await createSelfSignedCertificate({
    notBefore,
    validityDays: generation.validityDays,
    dnsNames: generation.dnsNames,
    ipAddresses: generation.ipAddresses,
  });
  return { cert, key, der, sha256, notBefore, notAfter };
}
