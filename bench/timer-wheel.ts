/**
 * One timer for many waiters: items due in the same tick (a few ms) share a
 * bucket, and a single Node timer is armed for the earliest bucket. Ten
 * thousand simulated agents backing off cost one timer, not ten thousand.
 */

export class TimerWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly bucketOf = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The bucket the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly tickMs: number,
    private readonly fire: (item: T) => void,
  ) {}

  /** Fires `item` in about `delayMs` (rounded up to the tick); replaces an earlier schedule of it. */
  schedule(item: T, delayMs: number): void {
    if (this.closed) return;
    this.cancel(item);
    const bucket = Math.ceil((performance.now() + delayMs) / this.tickMs);
    let set = this.buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(item);
    this.bucketOf.set(item, bucket);
    if (bucket < this.armedFor) this.arm(bucket);
  }

  cancel(item: T): void {
    const bucket = this.bucketOf.get(item);
    if (bucket === undefined) return;
    this.bucketOf.delete(item);
    const set = this.buckets.get(bucket);
    set?.delete(item);
    if (set?.size === 0) this.buckets.delete(bucket);
  }

  /** Fires nothing more. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buckets.clear();
    this.bucketOf.clear();
  }

  private arm(bucket: number): void {
    clearTimeout(this.timer);
    this.armedFor = bucket;
    this.timer = setTimeout(() => this.run(), Math.max(0, bucket * this.tickMs - performance.now()));
  }

  private run(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = Math.floor(performance.now() / this.tickMs);
    const due: T[] = [];
    for (const [bucket, set] of this.buckets)
      if (bucket <= now) {
        this.buckets.delete(bucket);
        for (const item of set) {
          this.bucketOf.delete(item);
          due.push(item);
        }
      }
    for (const item of due) if (!this.closed) this.fire(item);
    if (this.closed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const bucket of this.buckets.keys()) if (bucket < next) next = bucket;
    if (next < this.armedFor && next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}
