/** `decodeCid` (src/types/cidbytes.ts) gives what `CID.decode` gives, for its fast shapes and the others. */
import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { cidString } from '../../../src/types/cidstring.ts'
import { decodeCid } from '../../../src/types/cidbytes.ts'

const digest = (seed: number, len = 32): Uint8Array => new Uint8Array(len).map((_, i) => (seed * 31 + i * 7) & 0xff)

describe('decodeCid', () => {
  test('the same CID as CID.decode: v0, v1 with one- and two-byte codecs, other hashes', () => {
    const cids: CID[] = []
    for (let s = 0; s < 20; s++) {
      cids.push(CID.createV0(Digest.create(0x12, digest(s))))
      for (const code of [0x55, 0x70, 0x71, 0x0129, 0x0200, 0x3fff, 0x4000]) cids.push(CID.createV1(code, Digest.create(0x12, digest(s))))
      cids.push(CID.createV1(0x55, Digest.create(0x13, digest(s, 64)))) // sha2-512
      cids.push(CID.createV1(0x55, Digest.create(0x00, digest(s, 5)))) // identity
      cids.push(CID.createV1(0x55, Digest.create(0x12, digest(s, 20)))) // a short sha2-256
    }
    for (const c of cids) {
      // from a view into a larger buffer, as the decoders give it
      const buf = new Uint8Array(c.bytes.length + 8)
      buf.set(c.bytes, 4)
      const view = buf.subarray(4, 4 + c.bytes.length)
      const got = decodeCid(view)
      const want = CID.decode(view)
      expect(got).toEqual(want)
      expect(got.equals(want)).toBe(true)
      expect(got.toString()).toBe(want.toString())
      expect(cidString(got)).toBe(c.toString())
      expect(got.multihash.digest).toEqual(want.multihash.digest)
      expect(CID.asCID(got)).toBe(got)
      // a copy: the buffer it came from may be reused
      buf.fill(0)
      expect(got.toString()).toBe(c.toString())
    }
  })

  test('invalid bytes fail as CID.decode fails', () => {
    const good = CID.createV1(0x55, Digest.create(0x12, digest(1))).bytes
    for (const bad of [new Uint8Array(0), new Uint8Array([1]), good.slice(0, 35), new Uint8Array([...good, 0]), new Uint8Array([2, ...good.slice(1)]), new Uint8Array([0x12, 32, 1])]) {
      let want = ''
      try {
        CID.decode(bad)
      } catch (err) {
        want = (err as Error).message
      }
      expect(want).not.toBe('')
      expect(() => decodeCid(bad)).toThrow(want)
    }
  })
})
