import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import {
  format,
  humanizeBytes,
  humanizeTime,
  jsonPrint,
  textAlert,
  textBandwidth,
  textError,
  textGlobalRepoGC,
  textGPInfo,
  textID,
  textMetric,
  textPin,
  trackerStatusAllString
} from '../../../src/cli/format.ts'
import type { GlobalPinInfo, ID, Pin } from '../../../src/types/index.ts'
import { defaultPinOptions } from '../../../src/types/index.ts'

const CID1 = 'QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc'
const P1 = '12D3KooWBnXhwgLSU5NW8a4M1LdeBmxBgfaEDrGt28jb5V1GMoNF'
const P2 = '12D3KooWKpWnHWgeMsCV8HUz1o5o8TSvNx38cwFA6GgBZ6iHNBnW'

function pin(over: Partial<Pin> = {}): Pin {
  return {
    ...defaultPinOptions(),
    cid: CID.parse(CID1),
    type: 'pin',
    allocations: [P2, P1],
    maxDepth: -1,
    reference: null,
    timestamp: new Date('2024-03-04T05:06:07Z'),
    replicationFactorMin: 2,
    replicationFactorMax: 3,
    name: 'my-pin',
    ...over
  }
}

describe('text formatters (upstream formatters.go)', () => {
  test('Pin line', () => {
    expect(textPin(pin())).toBe(
      `${CID1} | my-pin | PIN | Repl. Factor: 2--3 | Allocations: [${P1} ${P2}] | Recursive | Metadata: no | Exp: ∞ | Added: 2024-03-04 05:06:07\n`
    )
  })

  test('Pin everywhere, direct, metadata, expiry', () => {
    const p = pin({
      replicationFactorMin: -1,
      replicationFactorMax: -1,
      mode: 'direct',
      maxDepth: 0,
      metadata: { a: 'b' },
      expireAt: new Date('2030-01-02T03:04:05Z'),
      timestamp: new Date(0)
    })
    expect(textPin(p)).toBe(
      `${CID1} | my-pin | PIN-DIRECT | Repl. Factor: -1 | Allocations: [everywhere] | Direct | Metadata: yes | Exp: 2030-01-02 03:04:05 | Added: unknown\n`
    )
  })

  test('GlobalPinInfo block', () => {
    const gpi: GlobalPinInfo = {
      cid: CID.parse(CID1),
      name: 'n1',
      allocations: [],
      origins: [],
      created: new Date('2024-03-04T05:06:07Z'),
      metadata: {},
      peerMap: {
        [P2]: {
          peerName: '',
          ipfsPeerId: '',
          ipfsPeerAddresses: [],
          status: 'pin_error',
          timestamp: new Date('2024-03-04T05:06:07.5Z'),
          error: 'boom',
          attemptCount: 3,
          priorityPin: true
        },
        [P1]: {
          peerName: 'peer-one',
          ipfsPeerId: '',
          ipfsPeerAddresses: [],
          status: 'pinned',
          timestamp: new Date('2024-03-04T05:06:07Z'),
          error: '',
          attemptCount: 0,
          priorityPin: false
        }
      }
    }
    expect(textGPInfo(gpi)).toBe(
      `${CID1} | n1:\n` +
        '    > peer-one             : PINNED | 2024-03-04T05:06:07Z | Attempts: 0 | Priority: false\n' +
        `    > ${P2} : PIN_ERROR: boom | 2024-03-04T05:06:07.5Z | Attempts: 3 | Priority: true\n`
    )
  })

  test('ID block', () => {
    const id: ID = {
      id: P1,
      addresses: ['/ip4/127.0.0.1/tcp/9096', '/ip4/10.0.0.1/tcp/9096'],
      clusterPeers: [P1, P2],
      clusterPeersAddresses: [],
      version: '1.1.6',
      commit: '',
      rpcProtocolVersion: '/ipfscluster/1.0/rpc',
      error: '',
      ipfs: { id: 'QmIPFS', addresses: ['/ip4/127.0.0.1/tcp/4001'], error: '' },
      peername: 'peer-one'
    }
    expect(textID(id)).toBe(
      `${P1} | peer-one | Sees 1 other peers\n` +
        '  > Addresses:\n' +
        '    - /ip4/10.0.0.1/tcp/9096\n' +
        '    - /ip4/127.0.0.1/tcp/9096\n' +
        '  > IPFS: QmIPFS\n' +
        '    - /ip4/127.0.0.1/tcp/4001\n'
    )
    expect(textID({ ...id, error: 'down' })).toBe(`${P1} | ERROR: down\n`)
    expect(textID({ ...id, ipfs: { id: '', addresses: [], error: 'no ipfs' } })).toEndWith('  > IPFS ERROR: no ipfs\n')
  })

  test('error', () => {
    expect(textError({ code: 404, message: 'not found' })).toBe('An error occurred:\n  Code: 404\n  Message: not found\n')
  })

  test('metric and alert with go-humanize', () => {
    const now = new Date('2024-01-01T00:00:00Z')
    const m = {
      name: 'freespace',
      peer: P1,
      value: '10000000000',
      expire: (now.getTime() + 30_000) * 1e6,
      valid: true,
      weight: 10_000_000_000,
      partitionable: false,
      receivedAt: 0
    }
    expect(textMetric(m, now)).toBe(`${P1} | freespace: 10 GB | Expires in: 30 seconds from now\n`)
    expect(textMetric({ ...m, name: 'ping', value: '', weight: 0 }, now)).toBe(
      `${P1} | ping:  | Expires in: 30 seconds from now\n`
    )
    const a = { ...m, name: 'ping', expire: (now.getTime() - 120_000) * 1e6, triggeredAt: new Date(now.getTime() - 3_600_000) }
    expect(textAlert(a, now)).toBe(`${P1}: ping. Expired at: 2 minutes ago. Triggered at: 1 hour ago\n`)
  })

  test('humanize', () => {
    expect(humanizeBytes(9)).toBe('9 B')
    expect(humanizeBytes(1500)).toBe('1.5 kB')
    expect(humanizeBytes(82854982)).toBe('83 MB')
    const now = new Date(1_000_000_000_000)
    expect(humanizeTime(now, now)).toBe('now')
    expect(humanizeTime(new Date(now.getTime() - 1500), now)).toBe('1 second ago')
    expect(humanizeTime(new Date(now.getTime() + 3 * 86_400_000), now)).toBe('3 days from now')
    expect(humanizeTime(new Date(now.getTime() - 40 * 365 * 86_400_000), now)).toBe('a long while ago')
  })

  test('bandwidth', () => {
    expect(textBandwidth({ '/ipfs/id/1.0.0': { totalIn: 1500, totalOut: 20, rateIn: 1.234, rateOut: 0 } })).toBe(
      '           /ipfs/id/1.0.0: In:  1.5 kB. Out:    20 B. RateIn: 1.23B/s. RateOut: 0.00B/s\n'
    )
  })

  test('repo gc', () => {
    expect(
      textGlobalRepoGC({
        peerMap: {
          [P1]: { peer: P1, peername: 'p1', keys: [{ key: CID.parse(CID1), error: '' }, { key: null, error: 'x' }], error: '' },
          [P2]: { peer: P2, peername: '', keys: [], error: 'gc failed' }
        }
      })
    ).toBe(`p1             \n  > CIDs:\n    - ${CID1}\n    - ERROR: x\n${P2} | ERROR: gc failed\n  > CIDs:\n`)
  })

  test('status list for help', () => {
    expect(trackerStatusAllString(['pinned', 'undefined', 'error'])).toBe('  - error\n  - pinned')
  })
})

describe('json formatters', () => {
  test('indent by 4, Go field order for pins, html escaped', () => {
    const out = format('json', { kind: 'pin', value: pin({ name: '<a&b>' }) })
    const lines = out.split('\n')
    expect(lines[0]).toBe('{')
    expect(lines[1]).toBe('    "replication_factor_min": 2,')
    expect(out).toContain('"name": "\\u003ca\\u0026b\\u003e"')
    expect(out.endsWith('}\n')).toBe(true)
    const parsed = JSON.parse(out) as Record<string, unknown>
    expect(Object.keys(parsed).slice(-6)).toEqual(['cid', 'type', 'allocations', 'max_depth', 'reference', 'timestamp'])
    expect(parsed.name).toBe('<a&b>')
  })

  test('error object', () => {
    expect(format('json', { kind: 'error', value: { code: 500, message: 'x' } })).toBe(
      '{\n    "code": 500,\n    "message": "x"\n}\n'
    )
    expect(jsonPrint(['a'])).toBe('[\n    "a"\n]\n')
  })
})
