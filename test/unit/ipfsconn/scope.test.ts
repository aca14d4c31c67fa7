/**
 * One IPFS request's cancellation (src/ipfsconn/ipfshttp/connector.ts
 * `Scope`): the caller's signal, the connector's run signal and a timeout,
 * each turned into its own error class.
 */
import { describe, expect, test } from 'bun:test'
import { AbortError, IPFSError } from '../../../src/errors.ts'
import { Scope } from '../../../src/ipfsconn/ipfshttp/connector.ts'

describe('Scope', () => {
  test('stopping the connector aborts every open scope as stopped, and no closed one', () => {
    const run = new AbortController()
    const open = Array.from({ length: 10_000 }, () => new Scope(0, 'timed out', undefined, run.signal))
    const closed = Array.from({ length: 10 }, () => new Scope(0, 'timed out', undefined, run.signal))
    for (const s of closed) s.close()
    run.abort()
    expect(open.every((s) => s.signal.aborted)).toBe(true)
    expect(closed.some((s) => s.signal.aborted)).toBe(false)
    const err = open[0]!.fail('pin/ls', new Error('x'))
    expect(err).toBeInstanceOf(AbortError)
    expect(err.message).toContain('the IPFS connector stopped (pin/ls)')
    // a scope made after the stop starts aborted
    expect(new Scope(0, 'timed out', undefined, run.signal).signal.aborted).toBe(true)
  })

  test('a new run signal has its own scopes', () => {
    const first = new AbortController()
    const second = new AbortController()
    const a = new Scope(0, 'timed out', undefined, first.signal)
    const b = new Scope(0, 'timed out', undefined, second.signal)
    first.abort()
    expect(a.signal.aborted).toBe(true)
    expect(b.signal.aborted).toBe(false)
    second.abort()
    expect(b.signal.aborted).toBe(true)
  })

  test('the caller aborting is an AbortError of the caller; a timeout is an IPFSError with its message', async () => {
    const run = new AbortController()
    const caller = new AbortController()
    const byCaller = new Scope(0, 'timed out', caller.signal, run.signal)
    caller.abort()
    expect(byCaller.signal.aborted).toBe(true)
    expect(byCaller.fail('pin/add', new Error('x')).message).toBe('IPFS request aborted (pin/add)')
    // a closed scope's timer is gone: made before `timed`, with the same timeout, its
    // timer would have fired by the time `timed` aborts
    const quiet = new Scope(20, 'timed out', undefined, run.signal)
    quiet.close()
    const timed = new Scope(20, 'IPFS request timed out after 20 ms (pin/rm)', undefined, run.signal)
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('the scope did not time out within 5 s')), 5_000)
      timed.signal.addEventListener('abort', () => {
        clearTimeout(deadline)
        resolve()
      })
    })
    const err = timed.fail('pin/rm', new Error('x'))
    expect(err).toBeInstanceOf(IPFSError)
    expect(err.message).toBe('IPFS request timed out after 20 ms (pin/rm)')
    expect(quiet.signal.aborted).toBe(false)
  })
})
