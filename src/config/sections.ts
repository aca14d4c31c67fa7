/**
 * The JSON layout of every `service.json` section, field by field, as
 * upstream v1.1.6 writes it. Mirrors the `configJSON`/`jsonConfig` structs of
 * `cluster_config.go`, `consensus/crdt/config.go`, `api/common/config.go`,
 * `api/rest/config.go`, `api/pinsvcapi/config.go`, `api/ipfsproxy/config.go`,
 * `ipfsconn/ipfshttp/config.go`, `pintracker/stateless/config.go`,
 * `monitor/pubsubmon/config.go`, `allocator/balanced/config.go`,
 * `informer/{disk,tags,pinqueue}/config.go`, `observations/config.go`,
 * `datastore/leveldb/config.go`; `datastore.sqlite` is ours.
 * The `go` names are the Go struct fields envconfig turns into variables.
 */
import type { FieldSpec, Json } from './schema.ts'

const DEFAULT_CORS_EXPOSED_HEADERS = ['Content-Type', 'X-Stream-Output', 'X-Chunked-Output', 'X-Content-Length']

export const CLUSTER_FIELDS: FieldSpec[] = [
  { key: 'peername', go: 'Peername', kind: 'string', def: '', zeroIsDefault: true },
  { key: 'secret', go: 'Secret', kind: 'string', def: '' },
  { key: 'leave_on_shutdown', go: 'LeaveOnShutdown', kind: 'bool', def: false },
  {
    key: 'listen_multiaddress',
    go: 'ListenMultiaddress',
    kind: 'strings',
    def: ['/ip4/0.0.0.0/tcp/9096', '/ip4/0.0.0.0/udp/9096/quic']
  },
  { key: 'announce_multiaddress', go: 'AnnounceMultiaddress', kind: 'strings', def: [] },
  { key: 'no_announce_multiaddress', go: 'NoAnnounceMultiaddress', kind: 'strings', def: [] },
  { key: 'enable_relay_hop', go: 'EnableRelayHop', kind: 'bool', def: true },
  {
    key: 'connection_manager',
    go: 'ConnectionManager',
    kind: 'object',
    def: null,
    fields: [
      { key: 'high_water', go: 'HighWater', kind: 'int', def: 400 },
      { key: 'low_water', go: 'LowWater', kind: 'int', def: 100 },
      { key: 'grace_period', go: 'GracePeriod', kind: 'duration', def: '2m0s' }
    ]
  },
  {
    key: 'resource_manager',
    go: 'ResourceManager',
    kind: 'object',
    def: null,
    fields: [
      { key: 'enabled', go: 'Enabled', kind: 'bool', def: true },
      { key: 'memory_limit_bytes', go: 'MemoryLimitBytes', kind: 'int', def: 0 },
      { key: 'file_descriptors_limit', go: 'FileDescriptorsLimit', kind: 'int', def: 0 }
    ]
  },
  {
    key: 'pubsub',
    go: 'PubSub',
    kind: 'object',
    def: null,
    fields: [
      { key: 'seen_messages_ttl', go: 'SeenMessagesTTL', kind: 'duration', def: '30m0s' },
      { key: 'heartbeat_interval', go: 'HeartbeatInterval', kind: 'duration', def: '10s' },
      { key: 'd_factor', go: 'DFactor', kind: 'int', def: 4 },
      { key: 'history_gossip', go: 'HistoryGossip', kind: 'int', def: 2 },
      { key: 'history_length', go: 'HistoryLength', kind: 'int', def: 6 },
      { key: 'flood_publish', go: 'FloodPublish', kind: 'bool', def: false }
    ]
  },
  { key: 'dial_peer_timeout', go: 'DialPeerTimeout', kind: 'duration', def: '3s' },
  { key: 'state_sync_interval', go: 'StateSyncInterval', kind: 'duration', def: '5m0s' },
  { key: 'pin_recover_interval', go: 'PinRecoverInterval', kind: 'duration', def: '12m0s' },
  { key: 'replication_factor_min', go: 'ReplicationFactorMin', kind: 'int', def: -1, zeroIsDefault: true },
  { key: 'replication_factor_max', go: 'ReplicationFactorMax', kind: 'int', def: -1, zeroIsDefault: true },
  { key: 'monitor_ping_interval', go: 'MonitorPingInterval', kind: 'duration', def: '15s' },
  { key: 'peer_watch_interval', go: 'PeerWatchInterval', kind: 'duration', def: '5s' },
  { key: 'mdns_interval', go: 'MDNSInterval', kind: 'duration', def: '10s' },
  { key: 'pin_only_on_trusted_peers', go: 'PinOnlyOnTrustedPeers', kind: 'bool', def: false },
  { key: 'pin_only_on_untrusted_peers', go: 'PinOnlyOnUntrustedPeers', kind: 'bool', def: false },
  { key: 'disable_repinning', go: 'DisableRepinning', kind: 'bool', def: true },
  { key: 'follower_mode', go: 'FollowerMode', kind: 'bool', def: false, omitEmpty: true },
  { key: 'peerstore_file', go: 'PeerstoreFile', kind: 'string', def: '', omitEmpty: true },
  { key: 'peer_addresses', go: 'PeerAddresses', kind: 'list', def: [] }
]

