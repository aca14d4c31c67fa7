/**
 * Turns for the event loop inside long runs of synchronous work. A listing
 * of the state reads pages from sqlite synchronously, and an async generator
 * over them resolves with microtasks only: nothing else ran until the whole
 * listing ended. At 1M pins the tracker's first `recoverAll` after READY kept
 * a daemon deaf for 6 s (a joining peer's dial timed out; the REST API did
 * not answer).
 */
import { setImmediate } from 'node:timers'

/**
 * `await slice()` gives the event loop a turn (a `setImmediate`: sockets,
 * timers and requests run) once `ms` milliseconds have passed since the last
 * turn, and returns `undefined` at once otherwise, so a loop can call it
 * after every item or page.
 */
export function timeSlicer(ms = 10): () => Promise<void> | undefined {
  let last = performance.now()
  return () => {
    const now = performance.now()
    if (now - last < ms) return undefined
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        last = performance.now()
        resolve()
      })
    )
  }
}
