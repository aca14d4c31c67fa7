/** Shared by the crdt consensus unit tests. */
import type { CrdtInit } from '../../../src/consensus/crdt/index.ts'

/** A one-peer crdt init: trust all, no batching, no rebroadcast, no repair (unless overridden). */
export function crdtInit(over: Partial<CrdtInit> = {}): CrdtInit {
  return {
    peerId: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
    clusterName: 'test',
    trustedPeers: ['*'],
    batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 50000 },
    rebroadcastIntervalMs: 0,
    repairIntervalMs: 0,
    ...over
  }
}
