/**
 * The wire and disk encoding of Raft messages and log entries: msgpack
 * (@msgpack/msgpack) maps with short keys. `decodeMessage` checks every
 * field: anything malformed throws `RaftCodecError`, and the transport drops
 * the message (a peer cannot crash or confuse the core with bad input).
 * Ours: hashicorp/raft's wire format is not spoken (see docs in ./index.ts).
 */
import { decode, encode } from '@msgpack/msgpack'
import { ClusterError } from '../../errors.ts'
import type { LogEntry, RaftMessage, Snapshot } from './types.ts'

/** A Raft message or stored record that does not decode (named field). */
export class RaftCodecError extends ClusterError {
  static override name = 'RaftCodecError'
}

type Obj = Record<string, unknown>

function fail(what: string): never {
  throw new RaftCodecError(`raft codec: ${what}`)
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(`${what}: not a map`)
  return v as Obj
}

function nat(o: Obj, k: string, what: string): number {
  const v = o[k]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what}.${k}: not a non-negative integer`)
  return v
}

function str(o: Obj, k: string, what: string): string {
  const v = o[k]
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) fail(`${what}.${k}: not a peer ID string`)
  return v
}

function bool(o: Obj, k: string, what: string): boolean {
  const v = o[k]
  if (typeof v !== 'boolean') fail(`${what}.${k}: not a boolean`)
  return v
}

function bytes(o: Obj, k: string, what: string): Uint8Array {
  const v = o[k]
  if (!(v instanceof Uint8Array)) fail(`${what}.${k}: not bytes`)
  return v
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length > 1024) fail(`${what}: not a list of peer IDs`)
  return v.map((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > 256) fail(`${what}[${i}]: not a peer ID string`)
    return x
  })
}

/** An entry as a msgpack-ready map: `{i, t, k: 0 command | 1 config | 2 noop, d?, v?}`. */
export function entryToWire(e: LogEntry): Obj {
  const o: Obj = { i: e.index, t: e.term, k: e.kind === 'command' ? 0 : e.kind === 'config' ? 1 : 2 }
  if (e.data !== undefined) o.d = e.data
  if (e.voters !== undefined) o.v = e.voters
  return o
}

export function entryFromWire(v: unknown, what = 'entry'): LogEntry {
  const o = obj(v, what)
  const index = nat(o, 'i', what)
  const term = nat(o, 't', what)
  if (index < 1 || term < 1) fail(`${what}: index and term start at 1`)
  switch (o.k) {
    case 0:
      return { index, term, kind: 'command', data: bytes(o, 'd', what) }
    case 1:
      return { index, term, kind: 'config', voters: strings(o.v, `${what}.v`) }
    case 2:
      return { index, term, kind: 'noop' }
    default:
      return fail(`${what}.k: unknown entry kind`)
  }
}

export function encodeEntry(e: LogEntry): Uint8Array {
  return encode(entryToWire(e))
}

export function decodeEntry(b: Uint8Array): LogEntry {
  return entryFromWire(safeDecode(b))
}

export function snapshotToWire(s: Snapshot): Obj {
  return { i: s.meta.index, t: s.meta.term, v: s.meta.voters, d: s.data }
}

export function snapshotFromWire(v: unknown, what = 'snapshot'): Snapshot {
  const o = obj(v, what)
  return { meta: { index: nat(o, 'i', what), term: nat(o, 't', what), voters: strings(o.v, `${what}.v`) }, data: bytes(o, 'd', what) }
}

const TYPES = ['prevote', 'prevote_resp', 'vote', 'vote_resp', 'append', 'append_resp', 'snapshot', 'timeout_now'] as const

/** Encodes a message: `{y: <type number>, f: from, o: to, t: term, k?: cluster, ...fields}`. */
export function encodeMessage(m: RaftMessage): Uint8Array {
  const base: Obj = { y: TYPES.indexOf(m.type), f: m.from, o: m.to, t: m.term }
  if (m.cluster !== undefined) base.k = m.cluster
  switch (m.type) {
    case 'prevote':
    case 'vote':
      base.li = m.lastIndex
      base.lt = m.lastTerm
      if (m.type === 'vote' && m.transfer === true) base.x = true
      break
    case 'prevote_resp':
    case 'vote_resp':
      base.g = m.granted
      break
    case 'append':
      base.pi = m.prevIndex
      base.pt = m.prevTerm
      base.c = m.commit
      base.e = m.entries.map(entryToWire)
      break
    case 'append_resp':
      base.s = m.success
      base.mi = m.matchIndex
      base.ri = m.rejectIndex
      base.h = m.hint
      break
    case 'snapshot':
      base.sn = snapshotToWire(m.snapshot)
      break
    case 'timeout_now':
      break
  }
  return encode(base)
}

function safeDecode(b: Uint8Array): unknown {
  try {
    return decode(b)
  } catch (err) {
    return fail(`not msgpack (${(err as Error).message})`)
  }
}

/** Decodes and checks a message. @throws RaftCodecError naming the bad field. */
export function decodeMessage(b: Uint8Array): RaftMessage {
  const o = obj(safeDecode(b), 'message')
  const type = TYPES[typeof o.y === 'number' ? o.y : -1]
  if (type === undefined) fail('message.y: unknown message type')
  const env: { from: string; to: string; term: number; cluster?: string } = { from: str(o, 'f', type), to: str(o, 'o', type), term: nat(o, 't', type) }
  if (o.k !== undefined) env.cluster = str(o, 'k', type)
  switch (type) {
    case 'prevote':
      return { type, ...env, lastIndex: nat(o, 'li', type), lastTerm: nat(o, 'lt', type) }
    case 'vote':
      return { type, ...env, lastIndex: nat(o, 'li', type), lastTerm: nat(o, 'lt', type), ...(o.x === true ? { transfer: true } : {}) }
    case 'prevote_resp':
    case 'vote_resp':
      return { type, ...env, granted: bool(o, 'g', type) }
    case 'append': {
      const prevIndex = nat(o, 'pi', type)
      if (!Array.isArray(o.e)) fail('append.e: not a list')
      const entries = o.e.map((e, i) => entryFromWire(e, `append.e[${i}]`))
      entries.forEach((e, i) => {
        if (e.index !== prevIndex + 1 + i) fail(`append.e[${i}]: index ${e.index} out of sequence`)
      })
      return { type, ...env, prevIndex, prevTerm: nat(o, 'pt', type), commit: nat(o, 'c', type), entries }
    }
    case 'append_resp':
      return { type, ...env, success: bool(o, 's', type), matchIndex: nat(o, 'mi', type), rejectIndex: nat(o, 'ri', type), hint: nat(o, 'h', type) }
    case 'snapshot':
      return { type, ...env, snapshot: snapshotFromWire(o.sn, 'snapshot.sn') }
    case 'timeout_now':
      return { type, ...env }
  }
}
