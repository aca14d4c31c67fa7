/**
 * The prebuilt `classic-level` addons, embedded in the compiled binary by
 * `bun build --compile` (a Bun `type: 'file'` import of each `.node` file),
 * so the leveldb datastore works without `node_modules` on disk. Loaded only
 * when running as a compiled binary (see level-addon.ts). ~2.6 MB in all.
 */
import darwin from '../../node_modules/classic-level/prebuilds/darwin-x64+arm64/classic-level.node' with { type: 'file' }
import linuxArm64 from '../../node_modules/classic-level/prebuilds/linux-arm64/classic-level.armv8.node' with { type: 'file' }
import linuxX64Musl from '../../node_modules/classic-level/prebuilds/linux-x64/classic-level.musl.node' with { type: 'file' }
import linuxX64 from '../../node_modules/classic-level/prebuilds/linux-x64/classic-level.node' with { type: 'file' }
import win32X64 from '../../node_modules/classic-level/prebuilds/win32-x64/classic-level.node' with { type: 'file' }

/** The embedded addon path for this platform, or undefined when none was embedded. */
export function embeddedClassicLevelAddon(platform: string, arch: string, musl: boolean): string | undefined {
  if (platform === 'darwin' && (arch === 'x64' || arch === 'arm64')) return darwin
  if (platform === 'linux' && arch === 'x64') return musl ? linuxX64Musl : linuxX64
  if (platform === 'linux' && arch === 'arm64') return linuxArm64
  if (platform === 'win32' && arch === 'x64') return win32X64
  return undefined
}
