/**
 * The agent's /files endpoints (browse, read, download), confined to the
 * executors' sandboxes, which is all Mesos attaches there:
 * `<work dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<run>`
 * and what is under it. Anything else, the rest of the work dir (its
 * `meta/` checkpoints, the `slaves` and `runs` directories themselves) or
 * the file system, is not found (404), as a path Mesos never attached.
 * Symlinks are followed within their sandbox: one a task plants that leads
 * out of it (into another task's sandbox too), and `..`, are refused (403). Besides real paths (the
 * `directory` an executor shows in /state), Mesos' `latest` forms name the
 * newest run: the virtual `/frameworks/<id>/executors/<id>/runs/latest[/...]`
 * and `<sandbox's runs dir>/latest[/...]`.
 */
import { createReadStream, type Stats } from "node:fs";
import { lstat, open, readdir, realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolve as absolute, basename, join, posix, relative } from "node:path";
import { GatewayError } from "./errors.js";
import type { JsonObject } from "./json.js";
import { answerJson } from "./json-answer.js";

/** Mesos reads at most 16 pages per /files/read. */
const MAX_READ_BYTES = 16 * 4096;

export interface FilesEndpoints {
  /** Answers `/files/browse`, `/files/read`, `/files/download`; throws GatewayError for refusals. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<boolean>;
}

export function createFilesEndpoints(options: { workDir: string; agentId: () => string | undefined }): FilesEndpoints {
  const root = () => absolute(options.workDir, "slaves");

  /** The real, symlink-free path a request names, or a refusal. */
  const resolve = async (requested: string | null): Promise<{ real: string; shown: string }> => {
    if (requested === null || requested === "") throw new GatewayError(400, "Expecting 'path=value' in query.\n");
    if (requested.split("/").includes("..")) throw new GatewayError(403, "Path contains '..'\n");
    const shown = posix.normalize(requested).replace(/\/+$/, "") || "/";
    // A relative path is read as the process would: from its working directory.
    const candidate = absolute(await latestToReal(shown));
    const notFound = new GatewayError(404, "");
    let base: string;
    try {
      base = await realpath(root());
    } catch {
      throw notFound;
    }
    const sandbox = sandboxOf(root(), candidate) ?? sandboxOf(base, candidate);
    if (sandbox === undefined) throw notFound;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      throw notFound;
    }
    // A task may plant a symlink; it must not lead into another task's sandbox either.
    if (sandboxOf(base, real) !== sandbox) throw new GatewayError(403, "Path is outside its sandbox\n");
    return { real, shown };
  };

  /** Mesos' `latest` forms, as the newest run's real path; other paths as they are. */
  const latestToReal = async (path: string): Promise<string> => {
    const virtual = /^\/frameworks\/([^/]+)\/executors\/([^/]+)\/runs\/latest(\/.*)?$/.exec(path);
    const onDisk = /^(.*\/runs)\/latest(\/.*)?$/.exec(path);
    let runs: string;
    let rest: string;
    if (virtual !== null) {
      const [, frameworkId = "", executorId = "", tail = ""] = virtual;
      runs = join(root(), options.agentId() ?? "", "frameworks", frameworkId, "executors", executorId, "runs");
      rest = tail;
    } else if (onDisk !== null) {
      [, runs = "", rest = ""] = onDisk;
    } else {
      return path;
    }
    const latest = await newest(runs);
    if (latest === undefined) throw new GatewayError(404, "");
    return join(latest, rest);
  };

  const browse = async (res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const { real, shown } = await resolve(query.get("path"));
    const info = await stat(real);
    const entries = info.isDirectory() ? await readdir(real) : [basename(real)];
    const dir = info.isDirectory() ? real : join(real, "..");
    const listing: JsonObject[] = [];
    for (const name of entries.sort()) {
      const entry = await lstat(join(dir, name)).catch(() => undefined);
      if (entry !== undefined) listing.push(fileModel(info.isDirectory() ? posix.join(shown, name) : shown, entry));
    }
    answerJson(res, listing, query.get("jsonp"));
  };

  const read = async (res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const offset = numberParam(query, "offset", -1);
    const length = numberParam(query, "length", undefined);
    const { real } = await resolve(query.get("path"));
    if ((await stat(real)).isDirectory()) throw new GatewayError(400, "Cannot read a directory.\n");
    const file = await open(real, "r");
    try {
      const size = (await file.stat()).size;
      // offset -1 asks only for the size, which comes back as the offset.
      if (offset === -1 || offset >= size)
        return answerJson(res, { data: "", offset: offset === -1 ? size : offset }, query.get("jsonp"));
      const want = Math.min(length ?? size - offset, MAX_READ_BYTES);
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await file.read(buffer, 0, want, offset);
      answerJson(res, { data: buffer.subarray(0, bytesRead).toString("utf8"), offset }, query.get("jsonp"));
    } finally {
      await file.close();
    }
  };

  const download = async (res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const { real } = await resolve(query.get("path"));
    const info = await stat(real);
    if (info.isDirectory()) throw new GatewayError(400, "Cannot download a directory.\n");
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename=${basename(real)}`,
      "content-length": String(info.size),
    });
    await new Promise<void>((resolveDone) => {
      const stream = createReadStream(real);
      stream.on("error", () => {
        res.destroy();
        resolveDone();
      });
      stream.on("end", () => resolveDone());
      stream.pipe(res);
    });
  };

  return {
    async handle(req, res, path, query) {
      const route = path.replace(/\.json$/, "");
      const handler = { "/files/browse": browse, "/files/read": read, "/files/download": download }[route];
      if (handler === undefined) return false;
      if (req.method !== "GET" && req.method !== "HEAD")
        throw new GatewayError(405, `Expecting one of { 'GET' }, but received '${req.method ?? ""}'`, { allow: "GET" });
      await handler(res, query);
      return true;
    },
  };
}

/**
 * Whether `path` is a run directory under `slaves` (or in one):
 * `<agent>/frameworks/<id>/executors/<id>/runs/<run>[/...]`.
 */
/**
 * The sandbox `path` lies in, as `<agent>/frameworks/<f>/executors/<e>/runs/<run>`
 * relative to `slaves`, or undefined if it lies in none.
 */
function sandboxOf(slaves: string, path: string): string | undefined {
  const parts = relative(slaves, path).split("/");
  if (parts[0] === "" || parts[0] === "..") return undefined;
  const inOne = parts.length >= 7 && parts[1] === "frameworks" && parts[3] === "executors" && parts[5] === "runs";
  return inOne ? parts.slice(0, 7).join("/") : undefined;
}

async function newest(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { path: string; mtime: number } | undefined;
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory() === true && (best === undefined || info.mtimeMs > best.mtime))
      best = { path, mtime: info.mtimeMs };
  }
  return best?.path;
}

function numberParam<T extends number | undefined>(query: URLSearchParams, name: string, fallback: T): number | T {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || (n < 0 && !(name === "offset" && n === -1)))
    throw new GatewayError(400, `Failed to parse ${name}: '${raw}' is not a valid ${name}.\n`);
  return n;
}

/** Mesos' FileInfo model: `ls -l` facts. */
function fileModel(path: string, info: Stats): JsonObject {
  const type = info.isDirectory()
    ? "d"
    : info.isSymbolicLink()
      ? "l"
      : info.isFIFO()
        ? "p"
        : info.isSocket()
          ? "s"
          : info.isCharacterDevice()
            ? "c"
            : info.isBlockDevice()
              ? "b"
              : "-";
  const bits = "rwxrwxrwx"
    .split("")
    .map((c, i) => ((info.mode >> (8 - i)) & 1 ? c : "-"))
    .join("");
  return {
    path,
    nlink: info.nlink,
    size: info.size,
    mtime: Math.floor(info.mtimeMs / 1000),
    mode: `${type}${bits}`,
    uid: info.uid,
    gid: info.gid,
  };
}
