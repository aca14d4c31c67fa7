/**
 * The dashboard's REST API client (browser side): same-origin fetches of the
 * public REST API, with the credentials the user logged in with (Basic, or a
 * JWT from `POST /token` sent as Bearer), kept in sessionStorage.
 *
 * Streams (`/allocations`, `/pins`, `/peers`) are read line by line with
 * {@link ndjson}; a caller that has what it needs stops iterating and the
 * request is aborted, so a page of a 1M-pin pinset reads only that page.
 */

import type * as J from '../types/json.ts'

/**
 * A REST API JSON shape (src/types/json.ts) as the dashboard takes it: Go
 * peers (behind a proxy) send empty slices as null, so arrays may be null.
 */
type Lenient<T> = { [K in keyof T]: T[K] extends unknown[] ? T[K] | null : T[K] }
export type PinJSON = Lenient<J.PinJSON>
export type PinInfoShortJSON = J.PinInfoShortJSON
export type GlobalPinInfoJSON = Omit<Lenient<J.GlobalPinInfoJSON>, 'peer_map'> & { peer_map: Record<string, J.PinInfoShortJSON> | null }
export type IdJSON = Omit<Lenient<J.IDJSON>, 'ipfs'> & { ipfs: Lenient<J.IDJSON['ipfs']> | null }
export type MetricJSON = J.MetricJSON
export type AlertJSON = J.AlertJSON
export type RepoGCJSON = J.RepoGCJSON

/** An error answer of the REST API (`{code, message}`) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}

const STORAGE_KEY = 'ipfs-cluster-dashboard-auth'

let authorization: string | null = sessionStorage.getItem(STORAGE_KEY)
const unauthorizedListeners = new Set<() => void>()

/** Called whenever the API answers 401 (the page then shows the login form). */
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn)
  return () => unauthorizedListeners.delete(fn)
}

/** The session's `Authorization` header value, null when not logged in. */
export function authHeader(): string | null {
  return authorization
}

export function isLoggedIn(): boolean {
  return authorization !== null
}

export function logout(): void {
  authorization = null
  sessionStorage.removeItem(STORAGE_KEY)
}

function basic(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return `Basic ${btoa(bin)}`
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`
  try {
    const body = (await res.json()) as { message?: unknown }
    if (typeof body.message === 'string' && body.message !== '') message = body.message
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message)
}

/** fetch() on the REST API with the session's credentials. @throws ApiError on a non-2xx answer or a network error */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (authorization !== null) headers.set('Authorization', authorization)
  let res: Response
  try {
    res = await fetch(path, { ...init, headers, credentials: 'omit' })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, `cannot reach the peer: ${(err as Error).message}`)
  }
  if (!res.ok) {
    const err = await errorOf(res)
    if (res.status === 401) for (const fn of unauthorizedListeners) fn()
    throw err
  }
  return res
}

/** GET (or another method) and parse the JSON answer; 204 gives null. */
export async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await request(path, init)
  if (res.status === 204) return null as T
  const text = await res.text()
  return (text.trim() === '' ? null : JSON.parse(text)) as T
}

/**
 * The objects of an NDJSON stream, one at a time. Breaking out of the loop
 * aborts the request (the server stops producing). `signal` aborts it too.
 */
export async function* ndjson<T>(path: string, init: RequestInit & { signal?: AbortSignal } = {}): AsyncGenerator<T> {
  const ctrl = new AbortController()
  const outer = init.signal
  const onAbort = (): void => ctrl.abort()
  outer?.addEventListener('abort', onAbort)
  try {
    const res = await request(path, { ...init, signal: ctrl.signal })
    if (res.body === null) return
    const reader = res.body.getReader()
    const dec = new TextDecoder()
    let buf = ''
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buf += dec.decode(value, { stream: true })
        let nl = buf.indexOf('\n')
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim()
          buf = buf.slice(nl + 1)
          if (line !== '') yield JSON.parse(line) as T
          nl = buf.indexOf('\n')
        }
      }
      const last = (buf + dec.decode()).trim()
      if (last !== '') yield JSON.parse(last) as T
    } finally {
      ctrl.abort()
      reader.releaseLock()
    }
  } finally {
    outer?.removeEventListener('abort', onAbort)
  }
}

/** Collects up to `max` objects of a stream. */
export async function collect<T>(path: string, max = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<T[]> {
  const out: T[] = []
  if (max <= 0) return out
  for await (const x of ndjson<T>(path, signal !== undefined ? { signal } : {})) {
    out.push(x)
    if (out.length >= max) break
  }
  return out
}

/** Counts the lines of an NDJSON stream without parsing them, stopping at `max`. */
export async function countLines(path: string, max: number, signal?: AbortSignal): Promise<number> {
  const ctrl = new AbortController()
  const onAbort = (): void => ctrl.abort()
  signal?.addEventListener('abort', onAbort)
  try {
    const res = await request(path, { signal: ctrl.signal })
    if (res.body === null) return 0
    const reader = res.body.getReader()
    let n = 0
    try {
      while (n < max) {
        const { done, value } = await reader.read()
        if (done) break
        for (const b of value) if (b === 10) n++
      }
    } finally {
      ctrl.abort()
      reader.releaseLock()
    }
    return Math.min(n, max)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Whether the API wants credentials: GET /id without any. true = 401.
 * @throws ApiError when the peer cannot be reached
 */
export async function authRequired(): Promise<boolean> {
  const res = await fetch('/id', { credentials: 'omit' }).catch((err: unknown) => {
    throw new ApiError(0, `cannot reach the peer: ${(err as Error).message}`)
  })
  return res.status === 401
}

/**
 * Logs in: with `useToken`, asks `POST /token` for a JWT with the Basic
 * credentials and keeps `Bearer <jwt>`; otherwise keeps the Basic header.
 * Either is checked with `GET /id` before being kept.
 * @throws ApiError 401 on wrong credentials
 */
export async function login(user: string, password: string, useToken: boolean): Promise<void> {
  let header = basic(user, password)
  if (useToken) {
    const res = await fetch('/token', { method: 'POST', headers: { Authorization: header }, credentials: 'omit' })
    if (!res.ok) throw await errorOf(res)
    const { token } = (await res.json()) as { token: string }
    header = `Bearer ${token}`
  }
  const res = await fetch('/id', { headers: { Authorization: header }, credentials: 'omit' })
  if (!res.ok) throw await errorOf(res)
  authorization = header
  sessionStorage.setItem(STORAGE_KEY, header)
}

/** Human bytes: 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

/** "12 s ago" for a time in ms since the epoch. */
export function ago(ms: number): string {
  const s = Math.round((Date.now() - ms) / 1000)
  if (s < 0) return `in ${-s} s`
  if (s < 120) return `${s} s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}

/** received_at/expire of metrics are Unix nanoseconds. */
export function nsToMs(ns: number): number {
  return ns / 1e6
}

/** Shortens a CID or peer ID for tables: "Qmabc…wxyz". */
export function short(s: string, keep = 6): string {
  return s.length <= keep * 2 + 1 ? s : `${s.slice(0, keep)}…${s.slice(-keep)}`
}