export const CRDT_FIELDS: FieldSpec[] = [
  { key: 'cluster_name', go: 'ClusterName', kind: 'string', def: 'ipfs-cluster', zeroIsDefault: true },
  { key: 'trusted_peers', go: 'TrustedPeers', kind: 'list', def: ['*'] },
  {
    key: 'batching',
    go: 'Batching',
    kind: 'object',
    def: null,
    fields: [
      { key: 'max_batch_size', go: 'MaxBatchSize', kind: 'int', def: 0 },
      { key: 'max_batch_age', go: 'MaxBatchAge', kind: 'duration', def: '0s' },
      {
        key: 'max_queue_size',
        go: 'MaxQueueSize',
        kind: 'int',
        def: 50000,
        omitEmpty: true,
        hideDefault: true,
        zeroIsDefault: true
      }
    ]
  },
  { key: 'repair_interval', go: 'RepairInterval', kind: 'duration', def: '1h0m0s' },
  {
    key: 'rebroadcast_interval',
    go: 'RebroadcastInterval',
    kind: 'duration',
    def: '1m0s',
    omitEmpty: true,
    hideDefault: true
  },
  {
    key: 'peerset_metric',
    go: 'PeersetMetric',
    kind: 'string',
    def: 'ping',
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  },
  {
    key: 'datastore_namespace',
    go: 'DatastoreNamespace',
    kind: 'string',
    def: '/c',
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  }
]

/** `api/common` fields shared by `restapi` and `pinsvcapi`; only the listen address differs. */
function httpApiFields(listen: string): FieldSpec[] {
  return [
    { key: 'http_listen_multiaddress', go: 'HTTPListenMultiaddress', kind: 'strings', def: [listen] },
    { key: 'ssl_cert_file', go: 'SSLCertFile', kind: 'string', def: '', omitEmpty: true },
    { key: 'ssl_key_file', go: 'SSLKeyFile', kind: 'string', def: '', omitEmpty: true },
    { key: 'read_timeout', go: 'ReadTimeout', kind: 'duration', def: '0s' },
    { key: 'read_header_timeout', go: 'ReadHeaderTimeout', kind: 'duration', def: '5s' },
    { key: 'write_timeout', go: 'WriteTimeout', kind: 'duration', def: '0s' },
    { key: 'idle_timeout', go: 'IdleTimeout', kind: 'duration', def: '2m0s' },
    { key: 'max_header_bytes', go: 'MaxHeaderBytes', kind: 'int', def: 4096, zeroIsDefault: true },
    {
      key: 'libp2p_listen_multiaddress',
      go: 'Libp2pListenMultiaddress',
      kind: 'strings',
      def: [],
      omitEmpty: true
    },
    { key: 'id', go: 'ID', kind: 'string', def: '', omitEmpty: true },
    { key: 'private_key', go: 'PrivateKey', kind: 'string', def: '', omitEmpty: true },
    { key: 'basic_auth_credentials', go: 'BasicAuthCredentials', kind: 'map', def: null, nullable: true },
    { key: 'http_log_file', go: 'HTTPLogFile', kind: 'string', def: '' },
    { key: 'headers', go: 'Headers', kind: 'mapList', def: {} },
    { key: 'cors_allowed_origins', go: 'CORSAllowedOrigins', kind: 'list', def: ['*'] },
    { key: 'cors_allowed_methods', go: 'CORSAllowedMethods', kind: 'list', def: ['GET'] },
    { key: 'cors_allowed_headers', go: 'CORSAllowedHeaders', kind: 'list', def: [] },
    { key: 'cors_exposed_headers', go: 'CORSExposedHeaders', kind: 'list', def: DEFAULT_CORS_EXPOSED_HEADERS },
    { key: 'cors_allow_credentials', go: 'CORSAllowCredentials', kind: 'bool', def: true },
    { key: 'cors_max_age', go: 'CORSMaxAge', kind: 'duration', def: '0s' }
  ]
}

