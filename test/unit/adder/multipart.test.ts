import { describe, expect, test } from 'bun:test'
import type { AddEntry } from '../../../src/adder/dag.ts'
import { encodeMultipart, multipartLength, parseMultipart, queryEscape, queryUnescape, type UploadEntry } from '../../../src/adder/multipart.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()

async function collect(entries: AsyncIterable<AddEntry>): Promise<{ kind: string; path: string; data?: string; target?: string }[]> {
  const out: { kind: string; path: string; data?: string; target?: string }[] = []
  for await (const e of entries) {
    if (e.kind === 'file') {
      let s = ''
      for await (const c of e.content) s += dec.decode(c, { stream: true })
      out.push({ kind: 'file', path: e.path, data: s })
    } else if (e.kind === 'symlink') out.push({ kind: 'symlink', path: e.path, target: e.target })
    else out.push({ kind: 'dir', path: e.path })
  }
  return out
}

/** Re-chunks a stream into pieces of `n` bytes (parsers must cope with any split). */
async function* rechunk(src: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  for await (const c of src) for (let i = 0; i < c.length; i += n) yield c.subarray(i, i + n)
}

async function* gen(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield enc.encode(c)
}

describe('Go url.QueryEscape compatibility', () => {
  test('escapes like Go (space as +, / as %2F) and round-trips', () => {
    expect(queryEscape('dir/sub dir/f(1)!.txt')).toBe('dir%2Fsub+dir%2Ff%281%29%21.txt')
    expect(queryUnescape('dir%2Fsub+dir%2Ff%281%29%21.txt')).toBe('dir/sub dir/f(1)!.txt')
    expect(queryUnescape('bad%zz')).toBe('bad%zz')
  })
})

describe('multipart upload format (boxo MultiFileReader, form=true)', () => {
  const entries: UploadEntry[] = [
    { kind: 'dir', path: 'tree' },
    { kind: 'file', path: 'tree/a b.txt', content: () => gen('hello ', 'world') },
    { kind: 'dir', path: 'tree/.hidden' },
    { kind: 'file', path: 'tree/.hidden/.secret', content: () => gen('s') },
    { kind: 'file', path: 'tree/empty', content: () => gen() },
    { kind: 'symlink', path: 'tree/link', target: 'a b.txt' },
    { kind: 'file', path: 'tree/ünï/x\r\n--y', content: () => gen('--boundary-like\r\n--data') }
  ]
  const expected = [
    { kind: 'dir', path: 'tree' },
    { kind: 'file', path: 'tree/a b.txt', data: 'hello world' },
    { kind: 'dir', path: 'tree/.hidden' },
    { kind: 'file', path: 'tree/.hidden/.secret', data: 's' },
    { kind: 'file', path: 'tree/empty', data: '' },
    { kind: 'symlink', path: 'tree/link', target: 'a b.txt' },
    { kind: 'file', path: 'tree/ünï/x\r\n--y', data: '--boundary-like\r\n--data' }
  ]

  test('encode then parse gives back every entry, hidden ones included, in order', async () => {
    const { body, contentType } = encodeMultipart(entries)
    expect(contentType).toMatch(/^multipart\/form-data; boundary=[0-9a-f]{60}$/)
    expect(await collect(parseMultipart(body, contentType))).toEqual(expected)
  })

  test('parses the body whatever its chunking (1-byte and 5-byte reads)', async () => {
    for (const n of [1, 5]) {
      const { body, contentType } = encodeMultipart(entries)
      const chunks = rechunk(body as unknown as AsyncIterable<Uint8Array>, n)
      expect(await collect(parseMultipart(chunks, contentType))).toEqual(expected)
    }
  })

  test('the wire text is what the Go client sends', async () => {
    const { body, contentType } = encodeMultipart([{ kind: 'dir', path: 'd' }, { kind: 'file', path: 'd/f 1', content: () => gen('x') }], 'BOUND')
    expect(contentType).toBe('multipart/form-data; boundary=BOUND')
    const text = await new Response(body).text()
    expect(text).toBe(
      '--BOUND\r\nContent-Disposition: form-data; name="file"; filename="d"\r\nContent-Type: application/x-directory\r\n\r\n' +
        '\r\n--BOUND\r\nContent-Disposition: form-data; name="file"; filename="d%2Ff+1"\r\nContent-Type: application/octet-stream\r\n\r\nx' +
        '\r\n--BOUND--\r\n'
    )
  })

  test('streams: the first file is handed out before the rest of the body exists', async () => {
    const head = '--B\r\nContent-Disposition: form-data; name="file"; filename="f1"\r\nContent-Type: application/octet-stream\r\n\r\nfirst'
    let release: (() => void) | undefined
    const gate = new Promise<void>((r) => {
      release = r
    })
    let sentTail = false
    async function* body(): AsyncGenerator<Uint8Array> {
      yield enc.encode(head)
      await gate
      sentTail = true
      yield enc.encode('-more\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="f2"\r\n\r\nsecond\r\n--B--\r\n')
    }
    const it = parseMultipart(body(), 'multipart/form-data; boundary=B')[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.done).toBe(false)
    const e = first.value as AddEntry
    expect(e.path).toBe('f1')
    expect(sentTail).toBe(false)
    const reader = (e as { content: AsyncIterable<Uint8Array> }).content[Symbol.asyncIterator]()
    const c1 = await reader.next()
    expect(dec.decode(c1.value as Uint8Array)).toBe('first')
    release?.()
    let rest = ''
    for (let r = await reader.next(); r.done !== true; r = await reader.next()) rest += dec.decode(r.value)
    expect(rest).toBe('-more')
    const second = await it.next()
    expect((second.value as AddEntry).path).toBe('f2')
    expect((await it.next()).done).toBe(true)
  })

  test('an unread file is skipped when the next entry is asked for', async () => {
    const { body, contentType } = encodeMultipart(entries)
    const paths: string[] = []
    for await (const e of parseMultipart(body, contentType)) paths.push(e.path)
    expect(paths).toEqual(expected.map((e) => e.path))
  })

  test('refuses a body that is not multipart, and a truncated one', async () => {
    let err: unknown
    try {
      await collect(parseMultipart(gen('hello'), 'application/json'))
    } catch (e) {
      err = e
    }
    expect((err as Error).name).toBe('InvalidArgumentError')

    err = undefined
    try {
      await collect(parseMultipart(gen('--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc'), 'multipart/form-data; boundary=B'))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(Error)
  })

  test('refuses paths that climb out of the upload', async () => {
    let err: unknown
    try {
      await collect(parseMultipart(gen('--B\r\nContent-Disposition: form-data; name="file"; filename="..%2Fetc"\r\n\r\nx\r\n--B--\r\n'), 'multipart/form-data; boundary=B'))
    } catch (e) {
      err = e
    }
    expect((err as Error).name).toBe('InvalidArgumentError')
  })

  test('a body error mid-upload surfaces to the reader', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield enc.encode('--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc')
      throw new Error('client went away')
    }
    let err: unknown
    try {
      await collect(parseMultipart(broken(), 'multipart/form-data; boundary=B'))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(Error)
  })
})

