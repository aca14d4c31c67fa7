/**
 * Every `service.json` key, declared once: its JSON layout as upstream
 * v1.1.6 writes it (key, Go field name for `CLUSTER_<SECTION>_<KEY>`
 * overrides, kind, default, `omitempty` quirks) and its typed, camelCase
 * property with validation (see `FieldSpec` in `schema.ts`); each section's
 * `finish` adds derived values and cross-field checks. Parsing, defaults,
 * `service init` output, environment overrides, validation and the types of
 * `types.ts` all come from here.
 *
 * Mirrors the `configJSON`/`jsonConfig` structs, `Default()` and
 * `Validate()` of `cluster_config.go`, `consensus/crdt/config.go`, `consensus/raft/config.go`,
 * `api/common/config.go`, `api/rest/config.go`, `api/pinsvcapi/config.go`,
 * `api/ipfsproxy/config.go`, `ipfsconn/ipfshttp/config.go`,
 * `pintracker/stateless/config.go`, `monitor/pubsubmon/config.go`,
 * `allocator/balanced/config.go`, `informer/{disk,tags,pinqueue}/config.go`,
 * `observations/config.go`, `datastore/leveldb/config.go`;
 * `datastore.sqlite` is ours.
 */
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { isAbsolute, resolve } from 'node:path'
import { getLogger } from '../observability/logging.ts'
import type { JsonValue } from './schema.ts'
import { checkPeerId, section } from './typed.ts'

const log = getLogger('config')

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

