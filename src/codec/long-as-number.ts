// Makes protobufjs decode 64-bit integers as JavaScript numbers instead of Long objects.
// Sequence numbers and timestamps stay far below 2^53, and plain numbers keep every comparison and
// Map key simple. This module must be evaluated before the generated bindings, because they read
// `util.Long` when they define their default values.
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();
