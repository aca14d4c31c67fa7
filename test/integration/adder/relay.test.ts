/**
 * The add relay against a real kubo (offline): for a matrix of inputs ×
 * options, the relayed add (kubo's own `add`) gives exactly the lines of
 * the cluster adder (the same components with the relay disabled); the
 * fallbacks (other destinations, a non-default kubo `Import` config);
 * only-hash stores nothing; an aborted or failing add pins nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { AddResult } from '../../../src/adder/adder.ts'
import { addOutputToJSON } from '../../../src/adder/handler.ts'
import { uploadEntries } from '../../../src/adder/files.ts'
import { encodeMultipart, multipartLength, randomBoundary, type UploadEntry } from '../../../src/adder/multipart.ts'
import { addParamsFromQuery } from '../../../src/adder/params.ts'
import { blockSinkFactory } from '../../../src/adder/sink.ts'
import { addUpload, type UploadComponents } from '../../../src/adder/upload.ts'
import { defaultIpfsHttpInit, IpfsHttpConnector } from '../../../src/ipfsconn/ipfshttp/index.ts'
import type { PeerId } from '../../../src/types/index.ts'
import { type Kubo, startKubo, stopAllKubos } from '../../../scripts/launcher/index.ts'

const LOCAL = '12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'
const OTHER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

let kubo: Kubo
let ipfs: IpfsHttpConnector
let dir: string

beforeAll(async () => {
  kubo = await startKubo({ offline: true })
  ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
  dir = await mkdtemp(join(tmpdir(), 'adder-relay-'))
  await writeFile(join(dir, 'empty'), '')
  await writeFile(join(dir, 'small'), 'hello relay\n')
  await writeFile(join(dir, 'mib3'), randomBytes(3 * 1024 * 1024 + 7))
  const t = join(dir, 'tree')
  await mkdir(join(t, 'sub', 'deeper'), { recursive: true })
  await mkdir(join(t, 'emptydir'), { recursive: true })
  await writeFile(join(t, 'a.txt'), 'hi\n')
  await writeFile(join(t, 'z'), randomBytes(40 * 1024))
  await writeFile(join(t, 'sub', 'b'), randomBytes(300 * 1024))
  await writeFile(join(t, 'sub', 'e'), '')
  await writeFile(join(t, 'sub', 'deeper', 'c'), 'deep\n')
  await symlink('a.txt', join(t, 'sub', 'link'))
}, 120_000)

afterAll(async () => {
  await stopAllKubos()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

interface Pinned {
  cid: CID
  allocations: PeerId[]
  name: string
}

function components(over: Partial<UploadComponents> & { pins?: Pinned[] } = {}): UploadComponents {
  const pins = over.pins ?? []
  return {
    localPeer: LOCAL,
    ipfs,
    relay: ipfs,
    allocate: async () => [LOCAL],
    pin: async (cid, opts) => {
      pins.push({ cid, allocations: opts.allocations, name: opts.name })
      return {} as never
    },
    ...over
  }
}

/** Runs an add of `entries` and returns its JSON lines and whether it was relayed. */
async function run(
  entries: UploadEntry[] | AsyncIterable<UploadEntry>,
  query: string,
  comps: UploadComponents,
  opts: { onlyHash?: boolean; signal?: AbortSignal; boundary?: string; contentLength?: number } = {}
): Promise<{ lines: string[]; result: (AddResult & { relayed: boolean }) | undefined }> {
  const params = addParamsFromQuery(new URLSearchParams(query))
  if (opts.onlyHash === true) params.noPin = true
  const { body, contentType } = encodeMultipart(entries, opts.boundary)
  const lines: string[] = []
  let result: (AddResult & { relayed: boolean }) | undefined
  for await (const o of addUpload(body, contentType, params, comps, {
    ...opts,
    onDone: (r) => {
      result = r
    }
  })) {
    // progress lines depend on how the upload was cut into chunks; not compared
    if (o.cid !== undefined) lines.push(JSON.stringify(addOutputToJSON(o)))
  }
  return { lines, result }
}

