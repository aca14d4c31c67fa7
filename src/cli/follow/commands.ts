/**
 * The commands of ipfs-cluster-follow (upstream
 * cmd/ipfs-cluster-follow/commands.go): list the configured clusters,
 * `info`, `init`, `run` and `list` for one cluster. The lines scripts
 * may read (info fields, list lines, error messages) keep upstream's
 * wording; the guidance texts are our own.
 *
 * Every command takes a `FollowIO` (where text goes, the environment) and
 * ends with a `FollowExit` carrying the exit code when it fails.
 */
import { guardProcess, runUntilSignal } from '../lifecycle.ts'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ApiError, RestClient } from '../../api/rest/client.ts'
import {
  type Env,
  defaultRestApiConfig,
  fetchSourceConfig,
  generateIdentity,
  type IpfsHttpConfig,
  loadIdentity,
  loadServiceConfig,
  parseServiceConfig,
  readServiceJson,
  type ServiceConfig,
  saveIdentity,
  saveServiceConfig
} from '../../config/index.ts'
import { CRDT_DEFAULTS } from '../../consensus/crdt/index.ts'
import { createOfflineConsensus } from '../../consensus/index.ts'
import { type DatastoreBackend, openDatastore } from '../../datastore/index.ts'
import { ClusterError, errorMessage, errorName } from '../../errors.ts'
import { IpfsHttpConnector } from '../../ipfsconn/ipfshttp/index.ts'
import { getLogger, setLogLevels, setLogReporters } from '../../observability/logging.ts'
import { acquireLock } from '../../runtime/lock.ts'
import { sdNotifyReady } from '../../runtime/sdnotify.ts'
import {
  apiAddress,
  configuredClusters,
  DEFAULT_GATEWAY,
  type FollowPaths,
  followPaths,
  formatPinLine,
  isHttpUrl,
  PROGRAM_NAME,
  socketMultiaddr,
  templateUrl
} from './paths.ts'

/** Where a command writes and what it reads from the environment. */
export interface FollowIO {
  stdout(s: string): void
  stderr(s: string): void
  env: Env
}

/** Ends a command with an exit code; `message` (if any) goes to stderr as `error: <message>`. */
export class FollowExit extends ClusterError {
  static override name = 'FollowExit'
  readonly code: number
  constructor(code: number, message = '') {
    super(message)
    this.code = code
  }
}

/** Upstream's deadline for IPFS to answer before `run` gives up, ms. */
export const WAIT_FOR_IPFS_MS = 2 * 60_000

const QUIET_SECRET = '0'.repeat(64)

function printFirstStart(io: FollowIO): void {
  io.stdout(`
No clusters configured yet!

To get started with ${PROGRAM_NAME}, see its help:

$ ${PROGRAM_NAME} --help                     - what it does, with examples
$ ${PROGRAM_NAME} <clusterName> --help       - the subcommands for one cluster's follower
$ ${PROGRAM_NAME} <clusterName> info --help  - the help of one subcommand ("info" here)
`)
}

function printNotInitialized(io: FollowIO, name: string): never {
  io.stdout(`
This cluster peer has not been initialized.

Try running "${PROGRAM_NAME} ${name} init <config-url>" first.
`)
  throw new FollowExit(1)
}

/** Silences component logs so they do not pollute `info`/`list` output (upstream sets "critical"). */
function quietLogs(): void {
  setLogLevels('error')
  setLogReporters([])
}

/** `ipfs-cluster-follow` without arguments: the configured clusters under `base`. */
export function listClusters(io: FollowIO, base: string): void {
  const names = configuredClusters(base)
  if (names.length === 0) {
    printFirstStart(io)
    return
  }
  io.stdout(`Configurations found for ${names.length} follower peers. For info and help, try running:\n\n`)
  for (const n of names) io.stdout(`${PROGRAM_NAME} "${n}"\n`)
  io.stdout(`\nTip: "${PROGRAM_NAME} --help" for help and examples.\n`)
}

/**
 * The ipfshttp settings from defaults and `CLUSTER_IPFSHTTP_*` only: what
 * upstream `cmdutils.WaitForIPFS` uses before the (maybe IPFS-hosted)
 * configuration can be read, and what `info` falls back to.
 */
