/**
 * A hand-written encoder of upstream's protobuf `Pin` (api/pb/types.proto,
 * v1.1.6) for `state import` and every pin the state writes. For the
 * messages it takes it writes the same bytes as the generated `Pin.encode`
 * (src/types/pb/types.pb.ts): fields in field-number order, zero values
 * left out, `Options` always present, `sint32` zig-zag, strings as UTF-8.
 * It returns `undefined` for what it leaves to the generated encoder: a
 * `uint64` outside [0, 2^64), a non-empty `Metadata` map (the state
 * writes `SortedMetadata` only), a string holding a UTF-16 surrogate.
 * The generated one cost ~4 µs a pin (5% of `state import`): a writer
 * object, a fork per nested message, a closure per field.
 */
import type { Pin as PbPin } from '../types/pb/types.pb.ts'
import { Pin as PbPinCodec } from '../types/pb/types.pb.ts'
import { ensureCapacity } from '../types/growable.ts'

const TYPE_NUMBERS: Record<PbPin.PinType, number> = {
  [PbPinCodec.PinType.BadType]: 0,
  [PbPinCodec.PinType.DataType]: 1,
  [PbPinCodec.PinType.MetaType]: 2,
  [PbPinCodec.PinType.ClusterDAGType]: 3,
  [PbPinCodec.PinType.ShardType]: 4
}

const utf8 = new TextEncoder()

/** Raised inside the encoder for input it leaves to the generated one. */
const GIVE_UP = Symbol('give up')

/** A byte buffer that grows; reused between calls (the result is copied out). */
class Writer {
  buf = new Uint8Array(1024)
  pos = 0

  ensure(n: number): void {
    this.buf = ensureCapacity(this.buf, this.pos, n)
  }

  /** A varint of a non-negative safe integer. */
  varint(v: number): void {
    this.ensure(8)
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.pos++] = v
  }

  /** `sint32`: zig-zag of the value's low 32 bits, as the generated writer does. */
  sint32(v: number): void {
    this.varint(((v << 1) ^ (v >> 31)) >>> 0)
  }

  /** `uint64` of a bigint in [0, 2^64); anything else gives up. */
  uint64(v: bigint): void {
    if (v < 0n || v >= 1n << 64n) throw GIVE_UP
    if (v <= 9007199254740991n) {
      this.varint(Number(v))
      return
    }
    this.ensure(10)
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.buf[this.pos++] = Number(v)
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  string(s: string): void {
    // a lone surrogate: the generated writer's UTF-8 may differ from TextEncoder's U+FFFD
    if (HAS_SURROGATE.test(s)) throw GIVE_UP
    if (s.length < 0x80 && isAscii(s)) {
      // one length byte, one byte a character
      this.ensure(1 + s.length)
      this.buf[this.pos++] = s.length
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
      return
    }
    this.bytes(utf8.encode(s))
  }

  /** Writes `body` as a length-delimited field: its bytes go after a length written once they are known. */
  delimited(body: () => void): void {
    // at most 5 bytes of length (messages here are far below 2^35 bytes): reserve 1, move the body if it needs more
    this.ensure(1)
    const at = this.pos++
    body()
    const len = this.pos - at - 1
    if (len < 0x80) {
      this.buf[at] = len
      return
    }
    let extra = 0
    for (let v = len; v >= 0x80; v = Math.floor(v / 0x80)) extra++
    this.ensure(extra)
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos)
    const end = this.pos + extra
    this.pos = at
    this.varint(len)
    this.pos = end
  }
}

const HAS_SURROGATE = /[\uD800-\uDFFF]/

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}

const w = new Writer()

/**
 * `Pin.encode(pin)`'s bytes, or undefined when the input is left to the
 * generated encoder (see the module comment); a value it cannot write
 * gives undefined, never an error.
 */
export function encodePbPinFast(pin: PbPin): Uint8Array | undefined {
  w.pos = 0
  try {
    if (pin.Cid.length > 0) {
      w.varint(10)
      w.bytes(pin.Cid)
    }
    const type = TYPE_NUMBERS[pin.Type]
    if (type === undefined) return undefined
    if (type !== 0) {
      w.varint(16)
      w.varint(type)
    }
    for (const a of pin.Allocations) {
      w.varint(26)
      w.bytes(a)
    }
    if (pin.MaxDepth !== 0) {
      w.varint(32)
      w.sint32(pin.MaxDepth)
    }
    if (pin.Reference.length > 0) {
      w.varint(42)
      w.bytes(pin.Reference)
    }
    const o = pin.Options
    if (o !== undefined) {
      if (o.Metadata.size > 0) return undefined
      w.varint(50)
      w.delimited(() => {
        if (o.ReplicationFactorMin !== 0) {
          w.varint(8)
          w.sint32(o.ReplicationFactorMin)
        }
        if (o.ReplicationFactorMax !== 0) {
          w.varint(16)
          w.sint32(o.ReplicationFactorMax)
        }
        if (o.Name !== '') {
          w.varint(26)
          w.string(o.Name)
        }
        if (o.ShardSize !== 0n) {
          w.varint(32)
          w.uint64(o.ShardSize)
        }
        if (o.PinUpdate.length > 0) {
          w.varint(58)
          w.bytes(o.PinUpdate)
        }
        if (o.ExpireAt !== 0n) {
          w.varint(64)
          w.uint64(o.ExpireAt)
        }
        for (const m of o.Origins) {
          w.varint(74)
          w.bytes(m)
        }
        for (const m of o.SortedMetadata) {
          w.varint(82)
          w.delimited(() => {
            if (m.Key !== '') {
              w.varint(10)
              w.string(m.Key)
            }
            if (m.Value !== '') {
              w.varint(18)
              w.string(m.Value)
            }
          })
        }
      })
    }
    if (pin.Timestamp !== 0n) {
      w.varint(56)
      w.uint64(pin.Timestamp)
    }
  } catch (err) {
    if (err === GIVE_UP) return undefined
    throw err
  }
  return w.buf.slice(0, w.pos)
}