describe('multipartLength (Content-Length of an upload of known sizes)', () => {
  const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(0x61)
  const entries = (): UploadEntry[] => [
    { kind: 'dir', path: 'd ir' },
    { kind: 'file', path: 'd ir/a', size: 3, content: async function* () { yield bytes(1); yield bytes(2) } },
    { kind: 'symlink', path: 'd ir/l', target: 'a' },
    { kind: 'file', path: 'd ir/é', size: 0, content: async function* () {} }
  ]

  test('equals the length of the encoded body', async () => {
    const { body } = encodeMultipart(entries(), 'b0undary')
    const encoded = new Uint8Array(await new Response(body).arrayBuffer())
    expect(await multipartLength(entries(), 'b0undary')).toBe(encoded.length)
    expect(await multipartLength([], 'b0undary')).toBe(new Uint8Array(await new Response(encodeMultipart([], 'b0undary').body).arrayBuffer()).length)
  })

  test('is undefined when a file has no size', async () => {
    expect(await multipartLength([{ kind: 'file', path: 'u', content: async function* () {} }], 'b')).toBeUndefined()
  })

  test('a file that reads more or fewer bytes than its size fails the body', async () => {
    const long: UploadEntry = { kind: 'file', path: 'x', size: 1, content: async function* () { yield bytes(2) } }
    const short: UploadEntry = { kind: 'file', path: 'y', size: 5, content: async function* () { yield bytes(2) } }
    await expect(new Response(encodeMultipart([long], 'b').body).arrayBuffer()).rejects.toThrow('x grew while being uploaded')
    await expect(new Response(encodeMultipart([short], 'b').body).arrayBuffer()).rejects.toThrow('y shrank while being uploaded')
  })
})
