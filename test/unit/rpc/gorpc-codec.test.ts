/**
 * Our gorpc values against the bytes ugorji v1.2.12 writes for the same Go
 * values (go-interop-probes golden_main.go -> golden_output.txt), and
 * round trips of every cluster type through msgpack.
 */
import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import {
  fromGo,
  GO_ID,
  GO_IPFS_REPO_STAT,
  GO_METRIC,
  GO_NODE_WITH_META,
  GO_PIN,
  GO_PININFO,
  GO_REPO_GC,
  GO_VERSION,
  peerToGo,
  statusFilterFromGo,
  statusFilterToGo,
  timeFromGo,
  timeToGo,
  toGo,
  valueToGo
} from '../../../src/rpc/gotypes.ts'
import { goDecode, goEncode, GoInt } from '../../../src/rpc/msgpack.ts'
import type { ID, Metric, Pin, PinInfo, RepoGC } from '../../../src/types/index.ts'
import { defaultPinOptions } from '../../../src/types/index.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const PID = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const PID2 = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'
const C1 = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
const C0 = CID.parse('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB')
const MA = '/ip4/127.0.0.1/tcp/9096'

describe('gorpc headers and scalars: the bytes Go writes', () => {
  test('ServiceID, empty argument, Response headers, nil', () => {
    expect(hex(goEncode({ Name: 'Cluster', Method: 'ID' }))).toBe('82a44e616d65a7436c7573746572a64d6574686f64a24944')
    expect(hex(goEncode({}))).toBe('80')
    expect(hex(goEncode({ Service: { Name: 'Cluster', Method: 'ID' } }))).toBe('81a75365727669636582a44e616d65a7436c7573746572a64d6574686f64a24944')
    expect(hex(goEncode({ Service: { Name: 'Cluster', Method: 'Pin' }, Error: 'boom', ErrType: 1 }))).toBe(
      '83a75365727669636582a44e616d65a7436c7573746572a64d6574686f64a350696ea54572726f72a4626f6f6da74572725479706501'
    )
    expect(hex(goEncode({ Service: { Name: 'Cluster', Method: 'Pin' }, Error: 'client does not have permissions to call Cluster.Pin', ErrType: 3 }))).toBe(
      '83a75365727669636582a44e616d65a7436c7573746572a64d6574686f64a350696ea54572726f72da0034636c69656e7420646f6573206e6f742068617665207065726d697373696f6e7320746f2063616c6c20436c75737465722e50696ea74572725479706503'
    )
    expect(hex(goEncode(null))).toBe('c0')
  })

  test('peer IDs, CIDs, multiaddrs, statuses, strings, times', () => {
    expect(hex(goEncode(peerToGo(PID)))).toBe('da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b')
    expect(hex(goEncode(peerToGo(PID2)))).toBe('da002212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9')
    expect(hex(goEncode(valueToGo('cid', C1)))).toBe('da002401701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391a')
    expect(hex(goEncode(valueToGo('cid', C0)))).toBe('da00221220120f6af601d46e10b2d2e11ed71c55d25f3042c22501e41d1246e7a1e9d3d8ec')
    expect(hex(goEncode(valueToGo('cid', null)))).toBe('c0')
    expect(hex(goEncode(valueToGo('multiaddr', MA)))).toBe('a8047f000001062388')
    expect(hex(goEncode(valueToGo('trackerStatus', 'undefined')))).toBe('00')
    expect(hex(goEncode(valueToGo('trackerStatus', 'pinned')))).toBe('10')
    expect(hex(goEncode('ping'))).toBe('a470696e67')
    expect(hex(goEncode(valueToGo({ array: 'peer' }, [PID, PID2])))).toBe(
      '92da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336bda002212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9'
    )
    expect(hex(goEncode(valueToGo('time', new Date(0))))).toBe('c0')
    expect(hex(goEncode(timeToGo(new Date(1700000000_000))))).toBe('a46553f100')
    // with nanoseconds: 8 bytes, nsec << 34 | sec (Go wrote 1d6f3454 6553f100 for .123456789 s)
    expect(hex(timeToGo(new Date(1700000000_123)))).toBe(((123_000_000 * 4) >>> 0).toString(16).padStart(8, '0') + '6553f100')
    expect(timeFromGo(Buffer.from('1d6f34546553f100', 'hex'))).toEqual(new Date(1700000000_123))
    expect(timeFromGo(timeToGo(new Date(-5_000)))).toEqual(new Date(-5_000))
  })

  test('signed integers use the signed family as ugorji does', () => {
    expect(hex(goEncode(new GoInt(-1)))).toBe('ff')
    expect(hex(goEncode(new GoInt(16)))).toBe('10')
    expect(hex(goEncode(new GoInt(200)))).toBe('d100c8')
    expect(hex(goEncode(new GoInt(70000)))).toBe('d200011170')
    expect(hex(goEncode(new GoInt(1700000030000000000)))).toBe('d317979d05324dac00')
    expect(hex(goEncode(200))).toBe('ccc8')
  })
})

