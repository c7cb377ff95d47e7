import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/codec/proto.js';
import { ConnectionClosedError, TransportError } from '../../src/errors.js';
import { numbered, startPair, waitFor, type Pair } from './helpers.js';

let pair: Pair | null = null;

afterEach(async () => {
  await pair?.close();
  pair = null;
});

describe('udp lifecycle', () => {
  it('idle timeout closes a connection whose peer vanished', async () => {
    pair = await startPair({ relay: { seed: 1 }, listenSettings: { idleTimeoutMs: 300 } });
    pair.relay!.setLoss('toServer', 1);
    pair.relay!.setLoss('toClient', 1);
    const started = Date.now();
    await pair.serverEvents.until(() => pair!.serverEvents.closeInfo !== null, 'idle close', 5_000);

    const error = pair.serverEvents.closeInfo!.error;
    expect(error).toBeInstanceOf(TransportError);
    expect(error!.message).toContain('idleTimeoutMs');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(pair.server.closed).toBe(true);
    await waitFor(() => pair!.listener.connectionCount === 0, 'listener forgets the connection');
  });

  it('traffic keeps an idle timer from firing', async () => {
    pair = await startPair({ listenSettings: { idleTimeoutMs: 300 } });
    for (let i = 0; i < 8; i++) {
      pair.client.sendUnreliable(Buffer.from(`heartbeat-${i}`));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pair.server.closed).toBe(false);
    expect(pair.serverEvents.frames).toHaveLength(8);
  });

  it('close flushes frames, then the peer sees an orderly close', async () => {
    pair = await startPair({ relay: { seed: 2, lossToServer: 0.2, lossToClient: 0.2 }, listenSettings: { minRtoMs: 50 }, dialSettings: { minRtoMs: 50 } });
    const frames = numbered('flushed', 50);
    for (const frame of frames) pair.client.send(frame);
    pair.client.close();
    pair.client.send(Buffer.from('after close is dropped'));
    await pair.serverEvents.until(() => pair!.serverEvents.closeInfo !== null, 'server close', 10_000);

    expect(pair.serverEvents.framesAsText()).toEqual(frames.map((frame) => frame.toString()));
    expect(pair.serverEvents.closeInfo).toEqual({});
    await pair.clientEvents.until(() => pair!.clientEvents.closeInfo !== null, 'client close');
    expect(pair.clientEvents.closeInfo).toEqual({});
  });

  it('destroy closes both ends at once', async () => {
    pair = await startPair();
    pair.server.destroy();
    expect(pair.server.closed).toBe(true);
    await pair.clientEvents.until(() => pair!.clientEvents.closeInfo !== null, 'client sees the close');
    expect(pair.clientEvents.closeInfo).toEqual({});
  });

  it('listener close destroys its connections', async () => {
    pair = await startPair();
    await pair.listener.close();
    expect(pair.server.closed).toBe(true);
    expect(pair.listener.connectionCount).toBe(0);
    await pair.clientEvents.until(() => pair!.clientEvents.closeInfo !== null, 'client sees the shutdown');
    const error = pair.clientEvents.closeInfo!.error;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect((error as ConnectionClosedError).closeCode).toBe(CloseCode.GOING_AWAY);
  });

  it('a lost CLOSE is repeated when the peer keeps sending', async () => {
    pair = await startPair({ relay: { seed: 3 }, dialSettings: { minRtoMs: 50 } });
    pair.relay!.setLoss('toClient', 1);
    pair.server.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    pair.relay!.setLoss('toClient', 0);
    // The client still considers the connection open, and the server replies to its next packet with CLOSE.
    pair.client.send(Buffer.from('to a closed server'));
    await pair.clientEvents.until(() => pair!.clientEvents.closeInfo !== null, 'repeated CLOSE');
    expect(pair.clientEvents.closeInfo).toEqual({});
  });

  it('delivery timeout fails a connection whose peer stopped acknowledging', async () => {
    pair = await startPair({ relay: { seed: 4 }, dialSettings: { deliveryTimeoutMs: 400, minRtoMs: 50, maxRtoMs: 100 } });
    pair.relay!.setLoss('toServer', 1);
    pair.client.send(Buffer.from('never acknowledged'));
    await pair.clientEvents.until(() => pair!.clientEvents.closeInfo !== null, 'delivery timeout', 5_000);
    const error = pair.clientEvents.closeInfo!.error;
    expect(error).toBeInstanceOf(TransportError);
    expect(error!.message).toContain('deliveryTimeoutMs');
  });

  it('reassembly timeout fails a receive that stalls behind a hole', async () => {
    pair = await startPair({ relay: { seed: 5 }, listenSettings: { reassemblyTimeoutMs: 300 } });
    // Drop the first fragment and, once the other four passed, everything else towards the
    // server, so fast retransmission cannot repair the hole.
    let fragments = 0;
    pair.relay!.filter = (direction, datagram) => {
      if (direction !== 'toServer') return 'pass';
      if (fragments >= 5) return 'drop';
      if (datagram[0] !== 0x05 || datagram.length < 500) return 'pass';
      fragments += 1;
      return fragments === 1 ? 'drop' : 'pass';
    };
    pair.client.send(Buffer.alloc(5_000, 7));
    await pair.serverEvents.until(() => pair!.serverEvents.closeInfo !== null, 'reassembly timeout', 5_000);
    expect(pair.serverEvents.closeInfo!.error!.message).toContain('reassemblyTimeoutMs');
    expect(pair.serverEvents.frames).toEqual([]);
  });
});
