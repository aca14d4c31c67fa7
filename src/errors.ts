/**
 * Error classes shared by every component, their base class, and the one
 * way to read a message off a thrown value of unknown type. One class per
 * condition, with a stable `name`; callers compare `err.name`, never
 * `err.message` (the js-libp2p convention). The HTTP mapping lives in one
 * place: `api/rest/` (`statusOf`).
 *
 * A new error class only declares its name (and a default message when it
 * has one):
 *
 * ```ts
 * export class NotFoundError extends ClusterError {
 *   static override name = 'NotFoundError'
 * }
 * ```
 */

/** The base of every error class of this project: `name` is the subclass's static `name`. */
export class ClusterError extends Error {
  static override name = 'ClusterError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    // the subclass's static name, set explicitly: bundling may rename classes
    this.name = (new.target as { name: string }).name
  }
}

/** The message of a thrown value: `err.message` for an Error, else `String(err)`. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The `name` of a thrown value (what callers compare), or undefined when it has none. */
export function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined
}

/** The CID, peer or route asked for does not exist (REST: 404). */
export class NotFoundError extends ClusterError {
  static override name = 'NotFoundError'
  constructor(message = 'not found', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The caller sent something malformed: CID, multiaddr, option, JSON (REST: 400). */
export class InvalidArgumentError extends ClusterError {
  static override name = 'InvalidArgumentError'
}

/** A write was attempted on a peer running in follower mode (upstream `errFollowerMode`). */
export class FollowerModeError extends ClusterError {
  static override name = 'FollowerModeError'
  constructor(message = 'this peer is configured to be in follower mode. Write operations are disabled', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Not enough peers to satisfy the replication factor (upstream allocate.go). */
export class NotEnoughPeersError extends ClusterError {
  static override name = 'NotEnoughPeersError'
}

/** A bounded queue (batching queue, pin queue) is full; nothing was accepted. */
export class QueueFullError extends ClusterError {
  static override name = 'QueueFullError'
}

/** The IPFS daemon (kubo) could not be reached or answered with an error. */
export class IPFSError extends ClusterError {
  static override name = 'IPFSError'
}

/**
 * The disk holding the datastore is full: the write was not made (a SQLite
 * transaction rolls back whole), reads go on working, and writes succeed again
 * once space is freed. The REST API answers it with 507 Insufficient Storage.
 */
export class DiskFullError extends ClusterError {
  static override name = 'DiskFullError'
}

/** Feature not available in this build (e.g. raft consensus). */
export class UnsupportedError extends ClusterError {
  static override name = 'UnsupportedError'
}

/** The operation was aborted through its AbortSignal or by a component stopping. */
export class AbortError extends ClusterError {
  static override name = 'AbortError'
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(message, options)
  }
}
