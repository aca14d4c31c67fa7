/**
 * msgpack as go-libp2p-gorpc writes and reads it: ugorji/go `codec`
 * v1.2.12 `MsgpackHandle{}` with its defaults (upstream gorpc
 * `stream_wrap.go`, ugorji `msgpack.go`).
 *
 * Encoding follows ugorji's "old spec" (`WriteExt: false`): strings and
 * byte slices both go out in the raw/str family (fixstr `a0-bf`, str16
 * `da`, str32 `db`; never str8 `d9` nor bin `c4-c6`), and Go's signed
 * integer types use the signed family (`d1` int16, `d2` int32, `d3` int64
 * above 127) where @msgpack/msgpack would pick the unsigned one. Wrap a
 * number in `GoInt` to get the signed form; plain numbers keep the
 * unsigned family (Go's unsigned types).
 *
 * Decoding is @msgpack/msgpack's, with `rawStrings` (every str arrives as
 * bytes: the caller knows from the type whether it is text, a CID or a
 * peer ID) and `useBigInt64`, and size limits so that an oversized value
 * fails instead of allocating.
 */
import { Decoder, Encoder } from '@msgpack/msgpack'

/** A Go signed integer (int, int64, TrackerStatus, PinDepth…): encoded as ugorji's `EncodeInt`. */
export class GoInt {
  readonly value: number
  constructor(value: number) {
    this.value = Math.trunc(value)
  }
}

/**
 * A value already encoded (the bytes of one msgpack value, e.g. a hot
 * struct written by a hand-made encoder): `goEncode` writes it verbatim,
 * alone or inside a map or array.
 */
export class GoRaw {
  readonly bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
}

/** The parts of @msgpack/msgpack's Encoder that the old-spec subclass replaces or calls (private in its types). */
interface EncoderInternals {
  writeU8(v: number): void
  writeU16(v: number): void
  writeU32(v: number): void
  writeI8(v: number): void
  writeI16(v: number): void
  writeI32(v: number): void
  writeI64(v: number): void
  writeU8a(v: Uint8Array): void
  ensureBufferSizeToWrite(n: number): void
  encodeNumber(v: number): void
  writeStringHeader(byteLength: number): void
  encodeBinary(v: ArrayBufferView): void
  encodeObject(v: unknown, depth: number): void
}

/** An Encoder writing ugorji's old-spec msgpack (see the module comment). */
class GoEncoder extends Encoder {}

const base = Encoder.prototype as unknown as EncoderInternals
const goProto = GoEncoder.prototype as unknown as EncoderInternals

goProto.writeStringHeader = function (this: EncoderInternals, byteLength: number): void {
  if (byteLength < 32) this.writeU8(0xa0 + byteLength)
  else if (byteLength < 0x10000) {
    this.writeU8(0xda)
    this.writeU16(byteLength)
  } else if (byteLength < 0x100000000) {
    this.writeU8(0xdb)
    this.writeU32(byteLength)
  } else throw new Error(`msgpack: string of ${byteLength} bytes is too long`)
}

goProto.encodeBinary = function (this: EncoderInternals, v: ArrayBufferView): void {
  const bytes = v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  this.ensureBufferSizeToWrite(5 + bytes.byteLength)
  this.writeStringHeader(bytes.byteLength)
  this.writeU8a(bytes)
}

goProto.encodeObject = function (this: EncoderInternals, v: unknown, depth: number): void {
  if (v instanceof GoRaw) {
    this.ensureBufferSizeToWrite(v.bytes.byteLength)
    this.writeU8a(v.bytes)
    return
  }
  if (!(v instanceof GoInt)) {
    base.encodeObject.call(this, v, depth)
    return
  }
  const i = v.value
  if (i > 127) {
    if (i <= 0x7fff) {
      this.writeU8(0xd1)
      this.writeI16(i)
    } else if (i <= 0x7fffffff) {
      this.writeU8(0xd2)
      this.writeI32(i)
    } else {
      this.writeU8(0xd3)
      this.writeI64(i)
    }
  } else this.encodeNumber(i) // fixint, negative fixint and the int8…int64 family are the same as ugorji's
}

const encoder = new GoEncoder({ ignoreUndefined: true })

/** Encodes one value the way ugorji's MsgpackHandle{} does for the same Go value. */
export function goEncode(value: unknown): Uint8Array {
  if (value instanceof GoRaw) return value.bytes
  return encoder.encode(value)
}

/** Largest string/bytes value accepted from a peer (bytes); a block is at most a few MiB. */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024
/** Largest array or map accepted from a peer (entries). */
export const MAX_VALUE_ENTRIES = 1_000_000

/** A Decoder with the options every gorpc value is read with. */
export function goDecoder(): Decoder {
  return new Decoder({
    rawStrings: true,
    useBigInt64: true,
    maxBinLength: MAX_VALUE_BYTES,
    maxStrLength: MAX_VALUE_BYTES,
    maxArrayLength: MAX_VALUE_ENTRIES,
    maxMapLength: MAX_VALUE_ENTRIES,
    maxExtLength: MAX_VALUE_BYTES
  })
}

/** Decodes one value (test and local use; streams use `goDecoder().decodeStream`). */
export function goDecode(bytes: Uint8Array): unknown {
  return goDecoder().decode(bytes)
}
