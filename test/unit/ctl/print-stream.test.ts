import { expect, test } from 'bun:test'
import { printStream, withCtl } from '../../../src/cli/ctl/context.ts'
import type { RestClient } from '../../../src/api/rest/client.ts'
import { waitFor } from '../../../scripts/launcher/poll.ts'

function io(): { writes: string[]; io: { stdout: (s: string) => void; stderr: (s: string) => void; env: Record<string, string> } } {
  const writes: string[] = []
  return { writes, io: { stdout: (s) => void writes.push(s), stderr: () => {}, env: {} } }
}

const client = {} as RestClient

test('a fast stream is written in a few large writes, the same text as item by item', async () => {
  const out = io()
  async function* many(): AsyncGenerator<string> {
    for (let i = 0; i < 20_000; i++) yield `line ${i}`
  }
  await withCtl({ client, enc: 'text', io: out.io }, () => printStream(many(), (s) => ({ kind: 'string', value: s })))
  const text = out.writes.join('')
  expect(text).toBe(Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join(''))
  expect(out.writes.length).toBeLessThan(100)
})

test('a slow stream prints each item before the next one comes', async () => {
  const out = io()
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  async function* slow(): AsyncGenerator<string> {
    yield 'first'
    await gate // the next item comes only once the first is on stdout
    yield 'second'
  }
  const done = withCtl({ client, enc: 'text', io: out.io }, () => printStream(slow(), (s) => ({ kind: 'string', value: s })))
  await waitFor(() => out.writes.join('') === 'first\n', 'the first item on stdout', 10_000, 5)
  release()
  await done
  expect(out.writes.join('')).toBe('first\nsecond\n')
})
