// The bundled (Helia) IPFS connector: pinset + mark-and-sweep GC, bitswap
// between two bundled nodes, and interop with a real kubo (loopback).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { CarReader } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { freePort, type Kubo, startKubo, stopAllKubos, waitFor } from '../../../scripts/launcher/index.ts'
import { BundledConnector, type BundledInit } from '../../../src/ipfsconn/bundled/index.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'

// a test past its timeout makes bun kill the processes still running, the shared kubo among them: room for a loaded machine
setDefaultTimeout(30_000)

let tmp: string
const started: BundledConnector[] = []
let kubo: Kubo

function init(name: string, over: Partial<BundledInit> = {}): BundledInit {
  return {
    folder: join(tmp, name),
    listenMultiaddress: ['/ip4/127.0.0.1/tcp/0'],
    announceMultiaddress: [],
    bootstrap: [],
    storageMaxBytes: 0,
    pinTimeoutMs: 20_000,
    unpinTimeoutMs: 0,
    repoGcTimeoutMs: 0,
    fetchConcurrency: 8,
    gatewayListenMultiaddress: '',
    swarmKeyFile: '',
    connectSwarmsDelayMs: 0,
    unpinDisable: false,
    ...over
  }
}

async function node(name: string, over: Partial<BundledInit> = {}): Promise<BundledConnector> {
  const c = new BundledConnector(init(name, over))
  await c.start()
  started.push(c)
  return c
}

function pinOf(cid: CID, mode: 'recursive' | 'direct' = 'recursive'): Pin {
  return pinWithOpts(cid, { ...defaultPinOptions(), mode })
}

async function pbNode(c: BundledConnector, links: CID[], data: string): Promise<CID> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: new TextEncoder().encode(data), Links: links.map((l) => ({ Hash: l, Name: l.toString(), Tsize: 1 })) }))
  return c.blockPut(bytes, { format: 'dag-pb' })
}

async function leaf(c: BundledConnector, text: string): Promise<CID> {
  return c.blockPut(new TextEncoder().encode(text), { format: 'raw' })
}

async function gcAll(c: BundledConnector): Promise<CID[]> {
  const out: CID[] = []
  for await (const r of c.repoGC()) {
    expect(r.error).toBe('')
    if (r.key !== null) out.push(r.key)
  }
  return out
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'bundled-test-'))
  kubo = await startKubo()
})

afterAll(async () => {
  for (const c of started) await c.stop().catch(() => {})
  await stopAllKubos()
  await rm(tmp, { recursive: true, force: true })
})