/** Upstream `cluster_config.go` `Config`. */
export const CLUSTER = section({
  fields: [
    // human-readable peer name; default: the hostname
    {
      key: 'peername',
      go: 'Peername',
      kind: 'string',
      def: '',
      zeroIsDefault: true,
      prop: 'peername',
      convert: (v: string) => v || hostname()
    },
    // the 32-byte private network key (hex in JSON); null = no PSK (`"secret": ""`)
    { key: 'secret', go: 'Secret', kind: 'string', def: '', prop: 'secret', convert: decodeClusterSecret },
    { key: 'leave_on_shutdown', go: 'LeaveOnShutdown', kind: 'bool', def: false, prop: 'leaveOnShutdown' },
    // libp2p listen multiaddrs (TCP; QUIC entries are upstream's and may be ignored by our host)
    {
      key: 'listen_multiaddress',
      go: 'ListenMultiaddress',
      kind: 'strings',
      def: ['/ip4/0.0.0.0/tcp/9096', '/ip4/0.0.0.0/udp/9096/quic'],
      prop: 'listenMultiaddress',
      check: 'multiaddrsNonEmpty',
      randomPort: true
    },
    {
      key: 'announce_multiaddress',
      go: 'AnnounceMultiaddress',
      kind: 'strings',
      def: [],
      prop: 'announceMultiaddress',
      check: 'multiaddrs'
    },
    {
      key: 'no_announce_multiaddress',
      go: 'NoAnnounceMultiaddress',
      kind: 'strings',
      def: [],
      prop: 'noAnnounceMultiaddress',
      check: 'multiaddrs'
    },
    { key: 'enable_relay_hop', go: 'EnableRelayHop', kind: 'bool', def: true, prop: 'enableRelayHop' },
    {
      key: 'connection_manager',
      go: 'ConnectionManager',
      kind: 'object',
      def: null,
      prop: 'connectionManager',
      fields: [
        { key: 'high_water', go: 'HighWater', kind: 'int', def: 400, prop: 'highWater' },
        { key: 'low_water', go: 'LowWater', kind: 'int', def: 100, prop: 'lowWater' },
        { key: 'grace_period', go: 'GracePeriod', kind: 'duration', def: '2m0s', prop: 'gracePeriodMs', check: 'nonZero' }
      ]
    },
    {
      key: 'resource_manager',
      go: 'ResourceManager',
      kind: 'object',
      def: null,
      prop: 'resourceManager',
      fields: [
        { key: 'enabled', go: 'Enabled', kind: 'bool', def: true, prop: 'enabled' },
        { key: 'memory_limit_bytes', go: 'MemoryLimitBytes', kind: 'int', def: 0, prop: 'memoryLimitBytes', min: 0 },
        { key: 'file_descriptors_limit', go: 'FileDescriptorsLimit', kind: 'int', def: 0, prop: 'fileDescriptorsLimit', min: 0 }
      ]
    },
    {
      key: 'pubsub',
      go: 'PubSub',
      kind: 'object',
      def: null,
      prop: 'pubsub',
      fields: [
        { key: 'seen_messages_ttl', go: 'SeenMessagesTTL', kind: 'duration', def: '30m0s', prop: 'seenMessagesTtlMs', check: 'positive' },
        {
          key: 'heartbeat_interval',
          go: 'HeartbeatInterval',
          kind: 'duration',
          def: '10s',
          prop: 'heartbeatIntervalMs',
          check: 'positive'
        },
        { key: 'd_factor', go: 'DFactor', kind: 'int', def: 4, prop: 'dFactor', min: 1 },
        { key: 'history_gossip', go: 'HistoryGossip', kind: 'int', def: 2, prop: 'historyGossip', min: 1 },
        { key: 'history_length', go: 'HistoryLength', kind: 'int', def: 6, prop: 'historyLength', min: 1 },
        { key: 'flood_publish', go: 'FloodPublish', kind: 'bool', def: false, prop: 'floodPublish' }
      ]
    },
    { key: 'dial_peer_timeout', go: 'DialPeerTimeout', kind: 'duration', def: '3s', prop: 'dialPeerTimeoutMs', check: 'positive' },
    { key: 'state_sync_interval', go: 'StateSyncInterval', kind: 'duration', def: '5m0s', prop: 'stateSyncIntervalMs', check: 'positive' },
    {
      key: 'pin_recover_interval',
      go: 'PinRecoverInterval',
      kind: 'duration',
      def: '12m0s',
      prop: 'pinRecoverIntervalMs',
      check: 'positive'
    },
    // -1 = everywhere (then max is -1 too)
    { key: 'replication_factor_min', go: 'ReplicationFactorMin', kind: 'int', def: -1, zeroIsDefault: true, prop: 'replicationFactorMin' },
    { key: 'replication_factor_max', go: 'ReplicationFactorMax', kind: 'int', def: -1, zeroIsDefault: true, prop: 'replicationFactorMax' },
    {
      key: 'monitor_ping_interval',
      go: 'MonitorPingInterval',
      kind: 'duration',
      def: '15s',
      prop: 'monitorPingIntervalMs',
      check: 'positive'
    },
    { key: 'peer_watch_interval', go: 'PeerWatchInterval', kind: 'duration', def: '5s', prop: 'peerWatchIntervalMs', check: 'positive' },
    // 0 = mDNS off
    { key: 'mdns_interval', go: 'MDNSInterval', kind: 'duration', def: '10s', prop: 'mdnsIntervalMs' },
    { key: 'pin_only_on_trusted_peers', go: 'PinOnlyOnTrustedPeers', kind: 'bool', def: false, prop: 'pinOnlyOnTrustedPeers' },
    { key: 'pin_only_on_untrusted_peers', go: 'PinOnlyOnUntrustedPeers', kind: 'bool', def: false, prop: 'pinOnlyOnUntrustedPeers' },
    { key: 'disable_repinning', go: 'DisableRepinning', kind: 'bool', def: true, prop: 'disableRepinning' },
    { key: 'follower_mode', go: 'FollowerMode', kind: 'bool', def: false, omitEmpty: true, prop: 'followerMode' },
    // as written (`peerstore` when unset); `finish` adds the absolute `peerstorePath`
    {
      key: 'peerstore_file',
      go: 'PeerstoreFile',
      kind: 'string',
      def: '',
      omitEmpty: true,
      prop: 'peerstoreFile',
      convert: (v: string) => v || 'peerstore'
    },
    // extra `/p2p/` multiaddrs to connect to first
    { key: 'peer_addresses', go: 'PeerAddresses', kind: 'list', def: [], prop: 'peerAddresses', check: 'multiaddrs' }
  ],
  finish(c, io) {
    if (c.secret === null) log.warn('Cluster secret is empty, cluster will start on unprotected network.')
    const { highWater, lowWater } = c.connectionManager
    if (lowWater <= 0) throw io.fail('connection_manager.low_water', 'must be greater than 0')
    if (highWater <= 0) throw io.fail('connection_manager.high_water', 'must be greater than 0')
    if (lowWater > highWater) throw io.fail('connection_manager.low_water', 'is greater than high_water')

    const rfMin = c.replicationFactorMin
    const rfMax = c.replicationFactorMax
    if (rfMin > rfMax) throw io.fail('replication_factor_min', 'is larger than replication_factor_max')
    if (rfMin < -1) throw io.fail('replication_factor_min', 'must be -1 or a positive number')
    if (rfMax < -1) throw io.fail('replication_factor_max', 'must be -1 or a positive number')
    if ((rfMin === -1) !== (rfMax === -1)) {
      throw io.fail('replication_factor_min', 'replication_factor_min and max must both be -1 when one of them is')
    }
    if (c.pinOnlyOnTrustedPeers && c.pinOnlyOnUntrustedPeers) {
      throw io.fail('pin_only_on_trusted_peers', 'pin_only_on_trusted_peers and pin_only_on_untrusted_peers cannot both be true')
    }
    const peerstorePath = isAbsolute(c.peerstoreFile) ? c.peerstoreFile : resolve(io.folder, c.peerstoreFile)
    return { ...c, peerstorePath }
  }
})

