/**
 * Builds the single executable with `bun build --compile`.
 *
 *   bun scripts/build.ts                 # dist/ipfs-cluster for this machine
 *   bun scripts/build.ts --all           # every release target, with .sha256 files
 *   bun scripts/build.ts --target linux-arm64 [--target ...]
 *
 * The version (package.json, or $IPFS_CLUSTER_VERSION) and the git commit are
 * injected with --define. Release artifacts are named
 * `ipfs-cluster-<os>-<arch>[.exe]`, each with `<file>.sha256`
 * ("<hex>  <file>", as sha256sum prints), which install.sh verifies.
 * The dashboard (src/ui/) is bundled first by scripts/build-ui.ts into
 * src/api/rest/ui-assets.gen.ts, which the binary embeds.
 * `--all` also copies install.sh and systemd/*.service into dist/: a
 * release is dist/ as a whole.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const ROOT = join(import.meta.dir, '..')
const DIST = join(ROOT, 'dist')
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'windows-x64'] as const

const args = process.argv.slice(2)
const all = args.includes('--all')
/**
 * Code splitting inside this machine's executable (the default; opt out
 * with `--no-splitting`): a module's `node:` built-ins (node:http,
 * node:tls, zlib, crypto…) and its libraries load when the module is first
 * imported instead of at start (in a single bundle every built-in any module
 * imports is loaded before `main` runs). `ctl version` against a daemon:
 * 39-41 ms unsplit, 25-31 ms split; the daemon's start to READY at 10k pins
 * and its idle RSS are the same either way (bench/vs-upstream.ts
 * `--only scale,version --scales 10000 --sides ours`, two runs each).
 * Cross-target builds are not split (nor bytecode-compiled): untested.
 * `--outfile PATH` writes the binary elsewhere.
 */
const splitting = !args.includes('--no-splitting')
const outIdx = args.indexOf('--outfile')
const outfile = outIdx >= 0 ? args[outIdx + 1] : undefined
const targets: string[] = []
for (let i = 0; i < args.length; i++) if (args[i] === '--target' && args[i + 1] !== undefined) targets.push(args[++i]!)

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
const version = process.env.IPFS_CLUSTER_VERSION ?? pkg.version
const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' })
const commit = git.status === 0 ? git.stdout.trim() : ''

mkdirSync(DIST, { recursive: true })

// the dashboard's assets are embedded in the binary (src/api/rest/ui-assets.gen.ts): refresh them first
const ui = spawnSync(process.execPath, [join(ROOT, 'scripts/build-ui.ts')], { cwd: ROOT, stdio: 'inherit' })
if (ui.status !== 0) throw new Error('building the dashboard (scripts/build-ui.ts) failed')

function build(target: string | undefined): string {
  const name = target === undefined ? 'ipfs-cluster' : `ipfs-cluster-${target}${target.startsWith('windows') ? '.exe' : ''}`
  const out = target === undefined && outfile !== undefined ? outfile : join(DIST, name)
  const cmd = [
    process.execPath,
    'build',
    '--compile',
    // bytecode: the binary starts without parsing its 1,100 bundled modules
    // (`ctl version` 0.19 s -> 0.07 s, and the daemon's start to READY).
    // Only for this machine's build so far: cross-target bytecode is untested.
    ...(target === undefined ? ['--bytecode', '--format=esm'] : []),
    ...(target === undefined && splitting ? ['--splitting'] : []),
    '--minify-syntax',
    '--sourcemap=none',
    `--define`,
    `IPFS_CLUSTER_VERSION=${JSON.stringify(version)}`,
    `--define`,
    `IPFS_CLUSTER_COMMIT=${JSON.stringify(commit)}`,
    ...(target !== undefined ? [`--target=bun-${target}`] : []),
    join(ROOT, 'src/main.ts'),
    '--outfile',
    out
  ]
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`bun build failed for ${target ?? 'this machine'}`)
  return out
}

function checksum(file: string): void {
  const h = createHash('sha256').update(readFileSync(file)).digest('hex')
  const base = file.split('/').pop()!
  writeFileSync(`${file}.sha256`, `${h}  ${base}\n`)
  process.stdout.write(`${base}  sha256 ${h}\n`)
}

if (all || targets.length > 0) {
  for (const t of all ? TARGETS : targets) {
    if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t}; known: ${TARGETS.join(', ')}`)
    checksum(build(t))
  }
  if (all) {
    // what install.sh fetches besides the binaries
    copyFileSync(join(ROOT, 'install.sh'), join(DIST, 'install.sh'))
    // install.sh --systemd fetches the units from the release root
    for (const f of readdirSync(join(ROOT, 'systemd'))) copyFileSync(join(ROOT, 'systemd', f), join(DIST, f))
    process.stdout.write('copied install.sh and the systemd units into dist/\n')
  }
} else {
  const out = build(undefined)
  process.stdout.write(`built ${out} (version ${version}${commit !== '' ? `, commit ${commit}` : ''})\n`)
}
