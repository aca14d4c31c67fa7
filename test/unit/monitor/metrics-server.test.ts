import { describe, expect, test } from 'bun:test'
import {
  clusterMetrics,
  createMetricsServer,
  hostPortOf,
  metricsText,
  updatePinStatusMetrics
} from '../../../src/observability/metrics.ts'

describe('prometheus metrics', () => {
  test('upstream metric names and updatePinStatusMetrics', async () => {
    updatePinStatusMetrics({ pin_queued: 3, pinning: 2, pin_error: 1, pinned: 10 })
    clusterMetrics.pins.set(42)
    clusterMetrics.pinsPinAdd.inc()
    const text = await metricsText()
    expect(text).toContain('ipfscluster_pins 42')
    expect(text).toContain('ipfscluster_pins_pin_queued 3')
    expect(text).toContain('ipfscluster_pins_pinning 2')
    expect(text).toContain('ipfscluster_pins_pin_error 1')
    expect(text).toMatch(/ipfscluster_pins_pin_add \d+/)
    for (const n of ['ipfscluster_blocks_put', 'ipfscluster_blocks_added_size', 'ipfscluster_informer_disk']) {
      expect(text).toContain(`# TYPE ${n} `)
    }
    updatePinStatusMetrics({})
    expect(await metricsText()).toContain('ipfscluster_pins_pin_queued 0')
  })

  test('listen multiaddr parsing', () => {
    expect(hostPortOf('/ip4/127.0.0.1/tcp/8888')).toEqual({ hostname: '127.0.0.1', port: 8888 })
    expect(hostPortOf('/dns4/localhost/tcp/0')).toEqual({ hostname: 'localhost', port: 0 })
    expect(() => hostPortOf('/ip4/0.0.0.0/udp/6831')).toThrow()
  })

  test('disabled: start() does not listen', async () => {
    const s = createMetricsServer({ enableStats: false, prometheusEndpoint: '/ip4/127.0.0.1/tcp/0' })
    await s.start()
    expect(s.address()).toBeUndefined()
    await s.stop()
  })

  test('enabled: serves /metrics on 127.0.0.1, 404 elsewhere, stop closes', async () => {
    const s = createMetricsServer({ enableStats: true, listenMultiaddress: '/ip4/127.0.0.1/tcp/0' })
    await s.start()
    await s.start()
    const addr = s.address()
    expect(addr?.port).toBeGreaterThan(0)
    const base = `http://127.0.0.1:${addr!.port}`
    const r = await fetch(`${base}/metrics`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toContain('text/plain')
    const body = await r.text()
    expect(body).toContain('# HELP ipfscluster_pins Total number of cluster pins')
    expect((await fetch(`${base}/other`)).status).toBe(404)
    await s.stop()
    await s.stop()
    expect(s.address()).toBeUndefined()
    await expect(fetch(`${base}/metrics`)).rejects.toThrow()
  })
})
