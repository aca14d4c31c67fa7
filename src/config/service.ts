/**
 * `service.json`: defaults (what `service init` writes), loading (with
 * `{"source": url}` indirection, defaults for missing keys, environment
 * overrides and validation) and saving.
 * Mirrors upstream `config/config.go` (Manager), `cluster_config.go`, each
 * component's `config.go` and `cmd/ipfs-cluster-service/main.go` (init).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage, UnsupportedError } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'
import { candidatePort, ephemeralLow } from '../runtime/ports.ts'
import type { Env } from './env.ts'
import { ConfigError, ConfigSourceError } from './errors.ts'
import { applyEnv, type FieldSpec, isPlainObject, type Json, type JsonObject, type NormalizeContext, normalize, toJson } from './schema.ts'
import { CLUSTER, decodeClusterSecret, OPTIONAL_GROUPS, RESTAPI, SECTIONS, type SectionGroup } from './sections.ts'
import { readSection, type Section } from './typed.ts'
import type { DatastoreConfig, RestApiConfig, ServiceConfig } from './types.ts'

export { decodeClusterSecret } from './sections.ts'
export { multiaddrProblem } from './typed.ts'

const log = getLogger('config')

/** Name of the configuration file inside the configuration folder. */
export const SERVICE_FILE = 'service.json'

/** Consensus components upstream knows (the `consensus.<name>` section). */
export type ConsensusName = 'crdt' | 'raft'
/** Datastore backends we implement (upstream's pebble/badger/badger3 are not). */
export type DatastoreName = keyof typeof SECTIONS.datastore

const DATASTORES = Object.keys(SECTIONS.datastore) as DatastoreName[]

const UPSTREAM_ONLY_DATASTORES = ['pebble', 'badger', 'badger3']

