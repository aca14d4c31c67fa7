// The bundled node's DAG walk: concurrency, each block once, max depth, failures; the blockstore's durability rules.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockKey, FsBlockstore } from '../../../src/ipfsconn/bundled/blockstore.ts'
import { blockLinks, walkDag } from '../../../src/ipfsconn/bundled/dag.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** A two-level DAG: root -> `width` inner nodes -> `width` raw leaves each, the last leaf shared by all. */
async function makeDag(width: number): Promise<{ root: CID; blocks: Map<string, { cid: CID; bytes: Uint8Array }> }> {
  const blocks = new Map<string, { cid: CID; bytes: Uint8Array }>()
  const put = async (code: number, bytes: Uint8Array): Promise<CID> => {
    const cid = CID.createV1(code, await sha256.digest(bytes))
    blocks.set(blockKey(cid), { cid, bytes })
    return cid
  }
  const shared = await put(0x55, new TextEncoder().encode('shared'))
  const inner: CID[] = []
  for (let i = 0; i < width; i++) {
    const leaves: CID[] = [shared]
    for (let j = 0; j < width - 1; j++) leaves.push(await put(0x55, new TextEncoder().encode(`leaf ${i} ${j}`)))
    inner.push(await put(0x70, dagPb.encode(dagPb.prepare({ Links: leaves.map((l) => ({ Hash: l })) }))))
  }
  const root = await put(0x70, dagPb.encode(dagPb.prepare({ Links: inner.map((l) => ({ Hash: l })) })))
  return { root, blocks }
}

describe('walkDag', () => {
  test('keeps `concurrency` requests in flight and asks each block once', async () => {
    const { root, blocks } = await makeDag(6)
    let inflight = 0
    let maxInflight = 0
    const asked = new Map<string, number>()
    const pending: (() => void)[] = []
    const get = (c: CID): Promise<Uint8Array> => {
      const k = blockKey(c)
      asked.set(k, (asked.get(k) ?? 0) + 1)
      inflight++
      maxInflight = Math.max(maxInflight, inflight)
      return new Promise((resolve) => {
        pending.push(() => {
          inflight--
          resolve(blocks.get(k)!.bytes)
        })
      })
    }
    // release the requests one macrotask at a time, so several are outstanding together
    const pump = setInterval(() => pending.shift()?.(), 0)
    try {
      const n = await walkDag(root, get, { maxDepth: -1, concurrency: 4 })
      expect(n).toBe(blocks.size)
    } finally {
      clearInterval(pump)
    }
    expect(maxInflight).toBe(4)
    expect([...asked.values()].every((v) => v === 1)).toBe(true)
    expect(asked.size).toBe(blocks.size)
  })

  test('maxDepth bounds the walk: 0 = root only, 1 = root and its children', async () => {
    const { root, blocks } = await makeDag(3)
    const get = async (c: CID): Promise<Uint8Array> => blocks.get(blockKey(c))!.bytes
    expect(await walkDag(root, get, { maxDepth: 0, concurrency: 2 })).toBe(1)
    expect(await walkDag(root, get, { maxDepth: 1, concurrency: 2 })).toBe(4)
  })

  test('the first failure rejects the walk; with onSkip the walk goes around it', async () => {
    const { root, blocks } = await makeDag(3)
    const inner = blockLinks(root, blocks.get(blockKey(root))!.bytes)[1]!
    const get = async (c: CID): Promise<Uint8Array> => {
      if (c.equals(inner)) throw new Error('block missing')
      return blocks.get(blockKey(c))!.bytes
    }
    await expect(walkDag(root, get, { maxDepth: -1, concurrency: 2 })).rejects.toThrow('block missing')
    const skipped: CID[] = []
    const n = await walkDag(root, get, { maxDepth: -1, concurrency: 2, onSkip: (c) => skipped.push(c) })
    expect(skipped.map(String)).toEqual([inner.toString()])
    // everything but the missing inner node and its 2 own leaves
    expect(n).toBe(blocks.size - 3)
  })
})

describe('FsBlockstore', () => {
  test('a CIDv0 and a CIDv1 of one block share a file; leftover .tmp files go at open; sizes survive a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fsbs-'))
    dirs.push(dir)
    const bs = new FsBlockstore(dir)
    await bs.open()
    const bytes = dagPb.encode(dagPb.prepare({ Data: new TextEncoder().encode('x') }))
    const v1 = CID.createV1(0x70, await sha256.digest(bytes))
    await bs.put(v1, bytes)
    expect(await bs.has(v1.toV0())).toBe(true)
    expect(await bs.getBytes(v1.toV0())).toEqual(bytes)
    const shard = (await readdir(dir))[0]!
    await writeFile(join(dir, shard, 'HALFWRITTEN.data.1.0.tmp'), 'partial')
    const again = new FsBlockstore(dir)
    await again.open()
    expect(again.size).toBe(bytes.length)
    expect(again.numBlocks).toBe(1)
    expect((await readdir(join(dir, shard))).filter((f) => f.endsWith('.tmp'))).toEqual([])
    await again.delete(v1)
    expect(again.size).toBe(0)
    await expect(again.getBytes(v1)).rejects.toThrow('block not found')
  })
})
