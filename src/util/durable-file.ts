import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Replaces `file` with `bytes` so that a crash or power loss leaves the old
 * content or the new, never a mix: write a temporary file, fsync it, rename
 * it over the old one, fsync the directory (the rename itself must reach
 * the disk too). Creates the directory when missing.
 */
export function writeFileDurably(file: string, bytes: Uint8Array | string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, typeof bytes === "string" ? Buffer.from(bytes) : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * `writeFileDurably` without blocking the event loop: the same steps
 * (temporary file, fsync, rename, fsync the directory), each awaited.
 */
export async function replaceFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * Appends `bytes` to `file` and resolves once they are on disk (fdatasync:
 * the data and the file's new length, not its times). A crash before that
 * may leave any prefix of `bytes` behind, so readers must tell a torn tail.
 */
export async function appendFileDurably(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, "a");
  try {
    await handle.appendFile(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
