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
export {
  applyCheckpointed,
  applyConversion,
  type Conversion,
  conversionOf,
  isCheckpointed,
  persistentVolumes,
} from "./operations.js";
export { parseAttributes, parseResources, ResourceParseError } from "./parse.js";
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
export { containsRanges, roundScalar } from "./values.js";
