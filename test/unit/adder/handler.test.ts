/**
 * The /add handler in process: a real multipart body, blocks into an
 * in-memory sink, a recorded pin. CIDs here were computed by kubo 0.42
 * (`ipfs add --only-hash`); the full matrix against a live kubo is in
 * test/integration/adder/.
 */
import { describe, expect, test } from 'bun:test'
import { CarWriter } from '@ipld/car/writer'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { AdderComponents } from '../../../src/adder/adder.ts'
import type { Block } from '../../../src/adder/dag.ts'
import { createAddHandler } from '../../../src/adder/handler.ts'
import { encodeMultipart, type UploadEntry } from '../../../src/adder/multipart.ts'
import { type BlockSink, fanoutBlockSink, streamBlockSink } from '../../../src/adder/sink.ts'
import { streamTrailers } from '../../../src/api/rest/stream.ts'
import type { PeerId, PinOptions } from '../../../src/types/index.ts'

const LOCAL = '12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'
const OTHER = '12D3KooWMQoa9qosUtf5sHe6GowxUR4qFitSDmRJmyLfso47UC9S'
const enc = new TextEncoder()

interface Harness {
  components: AdderComponents
  blocks: Map<string, Uint8Array>
  pins: { cid: string; opts: PinOptions & { allocations: PeerId[] } }[]
  sinkPeers: PeerId[][]
}

function harness(opts: { allocations?: PeerId[]; failAfter?: number; pinFails?: boolean } = {}): Harness {
  const blocks = new Map<string, Uint8Array>()
  const pins: Harness['pins'] = []
  const sinkPeers: PeerId[][] = []
  let n = 0
  const consume = async (src: AsyncIterable<Block>): Promise<void> => {
    for await (const b of src) {
      if (opts.failAfter !== undefined && n >= opts.failAfter) throw new Error('IPFS request failed (is it running?) (block/put)')
      n++
      blocks.set(b.cid.toString(), b.bytes)
    }
  }
  const components: AdderComponents = {
    localPeer: LOCAL,
    ipfs: { blockStream: consume },
    allocate: async () => opts.allocations ?? [LOCAL],
    blockSinks: (peers): BlockSink => {
      sinkPeers.push(peers)
      return fanoutBlockSink([{ peer: LOCAL, sink: streamBlockSink(consume, 4) }])
    },
    pin: async (cid, o) => {
      if (opts.pinFails === true) throw new Error('pin failed')
      pins.push({ cid: cid.toString(), opts: o })
      return { cid, ...o, type: 'pin', maxDepth: -1, reference: null, timestamp: new Date() }
    }
  }
  return { components, blocks, pins, sinkPeers }
}

async function* bytes(...chunks: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield typeof c === 'string' ? enc.encode(c) : c
}

function request(query: string, entries: UploadEntry[]): Request {
  const { body, contentType } = encodeMultipart(entries)
  return new Request(`http://127.0.0.1/add?${query}`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType },
    duplex: 'half'
  } as RequestInit)
}

