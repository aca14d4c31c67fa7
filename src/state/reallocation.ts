/**
 * Telling a re-allocation from a new pin, byte-wise, on upstream's protobuf
 * `Pin` (api/pb/types.proto, v1.1.6: `Allocations` is field 3). A
 * re-allocation made by one of our peers (`Cluster.repinFromPeer`) keeps
 * the pin's every field, its `Timestamp` (field 7) included, and changes
 * only the allocations; a user's new pin of the same CID has a new
 * timestamp. Upstream's peers set a new timestamp on re-allocations too, so
 * theirs read as new pins here.
 */
import { equals } from 'uint8arrays/equals'

/**
 * The message without its field-3 entries, or undefined when `bytes` is
 * not a well-formed protobuf message (a bad tag, a truncated field, a
 * group wire type).
 */
export function withoutAllocations(bytes: Uint8Array): Uint8Array | undefined {
  const keep: Array<[number, number]> = []
  let i = 0
  const varint = (): number | undefined => {
    let v = 0
    let mul = 1
    for (let n = 0; n < 10; n++) {
      const b = bytes[i++]
      if (b === undefined) return undefined
      v += (b & 0x7f) * mul
      if (b < 0x80) return v
      mul *= 128
    }
    return undefined
  }
  while (i < bytes.length) {
    const start = i
    const tag = varint()
    if (tag === undefined) return undefined
    const wire = tag % 8
    if (wire === 0) {
      if (varint() === undefined) return undefined
    } else if (wire === 2) {
      const len = varint()
      if (len === undefined || i + len > bytes.length) return undefined
      i += len
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else return undefined
    if (i > bytes.length) return undefined
    if (Math.floor(tag / 8) !== 3) keep.push([start, i])
  }
  let size = 0
  for (const [s, e] of keep) size += e - s
  const out = new Uint8Array(size)
  let o = 0
  for (const [s, e] of keep) {
    out.set(bytes.subarray(s, e), o)
    o += e - s
  }
  return out
}

/**
 * Whether protobuf Pins `live` and `removed` are one pin re-allocated: the
 * same bytes apart from `Allocations`. False for malformed input, and for
 * equal pins written by encoders that order fields differently (the safe
 * side: such a pin is then taken for a new one).
 */
export function isReallocationOf(live: Uint8Array, removed: Uint8Array): boolean {
  if (removed.length === 0) return false
  const a = withoutAllocations(live)
  const b = withoutAllocations(removed)
  return a !== undefined && b !== undefined && equals(a, b)
}
