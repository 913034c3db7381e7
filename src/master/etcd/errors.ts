/**
 * Raised when this master is no longer the leader: its lease expired or was
 * revoked, its campaign key is gone, or etcd refused a write because the key
 * no longer matches (the fence). Retrying cannot help: the master must stop
 * acting as leader and campaign again.
 */
export class LeadershipLostError extends Error {
  override readonly name = "LeadershipLostError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Raised when a write that took several transactions stopped after some of
 * them committed: etcd holds part of a batch the master's memory no longer
 * matches. The store refuses every later write; the master steps down, and
 * the next leader reads what etcd holds (each key whole, never torn).
 */
export class PartlyStoredError extends Error {
  override readonly name = "PartlyStoredError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
