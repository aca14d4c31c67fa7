import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Libp2p } from '@libp2p/interface'
import { NotFoundError } from '../../../src/errors.ts'
import { goEncode } from '../../../src/rpc/msgpack.ts'
import { createRpc, type Rpc } from '../../../src/rpc/rpc.ts'
import { RPC_PROTOCOL } from '../../../src/version.ts'
import { testNode as node } from './node.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

/** Strings arrive as bytes (gorpc's msgpack has no separate bin type). */
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
const text = (v: unknown): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v))

async function first(args: unknown): Promise<unknown> {
  for await (const a of args as AsyncIterable<unknown>) return a
  return undefined
}

describe('rpc over libp2p', () => {
  let a: Libp2p
  let b: Libp2p
  let c: Libp2p
  let ra: Rpc
  let rb: Rpc
  let rc: Rpc
  let aId: string
  let bId: string
  let cId: string

  beforeAll(async () => {
    ;[a, b, c] = await Promise.all([node(), node(), node()])
    aId = a.peerId.toString()
    bId = b.peerId.toString()
    cId = c.peerId.toString()
    for (const [x, y] of [[a, b], [a, c], [b, a], [c, a]] as const) {
      await x.peerStore.merge(y.peerId, { multiaddrs: y.getMultiaddrs() })
    }
    // b trusts a only; c trusts nobody
    ra = createRpc({ peerId: aId }, { libp2p: a, isTrusted: () => true })
    rb = createRpc({ peerId: bId }, { libp2p: b, isTrusted: (p) => p === aId })
    rc = createRpc({ peerId: cId }, { libp2p: c, isTrusted: () => false })
    for (const [r, name] of [[ra, 'a'], [rb, 'b'], [rc, 'c']] as const) {
      r.register('Cluster', 'ID', async () => ({ id: name }))
      r.register('Cluster', 'Version', () => ({ version: `v-${name}` }))
      r.register('PinTracker', 'Status', async (arg) => {
        if (text(arg) === 'missing') throw new NotFoundError('no such pin')
        return { cid: text(arg), peer: name }
      })
      r.register('PinTracker', 'StatusAll', async function* (args) {
        const n = Number(await first(args))
        for (let i = 0; i < n; i++) yield { i }
      })
      r.register('PinTracker', 'Recover', () => new Promise(() => {}))
      r.register('Cluster', 'Pin', () => 'pinned')
      r.register('Cluster', 'RepoGCLocal', (arg) => ({ blob: new Uint8Array(Number(arg)).fill(7) }))
      await r.start()
    }
  })

  afterAll(async () => {
    await Promise.all([ra.stop(), rb.stop(), rc.stop()])
    await Promise.all([a.stop(), b.stop(), c.stop()])
  })

  test('unary call to a remote peer, open method', async () => {
    expect(await ra.call(bId, 'Cluster', 'ID', null)).toEqual({ id: utf8('b') })
    expect(await rb.call(aId, 'Cluster', 'Version', null)).toEqual({ version: utf8('v-a') })
  })

  test('local destination calls the handler directly', async () => {
    expect(await ra.call(aId, 'Cluster', 'Pin', null)).toBe('pinned')
    const items = []
    for await (const x of ra.callStream(aId, 'PinTracker', 'StatusAll', [3])) items.push(x)
    expect(items).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }])
  })

  test('trusted method: allowed for a trusted caller, unauthorized otherwise', async () => {
    expect(await ra.call(bId, 'PinTracker', 'Status', 'x')).toEqual({ cid: utf8('x'), peer: utf8('b') })
    const err = await ra.call(cId, 'PinTracker', 'Status', 'x').catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('RpcUnauthorizedError')
    expect((err as Error).message).toBe('client does not have permissions to call PinTracker.Status')
  })

  test('closed method is refused to any remote peer', async () => {
    const err = await ra.call(bId, 'Cluster', 'Pin', null).catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('RpcUnauthorizedError')
  })

  test('big answers (MiB) travel', async () => {
    const r = (await ra.call(bId, 'Cluster', 'RepoGCLocal', 3 * 1024 * 1024)) as { blob: Uint8Array }
    expect(r.blob.byteLength).toBe(3 * 1024 * 1024)
    expect(r.blob[12345]).toBe(7)
  })

  test('remote errors keep their class', async () => {
    const err = await ra.call(bId, 'PinTracker', 'Status', 'missing').catch((e: unknown) => e as Error)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe('no such pin')
  })

  test('unknown method: gorpc server error', async () => {
    const err = await ra.call(bId, 'Cluster', 'Nope', null).catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('RpcMethodNotFoundError')
    expect((err as Error).message).toBe("rpc: can't find method Nope")
    // in upstream's table but not served here: refused as upstream would (it registers every method)
    const err2 = await ra.call(bId, 'Cluster', 'Unpin', null).catch((e: unknown) => e as Error)
    expect((err2 as Error).name).toBe('RpcUnauthorizedError')
  })

  test('times out when no response in timeoutMs', async () => {
    // the remote Recover never answers: only the 300 ms timeout can end the call
    const err = await ra.call(bId, 'PinTracker', 'Recover', null, { timeoutMs: 300 }).catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('RpcTimeoutError')
    const errLocal = await ra.call(aId, 'PinTracker', 'Recover', null, { timeoutMs: 100 }).catch((e: unknown) => e as Error)
    expect((errLocal as Error).name).toBe('RpcTimeoutError')
  })

  test('abort signal', async () => {
    const ac = new AbortController()
    const p = ra.call(bId, 'PinTracker', 'Recover', null, { signal: ac.signal, timeoutMs: 0 })
    ac.abort()
    const err = await p.catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('AbortError')
  })

  test('streams 10,000 items in order', async () => {
    let n = 0
    for await (const x of ra.callStream(bId, 'PinTracker', 'StatusAll', [10_000])) {
      expect((x as { i: number }).i).toBe(n)
      n++
    }
    expect(n).toBe(10_000)
  }, 20_000)

  test('stream policy denial and early stop', async () => {
    const it = ra.callStream(cId, 'PinTracker', 'StatusAll', [5])
    const err = await it.next().catch((e: unknown) => e as Error)
    expect((err as Error).name).toBe('RpcUnauthorizedError')
    let n = 0
    for await (const _ of ra.callStream(bId, 'PinTracker', 'StatusAll', [100_000])) {
      if (++n === 10) break
    }
    expect(n).toBe(10)
    // the peer still answers afterwards
    expect(await ra.call(bId, 'Cluster', 'ID', null)).toEqual({ id: utf8('b') })
  }, 20_000)

  test('call on a streaming method and callStream on a unary one', async () => {
    const e1 = await ra.call(bId, 'PinTracker', 'StatusAll', 1).catch((e: unknown) => e as Error)
    expect((e1 as Error).name).toBe('RpcKindError')
    const e2 = await ra.callStream(bId, 'Cluster', 'ID', []).next().catch((e: unknown) => e as Error)
    expect((e2 as Error).name).toBe('RpcKindError')
  })

  test('multiCall gives per-peer results and errors', async () => {
    const res = await ra.multiCall([aId, bId, cId], 'PinTracker', 'Status', 'q', { timeoutMs: 5000 })
    expect(res.map((r) => r.peer)).toEqual([aId, bId, cId])
    expect(res[0]).toEqual({ peer: aId, ok: true, value: { cid: 'q', peer: 'a' } })
    expect(res[1]).toEqual({ peer: bId, ok: true, value: { cid: utf8('q'), peer: utf8('b') } })
    expect(res[2]?.ok).toBe(false)
  })

  test('an unreachable peer fails with a transport error', async () => {
    const d = await node()
    const dId = d.peerId.toString()
    await d.stop()
    const err = await ra.call(dId, 'Cluster', 'ID', null, { timeoutMs: 3000 }).catch((e: unknown) => e as Error)
    expect(['RpcTransportError', 'RpcTimeoutError']).toContain((err as Error).name)
  })
})

