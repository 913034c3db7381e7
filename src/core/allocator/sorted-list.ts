/** An entry of a list kept sorted by share (then by what `compare` adds). */
export interface Ranked {
  share: number;
}

/** Where `entry` belongs in the sorted `list` (the first index not before it). */
function lowerBound<T>(list: T[], entry: T, compare: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid] as T, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Moves `entry` (in `list`, sorted under its current share) to its place
 * under `share`. The entry is found by binary search on its old share, so a
 * pass that charges one framework per agent costs no linear scans.
 */
export function reposition<T extends Ranked>(
  list: T[],
  entry: T,
  share: number,
  compare: (a: T, b: T) => number,
): void {
  let at = lowerBound(list, entry, compare);
  if (list[at] !== entry) at = list.indexOf(entry);
  if (at < 0) return;
  list.splice(at, 1);
  entry.share = share;
  list.splice(lowerBound(list, entry, compare), 0, entry);
}
