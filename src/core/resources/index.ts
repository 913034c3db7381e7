// Resource arithmetic, parsing, formatting and validation: pure functions
// over Mesos v1 Resource and Attribute messages. Nothing here mutates its
// arguments.
export {
  addResources,
  containsResources,
  isEmptyResources,
  quantitiesOf,
  scalarOf,
  subtractResources,
} from "./arithmetic.js";
export { formatAttributes, formatResources } from "./format.js";
export { kindKey, reservationStack } from "./kind.js";
export { ResourceParseError, parseAttributes, parseResources } from "./parse.js";
export {
  allocatableToRole,
  allocateTo,
  isAncestorOrSelf,
  isReserved,
  reservationRole,
  unallocated,
  validateRole,
} from "./roles.js";
export { validateResources } from "./validate.js";
export {
  applyCheckpointed,
  applyConversion,
  conversionOf,
  isCheckpointed,
  persistentVolumes,
  type Conversion,
} from "./operations.js";
export { roundScalar } from "./values.js";
