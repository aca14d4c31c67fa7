/**
 * LevelDB datastore (`datastore-level` over `classic-level`), the
 * alternative backend (upstream `datastore/leveldb`).
 *
 * `classic-level` loads a native addon through `node-gyp-build`, which finds
 * the prebuilt `.node` file only while `node_modules` is on disk. In a
 * compiled binary moved elsewhere loading fails; `openLevelDatastore` then
 * throws `UnsupportedError` with a clear message instead of a stack trace.
 */
import type { LevelDatastore } from 'datastore-level'
import { UnsupportedError } from '../errors.ts'

export type { LevelDatastore }

/**
 * Opens (creating if needed) a LevelDB datastore in `folder`.
 * @throws UnsupportedError when the native LevelDB module cannot be loaded
 * (e.g. in a compiled binary without node_modules).
 */
export async function openLevelDatastore(folder: string): Promise<LevelDatastore> {
  let mod: typeof import('datastore-level')
  try {
    mod = await import('datastore-level')
  } catch (err) {
    throw new UnsupportedError(`the leveldb datastore is not available in this binary: ${(err as Error).message}; use sqlite`)
  }
  let ds: LevelDatastore
  try {
    ds = new mod.LevelDatastore(folder)
  } catch (err) {
    throw new UnsupportedError(`the leveldb datastore is not available in this binary: ${(err as Error).message}; use sqlite`)
  }
  try {
    await ds.open()
  } catch (err) {
    const msg = (err as Error).message ?? String(err)
    const cause = (err as { cause?: Error }).cause?.message ?? ''
    if (/native build|\.node|dlopen|binding/i.test(msg + cause)) {
      throw new UnsupportedError(`the leveldb datastore is not available in this binary: ${cause || msg}; use sqlite`)
    }
    throw err
  }
  return ds
}