describe('bundled connector: pinset and GC', () => {
  test('regression: A and B share a leaf; unpin A, re-pin A, unpin B, GC: A is complete', async () => {
    const c = await node('regression')
    const shared = await leaf(c, 'shared leaf')
    const onlyA = await leaf(c, 'only under A')
    const onlyB = await leaf(c, 'only under B')
    const a = await pbNode(c, [shared, onlyA], 'A')
    const b = await pbNode(c, [shared, onlyB], 'B')
    await c.pin(pinOf(a))
    await c.pin(pinOf(b))
    await c.unpin(a)
    expect(await c.pinLsCid(pinOf(a))).toBe('unpinned')
    await c.pin(pinOf(a))
    await c.unpin(b)
    const removed = (await gcAll(c)).map((k) => k.multihash.bytes.toString())
    expect(removed.sort()).toEqual([b, onlyB].map((k) => k.multihash.bytes.toString()).sort())
    for (const k of [a, shared, onlyA]) expect(await c.blockstore.has(k)).toBe(true)
    expect(await c.blockstore.has(onlyB)).toBe(false)
    expect(await c.pinLsCid(pinOf(a))).toBe('recursive')
    const listed = await all(c.pinLs('recursive'))
    expect(listed.map((p) => p.cid.toString())).toEqual([a.toString()])
  })

  test('GC walks a pinned DAG once per process (its live set is cached), and still frees it after an unpin', async () => {
    const c = await node('gc-cache')
    const leaves = [await leaf(c, 'cached 1'), await leaf(c, 'cached 2'), await leaf(c, 'cached 3')]
    const root = await pbNode(c, leaves, 'cached root')
    const loose = await leaf(c, 'not pinned')
    await c.pin(pinOf(root))
    let reads = 0
    const getBytes = c.blockstore.getBytes.bind(c.blockstore)
    c.blockstore.getBytes = async (cid: CID) => {
      reads++
      return getBytes(cid)
    }
    // the pin itself filled the cache: no DAG read at all
    expect((await gcAll(c)).map((k) => k.multihash.bytes.toString())).toEqual([loose.multihash.bytes.toString()])
    expect(reads).toBe(0)
    expect(await gcAll(c)).toEqual([])
    expect(reads).toBe(0)
    await c.unpin(root)
    expect((await gcAll(c)).length).toBe(4)
    // a new process walks once, then uses its cache
    const again = await leaf(c, 'pinned again')
    const root2 = await pbNode(c, [again], 'second root')
    await c.pin(pinOf(root2))
    await c.stop()
    const c2 = new BundledConnector(init('gc-cache'))
    await c2.start()
    started.push(c2)
    let reads2 = 0
    const getBytes2 = c2.blockstore.getBytes.bind(c2.blockstore)
    c2.blockstore.getBytes = async (cid: CID) => {
      reads2++
      return getBytes2(cid)
    }
    expect(await gcAll(c2)).toEqual([])
    expect(reads2).toBe(2)
    expect(await gcAll(c2)).toEqual([])
    expect(reads2).toBe(2)
    for (const k of [root2, again]) expect(await c2.blockstore.has(k)).toBe(true)
  })

  test('direct pin keeps only its root; GC frees the bytes in repoStat', async () => {
    const c = await node('direct')
    const l = await leaf(c, 'x'.repeat(1000))
    const root = await pbNode(c, [l], 'root')
    await c.pin(pinOf(root, 'direct'))
    expect(await c.pinLsCid(pinOf(root, 'direct'))).toBe('direct')
    expect((await all(c.pinLs('direct'))).length).toBe(1)
    expect((await all(c.pinLs('recursive'))).length).toBe(0)
    const before = (await c.repoStat()).repoSize
    const removed = await gcAll(c)
    expect(removed.map((k) => k.multihash.bytes.toString())).toEqual([l.multihash.bytes.toString()])
    expect((await c.repoStat()).repoSize).toBe(before - 1000)
    expect(await c.blockstore.has(root)).toBe(true)
  })

  test('pinLs lists indirect blocks as kubo does (type indirect and all): same CIDs and types as kubo for the same DAG and pins', async () => {
    const c = await node('indirect')
    const l1 = await leaf(c, 'indirect leaf 1, shared')
    const l2 = await leaf(c, 'leaf 2, also pinned directly')
    const l3 = await leaf(c, 'indirect leaf 3')
    const d = await leaf(c, 'a direct pin of its own')
    const m = await pbNode(c, [l3, l1], 'middle node, pinned recursively too')
    const r = await pbNode(c, [l1, l2, m], 'root')
    await c.pin(pinOf(m))
    await c.pin(pinOf(r))
    await c.pin(pinOf(l2, 'direct'))
    await c.pin(pinOf(d, 'direct'))
    const mine = new Set([l1, l2, l3, d, m, r].map((x) => x.toString()))
    const ours = async (type: string): Promise<Record<string, string>> =>
      Object.fromEntries((await all(c.pinLs(type))).map((p) => [p.cid.toString(), p.type]).filter(([k]) => mine.has(k!)))
    // the same blocks and pins in kubo
    for (const x of [l1, l2, l3, d]) await kubo.ipfsOk(['block', 'put', '--cid-codec=raw'], { input: await c.blockGet(x) })
    for (const x of [m, r]) await kubo.ipfsOk(['block', 'put', '--cid-codec=dag-pb'], { input: await c.blockGet(x) })
    await kubo.ipfsOk(['pin', 'add', m.toString()])
    await kubo.ipfsOk(['pin', 'add', r.toString()])
    await kubo.ipfsOk(['pin', 'add', '--recursive=false', l2.toString(), d.toString()])
    const kubos = async (type: string): Promise<Record<string, string>> => {
      const out = JSON.parse(await kubo.ipfsOk(['pin', 'ls', `--type=${type}`, '--enc=json'])) as { Keys: Record<string, { Type: string }> }
      return Object.fromEntries(Object.entries(out.Keys).filter(([k]) => mine.has(k)).map(([k, v]) => [k, v.Type]))
    }
    const expected = {
      [r.toString()]: 'recursive',
      [m.toString()]: 'recursive',
      [l2.toString()]: 'direct',
      [d.toString()]: 'direct',
      [l1.toString()]: 'indirect',
      [l3.toString()]: 'indirect'
    }
    expect(await kubos('all')).toEqual(expected)
    expect(await ours('all')).toEqual(expected)
    expect(await ours('')).toEqual(expected)
    expect(await ours('indirect')).toEqual(await kubos('indirect'))
    expect(await ours('indirect')).toEqual({ [l1.toString()]: 'indirect', [l3.toString()]: 'indirect' })
    expect(await ours('recursive,direct')).toEqual({ [r.toString()]: 'recursive', [m.toString()]: 'recursive', [l2.toString()]: 'direct', [d.toString()]: 'direct' })
    // each CID once, pins first
    const listed = await all(c.pinLs('all'))
    expect(new Set(listed.map((p) => p.cid.toString())).size).toBe(listed.length)
    expect(listed.findIndex((p) => p.type === 'indirect')).toBeGreaterThan(listed.findLastIndex((p) => p.type !== 'indirect'))
    // a max-depth pin lists what is under it down to its depth only
    const deep = await leaf(c, 'two levels down')
    const mid = await pbNode(c, [deep], 'one level down')
    const top = await pbNode(c, [mid], 'max-depth 1 root')
    await c.pin({ ...pinOf(top), maxDepth: 1 })
    const ind = await all(c.pinLs('indirect'))
    expect(ind.map((p) => p.cid.toString())).toContain(mid.toString())
    expect(ind.map((p) => p.cid.toString())).not.toContain(deep.toString())
  })

  test('storage_max refuses a write with a message naming the key, and keeps what is stored', async () => {
    const c = await node('full', { storageMaxBytes: 1500 })
    await leaf(c, 'y'.repeat(1000))
    await expect(leaf(c, 'z'.repeat(1000))).rejects.toThrow('storage_max')
    expect((await c.repoStat()).repoSize).toBe(1000)
    expect((await c.repoStat()).storageMax).toBe(1500)
  })

  test('blockStream refuses a block whose bytes do not match its CID', async () => {
    const c = await node('stream')
    const good = new TextEncoder().encode('good')
    const cid = CID.createV1(0x55, await sha256.digest(good))
    async function* blocks() {
      yield { cid, bytes: good }
      yield { cid, bytes: new TextEncoder().encode('bad') }
    }
    await expect(c.blockStream(blocks())).rejects.toThrow('do not match')
    expect(await c.blockGet(cid)).toEqual(good)
  })
})

