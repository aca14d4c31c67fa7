/** `decodeCid` (the listing's CID decoder) gives what `CID.decode` gives, for every shape. */
import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { decodeCid } from '../../../src/types/cidbytes.ts'

function same(b: Uint8Array): void {
  const want = CID.decode(b)
  const got = decodeCid(b)
  expect(got.version).toBe(want.version)
  expect(got.code).toBe(want.code)
  expect(got.multihash.code).toBe(want.multihash.code)
  expect(got.multihash.size).toBe(want.multihash.size)
  expect([...got.multihash.digest]).toEqual([...want.multihash.digest])
  expect([...got.multihash.bytes]).toEqual([...want.multihash.bytes])
  expect([...got.bytes]).toEqual([...want.bytes])
  expect(got.toString()).toBe(want.toString())
  expect(got.equals(want)).toBe(true)
  expect(want.equals(got)).toBe(true)
}

describe('decodeCid', () => {
  test('CIDv1 of one- and two-byte codecs, sha2-256, sha2-512 and identity; CIDv0', async () => {
    for (let i = 0; i < 200; i++) {
      const data = new TextEncoder().encode(`cid-${i}`)
      const h = await sha256.digest(data)
      for (const code of [0x55, 0x70, 0x71, 0x0129, 0x7f, 0x80]) same(CID.createV1(code, h).bytes)
      same(CID.createV1(0x55, await sha512.digest(data)).bytes)
      same(CID.createV1(0x55, identity.digest(data)).bytes)
      same(CID.createV0(h).bytes)
      // a sha2-256 code with another length goes to CID.decode
      same(CID.createV1(0x55, Digest.create(0x12, h.digest.subarray(0, 20))).bytes)
    }
  })

  test('views into a larger buffer, and malformed bytes throw as CID.decode does', async () => {
    const h = await sha256.digest(new Uint8Array([1, 2, 3]))
    const bytes = CID.createV1(0x55, h).bytes
    const big = new Uint8Array(100)
    big.set(bytes, 10)
    same(big.subarray(10, 10 + bytes.length))
    for (const bad of [new Uint8Array([1, 0x55, 0x12]), new Uint8Array([2, 0x55, 0x12, 0x20]), new Uint8Array([0x12, 0x20, 1])]) {
      expect(() => CID.decode(bad)).toThrow()
      expect(() => decodeCid(bad)).toThrow()
    }
  })
})
