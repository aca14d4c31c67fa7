/**
 * `service.json`: defaults (what `service init` writes), loading (with
 * `{"source": url}` indirection, defaults for missing keys, environment
 * overrides and validation) and saving.
 * Mirrors upstream `config/config.go` (Manager), `cluster_config.go`, each
 * component's `config.go` and `cmd/ipfs-cluster-service/main.go` (init).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { UnsupportedError } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'
import { parseDuration } from './duration.ts'
import type { Env } from './env.ts'
import { ConfigError, ConfigSourceError } from './errors.ts'
import {
  applyEnv,
  fieldError,
  isPlainObject,
  type Json,
  type JsonObject,
  type NormalizeContext,
  normalize,
  toJson
} from './schema.ts'
import { CLUSTER_FIELDS, SECTION_FIELDS, type SectionGroup } from './sections.ts'
import type {
  BalancedAllocatorConfig,
  ClusterConfig,
  CrdtConfig,
  DatastoreConfig,
  DiskInformerConfig,
  IpfsHttpConfig,
  IpfsProxyConfig,
  MetricsConfig,
  PinQueueInformerConfig,
  PubsubMonConfig,
  RestApiConfig,
  ServiceConfig,
  StatelessTrackerConfig,
  TagsInformerConfig,
  TracingConfig
} from './types.ts'

const log = getLogger('config')

/** Name of the configuration file inside the configuration folder. */
export const SERVICE_FILE = 'service.json'

/** Consensus components upstream knows; only crdt is implemented. */
export type ConsensusName = 'crdt' | 'raft'
/** Datastore backends we implement (upstream's pebble/badger/badger3 are not). */
export type DatastoreName = 'sqlite' | 'leveldb'

export const RAFT_UNSUPPORTED = 'raft consensus is not supported yet; use crdt'

const UPSTREAM_ONLY_DATASTORES = ['pebble', 'badger', 'badger3']

// ---------------------------------------------------------------------------
// helpers