describe('bundled connector: network', () => {
  test('pins a DAG from another bundled node over bitswap, concurrently, with progress', async () => {
    const src = await node('src')
    const dst = await node('dst')
    const fs = unixfs(src.helia)
    const content = crypto.getRandomValues(new Uint8Array(3 * 1024 * 1024))
    const root = await fs.addBytes(content)
    await dst.swarmConnect((await src.id()).addresses.slice(0, 1))
    expect(await dst.swarmPeers()).toContain((await src.id()).id)
    const progress: number[] = []
    await dst.pin(pinOf(root), { onProgress: (n) => progress.push(n) })
    expect(progress.length).toBeGreaterThan(2)
    expect(progress.at(-1)).toBe(progress.length)
    await src.stop()
    const back = new Uint8Array(content.length)
    let o = 0
    for await (const chunk of unixfs(dst.helia).cat(root, { offline: true })) {
      back.set(chunk, o)
      o += chunk.length
    }
    expect(o).toBe(content.length)
    expect(back).toEqual(content)
  })

  test('swarm_key_file: nodes sharing the key connect and pin from each other; a node without it cannot connect', async () => {
    const keyFile = join(tmp, 'swarm.key')
    await writeFile(keyFile, `/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex')}\n`)
    const a = await node('psk-a', { swarmKeyFile: keyFile })
    const b = await node('psk-b', { swarmKeyFile: keyFile })
    const outsider = await node('psk-out', { pinTimeoutMs: 2000 })
    const root = await pbNode(a, [await leaf(a, 'private data')], 'private root')
    await b.swarmConnect([(await a.id()).addresses[0]!])
    await b.pin(pinOf(root))
    expect(await b.pinLsCid(pinOf(root))).toBe('recursive')
    // the handshake with a node of another private network may hang instead of failing: bounded
    await expect(outsider.swarmConnect([(await a.id()).addresses[0]!], { signal: AbortSignal.timeout(5000) })).rejects.toThrow(/swarm.connect/)
    expect(await outsider.swarmPeers()).toEqual([])
    const bad = join(tmp, 'bad.key')
    await writeFile(bad, 'not a key')
    await expect(new BundledConnector(init('psk-bad', { swarmKeyFile: bad })).start()).rejects.toThrow('bundled.swarm_key_file')
    await expect(new BundledConnector(init('psk-none', { swarmKeyFile: join(tmp, 'absent.key') })).start()).rejects.toThrow('bundled.swarm_key_file')
  }, 30_000)

  test('a listen address in use fails the start with an IPFSError; the same folder starts afterwards', async () => {
    const a = await node('listen-a')
    const used = (await a.id()).addresses[0]!.split('/p2p/')[0]!
    const b = new BundledConnector(init('listen-b', { listenMultiaddress: [used] }))
    await expect(b.start()).rejects.toThrow('bundled IPFS (start)')
    const again = new BundledConnector(init('listen-b'))
    await again.start()
    started.push(again)
    expect((await again.id()).addresses.length).toBeGreaterThan(0)
  })

  test('a GC during a pin keeps the blocks fetched so far; the pin completes once a peer with the last block connects', async () => {
    const src = await node('gc-src')
    const late = await node('gc-late')
    const dst = await node('gc-dst')
    const l1 = await leaf(src, 'first leaf')
    // the second leaf is only on a node dst is not connected to yet
    const l2 = await leaf(late, 'second leaf, on another node')
    const root = await pbNode(src, [l1, l2], 'root waiting for a leaf')
    await dst.swarmConnect([(await src.id()).addresses[0]!])
    const pinning = dst.pin(pinOf(root))
    await waitFor(async () => (await dst.blockstore.has(root)) && (await dst.blockstore.has(l1)), 'root and first leaf fetched', 20_000, 20)
    expect(await gcAll(dst)).toEqual([])
    expect(await dst.pinLsCid(pinOf(root))).toBe('unpinned')
    await dst.swarmConnect([(await late.id()).addresses[0]!])
    await pinning
    for (const c of [root, l1, l2]) expect(await dst.blockstore.has(c)).toBe(true)
    expect(await gcAll(dst)).toEqual([])
  })

  // Helia's bitswap keeps one want per CID for all its requesters: when one request is aborted, the want is
  // dropped for all, and a provider that connects afterwards is not asked for it (nor is any peer again)
  async function wantDroppedUnderPin(rewantIntervalMs: number, pinTimeoutMs: number): Promise<{ pin: Promise<string>; cid: CID; a: BundledConnector }> {
    const a = await node(`rewant-a-${rewantIntervalMs}`, { rewantIntervalMs, pinTimeoutMs })
    const b = await node(`rewant-b-${rewantIntervalMs}`)
    const bytes = crypto.getRandomValues(new Uint8Array(2000))
    const cid = await b.blockPut(bytes, { format: 'raw' })
    const ctl = new AbortController()
    const get = a.blockGet(cid, { signal: ctl.signal }).then(
      () => 'got',
      (e: Error) => e.name
    )
    const pin = a.pin(pinOf(cid)).then(
      () => 'pinned',
      (e: Error) => e.message
    )
    await waitFor(async () => a.wantlist().some((x) => x.equals(cid)), 'A wants the block', 20_000, 20)
    ctl.abort()
    expect(await get).toBe('AbortError')
    // the pin still waits for the block, but the want is gone
    expect(a.wantlist().some((x) => x.equals(cid))).toBe(false)
    // the provider connects only now
    await a.swarmConnect([(await b.id()).addresses[0]!])
    return { pin, cid, a }
  }

  test('re-asking: a pin whose want was dropped under it (another request for the block aborted) asks again and gets the block from a provider that connects later', async () => {
    const { pin, cid, a } = await wantDroppedUnderPin(300, 20_000)
    expect(await pin).toBe('pinned')
    expect(await a.pinLsCid(pinOf(cid))).toBe('recursive')
    expect(a.wantlist().some((x) => x.equals(cid))).toBe(false)
  }, 60_000)

  test('without re-asking (rewant_interval 0) the same pin times out: the behaviour re-asking is for', async () => {
    const { pin } = await wantDroppedUnderPin(0, 2500)
    expect(await pin).toContain('pin timeout')
  }, 60_000)

  test("re-asking redials a pin's origins that are not connected", async () => {
    const a = await node('origins-a', { rewantIntervalMs: 300 })
    // a fixed port: the origin address stays valid across b's restart
    const b = await node('origins-b', { listenMultiaddress: [`/ip4/127.0.0.1/tcp/${await freePort()}`] })
    const root = await pbNode(b, [await leaf(b, 'behind an origin')], 'origin root')
    const bAddr = (await b.id()).addresses[0]!
    // a pin naming b as origin; the first dial is made to fail by b being unreachable (stopped) at that time
    await b.stop()
    const pinning = a.pin(pinWithOpts(root, { ...defaultPinOptions(), origins: [bAddr] }))
    await waitFor(async () => a.wantlist().some((x) => x.equals(root)), 'A wants the root', 20_000, 20)
    expect(await a.swarmPeers()).toEqual([])
    await b.start()
    await pinning
    expect(await a.pinLsCid(pinOf(root))).toBe('recursive')
    expect(await a.swarmPeers()).toContain((await b.id()).id)
  }, 60_000)

  test.todo('content routing: a pin gets blocks from a kubo peer that is neither connected nor in pin.origins, found through a kad-dht on the bundled node (bootstrap peers); not built: blocks come from connected peers only')

  test('a CID nobody has fails with a pin timeout message', async () => {
    const c = await node('timeout', { pinTimeoutMs: 1500 })
    const missing = CID.createV1(0x55, await sha256.digest(crypto.getRandomValues(new Uint8Array(32))))
    await expect(c.pin(pinOf(missing))).rejects.toThrow('pin timeout')
    expect(await c.pinLsCid(pinOf(missing))).toBe('unpinned')
  })

  test('kubo -> bundled: pins what kubo added; bundled -> kubo: kubo pins what bundled added', async () => {
    const c = await node('kubo-interop')
    const text = `hello from kubo ${'k'.repeat(300_000)}`
    const kcid = CID.parse(await kubo.ipfsOk(['add', '-Q', '--cid-version=1'], { input: text }))
    await c.swarmConnect([kubo.swarmAddrs[0]!])
    await c.pin(pinOf(kcid))
    expect(await c.pinLsCid(pinOf(kcid))).toBe('recursive')
    const chunks: Uint8Array[] = []
    for await (const ch of unixfs(c.helia).cat(kcid, { offline: true })) chunks.push(ch)
    expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe(text)

    const mine = crypto.getRandomValues(new Uint8Array(2 * 1024 * 1024))
    const bcid = await unixfs(c.helia).addBytes(mine)
    await kubo.ipfsOk(['swarm', 'connect', (await c.id()).addresses[0]!])
    await kubo.ipfsOk(['pin', 'add', bcid.toString()], { timeoutMs: 60_000 })
    // kubo has the whole DAG locally once the pin succeeded
    const refs = await kubo.ipfs(['refs', '-r', '--offline', bcid.toString()])
    expect(refs.code).toBe(0)
    expect(refs.stdout.trim().split('\n').length).toBeGreaterThan(1)
  })
})

