import { describe, expect, test } from 'bun:test'
import { encodeMultipart, type UploadEntry } from '../../../src/adder/multipart.ts'
import { addParamsFromQuery } from '../../../src/adder/params.ts'
import { announcedLength, checkedParts, importConfigRefusal, multipartBoundary, relayQuery, relayRefusal } from '../../../src/adder/relay.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()
const LOCAL = '12D3KooWGYjnrsijBpnhtwTdoGPauARs2iCjP6X9shicMA3PHUE9'
const OTHER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

async function* rechunk(src: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  for await (const c of src) for (let i = 0; i < c.length; i += n) yield c.subarray(i, i + n)
}

const file = (path: string, data: string): UploadEntry => ({ kind: 'file', path, content: async function* () { yield enc.encode(data) } })

/** Runs `checkedParts` over the encoded entries cut into `n`-byte chunks; returns the passed-through text and the directories seen. */
async function check(entries: UploadEntry[], n: number, opts: { unnamedFile?: boolean } = {}): Promise<{ text: string; dirs: string[] }> {
  const { body, contentType } = encodeMultipart(entries, 'b0undary')
  const dirs: string[] = []
  let text = ''
  for await (const c of checkedParts(rechunk(body as unknown as AsyncIterable<Uint8Array>, n), contentType, { ...opts, onDir: (p) => dirs.push(p) })) {
    text += dec.decode(c, { stream: true })
  }
  return { text, dirs }
}

async function raw(body: string, contentType: string, n: number, opts: { unnamedFile?: boolean } = {}): Promise<void> {
  async function* src(): AsyncGenerator<Uint8Array> {
    yield enc.encode(body)
  }
  for await (const _ of checkedParts(rechunk(src(), n), contentType, opts)) {
    // drained
  }
}

describe('checkedParts', () => {
  const tree: UploadEntry[] = [
    { kind: 'dir', path: 'tree' },
    file('tree/a', 'x'.repeat(300)),
    { kind: 'dir', path: 'tree/sub' },
    file('tree/sub/b', `--not-a-boundary\r\n\r\n${'y'.repeat(100)}`),
    { kind: 'symlink', path: 'tree/sub/l', target: 'a' },
    { kind: 'dir', path: 'tree/empty' },
    file('tree/z', ''),
    file('top', 'hello')
  ]

  for (const n of [1, 2, 7, 64, 65, 1 << 20]) {
    test(`passes the body through unchanged and sees every directory (chunks of ${n} bytes)`, async () => {
      const { body } = encodeMultipart(tree, 'b0undary')
      const whole = await new Response(body).text()
      const { text, dirs } = await check(tree, n)
      expect(text.length).toBe(whole.length)
      expect(dirs).toEqual(['tree', 'tree/sub', 'tree/empty'])
    })
  }

  test('refuses what the cluster adder refuses, with its error', async () => {
    await expect(check([file('../up', 'x')], 5)).rejects.toThrow(/invalid path in upload/)
    const ct = 'multipart/form-data; boundary=XX'
    const unnamed = '--XX\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\nhi\r\n--XX--\r\n'
    await expect(raw(unnamed, ct, 3)).rejects.toThrow(/invalid path in upload/)
    // the proxy's stdin: one unnamed file
    await raw(unnamed, ct, 3, { unnamedFile: true })
    await expect(raw('--XX\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nhi\r\n--XX', ct, 4)).rejects.toThrow(/Unexpected end/)
    await expect(raw('--XX--\r\n', ct, 4)).rejects.toThrow(/no files in the upload/)
  })

  test('refuses what kubo would read differently', async () => {
    // a part outside the directory opened last
    await expect(check([{ kind: 'dir', path: 'd' }, file('d/a', 'x'), file('e/b', 'y')], 3)).rejects.toThrow(/does not follow its directory/)
    await expect(check([file('a', 'x'), file('d/a', 'x')], 3)).rejects.toThrow(/does not follow its directory/)
    const ct = 'multipart/form-data; boundary=XX'
    await expect(raw('--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nhi\r\n--XX--\r\n', ct, 5)).rejects.toThrow(/without a filename/)
    // kubo's CLI: mode and mtime in the form name (kubo ignores them without preserve-mode/-mtime)
    await raw('--XX\r\nContent-Disposition: form-data; name="file?mode=0644&mtime=1796226494"; filename="a"\r\n\r\nhi\r\n--XX--\r\n', ct, 5)
    await expect(raw("--XX\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''a\r\n\r\nhi\r\n--XX--\r\n", ct, 5)).rejects.toThrow(/not supported/)
    // a second part after an unnamed one
    const two = '--XX\r\nContent-Disposition: form-data; name="file"; filename=""\r\n\r\nhi\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n\r\nho\r\n--XX--\r\n'
    await expect(raw(two, ct, 5, { unnamedFile: true })).rejects.toThrow(/only one/)
  })

  test('multipartBoundary', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc')
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b')
    expect(() => multipartBoundary('multipart/form-data')).toThrow(/no boundary/)
  })
})