/** Upstream `consensus/crdt/config.go` `Config`. */
export const CRDT = section({
  fields: [
    // pubsub topic / cluster name
    { key: 'cluster_name', go: 'ClusterName', kind: 'string', def: 'ipfs-cluster', zeroIsDefault: true, prop: 'clusterName' },
    // peer IDs, or "*" for every peer; `finish` turns it into `trustAll` + `trustedPeers`
    { key: 'trusted_peers', go: 'TrustedPeers', kind: 'list', def: ['*'], prop: 'trustedPeers' },
    // batching is enabled when both maxBatchSize > 0 and maxBatchAgeMs > 0
    {
      key: 'batching',
      go: 'Batching',
      kind: 'object',
      def: null,
      prop: 'batching',
      fields: [
        { key: 'max_batch_size', go: 'MaxBatchSize', kind: 'int', def: 0, prop: 'maxBatchSize', min: 0 },
        { key: 'max_batch_age', go: 'MaxBatchAge', kind: 'duration', def: '0s', prop: 'maxBatchAgeMs' },
        {
          key: 'max_queue_size',
          go: 'MaxQueueSize',
          kind: 'int',
          def: 50000,
          omitEmpty: true,
          hideDefault: true,
          zeroIsDefault: true,
          prop: 'maxQueueSize',
          min: 1
        }
      ]
    },
    { key: 'repair_interval', go: 'RepairInterval', kind: 'duration', def: '1h0m0s', prop: 'repairIntervalMs' },
    {
      key: 'rebroadcast_interval',
      go: 'RebroadcastInterval',
      kind: 'duration',
      def: '1m0s',
      omitEmpty: true,
      hideDefault: true,
      prop: 'rebroadcastIntervalMs',
      check: 'positive'
    },
    {
      key: 'peerset_metric',
      go: 'PeersetMetric',
      kind: 'string',
      def: 'ping',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'peersetMetric'
    },
    {
      key: 'datastore_namespace',
      go: 'DatastoreNamespace',
      kind: 'string',
      def: '/c',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'datastoreNamespace'
    }
  ],
  finish(c, io) {
    // true when `trusted_peers` holds "*"; the peer IDs otherwise (checked, without duplicates)
    const trustAll = c.trustedPeers.includes('*')
    const trustedPeers: string[] = []
    if (!trustAll) {
      for (const p of c.trustedPeers) {
        checkPeerId(io, 'trusted_peers', p)
        if (!trustedPeers.includes(p)) trustedPeers.push(p)
      }
    }
    return { ...c, trustAll, trustedPeers }
  }
})

/**
 * Upstream `consensus/raft/config.go` `Config` (keys, defaults, omitempty and
 * `Validate()`), with hashicorp/raft v1.7.3 `DefaultConfig()` and
 * `ValidateConfig()` for the keys passed through. Our Raft
 * (src/consensus/raft/) keeps its log, stable store and snapshot in the
 * peer's datastore, not in a `raft/` folder: `data_folder` and a
 * non-default `backups_rotate` cannot act and are refused.
 */
