/**
 * `cluster.lock`: keeps a second daemon off the same configuration folder
 * (upstream uses an fslock on the same file name).
 *
 * The lock file is created exclusively and holds the owner's pid. A lock
 * left by a process that no longer exists (killed with -9) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { ClusterError } from '../errors.ts'

/** Another live process holds `cluster.lock`. */
export class LockHeldError extends ClusterError {
  static override name = 'LockHeldError'
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the lock at `path`.
 * @returns a function releasing it.
 * @throws LockHeldError when a live process holds it.
 */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      let released = false
      return () => {
        if (released) return
        released = true
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true })
        } catch {
          // already gone
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let pid = Number.NaN
      try {
        pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
      } catch {
        continue
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new LockHeldError(
          `cannot acquire lock ${path}: it is held by another process (pid ${pid}). Is another ipfs-cluster-service daemon running on this folder?`
        )
      }
      rmSync(path, { force: true })
    }
  }
  throw new LockHeldError(`cannot acquire lock ${path}`)
}
