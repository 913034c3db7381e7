import type { Socket } from "node:net";

/**
 * The client connection preface of HTTP/2 (RFC 9113 §3.4). A client that
 * speaks HTTP/2 over cleartext "with prior knowledge" (gRPC clients,
 * `buf curl --http2-prior-knowledge`) sends exactly these bytes first.
 */
export const HTTP2_PREFACE: Buffer = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Which server a freshly accepted socket belongs to. */
export type WireProtocol = "h2" | "http1";

/**
 * Reads the first bytes of `socket` until they either equal the HTTP/2
 * preface ("h2") or stop matching it ("http1"), then puts every byte read back
 * with `socket.unshift` and leaves the socket paused, ready to be handed to
 * the server that speaks its protocol.
 *
 * A preface split across several TCP segments is collected until decided.
 * HTTP/1 is usually decided on the first byte, so it costs no extra wait.
 *
 * Resolves `undefined` when the socket errors, closes, ends before deciding,
 * or sends nothing within `timeoutMs`: the caller should destroy it. (Bytes
 * cannot be unshifted after 'end', and a half-sent preface is not worth
 * serving.)
 */
export function sniffProtocol(socket: Socket, timeoutMs: number): Promise<WireProtocol | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    let decided = false;

    const finish = (protocol: WireProtocol | undefined): void => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onGone);
      socket.off("close", onGone);
      socket.off("error", onGone);
      // pause() first: otherwise the unshifted bytes would be emitted as
      // 'data' right away, before the next owner has attached its listener.
      socket.pause();
      if (protocol !== undefined && seen > 0) socket.unshift(Buffer.concat(chunks, seen));
      resolve(protocol);
    };

    const onData = (chunk: Buffer): void => {
      // Compare only the new bytes against the preface at their offset; the
      // earlier ones already matched, or we would have decided.
      const end = Math.min(seen + chunk.length, HTTP2_PREFACE.length);
      const matches = chunk.subarray(0, end - seen).equals(HTTP2_PREFACE.subarray(seen, end));
      chunks.push(chunk);
      seen += chunk.length;
      if (!matches) finish("http1");
      else if (seen >= HTTP2_PREFACE.length) finish("h2");
    };
    const onGone = (): void => finish(undefined);

    const timer = setTimeout(onGone, timeoutMs);
    socket.on("data", onData);
    socket.once("end", onGone);
    socket.once("close", onGone);
    // Without an 'error' listener an ECONNRESET during sniffing would crash
    // the process; the servers attach their own once the socket is theirs.
    socket.once("error", onGone);
  });
}
