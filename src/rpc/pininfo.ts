/**
 * `api.PinInfo` on gorpc without the generic struct mapping: the hot item
 * of `PinTracker.StatusAll` / `RecoverAll` streams (one per pin and peer
 * in a global status).
 *
 * - `encodePinInfo` writes the msgpack bytes of `toGo(GO_PININFO, pi)`
 *   encoded by `goEncode`, byte for byte (same keys, order, omitempty and
 *   ugorji old-spec headers), straight into one buffer;
 * - `pinInfoFromGo` reads the decoded msgpack map as `fromGo(GO_PININFO, m)`
 *   does (zero values for what is missing; on a malformed field it defers
 *   to `fromGo`, which names the field in its error).
 *
 * In a three-peer global status the generic path (`getPath`/`setPath` per
 * field, an intermediate map, a multiaddr parse per address) was the
 * largest part of the peers' CPU after the state listing. Multiaddr
 * conversions are memoized both ways (a peer's IPFS addresses repeat in
 * every item).
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../errors.ts'
import type { PinInfo, TrackerStatus } from '../types/index.ts'
import { ensureCapacity } from '../types/growable.ts'
import { cidFromGo, fromGo, GO_PININFO, peerFromGo, peerToGo, timeFromGo, timeToGo, trackerStatusFromGo, trackerStatusToGo } from './gotypes.ts'
import { GoInt } from './msgpack.ts'

const MEMO_MAX = 1024
const maBytesByString = new Map<string, Uint8Array | null>()
const maStringByBytes = new Map<string, string | null>()

/** A multiaddr's bytes; null when it does not parse (memoized). */
export function multiaddrBytesMemo(s: string): Uint8Array | null {
  let b = maBytesByString.get(s)
  if (b !== undefined) return b
  try {
    b = multiaddr(s).bytes
  } catch {
    b = null
  }
  if (maBytesByString.size >= MEMO_MAX) maBytesByString.clear()
  maBytesByString.set(s, b)
  return b
}

function latin1(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[])
}

/** A multiaddr's text from its bytes; null when they do not parse (memoized). */
export function multiaddrStringMemo(b: Uint8Array): string | null {
  const k = latin1(b)
  let s = maStringByBytes.get(k)
  if (s !== undefined) return s
  try {
    s = multiaddr(b).toString()
  } catch {
    s = null
  }
  if (maStringByBytes.size >= MEMO_MAX) maStringByBytes.clear()
  maStringByBytes.set(k, s)
  return s
}

// ---------- encoding ----------

const utf8 = new TextEncoder()