describe('cluster structs: the bytes Go writes', () => {
  test('api.Version, api.IPFSRepoStat, api.NodeWithMeta', () => {
    expect(hex(goEncode(toGo(GO_VERSION, { version: '1.1.6' })))).toBe('81a176a5312e312e36')
    expect(hex(goEncode(toGo(GO_IPFS_REPO_STAT, { repoSize: 10, storageMax: 20 })))).toBe('82a1720aa17314')
    expect(hex(goEncode(toGo(GO_NODE_WITH_META, { bytes: new Uint8Array([1, 2, 3]), cid: C1, cumSize: 3 })))).toBe(
      '83a164a3010203a163da002401701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391aa17303'
    )
  })

  test('api.Pin', () => {
    const pin: Pin = {
      ...defaultPinOptions(),
      replicationFactorMin: -1,
      replicationFactorMax: -1,
      name: 'n',
      metadata: { k: 'v' },
      cid: C1,
      type: 'pin',
      allocations: [PID],
      maxDepth: -1,
      reference: null,
      timestamp: new Date(1700000000_000)
    }
    const golden =
      '89a2726effa27278ffa16ea16ea16d81a16ba176a163da002401701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391aa17402a16191da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba164ffa169a46553f100'
    expect(hex(goEncode(toGo(GO_PIN, pin)))).toBe(golden)
    expect(fromGo<Pin>(GO_PIN, goDecode(Buffer.from(golden, 'hex')))).toEqual(pin)
  })

  test('api.PinInfo (Go with ns precision; ours ms)', () => {
    const golden =
      '89a163da002401701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391aa16da16ea170da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba16f91da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba174a46553f100a2706ea57065657230a169da002212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9a2737410a27473a81d6f34546553f100'
    const pi = fromGo<PinInfo>(GO_PININFO, goDecode(Buffer.from(golden, 'hex')))
    expect(pi.cid.toString()).toBe(C1.toString())
    expect(pi).toMatchObject({ name: 'n', peer: PID, allocations: [PID], created: new Date(1700000000_000) })
    expect(pi.pinInfo).toMatchObject({ peerName: 'peer0', ipfsPeerId: PID2, status: 'pinned', timestamp: new Date(1700000000_123) })
    // with a whole-second timestamp ours is byte-identical
    const whole = { ...pi, pinInfo: { ...pi.pinInfo, timestamp: new Date(1700000000_000) } }
    expect(hex(goEncode(toGo(GO_PININFO, whole)))).toBe(golden.replace('a27473a81d6f34546553f100', 'a27473a46553f100'))
  })

  test('api.Metric', () => {
    const m: Metric = { name: 'ping', peer: PID, value: '{"peer_name":"p"}', expire: 1700000030000000000, valid: true, weight: 0, partitionable: false, receivedAt: 1700000000000000000 }
    const golden =
      '86a16ea470696e67a170da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba176b17b22706565725f6e616d65223a2270227da165d317979d05324dac00a164c3a174d317979cfe362a0000'
    expect(hex(goEncode(toGo(GO_METRIC, m)))).toBe(golden)
    expect(fromGo<Metric>(GO_METRIC, goDecode(Buffer.from(golden, "hex")))).toEqual(m)
  })

  test('api.RepoGC', () => {
    const r: RepoGC = { peer: PID, peername: 'p', keys: [{ key: C1, error: '' }], error: '' }
    const golden =
      '83a170da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba2706ea170a16b9181a16bda002401701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391a'
    expect(hex(goEncode(toGo(GO_REPO_GC, r)))).toBe(golden)
    expect(fromGo<RepoGC>(GO_REPO_GC, goDecode(Buffer.from(golden, "hex")))).toEqual(r)
  })

  test('api.ID: Go wrote present-but-empty c and e (a0); we read them as empty', () => {
    const golden =
      '89a169da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336ba16191a8047f000001062388a2637092da00260024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336bda002212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9a176a5312e312e36a163a0a27276b42f69706673636c75737465722f312e302f727063a165a0a2697082a169da002212209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9a16191a8047f000001062388a2706ea57065657230'
    const id = fromGo<ID>(GO_ID, goDecode(Buffer.from(golden, 'hex')))
    const want: ID = {
      id: PID,
      addresses: [MA],
      clusterPeers: [PID, PID2],
      clusterPeersAddresses: [],
      version: '1.1.6',
      commit: '',
      rpcProtocolVersion: '/ipfscluster/1.0/rpc',
      error: '',
      ipfs: { id: PID2, addresses: [MA], error: '' },
      peername: 'peer0'
    }
    expect(id).toEqual(want)
    // ours leaves the empty strings out: the golden bytes minus `a163a0` and `a165a0`
    expect(hex(goEncode(toGo(GO_ID, want)))).toBe(golden.replace('89', '87').replace('a163a0', '').replace('a165a0', ''))
  })
})

