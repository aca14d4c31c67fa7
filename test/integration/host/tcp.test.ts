/**
 * The cluster host's TCP transport (src/host/tcp.ts): a dial aborted while
 * the TCP handshake is in flight rejects with an AbortError and leaves no
 * `'error'` event without a listener. Stock `@libp2p/tcp` 11.0.28 kills the
 * process there (issue 15). Each case runs in its own process, since the
 * bug is an uncaught exception.
 */
import { describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { hideSignalFromSpread } from '../../../src/host/tcp.ts'

const ROOT = resolve(import.meta.dir, '../../..')

/** Dials a listening loopback port and aborts at once, in a child process; returns its exit code and output. */
async function abortedDial(which: 'stock' | 'cluster'): Promise<{ code: number; out: string }> {
  const script = `
    import { createServer } from 'node:net'
    import { defaultLogger } from '@libp2p/logger'
    import { tcp } from '@libp2p/tcp'
    import { multiaddr } from '@multiformats/multiaddr'
    import { clusterTcp } from './src/host/tcp.ts'
    const server = createServer((s) => s.destroy())
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    const t = (${JSON.stringify(which)} === 'stock' ? tcp : clusterTcp)()({ logger: defaultLogger() })
    const ac = new AbortController()
    const dial = t._connect(multiaddr('/ip4/127.0.0.1/tcp/' + server.address().port), { signal: ac.signal })
    ac.abort()
    const how = await dial.then((s) => { s.destroy(); return 'resolved' }, (err) => err.name)
    await new Promise((r) => setTimeout(r, 200))
    server.close()
    console.log('dial: ' + how)
  `
  const proc = Bun.spawn([process.execPath, '-e', script], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  return { code, out: out + err }
}

describe('cluster TCP transport', () => {
  test('stock @libp2p/tcp: an aborted dial crashes the process (the bug clusterTcp fixes)', async () => {
    const r = await abortedDial('stock')
    // if this starts failing, @libp2p/tcp fixed it upstream and clusterTcp can go
    expect(r.code).not.toBe(0)
    expect(r.out).toContain('dial: AbortError')
    expect(r.out).toContain('AbortError: The operation was aborted')
  })

  test('clusterTcp: the aborted dial rejects with AbortError and the process lives on', async () => {
    const r = await abortedDial('cluster')
    expect(r.out).toContain('dial: AbortError')
    expect(r.out).not.toContain('The operation was aborted')
    expect(r.code).toBe(0)
  })

  test('hideSignalFromSpread keeps the signal readable and out of a spread', () => {
    const ac = new AbortController()
    const o = hideSignalFromSpread<{ signal?: AbortSignal; keepAlive: boolean }>({ signal: ac.signal, keepAlive: true })
    expect(o.signal).toBe(ac.signal)
    expect({ ...o } as object).toEqual({ keepAlive: true })
    expect(hideSignalFromSpread<{ signal?: AbortSignal; keepAlive: boolean }>({ keepAlive: false })).toEqual({ keepAlive: false })
  })
})