/** A growable output buffer with msgpack writers in ugorji's old spec (see msgpack.ts). */
class Out {
  buf = new Uint8Array(512)
  view = new DataView(this.buf.buffer)
  pos = 0

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    this.buf = ensureCapacity(this.buf, this.pos, n)
    this.view = new DataView(this.buf.buffer)
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  strHeader(n: number): void {
    this.ensure(5)
    if (n < 32) this.buf[this.pos++] = 0xa0 + n
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xda
      this.view.setUint16(this.pos, n)
      this.pos += 2
    } else {
      this.buf[this.pos++] = 0xdb
      this.view.setUint32(this.pos, n)
      this.pos += 4
    }
  }

  /** A short ASCII key (the struct's tags). */
  key(k: string): void {
    this.ensure(1 + k.length)
    this.buf[this.pos++] = 0xa0 + k.length
    for (let i = 0; i < k.length; i++) this.buf[this.pos++] = k.charCodeAt(i)
  }

  str(s: string): void {
    let ascii = s.length < 256
    if (ascii) {
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false
          break
        }
      }
    }
    if (!ascii) {
      this.bytes(utf8.encode(s))
      return
    }
    this.strHeader(s.length)
    this.ensure(s.length)
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
  }

  bytes(b: Uint8Array): void {
    this.strHeader(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  arrayHeader(n: number): void {
    this.ensure(5)
    if (n < 16) this.buf[this.pos++] = 0x90 + n
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xdc
      this.view.setUint16(this.pos, n)
      this.pos += 2
    } else {
      this.buf[this.pos++] = 0xdd
      this.view.setUint32(this.pos, n)
      this.pos += 4
    }
  }

  mapHeader(n: number): void {
    this.ensure(5)
    if (n < 16) this.buf[this.pos++] = 0x80 + n
    else if (n < 0x10000) {
      this.buf[this.pos++] = 0xde
      this.view.setUint16(this.pos, n)
      this.pos += 2
    } else {
      this.buf[this.pos++] = 0xdf
      this.view.setUint32(this.pos, n)
      this.pos += 4
    }
  }

  /** A Go signed integer (`GoInt`: int16/32/64 above 127, @msgpack/msgpack's forms below). */
  goInt(i: number): void {
    this.ensure(9)
    const b = this.buf
    if (i >= 0) {
      if (i < 128) b[this.pos++] = i
      else if (i <= 0x7fff) {
        b[this.pos++] = 0xd1
        this.view.setInt16(this.pos, i)
        this.pos += 2
      } else if (i <= 0x7fffffff) {
        b[this.pos++] = 0xd2
        this.view.setInt32(this.pos, i)
        this.pos += 4
      } else {
        b[this.pos++] = 0xd3
        this.view.setBigInt64(this.pos, BigInt(i))
        this.pos += 8
      }
    } else if (i >= -0x20) b[this.pos++] = 0x100 + i
    else if (i >= -0x80) {
      b[this.pos++] = 0xd0
      this.view.setInt8(this.pos, i)
      this.pos += 1
    } else if (i >= -0x8000) {
      b[this.pos++] = 0xd1
      this.view.setInt16(this.pos, i)
      this.pos += 2
    } else if (i >= -0x80000000) {
      b[this.pos++] = 0xd2
      this.view.setInt32(this.pos, i)
      this.pos += 4
    } else {
      b[this.pos++] = 0xd3
      this.view.setBigInt64(this.pos, BigInt(i))
      this.pos += 8
    }
  }

  /** `timeToGo(d)` as a str value, written in place (no temporary array nor DataView: `.buffer` of a fresh array is costly in JSC). */
  time(d: Date): void {
    const ms = d.getTime()
    const sec = Math.floor(ms / 1000)
    const nsec = (ms - sec * 1000) * 1_000_000
    if (!(sec >= 0 && sec < 2 ** 34)) {
      this.bytes(timeToGo(d))
      return
    }
    this.ensure(9)
    const b = this.buf
    if (nsec === 0 && sec < 2 ** 32) {
      b[this.pos++] = 0xa4
      this.u32(sec)
      return
    }
    b[this.pos++] = 0xa8
    this.u32(nsec * 4 + Math.floor(sec / 2 ** 32))
    this.u32(sec >>> 0)
  }

  private u32(v: number): void {
    const b = this.buf
    b[this.pos++] = (v >>> 24) & 0xff
    b[this.pos++] = (v >>> 16) & 0xff
    b[this.pos++] = (v >>> 8) & 0xff
    b[this.pos++] = v & 0xff
  }

  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos)
    this.pos = 0
    return out
  }
}

const out = new Out()

function isZeroTime(d: Date | null | undefined): boolean {
  return d === null || d === undefined || !(d instanceof Date) || d.getTime() === 0
}

function peerList(ps: readonly string[]): void {
  out.arrayHeader(ps.length)
  for (const p of ps) out.bytes(peerToGo(p))
}

function addrList(as: readonly string[]): void {
  let n = 0
  for (const a of as) if (multiaddrBytesMemo(String(a)) !== null) n++
  out.arrayHeader(n)
  for (const a of as) {
    const b = multiaddrBytesMemo(String(a))
    if (b !== null) out.bytes(b)
  }
}

/** Go's int value of a number as `GoInt` takes it. */
function goIntOf(v: unknown): number {
  return new GoInt(typeof v === 'number' ? v : 0).value
}

/**
 * The msgpack bytes of `goEncode(toGo(GO_PININFO, pi))`.
 * @throws InvalidArgumentError for a peer ID that is not one
 */
export function encodePinInfo(pi: PinInfo): Uint8Array {
  const s = pi.pinInfo
  const name = typeof pi.name === 'string' ? pi.name : ''
  const peer = typeof pi.peer === 'string' ? pi.peer : ''
  const meta = pi.metadata ?? {}
  const metaKeys = Object.keys(meta)
  const peerName = typeof s.peerName === 'string' ? s.peerName : ''
  const ipfsId = typeof s.ipfsPeerId === 'string' ? s.ipfsPeerId : ''
  const error = typeof s.error === 'string' ? s.error : ''
  const attempts = goIntOf(s.attemptCount)
  const has = {
    m: name !== '',
    p: peer !== '',
    o: (pi.allocations?.length ?? 0) > 0,
    g: (pi.origins?.length ?? 0) > 0,
    t: !isZeroTime(pi.created),
    md: metaKeys.length > 0,
    pn: peerName !== '',
    i: ipfsId !== '',
    ia: (s.ipfsPeerAddresses?.length ?? 0) > 0,
    st: s.status !== 'undefined' && (s.status as unknown) !== undefined,
    ts: !isZeroTime(s.timestamp),
    e: error !== '',
    a: s.attemptCount !== 0 && (s.attemptCount as unknown) !== undefined,
    y: s.priorityPin === true
  }
  let n = 1
  for (const k in has) if (has[k as keyof typeof has]) n++
  out.pos = 0
  out.mapHeader(n)
  out.key('c')
  const cid = pi.cid as CID | null
  if (cid === null || cid === undefined) out.u8(0xc0)
  else out.bytes(cid.bytes)
  if (has.m) {
    out.key('m')
    out.str(name)
  }
  if (has.p) {
    out.key('p')
    out.bytes(peerToGo(peer))
  }
  if (has.o) {
    out.key('o')
    peerList(pi.allocations)
  }
  if (has.g) {
    out.key('g')
    addrList(pi.origins)
  }
  if (has.t) {
    out.key('t')
    out.time(pi.created)
  }
  if (has.md) {
    out.key('md')
    out.mapHeader(metaKeys.length)
    for (const k of metaKeys) {
      out.str(k)
      const v = meta[k]
      out.str(typeof v === 'string' ? v : '')
    }
  }
  if (has.pn) {
    out.key('pn')
    out.str(peerName)
  }
  if (has.i) {
    out.key('i')
    out.bytes(peerToGo(ipfsId))
  }
  if (has.ia) {
    out.key('ia')
    addrList(s.ipfsPeerAddresses)
  }
  if (has.st) {
    out.key('st')
    out.goInt(trackerStatusToGo(s.status))
  }
  if (has.ts) {
    out.key('ts')
    out.time(s.timestamp)
  }
  if (has.e) {
    out.key('e')
    out.str(error)
  }
  if (has.a) {
    out.key('a')
    out.goInt(attempts)
  }
  if (has.y) {
    out.key('y')
    out.u8(0xc3)
  }
  return out.take()
}

