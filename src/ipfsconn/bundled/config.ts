/**
 * Settings of the bundled IPFS connector (section `ipfs_connector.bundled`
 * of service.json; ours, upstream has no such component). Durations are
 * milliseconds here; service.json keeps Go duration strings, converted by
 * `src/config/`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../../errors.ts'

export interface BundledInit {
  /** Absolute folder of the node: blocks, pinset and libp2p identity. */
  folder: string
  /** libp2p listen multiaddrs of the IPFS node (own node, not the cluster host), e.g. `/ip4/0.0.0.0/tcp/4001`. */
  listenMultiaddress: string[]
  /** Multiaddrs announced to other peers instead of the listen ones (empty = the listen addresses). */
  announceMultiaddress: string[]
  /** Multiaddrs (with `/p2p/<id>`) dialed once at start (failures are logged). */
  bootstrap: string[]
  /** Maximum total size of the stored blocks, bytes (0 = no limit); reported as `StorageMax`. */
  storageMaxBytes: number
  /** A pin is aborted when no block arrived for this long, ms (0 = never). */
  pinTimeoutMs: number
  /** Timeout of an unpin, ms (0 = none). */
  unpinTimeoutMs: number
  /** Timeout of a whole repo GC, ms (0 = none). */
  repoGcTimeoutMs: number
  /** Block requests in flight at once while fetching a DAG (>= 1). */
  fetchConcurrency: number
  /** Address of the read-only HTTP gateway as a multiaddr `/ip4/<ip>/tcp/<port>` ("" = no gateway). */
  gatewayListenMultiaddress: string
  /** Absolute path of a kubo-style `swarm.key` (private IPFS network), "" = public network. */
  swarmKeyFile: string
  /** Delay after start before `connectSwarms` runs once, ms (0 = never). */
  connectSwarmsDelayMs: number
  /** Refuse to unpin anything. */
  unpinDisable: boolean
  /**
   * While a pin gets no block for this long, ms, its pending block requests
   * are asked again of every connected peer and its unconnected origins are
   * dialed again (0 = never; default 10 s). Helia's bitswap asks each peer
   * once per want and drops a want shared with a request that was aborted.
   */
  rewantIntervalMs?: number
}

/** Default of `rewantIntervalMs`, ms. */
export const DEFAULT_REWANT_INTERVAL_MS = 10_000

/**
 * Checks the settings.
 * @throws InvalidArgumentError naming the first bad key (`bundled.<key>`)
 */
export function validateBundledInit(init: BundledInit): void {
  if (init.folder === '') throw new InvalidArgumentError('bundled.folder not set')
  const lists: [keyof BundledInit, string][] = [
    ['listenMultiaddress', 'listen_multiaddress'],
    ['announceMultiaddress', 'announce_multiaddress'],
    ['bootstrap', 'bootstrap']
  ]
  for (const [field, key] of lists) {
    for (const a of init[field] as string[]) {
      try {
        multiaddr(a)
      } catch (err) {
        throw new InvalidArgumentError(`bundled.${key}: invalid multiaddr "${a}": ${(err as Error).message}`)
      }
    }
  }
  for (const a of init.bootstrap) {
    if (!a.includes('/p2p/')) throw new InvalidArgumentError(`bundled.bootstrap: "${a}" has no /p2p/<peer id>`)
  }
  const numbers: [keyof BundledInit, string][] = [
    ['storageMaxBytes', 'storage_max'],
    ['pinTimeoutMs', 'pin_timeout'],
    ['unpinTimeoutMs', 'unpin_timeout'],
    ['repoGcTimeoutMs', 'repogc_timeout'],
    ['connectSwarmsDelayMs', 'connect_swarms_delay'],
    ['rewantIntervalMs', 'rewant_interval']
  ]
  for (const [field, key] of numbers) {
    const v = init[field]
    if (v === undefined && field === 'rewantIntervalMs') continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`bundled.${key} invalid`)
  }
  if (!Number.isInteger(init.fetchConcurrency) || init.fetchConcurrency < 1) {
    throw new InvalidArgumentError('bundled.fetch_concurrency must be an integer >= 1')
  }
  if (init.gatewayListenMultiaddress !== '') gatewayAddress(init.gatewayListenMultiaddress)
}

/**
 * Host and port of the gateway multiaddr.
 * @throws InvalidArgumentError for anything but `/ip4|ip6/<ip>/tcp/<port>`
 */
export function gatewayAddress(ma: string): { host: string; port: number } {
  const [empty, proto, host, tcp, port, ...rest] = ma.split('/')
  const p = Number(port)
  if (empty !== '' || (proto !== 'ip4' && proto !== 'ip6') || host === undefined || host === '' || tcp !== 'tcp' || !Number.isInteger(p) || p < 0 || p > 65535 || rest.some((s) => s !== '')) {
    throw new InvalidArgumentError(`bundled.gateway_listen_multiaddress: unsupported multiaddr "${ma}" (want /ip4|ip6/<ip>/tcp/<port>)`)
  }
  return { host, port: p }
}
