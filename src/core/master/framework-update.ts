import { clone } from "@bufbuild/protobuf";
import { FrameworkInfoSchema } from "../../../gen/mesos/v1/mesos_pb.js";
import type { Call_UpdateFramework } from "../../../gen/mesos/v1/scheduler/scheduler_pb.js";
import { compileOfferConstraints } from "../allocator/index.js";
import { broadcastOperators, type Ctx, persist, requestAllocation } from "./context.js";
import { type CallError, ErrorCode, frameworkIdOf, OperatorEventType, operatorEvent } from "./events.js";
import { frameworkRoles, validateFrameworkInfo } from "./frameworks.js";
import { rescindOffers } from "./offers.js";
import type { FrameworkRecord } from "./state.js";
import { frameworkView } from "./views.js";

/**
 * UPDATE_FRAMEWORK (Mesos 1.9+): a subscribed framework changes its
 * FrameworkInfo (roles, name, capabilities, ...) and suppressed roles
 * without resubscribing. Offers for roles it gives up are rescinded; its
 * tasks keep running whatever their role.
 */
export function updateFramework(
  ctx: Ctx,
  framework: FrameworkRecord,
  call: Call_UpdateFramework,
): CallError | undefined {
  const problem = validateFrameworkInfo(call.frameworkInfo);
  if (problem !== undefined || call.frameworkInfo === undefined)
    return { code: ErrorCode.INVALID_ARGUMENT, message: problem ?? "" };
  const info = clone(FrameworkInfoSchema, call.frameworkInfo);
  const id = info.id?.value ?? "";
  if (id !== framework.id) {
    return {
      code: ErrorCode.INVALID_ARGUMENT,
      message: `update_framework.framework_info.id must be this framework's id ${framework.id}, not '${id}'`,
    };
  }
  if (info.user !== framework.info.user)
    return { code: ErrorCode.INVALID_ARGUMENT, message: "FrameworkInfo.user cannot change" };
  if (info.principal !== framework.info.principal)
    return { code: ErrorCode.INVALID_ARGUMENT, message: "Changing framework's principal is not allowed." };
  if (info.checkpoint !== framework.info.checkpoint)
    return { code: ErrorCode.INVALID_ARGUMENT, message: "FrameworkInfo.checkpoint cannot change" };
  const roles = frameworkRoles(info);
  const unknownSuppressed = call.suppressedRoles.filter((r) => !roles.includes(r));
  if (unknownSuppressed.length > 0) {
    return {
      code: ErrorCode.INVALID_ARGUMENT,
      message: `suppressed_roles names roles the framework does not have: ${unknownSuppressed.join(", ")}`,
    };
  }
  const offerFilters = compileOfferConstraints(call.offerConstraints, roles);
  if (typeof offerFilters === "string") return { code: ErrorCode.INVALID_ARGUMENT, message: offerFilters };
  info.id = frameworkIdOf(framework.id);
  framework.offerConstraints = call.offerConstraints;
  framework.offerFilters = offerFilters;
  const dropped = framework.roles.filter((r) => !roles.includes(r));
  framework.info = info;
  framework.roles = roles;
  framework.suppressedRoles = new Set(call.suppressedRoles);
  rescindOffers(
    ctx,
    [...framework.offers].filter((offerId) => dropped.includes(ctx.state.offers.get(offerId)?.role ?? "")),
  );
  ctx.allocator.updateFramework(framework.id, { roles, suppressedRoles: call.suppressedRoles, offerFilters });
  persist(ctx, { kind: "add-framework", info });
  requestAllocation(ctx);
  broadcastOperators(ctx, () =>
    operatorEvent({
      type: OperatorEventType.FRAMEWORK_UPDATED,
      frameworkUpdated: { framework: frameworkView(ctx, framework) },
    }),
  );
  return undefined;
}
