/**
 * Shared state of one `ctl` invocation: the API client built from the
 * global flags, the output encoding, where output goes, and upstream's
 * `formatResponse` / `checkErr` behaviour (`cmd/ipfs-cluster-ctl/main.go`):
 *
 * - an `ApiError` prints as an error object on stdout and exits 2 (1 when
 *   its code is 0, i.e. the request never got an answer);
 * - any other error prints `error <doing>: <message>` on stderr and exits
 *   1, or 62 when waiting timed out (Go's `context.DeadlineExceeded`).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { ApiError, type RestClient, WaitTimeoutError } from '../../api/rest/client.ts'
import { ClusterError, errorMessage } from '../../errors.ts'
import { format, jsonPrint, type Printable, toJSONValue } from '../format.ts'

/** Where ctl writes, and knobs tests turn. */
export interface CtlIO {
  stdout(s: string): void
  stderr(s: string): void
  env: Record<string, string | undefined>
  /** delay before the status shown after pin commands (upstream: 1s). */
  statusDelayMs?: number
  /** poll period of `--wait` (upstream: 1s). */
  waitCheckFreqMs?: number
}

/** Ends the invocation with an exit code (thrown; caught by `main`). */
export class CtlExit extends ClusterError {
  static override name = 'CtlExit'
  readonly code: number
  constructor(code: number) {
    super(`exit ${code}`)
    this.code = code
  }
}

export interface Ctl {
  client: RestClient
  enc: 'text' | 'json'
  io: CtlIO
}

/** The state of the invocation running now (no module-level mutable state: concurrent invocations keep theirs apart). */
const invocation = new AsyncLocalStorage<Ctl>()

/** Runs one invocation's commands with `c` as their state. */
export function withCtl<T>(c: Ctl, fn: () => Promise<T>): Promise<T> {
  return invocation.run(c, fn)
}

/** The invocation's state. @throws Error when called outside a ctl run. */
export function ctl(): Ctl {
  const c = invocation.getStore()
  if (c === undefined) throw new Error('ctl: no active invocation')
  return c
}

/** Prints one item in the selected encoding. */
export function print(p: Printable): void {
  const c = ctl()
  c.io.stdout(format(c.enc, p))
}

/** Prints a list: one JSON array with `--enc json`, one item after another in text. */
export function printList(items: Printable[]): void {
  const c = ctl()
  if (c.enc === 'json') c.io.stdout(jsonPrint(items.map(toJSONValue)))
  else for (const p of items) c.io.stdout(format('text', p))
}

/** printStream writes what it holds once it reaches this many characters… */
const STREAM_FLUSH_CHARS = 64 * 1024
/** …or at most this long (ms) after an item came, so a slow stream still prints each item as it comes. */
const STREAM_FLUSH_MS = 50

/**
 * Prints a stream as it arrives, then fails on its error. Items that come
 * in quick succession are written together (one write per 64 KiB instead of
 * one per item: writes were half of `ctl pin ls` of 100,000 pins); an item
 * is never held more than 50 ms.
 */
export async function printStream<T>(items: AsyncIterable<T>, toPrintable: (x: T) => Printable): Promise<void> {
  const c = ctl()
  let held = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (held !== '') c.io.stdout(held)
    held = ''
  }
  try {
    for await (const x of items) {
      held += format(c.enc, toPrintable(x))
      if (held.length >= STREAM_FLUSH_CHARS) flush()
      else timer ??= setTimeout(flush, STREAM_FLUSH_MS)
    }
  } catch (err) {
    flush()
    fail(err)
  }
  flush()
}

/** upstream `checkErr(doing, err)`: message on stderr, exit 1 (62 on timeout). */
export function checkErr(doing: string, err: unknown): never {
  const c = ctl()
  const msg = errorMessage(err)
  c.io.stderr(`error ${doing}: ${msg}\n`)
  throw new CtlExit(err instanceof WaitTimeoutError ? 62 : 1)
}

/** upstream `formatResponse(c, nil, err)`. */
export function fail(err: unknown, doing = ''): never {
  if (err instanceof CtlExit) throw err
  if (!(err instanceof ApiError)) checkErr(doing, err)
  const c = ctl()
  c.io.stdout(format(c.enc, { kind: 'error', value: { code: err.code, message: err.message } }))
  throw new CtlExit(err.code === 0 ? 1 : 2)
}

/** Runs `fn`, turning its failure into upstream's error output. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    fail(err)
  }
}