export function defaultIpfsHttpConfig(folder: string, env: Env): IpfsHttpConfig {
  return parseServiceConfig({ cluster: { secret: QUIET_SECRET } }, { folder, env }).ipfsConnector.ipfshttp
}

async function ipfsOnline(cfg: IpfsHttpConfig, timeoutMs: number): Promise<boolean> {
  const connector = new IpfsHttpConnector({ ...cfg, connectSwarmsDelayMs: 0, ipfsRequestTimeoutMs: timeoutMs })
  try {
    await connector.id({ signal: AbortSignal.timeout(timeoutMs) })
    return true
  } catch {
    return false
  }
}

/** `<name> info` (also `<name>` alone, which then prints the help too). */
export async function info(io: FollowIO, base: string, name: string): Promise<void> {
  quietLogs()
  const paths = followPaths(base, name)
  if (!existsSync(paths.folder)) printNotInitialized(io, name)
  let ipfsCfg: IpfsHttpConfig
  let url: string
  try {
    const cfg = await loadServiceConfig(paths.folder, { env: io.env, signal: AbortSignal.timeout(30_000) })
    url = `Available (${cfg.source ?? ''})`
    ipfsCfg = cfg.ipfsConnector.ipfshttp
  } catch (err) {
    if (errorName(err) !== 'ConfigSourceError') {
      throw new FollowExit(1, `reading the configurations in ${paths.folder}: ${errorMessage(err)}`)
    }
    const raw = await readServiceJson(paths.folder).catch(() => ({}) as Record<string, unknown>)
    url = `failed retrieving configuration source (${typeof raw.source === 'string' ? raw.source : ''})`
    ipfsCfg = defaultIpfsHttpConfig(paths.folder, io.env)
  }
  io.stdout(`Information about follower peer for Cluster "${name}":\n\n`)
  io.stdout(`Config folder: ${paths.folder}\n`)
  io.stdout(`Config source URL: ${url}\n`)
  let peerOnline = false
  try {
    await new RestClient({ host: apiAddress(paths.folder, io.env), timeoutMs: 10_000 }).version()
    peerOnline = true
  } catch {
    peerOnline = false
  }
  io.stdout(`Cluster Peer online: ${peerOnline}\n`)
  io.stdout(`IPFS peer online: ${await ipfsOnline(ipfsCfg, 10_000)}\n`)
}

/**
 * `<name> init <url>`: writes identity.json and `{"source": url}`.
 * @param ignoreReinit `run --init`: an existing folder is kept (with a note) instead of failing.
 * @throws FollowExit(1) when the folder exists (and not `ignoreReinit`).
 */
export async function initCluster(
  io: FollowIO,
  base: string,
  name: string,
  value: string,
  opts: { ignoreReinit?: boolean; gateway?: string } = {}
): Promise<void> {
  const paths = followPaths(base, name)
  if (existsSync(paths.folder)) {
    if (opts.ignoreReinit === true) {
      io.stdout('Configuration for this cluster already exists. Skipping initialization.\n')
      io.stdout(`If you wish to re-initialize, simply delete ${paths.folder}\n\n`)
      return
    }
    io.stderr('Configuration for this cluster already exists.\n')
    io.stderr(`Please delete ${paths.folder} if you wish to re-initialize.\n`)
    throw new FollowExit(1)
  }
  const gw = opts.gateway ?? (io.env.IPFS_GATEWAY !== undefined && io.env.IPFS_GATEWAY !== '' ? io.env.IPFS_GATEWAY : DEFAULT_GATEWAY)
  if (!isHttpUrl(value)) {
    io.stdout(`${value} will be assumed to be an DNSLink-powered address: /ipns/${value}.\n`)
    io.stdout(`It will be resolved using the local IPFS daemon's gateway (${gw}).\n`)
    io.stdout('If this is not the case, specify the full url starting with http:// or https://.\n')
    io.stdout('(You can override the gateway URL by setting IPFS_GATEWAY)\n\n')
  }
  const url = templateUrl(value, gw)
  let identity = await generateIdentity()
  if (io.env.CLUSTER_ID !== undefined || io.env.CLUSTER_PRIVATEKEY !== undefined) {
    // upstream applies CLUSTER_ID / CLUSTER_PRIVATEKEY to the new identity
    await saveIdentity(paths.folder, identity)
    identity = await loadIdentity(paths.folder, io.env)
  }
  await saveIdentity(paths.folder, identity)
  io.stdout(`Identity written to ${paths.identityPath}.\n`)
  await saveServiceConfig(paths.folder, { source: url })
  io.stdout(`Configuration written to ${paths.configPath}.\n`)
  io.stdout(`Cluster "${name}" follower peer initialized.\n\n`)
  io.stdout(`You can now use "${PROGRAM_NAME} ${name} run" to start a follower peer for this cluster.\n`)
  io.stdout('(Remember to start your IPFS daemon before)\n')
}

