import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { defaultIpfsHttpInit, type IpfsHttpInit, IpfsHttpConnector } from '../../../src/ipfsconn/ipfshttp/index.ts'
import { defaultPinOptions, type ID, type Pin, pinWithOpts } from '../../../src/types/index.ts'
import { freePort, type Kubo, startKubo, stopAllKubos, waitFor } from '../../../scripts/launcher/index.ts'

let offline: Kubo
let online1: Kubo
let online2: Kubo
let tmp: string

function connector(k: Kubo, over: Partial<IpfsHttpInit> = {}, components = {}): IpfsHttpConnector {
  return new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: k.apiMultiaddr, ...over }, components)
}

function pinOf(cid: string | CID, mode: 'recursive' | 'direct' = 'recursive'): Pin {
  const c = typeof cid === 'string' ? CID.parse(cid) : cid
  return pinWithOpts(c, { ...defaultPinOptions(), mode })
}

async function randomRawCid(): Promise<CID> {
  const bytes = crypto.getRandomValues(new Uint8Array(64))
  return CID.createV1(raw.code, await sha256.digest(bytes))
}

/** Adds data to kubo without pinning it; returns its CID string. */
async function addUnpinned(k: Kubo, content: string): Promise<string> {
  return k.ipfsOk(['add', '-Q', '--pin=false'], { input: content })
}

beforeAll(async () => {
  ;[offline, online1, online2] = await Promise.all([startKubo({ offline: true }), startKubo(), startKubo()])
  tmp = await mkdtemp(join(tmpdir(), 'ipfshttp-test-'))
})

afterAll(async () => {
  await stopAllKubos()
  await rm(tmp, { recursive: true, force: true })
})

