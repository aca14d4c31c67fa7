import { describe, expect, test } from 'bun:test'
import { setImmediate } from 'node:timers'
import { backgroundPacer } from '../../../src/runtime/slicer.ts'

/** Keeps the thread for `ms` milliseconds (synchronous work, as a page read from sqlite is). */
function busy(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

describe('backgroundPacer', () => {
  test('after little work it does not wait', () => {
    const pace = backgroundPacer(0.5)
    expect(pace()).toBeUndefined()
  })

  test('after 30 ms of work at half the thread, it yields to the event loop on a timer for about as long', async () => {
    const pace = backgroundPacer(0.5)
    busy(30)
    let turns = 0
    let stop = false
    const other = (): void => {
      turns++
      if (!stop) setImmediate(other)
    }
    setImmediate(other)
    const t = performance.now()
    const wait = pace()
    expect(wait).toBeInstanceOf(Promise)
    await wait
    stop = true
    // the wait is measured from the work (≥ 30 ms, a timer may fire a little early)
    expect(performance.now() - t).toBeGreaterThanOrEqual(25)
    // other work ran meanwhile
    expect(turns).toBeGreaterThan(1)
  })

  test('the wait is bounded by maxWaitMs', async () => {
    const pace = backgroundPacer(0.1, 20)
    busy(30)
    const t = performance.now()
    await pace()
    // 30 ms at a tenth of the thread would wait 270 ms
    expect(performance.now() - t).toBeLessThan(200)
  })

  test('a share outside (0, 1] is refused', () => {
    expect(() => backgroundPacer(0)).toThrow('share must be in (0, 1]')
    expect(() => backgroundPacer(1.5)).toThrow('share must be in (0, 1]')
  })
})
