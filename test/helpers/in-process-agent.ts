/**
 * An agent of the in-process cluster: the real agent shell over a
 * containerizer twin and an in-memory work dir, reaching the master the way
 * `plateau agent` does, on a unified Connect stream. The master's end of
 * that stream is the session table's own Connect handler (`serve`), fed and
 * read as connect-es' server would, with no socket in between.
 *
 *   agent shell ──channel.send──wire──► request queue ──► sessions.serve() ──► term runner
 *   agent link ◄──wire── for await (responses) ◄──────────┘ (ends: the link hears of it)
 */
import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { AgentInfoSchema } from "../../gen/mesos/v1/mesos_pb.js";
import { type ConnectRequest, type ConnectResponse, MesosService } from "../../gen/mesos/v2/mesos_pb.js";
import { type AgentShell, createAgentShell } from "../../src/agent/agent-shell.js";
import {
  type ContainerizerTwin,
  createContainerizerTwin,
  type TwinScript,
} from "../../src/agent/containerizer-twin.js";
import type { MasterChannel } from "../../src/agent/master-link.js";
import { createWorkDirTwin, type WorkDirTwin } from "../../src/agent/work-dir-twin.js";
import { createAgentCore } from "../../src/core/agent/agent-core.js";
import { createCounterIds } from "../../src/core/clock.js";
import { parseResources } from "../../src/core/resources/index.js";
import type { HostedLaunch } from "../../src/executor/protocol.js";
import { silentLogger } from "../../src/log.js";
import type { SessionTable } from "../../src/master/sessions.js";
import { type AsyncQueue, createAsyncQueue } from "../../src/util/async-queue.js";
import type { FakeTimers } from "../../src/util/timers.js";

/** Carries one message across: it arrives on a later turn, in send order. */
export type Wire = (deliver: () => void) => void;

export interface ClusterAgentOptions {
  resources?: string;
  script?: (launch: HostedLaunch, kind: "command" | "custom") => Partial<TwinScript>;
}

/** One agent of the cluster. */
export interface ClusterAgent {
  readonly name: string;
  readonly shell: AgentShell;
  readonly twin: ContainerizerTwin;
  readonly workDir: WorkDirTwin;
  /** Whether its stream to the master is open. */
  readonly connected: boolean;
  /** Its stream drops: the agent hears of it now, the master once its handler sees the abort; messages on the wire are lost. */
  disconnect(): void;
  /** Opens a new stream; Register goes out first. */
  connect(): void;
}

/** The cluster's hold on an agent: it closes the agent and awaits its streams' readers. */
export interface OwnedAgent extends ClusterAgent {
  close(): Promise<void>;
}

interface Stream {
  readonly requests: AsyncQueue<ConnectRequest>;
  readonly context: ReturnType<typeof createHandlerContext>;
}

export function createClusterAgent(
  name: string,
  cluster: { timers: FakeTimers; wire: Wire; sessions: Pick<SessionTable, "serve"> },
  options: ClusterAgentOptions = {},
): OwnedAgent {
  const { timers, wire, sessions } = cluster;
  const workDir = createWorkDirTwin(`/agents/${name}`);
  const core = createAgentCore(
    {
      workDir: workDir.path,
      agentInfo: create(AgentInfoSchema, {
        hostname: name,
        port: 5051,
        resources: parseResources(options.resources ?? "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"),
      }),
      version: "test",
      ids: createCounterIds(name),
      uuid: counterUuids(),
    },
    workDir.agentId(),
  );
  let twin: ContainerizerTwin | undefined;
  const shell = createAgentShell({
    core,
    workDir,
    containerizer: (hooks) => (twin = createContainerizerTwin(hooks, { timers, script: options.script })),
    timers,
    logger: silentLogger(),
    ip: "127.0.0.1",
    master: "in-process",
    endpoint: () => `${name}:5051`,
  });

  let stream: Stream | undefined;
  /** Each stream's response reader; it ends when the master's handler does. */
  const readers: Promise<void>[] = [];

  /** The client side goes away, as a cancelled call: the handler's signal aborts and no more requests come. */
  const hangUp = (): void => {
    const current = stream;
    stream = undefined;
    current?.requests.end();
    current?.context.abort(new Error("the agent's stream dropped"));
  };

  /** Reads what the master's handler yields and puts it on the wire; its end reaches the link the same way. */
  const readResponses = async (current: Stream, responses: AsyncIterable<ConnectResponse>): Promise<void> => {
    let error: Error | undefined;
    try {
      for await (const response of responses) {
        wire(() => {
          if (stream === current) shell.link.onEvent(response);
        });
      }
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    wire(() => {
      if (stream !== current) return;
      stream = undefined;
      shell.link.onDisconnected(error);
    });
  };

  const channel: MasterChannel = {
    send(request) {
      const current = stream;
      if (current === undefined) return false;
      wire(() => {
        if (stream === current) current.requests.push(request);
      });
      return true;
    },
    close: async () => hangUp(),
  };
  shell.link.attach(channel);

  const connect = (): void => {
    if (stream !== undefined) return;
    const current: Stream = {
      requests: createAsyncQueue<ConnectRequest>(),
      context: createHandlerContext({
        service: MesosService,
        method: MesosService.method.connect,
        protocolName: "in-process",
        requestMethod: "POST",
        url: "in-process://master/mesos.v2.Mesos/Connect",
      }),
    };
    stream = current;
    readers.push(readResponses(current, sessions.serve(current.requests, current.context)));
    channel.send(shell.link.hello());
  };

  connect();
  return {
    name,
    shell,
    get twin() {
      if (twin === undefined) throw new Error("the agent shell made no containerizer");
      return twin;
    },
    workDir,
    get connected() {
      return stream !== undefined;
    },
    disconnect() {
      hangUp();
      shell.link.onDisconnected(new Error("in-process stream dropped"));
    },
    connect,
    async close() {
      await shell.close();
      hangUp();
      await Promise.all(readers);
    },
  };
}

/** Deterministic 16-byte uuids for the updates an agent generates. */
function counterUuids(): () => Uint8Array {
  let n = 0;
  return () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint32(12, ++n);
    bytes[0] = 0xa9;
    return bytes;
  };
}