const files = (paths: string[], query: string): AsyncIterable<UploadEntry> => {
  const p = addParamsFromQuery(new URLSearchParams(query))
  return uploadEntries(paths, { recursive: p.recursive, hidden: p.hidden })
}

const INPUTS: [string, string[], string][] = [
  ['small file', ['small'], ''],
  ['3 MiB file', ['mib3'], ''],
  ['empty file', ['empty'], ''],
  ['folder', ['tree'], 'recursive=true'],
  ['several paths', ['small', 'tree', 'empty'], 'recursive=true']
]

const OPTIONS = [
  '',
  'cid-version=1',
  'raw-leaves=true',
  'cid-version=1&raw-leaves=false',
  'chunker=size-1024',
  'layout=trickle',
  'wrap-with-directory=true',
  'hash=blake2b-256',
  'hash=sha2-256&cid-version=1',
  'progress=true'
]

describe('the relayed add gives the cluster adder lines', () => {
  for (const opt of OPTIONS) {
    test(`options: ${opt || 'default'}`, async () => {
      for (const [label, names, q] of INPUTS) {
        const query = [q, opt].filter((s) => s !== '').join('&')
        const paths = names.map((n) => join(dir, n))
        const pinsA: Pinned[] = []
        const pinsB: Pinned[] = []
        const relayed = await run(files(paths, query), query, components({ pins: pinsA }))
        const built = await run(files(paths, query), query, components({ pins: pinsB, relayEnabled: false }))
        expect(relayed.result?.relayed).toBe(true)
        expect(built.result?.relayed).toBe(false)
        expect(`${label}\n${relayed.lines.join('\n')}`).toBe(`${label}\n${built.lines.join('\n')}`)
        expect(pinsA.map((p) => `${p.cid} ${p.allocations}`)).toEqual(pinsB.map((p) => `${p.cid} ${p.allocations}`))
        expect(pinsA.length).toBe(1)
      }
    }, 120_000)
  }

  test("the upload's announced length is sent on to kubo (no chunked framing): the same lines", async () => {
    for (const [label, names, q] of INPUTS) {
      const paths = names.map((n) => join(dir, n))
      const boundary = randomBoundary()
      const contentLength = await multipartLength(files(paths, q), boundary)
      expect(contentLength).toBeGreaterThan(0)
      const pinsA: Pinned[] = []
      const pinsB: Pinned[] = []
      const sized = await run(files(paths, q), q, components({ pins: pinsA }), { boundary, contentLength })
      const built = await run(files(paths, q), q, components({ pins: pinsB, relayEnabled: false }))
      expect(sized.result?.relayed).toBe(true)
      expect(`${label}\n${sized.lines.join('\n')}`).toBe(`${label}\n${built.lines.join('\n')}`)
      expect(pinsA.map((p) => `${p.cid}`)).toEqual(pinsB.map((p) => `${p.cid}`))
    }
  }, 120_000)

  test('a rabin chunker is refused by both (the cluster adder cannot cut as kubo does)', () => {
    expect(() => addParamsFromQuery(new URLSearchParams('chunker=rabin'))).toThrow(/not supported/)
  })
})