/**
 * Polls IPFS `id` every second until it answers (upstream
 * `cmdutils.WaitForIPFS`), printing a note every 10 tries.
 * @throws FollowExit(1) "timed out waiting for IPFS to be available".
 */
export async function waitForIpfs(io: FollowIO, folder: string, deadlineMs = WAIT_FOR_IPFS_MS, options: { signal?: AbortSignal } = {}): Promise<void> {
  const cfg = defaultIpfsHttpConfig(folder, io.env)
  const end = Date.now() + deadlineMs
  for (let i = 0; Date.now() < end; i++) {
    if (options.signal?.aborted === true) break
    if (i % 10 === 0) io.stdout(`waiting for IPFS to become available on ${cfg.nodeMultiaddress}...\n`)
    if (await ipfsOnline(cfg, Math.max(1, Math.min(5_000, end - Date.now())))) return
    const left = end - Date.now()
    if (left <= 0) break
    await new Promise((r) => setTimeout(r, Math.min(1_000, left)))
  }
  throw new FollowExit(1, 'timed out waiting for IPFS to be available')
}

/**
 * Adapts a loaded configuration to a follower (upstream `runCmd`): follower
 * mode on, the REST API only on `<folder>/api-socket` (or
 * `CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS`), no pinning service API, no IPFS
 * proxy, metrics and tracing off. Mutates and returns `config`.
 */
export function followerConfig(config: ServiceConfig, env: Env): ServiceConfig {
  config.cluster.followerMode = true
  const rest = defaultRestApiConfig(config.folder, env)
  const fromEnv = env.CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS
  if (fromEnv === undefined || fromEnv === '') rest.httpListenMultiaddress = [socketMultiaddr(config.folder)]
  config.api = { restapi: rest, pinsvcapi: null, ipfsproxy: null }
  config.observations.metrics.enableStats = false
  config.observations.tracing.enableTracing = false
  return config
}

/** `<name> run [--init <url>]`: runs the follower peer until SIGINT/SIGTERM. */
export async function runFollower(io: FollowIO, base: string, name: string, opts: { init?: string; gateway?: string } = {}): Promise<void> {
  if (opts.init !== undefined && opts.init !== '') {
    await initCluster(io, base, name, opts.init, { ignoreReinit: true, gateway: opts.gateway })
  }
  const paths = followPaths(base, name)
  if (!existsSync(paths.folder)) printNotInitialized(io, name)
  io.stdout(`Starting the IPFS Cluster follower peer for "${name}".\nCTRL-C to stop it.\n`)
  io.stdout('Checking if IPFS is online (will wait for 2 minutes)...\n')
  await waitForIpfs(io, paths.folder)

  const level = io.env.IPFS_CLUSTER_LOG_LEVEL
  setLogLevels(level !== undefined && level !== '' ? level : 'info')
  // keep the REST API's request logs quiet: "list" calls it
  setLogLevels('restapilog:error')

  let config: ServiceConfig
  try {
    config = followerConfig(await loadServiceConfig(paths.folder, { env: io.env }), io.env)
  } catch (err) {
    throw new FollowExit(1, `reading the configurations in ${paths.folder}: ${errorMessage(err)}`)
  }
  const identity = await loadIdentity(paths.folder, io.env)
  const { startPeer } = await import('../../daemon.ts')
  guardProcess()
  const peer = await startPeer({ config, identity, followerMode: true })
  getLogger('cluster').info('** IPFS Cluster is READY **')
  await sdNotifyReady(io.env.NOTIFY_SOCKET)

  await runUntilSignal(peer, ['SIGINT', 'SIGTERM', 'SIGHUP'])
}

