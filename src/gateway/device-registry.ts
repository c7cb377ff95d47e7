// Per-device state on this gateway: epochs, the live session, the inbox and the upstream ledger.
// It enforces the invariant "at most one live session per device": accepting a hello bumps the
// epoch and hands back the session it replaces, and a hello from an attempt older than the newest
// one seen from the same client instance is refused.
import { randomUUID } from 'node:crypto';
import type { Hello, Publish } from '../codec/proto.js';
import { DeviceInbox, type SeqRange } from '../inbox/device-inbox.js';
import { UpstreamLedger } from './upstream.js';

/** What the registry needs from a live session to replace it. */
export interface LiveSession {
  readonly epoch: number;
}

export interface DeviceRecord<S extends LiveSession = LiveSession> {
  readonly key: string;
  readonly userId: string;
  readonly deviceId: string;
  epoch: number;
  clientInstance: string;
  newestAttempt: number;
  /** Logical session id; survives reconnects through resume. */
  sessionId: string;
  live: S | null;
  readonly inbox: DeviceInbox;
  upstream: UpstreamLedger<Publish>;
}

export type AdmitResult<S extends LiveSession> =
  | { kind: 'stale'; newestAttempt: number }
  | {
      kind: 'admitted';
      device: DeviceRecord<S>;
      epoch: number;
      resumed: boolean;
      /** Messages after the resume position that can no longer be delivered. */
      missing: SeqRange | null;
      /** Position after which stored messages are replayed. */
      replayAfter: number;
      /** The session this one replaces, which the caller must close. */
      replaced: S | null;
    };

export function deviceKey(userId: string, deviceId: string): string {
  return `${userId}\u0000${deviceId}`;
}

export class DeviceRegistry<S extends LiveSession> {
  private readonly devices = new Map<string, DeviceRecord<S>>();
  private readonly devicesByUser = new Map<string, Set<string>>();

  constructor(private readonly inboxLimit: number) {}

  get size(): number {
    return this.devices.size;
  }

  get(userId: string, deviceId: string): DeviceRecord<S> | undefined {
    return this.devices.get(deviceKey(userId, deviceId));
  }

  getOrCreate(userId: string, deviceId: string): DeviceRecord<S> {
    const key = deviceKey(userId, deviceId);
    let device = this.devices.get(key);
    if (!device) {
      device = {
        key,
        userId,
        deviceId,
        epoch: 0,
        clientInstance: '',
        newestAttempt: 0,
        sessionId: '',
        live: null,
        inbox: new DeviceInbox(this.inboxLimit),
        upstream: new UpstreamLedger<Publish>(),
      };
      this.devices.set(key, device);
      let keys = this.devicesByUser.get(userId);
      if (!keys) this.devicesByUser.set(userId, (keys = new Set()));
      keys.add(deviceId);
    }
    return device;
  }

  deviceIdsOf(userId: string): string[] {
    return [...(this.devicesByUser.get(userId) ?? [])];
  }

  /** Decides whether a verified hello becomes the device's live session. */
  admit(hello: Hello): AdmitResult<S> {
    const device = this.getOrCreate(hello.userId ?? '', hello.deviceId ?? '');
    const instance = hello.clientInstance ?? '';
    const attempt = Number(hello.attempt ?? 0);
    if (instance !== '' && instance === device.clientInstance && attempt <= device.newestAttempt) {
      return { kind: 'stale', newestAttempt: device.newestAttempt };
    }
    device.clientInstance = instance;
    device.newestAttempt = attempt;
    device.epoch += 1;
    const replaced = device.live;
    device.live = null;

    const lastSeq = Number(hello.lastSeq ?? 0);
    const resumed = device.sessionId !== '' && hello.resumeSessionId === device.sessionId;
    if (!resumed) {
      device.sessionId = randomUUID();
      // Client publish numbering starts again with a new logical session.
      device.upstream = new UpstreamLedger<Publish>();
    }
    return {
      kind: 'admitted',
      device,
      epoch: device.epoch,
      resumed,
      missing: resumed ? device.inbox.missingAfter(lastSeq) : null,
      replayAfter: resumed ? lastSeq : 0,
      replaced,
    };
  }
}
