/**
 * The cluster's private network (upstream `clusterhost.go` `libp2p.PrivateNetwork(psk)`):
 * the 32-byte `cluster.secret` is the PSK of `@libp2p/pnet` (XSalsa20 over
 * every connection, before noise). Two peers with different secrets complete
 * the nonce exchange and then read each other's bytes as garbage, so the
 * failure surfaces later, inside the upgrade (multistream-select or noise)
 * with errors that never mention the secret. This wrapper watches the first
 * decrypted bytes of each protected connection: every libp2p connection
 * (js or Go) starts with the multistream-select header, so anything else
 * means the two sides do not share the secret. It then logs
 * `connection to|from <addr> failed: private network handshake failed
 * (wrong cluster secret?)`, records the address for `PnetFailures`, and
 * aborts the connection at once instead of waiting for the upgrade timeout.
 */
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import type { Multiaddr } from '@multiformats/multiaddr'
import { getLogger } from '../observability/logging.ts'
import { PrivateNetworkHandshakeError } from './errors.ts'
import { growXsalsa20Memory } from './xsalsa20-memory.ts'

const log = getLogger('p2p')

/** Bytes every libp2p connection starts with: uvarint(19) + "/multistream/1.0.0\n". */
const MSS_HEADER = new Uint8Array([19, ...new TextEncoder().encode('/multistream/1.0.0\n')])

/** The pnet key file text for a 32-byte secret: `/key/swarm/psk/1.0.0/\n/base16/\n<hex>`. */
export function pskFromSecret(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new RangeError(`cluster secret must be 32 bytes, got ${secret.length}`)
  const hex = Array.from(secret, (b) => b.toString(16).padStart(2, '0')).join('')
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`)
}

/** The transport address of a multiaddr, without `/p2p/<id>` (the key used by `PnetFailures`). */
export function transportKey(ma: Multiaddr | string): string {
  const s = typeof ma === 'string' ? ma : ma.toString()
  const i = s.indexOf('/p2p/')
  return i >= 0 ? s.slice(0, i) : s
}

/**
 * Remembers the remote addresses whose connection failed the private-network
 * check (bounded: the 256 most recent), so a dial error can say why.
 */
export class PnetFailures {
  private readonly seen = new Map<string, number>()
  private readonly logged = new Map<string, number>()

  /**
   * True when a failure about this remote host (IP, direction) should be
   * logged at warn level: once per 30 s, so a peer retrying with the wrong
   * secret does not flood the log (the others go to debug).
   */
  shouldWarn(remote: string, direction: string): boolean {
    const host = remote.split('/').slice(0, 3).join('/')
    const key = `${direction} ${host}`
    const now = Date.now()
    const last = this.logged.get(key)
    if (last !== undefined && now - last < 30_000) return false
    this.logged.delete(key)
    this.logged.set(key, now)
    if (this.logged.size > 256) {
      const oldest = this.logged.keys().next().value
      if (oldest !== undefined) this.logged.delete(oldest)
    }
    return true
  }

  record(addr: string): void {
    this.seen.delete(addr)
    this.seen.set(addr, Date.now())
    if (this.seen.size > 256) {
      const oldest = this.seen.keys().next().value
      if (oldest !== undefined) this.seen.delete(oldest)
    }
  }

  /** True when a connection to/from `addr` failed the check since `sinceMs` (epoch ms). */
  failedSince(addr: string, sinceMs: number): boolean {
    const t = this.seen.get(transportKey(addr))
    return t !== undefined && t >= sinceMs
  }
}

/** The part of `uint8arraylist`'s ByteList used here. */
interface ByteList {
  byteLength: number
  subarray(): Uint8Array
}

interface Observable {
  remoteAddr?: Multiaddr
  direction?: 'inbound' | 'outbound'
  onData?: (data: Uint8Array | ByteList) => void
  abort?: (err: Error) => void
  /** decrypted bytes received before anyone listens (pnet hands over bytes read past the nonce at once). */
  readBuffer?: ByteList
  addEventListener?: (type: 'close', fn: (evt: Event & { local?: boolean; error?: Error }) => void, opts?: { once?: boolean }) => void
}

/**
 * A `connectionProtector` factory for `createLibp2p`: pnet with the cluster
 * secret plus the wrong-secret detection described above.
 */
export function clusterProtector(secret: Uint8Array, failures: PnetFailures): () => ConnectionProtector {
  const inner = preSharedKey({ psk: pskFromSecret(secret) })()
  let grown = false
  return () => ({
    async protect(connection: MessageStream, options?: { signal?: AbortSignal }): Promise<MessageStream> {
      // before the first connection's ciphers exist (see xsalsa20-memory.ts);
      // not at start: a peer that never connects (a lone peer, its adds)
      // would pay for the grown memory in peak RSS (139 vs 287 MB in
      // bench/ipfsproxy.ts's 200 MiB add)
      if (!grown) {
        grown = true
        if (!growXsalsa20Memory()) log.warn('could not pre-grow the pnet cipher memory: a busy peer may drop connections (xsalsa20 memory growth bug)')
      }
      const raw = connection as unknown as Observable
      const remote = raw.remoteAddr?.toString() ?? 'unknown address'
      const direction = raw.direction ?? 'outbound'
      const box = await inner.protect(connection, options)
      watch(box as unknown as Observable, remote, direction, failures)
      return box
    }
  })
}

function watch(box: Observable, remote: string, direction: 'inbound' | 'outbound', failures: PnetFailures): void {
  const onData = box.onData
  if (typeof onData !== 'function') return
  let checked = 0
  let failed = false
  /** false once the bytes seen so far are not the multistream-select header. */
  const check = (bytes: Uint8Array): boolean => {
    for (let i = 0; i < bytes.length && checked < MSS_HEADER.length; i++, checked++) {
      if (bytes[i] !== MSS_HEADER[checked]) return false
    }
    return true
  }
  const fail = (): void => {
    failed = true
    const msg = `connection ${direction === 'inbound' ? 'from' : 'to'} ${remote} failed: private network handshake failed (wrong cluster secret?)`
    if (failures.shouldWarn(remote, direction)) log.warn(msg)
    else log.debug(msg)
    failures.record(transportKey(remote))
    box.abort?.(new PrivateNetworkHandshakeError(msg))
  }
  // bytes already decrypted (read together with the nonce) sit in the read buffer
  const early = box.readBuffer
  if (early !== undefined && early.byteLength > 0 && !check(early.subarray())) {
    fail()
    return
  }
  // the other side may notice first and reset before sending anything: a
  // connection that passed the nonce exchange (so the remote speaks pnet)
  // and is closed or reset by the remote (not by our own abort or timeout)
  // before a valid header arrived
  box.addEventListener?.(
    'close',
    (evt) => {
      if (failed || checked >= MSS_HEADER.length) return
      const ours = evt.error?.name === 'AbortError' || evt.error?.name === 'TimeoutError'
      if (evt.local !== true || (evt.error !== undefined && !ours)) fail()
    },
    { once: true }
  )
  box.onData = (data) => {
    if (failed) return
    if (checked < MSS_HEADER.length && !check(data instanceof Uint8Array ? data : data.subarray())) {
      fail()
      return
    }
    onData.call(box, data)
  }
}
