/**
 * Helpers the daemon uses to wire the multi-peer Cluster to the host
 * (upstream `peer_manager`/`pstoremgr`: `PeerInfos`).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { AbortOptions } from '../interfaces.ts'
import type { PeerId } from '../types/index.ts'

/** The part of a libp2p node's peer store this needs. */
export interface PeerStoreLike {
  peerStore: {
    get(peerId: ReturnType<typeof peerIdFromString>, options?: AbortOptions): Promise<{ addresses: { multiaddr: { toString(): string } }[] }>
  }
}

/**
 * `ClusterInit.peerAddresses` from a libp2p peer store: every known
 * address of each peer, as `<multiaddr>/p2p/<peer>`; unknown or invalid
 * peers are skipped.
 */
export function peerStoreAddresses(libp2p: PeerStoreLike): (peers: PeerId[], options?: AbortOptions) => Promise<string[]> {
  return async (peers, options) => {
    const out: string[] = []
    for (const p of peers) {
      try {
        const info = await libp2p.peerStore.get(peerIdFromString(p), options)
        for (const a of info.addresses) {
          const s = a.multiaddr.toString()
          out.push(s.includes('/p2p/') ? s : `${s}/p2p/${p}`)
        }
      } catch {
        // not in the peer store
      }
    }
    return out
  }
}
