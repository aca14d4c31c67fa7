import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sdNotify, sdNotifyReady, sockaddrUn } from '../../../src/runtime/sdnotify.ts'
import { notifyReceiver } from './notify-receiver.ts'

const dir = mkdtempSync(join(tmpdir(), 'sdnotify-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('sd_notify', () => {
  test('sockaddr_un: path sockets are NUL-terminated, abstract ones start with NUL', () => {
    const p = sockaddrUn('/run/x')
    expect(p.len).toBe(2 + 6 + 1)
    expect(Array.from(p.addr.subarray(0, 3))).toEqual([1, 0, '/'.charCodeAt(0)])
    const a = sockaddrUn('@abc')
    expect(a.len).toBe(2 + 1 + 3)
    expect(Array.from(a.addr.subarray(0, 6))).toEqual([1, 0, 0, 97, 98, 99])
    expect(() => sockaddrUn(`/${'x'.repeat(200)}`)).toThrow('too long')
  })

  test('without NOTIFY_SOCKET nothing is sent', async () => {
    expect(await sdNotifyReady(undefined)).toBe('none')
    expect(await sdNotifyReady('')).toBe('none')
  })

  test('READY=1 reaches a filesystem socket from this process', async () => {
    const rx = notifyReceiver(join(dir, 'notify.sock'))
    try {
      expect(await sdNotifyReady(rx.path)).toBe('ffi')
      expect(await rx.waitFor((s) => s.includes('READY=1'))).toContain('READY=1')
    } finally {
      rx.close()
    }
  })

  test('abstract-namespace sockets work too', async () => {
    const rx = notifyReceiver(`@ipfs-cluster-test-${process.pid}`)
    try {
      expect(await sdNotify(rx.path, 'STATUS=testing')).toBe('ffi')
      expect(await rx.waitFor((s) => s.includes('STATUS=testing'))).toContain('STATUS=testing')
    } finally {
      rx.close()
    }
  })

  test('an unreachable socket is reported, not thrown', async () => {
    expect(await sdNotifyReady(join(dir, 'missing.sock'))).toBe('none')
  })
})
