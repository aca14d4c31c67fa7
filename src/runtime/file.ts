/**
 * Reading a local file as a stream of chunks, for uploads (`ctl add`).
 *
 * Bun: `Bun.file(path).stream()`, which reads 512 KiB chunks natively and
 * lazily (as the consumer pulls). For 200 MiB it cost 0.06 to 0.08 s of
 * CPU against 0.12 s for `createReadStream` with 1 MiB chunks, and an
 * upload over `node:http` that throttles the sender cost 0.24 s against
 * 0.33 to 0.38 s (the figures in docs/add-throughput.md, session 4).
 * Other runtimes: `node:fs` `createReadStream`.
 */
import { createReadStream } from 'node:fs'

/** Read chunk size of `createReadStream` (bytes). */
const NODE_READ_CHUNK = 1024 * 1024

type BunFile = { stream(): ReadableStream<Uint8Array> }
type BunLike = { file(path: string): BunFile }

/**
 * The file's bytes, read lazily in chunks. Errors (a missing file: ENOENT)
 * come from the iteration.
 */
export function fileChunks(path: string): AsyncIterable<Uint8Array> {
  const bun = (globalThis as { Bun?: BunLike }).Bun
  if (bun !== undefined) return bun.file(path).stream() as unknown as AsyncIterable<Uint8Array>
  return createReadStream(path, { highWaterMark: NODE_READ_CHUNK }) as AsyncIterable<Uint8Array>
}
