/**
 * Issue 11 (the flapping link), on loopback: two cluster hosts with two
 * connections between them (both dialed, as two peer watches do after a
 * heal). The connection that carries gossipsub's streams is aborted (as the
 * connection monitor does to a connection that stopped answering); the other
 * stays up. Gossipsub alone never opens a stream on the surviving connection
 * (no `peer:disconnect`, no new `peer:identify`), so messages stop for good;
 * the host's pubsub stream keeper (src/host/pubsub-keeper.ts) re-opens them.
 */
import { describe, expect, test } from 'bun:test'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { type ClusterHost, createPubsubAdapter, type PubsubAdapter } from '../../../src/host/index.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { hostSuite } from './helpers.ts'

const suite = hostSuite('warn,p2p:info')

const TOPIC = 'keeper-topic'

/** Publishes `text` from `from` until `got` holds it (a message may be lost while streams are re-opened). */
async function delivered(from: PubsubAdapter, got: string[], text: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      await from.publish(TOPIC, new TextEncoder().encode(text))
      return got.includes(text)
    },
    what,
    15_000,
    100
  )
}

/** Open connections between `h` and `peer` carrying an open outbound gossipsub stream of `h`. */
function pubsubConnections(h: ClusterHost, peer: string): Connection[] {
  const protocols = new Set(h.libp2p.services.pubsub.protocols)
  return h.libp2p
    .getConnections()
    .filter((c) => c.remotePeer.toString() === peer && c.status === 'open')
    .filter((c) => c.streams.some((s) => s.direction === 'outbound' && s.status === 'open' && protocols.has(s.protocol ?? '')))
}

describe('pubsub stream keeper', () => {
  test('the connection carrying the gossipsub streams dies while another stays up: messages flow again both ways', async () => {
    const a = await suite.started('ka')
    const b = await suite.started('kb')
    const pa = createPubsubAdapter(a)
    const pb = createPubsubAdapter(b)
    const atA: string[] = []
    const atB: string[] = []
    pa.subscribe(TOPIC, (d) => atA.push(new TextDecoder().decode(d)))
    pb.subscribe(TOPIC, (d) => atB.push(new TextDecoder().decode(d)))
    expect(await a.bootstrap(b.addresses())).toBe(b.peerId)
    // the second connection, dialed the other way
    await b.libp2p.dial(multiaddr(a.addresses()[0]!), { force: true })
    await waitFor(() => a.libp2p.getConnections(b.libp2p.peerId).length === 2, 'two connections a <-> b', 5_000, 20)
    await waitFor(() => pa.subscribers(TOPIC).includes(b.peerId) && pb.subscribers(TOPIC).includes(a.peerId), 'subscriptions', 5_000, 20)
    await delivered(pa, atB, 'before a', 'a -> b before the abort')
    await delivered(pb, atA, 'before b', 'b -> a before the abort')

    const carrying = pubsubConnections(a, b.peerId)
    expect(carrying.length).toBe(1)
    const doomed = carrying[0]!
    const survivor = a.libp2p.getConnections(b.libp2p.peerId).find((c) => c.id !== doomed.id)!
    doomed.abort(new Error('the link stopped answering'))
    await waitFor(() => a.libp2p.getConnections(b.libp2p.peerId).length === 1, 'the aborted connection to go', 5_000, 20)
    expect(survivor.status).toBe('open')

    await delivered(pa, atB, 'after a', 'a -> b after the abort')
    await delivered(pb, atA, 'after b', 'b -> a after the abort')
    // on the surviving connection, which is still the only one
    expect(a.libp2p.getConnections(b.libp2p.peerId).map((c) => c.id)).toEqual([survivor.id])
    expect(pubsubConnections(a, b.peerId).map((c) => c.id)).toEqual([survivor.id])
    expect(suite.logs.some((l) => l.includes(`peer ${b.peerId} though 1 connection(s) are open`))).toBe(true)
  }, 60_000)
})