// ---------------------------------------------------------------------------
// helpers

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
  const ours = DATASTORES.filter((k) => isPresent(raw, 'datastore', k))
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
 * The consensus is the one whose section is present (crdt when none is);
 * `consensus.raft` is null with crdt.
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

  // consensus: crdt (default) or raft, not both (upstream: "too many consensus components")
  const hasCrdt = isPresent(raw, 'consensus', 'crdt')
  const hasRaft = isPresent(raw, 'consensus', 'raft')
  if (hasRaft && hasCrdt) {
    throw new ConfigError(`${label}: consensus: both crdt and raft are configured; keep only one`)
  }
  const consensusName: ConsensusName = hasRaft ? 'raft' : 'crdt'

  const datastore = chooseDatastore(raw, label)
  const bundled = isPresent(raw, 'ipfs_connector', 'bundled')
  if (bundled && isPresent(raw, 'ipfs_connector', 'ipfshttp')) {
    throw new ConfigError(`${label}: ipfs_connector: both ipfshttp (kubo) and bundled are configured; keep only one`)
  }
  if (bundled && isPresent(raw, 'api', 'ipfsproxy')) {
    throw new ConfigError(`${label}: api.ipfsproxy relays kubo's RPC API, which ipfs_connector.bundled does not have; remove api.ipfsproxy or use kubo`)
  }

  // normalize + env, per section; normalized again to check the types of env-provided values
  const cluster = normalize(CLUSTER.fields, raw.cluster, 'cluster', ctx)
  applyEnv(CLUSTER.fields, cluster, 'cluster', 'cluster', env, ctx)
  const sections = new Map<string, JsonObject>()
  const present = new Set<string>()
  for (const [group, key, spec] of allSections()) {
    if (group === 'datastore' && key !== datastore) continue
    // crdt is read with its defaults in raft mode (never written); raft only in raft mode
    if (group === 'consensus' && key === 'raft' && consensusName !== 'raft') continue
    if (group === 'ipfs_connector' && key === 'bundled' && !bundled) continue
    const path = `${group}.${key}`
    const isThere = isPresent(raw, group, key)
    if (isThere) present.add(path)
    const obj = normalize(spec.fields, isThere ? groupOf(raw, group)[key] : undefined, path, ctx)
    applyEnv(spec.fields, obj, envPrefix(key), path, env, ctx)
    sections.set(path, normalize(spec.fields, obj, path, ctx))
  }
  const clusterN = normalize(CLUSTER.fields, cluster, 'cluster', ctx)

  const read = <T>(group: SectionGroup, key: string, spec: Section<readonly FieldSpec[], T>): T =>
    readSection(spec, sections.get(`${group}.${key}`) ?? {}, `${group}.${key}`, ctx, folder)
  const readIfPresent = <T>(group: SectionGroup, key: string, spec: Section<readonly FieldSpec[], T>): T | null =>
    present.has(`${group}.${key}`) ? read(group, key, spec) : null

  const s = SECTIONS
  const dsConfig: DatastoreConfig =
    datastore === 'leveldb'
      ? { backend: datastore, ...read('datastore', 'leveldb', s.datastore.leveldb) }
      : { backend: datastore, ...read('datastore', 'sqlite', s.datastore.sqlite) }

  const config: ServiceConfig = {
    folder,
    source: opts.source ?? null,
    cluster: readSection(CLUSTER, clusterN, 'cluster', ctx, folder),
    consensus: {
      crdt: read('consensus', 'crdt', s.consensus.crdt),
      raft: consensusName === 'raft' ? read('consensus', 'raft', s.consensus.raft) : null
    },
    api: {
      restapi: readIfPresent('api', 'restapi', s.api.restapi),
      pinsvcapi: readIfPresent('api', 'pinsvcapi', s.api.pinsvcapi),
      ipfsproxy: readIfPresent('api', 'ipfsproxy', s.api.ipfsproxy)
    },
    ipfsConnector: {
      ipfshttp: read('ipfs_connector', 'ipfshttp', s.ipfs_connector.ipfshttp),
      bundled: readIfPresent('ipfs_connector', 'bundled', s.ipfs_connector.bundled)
    },
    pinTracker: { stateless: read('pin_tracker', 'stateless', s.pin_tracker.stateless) },
    monitor: { pubsubmon: read('monitor', 'pubsubmon', s.monitor.pubsubmon) },
    allocator: { balanced: read('allocator', 'balanced', s.allocator.balanced) },
    informer: {
      disk: readIfPresent('informer', 'disk', s.informer.disk),
      tags: readIfPresent('informer', 'tags', s.informer.tags),
      pinqueue: readIfPresent('informer', 'pinqueue', s.informer.pinqueue)
    },
    observations: {
      metrics: read('observations', 'metrics', s.observations.metrics),
      tracing: read('observations', 'tracing', s.observations.tracing)
    },
    datastore: dsConfig,
    raw,
    json: {}
  }

  // effective JSON in upstream's layout; optional components only when present
  const json: JsonObject = { cluster: toJson(CLUSTER.fields, clusterN) }
  for (const [group, key, spec] of allSections()) {
    const path = `${group}.${key}`
    const obj = sections.get(path)
    if (obj === undefined) continue
    if (OPTIONAL_GROUPS.includes(group) && !present.has(path)) continue
    if (group === 'consensus' && key !== consensusName) continue
    // the bundled IPFS node replaces kubo: its section alone is written
    if (path === 'ipfs_connector.ipfshttp' && bundled) continue
    const out = (json[group] as JsonObject | undefined) ?? {}
    out[key] = toJson(spec.fields, obj)
    json[group] = out
  }
  config.json = json
  return config
}

/** envconfig prefix of a component section: `CLUSTER_<COMPONENT>_…` (upstream `ConfigKey()`). */
function envPrefix(component: string): string {
  return `cluster_${component}`
}

