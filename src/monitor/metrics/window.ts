/**
 * A ring of the latest metrics of one peer and one name (upstream
 * `monitor/metrics/window.go`). Adding stamps `receivedAt` (ns).
 */
import { type Clock, isDefined, nowNs } from '../../informer/metric.ts'
import type { Metric } from '../../types/index.ts'

/** Metrics kept per peer and name (upstream `DefaultWindowCap`). */
export const DEFAULT_WINDOW_CAP = 25

export class Window {
  private readonly ring: (Metric | undefined)[]
  /** next slot to write. */
  private cursor = 0
  private readonly clock: Clock

  /** @throws Error when `cap <= 0` */
  constructor(cap: number = DEFAULT_WINDOW_CAP, clock: Clock = Date.now) {
    if (!(cap > 0)) throw new Error('invalid windowCap')
    this.ring = new Array<Metric | undefined>(cap).fill(undefined)
    this.clock = clock
  }

  /** Stores a copy of `m` with `receivedAt` = now (ns), dropping the oldest when full. */
  add(m: Metric): void {
    this.ring[this.cursor] = { ...m, receivedAt: nowNs(this.clock) }
    this.cursor = (this.cursor + 1) % this.ring.length
  }

  /** The last metric added, or undefined when none (upstream `ErrNoMetrics`). */
  latest(): Metric | undefined {
    const m = this.ring[(this.cursor - 1 + this.ring.length) % this.ring.length]
    return m !== undefined && isDefined(m) ? m : undefined
  }

  /** Every stored metric, newest first. */
  all(): Metric[] {
    const out: Metric[] = []
    for (let i = 1; i <= this.ring.length; i++) {
      const m = this.ring[(this.cursor - i + this.ring.length) % this.ring.length]
      if (m !== undefined) out.push(m)
    }
    return out
  }
}