/** `<name> list`: the pinset with statuses from the running peer, else from the datastore ("offline"). */
export async function listPins(io: FollowIO, base: string, name: string): Promise<void> {
  quietLogs()
  const paths = followPaths(base, name)
  if (!existsSync(paths.folder)) printNotInitialized(io, name)
  try {
    await printStatusOnline(io, paths)
    return
  } catch (err) {
    if (err instanceof ApiError && err.code !== 0) {
      throw new FollowExit(1, `The Peer API seems to be running but returned with code ${err.code}: ${err.message}`)
    }
    if (!(err instanceof ApiError)) throw err
  }
  await printStatusOffline(io, paths)
}

async function printStatusOnline(io: FollowIO, paths: FollowPaths): Promise<void> {
  const client = new RestClient({ host: apiAddress(paths.folder, io.env) })
  let pid: string | undefined
  for await (const gpi of client.statusAll('', true)) {
    pid ??= Object.keys(gpi.peerMap)[0]
    const pi = pid !== undefined ? gpi.peerMap[pid] : undefined
    io.stdout(formatPinLine(pi?.status ?? '', gpi.cid.toString(), gpi.name, pi?.error ?? ''))
  }
}

interface OfflineStore {
  backend: DatastoreBackend
  folder: string
  namespace: string
  clusterName: string
}

/**
 * Finds the datastore of a stopped follower without needing its (maybe
 * IPFS-hosted) template: `sqlite/` or `leveldb/` in the folder (upstream
 * looks for `leveldb/` or `badger/`); when neither exists, the template is
 * read to learn a custom datastore folder. Undefined when the peer never
 * ran (no datastore yet: the pinset is empty).
 */
async function offlineStore(io: FollowIO, paths: FollowPaths): Promise<OfflineStore | undefined> {
  const found = (['sqlite', 'leveldb'] as const).filter((b) => existsSync(join(paths.folder, b)))
  if (found.length > 1) {
    throw new FollowExit(
      1,
      `found both sqlite (${join(paths.folder, 'sqlite')}) and leveldb (${join(paths.folder, 'leveldb')}) folders: cannot determine which to use in offline mode`
    )
  }
  let doc: Record<string, unknown> | undefined
  try {
    const raw = await readServiceJson(paths.folder)
    doc = typeof raw.source === 'string' && raw.source !== '' ? await fetchSourceConfig(raw.source, { signal: AbortSignal.timeout(5_000) }) : raw
  } catch {
    doc = undefined
  }
  let cfg: ServiceConfig | undefined
  try {
    if (doc !== undefined) cfg = parseServiceConfig(doc, { folder: paths.folder, env: io.env })
  } catch {
    cfg = undefined
  }
  const backend = found[0] ?? cfg?.datastore.backend
  if (backend === undefined || (found[0] === undefined && !existsSync(cfg!.datastore.folder))) return undefined
  return {
    backend,
    folder: found[0] !== undefined ? join(paths.folder, backend) : cfg!.datastore.folder,
    namespace: cfg?.consensus.crdt.datastoreNamespace ?? CRDT_DEFAULTS.namespace,
    clusterName: cfg?.consensus.crdt.clusterName ?? CRDT_DEFAULTS.clusterName
  }
}

async function printStatusOffline(io: FollowIO, paths: FollowPaths): Promise<void> {
  const store = await offlineStore(io, paths)
  if (store === undefined) return
  let release: () => void
  try {
    release = acquireLock(join(paths.folder, 'cluster.lock'))
  } catch (err) {
    throw new FollowExit(1, `error obtaining the pinset: the peer seems to be running but its API does not answer: ${errorMessage(err)}`)
  }
  try {
    const identity = await loadIdentity(paths.folder, io.env)
    const ds = await openDatastore({ backend: store.backend, folder: store.folder })
    const consensus = createOfflineConsensus(
      { peerId: identity.id, clusterName: store.clusterName, namespace: store.namespace },
      { datastore: ds.datastore }
    )
    try {
      await consensus.start()
      await consensus.ready()
      const state = await consensus.state()
      for await (const pin of state.list()) io.stdout(formatPinLine('offline', pin.cid.toString(), pin.name))
    } finally {
      await consensus.stop()
      await ds.close()
    }
  } catch (err) {
    if (err instanceof FollowExit) throw err
    throw new FollowExit(1, `error obtaining the pinset: ${errorMessage(err)}`)
  } finally {
    release()
  }
}
