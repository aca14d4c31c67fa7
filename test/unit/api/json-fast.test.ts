import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { cidString } from '../../../src/types/cidstring.ts'
import { timeToJSON } from '../../../src/types/json.ts'

describe('cidString', () => {
  test('is cid.toString() for v1 CIDs of every digest length and codec, and for v0', () => {
    let seed = 1
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed >>> 24
    }
    for (let len = 0; len <= 70; len++) {
      for (const codec of [0x55, 0x70, 0x71, 0x0129, 0x300000]) {
        const digest = Uint8Array.from({ length: len }, rand)
        const cid = CID.createV1(codec, Digest.create(0x12, digest))
        expect(cidString(cid)).toBe(cid.toString())
      }
    }
    const v0 = CID.parse('QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc')
    expect(cidString(v0)).toBe(v0.toString())
    const v1 = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
    expect(cidString(v1)).toBe('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
  })
})

describe('timeToJSON', () => {
  test('is toISOString for interleaved and repeated times (its small cache never mixes them up), zero time for null', () => {
    const times = [0, 1, 999, 1000, 1_700_000_000_000, 1_700_000_000_001, -62135596800000, 253402300799999]
    for (let i = 0; i < 500; i++) {
      const ms = times[(i * 7 + (i >> 3)) % times.length]!
      expect(timeToJSON(new Date(ms))).toBe(new Date(ms).toISOString())
    }
    expect(timeToJSON(null)).toBe('0001-01-01T00:00:00Z')
    expect(() => timeToJSON(new Date(Number.NaN))).toThrow(RangeError)
  })
})
