/**
 * What `ctl add <paths|URLs>` uploads (upstream REST client `Add` with
 * `makeSerialFile` and boxo `files.NewSerialFileWithFilter` /
 * `files.NewWebFile`):
 * - a local file: one entry named by its base name;
 * - a directory: refused without `recursive`; else the directory and,
 *   depth-first in name order, its contents (`lstat`: symlinks are
 *   uploaded as symlinks, never followed); entries whose name starts with
 *   `.` are left out unless `hidden` (the named path itself always counts);
 * - an `http(s)://` URL: its body (a GET, streamed), named by the last
 *   segment of the URL path.
 * File contents are read lazily, in chunks, when the upload pulls them.
 */
import { lstat, readdir, readlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { InvalidArgumentError } from '../errors.ts'
import { fileChunks } from '../runtime/file.ts'
import type { UploadEntry } from './multipart.ts'

export interface UploadOptions {
  recursive: boolean
  hidden: boolean
  /** called with the number of bytes read from files/URLs so far. */
  onRead?: (bytes: number) => void
}

function isURL(p: string): boolean {
  return /^https?:\/\//i.test(p)
}

/** Go `path.Clean` + `filepath.ToSlash`, enough for naming. */
function cleanLocal(p: string): string {
  const s = p.replace(/\\/g, '/').replace(/\/+$/, '')
  return s === '' ? '/' : s
}

async function* counted(src: AsyncIterable<Uint8Array>, onRead: ((n: number) => void) | undefined, total: { n: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of src) {
    total.n += chunk.length
    onRead?.(total.n)
    yield chunk
  }
}

/**
 * Total bytes of the regular files `paths` would upload (URLs count 0),
 * for progress bars.
 */
export async function uploadSize(paths: string[], opts: Pick<UploadOptions, 'recursive' | 'hidden'>): Promise<number> {
  let total = 0
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p)
    if (st.isDirectory()) {
      if (!opts.recursive) return
      const names = (await readdir(p)).sort()
      for (const n of names) {
        if (!opts.hidden && n.startsWith('.')) continue
        await walk(join(p, n))
      }
    } else if (st.isFile()) total += st.size
  }
  for (const p of paths) if (!isURL(p)) await walk(cleanLocal(p))
  return total
}

/**
 * Checks the paths before uploading (upstream fails before sending
 * anything): each exists, and directories need `recursive`.
 * @throws InvalidArgumentError "<path> is a directory, but recursive option is not set"; the `lstat` error of a missing path.
 */
export async function checkUploadPaths(paths: string[], opts: Pick<UploadOptions, 'recursive'>): Promise<void> {
  for (const p of paths) {
    if (isURL(p)) continue
    const fpath = cleanLocal(p)
    const st = await lstat(fpath)
    if (st.isDirectory() && !opts.recursive) throw new InvalidArgumentError(`${fpath} is a directory, but recursive option is not set`)
  }
}

/**
 * The entries to upload for `paths`, in upload order.
 * @throws InvalidArgumentError for a directory without `recursive`; fs
 *   errors; an HTTP error fetching a URL.
 */
export async function* uploadEntries(paths: string[], opts: UploadOptions): AsyncGenerator<UploadEntry> {
  const total = { n: 0 }
  async function* walk(fsPath: string, name: string): AsyncGenerator<UploadEntry> {
    const st = await lstat(fsPath)
    if (st.isSymbolicLink()) {
      yield { kind: 'symlink', path: name, target: await readlink(fsPath) }
    } else if (st.isDirectory()) {
      yield { kind: 'dir', path: name }
      const names = (await readdir(fsPath)).sort()
      for (const n of names) {
        if (!opts.hidden && n.startsWith('.')) continue
        yield* walk(join(fsPath, n), `${name}/${n}`)
      }
    } else if (st.isFile()) {
      yield {
        kind: 'file',
        path: name,
        size: st.size,
        content: () => counted(fileChunks(fsPath), opts.onRead, total)
      }
    }
    // sockets, fifos, devices: skipped, as boxo's serial files do
  }
  for (const p of paths) {
    if (isURL(p)) {
      const u = new URL(p)
      const name = basename(u.pathname) || u.hostname
      yield {
        kind: 'file',
        path: name,
        content: () =>
          counted(
            (async function* (): AsyncGenerator<Uint8Array> {
              const res = await fetch(u)
              if (!res.ok || res.body === null) throw new Error(`GET ${p}: ${res.status} ${res.statusText}`)
              yield* res.body as unknown as AsyncIterable<Uint8Array>
            })(),
            opts.onRead,
            total
          )
      }
      continue
    }
    const fpath = cleanLocal(p)
    const st = await lstat(fpath)
    if (st.isDirectory() && !opts.recursive) throw new InvalidArgumentError(`${fpath} is a directory, but recursive option is not set`)
    yield* walk(fpath, basename(fpath) || fpath)
  }
}
