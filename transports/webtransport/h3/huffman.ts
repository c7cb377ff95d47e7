// The static Huffman code of HPACK (RFC 7541 §5.2 and Appendix B), which QPACK reuses for string
// literals (RFC 9204 §4.1.2).
//
// HUFFMAN_CODES is Appendix B: one [code, bit length] pair per symbol, bytes 0-255 and EOS (256),
// code right-aligned as in the RFC's "code as hex" column. The code is canonical (codes of each
// length are consecutive, in symbol order), which the tests check along with the Kraft sum.
import { H3Error, H3ErrorCode } from './errors.js';

/** Index 256 is EOS, which never appears in an encoded string (RFC 7541 §5.2). */
export const EOS = 256;

export const HUFFMAN_CODES: ReadonlyArray<readonly [code: number, bits: number]> = [
  /*   0 */ [0x1ff8, 13], [0x7fffd8, 23], [0xfffffe2, 28], [0xfffffe3, 28],
  /*   4 */ [0xfffffe4, 28], [0xfffffe5, 28], [0xfffffe6, 28], [0xfffffe7, 28],
  /*   8 */ [0xfffffe8, 28], [0xffffea, 24], [0x3ffffffc, 30], [0xfffffe9, 28],
  /*  12 */ [0xfffffea, 28], [0x3ffffffd, 30], [0xfffffeb, 28], [0xfffffec, 28],
  /*  16 */ [0xfffffed, 28], [0xfffffee, 28], [0xfffffef, 28], [0xffffff0, 28],
  /*  20 */ [0xffffff1, 28], [0xffffff2, 28], [0x3ffffffe, 30], [0xffffff3, 28],
  /*  24 */ [0xffffff4, 28], [0xffffff5, 28], [0xffffff6, 28], [0xffffff7, 28],
  /*  28 */ [0xffffff8, 28], [0xffffff9, 28], [0xffffffa, 28], [0xffffffb, 28],
  /*  32 */ [0x14, 6], [0x3f8, 10], [0x3f9, 10], [0xffa, 12],
  /*  36 */ [0x1ff9, 13], [0x15, 6], [0xf8, 8], [0x7fa, 11],
  /*  40 */ [0x3fa, 10], [0x3fb, 10], [0xf9, 8], [0x7fb, 11],
  /*  44 */ [0xfa, 8], [0x16, 6], [0x17, 6], [0x18, 6],
  /*  48 */ [0x0, 5], [0x1, 5], [0x2, 5], [0x19, 6],
  /*  52 */ [0x1a, 6], [0x1b, 6], [0x1c, 6], [0x1d, 6],
  /*  56 */ [0x1e, 6], [0x1f, 6], [0x5c, 7], [0xfb, 8],
  /*  60 */ [0x7ffc, 15], [0x20, 6], [0xffb, 12], [0x3fc, 10],
  /*  64 */ [0x1ffa, 13], [0x21, 6], [0x5d, 7], [0x5e, 7],
  /*  68 */ [0x5f, 7], [0x60, 7], [0x61, 7], [0x62, 7],
  /*  72 */ [0x63, 7], [0x64, 7], [0x65, 7], [0x66, 7],
  /*  76 */ [0x67, 7], [0x68, 7], [0x69, 7], [0x6a, 7],
  /*  80 */ [0x6b, 7], [0x6c, 7], [0x6d, 7], [0x6e, 7],
  /*  84 */ [0x6f, 7], [0x70, 7], [0x71, 7], [0x72, 7],
  /*  88 */ [0xfc, 8], [0x73, 7], [0xfd, 8], [0x1ffb, 13],
  /*  92 */ [0x7fff0, 19], [0x1ffc, 13], [0x3ffc, 14], [0x22, 6],
  /*  96 */ [0x7ffd, 15], [0x3, 5], [0x23, 6], [0x4, 5],
  /* 100 */ [0x24, 6], [0x5, 5], [0x25, 6], [0x26, 6],
  /* 104 */ [0x27, 6], [0x6, 5], [0x74, 7], [0x75, 7],
  /* 108 */ [0x28, 6], [0x29, 6], [0x2a, 6], [0x7, 5],
  /* 112 */ [0x2b, 6], [0x76, 7], [0x2c, 6], [0x8, 5],
  /* 116 */ [0x9, 5], [0x2d, 6], [0x77, 7], [0x78, 7],
  /* 120 */ [0x79, 7], [0x7a, 7], [0x7b, 7], [0x7ffe, 15],
  /* 124 */ [0x7fc, 11], [0x3ffd, 14], [0x1ffd, 13], [0xffffffc, 28],
  /* 128 */ [0xfffe6, 20], [0x3fffd2, 22], [0xfffe7, 20], [0xfffe8, 20],
  /* 132 */ [0x3fffd3, 22], [0x3fffd4, 22], [0x3fffd5, 22], [0x7fffd9, 23],
  /* 136 */ [0x3fffd6, 22], [0x7fffda, 23], [0x7fffdb, 23], [0x7fffdc, 23],
  /* 140 */ [0x7fffdd, 23], [0x7fffde, 23], [0xffffeb, 24], [0x7fffdf, 23],
  /* 144 */ [0xffffec, 24], [0xffffed, 24], [0x3fffd7, 22], [0x7fffe0, 23],
  /* 148 */ [0xffffee, 24], [0x7fffe1, 23], [0x7fffe2, 23], [0x7fffe3, 23],
  /* 152 */ [0x7fffe4, 23], [0x1fffdc, 21], [0x3fffd8, 22], [0x7fffe5, 23],
  /* 156 */ [0x3fffd9, 22], [0x7fffe6, 23], [0x7fffe7, 23], [0xffffef, 24],
  /* 160 */ [0x3fffda, 22], [0x1fffdd, 21], [0xfffe9, 20], [0x3fffdb, 22],
  /* 164 */ [0x3fffdc, 22], [0x7fffe8, 23], [0x7fffe9, 23], [0x1fffde, 21],
  /* 168 */ [0x7fffea, 23], [0x3fffdd, 22], [0x3fffde, 22], [0xfffff0, 24],
  /* 172 */ [0x1fffdf, 21], [0x3fffdf, 22], [0x7fffeb, 23], [0x7fffec, 23],
  /* 176 */ [0x1fffe0, 21], [0x1fffe1, 21], [0x3fffe0, 22], [0x1fffe2, 21],
  /* 180 */ [0x7fffed, 23], [0x3fffe1, 22], [0x7fffee, 23], [0x7fffef, 23],
  /* 184 */ [0xfffea, 20], [0x3fffe2, 22], [0x3fffe3, 22], [0x3fffe4, 22],
  /* 188 */ [0x7ffff0, 23], [0x3fffe5, 22], [0x3fffe6, 22], [0x7ffff1, 23],
  /* 192 */ [0x3ffffe0, 26], [0x3ffffe1, 26], [0xfffeb, 20], [0x7fff1, 19],
  /* 196 */ [0x3fffe7, 22], [0x7ffff2, 23], [0x3fffe8, 22], [0x1ffffec, 25],
  /* 200 */ [0x3ffffe2, 26], [0x3ffffe3, 26], [0x3ffffe4, 26], [0x7ffffde, 27],
  /* 204 */ [0x7ffffdf, 27], [0x3ffffe5, 26], [0xfffff1, 24], [0x1ffffed, 25],
  /* 208 */ [0x7fff2, 19], [0x1fffe3, 21], [0x3ffffe6, 26], [0x7ffffe0, 27],
  /* 212 */ [0x7ffffe1, 27], [0x3ffffe7, 26], [0x7ffffe2, 27], [0xfffff2, 24],
  /* 216 */ [0x1fffe4, 21], [0x1fffe5, 21], [0x3ffffe8, 26], [0x3ffffe9, 26],
  /* 220 */ [0xffffffd, 28], [0x7ffffe3, 27], [0x7ffffe4, 27], [0x7ffffe5, 27],
  /* 224 */ [0xfffec, 20], [0xfffff3, 24], [0xfffed, 20], [0x1fffe6, 21],
  /* 228 */ [0x3fffe9, 22], [0x1fffe7, 21], [0x1fffe8, 21], [0x7ffff3, 23],
  /* 232 */ [0x3fffea, 22], [0x3fffeb, 22], [0x1ffffee, 25], [0x1ffffef, 25],
  /* 236 */ [0xfffff4, 24], [0xfffff5, 24], [0x3ffffea, 26], [0x7ffff4, 23],
  /* 240 */ [0x3ffffeb, 26], [0x7ffffe6, 27], [0x3ffffec, 26], [0x3ffffed, 26],
  /* 244 */ [0x7ffffe7, 27], [0x7ffffe8, 27], [0x7ffffe9, 27], [0x7ffffea, 27],
  /* 248 */ [0x7ffffeb, 27], [0xffffffe, 28], [0x7ffffec, 27], [0x7ffffed, 27],
  /* 252 */ [0x7ffffee, 27], [0x7ffffef, 27], [0x7fffff0, 27], [0x3ffffee, 26],
  /* 256 */ [0x3fffffff, 30],
];

