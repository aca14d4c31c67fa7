import { afterAll, beforeAll, expect, test } from 'bun:test'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { defaultIpfsHttpInit, IpfsHttpConnector } from '../../../src/ipfsconn/ipfshttp/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { createStatelessPinTracker, defaultStatelessPinTrackerInit, type StatelessPinTracker } from '../../../src/pintracker/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import { type Kubo, startKubo, stopAllKubos } from '../../../scripts/launcher/index.ts'
import { MemState } from '../../unit/pintracker/stubs.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

let kubo: Kubo
let ipfs: IpfsHttpConnector
let tracker: StatelessPinTracker
const state = new MemState()

beforeAll(async () => {
  setLogReporters([])
  kubo = await startKubo({ offline: true })
  ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
  await ipfs.start()
  tracker = createStatelessPinTracker(
    { ...defaultStatelessPinTrackerInit('12D3KooWSelf', 'self'), pinRecoverIntervalMs: 0 },
    { ipfs, state: async () => state }
  )
  await tracker.start()
})

afterAll(async () => {
  await tracker.stop()
  await ipfs.stop()
  await stopAllKubos()
  setLogReporters(undefined)
})

test('tracks a pin into real kubo (pinned), then untracks it (unpinned)', async () => {
  const cidStr = await kubo.ipfsOk(['add', '-Q', '--pin=false'], { input: `tracker e2e ${Math.random()}` })
  const pin = pinWithOpts(CID.parse(cidStr), { ...defaultPinOptions(), name: 'e2e' })
  state.add(pin)
  await tracker.track(pin)
  await waitFor(async () => (await tracker.status(pin.cid)).pinInfo.status === 'pinned', 'pinned', 20_000, 5)
  const info = await tracker.status(pin.cid)
  expect(info.name).toBe('e2e')
  expect(info.pinInfo.ipfsPeerId).toBe(kubo.peerId)
  expect(await kubo.ipfsOk(['pin', 'ls', '--type=recursive', '-q', cidStr])).toBe(cidStr)
  const listed = await all(tracker.statusAll(new Set(['pinned'])))
  expect(listed.map((i) => i.cid.toString())).toContain(cidStr)

  // removed from kubo behind the tracker's back: unexpectedly_unpinned, then recovered
  await kubo.ipfsOk(['pin', 'rm', cidStr])
  expect((await tracker.status(pin.cid)).pinInfo.status).toBe('unexpectedly_unpinned')
  await all(tracker.recoverAll())
  await waitFor(async () => (await tracker.status(pin.cid)).pinInfo.status === 'pinned', 're-pinned', 20_000, 5)

  state.rm(pin.cid)
  await tracker.untrack(pin.cid)
  await waitFor(async () => (await tracker.status(pin.cid)).pinInfo.status === 'unpinned', 'unpinned', 20_000, 5)
  expect((await kubo.ipfs(['pin', 'ls', '--type=recursive', cidStr])).code).not.toBe(0)
})

test('a CID the offline kubo cannot fetch ends in pin_error with kubo\'s message', async () => {
  const missing = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
  const pin = pinWithOpts(missing, defaultPinOptions())
  state.add(pin)
  await tracker.track(pin)
  await waitFor(async () => (await tracker.status(pin.cid)).pinInfo.status === 'pin_error', 'pin_error', 20_000, 5)
  const info = await tracker.status(pin.cid)
  expect(info.pinInfo.error).toContain('pin/add')
  expect(info.pinInfo.attemptCount).toBe(1)
})
