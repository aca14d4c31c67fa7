// The declarations of sections.ts drive everything: these tests check that each declared key
// is written by `service init`, reachable by its envconfig variable and present in the typed config,
// and that components' own defaults are the declared ones.
import { beforeAll, describe, expect, test } from 'bun:test'
import { DEFAULT_CORS } from '../../../src/api/rest/app.ts'
import { defaultServiceConfig, type JsonObject, parseServiceConfig, type ServiceConfig } from '../../../src/config/index.ts'
import type { FieldSpec, Json } from '../../../src/config/schema.ts'
import { envNames } from '../../../src/config/schema.ts'
import { CLUSTER, SECTIONS } from '../../../src/config/sections.ts'
import type { Section } from '../../../src/config/typed.ts'
import { CRDT_DEFAULTS } from '../../../src/consensus/crdt/index.ts'
import { defaultIpfsHttpInit } from '../../../src/ipfsconn/ipfshttp/index.ts'
import { DEFAULT_PROMETHEUS_ENDPOINT } from '../../../src/observability/metrics.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { defaultStatelessPinTrackerInit } from '../../../src/pintracker/index.ts'

beforeAll(() => {
  setLogReporters([{ log: () => {} }])
})

type Datastore = 'sqlite' | 'leveldb'

type ConsensusName = 'crdt' | 'raft'
type Ipfs = 'kubo' | 'bundled'

/** [json path, envconfig prefix, section] of every section `service init` writes for a datastore, a consensus and an IPFS node. */
function sections(datastore: Datastore, consensus: ConsensusName, ipfs: Ipfs = 'kubo'): Array<[string[], string, Section]> {
  const out: Array<[string[], string, Section]> = [[['cluster'], 'cluster', CLUSTER]]
  for (const [group, comps] of Object.entries(SECTIONS) as [string, Record<string, Section>][]) {
    for (const [key, spec] of Object.entries(comps)) {
      if (group === 'datastore' && key !== datastore) continue
      if (group === 'consensus' && key !== consensus) continue
      if (group === 'ipfs_connector' && key !== (ipfs === 'bundled' ? 'bundled' : 'ipfshttp')) continue
      // no IPFS proxy (a relay to kubo) with the bundled node
      if (ipfs === 'bundled' && group === 'api' && key === 'ipfsproxy') continue
      out.push([[group, key], `cluster_${key}`, spec])
    }
  }
  return out
}

/** Every field with its JSON path and envconfig variable, nested structs flattened. */
function walk(fields: readonly FieldSpec[], path: string[], env: string): Array<{ f: FieldSpec; path: string[]; env: string }> {
  const out: Array<{ f: FieldSpec; path: string[]; env: string }> = []
  for (const f of fields) {
    const name = `${env}_${f.go}`.toUpperCase()
    out.push({ f, path: [...path, f.key], env: name })
    if (f.kind === 'object') out.push(...walk(f.fields ?? [], [...path, f.key], name))
  }
  return out
}

function at(o: unknown, path: string[]): unknown {
  let v = o
  for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k]
  return v
}

function isEmptyJson(v: unknown): boolean {
  return v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0)
}

/** Upstream's ToJSON leaves an `omitempty` key out while it is empty (or hidden because it is the default). */
function hiddenByDefault(f: FieldSpec): boolean {
  return f.omitEmpty === true && (f.hideDefault === true || isEmptyJson(f.def))
}

/** The typed object of a section in a ServiceConfig. */
function typedOf(c: ServiceConfig, path: string[]): unknown {
  if (path[0] === 'cluster') return c.cluster
  if (path[0] === 'datastore') return c.datastore
  const group = (path[0] ?? '').replace(/_(\w)/g, (_, x: string) => x.toUpperCase())
  return at(c, [group, ...path.slice(1)])
}

