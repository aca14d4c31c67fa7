import { describe, expect, test } from 'bun:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { encodeLeaf } from '../../../src/adder/dag.ts'

describe('encodeLeaf', () => {
  for (const type of ['file', 'raw'] as const) {
    for (const size of [0, 1, 127, 128, 300, 16_383, 16_384, 262_144, 1_048_576, 2 * 1024 * 1024]) {
      test(`${type} leaf of ${size} bytes equals the libraries' encoding`, () => {
        const chunk = new Uint8Array(size)
        for (let i = 0; i < size; i++) chunk[i] = (i * 31 + 7) & 0xff
        const want = dagPb.encode({ Data: new UnixFS({ type, data: chunk }).marshal(), Links: [] })
        expect(Buffer.from(encodeLeaf(type, chunk)).equals(Buffer.from(want))).toBe(true)
      })
    }
  }
})
