/**
 * The adder against a real kubo (offline): the CIDs of the full
 * input × option matrix equal `ipfs add --only-hash`, and
 * `IPFSConnector.blockStream` stores mixed-codec uploads in kubo.
 * The folder has hidden entries, an empty folder, an empty file and a
 * symlink. Inputs go through the whole upload chain in process: files walk ->
 * multipart encoder -> streamed multipart parser -> DAG builder.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { type AdderComponents, addEntries } from '../../../src/adder/adder.ts'
import type { Block } from '../../../src/adder/dag.ts'
import { uploadEntries } from '../../../src/adder/files.ts'
import { encodeMultipart, parseMultipart } from '../../../src/adder/multipart.ts'
import { addParamsFromQuery } from '../../../src/adder/params.ts'
import { defaultIpfsHttpInit, IpfsHttpConnector } from '../../../src/ipfsconn/ipfshttp/index.ts'
import { type Kubo, startKubo, stopAllKubos } from '../../../scripts/launcher/index.ts'

let kubo: Kubo
let dir: string
const LOCAL = '12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'

beforeAll(async () => {
  kubo = await startKubo({ offline: true })
  dir = await mkdtemp(join(tmpdir(), 'adder-kubo-'))
  await writeFile(join(dir, 'empty'), '')
  await writeFile(join(dir, 'one'), 'a')
  await writeFile(join(dir, 'mib1'), randomBytes(1024 * 1024 + 1))
  await writeFile(join(dir, 'mib20'), randomBytes(20 * 1024 * 1024))
  const t = join(dir, 'tree')
  await mkdir(join(t, 'sub', '.hid'), { recursive: true })
  await mkdir(join(t, '.dot'), { recursive: true })
  await mkdir(join(t, 'emptydir'), { recursive: true })
  await writeFile(join(t, 'a.txt'), 'hi\n')
  await writeFile(join(t, 'sub', 'b'), randomBytes(300 * 1024))
  await writeFile(join(t, 'sub', 'e'), '')
  await writeFile(join(t, '.dot', 'c'), 'y\n')
  await writeFile(join(t, 'sub', '.hid', 'd'), 'z\n')
  await symlink('a.txt', join(t, 'sub', 'link'))
}, 120_000)

afterAll(async () => {
  await stopAllKubos()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** Adds paths through the whole upload chain, blocks discarded (or to `sink`); returns the root CID. */
async function addLocal(paths: string[], query: string, consume?: (blocks: AsyncIterable<Block>) => Promise<void>): Promise<string> {
  const params = addParamsFromQuery(new URLSearchParams(query))
  const { body, contentType } = encodeMultipart(uploadEntries(paths, { recursive: params.recursive, hidden: params.hidden }))
  const components: AdderComponents = {
    localPeer: LOCAL,
    ipfs: {
      blockStream:
        consume ??
        (async (src) => {
          for await (const _ of src) {
            // only hashing
          }
        })
    },
    allocate: async () => [LOCAL],
    pin: async () => {
      throw new Error('not pinning here')
    }
  }
  let last = ''
  for await (const o of addEntries(parseMultipart(body, contentType), { ...params, noPin: true }, components)) {
    if (o.cid !== undefined) last = o.cid.toString()
  }
  return last
}

const OPTIONS: [string, string[]][] = [
  ['', []],
  ['raw-leaves=true', ['--raw-leaves']],
  ['cid-version=1', ['--cid-version=1']],
  ['layout=trickle', ['--trickle']],
  ['chunker=size-1024', ['--chunker=size-1024']],
  ['hash=sha3-512', ['--hash=sha3-512']],
  ['wrap-with-directory=true', ['-w']]
]

describe('CIDs equal kubo `ipfs add --only-hash`', () => {
  for (const [query, flags] of OPTIONS) {
    test(`options: ${flags.join(' ') || 'default'}`, async () => {
      for (const input of ['empty', 'one', 'mib1', 'mib20']) {
        const p = join(dir, input)
        const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', ...flags, p])).trim()
        expect(`${input}: ${await addLocal([p], query)}`).toBe(`${input}: ${want}`)
      }
      for (const hidden of [false, true]) {
        const p = join(dir, 'tree')
        const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', '-r', ...(hidden ? ['-H'] : []), ...flags, p])).trim()
        const got = await addLocal([p], `${query}&recursive=true&hidden=${hidden}`)
        expect(`tree hidden=${hidden}: ${got}`).toBe(`tree hidden=${hidden}: ${want}`)
      }
    }, 120_000)
  }

  test('several paths are wrapped like kubo', async () => {
    const paths = [join(dir, 'one'), join(dir, 'empty'), join(dir, 'tree')]
    const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', '-r', '-w', ...paths])).trim()
    expect(await addLocal(paths, 'recursive=true&wrap-with-directory=true')).toBe(want)
  })

  test('a folder big enough to be a HAMT shard', async () => {
    const big = join(dir, 'big')
    await mkdir(big)
    for (let i = 0; i < 3000; i++) await writeFile(join(big, `file-with-a-rather-long-name-${i}.txt`), `${i}\n`)
    for (const [query, flags] of [
      ['recursive=true', ['-r']],
      ['recursive=true&cid-version=1', ['-r', '--cid-version=1']]
    ] as [string, string[]][]) {
      const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', ...flags, big])).trim()
      expect(await addLocal([big], query)).toBe(want)
    }
  }, 60_000)

  test('trickle with deep trees and blake2b-256 with raw leaves', async () => {
    const p = join(dir, 'mib1')
    for (const [query, flags] of [
      ['layout=trickle&chunker=size-1024', ['--trickle', '--chunker=size-1024']],
      ['layout=trickle&raw-leaves=true&chunker=size-1024', ['--trickle', '--raw-leaves', '--chunker=size-1024']],
      ['hash=blake2b-256&chunker=size-1024', ['--hash=blake2b-256', '--chunker=size-1024']]
    ] as [string, string[]][]) {
      const want = (await kubo.ipfsOk(['add', '--only-hash', '-Q', ...flags, p])).trim()
      expect(`${flags.join(' ')}: ${await addLocal([p], query)}`).toBe(`${flags.join(' ')}: ${want}`)
    }
  }, 60_000)
})

