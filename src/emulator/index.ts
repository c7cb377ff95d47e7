// Public entry point of the link emulator.
export { LinkEmulator } from './emulator.js';
export type { BlackholeDirection, EmulatorProtocol, EmulatorStats, LinkEmulatorOptions, ScheduledBlackhole } from './emulator.js';
export { EmulatorError, TraceInvalidError } from './errors.js';
export { LinkDirection, validateLinkDirectionConfig } from './link-model.js';
export type { LinkDirectionConfig, LinkDirectionOptions, LinkDirectionStats, LinkDropReason, ScheduleResult } from './link-model.js';
export { loadMahimahiTrace, parseMahimahiTrace, TraceCapacity, TRACE_OPPORTUNITY_BYTES } from './mahimahi-trace.js';
export type { MahimahiTrace } from './mahimahi-trace.js';
export { builtInProfiles, getProfile, profileNames, resolveProfile, traceProfile, validateProfile } from './profiles.js';
export type { LinkProfile, TraceProfileOptions } from './profiles.js';
export type { DirectionStats, LinkSide, RelayDropReason } from './relay-types.js';
export { TCP_LOSS_MODEL, retransmissionDelayMs } from './tcp-relay.js';