describe('relayRefusal', () => {
  const p = (q: string) => addParamsFromQuery(new URLSearchParams(q))
  const form = 'multipart/form-data; boundary=x'
  const req = { contentType: form, sinkPeers: [LOCAL], localPeer: LOCAL, onlyHash: false }

  test('relays unixfs adds whose blocks go to the local peer only', () => {
    expect(relayRefusal(p(''), req)).toBeNull()
    expect(relayRefusal(p(''), { ...req, sinkPeers: [] })).toBeNull()
    expect(relayRefusal(p('layout=trickle&chunker=size-1024&hash=blake2b-256&cid-version=1'), req)).toBeNull()
  })

  test('falls back otherwise', () => {
    expect(relayRefusal(p(''), { ...req, sinkPeers: [LOCAL, OTHER] })).toMatch(/other peers/)
    expect(relayRefusal(p(''), { ...req, sinkPeers: [OTHER] })).toMatch(/other peers/)
    expect(relayRefusal(p('format=car'), req)).toMatch(/car/)
    expect(relayRefusal(p(''), { ...req, contentType: 'multipart/mixed; boundary=x' })).toMatch(/form-data/)
    // nothing is stored with only-hash: any destination
    expect(relayRefusal(p(''), { ...req, sinkPeers: [LOCAL, OTHER], onlyHash: true })).toBeNull()
  })

  test('the kubo query gives every DAG option explicitly, no pin', () => {
    const q = new Map(relayQuery(p('cid-version=1&layout=trickle&wrap-with-directory=true&chunker=size-1024'), false))
    expect(q.get('pin')).toBe('false')
    expect(q.get('cid-version')).toBe('1')
    expect(q.get('raw-leaves')).toBe('true')
    expect(q.get('trickle')).toBe('true')
    expect(q.get('wrap-with-directory')).toBe('true')
    expect(q.get('chunker')).toBe('size-1024')
    expect(q.get('hash')).toBe('sha2-256')
    expect(q.get('inline')).toBe('false')
    expect(q.get('only-hash')).toBe('false')
    expect(new Map(relayQuery(p(''), true)).get('only-hash')).toBe('true')
  })
})

describe('importConfigRefusal', () => {
  test("kubo's defaults (null or absent) and the keys a request overrides are fine", () => {
    expect(importConfigRefusal({})).toBeNull()
    expect(
      importConfigRefusal({
        Import: { CidVersion: 1, UnixFSRawLeaves: true, UnixFSChunker: 'size-1024', HashFunction: 'blake2b-256', BatchMaxNodes: 10, UnixFSHAMTDirectorySizeThreshold: null },
        Internal: {}
      })
    ).toBeNull()
  })

  test('settings with no per-request option refuse', () => {
    expect(importConfigRefusal({ Import: { UnixFSHAMTDirectorySizeThreshold: '1KiB' } })).toMatch(/UnixFSHAMTDirectorySizeThreshold/)
    expect(importConfigRefusal({ Import: { UnixFSHAMTDirectorySizeEstimation: 'block' } })).toMatch(/Estimation/)
    expect(importConfigRefusal({ Import: { UnixFSDirectoryMaxLinks: 10 } })).toMatch(/DirectoryMaxLinks/)
    expect(importConfigRefusal({ Import: { UnixFSFileMaxLinks: 10 } })).toMatch(/FileMaxLinks/)
    expect(importConfigRefusal({ Import: { SomethingNew: true } })).toMatch(/SomethingNew/)
    expect(importConfigRefusal({ Internal: { UnixFSShardingSizeThreshold: '1KiB' } })).toMatch(/Internal/)
    expect(importConfigRefusal(null)).toMatch(/unreadable/)
  })
})

describe('announcedLength', () => {
  test('a plain decimal Content-Length without Transfer-Encoding', () => {
    expect(announcedLength(new Headers({ 'content-length': '209715315' }))).toBe(209715315)
    expect(announcedLength(new Headers({ 'content-length': '0' }))).toBe(0)
  })
  test('none, not a decimal, or with a Transfer-Encoding: unknown', () => {
    expect(announcedLength(new Headers())).toBeUndefined()
    expect(announcedLength(new Headers({ 'content-length': '12, 12' }))).toBeUndefined()
    expect(announcedLength(new Headers({ 'content-length': '-1' }))).toBeUndefined()
    expect(announcedLength(new Headers({ 'content-length': '1e3' }))).toBeUndefined()
    expect(announcedLength(new Headers({ 'content-length': '10', 'transfer-encoding': 'chunked' }))).toBeUndefined()
  })
})
