/**
 * Layers import downwards only. Each folder of src/ is a layer with the
 * list of layers it may import (LAYERS); an import across folders that is
 * not on its list fails here, and so does a cycle between folders.
 *
 *   cli                          the entry points: may import any layer
 *   master, agent                the daemons
 *   gateway                      the v1 translation layer, used by both daemons
 *   executor ─► client           clients of the agent and of the master
 *   transport, etcd, wire        the server socket, leader following, shared wire facts
 *   sim                          the seeded whole-cluster simulation: the cores only
 *   core/master, core/agent ─► core/allocator, core/registry ─► core/resources ─► core
 *   gen, util, log, version      the bottom: they import no folder of ours
 *
 * The master and its clients share only what sits below both (src/etcd,
 * src/wire): a client never imports the master, nor the master a client.
 * The agent is a client of the master, so it may use src/client.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/processes.js";

const CORE = ["core", "core/resources", "core/registry", "core/allocator", "core/agent", "core/master"] as const;
const BOTTOM = ["gen", "util", "log", "version"] as const;

/** Every layer and the layers it may import (besides itself). */
const LAYERS: Record<string, readonly string[]> = {
  gen: [],
  util: [],
  log: [],
  version: [],
  // How a client reaches the leading master: one header name, one address rule.
  wire: ["gen"],
  // The pure core (see core-purity.test.ts for what else it may not touch).
  core: ["gen"],
  "core/resources": ["gen", "core"],
  "core/registry": ["gen", "core"],
  "core/allocator": ["gen", "core", "core/resources"],
  "core/agent": ["gen", "core", "core/resources"],
  "core/master": ["gen", "core", "core/resources", "core/allocator", "core/registry"],
  // The seeded whole-cluster simulation runs the cores themselves, on its own clock and network.
  sim: ["gen", ...CORE],
  transport: ["gen", "util", "log"],
  // Leader following through etcd, for the master and its clients alike.
  etcd: ["gen", "util", "log"],
  client: ["gen", "util", "log", "wire", "etcd"],
  // The command executor is a client of its agent.
  executor: ["gen", "util", "log", "client"],
  // The v1 translation layer: it declares what it needs from the daemons as interfaces of its own.
  gateway: [...BOTTOM, ...CORE, "transport"],
  // The agent is a client of the master, and spawns executors.
  agent: [...BOTTOM, ...CORE, "transport", "gateway", "client", "executor"],
  master: [...BOTTOM, ...CORE, "transport", "gateway", "etcd", "wire"],
  cli: [...BOTTOM, ...CORE, "transport", "gateway", "etcd", "wire", "client", "executor", "agent", "master"],
};

/** One relative import: both ends as paths from the repository root, `to` naming the .ts source. */
interface Import {
  readonly from: string;
  readonly to: string;
}

/** The layer a path belongs to: src/core's folders are layers each, src's other folders one each with their subfolders. */
function layerOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] === "gen") return "gen";
  if (parts[0] !== "src" || parts.length < 2) return undefined;
  if (parts.length === 2) return parts[1]?.replace(/\.ts$/, "");
  if (parts[1] === "core" && parts.length > 3) return `core/${parts[2]}`;
  return parts[1];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [join(dir, e.name), ...folders(join(dir, e.name))]);
}

/** Static imports, re-exports, `import("...")` and `typeof import("...")`, as TypeScript itself finds them (comments and strings do not count). */
function importsOf(file: string): Import[] {
  const from = relative(ROOT, file);
  const found = ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
  const targets = new Set(
    found
      .filter((spec) => spec.startsWith("."))
      .map((spec) => relative(ROOT, join(dirname(file), spec)).replace(/\.js$/, ".ts")),
  );
  return [...targets].map((to) => ({ from, to }));
}

