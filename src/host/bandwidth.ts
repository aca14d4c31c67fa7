/**
 * Bytes in and out of the cluster host per libp2p protocol, counted from
 * libp2p's own stream hooks (upstream `clusterhost.go` gives go-libp2p a
 * `metrics.NewBandwidthCounter()` as `libp2p.BandwidthReporter`; `/health/bandwidth`
 * answers its `GetBandwidthByProtocol()`).
 *
 * js-libp2p v3 calls `components.metrics.trackProtocolStream(stream)` once a
 * stream's protocol is negotiated, on both sides. This module is that
 * `metrics` component: it counts the bytes the muxer delivers (in) and each
 * `send()` (out) under `stream.protocol`. Every `register*` call of
 * the other components gets a no-op metric (the Prometheus exposition of
 * libp2p's internals is not mirrored).
 *
 * Rates are bytes per second over the interval since the previous read of the
 * same protocol (go-libp2p uses a 1-second EWMA; the first read gives the
 * average since the protocol's first byte).
 */
import type { Metrics, Stream } from '@libp2p/interface'

/** One protocol's counters, upstream `api.Bandwidth` (bytes, bytes/s). */
export interface BandwidthStats {
  total_in: number
  total_out: number
  rate_in: number
  rate_out: number
}

interface Meter {
  totalIn: number
  totalOut: number
  /** sample at the previous read: time (ms) and totals */
  at: number
  lastIn: number
  lastOut: number
}

/** Byte counters per protocol, fed by libp2p (see `metrics()`). */
export class BandwidthCounter {
  private readonly meters = new Map<string, Meter>()
  private readonly now: () => number

  /** @param now clock in ms (tests pass a fake one). */
  constructor(now: () => number = Date.now) {
    this.now = now
  }

  private meter(protocol: string): Meter {
    let m = this.meters.get(protocol)
    if (m === undefined) {
      m = { totalIn: 0, totalOut: 0, at: this.now(), lastIn: 0, lastOut: 0 }
      this.meters.set(protocol, m)
    }
    return m
  }

  /** Counts `bytes` received on `protocol`. */
  logRecv(protocol: string, bytes: number): void {
    this.meter(protocol).totalIn += bytes
  }

  /** Counts `bytes` sent on `protocol`. */
  logSent(protocol: string, bytes: number): void {
    this.meter(protocol).totalOut += bytes
  }

  /** protocol -> totals and rates, as upstream's `BandwidthByProtocol` JSON. */
  byProtocol(): Record<string, BandwidthStats> {
    const out: Record<string, BandwidthStats> = {}
    const now = this.now()
    for (const [protocol, m] of this.meters) {
      const secs = (now - m.at) / 1000
      const rateIn = secs > 0 ? (m.totalIn - m.lastIn) / secs : 0
      const rateOut = secs > 0 ? (m.totalOut - m.lastOut) / secs : 0
      if (secs > 0) {
        m.at = now
        m.lastIn = m.totalIn
        m.lastOut = m.totalOut
      }
      out[protocol] = { total_in: m.totalIn, total_out: m.totalOut, rate_in: rateIn, rate_out: rateOut }
    }
    return out
  }

  /**
   * Wraps one negotiated stream: its received and sent bytes count under its
   * protocol. Received bytes are counted where the muxer hands them over
   * (`onData` of js-libp2p's `AbstractMessageStream`): a `message` listener
   * would change how the stream delivers data to its real reader.
   */
  trackStream(stream: Stream): void {
    const protocol = stream.protocol
    if (protocol === '') return
    const s = stream as Stream & { onData?: (data: Parameters<Stream['send']>[0]) => void }
    const onData = s.onData
    if (typeof onData === 'function') {
      s.onData = (data) => {
        this.logRecv(protocol, data.byteLength)
        onData.call(s, data)
      }
    }
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      this.logSent(protocol, data.byteLength)
      return send(data)
    }
  }

  /** The `metrics` factory to give `createLibp2p`. */
  metrics(): () => Metrics {
    return () => libp2pMetrics(this)
  }
}

const noopMetric = {
  update(): void {},
  increment(): void {},
  decrement(): void {},
  reset(): void {},
  observe(): void {},
  timer(): () => void {
    return () => {}
  }
}

function libp2pMetrics(counter: BandwidthCounter): Metrics {
  const register = ((_name: string, options?: { calculate?: unknown }) =>
    options?.calculate !== undefined ? undefined : noopMetric) as never
  return {
    trackMultiaddrConnection(): void {},
    trackProtocolStream: (stream: Stream) => counter.trackStream(stream),
    registerMetric: register,
    registerMetricGroup: register,
    registerCounter: register,
    registerCounterGroup: register,
    registerHistogram: register,
    registerHistogramGroup: register,
    registerSummary: register,
    registerSummaryGroup: register,
    traceFunction: ((_name: string, fn: unknown) => fn) as never,
    createTrace: () => undefined
  }
}
