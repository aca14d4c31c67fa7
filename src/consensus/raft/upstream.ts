/**
 * Reads an upstream peer's Raft data folder (`<config>/raft`, hashicorp/raft
 * v1.7.3 `FileSnapshotStore` layout as upstream ipfs-cluster v1.1.6 writes
 * it): `snapshots/<term>-<index>-<ms>/meta.json` and `state.bin`. The latest
 * snapshot (highest term, then index, then ID; `.tmp` folders skipped, as
 * hashicorp's `List`) holds the pinset as upstream `dsstate.Marshal` dumps
 * it: a stream of msgpack maps `{k: <state key without "/">, v: <protobuf
 * Pin>}`, strings in msgpack's old raw form. `state.bin` is checked against
 * the CRC-64/ECMA of `meta.json`. Log entries after the snapshot (in
 * BoltDB `raft.db`) are not read, as upstream's own `state export` (#302).
 * Used by `state export` to migrate an upstream Raft cluster's pinset.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Decoder } from '@msgpack/msgpack'
import { pinFromProtobuf } from '../../state/codec.ts'
import { keyStringToCid } from '../../state/keys.ts'
import type { PeerId, Pin } from '../../types/index.ts'
import { RaftCodecError } from './codec.ts'

/** What `meta.json` says of the snapshot (hashicorp `SnapshotMeta`). */
export interface UpstreamSnapshotMeta {
  id: string
  index: number
  term: number
  /** the voters of its configuration */
  voters: PeerId[]
  size: number
  /** the folder holding meta.json and state.bin */
  path: string
}

const ECMA = 0xc96c5795d7870f42n // reversed polynomial of CRC-64/ECMA-182 (Go hash/crc64.ECMA)
let table: bigint[] | undefined

/** CRC-64/ECMA as Go's `crc64.Checksum(data, crc64.MakeTable(crc64.ECMA))`, 8 bytes big-endian. */
export function crc64Ecma(data: Uint8Array): Uint8Array {
  if (table === undefined) {
    table = []
    for (let i = 0n; i < 256n; i++) {
      let c = i
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ ECMA : c >> 1n
      table.push(c)
    }
  }
  const mask = 0xffffffffffffffffn
  let crc = mask
  for (const b of data) crc = table[Number((crc ^ BigInt(b)) & 0xffn)]! ^ (crc >> 8n)
  crc ^= mask
  const out = new Uint8Array(8)
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(crc & 0xffn)
    crc >>= 8n
  }
  return out
}

/** The latest readable snapshot of an upstream raft data folder, or undefined when there is none. */
export async function latestUpstreamSnapshot(dataFolder: string): Promise<UpstreamSnapshotMeta | undefined> {
  const dir = join(dataFolder, 'snapshots')
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return undefined
  }
  const metas: UpstreamSnapshotMeta[] = []
  for (const name of names) {
    if (name.endsWith('.tmp')) continue
    const path = join(dir, name)
    if (!(await stat(path)).isDirectory()) continue
    try {
      const m = JSON.parse(await readFile(join(path, 'meta.json'), 'utf8')) as {
        ID: string
        Index: number
        Term: number
        Size: number
        Configuration?: { Servers?: { Suffrage: number; ID: string }[] }
      }
      const voters = (m.Configuration?.Servers ?? []).filter((s) => s.Suffrage === 0).map((s) => s.ID)
      metas.push({ id: m.ID, index: m.Index, term: m.Term, size: m.Size, voters, path })
    } catch {
      // unreadable meta: skipped, as hashicorp does
    }
  }
  metas.sort((a, b) => b.term - a.term || b.index - a.index || (a.id < b.id ? 1 : -1))
  return metas[0]
}

/**
 * The pins of a snapshot. @throws RaftCodecError when state.bin does not
 * match its size or CRC, or an entry does not decode.
 */
export async function readUpstreamSnapshot(meta: UpstreamSnapshotMeta): Promise<Pin[]> {
  const data = new Uint8Array(await readFile(join(meta.path, 'state.bin')))
  if (data.length !== meta.size) throw new RaftCodecError(`upstream raft snapshot ${meta.id}: state.bin has ${data.length} bytes, meta.json says ${meta.size}`)
  const m = JSON.parse(await readFile(join(meta.path, 'meta.json'), 'utf8')) as { CRC?: string }
  if (m.CRC !== undefined && Buffer.from(crc64Ecma(data)).toString('base64') !== m.CRC) {
    throw new RaftCodecError(`upstream raft snapshot ${meta.id}: state.bin does not match its CRC`)
  }
  const pins: Pin[] = []
  const dec = new TextDecoder()
  for (const v of new Decoder({ rawStrings: true }).decodeMulti(data)) {
    const e = v as { k?: unknown; v?: unknown }
    if (!(e.k instanceof Uint8Array) || !(e.v instanceof Uint8Array)) throw new RaftCodecError(`upstream raft snapshot ${meta.id}: an entry is not {k, v}`)
    const cid = keyStringToCid(`/${dec.decode(e.k)}`)
    pins.push(pinFromProtobuf(e.v, cid))
  }
  return pins
}
