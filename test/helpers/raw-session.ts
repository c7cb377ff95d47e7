// A hand-driven connection for tests that must send what a well-behaved client never would:
// oversized or malformed frames, hellos from stale attempts, silence.
import { decodeFrame, encodeFrame, unbatch } from '../../src/codec/frame-codec.js';
import { CloseCode, PROTOCOL_VERSION, type Frame, type Hello } from '../../src/codec/proto.js';
import { silentLogger } from '../../src/logger.js';
import type { TransportConnection } from '../../src/transport/types.js';
import type { GatewayFixture } from './gateway-fixture.js';
import { waitFor } from './gateway-fixture.js';

export class RawSession {
  readonly frames: Frame[] = [];
  closed = false;
  errors: Error[] = [];

  private constructor(readonly connection: TransportConnection) {
    connection.setHandler({
      onFrame: (bytes) => {
        for (const frame of unbatch(decodeFrame(bytes))) this.frames.push(frame);
      },
      onError: (error) => this.errors.push(error),
      onDrain: () => {},
      onClose: () => {
        this.closed = true;
      },
    });
  }

  static async open(fixture: GatewayFixture, transport: string, maxFrameSize = 1024 * 1024): Promise<RawSession> {
    const listener = fixture.gateway.listeners.find((l) => l.transport === transport)!;
    const connection = await fixture.registry.create(transport).dial({
      host: listener.address.host,
      port: listener.address.port,
      maxFrameSize,
      tls: { ca: fixture.cert.cert, serverName: 'localhost' },
      logger: silentLogger(),
      settings: listener.clientSettings,
    });
    return new RawSession(connection);
  }

  hello(fixture: GatewayFixture, fields: Partial<Hello> & { userId: string; deviceId: string }): void {
    this.send({
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        token: fixture.authority.issue({ userId: fields.userId, deviceId: fields.deviceId, ttlMs: 60_000 }),
        clientInstance: 'raw',
        attempt: 1,
        ...fields,
      },
    });
  }

  send(frame: Parameters<typeof encodeFrame>[0]): void {
    this.connection.send(encodeFrame(frame));
  }

  async waitForFrame(body: NonNullable<Frame['body']>, timeoutMs = 10_000): Promise<Frame> {
    await waitFor(() => this.frames.some((f) => f.body === body), timeoutMs, `a ${body} frame`);
    return this.frames.find((f) => f.body === body)!;
  }

  async waitForClose(timeoutMs = 10_000): Promise<CloseCode> {
    const frame = await this.waitForFrame('close', timeoutMs);
    return frame.close!.code ?? CloseCode.CLOSE_CODE_UNSPECIFIED;
  }

  destroy(): void {
    this.connection.destroy();
  }
}
