import { describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Block } from '../../../src/adder/dag.ts'
import { batchedBlockStream, blockSinkFactory, fanoutBlockSink, streamBlockSink } from '../../../src/adder/sink.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

async function block(i: number): Promise<Block> {
  const bytes = new TextEncoder().encode(`block ${i}`)
  return { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes }
}

describe('block sinks', () => {
  test('streamBlockSink delivers every block in order and close waits for the consumer', async () => {
    const got: string[] = []
    let finished = false
    const sink = streamBlockSink(async (src) => {
      for await (const b of src) got.push(b.cid.toString())
      finished = true
    }, 2)
    const sent: string[] = []
    for (let i = 0; i < 10; i++) {
      const b = await block(i)
      sent.push(b.cid.toString())
      await sink.put(b)
    }
    await sink.close()
    expect(finished).toBe(true)
    expect(got).toEqual(sent)
  })

  test('put waits while the queue is full (backpressure)', async () => {
    let release: (() => void) | undefined
    const gate = new Promise<void>((r) => {
      release = r
    })
    const sink = streamBlockSink(async (src) => {
      await gate
      for await (const _ of src) {
        // drain
      }
    }, 2)
    await sink.put(await block(1))
    await sink.put(await block(2))
    let third = false
    const p = sink.put(await block(3)).then(() => {
      third = true
    })
    await Promise.resolve()
    await new Promise((r) => setImmediate(r))
    expect(third).toBe(false)
    release?.()
    await p
    expect(third).toBe(true)
    await sink.close()
  })

  test('fanout keeps going while one destination works, fails when none does', async () => {
    const ok: string[] = []
    const good = streamBlockSink(async (src) => {
      for await (const b of src) ok.push(b.cid.toString())
    })
    const bad = streamBlockSink(async () => {
      throw new Error('kubo down')
    })
    const fan = fanoutBlockSink([
      { peer: 'good', sink: good },
      { peer: 'bad', sink: bad }
    ])
    for (let i = 0; i < 3; i++) await fan.put(await block(i))
    await fan.close()
    expect(ok).toHaveLength(3)

    const only = fanoutBlockSink([{ peer: 'bad', sink: streamBlockSink(async () => Promise.reject(new Error('kubo down'))) }])
    let err: unknown
    try {
      for (let i = 0; i < 3; i++) await only.put(await block(i))
      await only.close()
    } catch (e) {
      err = e
    }
    expect((err as Error).name).toBe('BlockAdderError')
    expect((err as Error).message).toContain('failed to put block on all destinations: bad: kubo down')
  })

  test('blockSinkFactory: [] and the local peer use the local IPFS; unknown remotes are refused', async () => {
    const got: string[] = []
    const f = blockSinkFactory({
      localPeer: 'me',
      ipfs: {
        blockStream: async (src) => {
          for await (const b of src) got.push(b.cid.toString())
        }
      }
    })
    const s = f([])
    await s.put(await block(1))
    await s.close()
    expect(got).toHaveLength(1)
    expect(() => f(['me', 'other'])).toThrow('no RPC to remote peers')
  })

  test('abort ends the consumer with the reason', async () => {
    let seen: unknown
    const sink = streamBlockSink(async (src) => {
      try {
        for await (const _ of src) {
          // wait
        }
      } catch (err) {
        seen = err
        throw err
      }
    })
    await sink.put(await block(1))
    sink.abort(new Error('client gone'))
    let err: unknown
    try {
      await sink.close()
    } catch (e) {
      err = e
    }
    expect((err as Error).message).toBe('client gone')
    await waitFor(() => seen !== undefined, 'the abort reason to reach the consumer', 1000, 0)
    expect((seen as Error).message).toBe('client gone')
  })

  test('batchedBlockStream groups blocks for batch-per-call senders (RPC)', async () => {
    const calls: number[] = []
    const consume = batchedBlockStream(async (b) => {
      calls.push(b.length)
    }, { maxBlocks: 3, maxBytes: 1000 })
    const blocks: Block[] = []
    for (let i = 0; i < 7; i++) blocks.push(await block(i))
    await consume(
      (async function* () {
        yield* blocks
      })()
    )
    expect(calls).toEqual([3, 3, 1])
    const bySize: number[] = []
    await batchedBlockStream(async (b) => {
      bySize.push(b.length)
    }, { maxBlocks: 100, maxBytes: 16 })(
      (async function* () {
        yield* blocks
      })()
    )
    expect(bySize).toEqual([2, 2, 2, 1])
  })
})