export const RAFT = section({
  fields: [
    { key: 'data_folder', go: 'DataFolder', kind: 'string', def: '', omitEmpty: true, prop: 'dataFolder' },
    // the voters of a new cluster (with this peer); ignored once raft state exists
    { key: 'init_peerset', go: 'InitPeerset', kind: 'list', def: [], prop: 'initPeerset' },
    { key: 'wait_for_leader_timeout', go: 'WaitForLeaderTimeout', kind: 'duration', def: '15s', prop: 'waitForLeaderTimeoutMs', check: 'positive' },
    { key: 'network_timeout', go: 'NetworkTimeout', kind: 'duration', def: '10s', prop: 'networkTimeoutMs', check: 'positive' },
    // retries after the first attempt of a commit (or its forwarding to the leader)
    { key: 'commit_retries', go: 'CommitRetries', kind: 'int', def: 1, prop: 'commitRetries', min: 0 },
    { key: 'commit_retry_delay', go: 'CommitRetryDelay', kind: 'duration', def: '200ms', prop: 'commitRetryDelayMs', check: 'positive' },
    { key: 'backups_rotate', go: 'BackupsRotate', kind: 'int', def: 6, prop: 'backupsRotate', min: 1 },
    {
      key: 'datastore_namespace',
      go: 'DatastoreNamespace',
      kind: 'string',
      def: '/r',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'datastoreNamespace'
    },
    // hashicorp/raft: a follower campaigns after this long without a leader (randomized in [T, 2T))
    { key: 'heartbeat_timeout', go: 'HeartbeatTimeout', kind: 'duration', def: '1s', zeroIsDefault: true, prop: 'heartbeatTimeoutMs' },
    // hashicorp/raft: a candidate campaigns again after this long (randomized in [T, 2T))
    { key: 'election_timeout', go: 'ElectionTimeout', kind: 'duration', def: '1s', zeroIsDefault: true, prop: 'electionTimeoutMs' },
    // hashicorp/raft: the longest a new commit index waits to reach the followers (ours sends it at once)
    { key: 'commit_timeout', go: 'CommitTimeout', kind: 'duration', def: '50ms', zeroIsDefault: true, prop: 'commitTimeoutMs' },
    { key: 'max_append_entries', go: 'MaxAppendEntries', kind: 'int', def: 64, zeroIsDefault: true, prop: 'maxAppendEntries' },
    { key: 'trailing_logs', go: 'TrailingLogs', kind: 'int', def: 10240, zeroIsDefault: true, prop: 'trailingLogs', min: 0 },
    { key: 'snapshot_interval', go: 'SnapshotInterval', kind: 'duration', def: '2m0s', zeroIsDefault: true, prop: 'snapshotIntervalMs' },
    { key: 'snapshot_threshold', go: 'SnapshotThreshold', kind: 'int', def: 8192, zeroIsDefault: true, prop: 'snapshotThreshold', min: 0 },
    // hashicorp/raft: a leader without contact with a quorum for this long steps down
    { key: 'leader_lease_timeout', go: 'LeaderLeaseTimeout', kind: 'duration', def: '500ms', zeroIsDefault: true, prop: 'leaderLeaseTimeoutMs' }
  ],
  finish(c, io) {
    if (c.dataFolder !== '') {
      throw io.fail('data_folder', 'cannot act: this raft keeps its log and snapshots in the peer datastore (datastore section); remove the key')
    }
    if (c.backupsRotate !== 6) {
      throw io.fail('backups_rotate', 'cannot act: this raft keeps no raft/ folder backups to rotate; remove the key or set it to 6')
    }
    // the raft log lives under /raft in the same datastore: the pinset must not overlap it
    const ns = c.datastoreNamespace.replace(/\/+$/, '')
    if (!ns.startsWith('/') || ns === '' || ns === '/raft' || ns.startsWith('/raft/')) {
      throw io.fail('datastore_namespace', `"${c.datastoreNamespace}" must be a key prefix like /r, other than / and /raft`)
    }
    const initPeerset: string[] = []
    for (const p of c.initPeerset) {
      checkPeerId(io, 'init_peerset', p)
      if (!initPeerset.includes(p)) initPeerset.push(p)
    }
    // hashicorp ValidateConfig
    if (c.heartbeatTimeoutMs < 5) throw io.fail('heartbeat_timeout', 'is too low (at least 5ms)')
    if (c.electionTimeoutMs < 5) throw io.fail('election_timeout', 'is too low (at least 5ms)')
    if (c.commitTimeoutMs < 1) throw io.fail('commit_timeout', 'is too low (at least 1ms)')
    if (c.maxAppendEntries <= 0) throw io.fail('max_append_entries', 'must be positive')
    if (c.maxAppendEntries > 1024) throw io.fail('max_append_entries', 'is too large (at most 1024)')
    if (c.snapshotIntervalMs < 5) throw io.fail('snapshot_interval', 'is too low (at least 5ms)')
    if (c.leaderLeaseTimeoutMs < 5) throw io.fail('leader_lease_timeout', 'is too low (at least 5ms)')
    if (c.leaderLeaseTimeoutMs > c.heartbeatTimeoutMs) throw io.fail('leader_lease_timeout', 'cannot be larger than heartbeat_timeout')
    if (c.electionTimeoutMs < c.heartbeatTimeoutMs) throw io.fail('election_timeout', 'must be equal or greater than heartbeat_timeout')
    return { ...c, initPeerset }
  }
})

