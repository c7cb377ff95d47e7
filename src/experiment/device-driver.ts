// The device driver: runs one cell's DeviceFleet in a child process, so that with the packet
// backend the devices live in the client's network namespace and their traffic crosses the
// emulated link. The runner starts it with `ip netns exec <client namespace> node --import tsx
// device-driver.ts` and talks to it in the JSON-lines protocol of driver-protocol.ts. The driver
// exits when its stdin closes, so it never outlives the runner.
import { pino } from 'pino';
import { builtinTransports } from '../../transports/index.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DeviceFleet } from './device-fleet.js';
import { lineSplitter, type DriverMessage, type DriverRequest } from './driver-protocol.js';
import { ExperimentError } from './errors.js';

function send(message: DriverMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

let fleet: DeviceFleet | null = null;
let logger: Logger = pino({ level: 'warn', name: 'device-driver' }, pino.destination({ fd: 2, sync: true }));

async function handle(request: DriverRequest): Promise<void> {
  switch (request.type) {
    case 'start': {
      logger = pino({ level: request.logLevel, name: 'device-driver' }, pino.destination({ fd: 2, sync: true }));
      fleet = new DeviceFleet({
        ...request.spec,
        registry: builtinTransports(),
        receipts: { receive: (device, messageId, publishedAtMs, latencyMs) => send({ type: 'receipt', device, messageId, publishedAtMs, latencyMs }) },
        logger,
      });
      fleet.onConnectedChange = (count) => send({ type: 'connected', count });
      send({ type: 'reply', id: request.id, ok: true });
      return;
    }
    case 'connect':
      await started().connect(request.indices, request.concurrency, request.deadline);
      send({ type: 'reply', id: request.id, ok: true });
      return;
    case 'summary':
      send({ type: 'reply', id: request.id, ok: true, summary: await started().summary() });
      return;
    case 'close':
      await started().close(request.graceMs);
      send({ type: 'reply', id: request.id, ok: true });
      return;
  }
}

function started(): DeviceFleet {
  if (fleet === null) throw new ExperimentError('connect', 'the device driver got a request before start');
  return fleet;
}

function onLine(line: string): void {
  let request: DriverRequest;
  try {
    request = JSON.parse(line) as DriverRequest;
  } catch (error) {
    logger.error({ err: toError(error), line: line.slice(0, 200) }, 'device driver got a request line that is not JSON; ignored');
    return;
  }
  handle(request).catch((error: unknown) => {
    const failure = toError(error);
    send({ type: 'reply', id: request.id, ok: false, message: failure.message, ...(error instanceof ExperimentError ? { phase: error.phase } : {}) });
  });
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', lineSplitter(onLine));
// Without the runner no one reads the results, so exit explicitly before open sockets keep it alive.
process.stdin.on('end', () => process.exit(0));
send({ type: 'listening' });
