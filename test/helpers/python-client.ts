/**
 * A Python client of the v2 API as a user makes one: Debian's grpcio and
 * protobuf, and message classes and stubs that protoc generates from
 * proto/ (grpc_python_plugin, from protobuf-compiler-grpc, writes the
 * *_pb2_grpc.py stubs). Scripts run with Debian's interpreter and print
 * JSON lines, which the tests read as what the user would see.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureDebianPackages } from "./debian-packages.js";
import { ROOT } from "./processes.js";

/**
 * Debian's interpreter, named by path: python3-grpcio installs for it, and
 * a `python3` earlier on PATH (pyenv, a venv) would not see the package.
 */
export const PYTHON = "/usr/bin/python3";
export const PROTOC = "/usr/bin/protoc";
export const GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin";
export const PYTHON_CLIENT_PACKAGES = [
  "python3-grpcio",
  "python3-protobuf",
  "protobuf-compiler",
  "protobuf-compiler-grpc",
];

/** Installs what a Python client needs (as root), or throws saying what to install. */
export function ensurePythonClientPackages(): Promise<void> {
  return ensureDebianPackages(PYTHON_CLIENT_PACKAGES, "the Python client test");
}

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<Exit>((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, killSignal: "SIGKILL", encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr: `${stderr}${error !== null && code === 1 ? error.message : ""}` });
      },
    );
  });
}

/** The .proto files of the Mesos APIs, relative to proto/ (what protoc wants with `-I proto`). */
function mesosProtos(): string[] {
  const proto = join(ROOT, "proto");
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? walk(path) : entry.name.endsWith(".proto") ? [relative(proto, path)] : [];
    });
  return walk(join(proto, "mesos")).sort();
}

/**
 * Generates `mesos/v1/.../*_pb2.py` and `mesos/v2/mesos_pb2_grpc.py` into
 * `outDir`, as the README tells users to (`protoc -I proto --python_out
 * --grpc_python_out`).
 */
export async function generatePythonClient(outDir: string): Promise<void> {
  const args = [
    "-I",
    join(ROOT, "proto"),
    `--python_out=${outDir}`,
    `--grpc_python_out=${outDir}`,
    `--plugin=protoc-gen-grpc_python=${GRPC_PYTHON_PLUGIN}`,
    ...mesosProtos(),
  ];
  const result = await exec(PROTOC, args, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`protoc failed (${result.code}): ${result.stderr}`);
}

/** What a script printed: one JSON value per line of stdout. */
export interface PythonRun {
  code: number;
  lines: Record<string, unknown>[];
  stderr: string;
}

/**
 * Runs `script` with the generated code on PYTHONPATH. Throws when the
 * script fails or prints something that is not JSON, with its output.
 */
export async function runPython(script: string, args: string[], generated: string, timeoutMs = 45_000) {
  const result = await exec(PYTHON, [script, ...args], {
    cwd: generated,
    env: { ...process.env, PYTHONPATH: generated, PYTHONDONTWRITEBYTECODE: "1" },
    timeoutMs,
  });
  const text = result.stdout.trim();
  const failed = (why: string) =>
    new Error(`${script} ${why} (exit ${result.code}):\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  if (result.code !== 0) throw failed("failed");
  try {
    const lines = text === "" ? [] : text.split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    return { code: result.code, lines, stderr: result.stderr } satisfies PythonRun;
  } catch {
    throw failed("printed a line that is not JSON");
  }
}