describe('rpc lifecycle', () => {
  test('stop() is idempotent, aborts handlers in flight and fails the callers', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
    const ra = createRpc({ peerId: a.peerId.toString() }, { libp2p: a, isTrusted: () => true })
    const rb = createRpc({ peerId: b.peerId.toString() }, { libp2p: b, isTrusted: () => true })
    let handlerAborted = false
    let entered = false
    rb.register('PinTracker', 'Recover', (_arg, ctx) => {
      entered = true
      return new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          handlerAborted = true
          reject(new Error('aborted'))
        })
      })
    })
    await ra.start()
    await rb.start()
    await rb.start()
    try {
      const p = ra.call(b.peerId.toString(), 'PinTracker', 'Recover', null, { timeoutMs: 10_000 }).catch((e: unknown) => e as Error)
      await waitFor(() => entered, 'the handler to be entered', 5000, 5)
      expect(entered).toBe(true)
      await rb.stop()
      await rb.stop()
      const err = await p
      expect(handlerAborted).toBe(true)
      expect(err).toBeInstanceOf(Error)
      expect((err as Error).name).not.toBe('RpcTimeoutError')
      // no longer served
      const e2 = await ra.call(b.peerId.toString(), 'PinTracker', 'Recover', null, { timeoutMs: 3000 }).catch((e: unknown) => e as Error)
      expect(e2).toBeInstanceOf(Error)
    } finally {
      await ra.stop()
      await rb.stop()
      await Promise.all([a.stop(), b.stop()])
    }
  }, 20_000)
})

