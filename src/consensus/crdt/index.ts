/**
 * CRDT consensus (upstream `consensus/crdt`, go-ds-crdt model and
 * encodings). One peer today: a no-op broadcaster and local blocks; a
 * cluster plugs in a gossipsub `Broadcaster` (topic: base58 of the MD5
 * multihash of `cluster_name`, messages only from trusted peers, see
 * `isTrustedPeer`) and a bitswap `DagSyncer` serving `blockstore`.
 *
 * @example
 * const consensus = createCrdtConsensus(init)({ datastore, onChange })
 * await consensus.start()
 * await consensus.logPin(pin)
 */
import { CrdtConsensus, type CrdtComponents, type CrdtInit } from './consensus.ts'

export type { Broadcaster, CrdtOp, DagSyncer } from './crdt.ts'
export { CrdtStore, decodeBroadcast, encodeBroadcast } from './crdt.ts'
export { blockId, CrdtBlockstore, decodeNode, makeNode } from './dag.ts'
export { localDagSyncer, MemoryBroadcastNetwork, memoryDagSyncer, noopBroadcaster } from './memory.ts'
export type { SetChange } from './set.ts'
export { CrdtConsensus, type CrdtBatchingConfig, type CrdtComponents, type CrdtInit } from './consensus.ts'

export { CRDT_DEFAULTS } from './defaults.ts'

/** Curried factory (js-libp2p style): `createCrdtConsensus(init)(components)`; also callable as `createCrdtConsensus(init, components)`. */
export function createCrdtConsensus(init: CrdtInit): (components: CrdtComponents) => CrdtConsensus
export function createCrdtConsensus(init: CrdtInit, components: CrdtComponents): CrdtConsensus
export function createCrdtConsensus(
  init: CrdtInit,
  components?: CrdtComponents
): CrdtConsensus | ((components: CrdtComponents) => CrdtConsensus) {
  if (components !== undefined) return new CrdtConsensus(init, components)
  return (c: CrdtComponents) => new CrdtConsensus(init, c)
}

/**
 * The gossipsub topic of the CRDT heads (upstream consensus.go): base58btc
 * of the MD5 multihash of `cluster_name`.
 */
export async function crdtTopic(clusterName: string): Promise<string> {
  const { createHash } = await import('node:crypto')
  const { base58btc } = await import('multiformats/bases/base58')
  const digest = createHash('md5').update(clusterName).digest()
  const mh = new Uint8Array(3 + digest.length)
  mh.set([0xd5, 0x01, digest.length], 0) // varint(0xd5 md5), length
  mh.set(digest, 3)
  return base58btc.baseEncode(mh)
}
