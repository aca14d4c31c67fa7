/**
 * The native addon of `classic-level` (the leveldb datastore) in a Bun
 * compiled binary. `classic-level` loads it through `node-gyp-build`, which
 * looks for the prebuilt `.node` file in `node_modules` on disk; the binary
 * embeds the addons (level-addon-files.ts) and `useEmbeddedLevelAddon`
 * makes `node-gyp-build` fall back to the embedded one when it finds none.
 * Outside a compiled binary it does nothing.
 */
import { existsSync } from 'node:fs'

/** Whether this module runs from a `bun build --compile` executable (its modules live in Bun's virtual `$bunfs`). */
export function isCompiledBinary(): boolean {
  const u = import.meta.url
  return u.includes('/$bunfs/') || u.includes('~BUN')
}

let patched = false

/** In a compiled binary: make node-gyp-build fall back to the embedded addon for this platform. Idempotent. */
export async function useEmbeddedLevelAddon(): Promise<void> {
  if (patched || !isCompiledBinary()) return
  patched = true
  const { embeddedClassicLevelAddon } = await import('./level-addon-files.ts')
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
