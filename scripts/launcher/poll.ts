/**
 * The one poll helper of the launcher, the benchmarks and the tests: no
 * fixed sleeps, a condition polled with a deadline.
 *
 * ```ts
 * await waitFor(async () => (await peer.ctl(['id'])).code === 0, 'the peer to answer', 30_000, 250)
 * const line = await waitFor(() => logs.find((l) => l.includes('READY')), 'the READY line', 5_000, 5)
 * ```
 */

/** Thrown by `waitFor` when its deadline passes; `err.name === 'WaitTimeoutError'`. */
export class WaitTimeoutError extends Error {
  static name = 'WaitTimeoutError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WaitTimeoutError'
  }
}

/** What `waitFor` resolves to: the condition's first truthy value. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>

/**
 * Calls `fn` every `everyMs` until it returns (or resolves to) a truthy
 * value, and resolves to that value. An error thrown by `fn` counts as
 * "not yet" (a daemon that does not listen yet); the last one is quoted
 * when the deadline passes.
 * @param what what is awaited, for the error message ("the daemon to be READY")
 * @param timeoutMs deadline, ms (default 60 000)
 * @param everyMs pause between two calls, ms (default 250; unit tests pass 5)
 * @throws WaitTimeoutError after `timeoutMs`
 */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 60_000, everyMs = 250): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as Truthy<T>
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  const why = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`
  throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, { cause: last })
}
