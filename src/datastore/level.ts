/**
 * LevelDB datastore (`datastore-level` over `classic-level`), the
 * alternative backend (upstream `datastore/leveldb`).
 *
 * `classic-level` loads its native addon through `node-gyp-build`, which
 * looks for the prebuilt `.node` file in `node_modules` on disk. In a
 * compiled binary the addons are embedded (src/runtime/level-addon.ts) and
 * `node-gyp-build` falls back to the embedded one when it finds none on
 * disk. Where that is impossible (a platform without an embedded addon),
 * `openLevelDatastore` throws `UnsupportedError` with a clear message.
 * A write on a full disk throws `DiskFullError`.
 */
import type { LevelDatastore } from 'datastore-level'
import { UnsupportedError } from '../errors.ts'
import { writeError } from './sqlite.ts'
import { useEmbeddedLevelAddon } from '../runtime/level-addon.ts'

export type { LevelDatastore }

function unavailable(err: unknown): UnsupportedError {
  const e = err as Error & { cause?: Error }
  const msg = (e.cause?.message ?? e.message ?? String(err)).trim()
  return new UnsupportedError(`the leveldb datastore is not available in this binary: ${msg}; use sqlite`)
}

/**
 * Opens (creating if needed) a LevelDB datastore in `folder`.
 * @throws UnsupportedError when the native LevelDB module cannot be loaded
 * (e.g. a compiled binary for a platform without an embedded addon).
 */
export async function openLevelDatastore(folder: string): Promise<LevelDatastore> {
  let mod: typeof import('datastore-level')
  try {
    await useEmbeddedLevelAddon()
    mod = await import('datastore-level')
  } catch (err) {
    throw unavailable(err)
  }
  let ds: LevelDatastore
  try {
    ds = new mod.LevelDatastore(folder)
  } catch (err) {
    throw unavailable(err)
  }
  // a full disk becomes DiskFullError, as with sqlite (LevelDB's batch is atomic too)
  const put = ds.put.bind(ds)
  const del = ds.delete.bind(ds)
  const batch = ds.batch.bind(ds)
  ds.put = async (key, value, options) => await put(key, value, options).catch((err: unknown) => Promise.reject(writeError(err)))
  ds.delete = async (key, options) => await del(key, options).catch((err: unknown) => Promise.reject(writeError(err)))
  ds.batch = () => {
    const b = batch()
    const commit = b.commit.bind(b)
    b.commit = async (options) => await Promise.resolve(commit(options)).catch((err: unknown) => Promise.reject(writeError(err)))
    return b
  }
  try {
    await ds.open()
  } catch (err) {
    const e = err as Error & { cause?: Error }
    if (/native build|\.node|dlopen|binding/i.test(`${e.message} ${e.cause?.message ?? ''}`)) throw unavailable(err)
    throw err
  }
  return ds
}
