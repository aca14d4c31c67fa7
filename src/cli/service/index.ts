/**
 * `ipfs-cluster service` / `ipfs-cluster-service`: init a peer's config and
 * identity, run the peer daemon, export/import/cleanup its state.
 * Mirrors upstream cmd/ipfs-cluster-service (main.go, daemon.go, state.go).
 *
 * Commands are `ServiceCommand`s (the shared command model, `../cmd.ts`);
 * flags are parsed by its `parseCommandLine` and help is laid out like
 * urfave/cli v1's, as ctl's is. Command modules load only when needed, so
 * `--version` loads nothing else.
 *
 * Global flags -c/--config <folder>, -f/--force, -d/--debug,
 * -l/--loglevel <spec> go before the command (upstream); after the command
 * they are still accepted unless the command has a flag of the same name.
 *
 * Exit codes: 0 success; 1 usage error, unknown command or failure (or
 * the `exitCode` an error carries).
 */
import { VERSION } from '../../version.ts'
import {
  type FlagSpec,
  type FlagValues,
  parseCommandLine,
  renderCommandHelp,
  renderGroupHelp,
  UsageError as FlagUsageError
} from '../cmd.ts'
import { UsageError } from '../errors.ts'
import { renderAppHelp } from '../help.ts'
import { globals, type ServiceCommand } from './context.ts'
import { errorMessage } from '../../errors.ts'

export { globals, type ServiceCommand, type ServiceGlobals } from './context.ts'
export { UsageError }

export const PROGRAM = 'ipfs-cluster-service'

/** The one line after the program name. */
const TAGLINE = 'run and manage a cluster peer'

const DESCRIPTION = `
${PROGRAM} runs a cluster peer: a daemon that orchestrates the
pinset of a cluster of IPFS (kubo) daemons, allocating, replicating and
tracking pins. The peer is configured by service.json and identity.json in its
configuration folder (default ~/.ipfs-cluster, env IPFS_CLUSTER_PATH).

Quick start:
  $ ${PROGRAM} init
  $ ${PROGRAM} daemon

Use ipfs-cluster-ctl to talk to a running peer.
`

/** The global flags, in upstream's order. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: 'config',
    aliases: ['c'],
    kind: 'string',
    usage: 'folder holding the configuration and the data (env IPFS_CLUSTER_PATH)'
  },
  {
    name: 'force',
    aliases: ['f'],
    kind: 'bool',
    usage: 'do not ask before destructive steps such as replacing the configuration'
  },
  { name: 'debug', aliases: ['d'], kind: 'bool', usage: 'log everything at debug level (very noisy)' },
  {
    name: 'loglevel',
    aliases: ['l'],
    kind: 'string',
    usage: 'set the log level: "info" or "info,cluster:debug,crdt:error" (env IPFS_CLUSTER_LOG_LEVEL)'
  }
]

const VERSION_FLAG: FlagSpec = { name: 'version', aliases: ['v'], kind: 'bool', usage: 'print the version' }

const versionCmd: ServiceCommand = {
  name: 'version',
  usage: 'Print the version of this program',
  async run() {
    process.stdout.write(`${VERSION}\n`)
  }
}

/** Top-level commands in display order; each module loads on demand. */
const COMMANDS: Record<string, () => Promise<ServiceCommand>> = {
  init: () => import('./init.ts').then((m) => m.default),
  daemon: () => import('./daemon.ts').then((m) => m.default),
  state: () => import('./state.ts').then((m) => m.default),
  version: async () => versionCmd
}

/** Where the program writes, and the environment it reads. */
export interface ServiceIO {
  stdout(s: string): void
  stderr(s: string): void
  env: Record<string, string | undefined>
}

/** The top-level help (`ipfs-cluster-service --help`). */
export async function appHelp(): Promise<string> {
  const cmds = await Promise.all(Object.values(COMMANDS).map((load) => load()))
  return renderAppHelp({
    name: PROGRAM,
    usage: TAGLINE,
    version: VERSION,
    description: DESCRIPTION,
    commands: cmds.filter((c) => c.hidden !== true).map((c) => [c.name, c.usage]),
    flags: GLOBAL_FLAGS
  })
}