export const RESTAPI_FIELDS: FieldSpec[] = httpApiFields('/ip4/127.0.0.1/tcp/9094')
export const PINSVCAPI_FIELDS: FieldSpec[] = httpApiFields('/ip4/127.0.0.1/tcp/9097')

export const IPFSPROXY_FIELDS: FieldSpec[] = [
  { key: 'listen_multiaddress', go: 'ListenMultiaddress', kind: 'strings', def: ['/ip4/127.0.0.1/tcp/9095'] },
  { key: 'node_multiaddress', go: 'NodeMultiaddress', kind: 'string', def: '/ip4/127.0.0.1/tcp/5001', zeroIsDefault: true },
  { key: 'node_https', go: 'NodeHTTPS', kind: 'bool', def: false, omitEmpty: true },
  { key: 'log_file', go: 'LogFile', kind: 'string', def: '' },
  { key: 'read_timeout', go: 'ReadTimeout', kind: 'duration', def: '0s' },
  { key: 'read_header_timeout', go: 'ReadHeaderTimeout', kind: 'duration', def: '5s' },
  { key: 'write_timeout', go: 'WriteTimeout', kind: 'duration', def: '0s' },
  { key: 'idle_timeout', go: 'IdleTimeout', kind: 'duration', def: '1m0s' },
  { key: 'max_header_bytes', go: 'MaxHeaderBytes', kind: 'int', def: 4096, zeroIsDefault: true },
  { key: 'extract_headers_extra', go: 'ExtractHeadersExtra', kind: 'list', def: [], omitEmpty: true },
  {
    key: 'extract_headers_path',
    go: 'ExtractHeadersPath',
    kind: 'string',
    def: '/api/v0/version',
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  },
  {
    key: 'extract_headers_ttl',
    go: 'ExtractHeadersTTL',
    kind: 'duration',
    def: '5m0s',
    omitEmpty: true,
    hideDefault: true
  }
]

export const IPFSHTTP_FIELDS: FieldSpec[] = [
  { key: 'node_multiaddress', go: 'NodeMultiaddress', kind: 'string', def: '/ip4/127.0.0.1/tcp/5001' },
  { key: 'connect_swarms_delay', go: 'ConnectSwarmsDelay', kind: 'duration', def: '30s' },
  { key: 'ipfs_request_timeout', go: 'IPFSRequestTimeout', kind: 'duration', def: '5m0s' },
  { key: 'pin_timeout', go: 'PinTimeout', kind: 'duration', def: '2m0s' },
  { key: 'unpin_timeout', go: 'UnpinTimeout', kind: 'duration', def: '3h0m0s' },
  { key: 'repogc_timeout', go: 'RepoGCTimeout', kind: 'duration', def: '24h0m0s' },
  { key: 'informer_trigger_interval', go: 'InformerTriggerInterval', kind: 'int', def: 0 },
  { key: 'unpin_disable', go: 'UnpinDisable', kind: 'bool', def: false, omitEmpty: true }
]

export const STATELESS_FIELDS: FieldSpec[] = [
  {
    key: 'max_pin_queue_size',
    go: 'MaxPinQueueSize',
    kind: 'int',
    def: 1000000,
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  },
  { key: 'concurrent_pins', go: 'ConcurrentPins', kind: 'int', def: 10, zeroIsDefault: true },
  { key: 'priority_pin_max_age', go: 'PriorityPinMaxAge', kind: 'duration', def: '24h0m0s' },
  { key: 'priority_pin_max_retries', go: 'PriorityPinMaxRetries', kind: 'int', def: 5, zeroIsDefault: true }
]

