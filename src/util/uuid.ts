import { randomUUID } from "node:crypto";

/** 16 random bytes, the form Mesos uses for status update uuids (made by executors, and by agents for their own updates). */
export function randomUuidBytes(): Uint8Array {
  return Uint8Array.from(Buffer.from(randomUUID().replace(/-/g, ""), "hex"));
}
