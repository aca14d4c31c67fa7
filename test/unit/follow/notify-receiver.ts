/**
 * Test helper: a unix datagram socket playing systemd's NOTIFY_SOCKET,
 * through libc with bun:ffi (Bun has no unix datagram API). Linux only.
 */
import { dlopen, FFIType, ptr } from 'bun:ffi'
import { sockaddrUn } from '../../../src/runtime/sdnotify.ts'
import { waitFor as poll } from '../../../scripts/launcher/poll.ts'

const libc = dlopen('libc.so.6', {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 }
})

const MSG_DONTWAIT = 0x40

export interface NotifyReceiver {
  path: string
  /** Polls for datagrams until `pred` holds on the received text or the deadline passes. */
  waitFor(pred: (all: string) => boolean, timeoutMs?: number): Promise<string>
  close(): void
}

/** Binds `path` (a filesystem path, or `@name` for the abstract namespace). */
export function notifyReceiver(path: string): NotifyReceiver {
  const fd = libc.symbols.socket(1, 2, 0)
  if (fd < 0) throw new Error('socket() failed')
  const { addr, len } = sockaddrUn(path)
  if (libc.symbols.bind(fd, ptr(addr), len) !== 0) throw new Error(`bind(${path}) failed`)
  let received = ''
  const buf = new Uint8Array(4096)
  const drain = (): void => {
    for (let i = 0; i < 100; i++) {
      const n = Number(libc.symbols.recv(fd, ptr(buf), buf.length, MSG_DONTWAIT))
      if (n <= 0) return
      received += `${new TextDecoder().decode(buf.subarray(0, n))}\n`
    }
  }
  return {
    path,
    async waitFor(pred, timeoutMs = 10_000) {
      return await poll(
        () => {
          drain()
          return pred(received) && received
        },
        `a matching notification on ${path}`,
        timeoutMs,
        20
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; got: ${JSON.stringify(received)}`)
      })
    },
    close() {
      libc.symbols.close(fd)
    }
  }
}
