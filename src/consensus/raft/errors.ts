/** Errors of the Raft consensus (one class per condition, compared by `name`). */
import { ClusterError } from '../../errors.ts'

/** A write or membership change reached a server that is not the leader (hashicorp `ErrNotLeader`). */
export class NotLeaderError extends ClusterError {
  static override name = 'NotLeaderError'
  constructor(message = 'raft: this peer is not the leader', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * A membership change was refused: another one is still uncommitted, the
 * leader has not yet committed an entry of its term, the peer is already (or
 * is not) a voter, or it would remove the last voter.
 */
export class ConfigChangeError extends ClusterError {
  static override name = 'ConfigChangeError'
}