/** What is wrong with each import: leaving src and gen, or reaching a layer its own may not import. */
function violations(imports: readonly Import[]): string[] {
  return imports.flatMap((i) => {
    const [source, target] = [layerOf(i.from), layerOf(i.to)];
    if (target === undefined) return [`${i.from} imports ${i.to}, outside src/ and gen/`];
    if (source === undefined || source === target) return [];
    const allowed = LAYERS[source];
    if (allowed === undefined) return [`${i.from} is in ${source}, which the layer table does not list`];
    return allowed.includes(target)
      ? []
      : [`${i.from} (${source}) imports ${i.to} (${target}), which ${source} may not import`];
  });
}

/** The folder-to-folder edges of `imports`. */
function edges(imports: readonly Import[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const i of imports) {
    const [source, target] = [layerOf(i.from), layerOf(i.to)];
    if (source === undefined || target === undefined || source === target) continue;
    graph.set(source, (graph.get(source) ?? new Set()).add(target));
  }
  return graph;
}

/** Each cycle found by a depth-first walk, as the path around it. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    if (at >= 0) return void found.push([...path.slice(at), node]);
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) walk(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) walk(node, []);
  return found;
}

const tableGraph = new Map(Object.entries(LAYERS).map(([layer, allowed]) => [layer, new Set(allowed)]));

describe("imports cross folders downwards only", () => {
  const files = sources(join(ROOT, "src"));
  const current = files.flatMap(importsOf);

  it("has imports to check", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(current.length).toBeGreaterThan(200);
  });

  it("the table names every folder of src/, and only folders that exist", () => {
    const unlisted = folders(join(ROOT, "src"))
      .map((dir) => relative(ROOT, dir))
      .filter((dir) => {
        const layer = layerOf(`${dir}/x.ts`);
        return layer === undefined || LAYERS[layer] === undefined;
      });
    expect(unlisted).toEqual([]);
    const where = (layer: string) => join(ROOT, layer === "gen" ? "gen" : `src/${layer}`);
    const absent = Object.keys(LAYERS).filter(
      (layer) => !existsSync(where(layer)) && !existsSync(`${where(layer)}.ts`),
    );
    expect(absent).toEqual([]);
  });

  it("every folder of src/ has a README.md saying what lives there and what it may import", () => {
    const bare = [join(ROOT, "src"), ...folders(join(ROOT, "src"))]
      .filter((dir) => !existsSync(join(dir, "README.md")))
      .map((dir) => relative(ROOT, dir));
    expect(bare).toEqual([]);
  });

  it("the table keeps the lines issue 9 draws: client and master apart, a pure core, nothing above the CLI, no cycle", () => {
    expect(LAYERS.client).not.toContain("master");
    expect(LAYERS.master).not.toContain("client");
    for (const layer of CORE) expect(LAYERS[layer]?.filter((l) => l !== "gen" && !l.startsWith("core"))).toEqual([]);
    expect(Object.entries(LAYERS).filter(([, allowed]) => allowed.includes("cli"))).toEqual([]);
    expect(cycles(tableGraph)).toEqual([]);
  });

  it.each(Object.keys(LAYERS).filter((l) => l !== "gen"))("%s imports only the folders the table allows", (layer) => {
    expect(violations(current.filter((i) => layerOf(i.from) === layer))).toEqual([]);
  });

  it("no two folders import each other, directly or around a loop", () => {
    expect(cycles(edges(current))).toEqual([]);
  });

  it("would catch a client importing the master, a core importing a shell, and a cycle", () => {
    const crossing: Import[] = [
      { from: "src/client/masters.ts", to: "src/master/etcd/index.ts" },
      { from: "src/core/master/tasks.ts", to: "src/log.ts" },
      { from: "src/client/x.ts", to: "package.json" },
    ];
    expect(violations(crossing)).toHaveLength(3);
    expect(cycles(edges([...current, { from: "src/etcd/url.ts", to: "src/client/masters.ts" }]))).not.toEqual([]);
  });
});
