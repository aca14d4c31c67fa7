import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  applyInitPeers,
  ConfigError,
  ConfigSourceError,
  defaultServiceConfig,
  generateIdentity,
  type JsonObject,
  loadServiceConfig,
  parseServiceConfig,
  resolveConfigFolder,
  saveServiceConfig
} from '../../../src/config/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfg-service-'))
  setLogReporters([{ log: () => {} }])
})
afterAll(async () => {
  setLogReporters(undefined)
  await rm(dir, { recursive: true, force: true })
})

let n = 0
async function folderWith(doc: unknown): Promise<string> {
  const f = join(dir, `f${n++}`)
  await saveServiceConfig(f, doc as JsonObject)
  return f
}

function obj(v: unknown): JsonObject {
  return v as JsonObject
}

describe('defaultServiceConfig', () => {
  test('writes upstream sections with upstream defaults, only crdt and the chosen datastore', async () => {
    const j = await defaultServiceConfig({})
    expect(Object.keys(j)).toEqual([
      'cluster',
      'consensus',
      'api',
      'ipfs_connector',
      'pin_tracker',
      'monitor',
      'allocator',
      'informer',
      'observations',
      'datastore'
    ])
    const cluster = obj(j.cluster)
    expect(cluster.secret).toMatch(/^[0-9a-f]{64}$/)
    expect(cluster.peername).toBe(hostname())
    expect(cluster.listen_multiaddress).toEqual(['/ip4/0.0.0.0/tcp/9096', '/ip4/0.0.0.0/udp/9096/quic'])
    expect(cluster.disable_repinning).toBe(true)
    expect(cluster.connection_manager).toEqual({ high_water: 400, low_water: 100, grace_period: '2m0s' })
    expect('follower_mode' in cluster).toBe(false)
    expect('peerstore_file' in cluster).toBe(false)
    expect(Object.keys(obj(j.consensus))).toEqual(['crdt'])
    expect(obj(j.consensus).crdt).toEqual({
      cluster_name: 'ipfs-cluster',
      trusted_peers: ['*'],
      batching: { max_batch_size: 0, max_batch_age: '0s' },
      repair_interval: '1h0m0s'
    })
    expect(Object.keys(obj(j.api))).toEqual(['ipfsproxy', 'pinsvcapi', 'restapi'])
    // config.Strings: a single address is written as a string
    expect(obj(obj(j.api).restapi).http_listen_multiaddress).toBe('/ip4/127.0.0.1/tcp/9094')
    expect(obj(obj(j.api).pinsvcapi).http_listen_multiaddress).toBe('/ip4/127.0.0.1/tcp/9097')
    expect(obj(obj(j.api).restapi).basic_auth_credentials).toBeNull()
    expect(obj(j.ipfs_connector).ipfshttp).toEqual({
      node_multiaddress: '/ip4/127.0.0.1/tcp/5001',
      connect_swarms_delay: '30s',
      ipfs_request_timeout: '5m0s',
      pin_timeout: '2m0s',
      unpin_timeout: '3h0m0s',
      repogc_timeout: '24h0m0s',
      informer_trigger_interval: 0
    })
    expect(obj(j.pin_tracker).stateless).toEqual({
      concurrent_pins: 10,
      priority_pin_max_age: '24h0m0s',
      priority_pin_max_retries: 5
    })
    expect(Object.keys(obj(j.informer))).toEqual(['disk', 'pinqueue', 'tags'])
    expect(obj(j.datastore)).toEqual({ sqlite: {} })
  })

  test('leveldb datastore section', async () => {
    const j = await defaultServiceConfig({ datastore: 'leveldb' })
    const ds = obj(j.datastore)
    expect(Object.keys(ds)).toEqual(['leveldb'])
    expect('folder' in obj(ds.leveldb)).toBe(false)
    expect(obj(obj(ds.leveldb).leveldb_options).no_sync).toBe(false)
  })

  test('upstream-only datastores are refused', async () => {
    await expect(defaultServiceConfig({ datastore: 'pebble' as 'sqlite' })).rejects.toMatchObject({
      name: 'UnsupportedError'
    })
  })

  test('--consensus raft writes upstream raft section (and no crdt section)', async () => {
    const j = await defaultServiceConfig({ consensus: 'raft' })
    const c = obj(j.consensus)
    expect(Object.keys(c)).toEqual(['raft'])
    // upstream v1.1.6 `init` output: data_folder and datastore_namespace omitted
    expect(obj(c.raft)).toEqual({
      init_peerset: [],
      wait_for_leader_timeout: '15s',
      network_timeout: '10s',
      commit_retries: 1,
      commit_retry_delay: '200ms',
      backups_rotate: 6,
      heartbeat_timeout: '1s',
      election_timeout: '1s',
      commit_timeout: '50ms',
      max_append_entries: 64,
      trailing_logs: 10240,
      snapshot_interval: '2m0s',
      snapshot_threshold: 8192,
      leader_lease_timeout: '500ms'
    })
  })

  test('secret and peername options; env applied before the explicit secret', async () => {
    const secret = 'ab'.repeat(32)
    const j = await defaultServiceConfig({
      secret,
      peerName: 'p1',
      env: { CLUSTER_SECRET: 'cd'.repeat(32), CLUSTER_STATELESS_CONCURRENTPINS: '3' }
    })
    expect(obj(j.cluster).secret).toBe(secret)
    expect(obj(j.cluster).peername).toBe('p1')
    expect(obj(obj(j.pin_tracker).stateless).concurrent_pins).toBe(3)
    await expect(defaultServiceConfig({ secret: 'xyz' })).rejects.toThrow('secret: must be 64 hex characters (32 bytes)')
    const noPsk = await defaultServiceConfig({ secret: '' })
    expect(obj(noPsk.cluster).secret).toBe('')
  })

  test('randomPorts picks distinct free ports for cluster, restapi, pinsvcapi and ipfsproxy', async () => {
    const j = await defaultServiceConfig({ randomPorts: true })
    const listen = obj(j.cluster).listen_multiaddress as string[]
    const api = obj(j.api)
    const addrs = [
      ...listen,
      obj(api.restapi).http_listen_multiaddress as string,
      obj(api.pinsvcapi).http_listen_multiaddress as string,
      obj(api.ipfsproxy).listen_multiaddress as string
    ]
    expect(listen[0]).toMatch(/^\/ip4\/0\.0\.0\.0\/tcp\/\d+$/)
    expect(listen[1]).toMatch(/^\/ip4\/0\.0\.0\.0\/udp\/\d+\/quic$/)
    const ports = addrs.map((a) => Number(/\/(?:tcp|udp)\/(\d+)/.exec(a)?.[1]))
    for (const p of ports) {
      expect(p).toBeGreaterThan(0)
      expect([9094, 9095, 9096, 9097]).not.toContain(p)
    }
    const tcpPorts = addrs.filter((a) => a.includes('/tcp/')).map((a) => /\/tcp\/(\d+)/.exec(a)?.[1])
    expect(new Set(tcpPorts).size).toBe(tcpPorts.length)
  })
})

