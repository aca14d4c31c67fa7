/**
 * Opens the peer's datastore (upstream `cmd/ipfs-cluster-service` /
 * `datastore/*`): `sqlite` (default; file `<folder>/datastore.sqlite`),
 * `leveldb` (folder `<folder>`), or `memory`.
 */
import type { Datastore } from 'interface-datastore'
import { InvalidArgumentError } from '../errors.ts'
import { openLevelDatastore } from './level.ts'
import { MemoryDatastore } from './memory.ts'
import { SqliteDatastore } from './sqlite.ts'

export { openLevelDatastore } from './level.ts'
export { MemoryDatastore } from './memory.ts'
export { hasRawKeyValue, type RawKeyValue } from './raw.ts'
export { prefixUpperBound, SqliteDatastore, type SqliteDatastoreInit } from './sqlite.ts'

export type DatastoreBackend = 'sqlite' | 'leveldb' | 'memory'

export interface OpenDatastoreOptions {
  backend: DatastoreBackend
  /** the datastore folder (created if missing); ignored for `memory`. */
  folder: string
  /** sqlite only: `full` (default) or `normal`. */
  synchronous?: 'full' | 'normal'
}

export interface OpenedDatastore {
  datastore: Datastore
  backend: DatastoreBackend
  /** Closes the datastore (idempotent). */
  close(): Promise<void>
}

/** The sqlite database file inside a datastore folder. */
export const SQLITE_FILE = 'datastore.sqlite'

/**
 * Opens a datastore, creating its folder if needed.
 * @throws InvalidArgumentError on an unknown backend.
 * @throws UnsupportedError when `leveldb` cannot be loaded in this binary.
 */
export async function openDatastore(opts: OpenDatastoreOptions): Promise<OpenedDatastore> {
  switch (opts.backend) {
    case 'memory': {
      const datastore = new MemoryDatastore()
      return { datastore, backend: 'memory', close: async () => {} }
    }
    case 'sqlite': {
      const { mkdir } = await import('node:fs/promises')
      const { join } = await import('node:path')
      await mkdir(opts.folder, { recursive: true })
      const ds = new SqliteDatastore({ path: join(opts.folder, SQLITE_FILE), synchronous: opts.synchronous })
      await ds.open()
      return { datastore: ds, backend: 'sqlite', close: () => ds.close() }
    }
    case 'leveldb': {
      const { mkdir } = await import('node:fs/promises')
      await mkdir(opts.folder, { recursive: true })
      const ds = await openLevelDatastore(opts.folder)
      let closed = false
      return {
        datastore: ds,
        backend: 'leveldb',
        close: async () => {
          if (closed) return
          closed = true
          await ds.close()
        }
      }
    }
    default:
      throw new InvalidArgumentError(`unknown datastore backend: ${String((opts as { backend: unknown }).backend)}`)
  }
}