/** `api/common` `Config`, shared by `restapi` and `pinsvcapi`; only the listen address differs. */
function httpApiSection(listen: string) {
  return section({
    fields: [
      // `/ip4/…/tcp/…`, `/dns…/tcp/…` or `/unix/<path>`; empty = the default
      {
        key: 'http_listen_multiaddress',
        go: 'HTTPListenMultiaddress',
        kind: 'strings',
        def: [listen],
        prop: 'httpListenMultiaddress',
        check: 'multiaddrs',
        emptyIsDefault: true,
        randomPort: true
      },
      // absolute path or "" (no TLS)
      { key: 'ssl_cert_file', go: 'SSLCertFile', kind: 'string', def: '', omitEmpty: true, prop: 'sslCertFile', path: true },
      { key: 'ssl_key_file', go: 'SSLKeyFile', kind: 'string', def: '', omitEmpty: true, prop: 'sslKeyFile', path: true },
      { key: 'read_timeout', go: 'ReadTimeout', kind: 'duration', def: '0s', prop: 'readTimeoutMs' },
      { key: 'read_header_timeout', go: 'ReadHeaderTimeout', kind: 'duration', def: '5s', prop: 'readHeaderTimeoutMs' },
      { key: 'write_timeout', go: 'WriteTimeout', kind: 'duration', def: '0s', prop: 'writeTimeoutMs' },
      { key: 'idle_timeout', go: 'IdleTimeout', kind: 'duration', def: '2m0s', prop: 'idleTimeoutMs' },
      { key: 'max_header_bytes', go: 'MaxHeaderBytes', kind: 'int', def: 4096, zeroIsDefault: true, prop: 'maxHeaderBytes', min: 4096 },
      {
        key: 'libp2p_listen_multiaddress',
        go: 'Libp2pListenMultiaddress',
        kind: 'strings',
        def: [],
        omitEmpty: true,
        prop: 'libp2pListenMultiaddress',
        check: 'multiaddrs'
      },
      // peer ID of the API's own libp2p host ("" when unused)
      { key: 'id', go: 'ID', kind: 'string', def: '', omitEmpty: true, prop: 'id' },
      // base64 protobuf private key of that host ("" when unused)
      { key: 'private_key', go: 'PrivateKey', kind: 'string', def: '', omitEmpty: true, prop: 'privateKey' },
      // user -> password; null = no authentication
      {
        key: 'basic_auth_credentials',
        go: 'BasicAuthCredentials',
        kind: 'map',
        def: null,
        nullable: true,
        prop: 'basicAuthCredentials',
        check: 'nullOrNonEmpty'
      },
      // absolute path or "" (HTTP logs go to the `restapilog` logger)
      { key: 'http_log_file', go: 'HTTPLogFile', kind: 'string', def: '', prop: 'httpLogFile', path: true },
      { key: 'headers', go: 'Headers', kind: 'mapList', def: {}, prop: 'headers' },
      { key: 'cors_allowed_origins', go: 'CORSAllowedOrigins', kind: 'list', def: ['*'], prop: 'corsAllowedOrigins' },
      { key: 'cors_allowed_methods', go: 'CORSAllowedMethods', kind: 'list', def: ['GET'], prop: 'corsAllowedMethods' },
      { key: 'cors_allowed_headers', go: 'CORSAllowedHeaders', kind: 'list', def: [], prop: 'corsAllowedHeaders' },
      {
        key: 'cors_exposed_headers',
        go: 'CORSExposedHeaders',
        kind: 'list',
        def: ['Content-Type', 'X-Stream-Output', 'X-Chunked-Output', 'X-Content-Length'],
        prop: 'corsExposedHeaders'
      },
      { key: 'cors_allow_credentials', go: 'CORSAllowCredentials', kind: 'bool', def: true, prop: 'corsAllowCredentials' },
      { key: 'cors_max_age', go: 'CORSMaxAge', kind: 'duration', def: '0s', prop: 'corsMaxAgeMs' }
    ],
    finish(c, io) {
      const cert = c.sslCertFile
      const key = c.sslKeyFile
      if ((cert === '') !== (key === '')) {
        throw io.fail(cert === '' ? 'ssl_cert_file' : 'ssl_key_file', 'ssl_cert_file and ssl_key_file must be set together')
      }
      if (cert !== '' && !existsSync(cert)) throw io.fail('ssl_cert_file', `file not found: ${cert}`)
      if (key !== '' && !existsSync(key)) throw io.fail('ssl_key_file', `file not found: ${key}`)
      if (c.id !== '' || c.privateKey !== '' || c.libp2pListenMultiaddress.length > 0) {
        if (c.id === '' || c.privateKey === '' || c.libp2pListenMultiaddress.length === 0) {
          throw io.fail('id', 'all of id, private_key and libp2p_listen_multiaddress should be set')
        }
        checkPeerId(io, 'id', c.id)
      }
      return c
    }
  })
}

/** Upstream `api/rest/config.go`. */
export const RESTAPI = httpApiSection('/ip4/127.0.0.1/tcp/9094')
/** Upstream `api/pinsvcapi/config.go`. */
export const PINSVCAPI = httpApiSection('/ip4/127.0.0.1/tcp/9097')

