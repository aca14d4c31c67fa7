/**
 * The TCP transport of the cluster host: `@libp2p/tcp` with one fix.
 *
 * `@libp2p/tcp` (11.0.28) spreads the dial options, `signal` included, into
 * `net.connect()`. When a dial is aborted before the TCP handshake ends (a
 * dial timeout towards a peer that drops packets: a cut cable, a firewall,
 * a blackholed link), two abort listeners run: `net`'s destroys the socket
 * with an `AbortError`, whose `'error'` event is emitted on the next tick,
 * and the transport's own removes its `'error'` listener and rejects the
 * dial. The `'error'` event then has no listener and the process dies with
 * `AbortError: The operation was aborted at emitErrorNT`. On loopback a dial
 * to a dead peer is refused at once, so only a silent peer shows it.
 *
 * The fix hides `signal` from the spread (non-enumerable) for the socket
 * connection only: the transport still listens to it, rejects the dial and
 * destroys the socket without an error, and the upgrade (noise, yamux) still
 * gets the whole options with the signal.
 */
import type { Transport } from '@libp2p/interface'
import { type TCPComponents, type TCPOptions, tcp } from '@libp2p/tcp'

/** `@libp2p/tcp`'s TCP class as seen here: its socket-connect step. */
interface TcpWithConnect {
  _connect(ma: unknown, options: { signal?: AbortSignal }): Promise<unknown>
}

/**
 * The options for `net.connect()`: the same object, with `signal` still
 * readable but left out of `{ ...options }`.
 */
export function hideSignalFromSpread<T extends { signal?: AbortSignal }>(options: T): T {
  const copy = { ...options }
  if (options.signal !== undefined) {
    Object.defineProperty(copy, 'signal', { value: options.signal, enumerable: false, writable: true, configurable: true })
  }
  return copy
}

/**
 * `tcp(init)` whose aborted dials never leave an `'error'` event without a
 * listener (see the module doc).
 * @throws Error when the installed `@libp2p/tcp` no longer has the
 *   `_connect` step this wraps (review this file when upgrading it).
 */
export function clusterTcp(init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init)
  return (components) => {
    const transport = factory(components)
    const t = transport as unknown as TcpWithConnect
    const connect = t._connect
    if (typeof connect !== 'function') {
      throw new Error('@libp2p/tcp has no _connect step any more: review src/host/tcp.ts before upgrading it')
    }
    t._connect = function (this: TcpWithConnect, ma, options) {
      return connect.call(this, ma, hideSignalFromSpread(options))
    }
    return transport
  }
}
