/**
 * How fast kubo takes the same DAG by each way in (no cluster involved):
 * `ipfs add` (CLI and HTTP), `block/put` (one multipart stream of every
 * block, or requests of N blocks), and `dag/import` of a CAR stream.
 * Wall time and kubo's CPU (user+system from /proc/<pid>/stat) per mode.
 * Prints figures; asserts nothing.
 *   bun bench/kubo-ingest.ts            (200 MiB)
 *   BENCH_INGEST_MIB=50 bun bench/kubo-ingest.ts
 * The DAG's blocks are read once from `ipfs dag export` into memory, so
 * the cluster's own chunking and hashing are not in these figures.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import { CarWriter } from '@ipld/car/writer'
import type { CID } from 'multiformats/cid'
import { encodeMultipart, type UploadEntry } from '../src/adder/multipart.ts'
import { type Kubo, startKubo, stopAllKubos } from '../scripts/launcher/index.ts'
import { cpuSeconds, kuboPid, writeRandomFile } from './add-helpers.ts'

const MIB = Number(process.env.BENCH_INGEST_MIB ?? 200)
const ROUNDS = Number(process.env.BENCH_INGEST_ROUNDS ?? 1)

type Block = { cid: CID; bytes: Uint8Array }

async function post(kubo: Kubo, cmd: string, query: string, entries: AsyncIterable<UploadEntry> | Iterable<UploadEntry>): Promise<string> {
  const { body, contentType } = encodeMultipart(entries)
  const res = await fetch(`${kubo.apiUrl}/api/v0/${cmd}?${query}`, { method: 'POST', body, headers: { 'Content-Type': contentType } })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${cmd}: ${res.status} ${text}`)
  return text
}

function blockEntries(blocks: Block[]): Iterable<UploadEntry> {
  return blocks.map((b) => ({
    kind: 'file' as const,
    path: 'block',
    content: async function* () {
      yield b.bytes
    }
  }))
}

async function* carBytes(root: CID, blocks: Block[]): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const writing = (async () => {
    for (const b of blocks) await writer.put(b)
    await writer.close()
  })()
  yield* out
  await writing
}

const dir = await mkdtemp(join(tmpdir(), 'bench-ingest-'))
const file = join(dir, `random-${MIB}MiB`)
const bytes = MIB * 1024 * 1024
try {
  await writeRandomFile(file, bytes)
  const kubo = await startKubo({ offline: true })
  const pid = kuboPid(kubo.repo)
  try {
    const cid = (await kubo.ipfsOk(['add', '-Q', file])).trim()
    const carPath = join(dir, 'dag.car')
    // through the HTTP API: the CLI's stdout would go through a JS string
    const res = await fetch(`${kubo.apiUrl}/api/v0/dag/export?arg=${cid}&progress=false`, { method: 'POST' })
    await Bun.write(carPath, res)
    const blocks: Block[] = []
    let root: CID | undefined
    const iter = await CarBlockIterator.fromIterable((async function* () {
      yield await readFile(carPath)
    })())
    root = (await iter.getRoots())[0]
    for await (const b of iter) blocks.push({ cid: b.cid, bytes: b.bytes })
    if (root === undefined) throw new Error('no root')
    // the CAR is in DAG order (root first); an adder emits children first
    blocks.reverse()
    const clean = async (): Promise<void> => {
      await kubo.ipfs(['pin', 'rm', cid])
      await kubo.ipfsOk(['repo', 'gc', '--quiet'], { timeoutMs: 600_000 })
    }
    await clean()

    const mb = bytes / 1e6
    const results: { mode: string; s: number; cpu: number }[] = []
    const profile = process.env.BENCH_INGEST_PPROF ?? ''
    const measure = async (mode: string, run: () => Promise<void>): Promise<void> => {
      // BENCH_INGEST_PPROF=<part of a mode's name>: kubo's CPU profile of that mode, saved in /tmp
      const prof =
        profile !== '' && mode.includes(profile)
          ? fetch(`${kubo.apiUrl}/debug/pprof/profile?seconds=4`).then(async (r) => {
              const out = join(tmpdir(), `kubo-${mode.replace(/[^a-z0-9]+/gi, '-')}.pprof`)
              await Bun.write(out, r)
              console.log(`  (kubo profile: ${out})`)
            })
          : undefined
      const c0 = cpuSeconds(pid)
      const t0 = performance.now()
      await run()
      await prof
      const s = (performance.now() - t0) / 1000
      const cpu = cpuSeconds(pid) - c0
      results.push({ mode, s, cpu })
      console.log(`  ${mode.padEnd(42)} ${s.toFixed(2)} s  ${(mb / s).toFixed(1).padStart(6)} MB/s  kubo CPU ${cpu.toFixed(2)} s`)
      await clean()
    }
    console.log(`kubo ingest of ${MIB} MiB (${blocks.length} blocks), offline repo`)
    for (let r = 0; r < ROUNDS; r++) {
      await measure('ipfs add (CLI)', async () => {
        await kubo.ipfsOk(['add', '-Q', file], { timeoutMs: 600_000 })
      })
      await measure('POST add (HTTP, file streamed)', async () => {
        await post(kubo, 'add', 'quiet=true', [
          { kind: 'file', path: 'f', content: () => Bun.file(file).stream() as unknown as AsyncIterable<Uint8Array> }
        ])
      })
      await measure('POST add?only-hash (chunk+hash only)', async () => {
        await post(kubo, 'add', 'quiet=true&only-hash=true', [
          { kind: 'file', path: 'f', content: () => Bun.file(file).stream() as unknown as AsyncIterable<Uint8Array> }
        ])
      })
      for (const per of [blocks.length, 256, 64]) {
        await measure(`block/put, ${per} blocks per request`, async () => {
          for (let i = 0; i < blocks.length; i += per) {
            const slice = blocks.slice(i, i + per)
            // one codec per request: split where it changes
            const groups: Block[][] = []
            for (const b of slice) {
              const g = groups.at(-1)
              if (g !== undefined && g[0]?.cid.code === b.cid.code) g.push(b)
              else groups.push([b])
            }
            for (const g of groups) {
              const c = g[0]?.cid.code === 0x55 ? 'raw' : 'dag-pb'
              await post(kubo, 'block/put', `cid-codec=${c}&mhtype=sha2-256&pin=false&allow-big-block=true`, blockEntries(g))
            }
          }
        })
      }
      await measure('dag/import (CAR stream, pin-roots=false)', async () => {
        await post(kubo, 'dag/import', 'pin-roots=false&stats=false', [{ kind: 'file', path: 'dag.car', content: () => carBytes(root as CID, blocks) }])
      })
      await measure('dag/import + pin/add', async () => {
        await post(kubo, 'dag/import', 'pin-roots=false&stats=false', [{ kind: 'file', path: 'dag.car', content: () => carBytes(root as CID, blocks) }])
        const r = await fetch(`${kubo.apiUrl}/api/v0/pin/add?arg=${cid}`, { method: 'POST' })
        await r.text()
      })
    }
  } finally {
    await stopAllKubos()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
