/**
 * The adder's own leaf encoding and chunker against the libraries they
 * replace: `encodeLeaf` gives the bytes of `dag-pb` + `ipfs-unixfs`, and
 * `fixedSizeChunker` cuts as `ipfs-unixfs-importer`'s `fixedSize`, with or
 * without room for the leaf around each chunk.
 */
import { describe, expect, test } from 'bun:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { encodeLeaf, fixedSizeChunker } from '../../../src/adder/dag.ts'

const pattern = (size: number, seed = 7): Uint8Array => {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}
const libraryLeaf = (type: 'file' | 'raw', chunk: Uint8Array): Uint8Array => dagPb.encode({ Data: new UnixFS({ type, data: chunk }).marshal(), Links: [] })

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of it) out.push(c)
  return out
}

async function* pieces(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!
    yield data.slice(off, off + n)
    off += n
  }
}

describe('encodeLeaf', () => {
  for (const type of ['file', 'raw'] as const) {
    for (const size of [0, 1, 127, 128, 300, 16_383, 16_384, 262_144, 1_048_576, 2 * 1024 * 1024]) {
      test(`${type} leaf of ${size} bytes equals the libraries' encoding`, () => {
        const chunk = pattern(size)
        expect(Buffer.from(encodeLeaf(type, chunk)).equals(Buffer.from(libraryLeaf(type, chunk)))).toBe(true)
      })
    }
  }
})

describe('fixedSizeChunker', () => {
  const cases: { total: number; chunk: number; pieces: number[] }[] = [
    { total: 0, chunk: 1024, pieces: [100] },
    { total: 1, chunk: 1024, pieces: [1] },
    { total: 1024, chunk: 1024, pieces: [1024] },
    { total: 1025, chunk: 1024, pieces: [1025] },
    { total: 5000, chunk: 1024, pieces: [7, 3000, 1, 64] },
    { total: 10 * 1024, chunk: 1024, pieces: [512] },
    { total: 10 * 1024 + 3, chunk: 1024, pieces: [4096, 5] },
    { total: 3 * 262_144 + 17, chunk: 262_144, pieces: [65_536, 100_000] }
  ]
  for (const c of cases) {
    for (const leafRoom of [false, true]) {
      test(`${c.total} bytes in pieces of ${c.pieces.join('/')} at ${c.chunk} (leafRoom ${leafRoom}): the library's chunks, leaves equal`, async () => {
        const data = pattern(c.total, 3)
        const want = await collect(fixedSize({ chunkSize: c.chunk })(pieces(data, c.pieces)))
        const got = await collect(fixedSizeChunker(c.chunk, leafRoom)(pieces(data, c.pieces)))
        expect(got.map((x) => x.length)).toEqual(want.map((x) => x.length))
        for (let i = 0; i < want.length; i++) {
          expect(Buffer.from(got[i]!).equals(Buffer.from(want[i]!))).toBe(true)
          for (const type of ['file', 'raw'] as const) {
            if (got[i]!.length === 0) continue
            expect(Buffer.from(encodeLeaf(type, new Uint8Array(got[i]!))).equals(Buffer.from(libraryLeaf(type, want[i]!)))).toBe(true)
          }
          // encoded in place around the chunk (once: the room is then used)
          expect(Buffer.from(encodeLeaf('file', got[i]!)).equals(Buffer.from(libraryLeaf('file', want[i]!)))).toBe(true)
        }
      })
    }
  }
})
