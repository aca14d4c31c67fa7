/**
 * msgpack encoding of `api.Metric` as upstream sends it on the
 * `monitor.metrics` topic: ugorji `MsgpackHandle{}` (the same handle as
 * its RPC) with the struct's `codec` tags and `omitempty` (keys `n` name,
 * `p` peer, `v` value, `e` expire (ns), `d` valid, `w` weight, `o`
 * partitionable, `t` received_at (ns)). The mapping is the RPC's
 * (`rpc/gotypes.ts` GO_METRIC) and so are the bytes (`rpc/msgpack.ts`:
 * old-spec str for strings and the binary peer ID, int64 times).
 */
import { fromGo, GO_METRIC, toGo } from '../../rpc/gotypes.ts'
import { goDecode, goEncode } from '../../rpc/msgpack.ts'
import type { Metric } from '../../types/index.ts'

/** Encodes a metric as upstream does (`codec` tags, omitempty). @throws InvalidArgumentError for a metric whose peer is not a peer ID */
export function encodeMetric(m: Metric): Uint8Array {
  return goEncode(toGo(GO_METRIC, m))
}

/** The multicodec header of peers <= v0.13.3 (`\x09/msgpack\n`), which upstream still strips. */
const MULTICODEC_PREFIX = new Uint8Array([9, ...new TextEncoder().encode('/msgpack\n')])

function stripMulticodec(data: Uint8Array): Uint8Array {
  if (data.length < MULTICODEC_PREFIX.length) return data
  for (let i = 0; i < MULTICODEC_PREFIX.length; i++) if (data[i] !== MULTICODEC_PREFIX[i]) return data
  return data.subarray(MULTICODEC_PREFIX.length)
}

/**
 * Decodes a metric sent by upstream or by `encodeMetric` (bin or str
 * values, the old multicodec header accepted).
 * @throws Error when the data is not a msgpack map or a field is malformed
 */
export function decodeMetric(data: Uint8Array): Metric {
  const o = goDecode(stripMulticodec(data))
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Uint8Array) {
    throw new Error('metric: not a msgpack map')
  }
  return fromGo<Metric>(GO_METRIC, o)
}
