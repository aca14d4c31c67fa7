/**
 * Typed, camelCase views of the `service.json` sections. Durations are
 * numbers of MILLISECONDS (`...Ms`), multiaddrs are strings, relative paths
 * are resolved against the configuration folder (absolute here).
 * Keys and defaults mirror upstream v1.1.6 (see `sections.ts`).
 */
import type { JsonObject } from './schema.ts'

/** Upstream `cluster_config.go` `Config`. */
export interface ClusterConfig {
  /** Human-readable peer name; default: the hostname. */
  peername: string
  /** The 32-byte private network key (hex in JSON); null = no PSK (`"secret": ""`). */
  secret: Uint8Array | null
  leaveOnShutdown: boolean
  /** libp2p listen multiaddrs (TCP; QUIC entries are upstream's and may be ignored by our host). */
  listenMultiaddress: string[]
  announceMultiaddress: string[]
  noAnnounceMultiaddress: string[]
  enableRelayHop: boolean
  connectionManager: { highWater: number; lowWater: number; gracePeriodMs: number }
  resourceManager: { enabled: boolean; memoryLimitBytes: number; fileDescriptorsLimit: number }
  pubsub: {
    seenMessagesTtlMs: number
    heartbeatIntervalMs: number
    dFactor: number
    historyGossip: number
    historyLength: number
    floodPublish: boolean
  }
  dialPeerTimeoutMs: number
  stateSyncIntervalMs: number
  pinRecoverIntervalMs: number
  /** -1 = everywhere (then max is -1 too). */
  replicationFactorMin: number
  replicationFactorMax: number
  monitorPingIntervalMs: number
  peerWatchIntervalMs: number
  /** 0 = mDNS off. */
  mdnsIntervalMs: number
  pinOnlyOnTrustedPeers: boolean
  pinOnlyOnUntrustedPeers: boolean
  disableRepinning: boolean
  followerMode: boolean
  /** As written (`peerstore` when unset). */
  peerstoreFile: string
  /** Absolute path of the peerstore file. */
  peerstorePath: string
  /** Extra `/p2p/` multiaddrs to connect to first. */
  peerAddresses: string[]
}

/** Upstream `consensus/crdt/config.go` `Config`. */
export interface CrdtConfig {
  /** Pubsub topic / cluster name. */
  clusterName: string
  /** True when `trusted_peers` holds `"*"`. */
  trustAll: boolean
  /** Trusted peer IDs (empty when `trustAll`). */
  trustedPeers: string[]
  /** Batching is enabled when both maxBatchSize > 0 and maxBatchAgeMs > 0. */
  batching: { maxBatchSize: number; maxBatchAgeMs: number; maxQueueSize: number }
  repairIntervalMs: number
  rebroadcastIntervalMs: number
  peersetMetric: string
  datastoreNamespace: string
}

/** Upstream `api/common/config.go` `Config` (restapi and pinsvcapi). */
export interface RestApiConfig {
  /** `/ip4/…/tcp/…`, `/dns…/tcp/…` or `/unix/<path>`. */
  httpListenMultiaddress: string[]
  /** Absolute path or "" (no TLS). */
  sslCertFile: string
  sslKeyFile: string
  readTimeoutMs: number
  readHeaderTimeoutMs: number
  writeTimeoutMs: number
  idleTimeoutMs: number
  maxHeaderBytes: number
  libp2pListenMultiaddress: string[]
  /** Peer ID of the API's own libp2p host ("" when unused). */
  id: string
  /** base64 protobuf private key of that host ("" when unused). */
  privateKey: string
  /** user -> password; null = no authentication. */
  basicAuthCredentials: Record<string, string> | null
  /** Absolute path or "" (HTTP logs go to the `restapilog` logger). */
  httpLogFile: string
  headers: Record<string, string[]>
  corsAllowedOrigins: string[]
  corsAllowedMethods: string[]
  corsAllowedHeaders: string[]
  corsExposedHeaders: string[]
  corsAllowCredentials: boolean
  corsMaxAgeMs: number
}

