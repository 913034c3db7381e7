/**
 * The v1 JSON text of the items that make up a large operator answer
 * (tasks, agents, frameworks), kept between reads while they are unchanged:
 * a large cluster's GET_STATE is mostly tasks that did not change since the
 * last read (every completed one), and writing each anew was most of a
 * read's time.
 */
import { isMessage } from "@bufbuild/protobuf";
import {
  Response_GetAgents_AgentSchema,
  Response_GetFrameworks_FrameworkSchema,
} from "../../gen/mesos/v1/master/master_pb.js";
import { type Task, TaskSchema, type TaskState, type TaskStatus } from "../../gen/mesos/v1/mesos_pb.js";
import { type ItemText, messageText } from "./json-text.js";

/** A task's text as last written, with what it was written from. */
interface WrittenTask {
  statuses: TaskStatus[];
  state: TaskState;
  text: string;
}

/**
 * The master changes a task only through its status moves, which set its
 * state and replace its `statuses` list (core/master/task-bookkeeping.ts):
 * while both are as they were, so is its text. Held as long as the task is.
 */
const tasks = new WeakMap<Task, WrittenTask>();

/**
 * Agents and frameworks come from the core's views, which hand out the same
 * message while nothing in it changed and never modify one handed out
 * (core/master/views.ts): their text is kept by identity.
 */
const views = new WeakMap<object, string>();

/** An ItemText that keeps what it writes of tasks, agents and frameworks. */
export const keptItemText: ItemText = (desc, item) => {
  if (isMessage(item, TaskSchema)) {
    const kept = tasks.get(item);
    if (kept?.statuses === item.statuses && kept.state === item.state) return kept.text;
    const text = messageText(TaskSchema, item, keptItemText);
    tasks.set(item, { statuses: item.statuses, state: item.state, text });
    return text;
  }
  if (isMessage(item, Response_GetAgents_AgentSchema) || isMessage(item, Response_GetFrameworks_FrameworkSchema)) {
    let text = views.get(item);
    if (text === undefined) {
      text = messageText(desc, item, keptItemText);
      views.set(item, text);
    }
    return text;
  }
  return undefined;
};
