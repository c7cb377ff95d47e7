// A byte bridge from a Unix socket to a TCP address, run inside the gateway's network namespace:
//   node --import tsx http-bridge.ts SOCKET_PATH HOST PORT
// The runner, in its own namespace, cannot reach the gateway's HTTP API on the namespace's
// loopback. A Unix socket is bound by file path, which both namespaces see, so the runner sends its
// publish and /metrics requests to the socket, and this process forwards each connection to
// HOST:PORT. It prints {"type":"listening"} on stdout when ready and exits when stdin closes.
import net from 'node:net';
import { unlinkSync } from 'node:fs';

const [socketPath, host, portText] = process.argv.slice(2);
const port = Number(portText);
if (socketPath === undefined || host === undefined || !Number.isInteger(port) || port <= 0 || port > 65_535) {
  process.stderr.write('usage: http-bridge.ts SOCKET_PATH HOST PORT (PORT from 1 to 65535)\n');
  process.exit(2);
}

const server = net.createServer((downstream) => {
  const upstream = net.connect({ host, port });
  // Either side failing ends both; the HTTP client sees a closed connection and reports it.
  const end = (): void => {
    downstream.destroy();
    upstream.destroy();
  };
  downstream.on('error', end);
  upstream.on('error', end);
  downstream.pipe(upstream);
  upstream.pipe(downstream);
});

server.on('error', (error) => {
  process.stderr.write(`http bridge on ${socketPath} failed: ${error.message}\n`);
  process.exit(1);
});
server.listen(socketPath, () => process.stdout.write(`${JSON.stringify({ type: 'listening' })}\n`));

process.stdin.resume();
process.stdin.on('end', () => {
  try {
    unlinkSync(socketPath);
  } catch {
    // Already removed with the run's temporary directory.
  }
  process.exit(0);
});
