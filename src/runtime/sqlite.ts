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
   * error. Not re-entrant. Inside an outer transaction (`beginOuter`) it
   * runs as a savepoint of it instead: all or nothing within the outer one.
   */
  transaction<T>(fn: () => T): T
  /**
   * Starts a transaction that spans many calls, async steps between them
   * (`BEGIN IMMEDIATE`): every write until `endOuter` is one commit, or none.
   * The caller must be the connection's only writer meanwhile.
   * @throws Error when a transaction is already open.
   */
  beginOuter(): void
  /** Commits (`true`) or rolls back (`false`) the outer transaction; no-op when none is open (SQLite may have rolled it back itself, e.g. on a full disk). */
  endOuter(commit: boolean): void
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
  let outer = false
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  const rollback = db.prepare('ROLLBACK')
  const savepoint = db.prepare('SAVEPOINT inner_tx')
  const release = db.prepare('RELEASE inner_tx')
  const rollbackTo = db.prepare('ROLLBACK TO inner_tx')
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
      if (outer) {
        savepoint.run()
        try {
          const out = fn()
          release.run()
          return out
        } catch (err) {
          try {
            rollbackTo.run()
            release.run()
          } catch {
            // SQLite rolled the whole transaction back itself (the caller refuses later writes)
          }
          throw err
        } finally {
          inTx = false
        }
      }
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
    beginOuter() {
      if (outer || inTx) throw new Error('nested sqlite transaction')
      begin.run()
      outer = true
    },
    endOuter(ok) {
      if (!outer) return
      outer = false
      if (ok) {
        try {
          commit.run()
        } catch (err) {
          try {
            rollback.run()
          } catch {
            // already rolled back by SQLite
          }
          throw err
        }
        return
      }
      try {
        rollback.run()
      } catch {
        // already rolled back by SQLite
      }
    },
    close() {
      db.close()
    }
  }
}
