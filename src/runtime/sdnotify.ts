/**
 * systemd readiness notification (`sd_notify(3)`), as upstream's daemon
 * sends `READY=1` through go-systemd `daemon.SdNotify` once the cluster is
 * ready (cmd/ipfs-cluster-service/daemon.go).
 *
 * systemd passes the path of a unix DATAGRAM socket in `$NOTIFY_SOCKET`
 * (a leading `@` means the Linux abstract namespace). Neither Bun nor Node
 * can send unix datagrams through their socket APIs, so:
 *
 * 1. under Bun on Linux (and in the compiled binary) the datagram is sent
 *    from this very process through libc with `bun:ffi`
 *    (`socket(AF_UNIX, SOCK_DGRAM)` + `sendto`), which satisfies the default
 *    `NotifyAccess=main` of a `Type=notify` unit;
 * 2. otherwise (Deno, or when FFI is unavailable) it runs
 *    `systemd-notify <state>` with `NOTIFY_SOCKET` set. That message comes
 *    from a child process, so the unit needs `NotifyAccess=all` (the units
 *    in `systemd/` set it for this reason).
 *
 * Without `$NOTIFY_SOCKET` nothing is sent. Notification never throws: a
 * failure is logged and reported as `false`.
 */
import { spawn } from 'node:child_process'
import { getLogger } from '../observability/logging.ts'
import { errorMessage } from '../errors.ts'

const log = getLogger('service')

/** How the notification was delivered. */
export type SdNotifyResult = 'ffi' | 'systemd-notify' | 'none'

/** sockaddr_un.sun_path size on Linux. */
const SUN_PATH_MAX = 108
const AF_UNIX = 1
const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0o2000000
const MSG_NOSIGNAL = 0x4000

/** Builds a Linux `struct sockaddr_un` for `path` (`@name` = abstract namespace). Exported for tests. */
export function sockaddrUn(path: string): { addr: Uint8Array; len: number } {
  const abstract = path.startsWith('@')
  const bytes = new TextEncoder().encode(abstract ? path.slice(1) : path)
  if (bytes.length + 1 > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET path too long: ${path}`)
  const addr = new Uint8Array(2 + SUN_PATH_MAX)
  addr[0] = AF_UNIX & 0xff // sa_family_t, little-endian u16 (every Linux target we build)
  addr[1] = 0
  // abstract: sun_path[0] = 0 then the name, length covers exactly the name
  addr.set(bytes, abstract ? 3 : 2)
  const len = abstract ? 2 + 1 + bytes.length : 2 + bytes.length + 1
  return { addr, len }
}

type Libc = {
  socket(domain: number, type: number, protocol: number): number
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number | bigint
  close(fd: number): number
}

async function openLibc(): Promise<Libc | undefined> {
  if (process.platform !== 'linux') return undefined
  if ((globalThis as { Bun?: unknown }).Bun === undefined) return undefined
  try {
    const ffi = (await import('bun:ffi')) as typeof import('bun:ffi')
    const { FFIType } = ffi
    let lib: ReturnType<typeof ffi.dlopen> | undefined
    for (const name of ['libc.so.6', 'libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
      try {
        lib = ffi.dlopen(name, {
          socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
          sendto: {
            args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
            returns: FFIType.i64
          },
          close: { args: [FFIType.i32], returns: FFIType.i32 }
        })
        break
      } catch {
        // try the next name
      }
    }
    if (lib === undefined) return undefined
    const s = lib.symbols as unknown as {
      socket(a: number, b: number, c: number): number
      sendto(fd: number, buf: unknown, len: number, flags: number, addr: unknown, addrlen: number): number | bigint
      close(fd: number): number
    }
    return {
      socket: (a, b, c) => s.socket(a, b, c),
      sendto: (fd, buf, len, flags, addr, addrlen) => s.sendto(fd, ffi.ptr(buf), len, flags, ffi.ptr(addr), addrlen),
      close: (fd) => s.close(fd)
    }
  } catch (err) {
    log.debug(`sd_notify: bun:ffi unavailable: ${errorMessage(err)}`)
    return undefined
  }
}

async function sendWithFfi(socketPath: string, state: string): Promise<boolean> {
  const libc = await openLibc()
  if (libc === undefined) return false
  const { addr, len } = sockaddrUn(socketPath)
  const msg = new TextEncoder().encode(state)
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) return false
  try {
    const sent = Number(libc.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, len))
    return sent === msg.length
  } finally {
    libc.close(fd)
  }
}

function sendWithSystemdNotify(socketPath: string, state: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const args = state.split('\n').filter((l) => l !== '')
    const child = spawn('systemd-notify', args, {
      env: { NOTIFY_SOCKET: socketPath, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: 'ignore',
      signal
    })
    child.once('error', () => resolve(false))
    child.once('exit', (code) => resolve(code === 0))
  })
}

/**
 * Sends `state` (e.g. `READY=1`, `STOPPING=1`, `STATUS=…`; several
 * assignments separated by `\n`) to systemd.
 * @param socketPath the value of `$NOTIFY_SOCKET` (undefined or "" = not under systemd: nothing is sent)
 * @returns how it was delivered, or `none` when nothing was sent.
 */
export async function sdNotify(
  socketPath: string | undefined,
  state: string,
  options: { signal?: AbortSignal } = {}
): Promise<SdNotifyResult> {
  if (socketPath === undefined || socketPath === '') return 'none'
  try {
    if (await sendWithFfi(socketPath, state)) return 'ffi'
  } catch (err) {
    log.debug(`sd_notify through libc failed: ${errorMessage(err)}`)
  }
  if (await sendWithSystemdNotify(socketPath, state, options.signal)) return 'systemd-notify'
  log.warn(`could not notify systemd (${state.replace(/\n/g, ' ')}) on ${socketPath}`)
  return 'none'
}

/** `sdNotify(socketPath, 'READY=1')`: call once the peer is ready. */
export function sdNotifyReady(socketPath: string | undefined, options: { signal?: AbortSignal } = {}): Promise<SdNotifyResult> {
  return sdNotify(socketPath, 'READY=1', options)
}
