/**
 * The paged listings (`GET /allocations`, `GET /pins?local=true` through
 * `pinPages` / `statusAllPages` and `streamPagesResponse`) answer the same
 * bytes, status, headers and trailers as the item-by-item path, whatever
 * the page boundaries (empty pages included); and they stay lazy.
 */
import { describe, expect, test } from 'bun:test'
import { createRestApp, DEFAULT_CORS, type RestApiInit } from '../../../src/api/rest/app.ts'
import { streamPagesResponse, streamResponse, streamTrailers } from '../../../src/api/rest/stream.ts'
import { setLogLevels } from '../../../src/observability/logging.ts'
import type { AbortOptions } from '../../../src/interfaces.ts'
import type { GlobalPinInfo, Pin, PinType, TrackerStatus } from '../../../src/types/index.ts'
import { defaultPinOptions, pinWithOpts } from '../../../src/types/index.ts'
import { gpi, makeCid, PEER, PEER2, type StubCluster, stubCluster } from './stub.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

setLogLevels('error')

function init(): RestApiInit {
  return { basicAuthCredentials: null, headers: {}, ...DEFAULT_CORS, corsAllowedOrigins: ['*'], corsAllowedMethods: ['GET'], corsAllowedHeaders: [], corsExposedHeaders: [...DEFAULT_CORS.corsExposedHeaders] }
}

/** A deterministic pseudo-random source (the same pins every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const TYPES: PinType[] = ['pin', 'meta-pin', 'shard-pin', 'clusterdag-pin']
const STATUSES: TrackerStatus[] = ['pinned', 'pin_error', 'unexpectedly_unpinned', 'remote', 'pinning', 'pin_queued']

async function variedPins(n: number, rand: () => number): Promise<{ pins: Pin[]; statuses: TrackerStatus[] }> {
  const pins: Pin[] = []
  const statuses: TrackerStatus[] = []
  for (let i = 0; i < n; i++) {
    const cid = await makeCid(`varied-${i}`)
    const opts = defaultPinOptions()
    opts.name = rand() < 0.3 ? '' : rand() < 0.5 ? `pin "${i}" \\ é ✓ \u0001` : `pin-${i}`
    opts.replicationFactorMin = Math.floor(rand() * 3) - 1
    opts.replicationFactorMax = Math.floor(rand() * 4) - 1
    opts.mode = rand() < 0.2 ? 'direct' : 'recursive'
    if (rand() < 0.3) opts.metadata = { k: `v${i}`, 'ü"': '<&>' }
    if (rand() < 0.2) opts.userAllocations = [PEER2]
    if (rand() < 0.2) opts.expireAt = new Date(1_800_000_000_000 + i * 1000)
    if (rand() < 0.1) opts.shardSize = 1024 * i
    const pin: Pin = {
      ...pinWithOpts(cid, opts),
      type: TYPES[Math.floor(rand() * TYPES.length)]!,
      allocations: rand() < 0.5 ? [] : rand() < 0.5 ? [PEER] : [PEER, PEER2],
      timestamp: new Date(1_700_000_000_000 + Math.floor(rand() * 1e9))
    }
    if (pin.type === 'shard-pin') pin.maxDepth = 1
    pins.push(pin)
    statuses.push(STATUSES[Math.floor(rand() * STATUSES.length)]!)
  }
  return { pins, statuses }
}

/** Splits `items` into pages of random sizes (0 to 9: empty pages too). */
async function* randomPages<T>(items: Iterable<T> | AsyncIterable<T>, rand: () => number): AsyncGenerator<T[]> {
  let page: T[] = []
  let size = Math.floor(rand() * 10)
  for await (const item of items) {
    while (page.length >= size) {
      yield page
      page = []
      size = Math.floor(rand() * 10)
    }
    page.push(item)
  }
  yield page
  if (rand() < 0.5) yield []
}

interface Answer {
  status: number
  contentType: string | null
  trailer: string | null
  body: string
  trailers: unknown
}

async function answer(res: Response): Promise<Answer> {
  const body = await res.text()
  return { status: res.status, contentType: res.headers.get('Content-Type'), trailer: res.headers.get('Trailer'), body, trailers: streamTrailers(res) }
}

/** The stub, plus `pinPages` / `statusAllPages` over the same items in random pages. */
function paged(s: StubCluster, rand: () => number): StubCluster {
  const items = { pins: s.pins.bind(s), statusAll: s.statusAll.bind(s) }
  return Object.assign(s, {
    pinPages: (options?: AbortOptions) => randomPages(items.pins(options), rand),
    statusAllPages: (filter: Set<TrackerStatus>, local: boolean) => (local ? randomPages(items.statusAll(filter, local), rand) : undefined)
  })
}

