/**
 * Where the peers removed with `peers rm` are kept across restarts: one
 * JSON array of peer IDs at `/cluster/removed_peers` in the peer's
 * datastore, outside the crdt namespace (upstream forgets them, and a
 * removed crdt peer came back after a restart). The Cluster's
 * `removedPeers` component.
 */
import { Key, type Datastore } from 'interface-datastore'
import type { AbortOptions } from '../interfaces.ts'
import type { PeerId } from '../types/index.ts'

/** The datastore key of the removed peers. */
export const REMOVED_PEERS_KEY = new Key('/cluster/removed_peers')

export interface RemovedPeersStore {
  /** The removed peers; [] when none were ever saved. @throws Error when the stored value is not a JSON array of strings. */
  load(options?: AbortOptions): Promise<PeerId[]>
  /** Replaces the stored list. */
  save(peers: PeerId[], options?: AbortOptions): Promise<void>
}

export function datastoreRemovedPeers(datastore: Datastore): RemovedPeersStore {
  return {
    async load(options) {
      if (!(await datastore.has(REMOVED_PEERS_KEY, options))) return []
      const v: unknown = JSON.parse(new TextDecoder().decode(await datastore.get(REMOVED_PEERS_KEY, options)))
      if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) {
        throw new Error(`${REMOVED_PEERS_KEY.toString()}: not a JSON array of peer IDs`)
      }
      return v
    },
    async save(peers, options) {
      await datastore.put(REMOVED_PEERS_KEY, new TextEncoder().encode(JSON.stringify(peers)), options)
    }
  }
}
