// Resource arithmetic, parsing and validation: pure functions over Mesos v1
// Resource messages.
export {
  addResources,
  containsResources,
  isEmptyResources,
  kindKey,
  quantitiesOf,
  scalarOf,
  subtractResources,
} from "./arithmetic.js";
export { formatAttributes, formatResources } from "./format.js";
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
export { roundScalar } from "./values.js";
