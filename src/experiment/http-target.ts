// The runner's route to the gateway's HTTP API: over loopback TCP when the gateway shares the
// runner's network namespace (relay backend), or through a Unix socket that a bridge process in the
// gateway's namespace forwards to the API (packet backend). A Unix socket is bound by its file
// path, which every network namespace shares, so no address or route has to leave the namespace.
import http from 'node:http';

export interface HttpResponse {
  status: number;
  text: string;
}

export interface HttpTarget {
  /** For logs and messages, e.g. http://127.0.0.1:8080 or unix:/tmp/…/http.sock. */
  readonly description: string;
  /** Sends one request; rejects on a network failure or after `timeoutMs`. */
  request(method: 'GET' | 'POST', path: string, body: string | null, timeoutMs: number): Promise<HttpResponse>;
  /** Closes idle keep-alive sockets. */
  close(): void;
}

type Endpoint = { host: string; port: number } | { socketPath: string };

/** Returns a target for the API at `host:port`. */
export function tcpHttpTarget(host: string, port: number): HttpTarget {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return new NodeHttpTarget({ host, port }, `http://${bracketed}:${port}`);
}

/** Returns a target for the API behind the Unix socket at `socketPath`. */
export function unixHttpTarget(socketPath: string): HttpTarget {
  return new NodeHttpTarget({ socketPath }, `unix:${socketPath}`);
}

class NodeHttpTarget implements HttpTarget {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly endpoint: Endpoint,
    readonly description: string,
  ) {}

  request(method: 'GET' | 'POST', path: string, body: string | null, timeoutMs: number): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (body !== null) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const request = http.request({ ...this.endpoint, method, path, headers, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`${method} ${this.description}${path} timed out after ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body ?? undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
