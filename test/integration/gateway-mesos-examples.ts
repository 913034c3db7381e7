/**
 * The JSON request examples of Mesos' operator API documentation for the
 * master calls Plateau serves, sent as written, and the field paths of the
 * documented answers (`[]` marks a list), to compare shapes against.
 */
export const MASTER_EXAMPLES: { request: Record<string, unknown>; paths: string[] }[] = [
  {
    request: { type: "GET_HEALTH" },
    paths: ["get_health", "get_health.healthy", "type"],
  },
  {
    request: { type: "GET_FLAGS" },
    paths: ["get_flags", "get_flags.flags", "get_flags.flags[].name", "get_flags.flags[].value", "type"],
  },
  {
    request: { type: "GET_VERSION" },
    paths: [
      "get_version",
      "get_version.version_info",
      "get_version.version_info.build_date",
      "get_version.version_info.build_time",
      "get_version.version_info.build_user",
      "get_version.version_info.version",
      "type",
    ],
  },
  {
    request: { type: "GET_STATE" },
    paths: [
      "get_state",
      "get_state.get_agents",
      "get_state.get_agents.agents",
      "get_state.get_agents.agents[].active",
      "get_state.get_agents.agents[].agent_info",
      "get_state.get_agents.agents[].agent_info.hostname",
      "get_state.get_agents.agents[].agent_info.id",
      "get_state.get_agents.agents[].agent_info.id.value",
      "get_state.get_agents.agents[].agent_info.port",
      "get_state.get_agents.agents[].agent_info.resources",
      "get_state.get_agents.agents[].agent_info.resources[].name",
      "get_state.get_agents.agents[].agent_info.resources[].ranges",
      "get_state.get_agents.agents[].agent_info.resources[].ranges.range",
      "get_state.get_agents.agents[].agent_info.resources[].ranges.range[].begin",
      "get_state.get_agents.agents[].agent_info.resources[].ranges.range[].end",
      "get_state.get_agents.agents[].agent_info.resources[].role",
      "get_state.get_agents.agents[].agent_info.resources[].scalar",
      "get_state.get_agents.agents[].agent_info.resources[].scalar.value",
      "get_state.get_agents.agents[].agent_info.resources[].type",
      "get_state.get_agents.agents[].pid",
      "get_state.get_agents.agents[].registered_time",
      "get_state.get_agents.agents[].registered_time.nanoseconds",
      "get_state.get_agents.agents[].total_resources",
      "get_state.get_agents.agents[].total_resources[].name",
      "get_state.get_agents.agents[].total_resources[].ranges",
      "get_state.get_agents.agents[].total_resources[].ranges.range",
      "get_state.get_agents.agents[].total_resources[].ranges.range[].begin",
      "get_state.get_agents.agents[].total_resources[].ranges.range[].end",
      "get_state.get_agents.agents[].total_resources[].role",
      "get_state.get_agents.agents[].total_resources[].scalar",
      "get_state.get_agents.agents[].total_resources[].scalar.value",
      "get_state.get_agents.agents[].total_resources[].type",
      "get_state.get_agents.agents[].version",
      "get_state.get_executors",
      "get_state.get_executors.executors",
      "get_state.get_executors.executors[].agent_id",
      "get_state.get_executors.executors[].agent_id.value",
      "get_state.get_executors.executors[].executor_info",
      "get_state.get_executors.executors[].executor_info.command",
      "get_state.get_executors.executors[].executor_info.command.shell",
      "get_state.get_executors.executors[].executor_info.command.value",
      "get_state.get_executors.executors[].executor_info.executor_id",
      "get_state.get_executors.executors[].executor_info.executor_id.value",
      "get_state.get_executors.executors[].executor_info.framework_id",
      "get_state.get_executors.executors[].executor_info.framework_id.value",
      "get_state.get_frameworks",
      "get_state.get_frameworks.frameworks",
      "get_state.get_frameworks.frameworks[].active",
      "get_state.get_frameworks.frameworks[].connected",
      "get_state.get_frameworks.frameworks[].framework_info",
      "get_state.get_frameworks.frameworks[].framework_info.checkpoint",
      "get_state.get_frameworks.frameworks[].framework_info.failover_timeout",
      "get_state.get_frameworks.frameworks[].framework_info.hostname",
      "get_state.get_frameworks.frameworks[].framework_info.id",
      "get_state.get_frameworks.frameworks[].framework_info.id.value",
      "get_state.get_frameworks.frameworks[].framework_info.name",
      "get_state.get_frameworks.frameworks[].framework_info.principal",
      "get_state.get_frameworks.frameworks[].framework_info.role",
      "get_state.get_frameworks.frameworks[].framework_info.user",
      "get_state.get_frameworks.frameworks[].registered_time",
      "get_state.get_frameworks.frameworks[].registered_time.nanoseconds",
      "get_state.get_frameworks.frameworks[].reregistered_time",
      "get_state.get_frameworks.frameworks[].reregistered_time.nanoseconds",
      "get_state.get_tasks",
      "get_state.get_tasks.completed_tasks",
      "get_state.get_tasks.completed_tasks[].agent_id",
      "get_state.get_tasks.completed_tasks[].agent_id.value",
      "get_state.get_tasks.completed_tasks[].executor_id",
      "get_state.get_tasks.completed_tasks[].executor_id.value",
      "get_state.get_tasks.completed_tasks[].framework_id",
      "get_state.get_tasks.completed_tasks[].framework_id.value",
      "get_state.get_tasks.completed_tasks[].name",
      "get_state.get_tasks.completed_tasks[].resources",
      "get_state.get_tasks.completed_tasks[].resources[].name",
      "get_state.get_tasks.completed_tasks[].resources[].ranges",
      "get_state.get_tasks.completed_tasks[].resources[].ranges.range",
      "get_state.get_tasks.completed_tasks[].resources[].ranges.range[].begin",
      "get_state.get_tasks.completed_tasks[].resources[].ranges.range[].end",
      "get_state.get_tasks.completed_tasks[].resources[].role",
      "get_state.get_tasks.completed_tasks[].resources[].scalar",
      "get_state.get_tasks.completed_tasks[].resources[].scalar.value",
      "get_state.get_tasks.completed_tasks[].resources[].type",
      "get_state.get_tasks.completed_tasks[].state",
      "get_state.get_tasks.completed_tasks[].status_update_state",
      "get_state.get_tasks.completed_tasks[].status_update_uuid",
      "get_state.get_tasks.completed_tasks[].statuses",
      "get_state.get_tasks.completed_tasks[].statuses[].agent_id",
      "get_state.get_tasks.completed_tasks[].statuses[].agent_id.value",
      "get_state.get_tasks.completed_tasks[].statuses[].container_status",
      "get_state.get_tasks.completed_tasks[].statuses[].container_status.network_infos",
      "get_state.get_tasks.completed_tasks[].statuses[].container_status.network_infos[].ip_addresses",
      "get_state.get_tasks.completed_tasks[].statuses[].container_status.network_infos[].ip_addresses[].ip_address",
      "get_state.get_tasks.completed_tasks[].statuses[].executor_id",
      "get_state.get_tasks.completed_tasks[].statuses[].executor_id.value",
      "get_state.get_tasks.completed_tasks[].statuses[].source",
      "get_state.get_tasks.completed_tasks[].statuses[].state",
      "get_state.get_tasks.completed_tasks[].statuses[].task_id",
      "get_state.get_tasks.completed_tasks[].statuses[].task_id.value",
      "get_state.get_tasks.completed_tasks[].statuses[].timestamp",
      "get_state.get_tasks.completed_tasks[].statuses[].uuid",
      "get_state.get_tasks.completed_tasks[].task_id",
      "get_state.get_tasks.completed_tasks[].task_id.value",
      "type",
    ],
  },
  {
    request: { type: "GET_AGENTS" },
    paths: [],
  },
  {
    request: { type: "GET_FRAMEWORKS" },
    paths: [
      "get_frameworks",
      "get_frameworks.frameworks",
      "get_frameworks.frameworks[].active",
      "get_frameworks.frameworks[].connected",
      "get_frameworks.frameworks[].framework_info",
      "get_frameworks.frameworks[].framework_info.checkpoint",
      "get_frameworks.frameworks[].framework_info.failover_timeout",
      "get_frameworks.frameworks[].framework_info.hostname",
      "get_frameworks.frameworks[].framework_info.id",
      "get_frameworks.frameworks[].framework_info.id.value",
      "get_frameworks.frameworks[].framework_info.name",
      "get_frameworks.frameworks[].framework_info.principal",
      "get_frameworks.frameworks[].framework_info.role",
      "get_frameworks.frameworks[].framework_info.user",
      "get_frameworks.frameworks[].registered_time",
      "get_frameworks.frameworks[].registered_time.nanoseconds",
      "get_frameworks.frameworks[].reregistered_time",
      "get_frameworks.frameworks[].reregistered_time.nanoseconds",
      "type",
    ],
  },
  {
    request: { type: "GET_EXECUTORS" },
    paths: [
      "get_executors",
      "get_executors.executors",
      "get_executors.executors[].agent_id",
      "get_executors.executors[].agent_id.value",
      "get_executors.executors[].executor_info",
      "get_executors.executors[].executor_info.command",
      "get_executors.executors[].executor_info.command.shell",
      "get_executors.executors[].executor_info.command.value",
      "get_executors.executors[].executor_info.executor_id",
      "get_executors.executors[].executor_info.executor_id.value",
      "get_executors.executors[].executor_info.framework_id",
      "get_executors.executors[].executor_info.framework_id.value",
      "type",
    ],
  },
  {
    request: { type: "GET_TASKS" },
    paths: [
      "get_tasks",
      "get_tasks.tasks",
      "get_tasks.tasks[].agent_id",
      "get_tasks.tasks[].agent_id.value",
      "get_tasks.tasks[].executor_id",
      "get_tasks.tasks[].executor_id.value",
      "get_tasks.tasks[].framework_id",
      "get_tasks.tasks[].framework_id.value",
      "get_tasks.tasks[].name",
      "get_tasks.tasks[].resources",
      "get_tasks.tasks[].resources[].name",
      "get_tasks.tasks[].resources[].ranges",
      "get_tasks.tasks[].resources[].ranges.range",
      "get_tasks.tasks[].resources[].ranges.range[].begin",
      "get_tasks.tasks[].resources[].ranges.range[].end",
      "get_tasks.tasks[].resources[].role",
      "get_tasks.tasks[].resources[].scalar",
      "get_tasks.tasks[].resources[].scalar.value",
      "get_tasks.tasks[].resources[].type",
      "get_tasks.tasks[].state",
      "get_tasks.tasks[].status_update_state",
      "get_tasks.tasks[].status_update_uuid",
      "get_tasks.tasks[].statuses",
      "get_tasks.tasks[].statuses[].agent_id",
      "get_tasks.tasks[].statuses[].agent_id.value",
      "get_tasks.tasks[].statuses[].container_status",
      "get_tasks.tasks[].statuses[].container_status.network_infos",
      "get_tasks.tasks[].statuses[].container_status.network_infos[].ip_addresses",
      "get_tasks.tasks[].statuses[].container_status.network_infos[].ip_addresses[].ip_address",
      "get_tasks.tasks[].statuses[].executor_id",
      "get_tasks.tasks[].statuses[].executor_id.value",
      "get_tasks.tasks[].statuses[].source",
      "get_tasks.tasks[].statuses[].state",
      "get_tasks.tasks[].statuses[].task_id",
      "get_tasks.tasks[].statuses[].task_id.value",
      "get_tasks.tasks[].statuses[].timestamp",
      "get_tasks.tasks[].statuses[].uuid",
      "get_tasks.tasks[].task_id",
      "get_tasks.tasks[].task_id.value",
      "type",
    ],
  },
  {
    request: { type: "GET_ROLES" },
    paths: [
      "get_roles",
      "get_roles.roles",
      "get_roles.roles[].frameworks",
      "get_roles.roles[].frameworks[].value",
      "get_roles.roles[].name",
      "get_roles.roles[].resources",
      "get_roles.roles[].resources[].name",
      "get_roles.roles[].resources[].ranges",
      "get_roles.roles[].resources[].ranges.range",
      "get_roles.roles[].resources[].ranges.range[].begin",
      "get_roles.roles[].resources[].ranges.range[].end",
      "get_roles.roles[].resources[].role",
      "get_roles.roles[].resources[].scalar",
      "get_roles.roles[].resources[].scalar.value",
      "get_roles.roles[].resources[].type",
      "get_roles.roles[].weight",
      "type",
    ],
  },
  {
    request: { type: "GET_WEIGHTS" },
    paths: [
      "get_weights",
      "get_weights.weight_infos",
      "get_weights.weight_infos[].role",
      "get_weights.weight_infos[].weight",
      "type",
    ],
  },
  {
    request: { type: "UPDATE_WEIGHTS", update_weights: { weight_infos: [{ role: "role", weight: 4.0 }] } },
    paths: [],
  },
  {
    request: { type: "GET_MASTER" },
    paths: [
      "get_master",
      "get_master.master_info",
      "get_master.master_info.address",
      "get_master.master_info.address.hostname",
      "get_master.master_info.address.ip",
      "get_master.master_info.address.port",
      "get_master.master_info.hostname",
      "get_master.master_info.id",
      "get_master.master_info.ip",
      "get_master.master_info.pid",
      "get_master.master_info.port",
      "get_master.master_info.version",
      "type",
    ],
  },
  {
    request: { type: "GET_QUOTA" },
    paths: [
      "get_quota",
      "get_quota.status",
      "get_quota.status.infos",
      "get_quota.status.infos[].configs",
      "get_quota.status.infos[].configs[].limits",
      "get_quota.status.infos[].configs[].limits.cpus",
      "get_quota.status.infos[].configs[].limits.cpus.value",
      "get_quota.status.infos[].configs[].limits.disk",
      "get_quota.status.infos[].configs[].limits.disk.value",
      "get_quota.status.infos[].configs[].limits.mem",
      "get_quota.status.infos[].configs[].limits.mem.value",
      "get_quota.status.infos[].configs[].role",
      "type",
    ],
  },
  {
    request: {
      type: "UPDATE_QUOTA",
      update_quota: {
        force: false,
        quota_configs: [
          { role: "dev", limits: { cpus: { value: 10 }, mem: { value: 2048 }, disk: { value: 4096 } } },
          { role: "test", limits: { cpus: { value: 1 }, mem: { value: 256 }, disk: { value: 512 } } },
        ],
      },
    },
    paths: [],
  },
  {
    request: { type: "SUBSCRIBE" },
    paths: [],
  },
];