describe('IpfsHttpConnector.blockStream', () => {
  test('stores every block of an upload (raw leaves + dag-pb parents, one dag/import stream)', async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
    const seen: string[] = []
    const root = await addLocal([join(dir, 'mib1')], 'raw-leaves=true&chunker=size-2048', (src) =>
      ipfs.blockStream(
        (async function* () {
          for await (const b of src) {
            seen.push(b.cid.toString())
            yield b
          }
        })()
      )
    )
    expect(seen.length).toBeGreaterThan(512)
    // every block is in kubo: an offline `dag stat` walks the whole DAG locally
    const stat = await kubo.ipfs(['dag', 'stat', '--progress=false', '--offline', root])
    expect(stat.code).toBe(0)
    expect(stat.stdout).toContain(String(seen.length))
  }, 60_000)

  test('a block whose CID does not match its bytes is an IPFSError', async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
    const bytes = new TextEncoder().encode('real bytes')
    const lie = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode('other bytes')))
    let err: unknown
    try {
      await ipfs.blockStream(
        (async function* () {
          yield { cid: lie, bytes }
        })()
      )
    } catch (e) {
      err = e
    }
    expect((err as Error).name).toBe('IPFSError')
    expect((err as Error).message).toContain('does not match')
  })

  test('a mismatched block among many fails the stream, wherever it is, and nothing hangs', async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
    for (const at of [0, 150, 299]) {
      let pulled = 0
      const src = async function* (): AsyncGenerator<Block> {
        for (let i = 0; i < 300; i++) {
          const bytes = randomBytes(64 * 1024)
          const cid = CID.create(1, raw.code, await sha256.digest(i === at ? randomBytes(8) : bytes))
          pulled++
          yield { cid, bytes }
        }
      }
      let err: unknown
      try {
        await ipfs.blockStream(src())
      } catch (e) {
        err = e
      }
      expect(`${at}: ${(err as Error | undefined)?.name}`).toBe(`${at}: IPFSError`)
      expect((err as Error).message).toContain('does not match')
      expect(pulled).toBeGreaterThan(at)
    }
  }, 60_000)

  test('a stream mixing raw, dag-pb and dag-cbor blocks: every block stored (dag/import and block/put requests)', async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
    const rawBytes = randomBytes(1000)
    const rawCid = CID.create(1, raw.code, await sha256.digest(rawBytes))
    const pbBytes = dagPb.encode({ Links: [{ Hash: rawCid, Name: 'r', Tsize: 1000 }] })
    const pbCid = CID.createV0(await sha256.digest(pbBytes))
    const cborBytes = dagCbor.encode({ hello: 'world', n: randomBytes(4).readUInt32BE(0) })
    const cborCid = CID.create(1, dagCbor.code, await sha256.digest(cborBytes))
    const raw2 = randomBytes(10)
    const raw2Cid = CID.create(1, raw.code, await sha256.digest(raw2))
    const blocks: Block[] = [
      { cid: rawCid, bytes: rawBytes },
      { cid: pbCid, bytes: pbBytes },
      { cid: cborCid, bytes: cborBytes },
      { cid: raw2Cid, bytes: raw2 }
    ]
    await ipfs.blockStream(
      (async function* () {
        yield* blocks
      })()
    )
    for (const b of blocks) {
      const got = await ipfs.blockGet(b.cid)
      expect(Buffer.from(got).equals(Buffer.from(b.bytes))).toBe(true)
    }
  })

  test("the source's own error is rethrown as is", async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: kubo.apiMultiaddr, connectSwarmsDelayMs: 0 })
    const boom = new Error('upload broke off')
    let err: unknown
    try {
      await ipfs.blockStream(
        (async function* () {
          for (let i = 0; i < 20; i++) {
            const bytes = randomBytes(1024)
            yield { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes }
          }
          throw boom
        })()
      )
    } catch (e) {
      err = e
    }
    expect(err).toBe(boom)
  })

  test('kubo unreachable is an IPFSError', async () => {
    const ipfs = new IpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: '/ip4/127.0.0.1/tcp/1', connectSwarmsDelayMs: 0 })
    const bytes = new TextEncoder().encode('x')
    let err: unknown
    try {
      await ipfs.blockStream(
        (async function* () {
          yield { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes }
        })()
      )
    } catch (e) {
      err = e
    }
    expect((err as Error).name).toBe('IPFSError')
  })
})