describe('bundled connector: gateway', () => {
  test('serves files by path byte for byte, ?format=raw blocks, ?format=car DAGs; 404 and 400 otherwise', async () => {
    const c = await node('gateway', { gatewayListenMultiaddress: '/ip4/127.0.0.1/tcp/0' })
    const gw = c.gatewayUrl
    expect(gw).toBeDefined()
    const fs = unixfs(c.helia)
    const big = crypto.getRandomValues(new Uint8Array(1_500_000))
    const small = new TextEncoder().encode('small file\n')
    let dir = await fs.addDirectory()
    dir = await fs.cp(await fs.addBytes(big), dir, 'big.bin')
    dir = await fs.cp(await fs.addBytes(small), dir, 'small.txt')

    const file = await fetch(`${gw}/ipfs/${dir}/big.bin`)
    expect(file.status).toBe(200)
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(big)
    const listing = await fetch(`${gw}/ipfs/${dir}`)
    expect((await listing.text()).trim().split('\n').sort()).toEqual(['big.bin', 'small.txt'])

    const raw = await fetch(`${gw}/ipfs/${dir}?format=raw`)
    expect(raw.headers.get('content-type')).toBe('application/vnd.ipld.raw')
    expect(new Uint8Array(await raw.arrayBuffer())).toEqual((await c.blockGet(dir)) as Uint8Array<ArrayBuffer>)

    const car = await fetch(`${gw}/ipfs/${dir}`, { headers: { Accept: 'application/vnd.ipld.car' } })
    expect(car.status).toBe(200)
    const reader = await CarReader.fromBytes(new Uint8Array(await car.arrayBuffer()))
    expect((await reader.getRoots()).map(String)).toEqual([dir.toString()])
    const carBlocks = await all(reader.blocks())
    for (const b of carBlocks) expect(b.bytes).toEqual(await c.blockGet(b.cid))
    // root + directory entries: 2 files, the big one chunked
    expect(carBlocks.length).toBeGreaterThan(3)

    const missing = CID.createV1(0x55, await sha256.digest(crypto.getRandomValues(new Uint8Array(32))))
    expect((await fetch(`${gw}/ipfs/${missing}`)).status).toBe(404)
    expect((await fetch(`${gw}/ipfs/${dir}/nope.txt`)).status).toBe(404)
    expect((await fetch(`${gw}/ipfs/not-a-cid`)).status).toBe(400)
    expect((await fetch(`${gw}/ipfs/${dir}?format=tar`)).status).toBe(400)
    expect((await fetch(`${gw}/ipfs/${dir}`, { method: 'POST' })).status).toBe(405)
  })
})