/**
 * The JSON request examples of Mesos' scheduler API documentation, as written,
 * with the status Mesos answers each with (the SUBSCRIBE example first; the
 * others name the framework id of the documentation, which a test replaces).
 */
export const SCHEDULER_EXAMPLES: { request: Record<string, unknown>; mesosStatus: number }[] = [
  {
    request: {
      type: "SUBSCRIBE",
      subscribe: {
        framework_info: {
          user: "foo",
          name: "Example HTTP Framework",
          roles: ["test1", "test2"],
          capabilities: [{ type: "MULTI_ROLE" }],
        },
        suppressed_roles: ["test2"],
        offer_constraints: {
          role_constraints: {
            test1: {
              groups: [{ attribute_constraints: [{ selector: { attribute_name: "foo" }, predicate: { exists: {} } }] }],
            },
          },
        },
      },
    },
    mesosStatus: 200,
  },
  { request: { framework_id: { value: "12220-3440-12532-2345" }, type: "TEARDOWN" }, mesosStatus: 202 },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "ACCEPT",
      accept: {
        offer_ids: [{ value: "12220-3440-12532-O12" }],
        operations: [
          {
            type: "LAUNCH",
            launch: {
              task_infos: [
                {
                  name: "My Task",
                  task_id: { value: "12220-3440-12532-my-task" },
                  agent_id: { value: "12220-3440-12532-S1233" },
                  executor: {
                    command: { shell: true, value: "sleep 1000" },
                    executor_id: { value: "12214-23523-my-executor" },
                  },
                  resources: [
                    {
                      allocation_info: { role: "engineering" },
                      name: "cpus",
                      role: "*",
                      type: "SCALAR",
                      scalar: { value: 1.0 },
                    },
                    {
                      allocation_info: { role: "engineering" },
                      name: "mem",
                      role: "*",
                      type: "SCALAR",
                      scalar: { value: 128.0 },
                    },
                  ],
                  limits: { cpus: "Infinity", mem: 512.0 },
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 5.0 },
      },
    },
    mesosStatus: 400,
  }, // Mesos' parser refuses the string "Infinity" for the Value.Scalar of `limits` too
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "DECLINE",
      decline: {
        offer_ids: [{ value: "12220-3440-12532-O12" }, { value: "12220-3440-12532-O13" }],
        filters: { refuse_seconds: 5.0 },
      },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "KILL",
      kill: { task_id: { value: "12220-3440-12532-my-task" }, agent_id: { value: "12220-3440-12532-S1233" } },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "SHUTDOWN",
      shutdown: {
        executor_id: { value: "123450-2340-1232-my-executor" },
        agent_id: { value: "12220-3440-12532-S1233" },
      },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "ACKNOWLEDGE",
      acknowledge: {
        agent_id: { value: "12220-3440-12532-S1233" },
        task_id: { value: "12220-3440-12532-my-task" },
        uuid: "jhadf73jhakdlfha723adf",
      },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "ACKNOWLEDGE_OPERATION_STATUS",
      acknowledge_operation_status: {
        agent_id: { value: "12220-3440-12532-S1233" },
        resource_provider_id: { value: "12220-3440-12532-rp" },
        uuid: "jhadf73jhakdlfha723adf",
        operation_id: "73jhakdlfha723adf",
      },
    },
    mesosStatus: 400,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "RECONCILE",
      reconcile: { tasks: [{ task_id: { value: "312325" }, agent_id: { value: "123535" } }] },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "RECONCILE_OPERATIONS",
      reconcile_operations: {
        operations: [
          {
            operation_id: { value: "312325" },
            agent_id: { value: "123535" },
            resource_provider_id: { value: "927695" },
          },
        ],
      },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "MESSAGE",
      message: {
        agent_id: { value: "12220-3440-12532-S1233" },
        executor_id: { value: "my-framework-executor" },
        data: "adaf838jahd748jnaldf",
      },
    },
    mesosStatus: 202,
  },
  {
    request: {
      framework_id: { value: "12220-3440-12532-2345" },
      type: "REQUEST",
      requests: [{ agent_id: { value: "12220-3440-12532-S1233" }, resources: {} }],
    },
    mesosStatus: 400,
  },
  { request: { framework_info: { user: "foo", name: "Example HTTP Framework" }, type: "SUBSCRIBE" }, mesosStatus: 400 },
];

