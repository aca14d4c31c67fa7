/**
 * `ipfs-cluster service` / `ipfs-cluster-service`: init a peer's config and
 * identity, run the peer daemon, export/import/cleanup its state.
 * Mirrors upstream cmd/ipfs-cluster-service (main.go, daemon.go, state.go).
 *
 * Global flags (before or after the command, as upstream's urfave/cli
 * accepts them before): -c/--config <folder>, -f/--force, -d/--debug,
 * -l/--loglevel <spec>.
 */
import { defineCommand, runCommand, renderUsage, type CommandDef } from 'citty'
import { VERSION } from '../../version.ts'
import { setLogLevels } from '../../observability/logging.ts'
import { fail, UsageError } from '../errors.ts'

export interface ServiceGlobals {
  config?: string
  force: boolean
  debug: boolean
  loglevel?: string
}

/** Global flags, filled before a subcommand runs. */
export const globals: ServiceGlobals = { force: false, debug: false }

const DESCRIPTION = `ipfs-cluster-service runs a cluster peer: a daemon that orchestrates the
pinset of a cluster of IPFS (kubo) daemons, allocating, replicating and
tracking pins. The peer is configured by service.json and identity.json in its
configuration folder (default ~/.ipfs-cluster, env IPFS_CLUSTER_PATH).

Quick start:
  $ ipfs-cluster-service init
  $ ipfs-cluster-service daemon

Use ipfs-cluster-ctl to talk to a running peer.`

const main = defineCommand({
  meta: { name: 'ipfs-cluster-service', version: VERSION, description: DESCRIPTION },
  args: {
    config: { type: 'string', alias: 'c', description: 'folder holding the configuration and the data (env IPFS_CLUSTER_PATH)', valueHint: 'folder' },
    force: { type: 'boolean', alias: 'f', description: 'do not ask before destructive steps such as replacing the configuration' },
    debug: { type: 'boolean', alias: 'd', description: 'log everything at debug level (very noisy)' },
    loglevel: { type: 'string', alias: 'l', description: 'set the log level: "info" or "info,cluster:debug,crdt:error" (env IPFS_CLUSTER_LOG_LEVEL)', valueHint: 'level' }
  },
  setup({ args }) {
    if (typeof args.config === 'string') globals.config = args.config
    if (args.force === true) globals.force = true
    if (args.debug === true) globals.debug = true
    if (typeof args.loglevel === 'string') globals.loglevel = args.loglevel
    const level = globals.loglevel ?? process.env.IPFS_CLUSTER_LOG_LEVEL
    if (globals.debug) setLogLevels('debug')
    else if (level !== undefined && level !== '') setLogLevels(level)
  },
  subCommands: {
    init: () => import('./init.ts').then((m) => m.default),
    daemon: () => import('./daemon.ts').then((m) => m.default),
    state: () => import('./state.ts').then((m) => m.default),
    version: defineCommand({
      meta: { name: 'version', description: 'Print the version of this program' },
      run() {
        process.stdout.write(`${VERSION}\n`)
      }
    })
  }
})

/** Runs the service program with its arguments (argv without the program name). */
export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`ipfs-cluster-service version ${VERSION}\n`)
    return
  }
  await runCli(main as unknown as CommandDef, argv)
}

/** Runs a citty command tree: --help anywhere prints that command's usage; errors exit non-zero. */
export async function runCli(cmd: CommandDef, argv: string[]): Promise<void> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    const { target, parent } = await findCommand(cmd, argv.filter((a) => a !== '--help' && a !== '-h' && a !== 'help'))
    const usage = await renderUsage(target, parent)
    // no colour codes when the output is not a terminal
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes
    process.stdout.write(`${process.stdout.isTTY === true ? usage : usage.replace(/\x1b\[[0-9;]*m/g, '')}\n`)
    return
  }
  try {
    await runCommand(cmd, { rawArgs: argv })
  } catch (err) {
    fail(err)
  }
}

async function findCommand(cmd: CommandDef, argv: string[]): Promise<{ target: CommandDef; parent?: CommandDef }> {
  let target = cmd
  let parent: CommandDef | undefined
  for (const a of argv) {
    if (a.startsWith('-')) continue
    const subs = typeof target.subCommands === 'function' ? await target.subCommands() : await target.subCommands
    const s = subs?.[a]
    if (s === undefined) break
    parent = target
    target = (typeof s === 'function' ? await (s as () => Promise<CommandDef>)() : await s) as CommandDef
  }
  return { target, parent }
}

export { UsageError }
