/**
 * The pnet cipher's shared WebAssembly memory (src/host/xsalsa20-memory.ts):
 * without the pre-grow, several instances updating chunks of more than its
 * initial 640 KiB exhaust it (each grow detaches the others' views, which
 * then grow it again); with it, they never grow it and stay correct.
 */
import { describe, expect, test } from 'bun:test'
import xsalsa20 from 'xsalsa20'
import { growXsalsa20Memory } from '../../../src/host/xsalsa20-memory.ts'

/** Six instances, 1.1 MB and more per update, 40 rounds: what a busy peer's connections do. */
const PATTERN = `
const inst = Array.from({ length: 6 }, (_, i) => xsalsa20(new Uint8Array(24).fill(i), new Uint8Array(32)))
for (let i = 0; i < 40; i++) for (const [j, x] of inst.entries()) x.update(new Uint8Array(1_100_000 + j * 10_000 + i * 1000))
`

describe('xsalsa20 shared memory', () => {
  test('without the pre-grow, the pattern exhausts the memory (the bug the workaround is for)', async () => {
    const proc = Bun.spawn([process.execPath, '-e', `const xsalsa20 = require('xsalsa20');${PATTERN}`], { cwd: import.meta.dir, stderr: 'pipe', stdout: 'pipe' })
    const err = await new Response(proc.stderr).text()
    expect(await proc.exited).not.toBe(0)
    expect(err).toContain('declared maximum size')
  })

  test('after the pre-grow the same pattern runs, and the cipher still round-trips', () => {
    expect(growXsalsa20Memory()).toBe(true)
    expect(growXsalsa20Memory()).toBe(true)
    new Function('xsalsa20', PATTERN)(xsalsa20)
    const data = Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 0xff)
    const nonce = new Uint8Array(24).fill(9)
    const key = new Uint8Array(32).fill(3)
    const enc = xsalsa20(nonce, key)
    const dec = xsalsa20(nonce, key)
    const parts = [data.subarray(0, 1_000_001), data.subarray(1_000_001, 2_500_000), data.subarray(2_500_000)]
    const out = parts.map((p) => dec.update(enc.update(p)))
    expect(Buffer.concat(out).equals(Buffer.from(data))).toBe(true)
  })
})
