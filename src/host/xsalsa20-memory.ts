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
 * The memory is grown once, before the first connection's ciphers exist,
 * to 16 MiB: no update of up to 16 MiB (socket reads are far smaller)
 * grows it again, so no view goes stale. Not to its maximum (64 MiB): the
 * engine counts the memory in the heap's size and lets the JS heap grow
 * with it before collecting, which cost a three-peer cluster's peer 226 MB
 * of RSS in test/e2e/ipfsproxy.test.ts's 256 MiB `cat` (against < 150 MB),
 * and a lone peer 287 vs 140 MB in a 200 MiB add.
 */
import xsalsa20 from 'xsalsa20'

/** xsalsa20.wat: `(memory (export "memory") 10 1000)`; grown to 256 pages */
const PREGROW_BYTES = 256 * 65536

let done = false

/** Grows xsalsa20's shared memory to 16 MiB (once; later calls do nothing). @returns whether it is that large */
export function growXsalsa20Memory(): boolean {
  if (done) return true
  // an instance's `_xor` (the WASM backend) has `realloc(size)` and `_memory` (its view)
  const x = xsalsa20(new Uint8Array(24), new Uint8Array(32))
  const wasm = (x as unknown as { _xor?: { realloc?: (size: number) => void; _memory?: Uint8Array } })._xor
  if (wasm === undefined || typeof wasm.realloc !== 'function' || wasm._memory === undefined) return false
  if (wasm._memory.length < PREGROW_BYTES) {
    try {
      wasm.realloc(PREGROW_BYTES)
    } catch {
      return false
    }
  }
  done = (wasm._memory?.length ?? 0) >= PREGROW_BYTES
  x.finalize()
  return done
}
