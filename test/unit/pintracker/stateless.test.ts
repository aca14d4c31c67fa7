import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import all from 'it-all'
import { setLogReporters } from '../../../src/observability/logging.ts'
import {
  createStatelessPinTracker,
  defaultStatelessPinTrackerInit,
  FULL_QUEUE_MESSAGE,
  type StatelessPinTracker,
  type StatelessPinTrackerInit,
  UNEXPECTEDLY_UNPINNED_MESSAGE
} from '../../../src/pintracker/index.ts'
import type { TrackerStatus } from '../../../src/types/index.ts'
import { MemState, newCid, newPin, StubIPFS } from './stubs.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

const PEER = '12D3KooWSelf'
const OTHER = '12D3KooWOther'

let trackers: StatelessPinTracker[] = []

function setup(over: Partial<StatelessPinTrackerInit> = {}): { t: StatelessPinTracker; ipfs: StubIPFS; state: MemState } {
  const ipfs = new StubIPFS()
  const state = new MemState()
  const t = createStatelessPinTracker(
    { ...defaultStatelessPinTrackerInit(PEER, 'self'), pinRecoverIntervalMs: 0, ...over },
    { ipfs, state: async () => state }
  )
  trackers.push(t)
  return { t, ipfs, state }
}

/** A pin held in flight in the stub kubo, then untracked: the unpin replaces it mid-request. */
async function unpinWhilePinning(): Promise<{ t: StatelessPinTracker; ipfs: StubIPFS; pin: Awaited<ReturnType<typeof newPin>>; key: string }> {
  const { t, ipfs, state } = setup()
  ipfs.hold = true
  await t.start()
  const pin = await newPin()
  state.add(pin)
  await t.track(pin)
  await waitFor(() => ipfs.active === 1, 'pinning', 5000, 5)
  state.rm(pin.cid)
  await t.untrack(pin.cid)
  return { t, ipfs, pin, key: pin.cid.toString() }
}

async function statusOf(t: StatelessPinTracker, cid: Parameters<StatelessPinTracker['status']>[0]): Promise<TrackerStatus> {
  return (await t.status(cid)).pinInfo.status
}

beforeAll(() => setLogReporters([]))
afterAll(() => setLogReporters(undefined))
afterEach(async () => {
  await Promise.all(trackers.map((t) => t.stop()))
  trackers = []
})