describe('fallback to the cluster adder', () => {
  test('blocks for another peer too: the cluster adder, and the other peer gets every block', async () => {
    const remote: string[] = []
    const pins: Pinned[] = []
    const comps = components({
      pins,
      allocate: async () => [LOCAL, OTHER],
      blockSinks: blockSinkFactory({
        localPeer: LOCAL,
        ipfs,
        remote: () => async (blocks) => {
          for await (const b of blocks) remote.push(b.cid.toString())
        }
      })
    })
    const query = 'recursive=true'
    const r = await run(files([join(dir, 'tree')], query), query, comps)
    expect(r.result?.relayed).toBe(false)
    const root = pins[0]?.cid.toString() ?? ''
    expect(remote).toContain(root)
    expect(pins[0]?.allocations).toEqual([LOCAL, OTHER])
    const relayedLocal = await run(files([join(dir, 'tree')], query), query, components())
    expect(relayedLocal.result?.relayed).toBe(true)
    expect(relayedLocal.lines.at(-1)).toContain(root)
  })

  test('a kubo with a non-default Import config: the cluster adder (its CIDs, not that kubo config)', async () => {
    const odd = await startKubo({
      offline: true,
      config: (cfg) => {
        cfg.Import = { ...(cfg.Import as Record<string, unknown>), UnixFSHAMTDirectorySizeThreshold: '1B' }
      }
    })
    const oddIpfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: odd.apiMultiaddr, connectSwarmsDelayMs: 0 })
    expect(await oddIpfs.relayRefusal()).toMatch(/UnixFSHAMTDirectorySizeThreshold/)
    const query = 'recursive=true'
    const r = await run(files([join(dir, 'tree')], query), query, components({ ipfs: oddIpfs, relay: oddIpfs }))
    expect(r.result?.relayed).toBe(false)
    const normal = await run(files([join(dir, 'tree')], query), query, components())
    expect(r.lines).toEqual(normal.lines)
    // kubo's own add there shards the folder: another root
    const kuboRoot = await odd.ipfsOk(['add', '-Q', '-r', '--pin=false', join(dir, 'tree')])
    expect(normal.lines.at(-1)).not.toContain(kuboRoot)
  }, 120_000)
})

describe('only-hash, errors and aborts', () => {
  test('only-hash is relayed and stores nothing', async () => {
    const data = randomBytes(600 * 1024)
    const pins: Pinned[] = []
    const entries: UploadEntry[] = [{ kind: 'file', path: 'fresh', content: async function* () { yield data } }]
    const comps = components({ pins, allocate: async () => [] })
    const r = await run(entries, '', comps, { onlyHash: true })
    expect(r.result?.relayed).toBe(true)
    expect(r.result?.pinned).toBe(false)
    expect(pins).toEqual([])
    const cid = JSON.parse(r.lines.at(-1) ?? '{}').cid as string
    const want = await kubo.ipfsOk(['add', '-Q', '--only-hash'], { input: data })
    expect(cid).toBe(want)
    const stat = await kubo.ipfs(['block', 'stat', '--offline', cid])
    expect(stat.code).not.toBe(0)
  })

  test('a client gone mid-upload: the add fails and nothing is pinned', async () => {
    const pins: Pinned[] = []
    const ctrl = new AbortController()
    let sent = 0
    const entries: UploadEntry[] = [
      {
        kind: 'file',
        path: 'endless',
        content: async function* () {
          const chunk = randomBytes(256 * 1024)
          while (true) {
            sent += chunk.length
            if (sent > 4 * 1024 * 1024) ctrl.abort()
            yield chunk
            await new Promise((r) => setImmediate(r))
          }
        }
      }
    ]
    await expect(run(entries, '', components({ pins }), { signal: ctrl.signal })).rejects.toThrow(/abort/i)
    expect(pins).toEqual([])
  })

  test("kubo's error after its first lines (X-Stream-Error trailer) fails the add", async () => {
    // a body that breaks off after a complete first file: kubo reports the
    // truncated second part only in the trailer
    const boundary = 'relaytest'
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\nContent-Type: application/octet-stream\r\n\r\nfirst\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="b"\r\nContent-Type: application/octet-stream\r\n\r\nsecond, cut`
    const lines: string[] = []
    const it = ipfs.add(
      (async function* () {
        yield new TextEncoder().encode(body)
      })(),
      `multipart/form-data; boundary=${boundary}`,
      [['pin', 'false']]
    )
    const err = await (async () => {
      try {
        for await (const ev of it) lines.push(ev.Name)
      } catch (e) {
        return e as Error
      }
      return undefined
    })()
    expect(err?.name).toBe('IPFSError')
    expect(lines).toContain('a')
  })

  test('an upload the cluster adder refuses is refused with its error, nothing pinned', async () => {
    const pins: Pinned[] = []
    await expect(run([{ kind: 'file', path: '../escape', content: async function* () { yield new Uint8Array(3) } }], '', components({ pins }))).rejects.toThrow(
      /invalid path in upload/
    )
    expect(pins).toEqual([])
  })
})
