/**
 * msgpack encoding of `api.Metric` as upstream sends it on the
 * `monitor.metrics` topic (ugorji `MsgpackHandle{}` with the struct's
 * `codec` tags, `omitempty`): a map with keys
 * `n` name, `p` peer, `v` value, `e` expire (ns), `d` valid, `w` weight,
 * `o` partitionable, `t` received_at (ns); zero values are left out.
 *
 * The peer is its binary multihash (Go `peer.ID` marshals as binary);
 * ugorji's default msgpack writes such bytes and all strings with the
 * "raw" (str) family, so decoding reads every string as bytes and accepts
 * bin or str for each field. 64-bit times are written as int64.
 */
import { decode, encode } from '@msgpack/msgpack'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { peerIdBytes } from '../../allocator/util.ts'
import type { Metric, PeerId } from '../../types/index.ts'

const fromUtf8 = new TextDecoder()

function int64(n: number): number | bigint {
  const t = Math.trunc(n)
  return Number.isSafeInteger(t) ? t : BigInt(t)
}

/** Encodes a metric as upstream does (`codec` tags, omitempty). */
export function encodeMetric(m: Metric): Uint8Array {
  const o: Record<string, unknown> = {}
  if (m.name !== '') o.n = m.name
  if (m.peer !== '') o.p = peerIdBytes(m.peer)
  if (m.value !== '') o.v = m.value
  if (m.expire !== 0) o.e = int64(m.expire)
  if (m.valid) o.d = true
  if (m.weight !== 0) o.w = int64(m.weight)
  if (m.partitionable) o.o = true
  if (m.receivedAt !== 0) o.t = int64(m.receivedAt)
  return encode(o, { useBigInt64: true })
}

function text(v: unknown): string {
  if (v instanceof Uint8Array) return fromUtf8.decode(v)
  if (typeof v === 'string') return v
  return ''
}

function num(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  return 0
}

function peer(v: unknown): PeerId {
  if (typeof v === 'string') return v
  if (!(v instanceof Uint8Array) || v.length === 0) return ''
  try {
    return peerIdFromMultihash(Digest.decode(v)).toString()
  } catch {
    return fromUtf8.decode(v)
  }
}

/** The multicodec header of peers <= v0.13.3 (`\x09/msgpack\n`), which upstream still strips. */
const MULTICODEC_PREFIX = new Uint8Array([9, ...new TextEncoder().encode('/msgpack\n')])

function stripMulticodec(data: Uint8Array): Uint8Array {
  if (data.length < MULTICODEC_PREFIX.length) return data
  for (let i = 0; i < MULTICODEC_PREFIX.length; i++) if (data[i] !== MULTICODEC_PREFIX[i]) return data
  return data.subarray(MULTICODEC_PREFIX.length)
}

/**
 * Decodes a metric sent by upstream or by `encodeMetric`.
 * @throws Error when the data is not a msgpack map
 */
export function decodeMetric(data: Uint8Array): Metric {
  const o = decode(stripMulticodec(data), { useBigInt64: true, rawStrings: true })
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) {
    throw new Error('metric: not a msgpack map')
  }
  const r = o as Record<string, unknown>
  return {
    name: text(r.n),
    peer: peer(r.p),
    value: text(r.v),
    expire: num(r.e),
    valid: r.d === true,
    weight: num(r.w),
    partitionable: r.o === true,
    receivedAt: num(r.t)
  }
}