/** Returns why `s` is not a multiaddr, or null when it is one. `/unix/<path>` is accepted. */
export function multiaddrProblem(s: string): string | null {
  if (s.startsWith('/unix/')) return s.length > '/unix/'.length ? null : 'empty unix socket path'
  try {
    multiaddr(s)
    return null
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/**
 * Decodes `cluster.secret` like upstream `DecodeClusterSecret`: "" -> null
 * (no private network), otherwise exactly 32 bytes of hex.
 * @throws Error with the reason (the caller adds file and key).
 */
export function decodeClusterSecret(hex: string): Uint8Array | null {
  if (hex === '') return null
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== 64) {
    throw new Error('must be 64 hex characters (32 bytes)')
  }
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** A random 32-byte cluster secret, hex encoded (upstream `Config.Default`). */
export function generateClusterSecret(): string {
  const b = crypto.getRandomValues(new Uint8Array(32))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

function groupOf(raw: JsonObject, group: string): JsonObject {
  const g = raw[group]
  return isPlainObject(g) ? g : {}
}

function isPresent(raw: JsonObject, group: string, key: string): boolean {
  const v = groupOf(raw, group)[key]
  return v !== undefined && v !== null
}

class Reader {
  readonly o: JsonObject
  readonly path: string
  readonly ctx: NormalizeContext
  constructor(o: JsonObject, path: string, ctx: NormalizeContext) {
    this.o = o
    this.path = path
    this.ctx = ctx
  }

  fail(key: string, msg: string): ConfigError {
    return fieldError(this.ctx, `${this.path}.${key}`, msg)
  }

  sub(key: string): Reader {
    const v = this.o[key]
    return new Reader(isPlainObject(v) ? v : {}, `${this.path}.${key}`, this.ctx)
  }

  str(key: string): string {
    const v = this.o[key]
    return typeof v === 'string' ? v : ''
  }

  num(key: string): number {
    const v = this.o[key]
    return typeof v === 'number' ? v : 0
  }

  bool(key: string): boolean {
    return this.o[key] === true
  }

  list(key: string): string[] {
    const v = this.o[key]
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  }

  map(key: string): Record<string, string> | null {
    const v = this.o[key]
    if (!isPlainObject(v)) return null
    const out: Record<string, string> = {}
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x
    return out
  }

  mapList(key: string): Record<string, string[]> {
    const v = this.o[key]
    const out: Record<string, string[]> = {}
    if (!isPlainObject(v)) return out
    for (const [k, x] of Object.entries(v)) {
      if (Array.isArray(x)) out[k] = x.filter((y): y is string => typeof y === 'string')
    }
    return out
  }

  /** Milliseconds; `check` says which values are allowed. */
  dur(key: string, check: 'positive' | 'nonNegative' | 'any' = 'nonNegative'): number {
    const s = this.str(key)
    let ms: number
    try {
      ms = parseDuration(s)
    } catch {
      throw this.fail(key, `invalid duration "${s}"`)
    }
    if (check === 'positive' && ms <= 0) throw this.fail(key, 'must be greater than 0s')
    if (check === 'nonNegative' && ms < 0) throw this.fail(key, 'must not be negative')
    return ms
  }

  int(key: string, min?: number): number {
    const n = this.num(key)
    if (min !== undefined && n < min) throw this.fail(key, `must be at least ${min}`)
    return n
  }

  multiaddrs(key: string, opts: { nonEmpty?: boolean } = {}): string[] {
    const l = this.list(key)
    if (opts.nonEmpty === true && l.length === 0) throw this.fail(key, 'must not be empty')
    for (const a of l) {
      const p = multiaddrProblem(a)
      if (p !== null) throw this.fail(key, `invalid multiaddr "${a}": ${p}`)
    }
    return l
  }

  multiaddr(key: string): string {
    const a = this.str(key)
    if (a === '') throw this.fail(key, 'must be a multiaddr')
    const p = multiaddrProblem(a)
    if (p !== null) throw this.fail(key, `invalid multiaddr "${a}": ${p}`)
    return a
  }

  /** A path resolved against the configuration folder; "" stays "". */
  path_(key: string, folder: string): string {
    const p = this.str(key)
    if (p === '') return ''
    return isAbsolute(p) ? p : resolve(folder, p)
  }
}

// ---------------------------------------------------------------------------
// typed sections

function clusterConfig(r: Reader, folder: string): ClusterConfig {
  let secret: Uint8Array | null
  try {
    secret = decodeClusterSecret(r.str('secret'))
  } catch (err) {
    throw r.fail('secret', (err as Error).message)
  }
  if (secret === null) log.warn('Cluster secret is empty, cluster will start on unprotected network.')

  const cm = r.sub('connection_manager')
  const highWater = cm.int('high_water')
  const lowWater = cm.int('low_water')
  if (lowWater <= 0) throw cm.fail('low_water', 'must be greater than 0')
  if (highWater <= 0) throw cm.fail('high_water', 'must be greater than 0')
  if (lowWater > highWater) throw cm.fail('low_water', 'is greater than high_water')
  const gracePeriodMs = cm.dur('grace_period')
  if (gracePeriodMs === 0) throw cm.fail('grace_period', 'must not be 0s')

  const rm = r.sub('resource_manager')
  const ps = r.sub('pubsub')

  const rfMin = r.num('replication_factor_min')
  const rfMax = r.num('replication_factor_max')
  if (rfMin > rfMax) throw r.fail('replication_factor_min', 'is larger than replication_factor_max')
  if (rfMin < -1) throw r.fail('replication_factor_min', 'must be -1 or a positive number')
  if (rfMax < -1) throw r.fail('replication_factor_max', 'must be -1 or a positive number')
  if ((rfMin === -1) !== (rfMax === -1)) {
    throw r.fail('replication_factor_min', 'replication_factor_min and max must both be -1 when one of them is')
  }

  const pinOnlyOnTrustedPeers = r.bool('pin_only_on_trusted_peers')
  const pinOnlyOnUntrustedPeers = r.bool('pin_only_on_untrusted_peers')
  if (pinOnlyOnTrustedPeers && pinOnlyOnUntrustedPeers) {
    throw r.fail('pin_only_on_trusted_peers', 'pin_only_on_trusted_peers and pin_only_on_untrusted_peers cannot both be true')
  }

  const peerstoreFile = r.str('peerstore_file') || 'peerstore'
  return {
    peername: r.str('peername') || hostname(),
    secret,
    leaveOnShutdown: r.bool('leave_on_shutdown'),
    listenMultiaddress: r.multiaddrs('listen_multiaddress', { nonEmpty: true }),
    announceMultiaddress: r.multiaddrs('announce_multiaddress'),
    noAnnounceMultiaddress: r.multiaddrs('no_announce_multiaddress'),
    enableRelayHop: r.bool('enable_relay_hop'),
    connectionManager: { highWater, lowWater, gracePeriodMs },
    resourceManager: {
      enabled: rm.bool('enabled'),
      memoryLimitBytes: rm.int('memory_limit_bytes', 0),
      fileDescriptorsLimit: rm.int('file_descriptors_limit', 0)
    },
    pubsub: {
      seenMessagesTtlMs: ps.dur('seen_messages_ttl', 'positive'),
      heartbeatIntervalMs: ps.dur('heartbeat_interval', 'positive'),
      dFactor: ps.int('d_factor', 1),
      historyGossip: ps.int('history_gossip', 1),
      historyLength: ps.int('history_length', 1),
      floodPublish: ps.bool('flood_publish')
    },
    dialPeerTimeoutMs: r.dur('dial_peer_timeout', 'positive'),
    stateSyncIntervalMs: r.dur('state_sync_interval', 'positive'),
    pinRecoverIntervalMs: r.dur('pin_recover_interval', 'positive'),
    replicationFactorMin: rfMin,
    replicationFactorMax: rfMax,
    monitorPingIntervalMs: r.dur('monitor_ping_interval', 'positive'),
    peerWatchIntervalMs: r.dur('peer_watch_interval', 'positive'),
    mdnsIntervalMs: r.dur('mdns_interval'),
    pinOnlyOnTrustedPeers,
    pinOnlyOnUntrustedPeers,
    disableRepinning: r.bool('disable_repinning'),
    followerMode: r.bool('follower_mode'),
    peerstoreFile,
    peerstorePath: isAbsolute(peerstoreFile) ? peerstoreFile : resolve(folder, peerstoreFile),
    peerAddresses: r.multiaddrs('peer_addresses')
  }
}

function checkPeerId(r: Reader, key: string, id: string): void {
  try {
    peerIdFromString(id)
  } catch {
    throw r.fail(key, `invalid peer ID "${id}"`)
  }
}

function crdtConfig(r: Reader): CrdtConfig {
  const listed = r.list('trusted_peers')
  const trustAll = listed.includes('*')
  const trustedPeers: string[] = []
  if (!trustAll) {
    for (const p of listed) {
      checkPeerId(r, 'trusted_peers', p)
      if (!trustedPeers.includes(p)) trustedPeers.push(p)
    }
  }
  const b = r.sub('batching')
  return {
    clusterName: r.str('cluster_name'),
    trustAll,
    trustedPeers,
    batching: {
      maxBatchSize: b.int('max_batch_size', 0),
      maxBatchAgeMs: b.dur('max_batch_age'),
      maxQueueSize: b.int('max_queue_size', 1)
    },
    repairIntervalMs: r.dur('repair_interval'),
    rebroadcastIntervalMs: r.dur('rebroadcast_interval', 'positive'),
    peersetMetric: r.str('peerset_metric'),
    datastoreNamespace: r.str('datastore_namespace')
  }
}

function restApiConfig(r: Reader, folder: string, defaultListen: string[]): RestApiConfig {
  const listen = r.multiaddrs('http_listen_multiaddress')
  const cert = r.path_('ssl_cert_file', folder)
  const key = r.path_('ssl_key_file', folder)
  if ((cert === '') !== (key === '')) throw r.fail(cert === '' ? 'ssl_cert_file' : 'ssl_key_file', 'ssl_cert_file and ssl_key_file must be set together')
  if (cert !== '' && !existsSync(cert)) throw r.fail('ssl_cert_file', `file not found: ${cert}`)
  if (key !== '' && !existsSync(key)) throw r.fail('ssl_key_file', `file not found: ${key}`)
  const basic = r.map('basic_auth_credentials')
  if (basic !== null && Object.keys(basic).length === 0) {
    throw r.fail('basic_auth_credentials', 'should be null or have at least one entry')
  }
  const libp2pListen = r.multiaddrs('libp2p_listen_multiaddress')
  const id = r.str('id')
  const privateKey = r.str('private_key')
  if (id !== '' || privateKey !== '' || libp2pListen.length > 0) {
    if (id === '' || privateKey === '' || libp2pListen.length === 0) {
      throw r.fail('id', 'all of id, private_key and libp2p_listen_multiaddress should be set')
    }
    checkPeerId(r, 'id', id)
  }
  return {
    httpListenMultiaddress: listen.length > 0 ? listen : [...defaultListen],
    sslCertFile: cert,
    sslKeyFile: key,
    readTimeoutMs: r.dur('read_timeout'),
    readHeaderTimeoutMs: r.dur('read_header_timeout'),
    writeTimeoutMs: r.dur('write_timeout'),
    idleTimeoutMs: r.dur('idle_timeout'),
    maxHeaderBytes: r.int('max_header_bytes', 4096),
    libp2pListenMultiaddress: libp2pListen,
    id,
    privateKey,
    basicAuthCredentials: basic,
    httpLogFile: r.path_('http_log_file', folder),
    headers: r.mapList('headers'),
    corsAllowedOrigins: r.list('cors_allowed_origins'),
    corsAllowedMethods: r.list('cors_allowed_methods'),
    corsAllowedHeaders: r.list('cors_allowed_headers'),
    corsExposedHeaders: r.list('cors_exposed_headers'),
    corsAllowCredentials: r.bool('cors_allow_credentials'),
    corsMaxAgeMs: r.dur('cors_max_age')
  }
}

function ipfsProxyConfig(r: Reader, folder: string): IpfsProxyConfig {
  const listen = r.multiaddrs('listen_multiaddress')
  const extractHeadersPath = r.str('extract_headers_path')
  if (extractHeadersPath === '') throw r.fail('extract_headers_path', 'should not be empty')
  return {
    listenMultiaddress: listen.length > 0 ? listen : ['/ip4/127.0.0.1/tcp/9095'],
    nodeMultiaddress: r.multiaddr('node_multiaddress'),
    nodeHttps: r.bool('node_https'),
    logFile: r.path_('log_file', folder),
    readTimeoutMs: r.dur('read_timeout'),
    readHeaderTimeoutMs: r.dur('read_header_timeout'),
    writeTimeoutMs: r.dur('write_timeout'),
    idleTimeoutMs: r.dur('idle_timeout'),
    maxHeaderBytes: r.int('max_header_bytes', 4096),
    extractHeadersExtra: r.list('extract_headers_extra'),
    extractHeadersPath,
    extractHeadersTtlMs: r.dur('extract_headers_ttl')
  }
}

function ipfsHttpConfig(r: Reader): IpfsHttpConfig {
  return {
    nodeMultiaddress: r.multiaddr('node_multiaddress'),
    connectSwarmsDelayMs: r.dur('connect_swarms_delay'),
    ipfsRequestTimeoutMs: r.dur('ipfs_request_timeout'),
    pinTimeoutMs: r.dur('pin_timeout'),
    unpinTimeoutMs: r.dur('unpin_timeout'),
    repoGcTimeoutMs: r.dur('repogc_timeout'),
    informerTriggerInterval: r.int('informer_trigger_interval', 0),
    unpinDisable: r.bool('unpin_disable')
  }
}

function statelessConfig(r: Reader): StatelessTrackerConfig {
  return {
    maxPinQueueSize: r.int('max_pin_queue_size', 1),
    concurrentPins: r.int('concurrent_pins', 1),
    priorityPinMaxAgeMs: r.dur('priority_pin_max_age', 'positive'),
    priorityPinMaxRetries: r.int('priority_pin_max_retries', 1)
  }
}

function pubsubMonConfig(r: Reader): PubsubMonConfig {
  return { checkIntervalMs: r.dur('check_interval', 'positive') }
}

function balancedConfig(r: Reader): BalancedAllocatorConfig {
  const allocateBy = r.list('allocate_by')
  return { allocateBy: allocateBy.length > 0 ? allocateBy : ['tag:group', 'freespace'] }
}

function diskConfig(r: Reader): DiskInformerConfig {
  const metricType = r.str('metric_type')
  if (metricType !== 'freespace' && metricType !== 'reposize') {
    throw r.fail('metric_type', `invalid metric type "${metricType}": use freespace or reposize`)
  }
  return { metricTtlMs: r.dur('metric_ttl', 'positive'), metricType }
}

function tagsConfig(r: Reader): TagsInformerConfig {
  return { metricTtlMs: r.dur('metric_ttl', 'positive'), tags: r.map('tags') ?? {} }
}

function pinQueueConfig(r: Reader): PinQueueInformerConfig {
  return { metricTtlMs: r.dur('metric_ttl', 'positive'), weightBucketSize: r.int('weight_bucket_size', 0) }
}

function metricsConfig(r: Reader): MetricsConfig {
  return {
    enableStats: r.bool('enable_stats'),
    prometheusEndpoint: r.multiaddr('prometheus_endpoint'),
    reportingIntervalMs: r.dur('reporting_interval')
  }
}

function tracingConfig(r: Reader): TracingConfig {
  const enableTracing = r.bool('enable_tracing')
  const samplingProb = r.num('sampling_prob')
  if (enableTracing && samplingProb < 0) throw r.fail('sampling_prob', 'must not be negative')
  return {
    enableTracing,
    jaegerAgentEndpoint: r.multiaddr('jaeger_agent_endpoint'),
    samplingProb,
    serviceName: r.str('service_name')
  }
}

// ---------------------------------------------------------------------------
// parsing

export interface ParseServiceConfigOptions {
  /** Absolute (or relative to cwd) configuration folder: relative paths resolve against it. */
  folder: string
  /** Environment for overrides; `processEnv()` in production, `{}` to ignore it. */
  env?: Env
  /** Label for error messages (file path or URL); default `<folder>/service.json`. */
  label?: string
  /** The `source` URL this JSON came from, if any. */
  source?: string | null
}

/** Which datastore section a JSON document selects. */
function chooseDatastore(raw: JsonObject, label: string): DatastoreName {
  const ours = (['sqlite', 'leveldb'] as const).filter((k) => isPresent(raw, 'datastore', k))
  if (ours.length > 1) {
    throw new ConfigError(`${label}: datastore: only one of sqlite or leveldb may be configured`)
  }
  const [chosen] = ours
  if (chosen !== undefined) return chosen
  const theirs = UPSTREAM_ONLY_DATASTORES.filter((k) => isPresent(raw, 'datastore', k))
  if (theirs.length > 0) {
    log.warn(
      `${label}: datastore.${theirs.join('/')} is not supported by this implementation; using datastore.sqlite ` +
        '(the pinset is synced again from the cluster)'
    )
  }
  return 'sqlite'
}

/**
 * Turns a parsed `service.json` document into a typed `ServiceConfig`:
 * fills missing keys with defaults, applies environment overrides, validates.
 * @throws ConfigError naming the file, key and problem.
 * @throws UnsupportedError when the document configures raft consensus.
 */
export function parseServiceConfig(rawInput: unknown, opts: ParseServiceConfigOptions): ServiceConfig {
  const folder = resolve(opts.folder)
  const label = opts.label ?? join(folder, SERVICE_FILE)
  const env = opts.env ?? {}
  if (!isPlainObject(rawInput)) throw new ConfigError(`${label}: must be a JSON object`)
  const raw = rawInput
  const ctx: NormalizeContext = { label, origin: new Map() }

  if (!isPlainObject(raw.cluster)) {
    throw new ConfigError(`${label}: cluster: section missing (run "ipfs-cluster service init" to create one)`)
  }

  // consensus: crdt only
  const hasCrdt = isPresent(raw, 'consensus', 'crdt')
  const hasRaft = isPresent(raw, 'consensus', 'raft')
  if (hasRaft && hasCrdt) {
    throw new ConfigError(`${label}: consensus: both crdt and raft are configured; keep only crdt`)
  }
  if (hasRaft) throw new UnsupportedError(`${label}: consensus.raft: ${RAFT_UNSUPPORTED}`)

  const datastore = chooseDatastore(raw, label)

  // normalize + env, per section
  const cluster = normalize(CLUSTER_FIELDS, raw.cluster, 'cluster', ctx)
  applyEnv(CLUSTER_FIELDS, cluster, 'cluster', 'cluster', env, ctx)
  const sections = new Map<string, JsonObject>()
  const present = new Set<string>()
  for (const [group, comps] of Object.entries(SECTION_FIELDS)) {
    for (const [key, fields] of Object.entries(comps)) {
      if (group === 'datastore' && key !== datastore) continue
      const path = `${group}.${key}`
      const isThere = isPresent(raw, group, key)
      if (isThere) present.add(path)
      const obj = normalize(fields, isThere ? groupOf(raw, group)[key] : undefined, path, ctx)
      applyEnv(fields, obj, `cluster_${key}`, path, env, ctx)
      sections.set(path, normalize(fields, obj, path, ctx))
    }
  }
  // re-check the types of env-provided values (durations, etc.)
  const clusterN = normalize(CLUSTER_FIELDS, cluster, 'cluster', ctx)

  const rd = (path: string): Reader => new Reader(sections.get(path) ?? {}, path, ctx)
  const onlyIfPresent = <T>(path: string, f: (r: Reader) => T): T | null => (present.has(path) ? f(rd(path)) : null)

  const dsReader = rd(`datastore.${datastore}`)
  const dsConfig: DatastoreConfig = {
    backend: datastore,
    folder: dsReader.path_('folder', folder) || resolve(folder, datastore)
  }
  if (datastore === 'leveldb') {
    const o = dsReader.o.leveldb_options
    dsConfig.leveldbOptions = isPlainObject(o) ? o : {}
  }

  const config: ServiceConfig = {
    folder,
    source: opts.source ?? null,
    cluster: clusterConfig(new Reader(clusterN, 'cluster', ctx), folder),
    consensus: { crdt: crdtConfig(rd('consensus.crdt')) },
    api: {
      restapi: onlyIfPresent('api.restapi', (r) => restApiConfig(r, folder, ['/ip4/127.0.0.1/tcp/9094'])),
      pinsvcapi: onlyIfPresent('api.pinsvcapi', (r) => restApiConfig(r, folder, ['/ip4/127.0.0.1/tcp/9097'])),
      ipfsproxy: onlyIfPresent('api.ipfsproxy', (r) => ipfsProxyConfig(r, folder))
    },
    ipfsConnector: { ipfshttp: ipfsHttpConfig(rd('ipfs_connector.ipfshttp')) },
    pinTracker: { stateless: statelessConfig(rd('pin_tracker.stateless')) },
    monitor: { pubsubmon: pubsubMonConfig(rd('monitor.pubsubmon')) },
    allocator: { balanced: balancedConfig(rd('allocator.balanced')) },
    informer: {
      disk: onlyIfPresent('informer.disk', diskConfig),
      tags: onlyIfPresent('informer.tags', tagsConfig),
      pinqueue: onlyIfPresent('informer.pinqueue', pinQueueConfig)
    },
    observations: {
      metrics: metricsConfig(rd('observations.metrics')),
      tracing: tracingConfig(rd('observations.tracing'))
    },
    datastore: dsConfig,
    raw,
    json: {}
  }

  // effective JSON in upstream's layout; optional components only when present
  const json: JsonObject = { cluster: toJson(CLUSTER_FIELDS, clusterN) }
  for (const [group, comps] of Object.entries(SECTION_FIELDS)) {
    const out: JsonObject = {}
    for (const [key, fields] of Object.entries(comps)) {
      const path = `${group}.${key}`
      const obj = sections.get(path)
      if (obj === undefined) continue
      if ((group === 'api' || group === 'informer') && !present.has(path)) continue
      out[key] = toJson(fields, obj)
    }
    if (Object.keys(out).length > 0) json[group] = out
  }
  config.json = json
  return config
}

// ---------------------------------------------------------------------------
// loading and saving

export interface LoadServiceConfigOptions {
  /** Environment for overrides (`processEnv()` in production). */
  env?: Env
  signal?: AbortSignal
}

/**
 * Fetches a remote configuration (upstream `LoadJSONFromHTTPSource`).
 * @throws ConfigSourceError when it cannot be fetched or answers >= 300.
 * @throws ConfigError when the body is not JSON or itself points to a source.
 */
export async function fetchSourceConfig(url: string, options: { signal?: AbortSignal } = {}): Promise<JsonObject> {
  if (!/^https?:\/\//i.test(url)) {
    throw new ConfigError(`source: "${url}" is not an http(s) URL`)
  }
  log.info(`loading configuration from ${url}`)
  let res: Response
  try {
    res = await fetch(url, { signal: options.signal })
  } catch (err) {
    throw new ConfigSourceError(`could not fetch configuration from source: ${url}: ${(err as Error).message}`, {
      cause: err
    })
  }
  const body = await res.text()
  if (res.status >= 300) {
    throw new ConfigSourceError(`could not fetch configuration from source: ${url}: unsuccessful request (${res.status}): ${body.slice(0, 512)}`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(body)
  } catch (err) {
    throw new ConfigError(`${url}: invalid JSON: ${(err as Error).message}`)
  }
  if (!isPlainObject(doc)) throw new ConfigError(`${url}: must be a JSON object`)
  if (typeof doc.source === 'string' && doc.source !== '') {
    throw new ConfigError(`${url}: a sourced configuration cannot point to another source`)
  }
  return doc
}

/** Reads and parses `<folder>/service.json` without following `source`. */
export async function readServiceJson(folder: string): Promise<JsonObject> {
  const path = join(resolve(folder), SERVICE_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new ConfigError(`${path}: not found (run "ipfs-cluster service init" first)`, { cause: err })
    }
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`, { cause: err })
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${path}: invalid JSON: ${(err as Error).message}`)
  }
  if (!isPlainObject(doc)) throw new ConfigError(`${path}: must be a JSON object`)
  return doc
}

/**
 * Loads `<folder>/service.json` (following `{"source": url}`), fills missing
 * keys with defaults, applies environment overrides and validates.
 * @throws ConfigError, ConfigSourceError, UnsupportedError (raft).
 */
export async function loadServiceConfig(folder: string, options: LoadServiceConfigOptions = {}): Promise<ServiceConfig> {
  const abs = resolve(folder)
  let doc = await readServiceJson(abs)
  let label = join(abs, SERVICE_FILE)
  let source: string | null = null
  if (doc.source !== undefined && doc.source !== '') {
    if (typeof doc.source !== 'string') throw new ConfigError(`${label}: source: must be a URL string`)
    source = doc.source
    doc = await fetchSourceConfig(source, options)
    label = source
  }
  return parseServiceConfig(doc, { folder: abs, env: options.env, label, source })
}

/**
 * Writes `<folder>/service.json` as pretty JSON (2-space indent, like
 * upstream `DefaultJSONMarshal`), mode 0600, creating the folder (0700).
 */
export async function saveServiceConfig(folder: string, json: JsonObject): Promise<void> {
  const abs = resolve(folder)
  await mkdir(abs, { recursive: true, mode: 0o700 })
  await writeFile(join(abs, SERVICE_FILE), JSON.stringify(json, null, 2), { mode: 0o600 })
}

// ---------------------------------------------------------------------------
// init

export interface DefaultServiceConfigOptions {
  /** Default crdt; raft throws UnsupportedError. */
  consensus?: ConsensusName
  /** Default sqlite. */
  datastore?: DatastoreName
  /** Pick free random ports for cluster, restapi, pinsvcapi and ipfsproxy listeners (`--randomports`). */
  randomPorts?: boolean
  /** Hex secret ("" = no private network); wins over CLUSTER_SECRET. Default: random 32 bytes. */
  secret?: string
  /** Default: the hostname. CLUSTER_PEERNAME still overrides it, as upstream. */
  peerName?: string
  /** Environment overrides applied like upstream's init (`CLUSTER_*`). */
  env?: Env
}

function checkChoices(consensus: string, datastore: string): void {
  if (consensus === 'raft') throw new UnsupportedError(RAFT_UNSUPPORTED)
  if (consensus !== 'crdt') throw new ConfigError(`consensus "${consensus}": must be crdt`)
  if (UPSTREAM_ONLY_DATASTORES.includes(datastore)) {
    throw new UnsupportedError(`datastore ${datastore} is not supported: use sqlite (default) or leveldb`)
  }
  if (datastore !== 'sqlite' && datastore !== 'leveldb') {
    throw new ConfigError(`datastore "${datastore}": must be sqlite or leveldb`)
  }
}

/**
 * The `service.json` document upstream's `init` would write: every
 * section with defaults, only the chosen consensus and datastore sections,
 * with random ports, environment overrides and the given secret applied
 * (in that order, as upstream).
 * @throws UnsupportedError for raft or an upstream-only datastore.
 * @throws ConfigError on an invalid secret or environment value.
 */
export async function defaultServiceConfig(opts: DefaultServiceConfigOptions = {}): Promise<JsonObject> {
  const consensus = opts.consensus ?? 'crdt'
  const datastore = opts.datastore ?? 'sqlite'
  checkChoices(consensus, datastore)
  const env = opts.env ?? {}
  const label = 'service.json'
  const ctx: NormalizeContext = { label, origin: new Map() }

  const cluster = normalize(CLUSTER_FIELDS, {}, 'cluster', ctx)
  cluster.peername = opts.peerName ?? hostname()
  cluster.secret = generateClusterSecret()

  const sections = new Map<string, { group: string; key: string; obj: JsonObject }>()
  for (const [group, comps] of Object.entries(SECTION_FIELDS)) {
    for (const [key, fields] of Object.entries(comps)) {
      if (group === 'datastore' && key !== datastore) continue
      sections.set(`${group}.${key}`, { group, key, obj: normalize(fields, {}, `${group}.${key}`, ctx) })
    }
  }

  if (opts.randomPorts === true) {
    const holders: Array<Server | UdpSocket> = []
    try {
      cluster.listen_multiaddress = await randomizePorts(cluster.listen_multiaddress as string[], holders)
      for (const [path, key] of [
        ['api.restapi', 'http_listen_multiaddress'],
        ['api.pinsvcapi', 'http_listen_multiaddress'],
        ['api.ipfsproxy', 'listen_multiaddress']
      ] as const) {
        const s = sections.get(path)
        if (s !== undefined) s.obj[key] = await randomizePorts(s.obj[key] as string[], holders)
      }
    } finally {
      await closeAll(holders)
    }
  }

  applyEnv(CLUSTER_FIELDS, cluster, 'cluster', 'cluster', env, ctx)
  for (const { group, key, obj } of sections.values()) {
    applyEnv(fieldsOf(group, key), obj, `cluster_${key}`, `${group}.${key}`, env, ctx)
  }

  if (opts.secret !== undefined) {
    try {
      decodeClusterSecret(opts.secret)
    } catch (err) {
      throw new ConfigError(`secret: ${(err as Error).message}`)
    }
    cluster.secret = opts.secret
  }

  const json: JsonObject = { cluster: toJson(CLUSTER_FIELDS, normalize(CLUSTER_FIELDS, cluster, 'cluster', ctx)) }
  for (const { group, key, obj } of sections.values()) {
    const fields = fieldsOf(group, key)
    const g = (json[group] as JsonObject | undefined) ?? {}
    g[key] = toJson(fields, normalize(fields, obj, `${group}.${key}`, ctx))
    json[group] = g
  }
  // validate the result as the daemon will
  parseServiceConfig(json, { folder: '.', label, env: {} })
  return json
}

function fieldsOf(group: string, key: string) {
  const comps = SECTION_FIELDS[group as SectionGroup] as Record<string, typeof CLUSTER_FIELDS>
  const f = comps[key]
  if (f === undefined) throw new Error(`unknown section ${group}.${key}`)
  return f
}

async function listenTcp(host: string | undefined): Promise<{ port: number; holder: Server }> {
  const srv = createServer()
  return await new Promise((res, rej) => {
    srv.once('error', rej)
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const a = srv.address()
      res({ port: typeof a === 'object' && a !== null ? a.port : 0, holder: srv })
    })
  })
}