describe('round trips and bad input', () => {
  test('status filters are Go bit masks', () => {
    expect(statusFilterToGo(['pinned'])).toBe(16)
    expect(statusFilterToGo(['cluster_error', 'pin_error', 'unpin_error'])).toBe(14)
    expect([...statusFilterFromGo(16 | 512)]).toEqual(['pinned', 'pin_queued'])
    expect(statusFilterFromGo(0).size).toBe(0)
  })

  test('100 random pins survive encode/decode', () => {
    let seed = 7
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let i = 0; i < 100; i++) {
      const pin: Pin = {
        ...defaultPinOptions(),
        replicationFactorMin: rnd(5) - 1,
        replicationFactorMax: rnd(300) - 1,
        name: 'x'.repeat(rnd(70)),
        mode: rnd(2) === 0 ? 'recursive' : 'direct',
        shardSize: rnd(1 << 30),
        userAllocations: rnd(2) === 0 ? [] : [PID2],
        expireAt: rnd(2) === 0 ? null : new Date(1700000000_000 + rnd(1e9)),
        metadata: rnd(2) === 0 ? {} : { a: 'b'.repeat(rnd(40)) },
        origins: rnd(2) === 0 ? [] : [`${MA}/p2p/${PID}`],
        cid: rnd(2) === 0 ? C0 : C1,
        type: (['pin', 'meta-pin', 'clusterdag-pin', 'shard-pin'] as const)[rnd(4)] ?? 'pin',
        allocations: rnd(2) === 0 ? [] : [PID, PID2],
        maxDepth: rnd(3) - 1,
        reference: rnd(2) === 0 ? null : C0,
        pinUpdate: rnd(2) === 0 ? null : C1,
        timestamp: new Date(1700000000_000 + rnd(1e9))
      }
      expect(fromGo<Pin>(GO_PIN, goDecode(goEncode(toGo(GO_PIN, pin))))).toEqual(pin)
    }
  })

  test('malformed values are refused naming the field', () => {
    expect(() => fromGo(GO_PIN, { c: new Uint8Array([1, 2, 3]) })).toThrow(/field c/)
    expect(() => fromGo(GO_ID, { i: new Uint8Array([0x12]) })).toThrow(/field i/)
    expect(() => fromGo(GO_ID, 'text')).toThrow(/map/)
    // address lists keep what parses, both ways
    expect(fromGo<ID>(GO_ID, { a: [new Uint8Array([0xff, 0xff]), valueToGo('multiaddr', MA)] }).addresses).toEqual([MA])
    expect((toGo(GO_ID, { addresses: ['not an address', MA] }) as { a: unknown[] }).a).toHaveLength(1)
  })

  test('fuzz: random bytes and random values never fail other than by a clear error', () => {
    let seed = 42
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const pick = (): unknown => {
      switch (rnd(8)) {
        case 0:
          return null
        case 1:
          return rnd(1000) - 500
        case 2:
          return new Uint8Array(rnd(40)).map(() => rnd(256))
        case 3:
          return [new Uint8Array(rnd(10)).map(() => rnd(256))]
        case 4:
          return { k: 'v' }
        case 5:
          return true
        case 6:
          return 'text'
        default:
          return [rnd(3)]
      }
    }
    const structs = [GO_PIN, GO_PININFO, GO_ID, GO_METRIC, GO_REPO_GC, GO_NODE_WITH_META, GO_IPFS_REPO_STAT, GO_VERSION]
    const keys = ['c', 'a', 'i', 'p', 't', 'e', 'o', 'm', 'md', 'ip', 'k', 'st', 'ts', 'd', 'r', 's', 'n', 'v', 'cp', 'pn', 'g', 'pu', 'ua']
    for (let i = 0; i < 2000; i++) {
      const m: Record<string, unknown> = {}
      for (let j = 0; j < 4; j++) m[keys[rnd(keys.length)] as string] = pick()
      for (const st of structs) {
        try {
          fromGo(st, m)
        } catch (err) {
          expect((err as Error).name).toBe('InvalidArgumentError')
        }
      }
      const junk = new Uint8Array(1 + rnd(30)).map(() => rnd(256))
      try {
        goDecode(junk)
      } catch (err) {
        expect(err).toBeInstanceOf(Error)
      }
    }
  })
})
