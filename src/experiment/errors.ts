// Errors of the experiment runner. An ExperimentError means that a phase of one transport × profile
// run failed: the gateway did not start, devices did not connect in time, or the drain timed out.
// The runner records it in the report and goes on with the next pair.
import { PushlabError } from '../errors.js';

export type ExperimentPhase = 'gateway-start' | 'link-start' | 'connect' | 'publish' | 'drain' | 'teardown';

export class ExperimentError extends PushlabError {
  override readonly name = 'ExperimentError';

  constructor(
    readonly phase: ExperimentPhase,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('EXPERIMENT_FAILED', message, options);
  }
}
