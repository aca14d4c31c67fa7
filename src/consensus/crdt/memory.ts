/**
 * In-process Broadcaster and DagSyncer, to connect several CRDT consensus
 * instances in one process (tests), and the single-peer defaults.
 */
import type { CID } from 'multiformats/cid'
import { NotFoundError } from '../../errors.ts'
import type { AbortOptions } from '../../interfaces.ts'
import type { Broadcaster, DagSyncer } from './crdt.ts'
import type { CrdtBlockstore } from './dag.ts'

/** A broadcaster that sends nothing and never receives (single peer). */
export function noopBroadcaster(): Broadcaster {
  return {
    async broadcast() {},
    next(signal: AbortSignal): Promise<Uint8Array> {
      return new Promise((_resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason)
          return
        }
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      })
    }
  }
}

/** A DagSyncer that only knows local blocks (single peer). */
export function localDagSyncer(blocks: CrdtBlockstore): DagSyncer {
  return {
    getBlock: (cid, options) => blocks.get(cid, options),
    async putBlock() {}
  }
}

/**
 * An in-memory pubsub topic: every broadcaster it creates delivers each
 * message to every other broadcaster (not to itself), like gossipsub.
 * `connected = false` drops messages (simulates a partition).
 */
export class MemoryBroadcastNetwork {
  private readonly members = new Set<MemberQueue>()
  connected = true

  broadcaster(): Broadcaster {
    const me = new MemberQueue()
    this.members.add(me)
    return {
      broadcast: async (data: Uint8Array) => {
        if (!this.connected) return
        for (const m of this.members) if (m !== me) m.push(data)
      },
      next: (signal: AbortSignal) => me.next(signal)
    }
  }
}

class MemoryQueue {
  protected readonly items: Uint8Array[] = []
  protected waiter: ((d: Uint8Array) => void) | undefined
}

class MemberQueue extends MemoryQueue {
  push(d: Uint8Array): void {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w(d)
    } else this.items.push(d)
  }

  next(signal: AbortSignal): Promise<Uint8Array> {
    const first = this.items.shift()
    if (first !== undefined) return Promise.resolve(first)
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason)
        return
      }
      const onAbort = (): void => {
        this.waiter = undefined
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiter = (d) => {
        signal.removeEventListener('abort', onAbort)
        resolve(d)
      }
    })
  }
}

/** A DagSyncer that fetches blocks from other in-process blockstores (a stand-in for bitswap). */
export function memoryDagSyncer(peers: () => CrdtBlockstore[]): DagSyncer {
  return {
    async getBlock(cid: CID, options?: AbortOptions): Promise<Uint8Array> {
      for (const p of peers()) {
        options?.signal?.throwIfAborted()
        if (await p.has(cid, options)) return await p.get(cid, options)
      }
      throw new NotFoundError(`block not found on any peer: ${cid.toString()}`)
    },
    async putBlock() {}
  }
}
