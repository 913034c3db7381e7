/** Resource name → the most a role (with its sub-roles) may hold. */
export type Limits = ReadonlyMap<string, number>;

/**
 * `role` and every ancestor, innermost first: `eng/web` → `eng/web`, `eng`.
 * Quota limits apply over this path: a role's offers keep each of these
 * roles within its limits (see quota-ledger.ts and offer-portion.ts).
 */
export function selfAndAncestors(role: string): string[] {
  const parts = role.split("/");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("/"));
}
