/**
 * In process, no HTTP: the `GET /allocations?filter=pin` chain over a crdt
 * state on sqlite, item by item (state list → filterStream →
 * streamResponse) against paged (listPages → page filter →
 * streamPagesResponse), the body read to the end. Prints pins/s per round
 * and the ratio of the medians; asserts nothing.
 *
 *   bun bench/listing.ts [--pins 100000] [--rounds 5] [--mode items,pages] [--dir /tmp/listing-bench]
 *
 * The store is built once per pin count in `--dir` (kept for later runs).
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { filterStream, mapStream, streamPagesResponse, streamResponse } from '../src/api/rest/stream.ts'
import { createCrdtConsensus } from '../src/consensus/crdt/index.ts'
import { SqliteDatastore } from '../src/datastore/sqlite.ts'
import { setLogLevels } from '../src/observability/logging.ts'
import { importState } from '../src/state/export.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../src/types/index.ts'
import { pinToJSON } from '../src/types/json.ts'

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def
}
const N = Number(opt('pins', '100000'))
const ROUNDS = Number(opt('rounds', '5'))
const MODES = opt('mode', 'items,pages').split(',') as Array<'items' | 'pages'>
const DIR = join(opt('dir', '/tmp/listing-bench'), String(N))
const OTHER = '12D3KooWGRUVh7MwAJ2VfNRHbFWSaDXBGzXPadFAc9GhXJJzWd6q'
const init = {
  peerId: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  clusterName: 'bench',
  trustedPeers: ['*'],
  batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: 50000 },
  rebroadcastIntervalMs: 60_000,
  repairIntervalMs: 0
}

setLogLevels('error')

async function* pins(n: number): AsyncGenerator<Pin> {
  const ts = new Date()
  for (let i = 0; i < n; i++) {
    const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`listing-${i}`)))
    yield { ...pinWithOpts(cid, { ...defaultPinOptions(), name: `pin-${i}`, replicationFactorMin: 1, replicationFactorMax: 1 }), allocations: [OTHER], timestamp: ts }
  }
}

async function drain(res: Response): Promise<number> {
  let n = 0
  for await (const chunk of res.body!) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++
  }
  return n
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const fresh = !existsSync(join(DIR, 'datastore.sqlite'))
await mkdir(DIR, { recursive: true })
const ds = new SqliteDatastore({ path: join(DIR, 'datastore.sqlite') })
await ds.open()
const c = createCrdtConsensus(init as never)({ datastore: ds })
if (fresh) {
  const t0 = performance.now()
  const offline = await c.offlineState()
  await importState(offline, pins(N))
  await offline.commit()
  console.log(`built ${N} pins in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}
await c.start()
const st = await c.state()
const isPin = (p: Pin): boolean => p.type === 'pin'
const rates: Record<'items' | 'pages', number[]> = { items: [], pages: [] }
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of MODES) {
    const t0 = performance.now()
    const res =
      mode === 'items'
        ? await streamResponse(filterStream(st.list(), isPin), pinToJSON)
        : await streamPagesResponse(
            mapStream(st.listPages!(), (page) => page.filter(isPin)),
            pinToJSON
          )
    const n = await drain(res)
    const ms = performance.now() - t0
    if (n !== N) console.error(`${mode}: ${n} lines, wanted ${N}`)
    rates[mode].push(N / (ms / 1000))
    console.log(`round ${r + 1} ${mode}: ${ms.toFixed(0)} ms, ${(N / (ms / 1000) / 1000).toFixed(1)}k pins/s`)
  }
}
for (const mode of MODES) console.log(`median ${mode}: ${(median(rates[mode]) / 1000).toFixed(1)}k pins/s`)
if (MODES.length === 2) console.log(`ratio pages/items: ${(median(rates.pages) / median(rates.items)).toFixed(2)}`)
await c.stop()
await ds.close()
