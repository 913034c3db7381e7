/**
 * A small flag parser, so the CLI needs no dependency.
 *
 * Accepted spellings: `--flag value`, `--flag=value`, booleans as `--json`
 * (or `--json=false`), `--` ends flags. Flags are kebab-case; the Mesos
 * snake_case spelling (`--work_dir`) is accepted for every flag. A flag not
 * given on the command line falls back to `PLATEAU_<NAME>` in the
 * environment (`PLATEAU_WORK_DIR`), then to its default.
 */

/** The kinds of value a flag takes. `list` flags may repeat. */
export type FlagKind = "string" | "number" | "boolean" | "list";

/** One flag a command accepts. */
export interface FlagSpec {
  /** kebab-case, without dashes: "work-dir". */
  name: string;
  kind: FlagKind;
  description: string;
  /** Shown in help; applied when neither the flag nor its env var is set. */
  default?: string | number | boolean;
  /** Other accepted spellings (kebab or snake), e.g. Mesos' older names. */
  aliases?: string[];
  /** Placeholder in help, e.g. "DIR". */
  placeholder?: string;
}

/** A command-line mistake: printed with a hint and exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The parsed flags of one command. Getters throw UsageError on bad values. */
export interface ParsedFlags {
  /** Non-flag arguments before `--`. */
  readonly positionals: string[];
  /** Everything after `--`, untouched. */
  readonly rest: string[];
  /** True when `--` was present (even with nothing after it). */
  readonly sawDoubleDash: boolean;
  has(name: string): boolean;
  string(name: string): string | undefined;
  number(name: string): number | undefined;
  boolean(name: string): boolean;
  list(name: string): string[];
}

/** The environment variable that backs flag `name`: work-dir → PLATEAU_WORK_DIR. */
export function envName(name: string): string {
  return `PLATEAU_${name.replace(/-/g, "_").toUpperCase()}`;
}

function canonical(spelling: string): string {
  return spelling.replace(/_/g, "-");
}

function indexSpecs(specs: FlagSpec[]): Map<string, FlagSpec> {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    for (const spelling of [spec.name, ...(spec.aliases ?? [])]) byName.set(canonical(spelling), spec);
  }
  return byName;
}

function parseBoolean(flag: string, value: string): boolean {
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new UsageError(`--${flag} expects true or false, got "${value}"`);
}

/**
 * Parses `argv` against `specs`. `command` names the command in errors.
 * Throws UsageError for unknown flags and missing values.
 */
export function parseFlags(
  argv: string[],
  specs: FlagSpec[],
  env: NodeJS.ProcessEnv = {},
  command = "plateau",
): ParsedFlags {
  const byName = indexSpecs(specs);
  const given = new Map<string, string[]>();
  const positionals: string[] = [];
  let rest: string[] = [];
  let sawDoubleDash = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      sawDoubleDash = true;
      rest = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith("--") || arg === "--") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const spelling = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(canonical(spelling));
    if (spec === undefined) {
      throw new UsageError(`unknown flag --${spelling} for '${command}' (see '${command} --help')`);
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.kind === "boolean") value = "true";
    else if (i + 1 < argv.length) value = argv[++i] as string;
    else throw new UsageError(`flag --${spec.name} needs a value`);
    given.set(spec.name, [...(given.get(spec.name) ?? []), value]);
  }
  return buildParsed(byName, given, env, { positionals, rest, sawDoubleDash });
}

function buildParsed(
  byName: Map<string, FlagSpec>,
  given: Map<string, string[]>,
  env: NodeJS.ProcessEnv,
  args: { positionals: string[]; rest: string[]; sawDoubleDash: boolean },
): ParsedFlags {
  const lookup = (name: string): { spec: FlagSpec; values: string[] } => {
    const spec = byName.get(canonical(name));
    if (spec === undefined) throw new Error(`bug: flag --${name} is not declared`);
    const fromArgs = given.get(spec.name);
    if (fromArgs !== undefined) return { spec, values: fromArgs };
    const fromEnv = env[envName(spec.name)];
    if (fromEnv !== undefined && fromEnv !== "") return { spec, values: [fromEnv] };
    return { spec, values: spec.default === undefined ? [] : [String(spec.default)] };
  };
  return {
    ...args,
    has: (name) => lookup(name).values.length > 0,
    string: (name) => lookup(name).values.at(-1),
    number: (name) => {
      const { spec, values } = lookup(name);
      const raw = values.at(-1);
      if (raw === undefined) return undefined;
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        throw new UsageError(`--${spec.name} expects a number, got "${raw}"`);
      return n;
    },
    boolean: (name) => {
      const { spec, values } = lookup(name);
      const raw = values.at(-1);
      return raw === undefined ? false : parseBoolean(spec.name, raw);
    },
    list: (name) => lookup(name).values,
  };
}

/** Renders a command's help: usage line, summary, then one line per flag. */
export function formatHelp(usage: string, summary: string, specs: FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const value = spec.kind === "boolean" ? "" : ` ${spec.placeholder ?? spec.kind.toUpperCase()}`;
    const dflt = spec.default === undefined ? "" : ` (default: ${String(spec.default)})`;
    return { left: `--${spec.name}${value}`, right: `${spec.description}${dflt} [${envName(spec.name)}]` };
  });
  const width = Math.max(0, ...rows.map((r) => r.left.length));
  const lines = rows.map((r) => `  ${r.left.padEnd(width)}  ${r.right}`);
  return [`Usage: ${usage}`, "", summary, "", "Flags:", ...lines, ""].join("\n");
}
