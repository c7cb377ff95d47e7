// The HTTP/3 and WebTransport codecs: pure functions and incremental parsers with no I/O, for the
// WebTransport transport to layer onto QUIC streams and datagrams.
export * from './errors.js';
export * from './varint.js';
export * from './frames.js';
export * from './capsules.js';
export * from './settings.js';
export * from './huffman.js';
export * from './qpack-primitives.js';
export * from './qpack-static-table.js';
export * from './qpack.js';
export * from './qpack-streams.js';
export * from './connect-request.js';
