/** Small hooks of the dashboard: polling (live updates) and the hash route. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

/** How often pages refresh, ms. */
export const POLL_MS = 2000

export interface Polled<T> {
  data: T | undefined
  error: string
  /** runs the fetch now */
  reload: () => void
  /** ms since the epoch of the last successful fetch (0 = none yet) */
  at: number
}

/**
 * Runs `fn` now and every `everyMs` (not while the previous run is still
 * going), aborting it when the component unmounts or `deps` change.
 */
export function usePoll<T>(fn: (signal: AbortSignal) => Promise<T>, everyMs: number, deps: unknown[]): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState('')
  const [at, setAt] = useState(0)
  const [tick, setTick] = useState(0)
  const fnRef = useRef(fn)
  fnRef.current = fn
  useEffect(() => {
    setData(undefined)
    setError('')
  }, deps)
  useEffect(() => {
    const ctrl = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = async (): Promise<void> => {
      try {
        const v = await fnRef.current(ctrl.signal)
        if (ctrl.signal.aborted) return
        setData(v)
        setError('')
        setAt(Date.now())
      } catch (err) {
        if (ctrl.signal.aborted) return
        setError((err as Error).message)
      }
      if (everyMs > 0 && !ctrl.signal.aborted) timer = setTimeout(() => void run(), everyMs)
    }
    void run()
    return () => {
      ctrl.abort()
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [...deps, tick, everyMs])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data, error, reload, at }
}

/** The current `location.hash` route split in segments: "#/pin/Qm…" → ["pin", "Qm…"]. */
export function useRoute(): string[] {
  const parse = (): string[] =>
    location.hash
      .replace(/^#\/?/, '')
      .split('?')[0]!
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent)
  const [route, setRoute] = useState(parse)
  useEffect(() => {
    const on = (): void => setRoute(parse())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}
