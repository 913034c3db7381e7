/**
 * RecordIO, the framing of Mesos' streaming HTTP responses: each record is
 * its length in bytes as decimal digits, a newline, then the record itself.
 *
 *   25\n{"type":"HEARTBEAT"}...
 *
 * Clients in the wild (e.g. the `mesos-framework` npm package) assume one
 * record arrives per HTTP chunk, so a record is always framed into a single
 * buffer and written with a single write.
 */

/** Frames one record: length prefix and body in one buffer. */
export function encodeRecord(body: Uint8Array): Buffer {
  const prefix = Buffer.from(`${body.byteLength}\n`, "ascii");
  return Buffer.concat([prefix, body], prefix.byteLength + body.byteLength);
}

/** The longest length prefix accepted; Mesos' records never come near 2^53. */
const MAX_PREFIX_DIGITS = 15;

/**
 * Splits a RecordIO byte stream back into records, whatever the chunking.
 * Throws on a malformed length prefix (the stream cannot be resynchronised).
 */
export interface RecordDecoder {
  /** Feeds bytes; returns the records they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[];
  /** Bytes held for an incomplete record. */
  readonly pending: number;
}

export function createRecordDecoder(maxRecordBytes = 64 * 1024 * 1024): RecordDecoder {
  let buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      buffer = buffer.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([buffer, chunk]);
      const records: Uint8Array[] = [];
      for (;;) {
        const newline = buffer.indexOf(0x0a);
        if (newline === -1) {
          if (buffer.byteLength > MAX_PREFIX_DIGITS) throw new Error("RecordIO: length prefix too long");
          break;
        }
        const digits = buffer.subarray(0, newline).toString("ascii");
        if (!/^[0-9]+$/.test(digits)) throw new Error(`RecordIO: bad length prefix '${digits.slice(0, 20)}'`);
        const length = Number(digits);
        if (length > maxRecordBytes) throw new Error(`RecordIO: record of ${length} bytes exceeds the limit`);
        if (buffer.byteLength < newline + 1 + length) break;
        records.push(buffer.subarray(newline + 1, newline + 1 + length));
        buffer = buffer.subarray(newline + 1 + length);
      }
      return records;
    },
    get pending() {
      return buffer.byteLength;
    },
  };
}