describe('paged listings', () => {
  test('the same bytes, headers and trailers as item by item, for every filter', async () => {
    const rand = rng(7)
    const { pins, statuses } = await variedPins(600, rand)
    const fill = (s: StubCluster): StubCluster => {
      pins.forEach((p, i) => {
        s.pinset.set(p.cid.toString(), p)
        s.statuses.set(p.cid.toString(), statuses[i]!)
      })
      return s
    }
    const items = createRestApp(init(), { cluster: fill(stubCluster()) })
    const pagedCluster = paged(fill(stubCluster()), rand)
    const pages = createRestApp(init(), { cluster: pagedCluster })
    expect(pagedCluster.pinPages).toBeDefined()
    const urls = [
      '/allocations',
      '/allocations?filter=all',
      '/allocations?filter=pin',
      '/allocations?filter=meta-pin,shard-pin',
      '/allocations?filter=clusterdag-pin',
      '/pins?local=true',
      '/pins?local=true&filter=pinned',
      '/pins?local=true&filter=error',
      '/pins?local=true&filter=queued,remote',
      '/pins?local=true&filter=unpinned' // none: 204
    ]
    for (const url of urls) {
      // several page layouts per URL
      for (let round = 0; round < 3; round++) {
        const want = await answer(await items.request(url))
        const got = await answer(await pages.request(url))
        expect(got).toEqual(want)
        if (url.endsWith('=unpinned')) expect(want.status).toBe(204)
        else expect(want.body.length).toBeGreaterThan(0)
      }
    }
  })

  test('204 when every page is empty; 500 when the source fails before any item', async () => {
    const empty = async function* (): AsyncGenerator<number[]> {
      yield []
      yield []
    }
    const none = await streamPagesResponse(empty(), (n) => n)
    expect(none.status).toBe(204)
    expect(await answer(none)).toEqual(await answer(await streamResponse((async function* (): AsyncGenerator<number> {})(), (n) => n)))
    const failing = async function* (): AsyncGenerator<number[]> {
      yield []
      throw new Error('state unavailable')
    }
    const failingItems = async function* (): AsyncGenerator<number> {
      if (Math.random() >= 0) throw new Error('state unavailable')
      yield 0
    }
    const got = await answer(await streamPagesResponse(failing(), (n) => n))
    expect(got.status).toBe(500)
    expect(got).toEqual(await answer(await streamResponse(failingItems(), (n) => n)))
  })

  test('an error after some pages: the items sent so far, then the X-Stream-Error trailer, as item by item', async () => {
    const rand = rng(11)
    const { pins } = await variedPins(300, rand)
    const pagesThenFail = async function* (): AsyncGenerator<Pin[]> {
      for (let i = 0; i < 200; i += 50) yield pins.slice(i, i + 50)
      throw new Error('broken pipe in state')
    }
    const itemsThenFail = async function* (): AsyncGenerator<Pin> {
      yield* pins.slice(0, 200)
      throw new Error('broken pipe in state')
    }
    const { pinToJSON } = await import('../../../src/types/json.ts')
    const got = await answer(await streamPagesResponse(pagesThenFail(), pinToJSON))
    const want = await answer(await streamResponse(itemsThenFail(), pinToJSON))
    expect(got.status).toBe(200)
    expect(got.trailers).toEqual([['X-Stream-Error', 'broken pipe in state']])
    expect(got).toEqual(want)
    expect(got.body.split('\n').length).toBe(201)
  })

  test('pulls pages lazily (at most one chunk ahead) and closes the source when the reader cancels', async () => {
    let produced = 0
    let closed = 0
    const cid = await makeCid('lazy')
    const source = async function* (): AsyncGenerator<GlobalPinInfo[]> {
      try {
        for (let i = 0; i < 1_000_000; i++) {
          produced++
          yield Array.from({ length: 100 }, () => gpi(cid, 'pinned', true))
        }
      } finally {
        closed++
      }
    }
    const { globalPinInfoToJSON } = await import('../../../src/types/json.ts')
    const res = await streamPagesResponse(source(), globalPinInfoToJSON)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let chunks = 0
    for (let i = 0; i < 3; i++) {
      const { value } = await reader.read()
      if (value !== undefined) chunks++
    }
    expect(chunks).toBe(3)
    // a page of 100 statuses is more than a chunk's 16 KiB: one page per
    // chunk, plus the first (read before answering) and one ahead at most
    expect(produced).toBeLessThanOrEqual(chunks + 2)
    await reader.cancel()
    await waitFor(() => closed > 0, 'the page source to be closed', 2000, 5)
    expect(closed).toBe(1)
  })
})