async function listenUdp(host: string | undefined, v6: boolean): Promise<{ port: number; holder: UdpSocket }> {
  const sock = createSocket(v6 ? 'udp6' : 'udp4')
  return await new Promise((res, rej) => {
    sock.once('error', rej)
    sock.bind(0, host, () => res({ port: sock.address().port, holder: sock }))
  })
}

async function closeAll(holders: Array<Server | UdpSocket>): Promise<void> {
  await Promise.all(
    holders.map(
      (h) =>
        new Promise<void>((res) => {
          h.close(() => res())
        })
    )
  )
}

/**
 * Replaces every `/tcp/<port>` and `/udp/<port>` with a free port, found by
 * binding port 0 on the preceding IP (upstream `cmdutils.RandomizePorts`).
 * Sockets stay open in `holders` so that every port chosen is distinct.
 */
export async function randomizePorts(addrs: string[], holders: Array<Server | UdpSocket>): Promise<string[]> {
  const out: string[] = []
  for (const a of addrs) {
    if (a.startsWith('/unix/')) {
      out.push(a)
      continue
    }
    const comps = multiaddr(a).getComponents()
    let prev: { name: string; value?: string } | undefined
    let s = ''
    for (const c of comps) {
      let value = c.value
      if (c.name === 'tcp' || c.name === 'udp') {
        const host = prev?.name === 'ip4' || prev?.name === 'ip6' ? prev.value : undefined
        const got = c.name === 'tcp' ? await listenTcp(host) : await listenUdp(host, prev?.name === 'ip6')
        holders.push(got.holder)
        value = String(got.port)
      }
      s += `/${c.name}${value === undefined ? '' : `/${value}`}`
      prev = c
    }
    out.push(s)
  }
  return out
}

