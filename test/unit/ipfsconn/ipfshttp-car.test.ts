/** The connector's CARv1 writer, read back with @ipld/car's reader. */
import { describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { carV1Stream } from '../../../src/ipfsconn/ipfshttp/car.ts'

async function rawBlock(n: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(n))
  return { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes }
}

describe('carV1Stream', () => {
  test('the blocks, in order, with the root in the header (empty, small, 300-byte and 1 MiB blocks, CIDv0 and v1)', async () => {
    const blocks = [await rawBlock(0), await rawBlock(1), await rawBlock(300), await rawBlock(1024 * 1024)]
    const pbBytes = dagPb.encode({ Links: [{ Hash: blocks[2]!.cid, Name: 'x', Tsize: 300 }] })
    blocks.push({ cid: CID.createV0(await sha256.digest(pbBytes)), bytes: pbBytes })
    const root = blocks[4]!.cid
    const it = await CarBlockIterator.fromIterable(
      carV1Stream(
        root,
        (async function* () {
          yield* blocks
        })()
      )
    )
    expect((await it.getRoots()).map(String)).toEqual([root.toString()])
    const got: { cid: CID; bytes: Uint8Array }[] = []
    for await (const b of it) got.push(b)
    expect(got.map((b) => b.cid.toString())).toEqual(blocks.map((b) => b.cid.toString()))
    for (let i = 0; i < blocks.length; i++) expect(Buffer.from(got[i]!.bytes).equals(Buffer.from(blocks[i]!.bytes))).toBe(true)
  })

  test('a block is pulled only when the reader asks for more', async () => {
    let pulled = 0
    const blocks = [await rawBlock(10), await rawBlock(10), await rawBlock(10)]
    const s = carV1Stream(
      blocks[0]!.cid,
      (async function* () {
        for (const b of blocks) {
          pulled++
          yield b
        }
      })()
    )
    await s.next() // the header
    expect(pulled).toBe(0)
    await s.next() // the first section's prefix
    expect(pulled).toBe(1)
    await s.return(undefined)
    expect(pulled).toBe(1)
  })
})
