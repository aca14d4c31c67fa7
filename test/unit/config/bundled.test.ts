// ipfs_connector.bundled: chosen by its presence, exclusive with ipfshttp, every key typed or refused by name.
import { describe, expect, test } from 'bun:test'
import { defaultServiceConfig, type JsonObject, parseServiceConfig } from '../../../src/config/index.ts'
import { parseByteSize } from '../../../src/config/sections.ts'

async function bundledInit(): Promise<JsonObject> {
  return defaultServiceConfig({ ipfs: 'bundled', peerName: 'p', secret: 'ab'.repeat(32) })
}

function withBundled(json: JsonObject, over: JsonObject): JsonObject {
  const ic = json.ipfs_connector as JsonObject
  return { ...json, ipfs_connector: { ...ic, bundled: { ...(ic.bundled as JsonObject), ...over } } }
}

describe('ipfs_connector.bundled', () => {
  test('init --ipfs bundled writes only the bundled section; it parses into typed values', async () => {
    const json = await bundledInit()
    expect(Object.keys(json.ipfs_connector as JsonObject)).toEqual(['bundled'])
    const c = parseServiceConfig(json, { folder: '/cfg', env: {} })
    const b = c.ipfsConnector.bundled
    expect(b).not.toBeNull()
    expect(b?.folder).toBe('/cfg/ipfs')
    expect(b?.storageMaxBytes).toBe(10e9)
    expect(b?.pinTimeoutMs).toBe(120_000)
    expect(b?.fetchConcurrency).toBe(32)
    expect(b?.gatewayListenMultiaddress).toBe('/ip4/127.0.0.1/tcp/8080')
    expect(Object.keys(c.json.ipfs_connector as JsonObject)).toEqual(['bundled'])
  })

  test('kubo stays the default: no bundled section, bundled null', async () => {
    const json = await defaultServiceConfig({ peerName: 'p', secret: 'ab'.repeat(32) })
    expect(Object.keys(json.ipfs_connector as JsonObject)).toEqual(['ipfshttp'])
    expect(parseServiceConfig(json, { folder: '/cfg', env: {} }).ipfsConnector.bundled).toBeNull()
  })

  test('both ipfshttp and bundled are refused', async () => {
    const json = await bundledInit()
    const both = { ...json, ipfs_connector: { ...(json.ipfs_connector as JsonObject), ipfshttp: {} } }
    expect(() => parseServiceConfig(both, { folder: '/cfg', env: {} })).toThrow('both ipfshttp (kubo) and bundled')
  })

  test('api.ipfsproxy (a relay to kubo) is not written with bundled, and refused next to it', async () => {
    const json = await bundledInit()
    expect(Object.keys(json.api as JsonObject).sort()).toEqual(['pinsvcapi', 'restapi'])
    const withProxy = { ...json, api: { ...(json.api as JsonObject), ipfsproxy: {} } }
    expect(() => parseServiceConfig(withProxy, { folder: '/cfg', env: {} })).toThrow('api.ipfsproxy relays kubo')
  })

  test('bad values are refused naming the key', async () => {
    const json = await bundledInit()
    const parse = (over: JsonObject) => () => parseServiceConfig(withBundled(json, over), { folder: '/cfg', env: {} })
    expect(parse({ storage_max: '10 potatoes' })).toThrow('ipfs_connector.bundled.storage_max')
    expect(parse({ fetch_concurrency: -1 })).toThrow('ipfs_connector.bundled.fetch_concurrency')
    expect(parse({ bootstrap: ['not a multiaddr'] })).toThrow('ipfs_connector.bundled.bootstrap')
    expect(parse({ pin_timeout: 'soon' })).toThrow('ipfs_connector.bundled.pin_timeout')
    expect(() => parseServiceConfig(json, { folder: '/cfg', env: { CLUSTER_BUNDLED_STORAGEMAX: 'lots' } })).toThrow('CLUSTER_BUNDLED_STORAGEMAX')
  })

  test('sizes', () => {
    expect(parseByteSize('10GB')).toBe(10e9)
    expect(parseByteSize('512MiB')).toBe(512 * 1024 * 1024)
    expect(parseByteSize('0')).toBe(0)
    expect(parseByteSize('')).toBe(0)
    expect(parseByteSize('1000')).toBe(1000)
    expect(() => parseByteSize('-1GB')).toThrow('invalid size')
  })
})