async function lines(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text()
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

function trailer(res: Response): string {
  return streamTrailers(res)?.find(([k]) => k === 'X-Stream-Error')?.[1] ?? ''
}

describe('POST /add handler', () => {
  test('one file: kubo CID, blocks stored, pinned with the allocations', async () => {
    const h = harness()
    const res = await createAddHandler(h.components)(request('name=one', [{ kind: 'file', path: 'one', content: () => bytes('a') }]))
    expect(res.status).toBe(200)
    expect(res.headers.get('X-Chunked-Output')).toBe('1')
    expect(res.headers.get('Trailer')).toBe('X-Stream-Error')
    const out = await lines(res)
    expect(trailer(res)).toBe('')
    expect(out).toEqual([{ name: 'one', cid: 'QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d', size: 9, allocations: [LOCAL] }])
    expect(h.blocks.has('QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d')).toBe(true)
    expect(h.pins).toHaveLength(1)
    expect(h.pins[0]?.cid).toBe('QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d')
    expect(h.pins[0]?.opts.name).toBe('one')
    expect(h.pins[0]?.opts.allocations).toEqual([LOCAL])
  })

  test('a folder: one line per file and directory, root last, every block stored', async () => {
    const h = harness()
    const entries: UploadEntry[] = [
      { kind: 'dir', path: 'tree' },
      { kind: 'file', path: 'tree/a.txt', content: () => bytes('hi\n') },
      { kind: 'dir', path: 'tree/sub' },
      { kind: 'file', path: 'tree/sub/b', content: () => bytes('x\n') },
      { kind: 'file', path: 'tree/sub/e', content: () => bytes() }
    ]
    const out = await lines(await createAddHandler(h.components)(request('recursive=true', entries)))
    // kubo 0.42: `ipfs add -r tree` (tree/emptydir is added as its own test below)
    expect(out.map((o) => [o.name, o.cid])).toEqual([
      ['tree/a.txt', 'QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'],
      ['tree/sub/b', 'QmUNXr47Bja3aHUMfhXX5mMWTFJKuoUGETcA48vHG7dhag'],
      ['tree/sub/e', 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH'],
      ['tree/sub', 'QmR1SnEzekVp4diRmLZs8pEF66x3grkArxtmvKgr9mDC4X'],
      ['tree', expect.any(String)]
    ])
    const root = out.at(-1)?.cid as string
    expect(h.pins[0]?.cid).toBe(root)
    // every link of the root DAG is in the sink
    const walk = (c: string): void => {
      const b = h.blocks.get(c)
      expect(b).toBeDefined()
      if (CID.parse(c).code === dagPb.code) for (const l of dagPb.decode(b as Uint8Array).Links) walk(l.Hash.toString())
    }
    walk(root)
  })

  test('wrap, progress lines, no-pin', async () => {
    const h = harness()
    const big = new Uint8Array(600 * 1024).fill(7)
    const out = await lines(
      await createAddHandler(h.components)(
        request('wrap-with-directory=true&progress=true&no-pin=true', [
          { kind: 'file', path: 'big', content: () => bytes(...Array.from({ length: 10 }, (_, i) => big.subarray(i * 61440, (i + 1) * 61440))) }
        ])
      )
    )
    const progress = out.filter((o) => o.cid === '')
    const seen = progress.map((p) => p.bytes as number)
    expect(seen.at(-1)).toBe(614400)
    expect(seen.length).toBeGreaterThanOrEqual(1)
    for (let i = 1; i < seen.length; i++) expect((seen[i] as number) - (seen[i - 1] as number)).toBeGreaterThan(0)
    expect(progress.every((p) => p.name === 'big')).toBe(true)
    const added = out.filter((o) => o.cid !== '')
    expect(added.map((o) => o.name)).toEqual(['big', ''])
    expect(h.pins).toHaveLength(0)
  })

  test('stream-channels=false answers one JSON array', async () => {
    const h = harness()
    const res = await createAddHandler(h.components)(request('stream-channels=false', [{ kind: 'file', path: 'one', content: () => bytes('a') }]))
    expect(res.status).toBe(200)
    expect(JSON.parse(await res.text())).toEqual([{ name: 'one', cid: 'QmfDmsHTywy6L9Ne5RXsj5YumDedfBLMvCvmaxjBoe6w4d', size: 9, allocations: [LOCAL] }])
  })

  test('--local: blocks only to the local peer, which takes the last allocation', async () => {
    const h = harness({ allocations: [OTHER, '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'] })
    const out = await lines(await createAddHandler(h.components)(request('local=true', [{ kind: 'file', path: 'one', content: () => bytes('a') }])))
    expect(h.sinkPeers).toEqual([[LOCAL]])
    expect(out[0]?.allocations).toEqual([OTHER, LOCAL])
    expect(h.pins[0]?.opts.allocations).toEqual([OTHER, LOCAL])
  })

  test('bad params and bodies: 400 before reading', async () => {
    const h = harness()
    const handler = createAddHandler(h.components)
    const r1 = await handler(request('shard=true', [{ kind: 'file', path: 'one', content: () => bytes('a') }]))
    expect(r1.status).toBe(400)
    expect(await r1.json()).toEqual({ code: 400, message: 'sharding is not supported' })
    const r2 = await handler(new Request('http://127.0.0.1/add', { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } }))
    expect(r2.status).toBe(400)
    const r3 = await handler(request('chunker=size-0', [{ kind: 'file', path: 'one', content: () => bytes('a') }]))
    // refused before the upload is read (upstream only fails once the DAG builder starts)
    expect(r3.status).toBe(400)
    expect(await r3.json()).toEqual({ code: 400, message: 'chunker size must be greater than 0' })
    expect(h.pins).toHaveLength(0)
  })

  test('IPFS failing mid-upload: the error is in the trailer and nothing is pinned', async () => {
    const h = harness({ failAfter: 3 })
    const big = new Uint8Array(3 * 1024 * 1024).fill(1)
    const res = await createAddHandler(h.components)(request('', [{ kind: 'file', path: 'big', content: () => bytes(big) }]))
    expect(res.status).toBe(200)
    await res.text()
    expect(trailer(res)).toContain('failed to put block on all destinations')
    expect(h.pins).toHaveLength(0)
  })

  test('the client going away mid-upload: nothing is pinned', async () => {
    const h = harness()
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(300 * 1024)
      throw new Error('connection reset')
    }
    const res = await createAddHandler(h.components)(request('', [{ kind: 'file', path: 'f', content: broken }]))
    await res.text()
    expect(trailer(res)).not.toBe('')
    expect(h.pins).toHaveLength(0)
  })

  test('format=car: blocks of the CAR stored, its root pinned, bytes and size reported', async () => {
    const h = harness()
    const leaf = enc.encode('hello car')
    const leafCid = CID.create(1, raw.code, await sha256.digest(leaf))
    const { UnixFS } = await import('ipfs-unixfs')
    const fsNode = new UnixFS({ type: 'file' })
    fsNode.addBlockSize(BigInt(leaf.length))
    const rootBytes = dagPb.encode(dagPb.prepare({ Data: fsNode.marshal(), Links: [{ Hash: leafCid, Tsize: leaf.length, Name: '' }] }))
    const rootCid = CID.create(1, dagPb.code, await sha256.digest(rootBytes))
    const { writer, out } = CarWriter.create([rootCid])
    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for await (const c of out) chunks.push(c)
    })()
    await writer.put({ cid: rootCid, bytes: rootBytes })
    await writer.put({ cid: leafCid, bytes: leaf })
    await writer.close()
    await reading
    const res = await createAddHandler(h.components)(request('format=car', [{ kind: 'file', path: 'x.car', content: () => bytes(...chunks) }]))
    const outLines = await lines(res)
    expect(trailer(res)).toBe('')
    expect(outLines).toEqual([{ name: 'x.car', cid: rootCid.toString(), bytes: leaf.length + rootBytes.length, size: leaf.length, allocations: [LOCAL] }])
    expect(h.blocks.has(leafCid.toString()) && h.blocks.has(rootCid.toString())).toBe(true)
    expect(h.pins[0]?.cid).toBe(rootCid.toString())
  })

  test('format=car with a broken CAR: error, nothing pinned', async () => {
    const h = harness()
    const res = await createAddHandler(h.components)(request('format=car', [{ kind: 'file', path: 'x.car', content: () => bytes('this is not a car') }]))
    await res.text()
    expect(trailer(res)).toContain('CAR')
    expect(h.pins).toHaveLength(0)
  })
})
