/**
 * A workaround for `xsalsa20` 1.2.0, the cipher of `@libp2p/pnet` (every
 * byte of the cluster's private network goes through it).
 *
 * All its instances share one WebAssembly memory (10 pages at first, at
 * most 1000 = 64 MiB) and each keeps a view of it. An update larger than
 * the memory grows it, which detaches every other instance's view; their
 * next update then sees a length of 0 and grows the memory again by its
 * whole input, and so on, until `grow` fails ("would exceed the memory's
 * declared maximum size"). From then on every update larger than what is
 * left throws inside the connection's data listener: an uncaught error per
 * chunk, the chunk lost and the connection's streams stuck. On a busy peer
 * a socket read of more than ~640 KiB is enough to start it (measured: a
 * three-peer global status of 20,000 pins stalled for 7-12 s or lost
 * peers' entries in one run out of five to eight; six instances updating
 * 1.1 MB each fail within a few rounds).
 *
 * The memory is grown to its maximum once, before any connection exists
 * (growing reserves address space; pages are backed only when written),
 * so no instance ever grows it again and no view goes stale.
 */
import xsalsa20 from 'xsalsa20'

/** xsalsa20.wat: `(memory (export "memory") 10 1000)` */
const MAX_BYTES = 1000 * 65536

let done = false

/** Grows xsalsa20's shared memory to its maximum (once; later calls do nothing). @returns whether it is at its maximum */
export function growXsalsa20Memory(): boolean {
  if (done) return true
  // an instance's `_xor` (the WASM backend) has `realloc(size)` and `_memory` (its view)
  const x = xsalsa20(new Uint8Array(24), new Uint8Array(32))
  const wasm = (x as unknown as { _xor?: { realloc?: (size: number) => void; _memory?: Uint8Array } })._xor
  if (wasm === undefined || typeof wasm.realloc !== 'function' || wasm._memory === undefined) return false
  if (wasm._memory.length < MAX_BYTES) {
    try {
      wasm.realloc(MAX_BYTES - 1)
    } catch {
      return false
    }
  }
  done = (wasm._memory?.length ?? 0) >= MAX_BYTES
  x.finalize()
  return done
}
