/**
 * The growth step of the hand-written encoders' output buffers (the
 * protobuf Pin writer in src/state/pbencode.ts, the msgpack writer in
 * src/rpc/pininfo.ts).
 */

/**
 * `buf` itself when `used + n` bytes fit in it; else a new buffer, at least
 * twice as large and large enough, holding a copy of `buf`'s first `used`
 * bytes.
 */
export function ensureCapacity(buf: Uint8Array<ArrayBuffer>, used: number, n: number): Uint8Array<ArrayBuffer> {
  if (used + n <= buf.length) return buf
  let size = Math.max(1, buf.length) * 2
  while (size < used + n) size *= 2
  const next = new Uint8Array(size)
  next.set(buf.subarray(0, used))
  return next
}
