/**
 * gzip without compression, for small registries. gzipSync sets up a fresh
 * deflate state of a few hundred KB on every call; on a 2-core machine that
 * (with the garbage it leaves) was about 50 µs of each fenced write of a
 * small registry, a fifth of the gap to a plain etcd put, while deflate
 * saves nothing on a few hundred bytes. The output is a standard gzip
 * member (RFC 1952) holding one "stored" deflate block (RFC 1951 §3.2.4),
 * which gunzip reads like any other: readers need no change.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as gzip uses it (IEEE 802.3, reflected). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One stored block holds at most this many bytes. */
export const MAX_STORED_BYTES = 65_535;

/** A gzip member that stores `data` uncompressed; `data` may hold at most MAX_STORED_BYTES. */
export function gzipStored(data: Uint8Array): Buffer {
  if (data.length > MAX_STORED_BYTES)
    throw new RangeError(`gzipStored takes at most ${MAX_STORED_BYTES} bytes (got ${data.length})`);
  const out = Buffer.alloc(10 + 5 + data.length + 8);
  // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
  out.set([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff], 0);
  // BFINAL=1, BTYPE=00 (stored), then LEN and its one's complement.
  out[10] = 0x01;
  out.writeUInt16LE(data.length, 11);
  out.writeUInt16LE(~data.length & 0xffff, 13);
  out.set(data, 15);
  out.writeUInt32LE(crc32(data), 15 + data.length);
  out.writeUInt32LE(data.length, 19 + data.length);
  return out;
}

/**
 * The bytes of a member that `gzipStored` wrote (one stored block, no
 * header extras), checked against its CRC and length; undefined for any
 * other gzip member, which gunzip then reads. Reading tens of thousands of
 * small values this way skips zlib's per-call setup, most of their cost.
 */
export function gunzipStored(member: Uint8Array): Uint8Array | undefined {
  if (member.length < 23 || member[0] !== 0x1f || member[1] !== 0x8b || member[2] !== 0x08 || member[3] !== 0)
    return undefined;
  if (member[10] !== 0x01) return undefined;
  const view = Buffer.from(member.buffer, member.byteOffset, member.length);
  const length = view.readUInt16LE(11);
  if ((~length & 0xffff) !== view.readUInt16LE(13) || member.length !== 23 + length) return undefined;
  const data = member.subarray(15, 15 + length);
  if (view.readUInt32LE(15 + length) !== crc32(data) || view.readUInt32LE(19 + length) !== length) return undefined;
  return data;
}
