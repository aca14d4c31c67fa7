/**
 * A set of string keys held as 53-bit hashes in one open-addressing
 * `Float64Array` (8 bytes a slot, at most half the slots used: 16–32 bytes
 * a key, whatever its length), for "was this key written?" checks over
 * millions of keys without holding the strings. `mayHave` never answers
 * false for a key added; it answers true for a key never added only when
 * its 53-bit hash equals an added key's (about n / 2^53 for n keys: 1e-10
 * at 1M keys), so callers treat true as "maybe" and check for real.
 */

/** Two 32-bit FNV-1a-style hashes of the UTF-16 code units, folded to 53 bits (0 .. 2^53 - 1). */
export function hash53(key: string): number {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff)
}

export class HashedKeySet {
  /** slot = hash + 1 (0: empty) */
  private slots: Float64Array
  private used = 0

  /** @param initialSlots a power of two (default 2^16). */
  constructor(initialSlots = 1 << 16) {
    this.slots = new Float64Array(initialSlots)
  }

  /** Number of distinct hashes held. */
  get size(): number {
    return this.used
  }

  /** @returns false when `key` (or a key of the same hash) was added before. */
  add(key: string): boolean {
    if ((this.used + 1) * 2 > this.slots.length) this.grow()
    if (!this.insert(this.slots, hash53(key) + 1)) return false
    this.used++
    return true
  }

  /** false: `key` was never added; true: it was, or (rarely) shares its hash with one that was. */
  mayHave(key: string): boolean {
    const v = hash53(key) + 1
    const s = this.slots
    const mask = s.length - 1
    for (let i = v % s.length, n = 0; n < s.length; i = (i + 1) & mask, n++) {
      const x = s[i]!
      if (x === 0) return false
      if (x === v) return true
    }
    return false
  }

  clear(): void {
    this.slots = new Float64Array(1 << 16)
    this.used = 0
  }

  /** @returns whether `v` was new. */
  private insert(s: Float64Array, v: number): boolean {
    const mask = s.length - 1
    for (let i = v % s.length, n = 0; n < s.length; i = (i + 1) & mask, n++) {
      const x = s[i]!
      if (x === v) return false
      if (x === 0) {
        s[i] = v
        return true
      }
    }
    throw new Error('HashedKeySet: full') // unreachable: kept at most half full
  }

  private grow(): void {
    const old = this.slots
    const next = new Float64Array(old.length * 2)
    for (const x of old) if (x !== 0) this.insert(next, x)
    this.slots = next
  }
}
