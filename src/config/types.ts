/**
 * Typed, camelCase views of the `service.json` sections. Durations are
 * numbers of MILLISECONDS (`...Ms`), multiaddrs are strings, relative paths
 * are resolved against the configuration folder (absolute here).
 * Each section type is derived from its declaration in `sections.ts`
 * (keys, defaults, checks and property comments live there), so a key
 * cannot be added in one place only.
 */
import type {
  BALANCED,
  CLUSTER,
  CRDT,
  RAFT,
  DISK,
  BUNDLED,
  IPFSHTTP,
  IPFSPROXY,
  LEVELDB,
  METRICS,
  PINQUEUE,
  PUBSUBMON,
  RESTAPI,
  SECTIONS,
  SQLITE,
  STATELESS,
  TAGS,
  TRACING
} from './sections.ts'
import type { SectionConfig } from './typed.ts'
import type { JsonObject } from './schema.ts'

/** Upstream `cluster_config.go` `Config` (plus `peerstorePath`, absolute). */
export type ClusterConfig = SectionConfig<typeof CLUSTER>
/** Upstream `consensus/crdt/config.go` `Config` (plus `trustAll`: `trusted_peers` holds `"*"`). */
export type CrdtConfig = SectionConfig<typeof CRDT>
/** Upstream `consensus/raft/config.go` `Config` (with hashicorp/raft's keys), durations in ms. */
export type RaftConfig = SectionConfig<typeof RAFT>
/** Upstream `api/common/config.go` `Config` (restapi and pinsvcapi). */
export type RestApiConfig = SectionConfig<typeof RESTAPI>
/** Upstream `api/ipfsproxy/config.go` `Config`. */
export type IpfsProxyConfig = SectionConfig<typeof IPFSPROXY>
/** Ours: the bundled IPFS node (`ipfs_connector.bundled`). */
export type BundledConfig = SectionConfig<typeof BUNDLED>
/** Upstream `ipfsconn/ipfshttp/config.go` `Config`. */
export type IpfsHttpConfig = SectionConfig<typeof IPFSHTTP>
/** Upstream `pintracker/stateless/config.go` `Config`. */
export type StatelessTrackerConfig = SectionConfig<typeof STATELESS>
/** Upstream `monitor/pubsubmon/config.go` `Config`. */
export type PubsubMonConfig = SectionConfig<typeof PUBSUBMON>
/** Upstream `allocator/balanced/config.go` `Config`. */
export type BalancedAllocatorConfig = SectionConfig<typeof BALANCED>
/** Upstream `informer/disk/config.go` `Config`. */
export type DiskInformerConfig = SectionConfig<typeof DISK>
/** Upstream `informer/tags/config.go` `Config`. */
export type TagsInformerConfig = SectionConfig<typeof TAGS>
/** Upstream `informer/pinqueue/config.go` `Config`. */
export type PinQueueInformerConfig = SectionConfig<typeof PINQUEUE>
/** Upstream `observations/config.go` `MetricsConfig`. */
export type MetricsConfig = SectionConfig<typeof METRICS>
/** Upstream `observations/config.go` `TracingConfig`. */
export type TracingConfig = SectionConfig<typeof TRACING>

/**
 * The datastore chosen by the `datastore.<backend>` section: its absolute
 * `folder` and, for leveldb, `leveldbOptions` as written (goleveldb option names).
 */
export type DatastoreConfig = { backend: keyof typeof SECTIONS.datastore } & SectionConfig<typeof SQLITE> &
  Partial<SectionConfig<typeof LEVELDB>>

/** The whole `service.json`, typed. */
export interface ServiceConfig {
  /** Absolute configuration folder. */
  folder: string
  /** The `source` URL when service.json was `{"source": url}`, else null. */
  source: string | null
  cluster: ClusterConfig
  /** `raft` is null unless the file has a `consensus.raft` section (then it is the consensus; `crdt` holds unused defaults). */
  consensus: { crdt: CrdtConfig; raft: RaftConfig | null }
  /** A null API section was absent from the file: that API does not run (upstream). */
  api: {
    restapi: RestApiConfig | null
    pinsvcapi: RestApiConfig | null
    ipfsproxy: IpfsProxyConfig | null
  }
  /** `bundled` set (section present) = the embedded IPFS node replaces kubo. */
  ipfsConnector: { ipfshttp: IpfsHttpConfig; bundled: BundledConfig | null }
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

type CamelCase<S extends string> = S extends `${infer A}_${infer B}` ? `${A}${Capitalize<CamelCase<B>>}` : S
/** What the declarations of `SECTIONS` require of `ServiceConfig` (the datastore group is the chosen backend). */
type DeclaredGroups = {
  [G in Exclude<keyof typeof SECTIONS, 'datastore'> as CamelCase<G>]: {
    [C in keyof (typeof SECTIONS)[G]]: SectionConfig<(typeof SECTIONS)[G][C]> | null
  }
}
type Assert<T extends true> = T
/** Compile-time check: a section declared in `sections.ts` but missing from `ServiceConfig` fails the typecheck. */
export type ServiceConfigCoversDeclarations = Assert<ServiceConfig extends DeclaredGroups ? true : false>