/**
 * The decoding tree: node 0 is the root; children[2n] and children[2n+1] are the 0 and 1 children
 * of node n. A negative child -(symbol + 1) is a leaf.
 */
const children = buildTree();

function buildTree(): Int32Array {
  // A complete prefix code over 257 symbols has 256 internal nodes.
  const tree = new Int32Array(2 * 256);
  let nodes = 1;
  HUFFMAN_CODES.forEach(([code, bits], symbol) => {
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        tree[slot] = -(symbol + 1);
      } else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot]!;
      }
    }
  });
  return tree;
}

function decompressionFailed(message: string): H3Error {
  return new H3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, `Huffman: ${message}`);
}

/**
 * Decodes a Huffman-coded string. Throws H3Error QPACK_DECOMPRESSION_FAILED when the input holds
 * EOS, or ends with padding longer than 7 bits or padding that is not the most significant bits of
 * EOS, that is, all ones (RFC 7541 §5.2).
 */
export function decodeHuffman(input: Uint8Array): Uint8Array {
  // No code is shorter than 5 bits, so the output has at most 8/5 bytes per input byte.
  const out = new Uint8Array(Math.ceil((input.length * 8) / 5));
  let written = 0;
  let node = 0;
  // Bits read since the last complete symbol, and whether they were all ones.
  let pendingBits = 0;
  let pendingAllOnes = true;

  for (const byte of input) {
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      const next = children[2 * node + bit]!;
      pendingBits += 1;
      pendingAllOnes &&= bit === 1;
      if (next >= 0) {
        node = next;
        continue;
      }
      const symbol = -next - 1;
      if (symbol === EOS) throw decompressionFailed('string contains EOS');
      out[written++] = symbol;
      node = 0;
      pendingBits = 0;
      pendingAllOnes = true;
    }
  }

  if (pendingBits > 7) throw decompressionFailed(`padding of ${pendingBits} bits is longer than 7 bits`);
  if (!pendingAllOnes) throw decompressionFailed('padding is not all ones');
  return out.slice(0, written);
}

/** Returns the length in bytes of the Huffman coding of `input`, padding included. */
export function huffmanEncodedLength(input: Uint8Array): number {
  let bits = 0;
  for (const byte of input) bits += HUFFMAN_CODES[byte]![1];
  return Math.ceil(bits / 8);
}

/** Huffman-codes `input`, padding the last byte with the high bits of EOS (ones). */
export function encodeHuffman(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(input));
  let written = 0;
  // Pending bits, at most 7 + 30, so plain arithmetic stays exact (below 2^53); bit shifts
  // would cut at 32 bits.
  let accumulator = 0;
  let pending = 0;
  for (const byte of input) {
    const [code, bits] = HUFFMAN_CODES[byte]!;
    accumulator = accumulator * 2 ** bits + code;
    pending += bits;
    while (pending >= 8) {
      pending -= 8;
      const top = Math.floor(accumulator / 2 ** pending);
      out[written++] = top;
      accumulator -= top * 2 ** pending;
    }
  }
  if (pending > 0) out[written++] = (accumulator << (8 - pending)) | (0xff >> pending);
  return out;
}
