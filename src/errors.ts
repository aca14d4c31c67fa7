/**
 * Error classes shared by every component. One class per condition, with a
 * stable `name`; callers compare `err.name`, never `err.message`.
 * The HTTP mapping lives in one place: `api/rest/` (`statusOf`).
 */

/** The CID, peer or route asked for does not exist (REST: 404). */
export class NotFoundError extends Error {
  static name = 'NotFoundError'
  constructor(message = 'not found') {
    super(message)
    this.name = 'NotFoundError'
  }
}

/** The caller sent something malformed: CID, multiaddr, option, JSON (REST: 400). */
export class InvalidArgumentError extends Error {
  static name = 'InvalidArgumentError'
  constructor(message: string) {
    super(message)
    this.name = 'InvalidArgumentError'
  }
}

/** A write was attempted on a peer running in follower mode (upstream `errFollowerMode`). */
export class FollowerModeError extends Error {
  static name = 'FollowerModeError'
  constructor(message = 'this peer is configured to be in follower mode. Write operations are disabled') {
    super(message)
    this.name = 'FollowerModeError'
  }
}

/** Not enough peers to satisfy the replication factor (upstream allocate.go). */
export class NotEnoughPeersError extends Error {
  static name = 'NotEnoughPeersError'
  constructor(message: string) {
    super(message)
    this.name = 'NotEnoughPeersError'
  }
}

/** A bounded queue (batching queue, pin queue) is full; nothing was accepted. */
export class QueueFullError extends Error {
  static name = 'QueueFullError'
  constructor(message: string) {
    super(message)
    this.name = 'QueueFullError'
  }
}

/** The IPFS daemon (kubo) could not be reached or answered with an error. */
export class IPFSError extends Error {
  static name = 'IPFSError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'IPFSError'
  }
}

/** Feature not available in this build (e.g. raft consensus). */
export class UnsupportedError extends Error {
  static name = 'UnsupportedError'
  constructor(message: string) {
    super(message)
    this.name = 'UnsupportedError'
  }
}

/** The operation was aborted through its AbortSignal or by a component stopping. */
export class AbortError extends Error {
  static name = 'AbortError'
  constructor(message = 'the operation was aborted') {
    super(message)
    this.name = 'AbortError'
  }
}