describe('stateless pin tracker', () => {
  test('track pins through IPFS; status pinned; untrack unpins; not in state = unpinned', async () => {
    const { t, ipfs, state } = setup()
    await t.start()
    const pin = await newPin()
    state.add(pin)
    await t.track(pin)
    await waitFor(() => ipfs.pins.has(pin.cid.toString()), 'pinned in ipfs', 5000, 5)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'pinned', 'status pinned', 5000, 5)
    const info = await t.status(pin.cid)
    expect(info.peer).toBe(PEER)
    expect(info.pinInfo.peerName).toBe('self')
    expect(info.pinInfo.ipfsPeerId).toBe('QmIPFSStub')
    expect(t.optracker.size).toBe(0) // done operations are cleaned
    state.rm(pin.cid)
    await t.untrack(pin.cid)
    await waitFor(() => !ipfs.pins.has(pin.cid.toString()), 'unpinned in ipfs', 5000, 5)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'unpinned', 'status unpinned', 5000, 5)
  })

  test('at most concurrent_pins pins run at once; the rest are pin_queued', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 2 })
    ipfs.hold = true
    await t.start()
    const pins = await Promise.all([1, 2, 3, 4, 5].map(() => newPin()))
    for (const p of pins) {
      state.add(p)
      await t.track(p)
    }
    await waitFor(() => ipfs.active === 2, '2 active pins', 5000, 5)
    const statuses = await Promise.all(pins.map((p) => statusOf(t, p.cid)))
    expect(statuses.filter((s) => s === 'pinning').length).toBe(2)
    expect(statuses.filter((s) => s === 'pin_queued').length).toBe(3)
    expect(t.pinQueueSize()).toBe(3)
    const queued = await all(t.statusAll(new Set(['pin_queued'])))
    expect(queued.length).toBe(3)
    ipfs.release()
    await waitFor(() => ipfs.pins.size === 5, 'all pinned', 5000, 5)
    expect(ipfs.maxActive).toBe(2)
    expect(t.pinQueueSize()).toBe(0)
  })

  test('priority pins (young, few attempts) are served before older ones', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 1, priorityPinMaxAgeMs: 60_000 })
    ipfs.hold = true
    await t.start()
    const blocker = await newPin()
    const old1 = await newPin({ timestamp: new Date(Date.now() - 3600_000) })
    const old2 = await newPin({ timestamp: new Date(Date.now() - 3600_000) })
    const young = await newPin()
    for (const p of [blocker, old1, old2, young]) {
      state.add(p)
      await t.track(p)
    }
    await waitFor(() => ipfs.pinStarted.length === 1, 'blocker started', 5000, 5)
    expect((await t.status(young.cid)).pinInfo.priorityPin).toBe(true)
    expect((await t.status(old1.cid)).pinInfo.priorityPin).toBe(false)
    ipfs.release()
    await waitFor(() => ipfs.pins.size === 4, 'all pinned', 5000, 5)
    expect(ipfs.pinStarted).toEqual([blocker, young, old1, old2].map((p) => p.cid.toString()))
  })

  test('a failed pin is pin_error with the error and attempt count; recover retries; too many attempts lose priority', async () => {
    const { t, ipfs, state } = setup({ priorityPinMaxRetries: 1 })
    await t.start()
    const pin = await newPin()
    state.add(pin)
    ipfs.failPins.set(pin.cid.toString(), 'boom')
    await t.track(pin)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'pin_error', 'pin_error', 5000, 5)
    let info = await t.status(pin.cid)
    expect(info.pinInfo.error).toContain('boom')
    expect(info.pinInfo.attemptCount).toBe(1)
    expect(info.pinInfo.priorityPin).toBe(true)

    info = await t.recover(pin.cid)
    expect(['pin_queued', 'pinning', 'pin_error']).toContain(info.pinInfo.status)
    await waitFor(async () => (await t.status(pin.cid)).pinInfo.attemptCount === 2, 'second attempt', 5000, 5)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'pin_error', 'pin_error again', 5000, 5)

    // attempts (2) > priority_pin_max_retries (1): recovered into the normal queue
    ipfs.hold = true
    await t.recover(pin.cid)
    expect((await t.status(pin.cid)).pinInfo.priorityPin).toBe(false)
    ipfs.failPins.clear()
    ipfs.release()
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'pinned', 'pinned at last', 5000, 5)
  })

  test('a newer operation on the same CID cancels the older one', async () => {
    const { t, ipfs, state } = setup()
    ipfs.hold = true
    await t.start()
    const pin = await newPin()
    state.add(pin)
    await t.track(pin)
    await waitFor(() => ipfs.active === 1, 'pinning', 5000, 5)
    expect(await statusOf(t, pin.cid)).toBe('pinning')
    // same operation again: no duplicate
    await t.track(pin)
    expect(ipfs.pinStarted.length).toBe(1)
    state.rm(pin.cid)
    await t.untrack(pin.cid)
    await waitFor(() => ipfs.aborted.includes(pin.cid.toString()), 'pin aborted', 5000, 5)
    await waitFor(() => ipfs.unpinStarted.includes(pin.cid.toString()), 'unpin ran', 5000, 5)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'unpinned', 'unpinned', 5000, 5)
    expect(ipfs.pins.has(pin.cid.toString())).toBe(false)
  })

  test('an unpin that replaces a pin in flight waits for that pin to settle: kubo ends unpinned', async () => {
    const { t, ipfs, pin, key } = await unpinWhilePinning()
    // within SUPERSEDED_GRACE_MS the pin's request is neither aborted nor raced by the unpin
    await new Promise((r) => setTimeout(r, 150))
    expect(ipfs.aborted).not.toContain(key)
    expect(ipfs.unpinStarted).not.toContain(key)
    expect(await statusOf(t, pin.cid)).toBe('unpin_queued')
    ipfs.release() // the pin lands in kubo, then the unpin runs
    await waitFor(() => ipfs.unpinStarted.includes(key), 'unpin ran', 5000, 5)
    await waitFor(async () => (await statusOf(t, pin.cid)) === 'unpinned', 'unpinned', 5000, 5)
    expect(ipfs.pins.has(key)).toBe(false)
    expect(ipfs.aborted).not.toContain(key)
  })

  test('stop() aborts at once the pin request an unpin waits for (not after the grace)', async () => {
    const { t, ipfs, key } = await unpinWhilePinning()
    const stopping = t.stop()
    // SUPERSEDED_GRACE_MS is 1000: the abort comes from stop(), well before that
    await waitFor(() => ipfs.aborted.includes(key), 'pin aborted by stop', 300, 5)
    await stopping
    expect(ipfs.unpinStarted).not.toContain(key)
  })

  test('queue full: QueueFullError and pin_error', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 1, maxPinQueueSize: 1 })
    ipfs.hold = true
    await t.start()
    const [a, b, c] = await Promise.all([newPin(), newPin(), newPin()])
    for (const p of [a, b, c]) state.add(p)
    await t.track(a)
    await waitFor(() => ipfs.active === 1, 'a running', 5000, 5)
    await t.track(b)
    const err = await t.track(c).catch((e: unknown) => e)
    expect((err as Error).name).toBe('QueueFullError')
    expect((err as Error).message).toBe(FULL_QUEUE_MESSAGE)
    const info = await t.status(c.cid)
    expect(info.pinInfo.status).toBe('pin_error')
    expect(info.pinInfo.error).toBe(FULL_QUEUE_MESSAGE)
    ipfs.release()
    await waitFor(async () => (await statusOf(t, b.cid)) === 'pinned', 'b pinned', 5000, 5)
  })

  test('at most concurrent_pins unpins of remote pins run at once, the others wait in order', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 3 })
    ipfs.holdUnpins = true
    await t.start()
    const remotes = await Promise.all(Array.from({ length: 10 }, () => newPin({ allocations: [OTHER] })))
    // as the cluster tracks the pins of a merged delta: all at once, not awaited
    const tracked = remotes.map((p) => {
      state.add(p)
      ipfs.pins.set(p.cid.toString(), 'recursive')
      return t.track(p)
    })
    await waitFor(() => ipfs.unpinStarted.length === 3, '3 unpins started', 5000, 5)
    await new Promise((r) => setTimeout(r, 50))
    expect(ipfs.unpinStarted.length).toBe(3)
    expect(await statusOf(t, remotes[9]!.cid)).toBe('remote')
    ipfs.releaseUnpins()
    await Promise.all(tracked)
    expect(ipfs.unpinStarted).toEqual(remotes.map((p) => p.cid.toString()))
    for (const p of remotes) expect(ipfs.pins.has(p.cid.toString())).toBe(false)
    expect(t.optracker.size).toBe(0)
  })

  test('a backlog of remote pins lists kubo once: only the pins kubo has get a pin/rm; remoteBacklog waits for the backlog', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 3 })
    ipfs.holdUnpins = true
    await t.start()
    const remotes = await Promise.all(Array.from({ length: 150 }, () => newPin({ allocations: [OTHER] })))
    // kubo has 3 of them pinned, past the first three (which start before any backlog)
    const inKubo = [remotes[10]!, remotes[70]!, remotes[149]!]
    for (const p of inKubo) ipfs.pins.set(p.cid.toString(), 'recursive')
    const tracked = remotes.map((p) => {
      state.add(p)
      return t.track(p)
    })
    await waitFor(() => ipfs.unpinStarted.length === 3, '3 unpins started', 5000, 5)
    const backlog = t.remoteBacklog(20)
    expect(backlog).toBeInstanceOf(Promise)
    // one promise however often asked (the cluster asks once per merged pin)
    expect(t.remoteBacklog(20)).toBe(backlog!)
    expect(t.remoteBacklog(1000)).toBeUndefined()
    let drained = false
    void backlog!.then(() => {
      drained = true
    })
    await new Promise((r) => setTimeout(r, 20))
    expect(drained).toBe(false)
    ipfs.releaseUnpins()
    await Promise.all(tracked)
    expect(drained).toBe(true)
    expect(ipfs.unpinStarted).toEqual([...remotes.slice(0, 3), ...inKubo].map((p) => p.cid.toString()))
    for (const p of inKubo) expect(ipfs.pins.has(p.cid.toString())).toBe(false)
    expect(t.optracker.size).toBe(0)
    expect(await statusOf(t, remotes[100]!.cid)).toBe('remote')
  })

  test('remote pins are unpinned locally and reported remote; meta pins are sharded and never pinned', async () => {
    const { t, ipfs, state } = setup()
    await t.start()
    const remote = await newPin({ allocations: [OTHER] })
    ipfs.pins.set(remote.cid.toString(), 'recursive')
    state.add(remote)
    await t.track(remote)
    expect(ipfs.pins.has(remote.cid.toString())).toBe(false)
    expect(await statusOf(t, remote.cid)).toBe('remote')

    const mine = await newPin({ allocations: [OTHER, PEER] })
    state.add(mine)
    await t.track(mine)
    await waitFor(() => ipfs.pins.has(mine.cid.toString()), 'allocated pin pinned', 5000, 5)

    const meta = await newPin({ type: 'meta-pin' })
    state.add(meta)
    await t.track(meta)
    expect(await statusOf(t, meta.cid)).toBe('sharded')
    expect(ipfs.pinStarted).not.toContain(meta.cid.toString())
  })

  test('status: unexpectedly_unpinned, cluster_error on state or IPFS failure', async () => {
    const { t, ipfs, state } = setup()
    await t.start()
    const pin = await newPin()
    state.add(pin)
    const info = await t.status(pin.cid)
    expect(info.pinInfo.status).toBe('unexpectedly_unpinned')
    expect(info.pinInfo.error).toBe(UNEXPECTEDLY_UNPINNED_MESSAGE)
    expect(info.name).toBe(pin.name)
    ipfs.failPinLsCid = true
    const e1 = await t.status(pin.cid)
    expect(e1.pinInfo.status).toBe('cluster_error')
    expect(e1.pinInfo.error).toContain('is it running?')
    ipfs.failPinLsCid = false
    state.fail = true
    expect(await statusOf(t, pin.cid)).toBe('cluster_error')
    state.fail = false
    expect(await statusOf(t, await newCid())).toBe('unpinned')
  })

  test('statusAll streams the state with kubo and operations, honouring filters', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 1 })
    await t.start()
    const pinned = await newPin()
    const unexpected = await newPin()
    const remote = await newPin({ allocations: [OTHER] })
    const meta = await newPin({ type: 'meta-pin' })
    const errored = await newPin()
    for (const p of [pinned, unexpected, remote, meta, errored]) state.add(p)
    ipfs.pins.set(pinned.cid.toString(), 'recursive')
    ipfs.failPins.set(errored.cid.toString(), 'nope')
    await t.track(errored)
    await waitFor(async () => (await statusOf(t, errored.cid)) === 'pin_error', 'errored', 5000, 5)
    // an unpin in flight for a CID no longer in the state
    ipfs.hold = true
    ipfs.holdUnpins = true
    const gone = await newPin()
    ipfs.pins.set(gone.cid.toString(), 'recursive')
    const holder = await newPin()
    state.add(holder)
    await t.track(holder)
    await waitFor(() => ipfs.active === 1, 'holder pinning', 5000, 5)
    await t.untrack(gone.cid)

    const byCid = new Map((await all(t.statusAll(new Set()))).map((i) => [i.cid.toString(), i.pinInfo.status]))
    expect(byCid.get(pinned.cid.toString())).toBe('pinned')
    expect(byCid.get(unexpected.cid.toString())).toBe('unexpectedly_unpinned')
    expect(byCid.get(remote.cid.toString())).toBe('remote')
    expect(byCid.get(meta.cid.toString())).toBe('sharded')
    expect(byCid.get(errored.cid.toString())).toBe('pin_error')
    expect(byCid.get(holder.cid.toString())).toBe('pinning')
    await waitFor(() => ipfs.unpinStarted.length === 1, 'unpin started', 5000, 5)
    expect(byCid.get(gone.cid.toString()) ?? 'missing').toMatch(/^unpin(_queued|ning)$/)
    expect(byCid.size).toBe(7)

    const errs = await all(t.statusAll(new Set(['pin_error', 'unexpectedly_unpinned'])))
    expect(errs.map((i) => i.cid.toString()).sort()).toEqual([errored.cid.toString(), unexpected.cid.toString()].sort())
    const onlyPinned = await all(t.statusAll(new Set(['pinned'])))
    expect(onlyPinned.map((i) => i.cid.toString())).toEqual([pinned.cid.toString()])

    ipfs.failPinLs = true
    const err = await all(t.statusAll(new Set(['pinned']))).catch((e: unknown) => e)
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('could not get pinset from IPFS')
    ipfs.failPinLs = false
    expect(await statusOf(t, gone.cid)).toBe('unpinning')
    ipfs.release()
    ipfs.releaseUnpins()
    await waitFor(async () => (await statusOf(t, gone.cid)) === 'unpinned', 'gone unpinned', 5000, 5)
  })

  test('recoverAll re-queues pin_error and unexpectedly_unpinned', async () => {
    const { t, ipfs, state } = setup()
    await t.start()
    const a = await newPin()
    const b = await newPin()
    state.add(a)
    state.add(b)
    ipfs.failPins.set(b.cid.toString(), 'temporary')
    await t.track(b)
    await waitFor(async () => (await statusOf(t, b.cid)) === 'pin_error', 'b failed', 5000, 5)
    ipfs.failPins.clear()
    const recovered = await all(t.recoverAll())
    expect(recovered.map((i) => i.cid.toString()).sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
    await waitFor(() => ipfs.pins.size === 2, 'both pinned', 5000, 5)
  })

  test('start() runs recoverAll in the background and every pin_recover_interval; nothing runs after stop()', async () => {
    const { t, ipfs, state } = setup({ pinRecoverIntervalMs: 30 })
    const a = await newPin()
    state.add(a)
    await t.start()
    await t.start()
    await waitFor(() => ipfs.pins.has(a.cid.toString()), 'recovered at start', 5000, 5)
    // kubo loses it: the periodic recover pins it again
    ipfs.pins.delete(a.cid.toString())
    await waitFor(() => ipfs.pins.has(a.cid.toString()), 'recovered by the interval', 5000, 5)
    await t.stop()
    await t.stop()
    const calls = ipfs.pinStarted.length
    ipfs.pins.delete(a.cid.toString())
    const later = Date.now() + 150
    while (Date.now() < later) await new Promise((r) => setTimeout(r, 10))
    expect(ipfs.pinStarted.length).toBe(calls)
  })

  test('stop() aborts in-flight pins and empties the queues', async () => {
    const { t, ipfs, state } = setup({ concurrentPins: 1 })
    ipfs.hold = true
    await t.start()
    const [a, b] = await Promise.all([newPin(), newPin()])
    state.add(a)
    state.add(b)
    await t.track(a)
    await t.track(b)
    await waitFor(() => ipfs.active === 1, 'a pinning', 5000, 5)
    await t.stop()
    expect(ipfs.aborted).toContain(a.cid.toString())
    expect(ipfs.active).toBe(0)
    expect(t.pinQueueSize()).toBe(0)
    expect(ipfs.pinStarted).not.toContain(b.cid.toString())
  })

  test('invalid settings are rejected', () => {
    expect(() => setup({ concurrentPins: 0 })).toThrow('concurrent_pins')
    expect(() => setup({ maxPinQueueSize: 0 })).toThrow('max_pin_queue_size')
  })
})
