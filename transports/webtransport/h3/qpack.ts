// QPACK field sections (RFC 9204 §4.5) for an endpoint that advertises a dynamic table capacity of
// 0. Only the static table and literals can appear, so decoding never waits on the encoder stream.
// Nothing needs acknowledging either, because §4.4.1 acknowledges only sections with a non-zero
// Required Insert Count. Any reference to the dynamic table is QPACK_DECOMPRESSION_FAILED.
import { Buffer } from 'node:buffer';
import { H3Error, H3ErrorCode } from './errors.js';
import { decodePrefixedInt, decodeStringLiteral, encodePrefixedInt, encodeStringLiteral, type HuffmanMode } from './qpack-primitives.js';
import { STATIC_TABLE, findStaticField, findStaticName } from './qpack-static-table.js';

export interface HeaderField {
  name: string;
  value: string;
}

export interface DecodeFieldSectionOptions {
  /**
   * Limit on the field section size as RFC 9114 §4.2.2 counts it: name + value + 32 bytes per
   * field. Above it decoding fails with H3_EXCESSIVE_LOAD. Default 64 KiB.
   */
  maxFieldSectionSize?: number;
}

export const DEFAULT_MAX_FIELD_SECTION_SIZE = 64 * 1024;

/** Per-field overhead in the field section size of RFC 9114 §4.2.2. */
const FIELD_OVERHEAD = 32;

function failed(message: string): H3Error {
  return new H3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, message);
}

/** Field bytes map one to one onto code points 0-255, so any octet round-trips (RFC 9110 §5.5 allows obs-text). */
function bytesToString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

function stringToBytes(text: string, label: string): Uint8Array {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new RangeError(`${label} contains a character above U+00FF at index ${i}; field values are octets`);
  }
  return Buffer.from(text, 'latin1');
}

function staticEntry(index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index];
  if (!entry) throw failed(`static table index ${index} is beyond the ${STATIC_TABLE.length} entries`);
  return entry;
}

function needInt(bytes: Uint8Array, offset: number, prefixBits: number, label: string): { value: number; length: number } {
  const decoded = decodePrefixedInt(bytes, offset, prefixBits);
  if (!decoded) throw failed(`field section ends inside ${label}`);
  return decoded;
}

/**
 * Decodes the encoded field section of a HEADERS frame into fields, in order. Throws H3Error
 * QPACK_DECOMPRESSION_FAILED for malformed input or dynamic table references, and
 * H3_EXCESSIVE_LOAD above the size limit. Names are not validated here; see connect-request.ts.
 */
export function decodeFieldSection(bytes: Uint8Array, options: DecodeFieldSectionOptions = {}): HeaderField[] {
  const limit = options.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;

  // §4.5.1: Required Insert Count (8-bit prefix), then sign bit and Delta Base (7-bit prefix).
  const insertCount = needInt(bytes, 0, 8, 'the Required Insert Count');
  if (insertCount.value !== 0) {
    // §4.5.1.1: with a capacity of 0, MaxEntries is 0 and any encoded value above 0 is an error.
    throw failed(`Required Insert Count ${insertCount.value} references a dynamic table, but its capacity is 0`);
  }
  // With no dynamic references allowed, the Base is never used, so any Delta Base is accepted.
  const deltaBase = needInt(bytes, insertCount.length, 7, 'the Delta Base');
  let offset = insertCount.length + deltaBase.length;

  const fields: HeaderField[] = [];
  let size = 0;
  while (offset < bytes.length) {
    const first = bytes[offset]!;
    let name: string;
    let value: string;

    if (first & 0x80) {
      // §4.5.2 indexed field line: 1 T index(6).
      if ((first & 0x40) === 0) throw failed('indexed field line references the dynamic table');
      const index = needInt(bytes, offset, 6, 'an indexed field line');
      [name, value] = staticEntry(index.value);
      offset += index.length;
    } else if (first & 0x40) {
      // §4.5.4 literal field line with name reference: 0 1 N T index(4), value.
      if ((first & 0x10) === 0) throw failed('literal field line references a dynamic table name');
      const index = needInt(bytes, offset, 4, 'a name reference');
      name = staticEntry(index.value)[0];
      offset += index.length;
      const literal = decodeStringLiteral(bytes, offset, 7);
      value = bytesToString(literal.bytes);
      offset += literal.length;
    } else if (first & 0x20) {
      // §4.5.6 literal field line with literal name: 0 0 1 N H length(3) name, value.
      const nameLiteral = decodeStringLiteral(bytes, offset, 3);
      name = bytesToString(nameLiteral.bytes);
      offset += nameLiteral.length;
      const valueLiteral = decodeStringLiteral(bytes, offset, 7);
      value = bytesToString(valueLiteral.bytes);
      offset += valueLiteral.length;
    } else {
      // §4.5.3 (0001 index) and §4.5.5 (0000 N index) both use post-base dynamic indices.
      throw failed('field line with a post-base index references the dynamic table');
    }

    size += name.length + value.length + FIELD_OVERHEAD;
    if (size > limit) throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `field section exceeds ${limit} bytes`);
    fields.push({ name, value });
  }
  return fields;
}

export interface EncodeFieldSectionOptions {
  /** When to Huffman-code string literals; default 'auto' (only when shorter). */
  huffman?: HuffmanMode;
}

/**
 * Encodes fields without the dynamic table: a static index when the whole field is in the table, a
 * static name reference when only the name is, a literal name otherwise. Names must be lowercase
 * (RFC 9114 §4.2); names and values must be octets (code points up to U+00FF). Throws RangeError
 * on either, a caller bug.
 */
export function encodeFieldSection(fields: Iterable<HeaderField>, options: EncodeFieldSectionOptions = {}): Uint8Array {
  const huffman = options.huffman ?? 'auto';
  // §4.5.1: Required Insert Count 0, sign 0, Delta Base 0.
  const out: number[] = [0x00, 0x00];
  for (const { name, value } of fields) {
    if (name.length === 0 || name !== name.toLowerCase()) throw new RangeError(`field name ${JSON.stringify(name)} must be non-empty and lowercase`);
    const exact = findStaticField(name, value);
    if (exact !== undefined) {
      out.push(...encodePrefixedInt(exact, 6, 0xc0));
      continue;
    }
    const nameIndex = findStaticName(name);
    if (nameIndex !== undefined) {
      out.push(...encodePrefixedInt(nameIndex, 4, 0x50));
    } else {
      out.push(...encodeStringLiteral(stringToBytes(name, 'field name'), 3, 0x20, huffman));
    }
    out.push(...encodeStringLiteral(stringToBytes(value, `value of ${name}`), 7, 0x00, huffman));
  }
  return Uint8Array.from(out);
}
