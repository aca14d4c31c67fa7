/** Settings we cannot honour are refused at start with a message naming the key. */
import { describe, expect, test } from 'bun:test'
import { parseServiceConfig } from '../../../src/config/index.ts'
import { refuseUnsupported, startPeer, TRACING_UNSUPPORTED } from '../../../src/daemon.ts'
import type { Identity } from '../../../src/config/index.ts'

const SECRET = 'ab'.repeat(32)
const load = (doc: Record<string, unknown>) => parseServiceConfig({ cluster: { secret: SECRET }, ...doc }, { folder: '/nonexistent-cfg', env: {} })

describe('refused settings', () => {
  test('the defaults start: tracing off passes', () => {
    expect(() => refuseUnsupported(load({}))).not.toThrow()
  })

  test('observations.tracing.enable_tracing=true is refused before anything opens', async () => {
    const cfg = load({ observations: { tracing: { enable_tracing: true } } })
    expect(() => refuseUnsupported(cfg)).toThrow(TRACING_UNSUPPORTED)
    expect(TRACING_UNSUPPORTED).toContain('observations.tracing.enable_tracing')
    // startPeer refuses before taking the lock or opening the datastore under /nonexistent-cfg
    await expect(startPeer({ config: cfg, identity: {} as Identity })).rejects.toMatchObject({ name: 'UnsupportedError' })
  })

  test('CLUSTER_TRACING_ENABLETRACING=true from the environment is refused the same way', () => {
    const cfg = parseServiceConfig({ cluster: { secret: SECRET } }, { folder: '/x', env: { CLUSTER_TRACING_ENABLETRACING: 'true' } })
    expect(cfg.observations.tracing.enableTracing).toBe(true)
    expect(() => refuseUnsupported(cfg)).toThrow('enable_tracing')
  })
})
