/**
 * Errors of the cluster host (`host/`). One class per condition; compare `err.name`.
 */
import { ClusterError } from '../errors.ts'

/** The remote peer does not share this peer's `cluster.secret` (private network PSK). */
export class PrivateNetworkHandshakeError extends ClusterError {
  static override name = 'PrivateNetworkHandshakeError'
}

/**
 * No bootstrap address could be dialed. `failures` holds one entry per
 * address with the reason (e.g. "private network handshake failed (wrong
 * cluster secret?)").
 */
export class BootstrapError extends ClusterError {
  static override name = 'BootstrapError'
  readonly failures: Array<{ addr: string; reason: string }>
  constructor(failures: Array<{ addr: string; reason: string }>) {
    super(
      failures.length === 0
        ? 'bootstrap: no addresses given'
        : `bootstrap failed: ${failures.map((f) => `connection to ${f.addr} failed: ${f.reason}`).join('; ')}`
    )
    this.failures = failures
  }
}

/** A multiaddr given to the host (listen, announce, bootstrap, peer address) is malformed. */
export class InvalidMultiaddrError extends ClusterError {
  static override name = 'InvalidMultiaddrError'
}
