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

/**
 * Paces background work to about `share` (0 < share ≤ 1) of the thread. Call
 * `await pace()` between units of work (a page of a listing): once the work
 * since the last call took `t` ms, it waits `t * (1 - share) / share` ms (at
 * most `maxWaitMs`) on a timer, so requests and other listings run in that
 * time; with little work done it returns `undefined` at once. The tracker's
 * periodic `recoverAll` uses it: at 1M pins its listing overlapped the first
 * `GET /allocations` after start and took a third of that request's thread.
 */
export function backgroundPacer(share = 0.5, maxWaitMs = 100): () => Promise<void> | undefined {
  if (!(share > 0 && share <= 1)) throw new RangeError(`backgroundPacer: share must be in (0, 1], got ${share}`)
  let since = performance.now()
  return () => {
    const spent = performance.now() - since
    const wait = Math.min(maxWaitMs, (spent * (1 - share)) / share)
    if (wait < 1) return undefined
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        since = performance.now()
        resolve()
      }, wait)
    )
  }
}
