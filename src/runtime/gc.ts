/**
 * A garbage-collection hint for code that churns through large buffers
 * (the adder: every uploaded byte is copied several times on its way to
 * IPFS). Without it, Bun's collector lets a few hundred MB of dead
 * buffers pile up during a large upload; with a collection every few
 * tens of MB the peak RSS stays close to what is live.
 *
 * Bun: `Bun.gc(sync)`. Other runtimes: nothing.
 */
type Collector = { gc?: (sync: boolean) => void }

/** Runs (sync=true) or schedules (sync=false) a garbage collection where the runtime allows it. */
export function collectGarbage(sync = false): void {
  const bun = (globalThis as { Bun?: Collector }).Bun
  bun?.gc?.(sync)
}