/** The framework id the scheduler examples use. */
export const SCHEDULER_EXAMPLES_FRAMEWORK_ID = "12220-3440-12532-2345";

/**
 * The JSON request examples of Mesos' executor API documentation, as written.
 * Sent to an agent that does not know their framework, Mesos answers each
 * with 400: the UPDATE because its uuid is not 16 bytes, the others because
 * the framework cannot be found.
 */
export const EXECUTOR_EXAMPLES: { request: Record<string, unknown>; mesosAnswer: RegExp }[] = [
  {
    request: {
      type: "SUBSCRIBE",
      executor_id: { value: "387aa966-8fc5-4428-a794-5a868a60d3eb" },
      framework_id: { value: "49154f1b-8cf6-4421-bf13-8bd11dccd1f1" },
      subscribe: {
        unacknowledged_tasks: [
          {
            name: "dummy-task",
            task_id: { value: "d40f3f3e-bbe3-44af-a230-4cb1eae72f67" },
            agent_id: { value: "f1c9cdc5-195e-41a7-a0d7-adaa9af07f81" },
            command: { value: "ls", arguments: ["-l", "/tmp"] },
          },
        ],
        unacknowledged_updates: [
          {
            framework_id: { value: "49154f1b-8cf6-4421-bf13-8bd11dccd1f1" },
            status: {
              source: "SOURCE_EXECUTOR",
              task_id: { value: "d40f3f3e-bbe3-44af-a230-4cb1eae72f67" },
              state: "TASK_RUNNING",
              uuid: "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg==",
            },
          },
        ],
      },
    },
    mesosAnswer: /^Framework cannot be found$/,
  },
  {
    request: {
      executor_id: { value: "387aa966-8fc5-4428-a794-5a868a60d3eb" },
      framework_id: { value: "9aaa9d0d-e00d-444f-bfbd-23dd197939a0-0000" },
      type: "UPDATE",
      update: {
        status: {
          executor_id: { value: "387aa966-8fc5-4428-a794-5a868a60d3eb" },
          source: "SOURCE_EXECUTOR",
          state: "TASK_RUNNING",
          task_id: { value: "66724cec-2609-4fa0-8d93-c5fb2099d0f8" },
          uuid: "ZDQwZjNmM2UtYmJlMy00NGFmLWEyMzAtNGNiMWVhZTcyZjY3Cg==",
        },
      },
    },
    mesosAnswer: /Invalid UUID/,
  },
  {
    request: {
      executor_id: { value: "387aa966-8fc5-4428-a794-5a868a60d3eb" },
      framework_id: { value: "9aaa9d0d-e00d-444f-bfbd-23dd197939a0-0000" },
      type: "MESSAGE",
      message: { data: "t+Wonz5fRFKMzCnEptlv5A==" },
    },
    mesosAnswer: /^Framework cannot be found$/,
  },
];