interface Resolved {
  /** e.g. `ipfs-cluster-service state export`. */
  path: string
  /** undefined: the program itself. */
  cmd?: ServiceCommand
  /** arguments after the command names. */
  rest: string[]
  /** a name that matched no command. */
  unknown?: string
}

/** Walks command names (positionals) from the top. */
async function resolve(names: string[]): Promise<Resolved> {
  let cmd: ServiceCommand | undefined
  let path = PROGRAM
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    if (name.startsWith('-')) return { path, cmd, rest: names.slice(i) }
    let next: ServiceCommand | undefined
    if (cmd === undefined) {
      const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
      next = load === undefined ? undefined : await load()
    } else if (cmd.subcommands !== undefined) {
      next = cmd.subcommands.find((c) => c.name === name)
    } else {
      return { path, cmd, rest: names.slice(i) }
    }
    if (next === undefined) return { path, cmd, rest: names.slice(i), unknown: name }
    cmd = next
    path = `${path} ${name}`
  }
  return { path, cmd, rest: [] }
}

function helpOf(r: Resolved): Promise<string> | string {
  if (r.cmd === undefined) return appHelp()
  if (r.cmd.subcommands !== undefined) return renderGroupHelp(r.path, r.cmd, r.cmd.subcommands)
  return renderCommandHelp(r.path, r.cmd)
}

/**
 * The help of the command named by `names` (`[]`: the program; `['state',
 * 'import']`: that subcommand). `help`/`h` inside a group is skipped, as in
 * `state help import`.
 * @throws UsageError when a name matches no command.
 */
export async function helpFor(names: string[]): Promise<string> {
  const r = await resolve(names.filter((n) => n !== 'help' && n !== 'h'))
  if (r.unknown !== undefined) throw new UsageError(`no help topic for '${r.unknown}'`)
  return helpOf(r)
}

/**
 * A command's flags plus the global ones (and -v/--version) under the names
 * it does not use itself; `renamed` maps a global's name here to its own.
 */
function withGlobalFlags(own: FlagSpec[]): { specs: FlagSpec[]; renamed: Map<string, string> } {
  const taken = new Set(own.flatMap((f) => [f.name, ...(f.aliases ?? [])]))
  const specs = [...own]
  const renamed = new Map<string, string>()
  for (const g of [...GLOBAL_FLAGS, VERSION_FLAG]) {
    const [name, ...aliases] = [g.name, ...(g.aliases ?? [])].filter((n) => !taken.has(n))
    if (name === undefined) continue
    specs.push({ ...g, name, aliases })
    renamed.set(g.name, name)
  }
  return { specs, renamed }
}

/** Copies the global flags set among `flags` into `globals`; `names` maps a global's name to the one parsed. */
function applyGlobals(flags: FlagValues, names: Map<string, string>): void {
  const set = (n: string): string | undefined => {
    const as = names.get(n)
    return as !== undefined && flags.isSet(as) ? as : undefined
  }
  const config = set('config')
  if (config !== undefined) globals.config = flags.string(config)
  const force = set('force')
  if (force !== undefined && flags.bool(force)) globals.force = true
  const debug = set('debug')
  if (debug !== undefined && flags.bool(debug)) globals.debug = true
  const loglevel = set('loglevel')
  if (loglevel !== undefined) globals.loglevel = flags.string(loglevel)
}

const isHelpFlag = (a: string): boolean => a === '-h' || a === '--help' || a === '-help' || a === '--h'

/**
 * Runs the service program with `argv` (the arguments after the program
 * name), writing help and errors to `io` (commands write their own output to
 * the process). Returns the exit code; never calls `process.exit` itself
 * (`daemon` exits when it stops).
 */
