// Pure checks of the connector settings (kept here with the connector's other tests).
import { describe, expect, test } from 'bun:test'
import { defaultIpfsHttpInit, nodeUrl, validateIpfsHttpInit } from '../../../src/ipfsconn/ipfshttp/index.ts'

describe('ipfshttp config', () => {
  test('upstream defaults', () => {
    const d = defaultIpfsHttpInit()
    expect(d.nodeMultiaddress).toBe('/ip4/127.0.0.1/tcp/5001')
    expect(d.connectSwarmsDelayMs).toBe(30_000)
    expect(d.ipfsRequestTimeoutMs).toBe(300_000)
    expect(d.pinTimeoutMs).toBe(120_000)
    expect(d.unpinTimeoutMs).toBe(3 * 3600_000)
    expect(d.repoGcTimeoutMs).toBe(24 * 3600_000)
    expect(d.informerTriggerInterval).toBe(0)
    expect(d.unpinDisable).toBe(false)
    validateIpfsHttpInit(d)
  })

  test('node_multiaddress to URL', () => {
    expect(nodeUrl('/ip4/127.0.0.1/tcp/5001')).toBe('http://127.0.0.1:5001')
    expect(nodeUrl('/ip6/::1/tcp/5001')).toBe('http://[::1]:5001')
    expect(nodeUrl('/dns4/ipfs.local/tcp/5001/http')).toBe('http://ipfs.local:5001')
    expect(nodeUrl('/dns/ipfs.example.com/tcp/443/https')).toBe('https://ipfs.example.com:443')
    expect(nodeUrl('/dns/ipfs.example.com/tcp/443/tls/http')).toBe('https://ipfs.example.com:443')
    for (const bad of ['', '/ip4/127.0.0.1', '/ip4/127.0.0.1/udp/5001', '/unix/tmp/ipfs.sock', '/ip4/127.0.0.1/tcp/99999', 'ip4/1.2.3.4/tcp/1']) {
      expect(() => nodeUrl(bad)).toThrow()
    }
  })

  test('negative durations are rejected with the upstream key name', () => {
    expect(() => validateIpfsHttpInit({ ...defaultIpfsHttpInit(), pinTimeoutMs: -1 })).toThrow('ipfshttp.pin_timeout invalid')
    expect(() => validateIpfsHttpInit({ ...defaultIpfsHttpInit(), nodeMultiaddress: '' })).toThrow('node_multiaddress not set')
  })
})
