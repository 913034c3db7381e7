import type { IncomingMessage } from "node:http";
import { GatewayError } from "./errors.js";

/** Larger bodies are refused: no v1 call comes near this. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Reads a whole request body. Node decodes `Transfer-Encoding: chunked`, so
 * chunked and sized bodies arrive the same way.
 */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) throw new GatewayError(413, `Request body exceeds ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    // A client that goes away mid-body is the client's problem, not a server error.
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(400, `Failed to read the request body: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, size);
}
