/** resource_manager limits as upstream's makeResourceMgr computes them (clusterhost.go v1.1.6). */
import { describe, expect, test } from 'bun:test'
import { BandwidthCounter, resourceLimits } from '../../../src/host/index.ts'

const GIB = 1024 ** 3
const MIB = 1024 ** 2

describe('resourceLimits', () => {
  test('disabled: only high_water limits connections', () => {
    const l = resourceLimits({ enabled: false, memoryLimitBytes: 0, fileDescriptorsLimit: 0 }, 400, 1024, 8 * GIB)
    expect(l.maxConnections).toBe(400)
    expect(l.maxInboundConnections).toBe(Number.POSITIVE_INFINITY)
  })
  test('auto: a quarter of memory, half the fd limit, inbound >= 2 x high_water and >= 800', () => {
    const l = resourceLimits({ enabled: true, memoryLimitBytes: 0, fileDescriptorsLimit: 0 }, 400, 1024, 8 * GIB)
    expect(l.maxConnections).toBe(400)
    expect(l.maxInboundConnections).toBe(2048) // 2 GiB -> 2048 MiB
    expect(l.summary).toContain(`max_memory ${2 * GIB}`)
    expect(l.summary).toContain('max_fds 512')
    const small = resourceLimits({ enabled: true, memoryLimitBytes: 100 * MIB, fileDescriptorsLimit: 0 }, 500, 1024, 8 * GIB)
    expect(small.maxInboundConnections).toBe(1000)
    const tiny = resourceLimits({ enabled: true, memoryLimitBytes: 100 * MIB, fileDescriptorsLimit: 0 }, 10, 1024, 8 * GIB)
    expect(tiny.maxInboundConnections).toBe(800)
  })
  test('file_descriptors_limit caps connections and pending inbound connections', () => {
    const l = resourceLimits({ enabled: true, memoryLimitBytes: 0, fileDescriptorsLimit: 20 }, 400, 1024, 8 * GIB)
    expect(l.maxConnections).toBe(20)
    expect(l.maxIncomingPendingConnections).toBe(5)
  })
})

describe('BandwidthCounter', () => {
  test('totals per protocol and rates since the previous read', () => {
    let now = 1000
    const c = new BandwidthCounter(() => now)
    c.logRecv('/p/1', 100)
    c.logSent('/p/1', 50)
    now += 2000
    c.logRecv('/p/1', 100)
    expect(c.byProtocol()).toEqual({ '/p/1': { total_in: 200, total_out: 50, rate_in: 100, rate_out: 25 } })
    now += 1000
    expect(c.byProtocol()['/p/1']).toEqual({ total_in: 200, total_out: 50, rate_in: 0, rate_out: 0 })
  })
})