/**
 * `service init --peers`: sets `consensus.crdt.trusted_peers` to the peer IDs
 * of the given `/p2p/` multiaddrs (only those; a peer always trusts itself,
 * as upstream) and returns the multiaddrs to write to the peerstore file.
 * @throws ConfigError on a multiaddr that does not parse or lacks `/p2p/<id>`.
 */
export function applyInitPeers(json: JsonObject, multiaddrs: string[]): string[] {
  const lines: string[] = []
  const ids: string[] = []
  for (const entry of multiaddrs) {
    const a = entry.trim()
    if (a === '') continue
    let id: string | undefined
    try {
      const comps = multiaddr(a).getComponents()
      id = comps.findLast((c) => c.name === 'p2p' || c.name === 'ipfs')?.value
    } catch (err) {
      throw new ConfigError(`--peers: invalid multiaddr "${a}": ${(err as Error).message}`)
    }
    if (id === undefined) throw new ConfigError(`--peers: "${a}" has no /p2p/<peer id>`)
    try {
      peerIdFromString(id)
    } catch {
      throw new ConfigError(`--peers: "${a}": invalid peer ID "${id}"`)
    }
    if (!ids.includes(id)) ids.push(id)
    lines.push(a)
  }
  const consensus: JsonObject = isPlainObject(json.consensus) ? json.consensus : {}
  const crdt: JsonObject = isPlainObject(consensus.crdt) ? consensus.crdt : {}
  if (ids.length > 0) {
    crdt.trusted_peers = ids as Json[]
    consensus.crdt = crdt
    json.consensus = consensus
  }
  return lines
}

/**
 * A typed `api.restapi` section with upstream defaults and `CLUSTER_RESTAPI_*`
 * overrides applied, for callers that run the REST API without a restapi
 * section in service.json (ipfs-cluster-follow's unix-socket API).
 * @throws ConfigError on an invalid environment value.
 */
export function defaultRestApiConfig(folder: string, env: Env = {}): RestApiConfig {
  const abs = resolve(folder)
  const ctx: NormalizeContext = { label: 'api.restapi defaults', origin: new Map() }
  const fields = SECTION_FIELDS.api.restapi
  const obj = normalize(fields, {}, 'api.restapi', ctx)
  applyEnv(fields, obj, 'cluster_restapi', 'api.restapi', env, ctx)
  return restApiConfig(new Reader(normalize(fields, obj, 'api.restapi', ctx), 'api.restapi', ctx), abs, [
    '/ip4/127.0.0.1/tcp/9094'
  ])
}