/** Upstream `api/ipfsproxy/config.go` `Config`. */
export const IPFSPROXY = section({
  fields: [
    {
      key: 'listen_multiaddress',
      go: 'ListenMultiaddress',
      kind: 'strings',
      def: ['/ip4/127.0.0.1/tcp/9095'],
      prop: 'listenMultiaddress',
      check: 'multiaddrs',
      emptyIsDefault: true,
      randomPort: true
    },
    {
      key: 'node_multiaddress',
      go: 'NodeMultiaddress',
      kind: 'string',
      def: '/ip4/127.0.0.1/tcp/5001',
      zeroIsDefault: true,
      prop: 'nodeMultiaddress',
      check: 'multiaddr'
    },
    { key: 'node_https', go: 'NodeHTTPS', kind: 'bool', def: false, omitEmpty: true, prop: 'nodeHttps' },
    // absolute path or ""
    { key: 'log_file', go: 'LogFile', kind: 'string', def: '', prop: 'logFile', path: true },
    { key: 'read_timeout', go: 'ReadTimeout', kind: 'duration', def: '0s', prop: 'readTimeoutMs' },
    { key: 'read_header_timeout', go: 'ReadHeaderTimeout', kind: 'duration', def: '5s', prop: 'readHeaderTimeoutMs' },
    { key: 'write_timeout', go: 'WriteTimeout', kind: 'duration', def: '0s', prop: 'writeTimeoutMs' },
    { key: 'idle_timeout', go: 'IdleTimeout', kind: 'duration', def: '1m0s', prop: 'idleTimeoutMs' },
    { key: 'max_header_bytes', go: 'MaxHeaderBytes', kind: 'int', def: 4096, zeroIsDefault: true, prop: 'maxHeaderBytes', min: 4096 },
    { key: 'extract_headers_extra', go: 'ExtractHeadersExtra', kind: 'list', def: [], omitEmpty: true, prop: 'extractHeadersExtra' },
    {
      key: 'extract_headers_path',
      go: 'ExtractHeadersPath',
      kind: 'string',
      def: '/api/v0/version',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'extractHeadersPath',
      check: 'notEmpty'
    },
    {
      key: 'extract_headers_ttl',
      go: 'ExtractHeadersTTL',
      kind: 'duration',
      def: '5m0s',
      omitEmpty: true,
      hideDefault: true,
      prop: 'extractHeadersTtlMs'
    }
  ]
})

/** Upstream `ipfsconn/ipfshttp/config.go` `Config`. */
export const IPFSHTTP = section({
  fields: [
    // kubo RPC API multiaddr, e.g. `/ip4/127.0.0.1/tcp/5001`
    {
      key: 'node_multiaddress',
      go: 'NodeMultiaddress',
      kind: 'string',
      def: '/ip4/127.0.0.1/tcp/5001',
      prop: 'nodeMultiaddress',
      check: 'multiaddr'
    },
    { key: 'connect_swarms_delay', go: 'ConnectSwarmsDelay', kind: 'duration', def: '30s', prop: 'connectSwarmsDelayMs' },
    { key: 'ipfs_request_timeout', go: 'IPFSRequestTimeout', kind: 'duration', def: '5m0s', prop: 'ipfsRequestTimeoutMs' },
    { key: 'pin_timeout', go: 'PinTimeout', kind: 'duration', def: '2m0s', prop: 'pinTimeoutMs' },
    { key: 'unpin_timeout', go: 'UnpinTimeout', kind: 'duration', def: '3h0m0s', prop: 'unpinTimeoutMs' },
    { key: 'repogc_timeout', go: 'RepoGCTimeout', kind: 'duration', def: '24h0m0s', prop: 'repoGcTimeoutMs' },
    // number of pins between informer metric triggers; 0 = disabled
    { key: 'informer_trigger_interval', go: 'InformerTriggerInterval', kind: 'int', def: 0, prop: 'informerTriggerInterval', min: 0 },
    { key: 'unpin_disable', go: 'UnpinDisable', kind: 'bool', def: false, omitEmpty: true, prop: 'unpinDisable' }
  ]
})

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }

/**
 * A kubo-style size (`"10GB"`, `"512MiB"`, `"1000"`) in bytes; `""` or `"0"` = 0.
 * @throws Error for anything else (a ConfigError naming the key when read from service.json)
 */
export function parseByteSize(s: string): number {
  if (s.trim() === '') return 0
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s)
  const unit = BYTE_UNITS[(m?.[2] ?? '').toLowerCase()]
  if (m === null || unit === undefined) throw new Error(`invalid size "${s}" (want e.g. "10GB", "512MiB", "0" for no limit)`)
  return Math.floor(Number(m[1]) * unit)
}

/**
 * Ours: the bundled IPFS node (an embedded Helia in place of kubo; see
 * src/ipfsconn/bundled/). Present = chosen instead of `ipfshttp`.
 */
