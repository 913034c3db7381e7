/**
 * `plateau`: the one entry point. Dispatches to a command, turns usage
 * mistakes into exit status 2 with a hint, and any other failure into one
 * line on stderr with exit status 1.
 */
import { VERSION } from "../version.js";
import { type CliIo, type Command, commandHelp, helpFlag, processIo } from "./command.js";
import { agentCommand, localCommand, masterCommand } from "./daemons.js";
import { parseFlags, UsageError } from "./flags.js";
import { operatorCommands } from "./operator-commands.js";
import { runCommand } from "./run.js";

/** Every command, in the order `plateau help` lists them. */
export const commands: Command[] = [localCommand, masterCommand, agentCommand, runCommand, ...operatorCommands];

/** The top-level help text. */
export function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: plateau <command> [flags]",
    "",
    "A Mesos-compatible cluster manager.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  Show help for a command: plateau help <command>`,
    "",
    "Flags may also be set as PLATEAU_<FLAG> environment variables (PLATEAU_MASTER, PLATEAU_WORK_DIR, ...).",
    "Run 'plateau <command> --help' for a command's flags.",
    "",
  ].join("\n");
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    io.out(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    io.out(`plateau ${VERSION}\n`);
    return 0;
  }
  if (name === "help") return help(args[0], io);
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`plateau: unknown command '${name}' (see 'plateau --help')\n`);
    return 2;
  }
  try {
    const flags = parseFlags(args, [...command.flags, helpFlag], io.env, `plateau ${command.name}`);
    if (flags.boolean("help")) {
      io.out(commandHelp(command));
      return 0;
    }
    const extra = [...flags.positionals, ...flags.rest];
    if (!command.takesArguments && extra.length > 0) {
      throw new UsageError(`unexpected argument '${extra[0]}' (see 'plateau ${command.name} --help')`);
    }
    return await command.run(flags, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`plateau ${command.name}: ${err.message}\n`);
      return 2;
    }
    io.err(`plateau ${command.name}: ${describeFailure(err)}\n`);
    return 1;
  }
}

/** A failure in words a user can act on. */
function describeFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "EADDRINUSE")
    return `${message}: another process (another plateau?) uses that port; stop it or pick another with --port`;
  if (code === "EACCES") return `${message}: not allowed to use that address or port`;
  return message;
}

function help(name: string | undefined, io: CliIo): number {
  if (name === undefined) {
    io.out(mainHelp());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`plateau: unknown command '${name}' (see 'plateau --help')\n`);
    return 2;
  }
  io.out(commandHelp(command));
  return 0;
}
