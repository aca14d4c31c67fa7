/**
 * Errors of the peer-to-peer RPC (`src/rpc/`). One class per condition,
 * compared by `name` (upstream go-libp2p-gorpc: `rpc.IsAuthorizationError`,
 * `rpc.IsRPCError`).
 */
import { ClusterError } from '../errors.ts'

/**
 * The remote peer refused the call under its RPC policy (upstream
 * rpc_policy.go): the method is `closed` to remote callers, or `trusted`
 * and the caller is not a trusted peer.
 */
export class RpcUnauthorizedError extends ClusterError {
  static override name = 'RpcUnauthorizedError'
  constructor(message = 'unauthorized: the peer does not allow this call', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The destination has no handler for `Service.Method`. */
export class RpcMethodNotFoundError extends ClusterError {
  static override name = 'RpcMethodNotFoundError'
}

/** No answer (or, for a stream, no next item) within `timeoutMs`. */
export class RpcTimeoutError extends ClusterError {
  static override name = 'RpcTimeoutError'
}

/**
 * The remote handler failed with an error this peer has no class for;
 * `remoteName` is the remote error's `name`.
 */
export class RpcRemoteError extends ClusterError {
  static override name = 'RpcRemoteError'
  readonly remoteName: string
  constructor(remoteName: string, message: string) {
    super(message)
    this.remoteName = remoteName
  }
}

/** The peer could not be reached, or the stream broke or carried malformed frames. */
export class RpcTransportError extends ClusterError {
  static override name = 'RpcTransportError'
}

/** `call` used on a streaming method, or `callStream` on a unary one. */
export class RpcKindError extends ClusterError {
  static override name = 'RpcKindError'
}

/** True for an authorization refusal (upstream `rpc.IsAuthorizationError`). */
export function isAuthorizationError(err: unknown): boolean {
  return err instanceof Error && err.name === 'RpcUnauthorizedError'
}
