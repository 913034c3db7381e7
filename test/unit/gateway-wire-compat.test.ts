/**
 * Wire compatibility of our mesos.v1 definitions with a protobuf encoder no
 * one here wrote: the `mesos-framework` package's own protobufjs builder over
 * Mesos' .proto files. What it encodes, we must decode field for field.
 */
import { createRequire } from "node:module";
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ContainerInfo_DockerInfo_Network,
  ContainerInfo_Type,
  DiscoveryInfo_Visibility,
  TaskInfoSchema,
  TaskState,
  TaskStatusSchema,
} from "../../gen/mesos/v1/mesos_pb.js";
import { parseMesosJson } from "../../src/gateway/json.js";

interface Encodable {
  encode(): { toBuffer(): Buffer };
}
type MessageClass = new (values: Record<string, unknown>) => Encodable;
interface MesosBuilder {
  TaskInfo: MessageClass;
  TaskStatus: MessageClass;
}

const require = createRequire(import.meta.url);
const mesos = (require("mesos-framework/lib/mesos.js") as () => { getMesos(): MesosBuilder })().getMesos();

const dockerTask = {
  name: "web",
  task_id: { value: "t1" },
  agent_id: { value: "a1" },
  container: {
    type: "DOCKER",
    docker: {
      image: "nginx",
      network: "BRIDGE",
      port_mappings: [{ host_port: 31000, container_port: 80, protocol: "tcp" }],
    },
    volumes: [{ container_path: "/data", host_path: "/tmp", mode: "RW" }],
  },
  health_check: { http: { port: 80, path: "/health" }, delay_seconds: 5, consecutive_failures: 2 },
  discovery: { visibility: "EXTERNAL", name: "web", ports: { ports: [{ number: 80, name: "http", protocol: "tcp" }] } },
};

describe("wire compatibility with Mesos' protos, as another library encodes them", () => {
  it("decodes a docker TaskInfo with a health check and discovery info", () => {
    const task = fromBinary(TaskInfoSchema, new mesos.TaskInfo(dockerTask).encode().toBuffer());
    expect(task.taskId?.value).toBe("t1");
    expect(task.agentId?.value).toBe("a1");
    expect(task.container?.type).toBe(ContainerInfo_Type.DOCKER);
    expect(task.container?.docker?.image).toBe("nginx");
    expect(task.container?.docker?.network).toBe(ContainerInfo_DockerInfo_Network.BRIDGE);
    expect(task.container?.docker?.portMappings[0]).toMatchObject({
      hostPort: 31000,
      containerPort: 80,
      protocol: "tcp",
    });
    expect(task.container?.volumes[0]).toMatchObject({ containerPath: "/data", hostPath: "/tmp" });
    expect(task.healthCheck?.http).toMatchObject({ port: 80, path: "/health" });
    expect(task.healthCheck?.delaySeconds).toBe(5);
    expect(task.healthCheck?.consecutiveFailures).toBe(2);
    expect(task.discovery?.visibility).toBe(DiscoveryInfo_Visibility.EXTERNAL);
    expect(task.discovery?.ports?.ports[0]).toMatchObject({ number: 80, name: "http", protocol: "tcp" });
  });

  it("reads the same task from the JSON a v1 client sends", () => {
    const task = parseMesosJson(TaskInfoSchema, dockerTask);
    expect(task).toEqual(fromBinary(TaskInfoSchema, new mesos.TaskInfo(dockerTask).encode().toBuffer()));
  });

  it("decodes a TaskStatus with its container status", () => {
    const status = new mesos.TaskStatus({
      task_id: { value: "t1" },
      state: "TASK_RUNNING",
      container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.5" }] }] },
    });
    const decoded = fromBinary(TaskStatusSchema, status.encode().toBuffer());
    expect(decoded.state).toBe(TaskState.TASK_RUNNING);
    expect(decoded.containerStatus?.networkInfos[0]?.ipAddresses[0]?.ipAddress).toBe("10.0.0.5");
  });
});