for (const [datastore, consensus, ipfs] of [
  ['sqlite', 'crdt', 'kubo'],
  ['leveldb', 'crdt', 'kubo'],
  ['sqlite', 'raft', 'kubo'],
  ['sqlite', 'crdt', 'bundled']
] as const) {
  describe(`declarations (${datastore}, ${consensus}, ${ipfs})`, () => {
    let init: JsonObject
    beforeAll(async () => {
      init = await defaultServiceConfig({ datastore, consensus, ipfs, peerName: 'p', secret: 'ab'.repeat(32) })
    })

    test('service init writes every declared key, and only those', () => {
      for (const [path, env, spec] of sections(datastore, consensus, ipfs)) {
        const fields = walk(spec.fields, path, env)
        for (const { f, path: p } of fields) {
          const parent = at(init, p.slice(0, -1)) as JsonObject
          expect({ key: p.join('.'), written: f.key in parent }).toEqual({ key: p.join('.'), written: !hiddenByDefault(f) })
        }
        // nothing written that is not declared
        const declared = new Set(fields.map(({ path: p }) => p.join('.')))
        const written = (o: unknown, p: string[]): string[] =>
          Object.entries(o as JsonObject).flatMap(([k, v]) => {
            const f = fields.find(({ path: q }) => q.join('.') === [...p, k].join('.'))?.f
            return f?.kind === 'object' ? [[...p, k].join('.'), ...written(v, [...p, k])] : [[...p, k].join('.')]
          })
        for (const k of written(at(init, path), path)) expect({ k, declared: declared.has(k) }).toEqual({ k, declared: true })
      }
    })

    test('every scalar key is reachable by its envconfig variable, and no two keys share one', () => {
      const all = sections(datastore, consensus, ipfs).flatMap(([path, env, spec]) => walk(spec.fields, path, env))
      const names = sections(datastore, consensus, ipfs).flatMap(([, env, spec]) => envNames(spec.fields, env))
      expect(new Set(names).size).toBe(names.length)
      // engine options are the only key upstream's envconfig cannot set
      expect(all.filter(({ f }) => f.noEnv === true).map(({ path }) => path.join('.'))).toEqual(
        datastore === 'leveldb' ? ['datastore.leveldb.leveldb_options'] : []
      )
      for (const { f, env } of all) {
        if (f.noEnv === true || f.kind === 'object') {
          expect(names).not.toContain(env)
          continue
        }
        expect(names).toContain(env)
        // an unparseable value must be reported under this variable's name: it reached the field
        if (f.kind === 'int' || f.kind === 'float' || f.kind === 'bool' || f.kind === 'duration') {
          expect(() => parseServiceConfig(init, { folder: '/cfg', env: { [env]: 'not-a-value' } })).toThrow(env)
        }
      }
    })

    test('every declared key has a typed property, unique in its struct and set in the typed config', () => {
      const c = parseServiceConfig(init, { folder: '/cfg', env: {} })
      for (const [path, , spec] of sections(datastore, consensus, ipfs)) {
        const check = (fields: readonly FieldSpec[], typed: unknown, p: string[]): void => {
          const props = fields.map((f) => f.prop)
          expect(new Set(props).size).toBe(props.length)
          for (const f of fields) {
            expect({ key: [...p, f.key].join('.'), prop: typeof f.prop }).toEqual({ key: [...p, f.key].join('.'), prop: 'string' })
            const v = (typed as Record<string, unknown>)[f.prop ?? '']
            expect({ key: [...p, f.key].join('.'), set: v !== undefined }).toEqual({ key: [...p, f.key].join('.'), set: true })
            if (f.kind === 'object') check(f.fields ?? [], v, [...p, f.key])
          }
        }
        check(spec.fields, typedOf(c, path), path)
      }
    })
  })
}

describe("components' defaults are the declared ones", () => {
  let c: ServiceConfig
  beforeAll(() => {
    c = parseServiceConfig({ cluster: { secret: '' }, api: { restapi: {} } }, { folder: '/cfg', env: {} })
  })

  test('ipfshttp and the stateless tracker', () => {
    expect(defaultIpfsHttpInit()).toEqual(c.ipfsConnector.ipfshttp)
    expect(defaultStatelessPinTrackerInit('peer', 'name')).toEqual({
      peerId: 'peer',
      peerName: 'name',
      ...c.pinTracker.stateless,
      pinRecoverIntervalMs: c.cluster.pinRecoverIntervalMs,
      stateSyncIntervalMs: c.cluster.stateSyncIntervalMs
    })
    // fresh objects: a caller's change does not leak into the next defaults
    const d = defaultIpfsHttpInit()
    d.pinTimeoutMs = 1
    expect(defaultIpfsHttpInit().pinTimeoutMs).toBe(c.ipfsConnector.ipfshttp.pinTimeoutMs)
  })

  test('REST API CORS, metrics endpoint, crdt', () => {
    const rest = c.api.restapi as Record<string, Json>
    for (const [k, v] of Object.entries(DEFAULT_CORS)) expect(v).toEqual(rest[k] as never)
    expect(DEFAULT_PROMETHEUS_ENDPOINT).toBe(c.observations.metrics.prometheusEndpoint)
    const crdt = c.consensus.crdt
    expect(CRDT_DEFAULTS).toEqual({
      clusterName: crdt.clusterName,
      trustedPeers: ['*'],
      batching: crdt.batching,
      rebroadcastIntervalMs: crdt.rebroadcastIntervalMs,
      repairIntervalMs: crdt.repairIntervalMs,
      namespace: crdt.datastoreNamespace
    })
  })
})