// ---------- decoding ----------

const fromUtf8 = new TextDecoder()

class Malformed extends Error {}

function text(v: unknown): string {
  if (v instanceof Uint8Array) return v.length === 0 ? '' : fromUtf8.decode(v)
  if (typeof v === 'string') return v
  return ''
}

function num(v: unknown): number {
  if (typeof v === 'number') return v
  if (v instanceof GoInt) return v.value
  if (typeof v === 'bigint') return Number(v)
  return 0
}

function peers(v: unknown): string[] {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v)) throw new Malformed()
  const outp = new Array<string>(v.length)
  for (let i = 0; i < v.length; i++) outp[i] = peerFromGo(v[i])
  return outp
}

function addrs(v: unknown): string[] {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v)) throw new Malformed()
  const outa: string[] = []
  for (const x of v) {
    if (typeof x === 'string') outa.push(x)
    else if (x instanceof Uint8Array) {
      const s = multiaddrStringMemo(x)
      if (s !== null) outa.push(s)
    }
    // anything else is an invalid address, skipped as fromGo does
  }
  return outa
}

function metadata(v: unknown): Record<string, string> {
  const outm: Record<string, string> = {}
  if (v === null || v === undefined) return outm
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new Malformed()
  for (const [k, x] of v instanceof Map ? v.entries() : Object.entries(v)) outm[text(k)] = text(x)
  return outm
}

function u32at(v: Uint8Array, i: number): number {
  return ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0
}

/** `timeFromGo(v) ?? new Date(0)`, reading 4- and 8-byte payloads without a DataView (`.buffer` of a view is costly in JSC). */
function time(v: unknown): Date {
  if (v instanceof Uint8Array && v.length === 4) return new Date(u32at(v, 0) * 1000)
  if (v instanceof Uint8Array && v.length === 8) {
    const hi = u32at(v, 0)
    const sec = (hi & 3) * 2 ** 32 + u32at(v, 4)
    return new Date(sec * 1000 + Math.floor(Math.floor(hi / 4) / 1_000_000))
  }
  return timeFromGo(v) ?? new Date(0)
}

/**
 * Our PinInfo from its decoded msgpack map, as `fromGo(GO_PININFO, m)`.
 * @throws InvalidArgumentError naming the field when a value is malformed
 */
export function pinInfoFromGo(m: unknown): PinInfo {
  if (m === null || typeof m !== 'object' || Array.isArray(m) || m instanceof Uint8Array || m instanceof Map) return fromGo<PinInfo>(GO_PININFO, m)
  const r = m as Record<string, unknown>
  try {
    return {
      cid: cidFromGo(r.c) as CID,
      name: text(r.m),
      peer: peerFromGo(r.p),
      allocations: peers(r.o),
      origins: addrs(r.g),
      created: time(r.t),
      metadata: metadata(r.md),
      pinInfo: {
        peerName: text(r.pn),
        ipfsPeerId: peerFromGo(r.i),
        ipfsPeerAddresses: addrs(r.ia),
        status: trackerStatusFromGo(num(r.st)) as TrackerStatus,
        timestamp: time(r.ts),
        error: text(r.e),
        attemptCount: num(r.a),
        priorityPin: r.y === true
      }
    }
  } catch (err) {
    if (err instanceof Malformed || err instanceof InvalidArgumentError) return fromGo<PinInfo>(GO_PININFO, m)
    throw err
  }
}
