// Gateway configuration: JSON file plus CLI flags, validated, then turned into GatewayOptions.
export * from './schema.js';
export * from './values.js';
export { applyConfigFile, checkConfigConsistency, readLogLevel } from './validate.js';
export { GATEWAY_FLAGS, applyGatewayFlags, type GatewayFlag, type GatewayFlagValues } from './flags.js';
export { loadGatewayConfig, parseGatewayConfigText, loadAuthSecret, loadTlsFiles, type LoadGatewayConfigOptions, type LoadedSecret } from './load.js';
export { toGatewayOptions, type GatewayRuntime } from './gateway-options.js';