export const PUBSUBMON_FIELDS: FieldSpec[] = [
  { key: 'check_interval', go: 'CheckInterval', kind: 'duration', def: '15s' }
]

export const BALANCED_FIELDS: FieldSpec[] = [
  { key: 'allocate_by', go: 'AllocateBy', kind: 'list', def: ['tag:group', 'freespace'] }
]

export const DISK_FIELDS: FieldSpec[] = [
  { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s' },
  { key: 'metric_type', go: 'MetricType', kind: 'string', def: 'freespace' }
]

export const TAGS_FIELDS: FieldSpec[] = [
  { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s' },
  { key: 'tags', go: 'Tags', kind: 'map', def: { group: 'default' } }
]

export const PINQUEUE_FIELDS: FieldSpec[] = [
  { key: 'metric_ttl', go: 'MetricTTL', kind: 'duration', def: '30s' },
  { key: 'weight_bucket_size', go: 'WeightBucketSize', kind: 'int', def: 100000 }
]

export const METRICS_FIELDS: FieldSpec[] = [
  { key: 'enable_stats', go: 'EnableStats', kind: 'bool', def: false },
  { key: 'prometheus_endpoint', go: 'PrometheusEndpoint', kind: 'string', def: '/ip4/127.0.0.1/tcp/8888' },
  { key: 'reporting_interval', go: 'ReportingInterval', kind: 'duration', def: '30s' }
]

export const TRACING_FIELDS: FieldSpec[] = [
  { key: 'enable_tracing', go: 'EnableTracing', kind: 'bool', def: false },
  { key: 'jaeger_agent_endpoint', go: 'JaegerAgentEndpoint', kind: 'string', def: '/ip4/0.0.0.0/udp/6831' },
  { key: 'sampling_prob', go: 'SamplingProb', kind: 'float', def: 0.3 },
  { key: 'service_name', go: 'ServiceName', kind: 'string', def: 'cluster-daemon' }
]

/** goleveldb's zero `opt.Options`, as upstream writes `leveldb_options` by default. */
const DEFAULT_LEVELDB_OPTIONS: Json = {
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

export const LEVELDB_FIELDS: FieldSpec[] = [
  {
    key: 'folder',
    go: 'Folder',
    kind: 'string',
    def: 'leveldb',
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  },
  { key: 'leveldb_options', go: 'LevelDBOptions', kind: 'raw', def: DEFAULT_LEVELDB_OPTIONS, noEnv: true }
]

/** Ours: the SQLite datastore (bun:sqlite / node:sqlite); the database file lives inside `folder`. */
export const SQLITE_FIELDS: FieldSpec[] = [
  {
    key: 'folder',
    go: 'Folder',
    kind: 'string',
    def: 'sqlite',
    omitEmpty: true,
    hideDefault: true,
    zeroIsDefault: true
  }
]

/** Top-level group -> component key -> fields, in upstream's written order (map keys sorted). */
export const SECTION_FIELDS = {
  consensus: { crdt: CRDT_FIELDS },
  api: { ipfsproxy: IPFSPROXY_FIELDS, pinsvcapi: PINSVCAPI_FIELDS, restapi: RESTAPI_FIELDS },
  ipfs_connector: { ipfshttp: IPFSHTTP_FIELDS },
  pin_tracker: { stateless: STATELESS_FIELDS },
  monitor: { pubsubmon: PUBSUBMON_FIELDS },
  allocator: { balanced: BALANCED_FIELDS },
  informer: { disk: DISK_FIELDS, pinqueue: PINQUEUE_FIELDS, tags: TAGS_FIELDS },
  observations: { metrics: METRICS_FIELDS, tracing: TRACING_FIELDS },
  datastore: { leveldb: LEVELDB_FIELDS, sqlite: SQLITE_FIELDS }
} as const satisfies Record<string, Record<string, FieldSpec[]>>

export type SectionGroup = keyof typeof SECTION_FIELDS
