/**
 * Settings of the kubo connector, mirroring upstream
 * `ipfsconn/ipfshttp/config.go` (section `ipfs_connector.ipfshttp` of
 * service.json). Durations are milliseconds here; service.json keeps
 * upstream's Go duration strings (`"2m0s"`), converted by `src/config/`.
 * JSON keys and defaults are declared once, in `IPFSHTTP` of
 * `src/config/sections.ts` (`nodeMultiaddress` <- `node_multiaddress`,
 * `repoGcTimeoutMs` <- `repogc_timeout`, …).
 */
import { IPFSHTTP } from '../../config/sections.ts'
import { fieldDefaults } from '../../config/typed.ts'
import { InvalidArgumentError } from '../../errors.ts'

export interface IpfsHttpInit {
  /** Multiaddr of kubo's RPC API: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/http|/https|/tls/http]`. */
  nodeMultiaddress: string
  /** Delay after kubo is first reachable before `connectSwarms` runs once, ms (0 = never). */
  connectSwarmsDelayMs: number
  /** Timeout of every ordinary request (and of a whole `pin/ls` stream), ms. */
  ipfsRequestTimeoutMs: number
  /** `pin/add` is aborted when no progress was reported for this long, ms. */
  pinTimeoutMs: number
  /** Timeout of `pin/rm`, ms. */
  unpinTimeoutMs: number
  /** Timeout of a whole `repo/gc`, ms. */
  repoGcTimeoutMs: number
  /** Every this many pin/unpin requests, ask the cluster to send informer metrics (0 or absent = never). */
  informerTriggerInterval?: number
  /** Refuse to unpin anything from kubo. */
  unpinDisable: boolean
}

/** Upstream's defaults (`Config.Default`), from the `ipfs_connector.ipfshttp` declaration; a fresh object. */
export function defaultIpfsHttpInit(): IpfsHttpInit {
  return fieldDefaults(IPFSHTTP)
}

const DEFAULTS = defaultIpfsHttpInit()
export const DEFAULT_NODE_MULTIADDRESS = DEFAULTS.nodeMultiaddress
export const DEFAULT_CONNECT_SWARMS_DELAY_MS = DEFAULTS.connectSwarmsDelayMs
export const DEFAULT_IPFS_REQUEST_TIMEOUT_MS = DEFAULTS.ipfsRequestTimeoutMs
export const DEFAULT_PIN_TIMEOUT_MS = DEFAULTS.pinTimeoutMs
export const DEFAULT_UNPIN_TIMEOUT_MS = DEFAULTS.unpinTimeoutMs
export const DEFAULT_REPOGC_TIMEOUT_MS = DEFAULTS.repoGcTimeoutMs
export const DEFAULT_INFORMER_TRIGGER_INTERVAL = DEFAULTS.informerTriggerInterval ?? 0

/**
 * Checks the settings as upstream `Config.Validate` does.
 * @throws InvalidArgumentError naming the first bad key.
 */
export function validateIpfsHttpInit(init: IpfsHttpInit): void {
  if (init.nodeMultiaddress === '') throw new InvalidArgumentError('ipfshttp.node_multiaddress not set')
  const durations: [keyof IpfsHttpInit, string][] = [
    ['connectSwarmsDelayMs', 'connect_swarms_delay'],
    ['ipfsRequestTimeoutMs', 'ipfs_request_timeout'],
    ['pinTimeoutMs', 'pin_timeout'],
    ['unpinTimeoutMs', 'unpin_timeout'],
    ['repoGcTimeoutMs', 'repogc_timeout'],
    ['informerTriggerInterval', 'informer_trigger_interval']
  ]
  for (const [field, key] of durations) {
    const v = init[field] ?? 0
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`ipfshttp.${key} invalid`)
  }
  nodeUrl(init.nodeMultiaddress)
}

/**
 * The base URL (`http://host:port`) of kubo's RPC API for a multiaddr.
 * @throws InvalidArgumentError for a multiaddr that is not host + tcp port
 *   (unix sockets are not supported yet).
 */
export function nodeUrl(ma: string): string {
  const parts = ma.split('/')
  // ['', proto, host, 'tcp', port, ...rest]
  const [empty, proto, host, tcp, port, ...rest] = parts
  const bad = (): never => {
    throw new InvalidArgumentError(`ipfshttp.node_multiaddress: unsupported multiaddr "${ma}" (want /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>)`)
  }
  if (empty !== '' || proto === undefined || host === undefined || host === '' || tcp !== 'tcp' || port === undefined) return bad()
  const p = Number(port)
  if (!Number.isInteger(p) || p <= 0 || p > 65535) return bad()
  let hostPart: string
  if (proto === 'ip4' || proto === 'dns' || proto === 'dns4' || proto === 'dns6') hostPart = host
  else if (proto === 'ip6') hostPart = `[${host}]`
  else return bad()
  const tail = rest.filter((s) => s !== '').join('/')
  let scheme = 'http'
  if (tail === '' || tail === 'http') scheme = 'http'
  else if (tail === 'https' || tail === 'tls/http') scheme = 'https'
  else return bad()
  return `${scheme}://${hostPart}:${p}`
}