describe('save and load', () => {
  test('defaults round-trip through service.json (2-space JSON)', async () => {
    const j = await defaultServiceConfig({ peerName: 'roundtrip' })
    const f = await folderWith(j)
    const text = await readFile(join(f, 'service.json'), 'utf8')
    expect(text).toBe(JSON.stringify(j, null, 2))
    expect(text.split('\n')[1]).toBe('  "cluster": {')
    const c = await loadServiceConfig(f, { env: {} })
    expect(c.json).toEqual(j)
    expect(c.raw).toEqual(j)
    expect(c.source).toBeNull()
    expect(c.folder).toBe(f)
    expect(c.cluster.peername).toBe('roundtrip')
    expect(c.cluster.secret?.length).toBe(32)
    expect(c.cluster.stateSyncIntervalMs).toBe(300_000)
    expect(c.cluster.pinRecoverIntervalMs).toBe(720_000)
    expect(c.cluster.monitorPingIntervalMs).toBe(15_000)
    expect(c.cluster.connectionManager).toEqual({ highWater: 400, lowWater: 100, gracePeriodMs: 120_000 })
    expect(c.cluster.peerstorePath).toBe(join(f, 'peerstore'))
    expect(c.consensus.crdt).toEqual({
      clusterName: 'ipfs-cluster',
      trustAll: true,
      trustedPeers: [],
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 50000 },
      repairIntervalMs: 3_600_000,
      rebroadcastIntervalMs: 60_000,
      peersetMetric: 'ping',
      datastoreNamespace: '/c'
    })
    expect(c.api.restapi?.httpListenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/9094'])
    expect(c.api.restapi?.idleTimeoutMs).toBe(120_000)
    expect(c.api.restapi?.basicAuthCredentials).toBeNull()
    expect(c.api.ipfsproxy?.idleTimeoutMs).toBe(60_000)
    expect(c.ipfsConnector.ipfshttp.pinTimeoutMs).toBe(120_000)
    expect(c.ipfsConnector.ipfshttp.unpinTimeoutMs).toBe(10_800_000)
    expect(c.pinTracker.stateless).toEqual({
      maxPinQueueSize: 1_000_000,
      concurrentPins: 10,
      priorityPinMaxAgeMs: 86_400_000,
      priorityPinMaxRetries: 5
    })
    expect(c.monitor.pubsubmon.checkIntervalMs).toBe(15_000)
    expect(c.allocator.balanced.allocateBy).toEqual(['tag:group', 'freespace'])
    expect(c.informer.disk).toEqual({ metricTtlMs: 30_000, metricType: 'freespace' })
    expect(c.informer.tags).toEqual({ metricTtlMs: 30_000, tags: { group: 'default' } })
    expect(c.informer.pinqueue).toEqual({ metricTtlMs: 30_000, weightBucketSize: 100_000 })
    expect(c.datastore).toEqual({ backend: 'sqlite', folder: join(f, 'sqlite') })
  })

  test('missing keys and sections get defaults; absent API and informer sections stay off', async () => {
    const f = await folderWith({ cluster: { secret: '', listen_multiaddress: '/ip4/127.0.0.1/tcp/9999' } })
    const c = await loadServiceConfig(f, { env: {} })
    expect(c.cluster.secret).toBeNull()
    expect(c.cluster.peername).toBe(hostname())
    expect(c.cluster.listenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/9999'])
    expect(c.cluster.replicationFactorMin).toBe(-1)
    expect(c.consensus.crdt.trustAll).toBe(true)
    expect(c.api).toEqual({ restapi: null, pinsvcapi: null, ipfsproxy: null })
    expect(c.informer).toEqual({ disk: null, tags: null, pinqueue: null })
    expect(c.ipfsConnector.ipfshttp.nodeMultiaddress).toBe('/ip4/127.0.0.1/tcp/5001')
    expect(c.datastore.backend).toBe('sqlite')
    expect(obj(c.json.cluster).listen_multiaddress).toBe('/ip4/127.0.0.1/tcp/9999')
    expect(c.json.api).toBeUndefined()
    expect(obj(c.json.informer)).toBeUndefined()
  })

  test('relative paths resolve against the config folder', async () => {
    const f = join(dir, 'paths')
    await saveServiceConfig(f, {
      cluster: { secret: '', peerstore_file: 'peers.txt' },
      api: { restapi: { ssl_cert_file: 'c.pem', ssl_key_file: '/abs/k.pem', http_log_file: 'http.log' } },
      datastore: { leveldb: { folder: 'data/ldb' } }
    })
    await writeFile(join(f, 'c.pem'), 'x')
    // key file missing: named in the error
    await expect(loadServiceConfig(f, { env: {} })).rejects.toThrow(
      `${join(f, 'service.json')}: api.restapi.ssl_key_file: file not found: /abs/k.pem`
    )
    const k = join(f, 'k.pem')
    await writeFile(k, 'y')
    await saveServiceConfig(f, {
      cluster: { secret: '', peerstore_file: 'peers.txt' },
      api: { restapi: { ssl_cert_file: 'c.pem', ssl_key_file: k, http_log_file: 'http.log' } },
      datastore: { leveldb: { folder: 'data/ldb' } }
    })
    const c = await loadServiceConfig(f, { env: {} })
    expect(c.cluster.peerstorePath).toBe(join(f, 'peers.txt'))
    expect(c.api.restapi?.sslCertFile).toBe(join(f, 'c.pem'))
    expect(c.api.restapi?.sslKeyFile).toBe(k)
    expect(c.api.restapi?.httpLogFile).toBe(join(f, 'http.log'))
    expect(c.datastore.backend).toBe('leveldb')
    expect(c.datastore.folder).toBe(join(f, 'data/ldb'))
    expect(c.datastore.leveldbOptions?.no_sync).toBe(false)
  })

  test('missing service.json names the file', async () => {
    const f = join(dir, 'nothing-here')
    await expect(loadServiceConfig(f, { env: {} })).rejects.toThrow(`${join(f, 'service.json')}: not found`)
  })

  test('invalid JSON names the file', async () => {
    const f = join(dir, 'badjson')
    await saveServiceConfig(f, {})
    await writeFile(join(f, 'service.json'), '{ nope')
    await expect(loadServiceConfig(f, { env: {} })).rejects.toThrow(`${join(f, 'service.json')}: invalid JSON`)
  })
})

describe('validation', () => {
  const load = (doc: unknown) => parseServiceConfig(doc, { folder: '/cfg', env: {} })

  test('invalid secret', () => {
    expect(() => load({ cluster: { secret: 'abc' } })).toThrow(
      '/cfg/service.json: cluster.secret: must be 64 hex characters (32 bytes)'
    )
    expect(() => load({ cluster: { secret: 'zz'.repeat(32) } })).toThrow(
      'cluster.secret: must be 64 hex characters (32 bytes)'
    )
    expect(() => load({ cluster: { secret: 'ab'.repeat(16) } })).toThrow(ConfigError)
  })

  test('wrong types, durations and multiaddrs name the key', () => {
    expect(() => load({ cluster: { secret: '', state_sync_interval: '5 minutes' } })).toThrow(
      '/cfg/service.json: cluster.state_sync_interval: invalid duration "5 minutes"'
    )
    expect(() => load({ cluster: { secret: '', replication_factor_min: 'two' } })).toThrow(
      'cluster.replication_factor_min: must be an integer'
    )
    expect(() => load({ cluster: { secret: '', listen_multiaddress: ['/ip4/999.1.1.1/tcp/1'] } })).toThrow(
      'cluster.listen_multiaddress: invalid multiaddr "/ip4/999.1.1.1/tcp/1"'
    )
    expect(() => load({ cluster: { secret: '' }, informer: { disk: { metric_type: 'bogus' } } })).toThrow(
      'informer.disk.metric_type: invalid metric type "bogus"'
    )
    expect(() => load({ cluster: { secret: '' }, consensus: { crdt: { trusted_peers: ['notapeer'] } } })).toThrow(
      'consensus.crdt.trusted_peers: invalid peer ID "notapeer"'
    )
  })

  test('upstream rules: replication factors, connection manager, basic auth', () => {
    expect(() => load({ cluster: { secret: '', replication_factor_min: 3, replication_factor_max: 2 } })).toThrow(
      'cluster.replication_factor_min: is larger than replication_factor_max'
    )
    expect(() => load({ cluster: { secret: '', replication_factor_min: 2, replication_factor_max: -1 } })).toThrow(
      /replication_factor/
    )
    expect(() =>
      load({ cluster: { secret: '', connection_manager: { high_water: 10, low_water: 20, grace_period: '1m' } } })
    ).toThrow('cluster.connection_manager.low_water: is greater than high_water')
    expect(() => load({ cluster: { secret: '' }, api: { restapi: { basic_auth_credentials: {} } } })).toThrow(
      'api.restapi.basic_auth_credentials: should be null or have at least one entry'
    )
    const c = load({ cluster: { secret: '', replication_factor_min: 2, replication_factor_max: 3 } })
    expect([c.cluster.replicationFactorMin, c.cluster.replicationFactorMax]).toEqual([2, 3])
  })

  test('missing cluster section', () => {
    expect(() => load({})).toThrow('/cfg/service.json: cluster: section missing')
  })

  test('raft section: chosen, typed, validated as upstream and hashicorp', () => {
    const c = load({ cluster: { secret: '' }, consensus: { raft: { init_peerset: [] } } })
    expect(c.consensus.raft).toMatchObject({ waitForLeaderTimeoutMs: 15_000, heartbeatTimeoutMs: 1000, datastoreNamespace: '/r', commitRetries: 1 })
    expect(Object.keys(obj(c.json.consensus))).toEqual(['raft'])
    expect(load({ cluster: { secret: '' } }).consensus.raft).toBeNull()
    expect(() => load({ cluster: { secret: '' }, consensus: { raft: {}, crdt: {} } })).toThrow('both crdt and raft are configured')
    const bad = (raft: JsonObject) => () => load({ cluster: { secret: '' }, consensus: { raft } })
    expect(bad({ init_peerset: ['nope'] })).toThrow('consensus.raft.init_peerset: invalid peer ID "nope"')
    expect(bad({ max_append_entries: 2000 })).toThrow('consensus.raft.max_append_entries: is too large')
    expect(bad({ leader_lease_timeout: '2s' })).toThrow('consensus.raft.leader_lease_timeout: cannot be larger than heartbeat_timeout')
    expect(bad({ election_timeout: '500ms' })).toThrow('consensus.raft.election_timeout: must be equal or greater than heartbeat_timeout')
    expect(bad({ commit_retries: -1 })).toThrow('consensus.raft.commit_retries')
    // keys that cannot act in this implementation are refused by name
    expect(bad({ data_folder: '/somewhere' })).toThrow('consensus.raft.data_folder: cannot act')
    expect(bad({ backups_rotate: 3 })).toThrow('consensus.raft.backups_rotate: cannot act')
    expect(bad({ datastore_namespace: '/raft' })).toThrow('consensus.raft.datastore_namespace')
    expect(bad({ datastore_namespace: '/' })).toThrow('consensus.raft.datastore_namespace')
  })

  test('datastores: two of ours is an error, upstream-only falls back to sqlite', () => {
    expect(() => load({ cluster: { secret: '' }, datastore: { sqlite: {}, leveldb: {} } })).toThrow(
      'datastore: only one of sqlite or leveldb may be configured'
    )
    const c = load({ cluster: { secret: '' }, datastore: { pebble: { pebble_options: {} } } })
    expect(c.datastore).toEqual({ backend: 'sqlite', folder: '/cfg/sqlite' })
    expect(obj(c.json.datastore)).toEqual({ sqlite: {} })
  })

  test('Go quirks: zero means default where upstream says so; old duration forms', () => {
    const c = load({
      cluster: { secret: '', peername: '', replication_factor_min: 0, replication_factor_max: 0 },
      pin_tracker: { stateless: { concurrent_pins: 0, max_pin_queue_size: 0 } },
      ipfs_connector: { ipfshttp: { pin_timeout: '0h2m0s' } },
      api: { restapi: { max_header_bytes: 0, cors_max_age: '' } }
    })
    expect(c.cluster.peername).toBe(hostname())
    expect(c.cluster.replicationFactorMin).toBe(-1)
    expect(c.pinTracker.stateless.concurrentPins).toBe(10)
    expect(c.pinTracker.stateless.maxPinQueueSize).toBe(1_000_000)
    expect(c.ipfsConnector.ipfshttp.pinTimeoutMs).toBe(120_000)
    expect(obj(obj(c.json.ipfs_connector).ipfshttp).pin_timeout).toBe('2m0s')
    expect(c.api.restapi?.maxHeaderBytes).toBe(4096)
    expect(c.api.restapi?.corsMaxAgeMs).toBe(0)
  })
})

describe('environment overrides (envconfig names)', () => {
  const base = { cluster: { secret: '' }, api: { restapi: {} } }

  test('cluster section, nested structs, slices', async () => {
    const secret = 'ef'.repeat(32)
    const c = parseServiceConfig(base, {
      folder: '/cfg',
      env: {
        CLUSTER_SECRET: secret,
        CLUSTER_PEERNAME: 'from-env',
        CLUSTER_LISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/1234,/ip4/127.0.0.1/udp/1234/quic',
        CLUSTER_REPLICATIONFACTORMIN: '2',
        CLUSTER_REPLICATIONFACTORMAX: '4',
        CLUSTER_MONITORPINGINTERVAL: '3s',
        CLUSTER_CONNECTIONMANAGER_HIGHWATER: '800',
        CLUSTER_PUBSUB_FLOODPUBLISH: 'true',
        CLUSTER_FOLLOWERMODE: '1',
        CLUSTER_MDNSINTERVAL: '0s',
        CLUSTER_PEERADDRESSES: '',
        UNRELATED: 'x'
      }
    })
    expect(Buffer.from(c.cluster.secret ?? []).toString('hex')).toBe(secret)
    expect(c.cluster.peername).toBe('from-env')
    expect(c.cluster.listenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/1234', '/ip4/127.0.0.1/udp/1234/quic'])
    expect([c.cluster.replicationFactorMin, c.cluster.replicationFactorMax]).toEqual([2, 4])
    expect(c.cluster.monitorPingIntervalMs).toBe(3000)
    expect(c.cluster.connectionManager.highWater).toBe(800)
    expect(c.cluster.pubsub.floodPublish).toBe(true)
    expect(c.cluster.followerMode).toBe(true)
    expect(c.cluster.mdnsIntervalMs).toBe(0)
    expect(c.cluster.peerAddresses).toEqual([])
    // the effective JSON carries the overrides
    expect(obj(c.json.cluster).monitor_ping_interval).toBe('3s')
    expect(obj(c.json.cluster).follower_mode).toBe(true)
  })

  test('component sections, maps and the trust-all wildcard', async () => {
    const { id: p1 } = await generateIdentity()
    const { id: p2 } = await generateIdentity()
    const env = {
      CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/7777',
      CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: 'user:pass,user2:pass2',
      CLUSTER_RESTAPI_HEADERS: 'X-A:1,X-B:2',
      CLUSTER_RESTAPI_CORSALLOWEDMETHODS: 'GET,POST',
      CLUSTER_IPFSHTTP_NODEMULTIADDRESS: '/dns4/ipfs/tcp/5001',
      CLUSTER_IPFSHTTP_PINTIMEOUT: '30s',
      CLUSTER_STATELESS_CONCURRENTPINS: '25',
      CLUSTER_CRDT_TRUSTEDPEERS: `${p1},${p2}`,
      CLUSTER_CRDT_BATCHING_MAXBATCHSIZE: '100',
      CLUSTER_CRDT_BATCHING_MAXBATCHAGE: '1s',
      CLUSTER_CRDT_CLUSTERNAME: 'other',
      CLUSTER_TAGS_TAGS: 'group:blue,region:eu',
      CLUSTER_BALANCED_ALLOCATEBY: 'tag:region,freespace',
      CLUSTER_METRICS_ENABLESTATS: 'true',
      CLUSTER_PUBSUBMON_CHECKINTERVAL: '5s',
      CLUSTER_SQLITE_FOLDER: 'db'
    }
    const c = parseServiceConfig({ ...base, informer: { tags: {} } }, { folder: '/cfg', env })
    expect(c.api.restapi?.httpListenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/7777'])
    expect(c.api.restapi?.basicAuthCredentials).toEqual({ user: 'pass', user2: 'pass2' })
    expect(c.api.restapi?.headers).toEqual({ 'X-A': ['1'], 'X-B': ['2'] })
    expect(c.api.restapi?.corsAllowedMethods).toEqual(['GET', 'POST'])
    expect(c.ipfsConnector.ipfshttp.nodeMultiaddress).toBe('/dns4/ipfs/tcp/5001')
    expect(c.ipfsConnector.ipfshttp.pinTimeoutMs).toBe(30_000)
    expect(c.pinTracker.stateless.concurrentPins).toBe(25)
    expect(c.consensus.crdt.trustAll).toBe(false)
    expect(c.consensus.crdt.trustedPeers).toEqual([p1, p2])
    expect(c.consensus.crdt.batching).toEqual({ maxBatchSize: 100, maxBatchAgeMs: 1000, maxQueueSize: 50000 })
    expect(c.consensus.crdt.clusterName).toBe('other')
    expect(c.informer.tags?.tags).toEqual({ group: 'blue', region: 'eu' })
    expect(c.allocator.balanced.allocateBy).toEqual(['tag:region', 'freespace'])
    expect(c.observations.metrics.enableStats).toBe(true)
    expect(c.monitor.pubsubmon.checkIntervalMs).toBe(5000)
    expect(c.datastore.folder).toBe('/cfg/db')

    const all = parseServiceConfig(base, { folder: '/cfg', env: { CLUSTER_CRDT_TRUSTEDPEERS: '*' } })
    expect(all.consensus.crdt.trustAll).toBe(true)
    expect(obj(obj(all.json.consensus).crdt).trusted_peers).toEqual(['*'])
  })

  test('env overrides do not enable absent optional components', () => {
    const c = parseServiceConfig(
      { cluster: { secret: '' } },
      { folder: '/cfg', env: { CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/7777' } }
    )
    expect(c.api.restapi).toBeNull()
  })

  test('bad values name the variable', () => {
    const load = (env: Record<string, string>) => parseServiceConfig(base, { folder: '/cfg', env })
    expect(() => load({ CLUSTER_STATELESS_CONCURRENTPINS: 'many' })).toThrow(
      'CLUSTER_STATELESS_CONCURRENTPINS: invalid integer "many"'
    )
    expect(() => load({ CLUSTER_LEAVEONSHUTDOWN: 'yes' })).toThrow('CLUSTER_LEAVEONSHUTDOWN: invalid boolean "yes"')
    expect(() => load({ CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: 'nocolon' })).toThrow(
      'CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: invalid map item "nocolon"'
    )
    expect(() => load({ CLUSTER_MONITORPINGINTERVAL: 'soon' })).toThrow(
      '/cfg/service.json: cluster.monitor_ping_interval (from CLUSTER_MONITORPINGINTERVAL): invalid duration "soon"'
    )
    expect(() => load({ CLUSTER_SECRET: '1234' })).toThrow(
      '/cfg/service.json: cluster.secret (from CLUSTER_SECRET): must be 64 hex characters (32 bytes)'
    )
  })
})

describe('source configurations', () => {
  const served = new Map<string, { status: number; body: string }>()
  let server: ReturnType<typeof Bun.serve>
  let base: string
  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        const r = served.get(new URL(req.url).pathname)
        return r === undefined ? new Response('no such config', { status: 404 }) : new Response(r.body, { status: r.status })
      }
    })
    base = `http://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await server.stop(true)
  })

  test('{"source": url} is fetched and used', async () => {
    const remote = await defaultServiceConfig({ peerName: 'remote-peer', secret: '12'.repeat(32) })
    served.set('/good.json', { status: 200, body: JSON.stringify(remote) })
    const f = await folderWith({ source: `${base}/good.json` })
    const c = await loadServiceConfig(f, { env: { CLUSTER_PEERNAME: 'local' } })
    expect(c.source).toBe(`${base}/good.json`)
    expect(c.raw).toEqual(remote)
    expect(c.cluster.peername).toBe('local')
    expect(Buffer.from(c.cluster.secret ?? []).toString('hex')).toBe('12'.repeat(32))
    expect(c.datastore.folder).toBe(join(f, 'sqlite'))
  })

  test('a sourced configuration that itself has a source is rejected', async () => {
    served.set('/loop.json', { status: 200, body: JSON.stringify({ source: `${base}/good.json` }) })
    const f = await folderWith({ source: `${base}/loop.json` })
    await expect(loadServiceConfig(f, { env: {} })).rejects.toThrow(
      `${base}/loop.json: a sourced configuration cannot point to another source`
    )
  })

  test('errors fetching or parsing the source', async () => {
    const missing = await folderWith({ source: `${base}/missing.json` })
    await expect(loadServiceConfig(missing, { env: {} })).rejects.toBeInstanceOf(ConfigSourceError)
    await expect(loadServiceConfig(missing, { env: {} })).rejects.toThrow('unsuccessful request (404): no such config')

    served.set('/bad.json', { status: 200, body: JSON.stringify({ cluster: { secret: 'bad' } }) })
    const bad = await folderWith({ source: `${base}/bad.json` })
    await expect(loadServiceConfig(bad, { env: {} })).rejects.toThrow(
      `${base}/bad.json: cluster.secret: must be 64 hex characters (32 bytes)`
    )

    const notHttp = await folderWith({ source: 'ftp://example.com/x.json' })
    await expect(loadServiceConfig(notHttp, { env: {} })).rejects.toThrow('is not an http(s) URL')
  })
})

describe('init helpers', () => {
  test('applyInitPeers sets trusted peers and returns peerstore lines', async () => {
    const { id: a } = await generateIdentity()
    const { id: b } = await generateIdentity()
    const j = await defaultServiceConfig({})
    const lines = applyInitPeers(j, [
      `/ip4/10.0.0.1/tcp/9096/p2p/${a}`,
      ` /dns4/b.example/tcp/9096/p2p/${b} `,
      `/ip4/10.0.0.2/tcp/9096/p2p/${a}`
    ])
    expect(lines).toEqual([
      `/ip4/10.0.0.1/tcp/9096/p2p/${a}`,
      `/dns4/b.example/tcp/9096/p2p/${b}`,
      `/ip4/10.0.0.2/tcp/9096/p2p/${a}`
    ])
    expect(obj(obj(j.consensus).crdt).trusted_peers).toEqual([a, b])
    const c = parseServiceConfig(j, { folder: '/cfg', env: {} })
    expect(c.consensus.crdt.trustAll).toBe(false)
    expect(c.consensus.crdt.trustedPeers).toEqual([a, b])
    expect(() => applyInitPeers(j, ['/ip4/10.0.0.1/tcp/9096'])).toThrow('has no /p2p/<peer id>')
    expect(() => applyInitPeers(j, ['not-a-multiaddr'])).toThrow('--peers: invalid multiaddr')
  })

  test('resolveConfigFolder: flag, then IPFS_CLUSTER_PATH, then ~/.ipfs-cluster', () => {
    expect(resolveConfigFolder('/x/y', { IPFS_CLUSTER_PATH: '/env' })).toBe('/x/y')
    expect(resolveConfigFolder(undefined, { IPFS_CLUSTER_PATH: '/env' })).toBe('/env')
    expect(resolveConfigFolder(undefined, { HOME: '/home/u' })).toBe('/home/u/.ipfs-cluster')
    expect(resolveConfigFolder('rel', {})).toBe(join(process.cwd(), 'rel'))
  })
})

describe('defaultRestApiConfig', () => {
  test('upstream defaults with CLUSTER_RESTAPI_* applied', async () => {
    const { defaultRestApiConfig } = await import('../../../src/config/index.ts')
    const d = defaultRestApiConfig('/cfg')
    expect(d.httpListenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/9094'])
    expect(d.readHeaderTimeoutMs).toBe(5000)
    expect(d.corsAllowedOrigins).toEqual(['*'])
    const s = defaultRestApiConfig('/cfg', { CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '/unix/cfg/api-socket' })
    expect(s.httpListenMultiaddress).toEqual(['/unix/cfg/api-socket'])
  })
})