export async function main(argv: string[], io: ServiceIO): Promise<number> {
  let top: ReturnType<typeof parseCommandLine>
  try {
    top = parseCommandLine(argv, [...GLOBAL_FLAGS, VERSION_FLAG], { stopAtPositional: true })
  } catch (err) {
    io.stderr(`Incorrect Usage. ${errorMessage(err)}\n\n`)
    io.stdout(await appHelp())
    return 1
  }
  if (top.flags.bool('version')) {
    io.stdout(`${PROGRAM} version ${VERSION}\n`)
    return 0
  }
  applyGlobals(top.flags, new Map(GLOBAL_FLAGS.map((f) => [f.name, f.name])))
  const rest = top.positionals
  if (top.help || rest.length === 0) {
    io.stdout(await appHelp())
    return 0
  }
  if (rest[0] === 'help' || rest[0] === 'h') {
    try {
      io.stdout(await helpFor(rest.slice(1)))
      return 0
    } catch (err) {
      io.stderr(`error: ${errorMessage(err)}\n`)
      return 1
    }
  }

  let r = await resolve(rest)
  if (r.cmd?.subcommands !== undefined && (r.rest[0] === 'help' || r.rest[0] === 'h')) {
    // `state help [export]`
    r = await resolve([...rest.slice(0, rest.length - r.rest.length), ...r.rest.slice(1)])
    if (r.unknown !== undefined) {
      io.stderr(`error: no help topic for '${r.unknown}'\n`)
      return 1
    }
    io.stdout(await helpOf(r))
    return 0
  }
  if (r.unknown !== undefined) {
    io.stderr(`error: unknown command "${r.unknown}": run "${r.path} help" for the list of commands\n`)
    return 1
  }
  const cmd = r.cmd
  if (cmd === undefined) {
    io.stdout(await appHelp())
    return 0
  }
  const dashdash = r.rest.indexOf('--')
  const own = dashdash < 0 ? r.rest : r.rest.slice(0, dashdash)
  if (cmd.subcommands !== undefined || cmd.run === undefined || own.some(isHelpFlag)) {
    io.stdout(await helpOf(r))
    return 0
  }

  const { specs, renamed } = withGlobalFlags(cmd.flags ?? [])
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(r.rest, specs)
    const max = cmd.maxArgs ?? 0
    if (parsed.positionals.length > max) {
      throw new FlagUsageError(
        max === 0
          ? `"${cmd.name}" takes no arguments, got "${parsed.positionals.join(' ')}"`
          : `"${cmd.name}" takes at most ${max} argument${max === 1 ? '' : 's'}, got ${parsed.positionals.length}`
      )
    }
  } catch (err) {
    if (!(err instanceof FlagUsageError)) throw err
    io.stderr(`Incorrect Usage: ${err.message}\n\n`)
    io.stdout(await helpOf(r))
    return 1
  }
  const version = renamed.get('version')
  if (version !== undefined && parsed.flags.bool(version)) {
    io.stdout(`${PROGRAM} version ${VERSION}\n`)
    return 0
  }
  applyGlobals(parsed.flags, renamed)

  const { setLogLevels } = await import('../../observability/logging.ts')
  const level = globals.loglevel ?? io.env.IPFS_CLUSTER_LOG_LEVEL
  if (globals.debug) setLogLevels('debug')
  else if (level !== undefined && level !== '') setLogLevels(level)

  try {
    await cmd.run({ flags: parsed.flags, positionals: parsed.positionals })
    return 0
  } catch (err) {
    const e = err as Error & { exitCode?: unknown }
    io.stderr(`error: ${errorMessage(err)}\n`)
    return typeof e?.exitCode === 'number' ? e.exitCode : 1
  }
}

/** The `service` program: `ipfs-cluster service …` or a link named `ipfs-cluster-service`. */
export async function run(argv: string[]): Promise<void> {
  const code = await main(argv, {
    stdout: (s) => {
      process.stdout.write(s)
    },
    stderr: (s) => {
      process.stderr.write(s)
    },
    env: process.env
  })
  // as before: a failed command exits at once, whatever handles are still open
  if (code !== 0) process.exit(code)
}
