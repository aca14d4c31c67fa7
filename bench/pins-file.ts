/**
 * The generated pinset the import and scale benches load with `state
 * import`: `n` NDJSON pins of raw CIDs (sha256 of a random salt and the
 * index), replication 1, allocated to a peer outside the cluster (so no
 * tracker asks kubo for them), all with the same timestamp.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { generateIdentity } from '../src/config/identity.ts'

/** Writes `n` pins to `file` (replaced), one JSON pin per line as `state export` writes them. */
export async function writePins(file: string, n: number): Promise<void> {
  const other = (await generateIdentity()).id
  const ts = new Date().toISOString()
  const salt = randomBytes(8).toString('hex')
  const out = createWriteStream(file)
  for (let i = 0; i < n; i++) {
    const cid = CID.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(`${salt}-${i}`).digest()))
    const line = `${JSON.stringify({
      cid: cid.toString(),
      type: 'pin',
      allocations: [other],
      max_depth: -1,
      replication_factor_min: 1,
      replication_factor_max: 1,
      name: `pin-${i}`,
      mode: 'recursive',
      timestamp: ts
    })}\n`
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())))
}