/** Upstream `api/ipfsproxy/config.go` `Config`. */
export interface IpfsProxyConfig {
  listenMultiaddress: string[]
  nodeMultiaddress: string
  nodeHttps: boolean
  /** Absolute path or "". */
  logFile: string
  readTimeoutMs: number
  readHeaderTimeoutMs: number
  writeTimeoutMs: number
  idleTimeoutMs: number
  maxHeaderBytes: number
  extractHeadersExtra: string[]
  extractHeadersPath: string
  extractHeadersTtlMs: number
}

/** Upstream `ipfsconn/ipfshttp/config.go` `Config`. */
export interface IpfsHttpConfig {
  /** kubo RPC API multiaddr, e.g. `/ip4/127.0.0.1/tcp/5001`. */
  nodeMultiaddress: string
  connectSwarmsDelayMs: number
  ipfsRequestTimeoutMs: number
  pinTimeoutMs: number
  unpinTimeoutMs: number
  repoGcTimeoutMs: number
  /** Number of pins between informer metric triggers; 0 = disabled. */
  informerTriggerInterval: number
  unpinDisable: boolean
}

/** Upstream `pintracker/stateless/config.go` `Config`. */
export interface StatelessTrackerConfig {
  maxPinQueueSize: number
  concurrentPins: number
  priorityPinMaxAgeMs: number
  priorityPinMaxRetries: number
}

/** Upstream `monitor/pubsubmon/config.go` `Config`. */
export interface PubsubMonConfig {
  checkIntervalMs: number
}

/** Upstream `allocator/balanced/config.go` `Config`. */
export interface BalancedAllocatorConfig {
  /** e.g. `["tag:group", "freespace"]`. */
  allocateBy: string[]
}

/** Upstream `informer/disk/config.go` `Config`. */
export interface DiskInformerConfig {
  metricTtlMs: number
  metricType: 'freespace' | 'reposize'
}

/** Upstream `informer/tags/config.go` `Config`. */
export interface TagsInformerConfig {
  metricTtlMs: number
  tags: Record<string, string>
}

/** Upstream `informer/pinqueue/config.go` `Config`. */
export interface PinQueueInformerConfig {
  metricTtlMs: number
  weightBucketSize: number
}

/** Upstream `observations/config.go` `MetricsConfig`. */
export interface MetricsConfig {
  enableStats: boolean
  prometheusEndpoint: string
  reportingIntervalMs: number
}

/** Upstream `observations/config.go` `TracingConfig`. */
export interface TracingConfig {
  enableTracing: boolean
  jaegerAgentEndpoint: string
  samplingProb: number
  serviceName: string
}

/** The datastore chosen by the `datastore.<backend>` section. */
export interface DatastoreConfig {
  backend: 'sqlite' | 'leveldb'
  /** Absolute folder of the datastore (`<config>/sqlite` or `<config>/leveldb` by default). */
  folder: string
  /** `datastore.leveldb.leveldb_options` as written (goleveldb option names), when leveldb. */
  leveldbOptions?: JsonObject
}

/** The whole `service.json`, typed. */
export interface ServiceConfig {
  /** Absolute configuration folder. */
  folder: string
  /** The `source` URL when service.json was `{"source": url}`, else null. */
  source: string | null
  cluster: ClusterConfig
  consensus: { crdt: CrdtConfig }
  /** A null API section was absent from the file: that API does not run (upstream). */
  api: {
    restapi: RestApiConfig | null
    pinsvcapi: RestApiConfig | null
    ipfsproxy: IpfsProxyConfig | null
  }
  ipfsConnector: { ipfshttp: IpfsHttpConfig }
  pinTracker: { stateless: StatelessTrackerConfig }
  monitor: { pubsubmon: PubsubMonConfig }
  allocator: { balanced: BalancedAllocatorConfig }
  /** A null informer section was absent from the file: that informer does not run (upstream). */
  informer: {
    disk: DiskInformerConfig | null
    tags: TagsInformerConfig | null
    pinqueue: PinQueueInformerConfig | null
  }
  observations: { metrics: MetricsConfig; tracing: TracingConfig }
  datastore: DatastoreConfig
  /** The JSON as read (after following `source`), before defaults and environment. */
  raw: JsonObject
  /** The effective JSON (defaults and environment applied), in upstream's written layout. */
  json: JsonObject
}
