import { describe, expect, test } from 'bun:test'
import { addParamsFromQuery, addParamsToQuery, DEFAULT_SHARD_SIZE, defaultAddParams } from '../../../src/adder/params.ts'

const q = (s: string): URLSearchParams => new URLSearchParams(s)

describe('addParamsFromQuery (upstream AddParamsFromQuery)', () => {
  test('defaults', () => {
    const p = addParamsFromQuery(q(''))
    expect(p).toMatchObject({
      local: false,
      recursive: false,
      hidden: false,
      wrap: false,
      streamChannels: true,
      format: 'unixfs',
      noPin: false,
      layout: '',
      chunker: 'size-262144',
      rawLeaves: false,
      progress: false,
      cidVersion: 0,
      hashFun: 'sha2-256',
      mode: 'recursive',
      shardSize: DEFAULT_SHARD_SIZE
    })
  })

  test('booleans, layout, chunker, format and pin options', () => {
    const p = addParamsFromQuery(
      q(
        'local=true&recursive=1&hidden=t&wrap-with-directory=true&progress=true&no-pin=true&stream-channels=false&layout=trickle&chunker=size-1024&format=car&name=n1&replication-min=2&replication-max=3&meta-k=v&user-allocations=12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'
      )
    )
    expect(p.local && p.recursive && p.hidden && p.wrap && p.progress && p.noPin).toBe(true)
    expect(p.streamChannels).toBe(false)
    expect(p.layout).toBe('trickle')
    expect(p.chunker).toBe('size-1024')
    expect(p.format).toBe('car')
    expect(p.name).toBe('n1')
    expect(p.replicationFactorMin).toBe(2)
    expect(p.replicationFactorMax).toBe(3)
    expect(p.metadata).toEqual({ k: 'v' })
    expect(p.userAllocations).toEqual(['12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'])
    expect(p.pinUpdate).toBeNull()
  })

  test('cid-version 1 implies raw leaves unless raw-leaves=false', () => {
    expect(addParamsFromQuery(q('cid-version=1')).rawLeaves).toBe(true)
    expect(addParamsFromQuery(q('cid-version=1&raw-leaves=false')).rawLeaves).toBe(false)
    expect(addParamsFromQuery(q('raw-leaves=true')).cidVersion).toBe(0)
  })

  test('a hash other than sha2-256 switches to CIDv1 with raw leaves (as kubo)', () => {
    const p = addParamsFromQuery(q('hash=SHA3-512'))
    expect(p.hashFun).toBe('sha3-512')
    expect(p.cidVersion).toBe(1)
    expect(p.rawLeaves).toBe(true)
  })

  test('refusals are InvalidArgumentError (400)', () => {
    for (const [s, msg] of [
      ['shard=true', 'sharding is not supported'],
      ['nocopy=true', 'nocopy'],
      ['layout=zigzag', 'layout parameter is invalid'],
      ['format=zip', 'format parameter is invalid'],
      ['local=maybe', 'parameter local invalid'],
      ['cid-version=x', 'parameter cid-version invalid'],
      ['cid-version=2', 'bad CID Version'],
      ['replication-min=x', 'replication-min']
    ] as const) {
      let err: unknown
      try {
        addParamsFromQuery(q(s))
      } catch (e) {
        err = e
      }
      expect((err as Error).name).toBe('InvalidArgumentError')
      expect((err as Error).message).toContain(msg)
    }
  })

  test('addParamsToQuery round-trips through addParamsFromQuery', () => {
    const p = defaultAddParams()
    p.name = 'x y'
    p.replicationFactorMin = 1
    p.replicationFactorMax = 2
    p.metadata = { a: 'b=c' }
    p.expireAt = new Date('2030-01-02T03:04:05.000Z')
    p.recursive = true
    p.layout = 'trickle'
    p.cidVersion = 1
    p.rawLeaves = true
    p.noPin = true
    const back = addParamsFromQuery(addParamsToQuery(p))
    expect(back).toEqual(p)
  })
})

describe('chunkerFor', () => {
  test('size-N within kubo limits; rabin and buzhash refused (their CIDs would differ from kubo)', async () => {
    const { chunkerFor } = await import('../../../src/adder/dag.ts')
    expect(typeof chunkerFor('size-1024')).toBe('function')
    expect(typeof chunkerFor('')).toBe('function')
    for (const bad of ['size-0', 'size-4194304', 'rabin', 'rabin-100-200-300', 'buzhash', 'fixed']) {
      expect(() => chunkerFor(bad)).toThrow()
    }
  })
})