/** Every component section, in upstream's written order. */
function* allSections(): Generator<[SectionGroup, string, Section]> {
  for (const [group, comps] of Object.entries(SECTIONS) as [SectionGroup, Record<string, Section>][]) {
    for (const [key, spec] of Object.entries(comps)) yield [group, key, spec]
  }
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
    throw new ConfigSourceError(`could not fetch configuration from source: ${url}: ${errorMessage(err)}`, {
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
    throw new ConfigError(`${url}: invalid JSON: ${errorMessage(err)}`)
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
    throw new ConfigError(`${path}: cannot read: ${errorMessage(err)}`, { cause: err })
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${path}: invalid JSON: ${errorMessage(err)}`)
  }
  if (!isPlainObject(doc)) throw new ConfigError(`${path}: must be a JSON object`)
  return doc
}

/**
 * Loads `<folder>/service.json` (following `{"source": url}`), fills missing
 * keys with defaults, applies environment overrides and validates.
 * @throws ConfigError, ConfigSourceError.
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
  /** Default crdt. */
  consensus?: ConsensusName
  /** Default sqlite. */
  datastore?: DatastoreName
  /** `kubo` (default: section `ipfs_connector.ipfshttp`) or `bundled` (section `ipfs_connector.bundled`: an embedded IPFS node). */
  ipfs?: 'kubo' | 'bundled'
  /** Pick free random ports for the listeners declared `randomPort` (cluster, restapi, pinsvcapi, ipfsproxy; `--randomports`). */
  randomPorts?: boolean
  /** Hex secret ("" = no private network); wins over CLUSTER_SECRET. Default: random 32 bytes. */
  secret?: string
  /** Default: the hostname. CLUSTER_PEERNAME still overrides it, as upstream. */
  peerName?: string
  /** Environment overrides applied like upstream's init (`CLUSTER_*`). */
  env?: Env
}

function checkChoices(consensus: string, datastore: string): void {
  if (consensus !== 'crdt' && consensus !== 'raft') throw new ConfigError(`consensus "${consensus}": must be crdt or raft`)
  if (UPSTREAM_ONLY_DATASTORES.includes(datastore)) {
    throw new UnsupportedError(`datastore ${datastore} is not supported: use sqlite (default) or leveldb`)
  }
  if (!(DATASTORES as string[]).includes(datastore)) {
    throw new ConfigError(`datastore "${datastore}": must be sqlite or leveldb`)
  }
}

/**
 * The `service.json` document upstream's `init` would write: every
 * section with defaults, only the chosen consensus and datastore sections,
 * with random ports, environment overrides and the given secret applied
 * (in that order, as upstream).
 * @throws UnsupportedError for an upstream-only datastore.
 * @throws ConfigError on an invalid secret or environment value.
 */
export async function defaultServiceConfig(opts: DefaultServiceConfigOptions = {}): Promise<JsonObject> {
  const consensus = opts.consensus ?? 'crdt'
  const datastore = opts.datastore ?? 'sqlite'
  checkChoices(consensus, datastore)
  const env = opts.env ?? {}
  const label = 'service.json'
  const ctx: NormalizeContext = { label, origin: new Map() }

  const cluster = normalize(CLUSTER.fields, {}, 'cluster', ctx)
  cluster.peername = opts.peerName ?? hostname()
  cluster.secret = generateClusterSecret()

  const sections = new Map<string, { group: string; key: string; spec: Section; obj: JsonObject }>()
  const ipfs = opts.ipfs ?? 'kubo'
  if (ipfs !== 'kubo' && ipfs !== 'bundled') throw new ConfigError(`ipfs "${String(ipfs)}": must be kubo or bundled`)
  for (const [group, key, spec] of allSections()) {
    if (group === 'datastore' && key !== datastore) continue
    if (group === 'consensus' && key !== consensus) continue
    if (group === 'ipfs_connector' && key !== (ipfs === 'bundled' ? 'bundled' : 'ipfshttp')) continue
    // the proxy relays kubo's RPC API: nothing to relay to with the bundled node
    if (ipfs === 'bundled' && group === 'api' && key === 'ipfsproxy') continue
    sections.set(`${group}.${key}`, { group, key, spec, obj: normalize(spec.fields, {}, `${group}.${key}`, ctx) })
  }

  if (opts.randomPorts === true) {
    const holders: Array<Server | UdpSocket> = []
    try {
      const listeners: Array<{ spec: Section; obj: JsonObject }> = [{ spec: CLUSTER, obj: cluster }, ...sections.values()]
      for (const { spec, obj } of listeners) {
        for (const f of spec.fields) {
          if (f.randomPort !== true) continue
          const v = obj[f.key]
          if (typeof v === 'string') obj[f.key] = v === '' ? v : ((await randomizePorts([v], holders))[0] ?? v)
          else obj[f.key] = await randomizePorts(v as string[], holders)
        }
      }
    } finally {
      await closeAll(holders)
    }
  }

  applyEnv(CLUSTER.fields, cluster, 'cluster', 'cluster', env, ctx)
  for (const { group, key, spec, obj } of sections.values()) {
    applyEnv(spec.fields, obj, envPrefix(key), `${group}.${key}`, env, ctx)
  }

  if (opts.secret !== undefined) {
    try {
      decodeClusterSecret(opts.secret)
    } catch (err) {
      throw new ConfigError(`secret: ${errorMessage(err)}`)
    }
    cluster.secret = opts.secret
  }

  const json: JsonObject = { cluster: toJson(CLUSTER.fields, normalize(CLUSTER.fields, cluster, 'cluster', ctx)) }
  for (const { group, key, spec, obj } of sections.values()) {
    const g = (json[group] as JsonObject | undefined) ?? {}
    g[key] = toJson(spec.fields, normalize(spec.fields, obj, `${group}.${key}`, ctx))
    json[group] = g
  }
  // validate the result as the daemon will
  parseServiceConfig(json, { folder: '.', label, env: {} })
  return json
}

function tryListen(srv: Server, port: number, host: string | undefined): Promise<number | undefined> {
  return new Promise((res) => {
    const onError = (): void => res(undefined)
    srv.once('error', onError)
    srv.listen({ port, host, exclusive: true }, () => {
      srv.off('error', onError)
      const a = srv.address()
      res(typeof a === 'object' && a !== null ? a.port : undefined)
    })
  })
}

/**
 * A free TCP port, held open by the returned server until `closeAll`.
 * Unlike upstream's `RandomizePorts` (port 0, so a port of the ephemeral
 * range), it first tries random ports between 10000 and the ephemeral range:
 * between `service init` and the daemon's start, an outgoing connection of
 * any process can take an ephemeral port, and the daemon then fails with
 * "port in use". Port 0 after 64 tries.
 */
async function listenTcp(host: string | undefined): Promise<{ port: number; holder: Server }> {
  const low = ephemeralLow()
  for (let i = 0; i < 64; i++) {
    const want = candidatePort(low)
    if (want === undefined) break
    const srv = createServer()
    const port = await tryListen(srv, want, host)
    if (port !== undefined) return { port, holder: srv }
  }
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
 * `service init --peers`: sets `consensus.crdt.trusted_peers` (or, with
 * raft, `consensus.raft.init_peerset`, as upstream) to the peer IDs
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
      throw new ConfigError(`--peers: invalid multiaddr "${a}": ${errorMessage(err)}`)
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
  if (ids.length > 0) {
    if (isPlainObject(consensus.raft)) {
      consensus.raft.init_peerset = ids as Json[]
    } else {
      const crdt: JsonObject = isPlainObject(consensus.crdt) ? consensus.crdt : {}
      crdt.trusted_peers = ids as Json[]
      consensus.crdt = crdt
    }
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
  const ctx: NormalizeContext = { label: 'api.restapi defaults', origin: new Map() }
  const obj = normalize(RESTAPI.fields, {}, 'api.restapi', ctx)
  applyEnv(RESTAPI.fields, obj, envPrefix('restapi'), 'api.restapi', env, ctx)
  return readSection(RESTAPI, normalize(RESTAPI.fields, obj, 'api.restapi', ctx), 'api.restapi', ctx, resolve(folder))
}
