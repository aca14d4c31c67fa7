/**
 * LevelDB datastore (`datastore-level` over `classic-level`), the
 * alternative backend (upstream `datastore/leveldb`).
 *
 * `classic-level` loads its native addon through `node-gyp-build`, which
 * looks for the prebuilt `.node` file in `node_modules` on disk. In a
 * compiled binary the addons are embedded (level-embed.ts) and
 * `node-gyp-build` falls back to the embedded one when it finds none on
 * disk. Where that is impossible (a platform without an embedded addon),
 * `openLevelDatastore` throws `UnsupportedError` with a clear message.
 */
import type { LevelDatastore } from 'datastore-level'
import { existsSync } from 'node:fs'
import { UnsupportedError } from '../errors.ts'

export type { LevelDatastore }

/** Whether this module runs from a `bun build --compile` executable. */
export function isCompiledBinary(): boolean {
  const u = import.meta.url
  return u.includes('/$bunfs/') || u.includes('~BUN')
}

let patched = false

/** In a compiled binary: make node-gyp-build fall back to the embedded addon. */
async function useEmbeddedAddon(): Promise<void> {
  if (patched || !isCompiledBinary()) return
  patched = true
  const { embeddedClassicLevelAddon } = await import('./level-embed.ts')
  const musl = process.platform === 'linux' && !existsSync('/lib64/ld-linux-x86-64.so.2') && existsSync('/lib/ld-musl-x86_64.so.1')
  const addon = embeddedClassicLevelAddon(process.platform, process.arch, musl)
  if (addon === undefined) return
  // @ts-expect-error node-gyp-build ships no types
  const mod = (await import('node-gyp-build')) as { default: { resolve: (dir?: string) => string; path: (dir?: string) => string } }
  const ngb = mod.default
  const orig = ngb.resolve
  const resolve = (dir?: string): string => {
    try {
      return orig(dir)
    } catch {
      return addon
    }
  }
  ngb.resolve = resolve
  ngb.path = resolve
}

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
    await useEmbeddedAddon()
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
  try {
    await ds.open()
  } catch (err) {
    const e = err as Error & { cause?: Error }
    if (/native build|\.node|dlopen|binding/i.test(`${e.message} ${e.cause?.message ?? ''}`)) throw unavailable(err)
    throw err
  }
  return ds
}
