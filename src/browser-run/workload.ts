// The publish workload: `messages` publishes through the gateway's HTTP API, round-robin over the
// pages' users, paced at a fixed rate with a bound on requests in flight.
import { PushlabError, toError } from '../errors.js';
import type { RunPage } from './pages.js';

/** Maximum requests in flight. A slow gateway makes the run fall behind its rate instead of opening ever more sockets. */
const MAX_IN_FLIGHT = 64;

export interface WorkloadResult {
  published: number;
  failed: number;
  /** First few failure messages, for the report. */
  errors: string[];
  /** Messages each page should receive, by user id. */
  expected: Map<string, number>;
}

export async function runWorkload(httpUrl: string, pages: readonly RunPage[], messages: number, ratePerSecond: number, deadline: number): Promise<WorkloadResult> {
  const result: WorkloadResult = { published: 0, failed: 0, errors: [], expected: new Map(pages.map((entry) => [entry.userId, 0])) };
  const inFlight = new Set<Promise<void>>();
  const start = Date.now();
  const intervalMs = 1_000 / ratePerSecond;

  for (let index = 0; index < messages && Date.now() < deadline; index++) {
    const dueAt = start + index * intervalMs;
    const wait = dueAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);

    const target = pages[index % pages.length]!;
    const request = publishOne(httpUrl, target, `m-${index}`).then(
      () => {
        result.published += 1;
        result.expected.set(target.userId, (result.expected.get(target.userId) ?? 0) + 1);
      },
      (error: unknown) => {
        result.failed += 1;
        if (result.errors.length < 5) result.errors.push(toError(error).message);
      },
    );
    const tracked = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  return result;
}

async function publishOne(httpUrl: string, target: RunPage, payload: string): Promise<void> {
  const response = await fetch(`${httpUrl}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: target.userId, deviceId: target.deviceId, payload }),
  });
  if (!response.ok) throw new PushlabError('PUBLISH_REJECTED', `publish to ${target.userId} returned HTTP ${response.status}: ${await response.text()}`);
}
