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
