/**
 * A tiny SQLite shim: `bun:sqlite` under Bun (and in the compiled binary),
 * `node:sqlite` under Deno. Exposes only what the datastore needs.
 *
 * Values bound and returned are `string | number | bigint | Uint8Array | null`;
 * BLOB columns come back as `Uint8Array`.
 */

export type SqliteValue = string | number | bigint | Uint8Array | null
export type SqliteRow = Record<string, SqliteValue>

export interface SqliteStatement {
  run(...params: SqliteValue[]): void
  get(...params: SqliteValue[]): SqliteRow | undefined
  all(...params: SqliteValue[]): SqliteRow[]
  iterate(...params: SqliteValue[]): IterableIterator<SqliteRow>
}

export interface SqliteDatabase {
  exec(sql: string): void
  prepare(sql: string): SqliteStatement
  /**
   * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`; rolls back and rethrows on
   * error. Not re-entrant.
   */
  transaction<T>(fn: () => T): T
  close(): void
}

interface NativeStatement {
  run(...params: unknown[]): unknown
  get(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
  iterate(...params: unknown[]): IterableIterator<unknown>
}

interface NativeDatabase {
  exec(sql: string): unknown
  prepare(sql: string): NativeStatement
  close(): unknown
}

/** Which SQLite binding this runtime provides. */
export function sqliteFlavour(): 'bun' | 'node' {
  return typeof Bun !== 'undefined' ? 'bun' : 'node'
}

/**
 * Opens (creating if needed) the SQLite database file at `path`
 * (`:memory:` for an in-memory database).
 * @throws Error when the file cannot be opened.
 */
export async function openSqlite(path: string): Promise<SqliteDatabase> {
  let db: NativeDatabase
  if (sqliteFlavour() === 'bun') {
    const mod = (await import('bun:sqlite')) as unknown as {
      Database: new (p: string, o?: { create?: boolean }) => NativeDatabase
    }
    db = new mod.Database(path, { create: true })
  } else {
    const spec = 'node:sqlite'
    const mod = (await import(spec)) as { DatabaseSync: new (p: string) => NativeDatabase }
    db = new mod.DatabaseSync(path)
  }
  return wrap(db)
}

function wrap(db: NativeDatabase): SqliteDatabase {
  let inTx = false
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  const rollback = db.prepare('ROLLBACK')
  return {
    exec(sql) {
      db.exec(sql)
    },
    prepare(sql) {
      const st = db.prepare(sql)
      return {
        run: (...p) => {
          st.run(...p)
        },
        get: (...p) => (st.get(...p) ?? undefined) as SqliteRow | undefined,
        all: (...p) => st.all(...p) as SqliteRow[],
        iterate: (...p) => st.iterate(...p) as IterableIterator<SqliteRow>
      }
    },
    transaction(fn) {
      if (inTx) throw new Error('nested sqlite transaction')
      inTx = true
      begin.run()
      try {
        const out = fn()
        commit.run()
        return out
      } catch (err) {
        try {
          rollback.run()
        } catch {
          // the transaction may already be gone
        }
        throw err
      } finally {
        inTx = false
      }
    },
    close() {
      db.close()
    }
  }
}
