/** `parseCidString` (src/types/cidstring.ts) gives what `CID.parse` gives: the same CID, or an error where it throws. */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { parseCidString } from '../../../src/types/cidstring.ts'

const CODECS = [0x55, 0x70, 0x71, 0x0129, 0x0200, 0x3fff, 0x4000]
const HASHES: Array<[number, number]> = [
  [0x12, 32],
  [0x13, 64],
  [0x00, 5],
  [0x12, 20]
]

const arbCid = fc
  .tuple(fc.constantFrom(...CODECS), fc.constantFrom(...HASHES), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.boolean())
  .map(([code, [hash, len], bytes, v0]) => (v0 ? CID.createV0(Digest.create(0x12, bytes.subarray(0, 32))) : CID.createV1(code, Digest.create(hash, bytes.subarray(0, len)))))

/** What `f(s)` gives: the CID's string and bytes, or that it threw. */
function outcome(f: (s: string) => CID, s: string): { cid?: string; bytes?: number[]; threw?: true } {
  try {
    const c = f(s)
    return { cid: c.toString(), bytes: [...c.bytes] }
  } catch {
    return { threw: true }
  }
}

describe('parseCidString', () => {
  test('the same CID as CID.parse for v0 and v1 strings of many codecs and hashes', () => {
    fc.assert(
      fc.property(arbCid, (c) => {
        const s = c.toString()
        const got = parseCidString(s)
        const want = CID.parse(s)
        expect(got.equals(want)).toBe(true)
        expect(got.version).toBe(want.version)
        expect(got.code).toBe(want.code)
        expect(got.toString()).toBe(s)
        expect(CID.asCID(got)).toBe(got)
      }),
      { numRuns: 500 }
    )
  })

  test('a mutated string parses or fails exactly as CID.parse does', () => {
    const chars = 'abcdefghijklmnopqrstuvwxyz234567ABZ018=/ Q'
    fc.assert(
      fc.property(arbCid, fc.nat(), fc.constantFrom(...chars), fc.constantFrom('replace', 'insert', 'delete', 'truncate'), (c, at, ch, how) => {
        const s = c.toString() // base58btc for a v0, base32 for a v1
        const i = at % s.length
        const m =
          how === 'replace' ? s.slice(0, i) + ch + s.slice(i + 1) : how === 'insert' ? s.slice(0, i) + ch + s.slice(i) : how === 'delete' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i)
        expect(outcome(parseCidString, m)).toEqual(outcome(CID.parse, m))
      }),
      { numRuns: 2000 }
    )
  })

  test('non-canonical trailing bits and a spare character are refused, as CID.parse refuses them', () => {
    const c = CID.createV1(0x55, Digest.create(0x12, new Uint8Array(32).fill(7)))
    const s = c.toString() // 58 base32 characters: 290 bits for 288, the last 2 must be zero
    const last = s[s.length - 1]!
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
    const bumped = s.slice(0, -1) + alphabet[(alphabet.indexOf(last) + 1) % 32]
    expect(() => CID.parse(bumped)).toThrow()
    expect(() => parseCidString(bumped)).toThrow()
    expect(() => parseCidString(s + 'a')).toThrow()
    expect(() => parseCidString('b')).toThrow()
    expect(() => parseCidString('')).toThrow()
    expect(parseCidString(s).toString()).toBe(s)
  })

  test('a v0 multihash written with the base32 prefix is refused, as CID.parse refuses it', () => {
    const v0 = CID.createV0(Digest.create(0x12, new Uint8Array(32).fill(9)))
    const s = base32.encode(v0.bytes)
    expect(() => CID.parse(s)).toThrow()
    expect(() => parseCidString(s)).toThrow()
  })
})