describe('rpc stream backpressure', () => {
  test('a slow consumer holds the producer back: nothing piles up past the buffer limit', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
    const ra = createRpc({ peerId: a.peerId.toString() }, { libp2p: a, isTrusted: () => true })
    const rb = createRpc({ peerId: b.peerId.toString() }, { libp2p: b, isTrusted: () => true })
    // 2,000 items of 64 KiB (125 MiB): more than the caller's 64 MiB read buffer holds unread
    const ITEMS = 2000
    const blob = new Uint8Array(64 * 1024).fill(9)
    let produced = 0
    rb.register('PinTracker', 'StatusAll', async function* () {
      for (let i = 0; i < ITEMS; i++) {
        produced++
        yield { i, blob }
      }
    })
    await ra.start()
    await rb.start()
    try {
      const it = ra.callStream(b.peerId.toString(), 'PinTracker', 'StatusAll', [], { timeoutMs: 30_000 })
      const firstItem = await it.next()
      expect((firstItem.value as { i: number }).i).toBe(0)
      // the consumer holds the first item until the producer stops (or is done) and 3 s more
      let last = -1
      for (let t = 0; t < 40 && (produced !== last || t < 4); t++) {
        last = produced
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
      const producedWhileHeld = produced
      // then it reads, the last 800 items slowly (16 s): the producer has long finished
      // and the callee's close waits for the caller to take what is left
      let n = 1
      let maxAhead = 0
      for await (const x of it) {
        expect((x as { i: number }).i).toBe(n)
        expect((x as { blob: Uint8Array }).blob.byteLength).toBe(blob.byteLength)
        n++
        maxAhead = Math.max(maxAhead, produced - n)
        if (n > ITEMS - 800) await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(n).toBe(ITEMS)
      // the windows and buffers between the two stopped the producer well before 64 MiB
      expect(producedWhileHeld).toBeLessThan(ITEMS / 2)
      // and kept it from running ahead of the reader while it read
      expect(maxAhead).toBeLessThan(ITEMS / 2)
    } finally {
      await Promise.all([ra.stop(), rb.stop()])
      await Promise.all([a.stop(), b.stop()])
    }
  }, 90_000)
})

describe('rpc stream reset', () => {
  test('a callee that resets after whole items is an error, not a short stream', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.peerStore.merge(b.peerId, { multiaddrs: b.getMultiaddrs() })
    const ra = createRpc({ peerId: a.peerId.toString() }, { libp2p: a, isTrusted: () => true })
    // b speaks the wire by hand: two whole items, then a reset
    await b.handle(RPC_PROTOCOL, async (stream) => {
      const header = { Service: { Name: 'PinTracker', Method: 'StatusAll' } }
      stream.send(concat([goEncode(header), goEncode({ i: 0 }), goEncode(header), goEncode({ i: 1 })]))
      await new Promise((resolve) => setTimeout(resolve, 200))
      stream.abort(new Error('gone'))
    })
    await ra.start()
    try {
      const got: unknown[] = []
      const err = await (async () => {
        for await (const x of ra.callStream(b.peerId.toString(), 'PinTracker', 'StatusAll', [], { timeoutMs: 10_000 })) {
          got.push(x)
          // not reading when the reset comes: the next read finds the stream ended
          await new Promise((resolve) => setTimeout(resolve, 600))
        }
      })().catch((e: unknown) => e as Error)
      expect(got).toEqual([{ i: 0 }, { i: 1 }])
      expect(err).toBeInstanceOf(Error)
      expect((err as Error).name).toBe('RpcTransportError')
      expect((err as Error).message).toContain('reset')
    } finally {
      await ra.stop()
      await Promise.all([a.stop(), b.stop()])
    }
  }, 30_000)
})