describe('IpfsHttpConnector against a real kubo', () => {
  test('id returns the daemon peer ID', async () => {
    const c = connector(offline)
    const id = await c.id()
    expect(id.id).toBe(offline.peerId)
    expect(id.error).toBe('')
    expect(Array.isArray(id.addresses)).toBe(true)
  })

  test('pin (recursive) with progress, pinLsCid, pinLs, unpin', async () => {
    const c = connector(offline)
    const cid = await addUnpinned(offline, `recursive pin test ${Math.random()}`)
    const pin = pinOf(cid)
    expect(await c.pinLsCid(pin)).toBe('unpinned')
    const progress: number[] = []
    await c.pin(pin, { onProgress: (n) => progress.push(n) })
    expect(progress.length).toBeGreaterThan(0)
    expect(await c.pinLsCid(pin)).toBe('recursive')
    const listed = await all(c.pinLs('recursive'))
    expect(listed.some((p) => p.cid.toString() === cid && p.type === 'recursive')).toBe(true)
    // pinning again is a no-op
    await c.pin(pin)
    await c.unpin(pin.cid)
    expect(await c.pinLsCid(pin)).toBe('unpinned')
    // unpinning something not pinned is not an error
    await c.unpin(pin.cid)
    const cli = await offline.ipfs(['pin', 'ls', '--type=recursive', cid])
    expect(cli.code).not.toBe(0)
  })

  test('direct pin (max depth 0)', async () => {
    const c = connector(offline)
    const cid = await addUnpinned(offline, `direct pin test ${Math.random()}`)
    const pin = pinOf(cid, 'direct')
    expect(pin.maxDepth).toBe(0)
    await c.pin(pin)
    expect(await c.pinLsCid(pin)).toBe('direct')
    expect(await c.pinLsCid(pinOf(cid))).toBe('unpinned')
    const direct = await all(c.pinLs('direct'))
    expect(direct.some((p) => p.cid.toString() === cid && p.type === 'direct')).toBe(true)
    await c.unpin(pin.cid)
    expect(await c.pinLsCid(pin)).toBe('unpinned')
  })

  test('pin with pinUpdate uses pin/update (unpin=false)', async () => {
    const c = connector(offline)
    const from = await addUnpinned(offline, `update from ${Math.random()}`)
    const to = await addUnpinned(offline, `update to ${Math.random()}`)
    await c.pin(pinOf(from))
    const pin = { ...pinOf(to), pinUpdate: CID.parse(from) }
    await c.pin(pin)
    expect(await c.pinLsCid(pinOf(to))).toBe('recursive')
    expect(await c.pinLsCid(pinOf(from))).toBe('recursive')
    await c.unpin(CID.parse(from))
    await c.unpin(CID.parse(to))
  })

  test('pin with pinUpdate when `from` is unpinned after the check: pin/update is refused, pin/add pins `to`', async () => {
    const c = connector(offline)
    const from = await addUnpinned(offline, `update race from ${Math.random()}`)
    const to = await addUnpinned(offline, `update race to ${Math.random()}`)
    // the tracker's concurrent unpin of `from` lands between the check and pin/update:
    // the check still says recursive, kubo no longer has it
    const check = c.pinLsCid.bind(c)
    c.pinLsCid = async (p, o) => (p.cid.toString() === from ? 'recursive' : await check(p, o))
    expect(await check(pinOf(from))).toBe('unpinned')
    await c.pin({ ...pinOf(to), pinUpdate: CID.parse(from) })
    expect(await check(pinOf(to))).toBe('recursive')
    expect(await check(pinOf(from))).toBe('unpinned')
    await c.unpin(CID.parse(to))
  })

  test('pin of a block an offline kubo does not have fails with IPFSError', async () => {
    const c = connector(offline, { pinTimeoutMs: 5000 })
    const missing = await randomRawCid()
    const err = await c.pin(pinOf(missing)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('pin/add')
  })

  test('pin times out when no progress is made for pin_timeout', async () => {
    const c = connector(online1, { pinTimeoutMs: 400 })
    const missing = await randomRawCid()
    const t0 = Date.now()
    const err = await c.pin(pinOf(missing)).catch((e: unknown) => e)
    const took = Date.now() - t0
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('pin timeout')
    // not before pin_timeout (a lower bound cannot fail on a slow machine; how soon after is bench/'s business)
    expect(took).toBeGreaterThanOrEqual(350)
    expect(await c.pinLsCid(pinOf(missing))).toBe('unpinned')
  })

  test('caller abort gives AbortError', async () => {
    const c = connector(online1, { pinTimeoutMs: 60_000 })
    const missing = await randomRawCid()
    const ac = new AbortController()
    const p = c.pin(pinOf(missing), { signal: ac.signal }).catch((e: unknown) => e)
    setTimeout(() => ac.abort(), 200)
    const err = await p
    expect((err as Error).name).toBe('AbortError')
  })

  test('resolve: bare CID, /ipfs/<cid>, and a sub path through kubo', async () => {
    const c = connector(offline)
    const dir = join(tmp, 'tree')
    await mkdir(join(dir, 'sub'), { recursive: true })
    await writeFile(join(dir, 'sub', 'file.txt'), 'resolve me')
    const out = await offline.ipfsOk(['add', '-r', '--pin=false', '--cid-version=1', dir])
    // lines: "added <cid> <name>"
    const byName = new Map(out.split('\n').map((l) => [l.split(' ')[2] ?? '', l.split(' ')[1] ?? '']))
    const root = byName.get('tree')!
    const file = byName.get('tree/sub/file.txt')!
    expect(root).toBeTruthy()
    expect(file).toBeTruthy()
    expect((await c.resolve(root)).toString()).toBe(root)
    expect((await c.resolve(`/ipfs/${root}`)).toString()).toBe(root)
    expect((await c.resolve(`/ipfs/${root}/sub/file.txt`)).toString()).toBe(file)
    const err = await c.resolve(`/ipfs/${root}/nope`).catch((e: unknown) => e)
    expect((err as Error).name).toBe('IPFSError')
    const bad = await c.resolve('/foo/bar').catch((e: unknown) => e)
    expect((bad as Error).name).toBe('InvalidArgumentError')
  })

  test('blockPut / blockGet round trip', async () => {
    const c = connector(offline)
    const data = new TextEncoder().encode(`a raw block ${Math.random()}`)
    const cid = await c.blockPut(data, { format: 'raw' })
    expect(cid.code).toBe(raw.code)
    const expected = CID.createV1(raw.code, await sha256.digest(data))
    expect(cid.toString()).toBe(expected.toString())
    expect(await c.blockGet(cid)).toEqual(data)
    const missing = await c.blockGet(await randomRawCid()).catch((e: unknown) => e)
    expect((missing as Error).name).toBe('IPFSError')
  })

  test('repoStat, configKey, repoGC', async () => {
    const c = connector(offline)
    const st = await c.repoStat()
    expect(st.repoSize).toBeGreaterThan(0)
    expect(st.storageMax).toBeGreaterThan(0)
    expect(st.numObjects).toBeUndefined()
    const full = await c.repoStat({ sizeOnly: false })
    expect(full.storageMax).toBe(st.storageMax)
    expect(full.numObjects).toBeGreaterThan(0)
    expect(full.repoPath).toBe(offline.repo)
    expect(full.version).toStartWith('fs-repo@')
    expect(await c.configKey('Datastore/StorageMax')).toBe('10GB')
    expect(await c.configKey('Identity/PeerID')).toBe(offline.peerId)
    const nf = await c.configKey('Datastore/Nope').catch((e: unknown) => e)
    expect((nf as Error).name).toBe('NotFoundError')
    const cid = await addUnpinned(offline, `garbage ${Math.random()}`)
    const removed = await all(c.repoGC())
    // kubo reports removed blocks by multihash (as raw CIDv1): compare multihashes
    const mh = CID.parse(cid).multihash.bytes
    expect(removed.some((r) => r.key !== null && Buffer.from(r.key.multihash.bytes).equals(mh))).toBe(true)
    expect(removed.every((r) => r.error === '')).toBe(true)
  })

  test('swarmConnect, swarmPeers and connectSwarms between two online daemons', async () => {
    const c1 = connector(online1)
    await c1.swarmConnect(online2.swarmAddrs)
    expect(await c1.swarmPeers()).toContain(online2.peerId)

    // connectSwarms asks the cluster for peers and connects to their IPFS addresses
    const online3 = await startKubo()
    const peers = async function* (): AsyncGenerator<ID> {
      yield {
        id: 'cluster-peer',
        addresses: [],
        clusterPeers: [],
        clusterPeersAddresses: [],
        version: '',
        commit: '',
        rpcProtocolVersion: '',
        error: '',
        ipfs: { id: online3.peerId, addresses: online3.swarmAddrs, error: '' },
        peername: 'p'
      }
    }
    const c2 = connector(online2, {}, { clusterPeers: peers })
    await c2.connectSwarms()
    expect(await c2.swarmPeers()).toContain(online3.peerId)
    await online3.destroy()
  })

  test('start() waits for kubo and runs connectSwarms after connect_swarms_delay; stop() is idempotent', async () => {
    let asked = 0
    const peers = async function* (): AsyncGenerator<ID> {
      asked++
      yield* []
    }
    const c = connector(online1, { connectSwarmsDelayMs: 50 }, { clusterPeers: peers })
    await c.start()
    await c.start()
    await c.ready({ signal: AbortSignal.timeout(10_000) })
    await waitFor(() => asked > 0, 'the connector to ask for the cluster peers', 10_000, 20)
    expect(asked).toBe(1)
    await c.stop()
    await c.stop()
  })

  test('kubo stopped: IPFSError saying it may not be running; works again after restart', async () => {
    const k = await startKubo({ offline: true })
    const c = connector(k)
    expect((await c.id()).id).toBe(k.peerId)
    await k.stop()
    const err = await c.id().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('is it running?')
    expect((err as Error).message).toContain('(id)')
    await k.start()
    expect((await c.id()).id).toBe(k.peerId)
    await k.destroy()
  })

  test('nothing listening: IPFSError; request timeout: IPFSError', async () => {
    const port = await freePort()
    const c = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: `/ip4/127.0.0.1/tcp/${port}` })
    const err = await c.repoStat().catch((e: unknown) => e)
    expect((err as Error).name).toBe('IPFSError')
    const slow = connector(online1, { ipfsRequestTimeoutMs: 1 })
    const t = await slow.resolve(`/ipfs/${await randomRawCid()}/x`).catch((e: unknown) => e)
    expect((t as Error).name).toBe('IPFSError')
    expect((t as Error).message).toContain('timed out')
  })

  test('unpinDisable refuses to unpin', async () => {
    const c = connector(offline, { unpinDisable: true })
    const err = await c.unpin(await randomRawCid()).catch((e: unknown) => e)
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('disallowed')
  })

  test('invalid node_multiaddress is rejected', () => {
    expect(() => new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: '/unix/tmp/x' })).toThrow('unsupported multiaddr')
  })
})
