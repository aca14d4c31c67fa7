/**
 * Keeps gossipsub talking to every connected peer when a peer has several
 * connections and one of them dies (issue 11, the flapping link).
 *
 * js-libp2p can hold two connections to one peer: after a heal both peers'
 * peer watches dial each other at once, one connection in each direction.
 * `@libp2p/gossipsub` (17.x) keeps one outbound and one inbound stream per
 * peer, on whichever connection opened them, and only opens streams when a
 * connection is identified (`peer:identify`) or when the remote opens one.
 * When the connection carrying its streams dies while another one stays up:
 * - the outbound stream's `close` removes it, and none is opened on the
 *   surviving connection ("Cannot send RPC … no open stream"): this peer's
 *   messages (ping metrics, CRDT heads) never reach that peer again;
 * - an error on the inbound stream makes gossipsub drop the peer altogether
 *   (`handlePeerReadStreamError` → `removePeer`) although it is connected.
 * No `peer:disconnect` follows (a connection remains), so gossipsub never
 * repairs either state: the remote logs this peer's ping alert and never
 * hears it again, until the surviving connection also dies.
 *
 * Every `intervalMs` the keeper looks at each peer with an open connection
 * whose protocols include gossipsub's: when gossipsub does not list it
 * (`getPeers()`) or no open connection carries an open outbound gossipsub
 * stream, on two checks in a row (a new connection gets its streams within
 * one check), it runs identify again on the peer's newest open connection.
 * Identify emits `peer:identify`, and gossipsub's topology handler adds the
 * peer and opens its outbound stream on that connection (public APIs only).
 * Upstream has no such gap: go-libp2p-pubsub (v0.16.0 `pubsub.go`
 * `handleDeadPeers`), when a peer's stream dies while the peer is still
 * connected ("must be a duplicate connection being closed"), opens a new
 * writer stream at once.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import { errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'

const log = getLogger('p2p')

/** The part of the host's libp2p node the keeper uses. */
export type KeeperLibp2p = Pick<Libp2p<{ pubsub: GossipSub; identify: Identify }>, 'getConnections' | 'peerStore' | 'services'>

/** ms a re-identify may take before the keeper gives up on it (tried again on a later check). */
const IDENTIFY_TIMEOUT_MS = 5_000

export class PubsubStreamKeeper {
  private readonly libp2p: KeeperLibp2p
  private readonly intervalMs: number
  private timer: ReturnType<typeof setInterval> | undefined
  /** peers seen without gossipsub streams on the last check */
  private suspects = new Set<string>()
  private readonly repairing = new Set<string>()
  private checking = false
  /** how many times a peer's gossipsub streams were re-opened since start */
  repairs = 0

  /** @param intervalMs ms between two checks (> 0). */
  constructor(libp2p: KeeperLibp2p, intervalMs: number) {
    this.libp2p = libp2p
    this.intervalMs = intervalMs
  }

  start(): void {
    if (this.timer !== undefined || !(this.intervalMs > 0)) return
    this.timer = setInterval(() => {
      if (this.checking) return
      this.checking = true
      this.check()
        .catch((err: unknown) => log.debug(`pubsub stream check: ${errorMessage(err)}`))
        .finally(() => {
          this.checking = false
        })
    }, this.intervalMs)
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.suspects.clear()
  }

  /**
   * One check (see the module doc). @returns the peers whose gossipsub
   * streams it asked to re-open (identify started, not awaited).
   */
  async check(): Promise<string[]> {
    const pubsub = this.libp2p.services.pubsub
    const protocols = new Set(pubsub.protocols)
    const byPeer = new Map<string, { id: PeerId; conns: Connection[] }>()
    for (const c of this.libp2p.getConnections()) {
      if (c.status !== 'open' || c.limits !== undefined) continue
      const key = c.remotePeer.toString()
      const e = byPeer.get(key) ?? { id: c.remotePeer, conns: [] }
      e.conns.push(c)
      byPeer.set(key, e)
    }
    const listed = new Set(pubsub.getPeers().map((p) => p.toString()))
    const suspects = new Set<string>()
    const repaired: string[] = []
    for (const [key, { id, conns }] of byPeer) {
      const outbound = conns.some((c) =>
        c.streams.some((s) => s.direction === 'outbound' && s.status === 'open' && s.protocol !== undefined && protocols.has(s.protocol))
      )
      if (outbound && listed.has(key)) continue
      if (this.repairing.has(key)) continue
      let speaks = false
      try {
        speaks = (await this.libp2p.peerStore.get(id)).protocols.some((p) => protocols.has(p))
      } catch {
        // not identified yet: identify on connection open will do it
      }
      if (!speaks) continue
      if (!this.suspects.has(key)) {
        suspects.add(key)
        continue
      }
      const conn = conns.reduce((a, b) => (b.timeline.open > a.timeline.open ? b : a))
      log.info(
        `gossipsub has ${listed.has(key) ? 'no outbound stream to' : 'dropped'} peer ${key} though ${conns.length} connection(s) are open: identifying ${conn.id} again so it opens one`
      )
      this.repairs++
      repaired.push(key)
      this.repairing.add(key)
      this.libp2p.services.identify
        .identify(conn, { signal: AbortSignal.timeout(IDENTIFY_TIMEOUT_MS) })
        .catch((err: unknown) => log.debug(`identifying ${key} again: ${errorMessage(err)}`))
        .finally(() => this.repairing.delete(key))
    }
    this.suspects = suspects
    return repaired
  }
}
