/**
 * A small tmpfs mounted for a test (needs root): a disk that really fills up.
 * `fill()` writes a filler file until the kernel answers ENOSPC; `free()`
 * deletes it. `unmount()` lazily unmounts (`umount -l`), also when files are
 * still open.
 */
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'

export interface Tmpfs {
  path: string
  /** Fills the file system (bounded: at most its size); returns the bytes written. */
  fill(): Promise<number>
  /** Removes the filler file. */
  free(): Promise<void>
  unmount(): Promise<void>
}

async function run(argv: string[]): Promise<void> {
  const proc = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`${argv.join(' ')} failed (${code}): ${err.trim()}`)
}

/** Mounts a tmpfs of `sizeBytes` on `path` (created). @throws Error when mount fails (not root). */
export async function mountTmpfs(path: string, sizeBytes: number): Promise<Tmpfs> {
  await mkdir(path, { recursive: true })
  await run(['mount', '-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', path])
  const filler = join(path, 'filler.bin')
  return {
    path,
    async fill(): Promise<number> {
      const fh = await open(filler, 'a')
      const chunk = new Uint8Array(64 * 1024).fill(0xaa)
      let written = 0
      try {
        // bounded: the file system cannot take more than its size
        for (let i = 0; i < Math.ceil(sizeBytes / 4096) + 16; i++) {
          const size = i < sizeBytes / chunk.length ? chunk.length : 4096
          try {
            await fh.write(chunk, 0, size)
            written += size
          } catch (err) {
            if ((err as { code?: string }).code === 'ENOSPC') {
              if (size === 4096) return written
              continue
            }
            throw err
          }
        }
        return written
      } finally {
        await fh.close()
      }
    },
    async free(): Promise<void> {
      await rm(filler, { force: true })
    },
    async unmount(): Promise<void> {
      await run(['umount', '-l', path]).catch(() => {})
    }
  }
}