export const BUNDLED = section({
  fields: [
    // folder of the node's blocks, pinset and identity (`<config>/ipfs` by default)
    { key: 'folder', go: 'Folder', kind: 'string', def: 'ipfs', zeroIsDefault: true, prop: 'folder', path: true },
    // libp2p listen addresses of the IPFS node (its own node, not the cluster swarm)
    {
      key: 'listen_multiaddress',
      go: 'ListenMultiaddress',
      kind: 'strings',
      def: ['/ip4/0.0.0.0/tcp/4001'],
      prop: 'listenMultiaddress',
      check: 'multiaddrs',
      randomPort: true
    },
    { key: 'announce_multiaddress', go: 'AnnounceMultiaddress', kind: 'list', def: [], prop: 'announceMultiaddress', check: 'multiaddrs' },
    // multiaddrs with /p2p/<id> dialed at start
    { key: 'bootstrap', go: 'Bootstrap', kind: 'list', def: [], prop: 'bootstrap', check: 'multiaddrs' },
    // kubo-style size ("10GB", "512MiB"; "0" = no limit): writes past it fail; reported as StorageMax
    { key: 'storage_max', go: 'StorageMax', kind: 'string', def: '10GB', prop: 'storageMaxBytes', convert: (v: string) => parseByteSize(v) },
    { key: 'connect_swarms_delay', go: 'ConnectSwarmsDelay', kind: 'duration', def: '30s', prop: 'connectSwarmsDelayMs' },
    { key: 'pin_timeout', go: 'PinTimeout', kind: 'duration', def: '2m0s', prop: 'pinTimeoutMs' },
    { key: 'unpin_timeout', go: 'UnpinTimeout', kind: 'duration', def: '3h0m0s', prop: 'unpinTimeoutMs' },
    { key: 'repogc_timeout', go: 'RepoGCTimeout', kind: 'duration', def: '24h0m0s', prop: 'repoGcTimeoutMs' },
    // block requests in flight at once while fetching a DAG
    { key: 'fetch_concurrency', go: 'FetchConcurrency', kind: 'int', def: 32, zeroIsDefault: true, prop: 'fetchConcurrency', min: 1 },
    // a pin without a new block for this long asks its peers again and redials its origins; "0s" = never
    { key: 'rewant_interval', go: 'RewantInterval', kind: 'duration', def: '10s', prop: 'rewantIntervalMs' },
    // read-only HTTP gateway (/ipfs/<cid>[/path], ?format=raw|car); "" = none
    {
      key: 'gateway_listen_multiaddress',
      go: 'GatewayListenMultiaddress',
      kind: 'string',
      def: '/ip4/127.0.0.1/tcp/8080',
      prop: 'gatewayListenMultiaddress',
      randomPort: true
    },
    // kubo-style swarm.key of a private IPFS network; "" = public network
    { key: 'swarm_key_file', go: 'SwarmKeyFile', kind: 'string', def: '', omitEmpty: true, prop: 'swarmKeyFile', path: true },
    { key: 'unpin_disable', go: 'UnpinDisable', kind: 'bool', def: false, omitEmpty: true, prop: 'unpinDisable' }
  ]
})

/** Upstream `pintracker/stateless/config.go` `Config`. */
export const STATELESS = section({
  fields: [
    {
      key: 'max_pin_queue_size',
      go: 'MaxPinQueueSize',
      kind: 'int',
      def: 1000000,
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'maxPinQueueSize',
      min: 1
    },
    { key: 'concurrent_pins', go: 'ConcurrentPins', kind: 'int', def: 10, zeroIsDefault: true, prop: 'concurrentPins', min: 1 },
    {
      key: 'priority_pin_max_age',
      go: 'PriorityPinMaxAge',
      kind: 'duration',
      def: '24h0m0s',
      prop: 'priorityPinMaxAgeMs',
      check: 'positive'
    },
    {
      key: 'priority_pin_max_retries',
      go: 'PriorityPinMaxRetries',
      kind: 'int',
      def: 5,
      zeroIsDefault: true,
      prop: 'priorityPinMaxRetries',
      min: 1
    }
  ]
})

/** Upstream `monitor/pubsubmon/config.go` `Config`. */
export const PUBSUBMON = section({
  fields: [
    { key: 'check_interval', go: 'CheckInterval', kind: 'duration', def: '15s', prop: 'checkIntervalMs', check: 'positive' }
  ]
})

/** Upstream `allocator/balanced/config.go` `Config`. */
export const BALANCED = section({
  fields: [
    // e.g. `["tag:group", "freespace"]`; empty = the default
    { key: 'allocate_by', go: 'AllocateBy', kind: 'list', def: ['tag:group', 'freespace'], prop: 'allocateBy', emptyIsDefault: true }
  ]
})

