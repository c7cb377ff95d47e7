// The certificate a WebTransport listener serves and the hashes it publishes for pinning.
//
// Browsers reach a server with a self-signed certificate only through serverCertificateHashes,
// which requires ECDSA P-256 and a validity under 14 days (src/tls/certificate-checks.ts). Two sources:
// - ListenOptions.tls: served as given. Its hash is published when the certificate is pinnable;
//   a CA-issued certificate needs no hash and publishes none.
// - 'self-signed' (the listener setting certificateManager, or no tls at all): a CertificateManager
//   issues 10-day certificates. At day 7 of the served certificate it publishes the next one's
//   hash ('issued'), and when the served one expires it switches serving to the next ('serving'),
//   so a client pinned to the old hash alone connects until that certificate expires.
//   @matrixai/quic 2.0.9 builds the TLS context of each connection from the server's config when
//   the connection is accepted, so QUICServer.updateConfig() on 'serving' applies to new
//   connections while existing ones keep theirs.
import { systemClock, type Clock } from '../../src/clock.js';
import type { Logger } from '../../src/logger.js';
import type { TlsServerMaterial } from '../../src/transport/types.js';
import { CertificateError, CertificateManager, checkPinnable, hashCertificate, type RotationEvent } from '../../src/tls/cert-manager.js';
import type { CertificateHash } from './settings.js';

export class ListenerCertificates {
  private constructor(
    private readonly manager: CertificateManager | null,
    private readonly fixed: { tls: TlsServerMaterial; hashes: CertificateHash[] } | null,
  ) {}

  static async create(options: { tls: TlsServerMaterial | undefined; mode: 'self-signed' | undefined; logger: Logger; clock?: Clock }): Promise<ListenerCertificates> {
    if (options.mode === 'self-signed' || options.tls === undefined) {
      const manager = await CertificateManager.selfSigned({ logger: options.logger, clock: options.clock ?? systemClock });
      manager.start();
      return new ListenerCertificates(manager, null);
    }
    const tls = options.tls;
    let hashes: CertificateHash[] = [];
    try {
      checkPinnable(tls.cert);
      hashes = [{ algorithm: 'sha-256', value: hashCertificate(tls.cert).base64 }];
    } catch (error) {
      if (!(error instanceof CertificateError)) throw error;
      // A certificate that browsers will not pin must chain to a CA they trust instead.
      options.logger.warn({ reason: error.reason }, `the WebTransport certificate cannot be pinned by browsers (${error.message}); publishing no certificate hashes`);
    }
    return new ListenerCertificates(null, { tls, hashes });
  }

  /** Returns the certificate and key that new connections get. */
  serving(): TlsServerMaterial {
    if (this.manager !== null) {
      const { cert, key } = this.manager.serving();
      return { cert, key };
    }
    return this.fixed!.tls;
  }

  /** Hashes of every unexpired certificate: the served one first, then the one that serves next. */
  hashes(): CertificateHash[] {
    if (this.manager !== null) return this.manager.hashes().map(({ algorithm, value }) => ({ algorithm, value }));
    return this.fixed!.hashes.map((hash) => ({ ...hash }));
  }

  /**
   * Calls `listener` with the certificate of each rotation `event` ('issued': published,
   * 'serving': new connections get it); returns a function that unsubscribes.
   */
  on(event: RotationEvent, listener: (tls: TlsServerMaterial) => void): () => void {
    if (this.manager === null) return () => {};
    return this.manager.on(event, ({ cert, key }) => listener({ cert, key }));
  }

  /** The manager in self-signed mode, for tests and operators that drive rotation. */
  get certificateManager(): CertificateManager | null {
    return this.manager;
  }

  stop(): void {
    this.manager?.stop();
  }
}
