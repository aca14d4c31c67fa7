/**
 * Re-pinning retries (Cluster.repinUntilDone): a decision that could not be
 * made at the alert (the deciding peer lacked the other peers' metrics) is
 * made again while the dead peer stays down, and no more once it is back.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { waitFor } from '../../../scripts/launcher/poll.ts'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'
import type { Alert } from '../../../src/types/index.ts'
import { makeCid, makePin, metric, Net, StubState, ipfsOf, testPeer } from './stubs.ts'

const [A, B, C, D] = ['peerA', 'peerB', 'peerC', 'peerD'].map(testPeer) as [string, string, string, string]

/** the cluster's log lines, captured: the positive markers the negative checks wait for */
const lines: string[] = []
beforeAll(() => {
  setLogLevels('info')
  setLogReporters([{ log: (o) => void lines.push(o.args.map(String).join(' ')) }])
})
afterAll(() => {
  setLogReporters(undefined)
  setLogLevels('info')
})
const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length

/** 12 pins on D and one live peer; every peer starts knowing only its own freespace metric. */
async function setup(): Promise<Net> {
  const st = new StubState()
  for (let i = 0; i < 12; i++) {
    const cid = await makeCid(`retry-${i}`)
    st.pins.set(cid.toString(), makePin(cid, [D, [A, B, C][i % 3]!]))
  }
  const net = new Net()
  for (const id of [A, B, C]) {
    const [p] = net.add([id], st, { copyState: true, metricsOf: [id], init: { repinRetryIntervalMs: 20 } })
    ;(p!.consensus as unknown as { peerList: string[] }).peerList = [A, B, C]
  }
  return net
}

const pingAlert = (): Alert => ({ ...metric('ping', D, ''), triggeredAt: new Date() })

describe('re-pinning retries while the peer stays down', () => {
  test('allocations that failed at the alert are made once the metrics arrive', async () => {
    const net = await setup()
    const peers = [...net.peers.values()]
    for (const p of peers) await p.cluster.start()
    try {
      lines.length = 0
      for (const p of peers) p.monitor.fire(pingAlert())
      // the first rounds fail: each peer sees no other candidate than itself;
      // wait for several failed rounds (alert, then retries): nothing moved
      await waitFor(() => count(new RegExp(`could not re-allocate \\d+ pins of ${D}: retrying`)) >= 4, 'failed rounds and their retries', 5_000, 5)
      expect(net.log.length).toBe(0)
      // the metrics of the others arrive
      for (const p of peers) {
        for (const [i, id] of [A, B, C].entries()) {
          await p.monitor.logMetric(metric('freespace', id, String(100 - i)))
          await p.monitor.logMetric(metric('ping', id, JSON.stringify({ peer_name: id, ipfs_id: ipfsOf(id), ipfs_addresses: [] })))
        }
      }
      await waitFor(() => new Set(net.log.map((e) => e.pin.cid.toString())).size === 12, 'all 12 pins to be re-allocated', 5_000, 5)
      for (const e of net.log) expect(e.pin.allocations).not.toContain(D)
    } finally {
      for (const p of peers) await p.cluster.stop()
    }
  })

  test('no retry once the dead peer is back in the peerset', async () => {
    const net = await setup()
    const peers = [...net.peers.values()]
    for (const p of peers) await p.cluster.start()
    try {
      lines.length = 0
      for (const p of peers) p.monitor.fire(pingAlert())
      await waitFor(() => count(new RegExp(`could not re-allocate \\d+ pins of ${D}`)) >= 1, 'a failed round', 5_000, 5)
      // D comes back into every peerset, then the others' metrics arrive: nothing moves
      for (const p of peers) {
        ;(p.consensus as unknown as { peerList: string[] }).peerList = [A, B, C, D]
        for (const id of [A, B, C]) await p.monitor.logMetric(metric('freespace', id, '50'))
      }
      await waitFor(() => count(new RegExp(`${D} is back: no more re-pinning`)) >= 1, 'a peer to see peerD back', 5_000, 5)
      expect(net.log.length).toBe(0)
    } finally {
      for (const p of peers) await p.cluster.stop()
    }
  })
})