/** Upstream `informer/disk/config.go` `Config`. */
export const DISK = section({
  fields: [
    { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s', prop: 'metricTtlMs', check: 'positive' },
    {
      key: 'metric_type',
      go: 'MetricType',
      kind: 'string',
      def: 'freespace',
      prop: 'metricType',
      oneOf: { what: 'metric type', values: ['freespace', 'reposize'] }
    }
  ]
})

/** Upstream `informer/tags/config.go` `Config`. */
export const TAGS = section({
  fields: [
    { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s', prop: 'metricTtlMs', check: 'positive' },
    { key: 'tags', go: 'Tags', kind: 'map', def: { group: 'default' }, prop: 'tags' }
  ]
})

/** Upstream `informer/pinqueue/config.go` `Config`. */
export const PINQUEUE = section({
  fields: [
    { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s', prop: 'metricTtlMs', check: 'positive' },
    { key: 'weight_bucket_size', go: 'WeightBucketSize', kind: 'int', def: 100000, prop: 'weightBucketSize', min: 0 }
  ]
})

/** Upstream `observations/config.go` `MetricsConfig`. */
export const METRICS = section({
  fields: [
    { key: 'enable_stats', go: 'EnableStats', kind: 'bool', def: false, prop: 'enableStats' },
    {
      key: 'prometheus_endpoint',
      go: 'PrometheusEndpoint',
      kind: 'string',
      def: '/ip4/127.0.0.1/tcp/8888',
      prop: 'prometheusEndpoint',
      check: 'multiaddr'
    },
    { key: 'reporting_interval', go: 'ReportingInterval', kind: 'duration', def: '30s', prop: 'reportingIntervalMs' }
  ]
})

/** Upstream `observations/config.go` `TracingConfig`. */
export const TRACING = section({
  fields: [
    { key: 'enable_tracing', go: 'EnableTracing', kind: 'bool', def: false, prop: 'enableTracing' },
    {
      key: 'jaeger_agent_endpoint',
      go: 'JaegerAgentEndpoint',
      kind: 'string',
      def: '/ip4/0.0.0.0/udp/6831',
      prop: 'jaegerAgentEndpoint',
      check: 'multiaddr'
    },
    { key: 'sampling_prob', go: 'SamplingProb', kind: 'float', def: 0.3, prop: 'samplingProb' },
    { key: 'service_name', go: 'ServiceName', kind: 'string', def: 'cluster-daemon', prop: 'serviceName' }
  ],
  finish(c, io) {
    if (c.enableTracing && c.samplingProb < 0) throw io.fail('sampling_prob', 'must not be negative')
    return c
  }
})

/** goleveldb's zero `opt.Options`, as upstream writes `leveldb_options` by default. */
const DEFAULT_LEVELDB_OPTIONS: JsonValue = {
  block_cache_capacity: 0,
  block_cache_evict_removed: false,
  block_restart_interval: 0,
  block_size: 0,
  compaction_expand_limit_factor: 0,
  compaction_gp_overlaps_factor: 0,
  compaction_l0_trigger: 0,
  compaction_source_limit_factor: 0,
  compaction_table_size: 0,
  compaction_table_size_multiplier: 0,
  compaction_table_size_multiplier_per_level: null,
  compaction_total_size: 0,
  compaction_total_size_multiplier: 0,
  compaction_total_size_multiplier_per_level: null,
  compression: 0,
  disable_buffer_pool: false,
  disable_block_cache: false,
  disable_compaction_backoff: false,
  disable_large_batch_transaction: false,
  iterator_sampling_rate: 0,
  no_sync: false,
  no_write_merge: false,
  open_files_cache_capacity: 0,
  read_only: false,
  strict: 0,
  write_buffer: 0,
  write_l0_pause_trigger: 0,
  write_l0_slowdown_trigger: 0
}

/** Upstream `datastore/leveldb/config.go` `Config`. */
export const LEVELDB = section({
  fields: [
    // absolute folder of the datastore (`<config>/leveldb` by default)
    {
      key: 'folder',
      go: 'Folder',
      kind: 'string',
      def: 'leveldb',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'folder',
      path: true
    },
    // as written (goleveldb option names)
    { key: 'leveldb_options', go: 'LevelDBOptions', kind: 'raw', def: DEFAULT_LEVELDB_OPTIONS, noEnv: true, prop: 'leveldbOptions' }
  ]
})

/** Ours: the SQLite datastore (bun:sqlite / node:sqlite); the database file lives inside `folder`. */
export const SQLITE = section({
  fields: [
    // absolute folder of the datastore (`<config>/sqlite` by default)
    {
      key: 'folder',
      go: 'Folder',
      kind: 'string',
      def: 'sqlite',
      omitEmpty: true,
      hideDefault: true,
      zeroIsDefault: true,
      prop: 'folder',
      path: true
    }
  ]
})

/**
 * Top-level group -> component key -> section, in upstream's written order
 * (map keys sorted). `cluster` is the top-level `CLUSTER`.
 */
export const SECTIONS = {
  consensus: { crdt: CRDT, raft: RAFT },
  api: { ipfsproxy: IPFSPROXY, pinsvcapi: PINSVCAPI, restapi: RESTAPI },
  ipfs_connector: { bundled: BUNDLED, ipfshttp: IPFSHTTP },
  pin_tracker: { stateless: STATELESS },
  monitor: { pubsubmon: PUBSUBMON },
  allocator: { balanced: BALANCED },
  informer: { disk: DISK, pinqueue: PINQUEUE, tags: TAGS },
  observations: { metrics: METRICS, tracing: TRACING },
  datastore: { leveldb: LEVELDB, sqlite: SQLITE }
} as const

export type SectionGroup = keyof typeof SECTIONS

/** Groups whose components run only when their section is in the file (upstream); absent = null. */
export const OPTIONAL_GROUPS: readonly SectionGroup[] = ['api', 'informer']
