/**
 * Content negotiation for the v1 HTTP API, as Mesos does it: the request
 * body's Content-Type picks the decoder (JSON or protobuf), the Accept header
 * picks the answer's encoding (JSON when absent or `*\/*`), and streamed
 * answers may ask for `application/recordio` with Message-Accept naming the
 * records' encoding.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { GatewayError } from "./errors.js";
import { type JsonValue, parseMesosJson, toMesosJson } from "./json.js";

export const APPLICATION_JSON = "application/json";
export const APPLICATION_PROTOBUF = "application/x-protobuf";
export const APPLICATION_RECORDIO = "application/recordio";

/** How one message is encoded. */
export type Media = "json" | "protobuf";

export const contentTypeOf = (media: Media): string => (media === "json" ? APPLICATION_JSON : APPLICATION_PROTOBUF);

/** The media type of a header value, without parameters, lowercased. */
function bareType(value: string): string {
  return (value.split(";")[0] ?? "").trim().toLowerCase();
}

/**
 * The encoding of the request body. Mesos compares the header exactly; a
 * `; charset=utf-8` suffix is tolerated here since it changes nothing.
 */
export function requestMedia(headers: IncomingHttpHeaders): Media {
  const header = headers["content-type"];
  if (header === undefined) throw new GatewayError(400, "Expecting 'Content-Type' to be present");
  const type = bareType(header);
  if (type === APPLICATION_JSON) return "json";
  if (type === APPLICATION_PROTOBUF) return "protobuf";
  throw new GatewayError(415, `Expecting 'Content-Type' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`);
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(",").flatMap((part) => {
    const [range = "", ...params] = part.split(";").map((s) => s.trim());
    const [type, subtype] = range.toLowerCase().split("/");
    if (type === undefined || type === "" || subtype === undefined) return [];
    const qParam = params.find((p) => p.toLowerCase().startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return [{ type, subtype, q: Number.isFinite(q) ? q : 0 }];
  });
}

/** Whether an Accept header (absent: anything) allows `mediaType`. */
export function accepts(header: string | undefined, mediaType: string): boolean {
  if (header === undefined || header.trim() === "") return true;
  const [type, subtype] = mediaType.split("/");
  // The most specific matching range decides, as RFC 7231 says.
  const matches = parseAccept(header)
    .filter((r) => (r.type === "*" || r.type === type) && (r.subtype === "*" || r.subtype === subtype))
    .sort((a, b) => specificity(b) - specificity(a));
  const best = matches[0];
  return best !== undefined && best.q > 0;
}

const specificity = (r: MediaRange): number => (r.type === "*" ? 0 : r.subtype === "*" ? 1 : 2);

const notAcceptable = (): GatewayError =>
  new GatewayError(406, `Expecting 'Accept' to allow '${APPLICATION_PROTOBUF}' or '${APPLICATION_JSON}'`);

/** The encoding of a one-shot answer. JSON wins when both are allowed, as in Mesos. */
export function responseMedia(headers: IncomingHttpHeaders): Media {
  const accept = headers.accept;
  if (accepts(accept, APPLICATION_JSON)) return "json";
  if (accepts(accept, APPLICATION_PROTOBUF)) return "protobuf";
  throw notAcceptable();
}

/** How a streamed answer is framed: its Content-Type headers and the records' encoding. */
export interface StreamFormat {
  headers: Record<string, string>;
  record: Media;
}

/**
 * Mesos' schedulers get `Content-Type: application/json` (or protobuf) for
 * a RecordIO stream; clients that ask for `application/recordio` get that,
 * with the records' encoding from Message-Accept.
 */
export function streamFormat(headers: IncomingHttpHeaders): StreamFormat {
  const accept = headers.accept;
  const explicitRecordio =
    accept !== undefined &&
    parseAccept(accept).some((r) => `${r.type}/${r.subtype}` === APPLICATION_RECORDIO && r.q > 0);
  if (
    explicitRecordio &&
    !parseAccept(accept).some((r) => r.type !== "*" && `${r.type}/${r.subtype}` !== APPLICATION_RECORDIO)
  ) {
    const raw = headers["message-accept"];
    const messageAccept = Array.isArray(raw) ? raw.join(",") : raw;
    const record = accepts(messageAccept, APPLICATION_JSON)
      ? "json"
      : accepts(messageAccept, APPLICATION_PROTOBUF)
        ? "protobuf"
        : undefined;
    if (record === undefined)
      throw new GatewayError(
        406,
        `Expecting 'Message-Accept' to allow '${APPLICATION_PROTOBUF}' or '${APPLICATION_JSON}'`,
      );
    return { headers: { "content-type": APPLICATION_RECORDIO, "message-content-type": contentTypeOf(record) }, record };
  }
  const record = responseMedia(headers);
  return { headers: { "content-type": contentTypeOf(record) }, record };
}

/** Decodes a request body; a body that does not parse is the client's 400. */
export function decodeBody<Desc extends DescMessage>(
  schema: Desc,
  body: Buffer,
  media: Media,
  what: string,
): MessageShape<Desc> {
  if (media === "protobuf") {
    try {
      return fromBinary(schema, body);
    } catch {
      throw new GatewayError(400, `Failed to parse body into ${what} protobuf`);
    }
  }
  let json: JsonValue;
  try {
    json = JSON.parse(body.toString("utf8")) as JsonValue;
  } catch (err) {
    throw new GatewayError(400, `Failed to parse body into JSON: ${(err as Error).message}`);
  }
  try {
    return parseMesosJson(schema, json);
  } catch (err) {
    throw new GatewayError(400, `Failed to convert JSON into ${what} protobuf: ${(err as Error).message}`);
  }
}

/** Encodes one message for the wire. */
export function encodeMessage<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  media: Media,
): Uint8Array {
  if (media === "protobuf") return toBinary(schema, message);
  return Buffer.from(JSON.stringify(toMesosJson(schema, message)), "utf8");
}
