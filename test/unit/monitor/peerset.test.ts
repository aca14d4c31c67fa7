import { describe, expect, test } from 'bun:test'
import { MemoryDatastore } from 'datastore-core'
import { createCrdtConsensus } from '../../../src/consensus/crdt/index.ts'
import { peersetFromMetric } from '../../../src/monitor/peerset.ts'
import type { Metric } from '../../../src/types/index.ts'

const m = (name: string, peer: string, expireInMs: number, valid = true): Metric => ({
  name,
  peer,
  value: '',
  expire: (Date.now() + expireInMs) * 1e6,
  valid,
  weight: 0,
  partitionable: false,
  receivedAt: Date.now() * 1e6
})

const monitor = (metrics: Metric[]) => ({ latestMetrics: async (name: string) => metrics.filter((x) => x.name === name) })

describe('the crdt peerset', () => {
  test('peers with a valid, unexpired metric of the configured name, plus this peer, sorted', async () => {
    const mon = monitor([m('ping', 'pC', 10_000), m('ping', 'pB', -1), m('ping', 'pD', 10_000, false), m('alive', 'pE', 10_000)])
    expect(await peersetFromMetric(mon, 'pA')()).toEqual(['pA', 'pC'])
    expect(await peersetFromMetric(mon, 'pA', 'alive')()).toEqual(['pA', 'pE'])
    expect(await peersetFromMetric(mon, 'pZ', 'ping', (p) => p === 'pC')()).toEqual(['pZ'])
  })

  test('the crdt consensus answers peers() from it (upstream Peers), and this peer alone without one', async () => {
    const init = {
      peerId: 'pB',
      clusterName: 'c',
      trustedPeers: ['*'],
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 10 },
      rebroadcastIntervalMs: 0,
      repairIntervalMs: 0
    }
    const online = createCrdtConsensus(init, { datastore: new MemoryDatastore(), peerset: async () => ['pC', 'pA'] })
    expect(await online.peers()).toEqual(['pA', 'pB', 'pC'])
    const offline = createCrdtConsensus(init, { datastore: new MemoryDatastore() })
    expect(await offline.peers()).toEqual(['pB'])
  })
})
