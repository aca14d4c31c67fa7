/**
 * `ipfs-cluster ctl` (upstream `cmd/ipfs-cluster-ctl/main.go`): the
 * command-line client of the REST API.
 *
 * `run(argv)` is the program (sets `process.exitCode`); `main(argv, io)`
 * does the work and returns the exit code, so tests can drive it with their
 * own output sinks. Subcommands load lazily (`CommandDef.subCommands`), so
 * `ctl --version` loads nothing else.
 *
 * Exit codes (upstream): 0 success; 2 the API answered with an error; 1 any
 * other error (usage, connection failure); 62 `--wait` timed out; 3 unknown
 * command.
 */
import type { RestClient } from '../../api/rest/client.ts'
import { VERSION } from '../../version.ts'
import {
  type CommandDef,
  type CommandSpec,
  columns,
  type FlagSpec,
  HELP_COMMAND_USAGE,
  parseCommandLine,
  renderCommandHelp,
  renderFlags,
  renderGroupHelp,
  specOf,
  UsageError,
  withFlagEnv
} from '../cmd.ts'
import { CtlExit, type CtlIO, withCtl } from './context.ts'
import { errorMessage } from '../../errors.ts'

export type { CtlIO } from './context.ts'

const PROGRAM = 'ipfs-cluster-ctl'
/** upstream `defaultHost` (same as the client's `DEFAULT_API_ADDR`). */
const DEFAULT_API_ADDR = '/ip4/127.0.0.1/tcp/9094'

/** The one-line title shown after the program name. */
const TAGLINE = 'command-line client of IPFS Cluster'

/** What the program is for (same role as upstream's `Description`, in our words). */
const DESCRIPTION = `
${PROGRAM} talks to a running IPFS Cluster peer through its REST API.

Run "${PROGRAM} help" for the list of commands and
"${PROGRAM} help <command>" for the flags and arguments of one.

By default it connects to ${DEFAULT_API_ADDR}; choose another peer with
--host. Several comma-separated addresses are tried in order until one
answers. Answers are printed as text, or as JSON with --enc json.

Addresses with /p2p/<peerID> (the libp2p-http endpoint) are not supported by
this build yet.
`

/** upstream's global flags, in upstream's order (usage texts are ours). */
export const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: 'host',
    aliases: ['l'],
    kind: 'string',
    default: DEFAULT_API_ADDR,
    usage: 'multiaddress of the REST API; a comma-separated list is tried in order'
  },
  {
    name: 'secret',
    kind: 'string',
    usage: 'cluster secret in hex, for /p2p/ (libp2p) endpoints, which this build does not support'
  },
  { name: 'https', aliases: ['s'], kind: 'bool', usage: 'talk to the API over HTTPS' },
  {
    name: 'no-check-certificate',
    kind: 'bool',
    usage: "with --https, accept the server's certificate without checking it"
  },
  { name: 'encoding', aliases: ['enc'], kind: 'string', default: 'text', usage: 'how answers are printed [text, json]' },
  {
    name: 'timeout',
    aliases: ['t'],
    kind: 'int',
    default: 0,
    usage: 'give up on a request after this many seconds (0: never)'
  },
  { name: 'debug', aliases: ['d'], kind: 'bool', usage: 'print debug logs' },
  {
    name: 'basic-auth',
    kind: 'string',
    envVar: 'CLUSTER_CREDENTIALS',
    usage: '<username>[:<password>] for an API behind basic auth; switches on --https unless --force-http'
  },
  { name: 'force-http', aliases: ['f'], kind: 'bool', usage: 'with --basic-auth, keep plain HTTP' }
]

const VERSION_FLAG: FlagSpec = { name: 'version', aliases: ['v'], kind: 'bool', usage: 'print the version' }

/** Top-level commands in upstream's order; each module loads on demand. */
const SUBCOMMANDS: Record<string, () => Promise<CommandDef>> = {
  id: () => import('./id.ts').then((m) => m.default),
  peers: () => import('./peers.ts').then((m) => m.default),
  add: () => import('./add.ts').then((m) => m.default),
  pin: () => import('./pin.ts').then((m) => m.default),
  status: () => import('./status.ts').then((m) => m.default),
  recover: () => import('./recover.ts').then((m) => m.default),
  version: () => import('./version.ts').then((m) => m.default),
  health: () => import('./health.ts').then((m) => m.default),
  ipfs: () => import('./ipfs.ts').then((m) => m.default)
}

const root: CommandDef = { meta: { name: PROGRAM, description: TAGLINE }, subCommands: SUBCOMMANDS }

async function subCommandsOf(cmd: CommandDef): Promise<Record<string, CommandDef>> {
  const out: Record<string, CommandDef> = {}
  for (const [name, load] of Object.entries(cmd.subCommands ?? {})) out[name] = await load()
  return out
}

async function appHelp(): Promise<string> {
  const subs = await subCommandsOf(root)
  const rows: [string, string][] = Object.entries(subs)
    .filter(([, c]) => specOf(c)?.hidden !== true)
    .map(([name, c]) => [name, specOf(c)?.usage ?? ''])
  rows.push(['help, h', HELP_COMMAND_USAGE])
  return (
    `NAME:\n   ${PROGRAM} - ${TAGLINE}\n\n` +
    `USAGE:\n   ${PROGRAM} [global options] command [command options] [arguments...]\n\n` +
    `VERSION:\n   ${VERSION}\n\n` +
    `DESCRIPTION:\n   ${DESCRIPTION}\n\n` +
    `COMMANDS:\n${columns(rows, '     ')}\n\n` +
    `GLOBAL OPTIONS:\n${renderFlags(GLOBAL_FLAGS, [
      ['--help, -h', 'show help'],
      ['--version, -v', 'print the version']
    ])}\n`
  )
}

interface Resolved {
  /** `ipfs-cluster-ctl pin add` */
  path: string
  cmd: CommandDef
  spec: CommandSpec | undefined
  /** arguments after the command names. */
  rest: string[]
  /** a name that matched no command. */
  unknown?: string
}

/** Walks command names from the root (positionals only). */
async function resolve(names: string[]): Promise<Resolved> {
  let cmd: CommandDef = root
  let path = PROGRAM
  let i = 0
  for (; i < names.length; i++) {
    if (cmd.subCommands === undefined) break
    const name = names[i]!
    if (name.startsWith('-')) break
    // only the named command's module loads (`ctl version` loads no other)
    const load = Object.hasOwn(cmd.subCommands, name) ? cmd.subCommands[name] : undefined
    if (load === undefined) return { path, cmd, spec: specOf(cmd), rest: names.slice(i), unknown: name }
    cmd = await load()
    path = `${path} ${name}`
  }
  return { path, cmd, spec: specOf(cmd), rest: names.slice(i) }
}

async function helpFor(r: Resolved): Promise<string> {
  if (r.cmd === root || r.spec === undefined) return appHelp()
  if (r.cmd.subCommands !== undefined) {
    const subs = await subCommandsOf(r.cmd)
    return renderGroupHelp(
      r.path,
      r.spec,
      Object.values(subs)
        .map((c) => specOf(c))
        .filter((s): s is CommandSpec => s !== undefined)
    )
  }
  return renderCommandHelp(r.path, r.spec)
}

/**
 * The hidden `commands` command (upstream `walkCommands`): every command's
 * full name, one per line, the hidden `commands` and `help` included.
 */
async function walkCommands(): Promise<string> {
  const lines: string[] = []
  const walk = async (cmd: CommandDef, prefix: string): Promise<void> => {
    for (const [name, sub] of Object.entries(await subCommandsOf(cmd))) {
      lines.push(`${prefix} ${name}`)
      if (sub.subCommands !== undefined) await walk(sub, `${prefix} ${name}`)
    }
  }
  await walk(root, PROGRAM)
  lines.push(`${PROGRAM} commands`, `${PROGRAM} help`)
  return `${lines.join('\n')}\n`
}

/** upstream `parseCredentials`: `user[:pass]`. */
export function parseCredentials(input: string): { user: string; pass: string } {
  const i = input.indexOf(':')
  return i < 0 ? { user: input, pass: '' } : { user: input.slice(0, i), pass: input.slice(i + 1) }
}

/**
 * Runs ctl with `argv` (the arguments after `ctl`), writing to `io`.
 * Returns the exit code; never calls `process.exit`.
 */
export async function main(argv: string[], io: CtlIO): Promise<number> {
  let globals: ReturnType<typeof parseCommandLine>
  try {
    globals = parseCommandLine(argv, [...GLOBAL_FLAGS, VERSION_FLAG], { stopAtPositional: true, env: io.env })
  } catch (err) {
    io.stderr(`Incorrect Usage. ${errorMessage(err)}\n\n`)
    io.stdout(await appHelp())
    return 1
  }
  const g = globals.flags
  if (g.bool('version')) {
    io.stdout(`${PROGRAM} version ${VERSION}\n`)
    return 0
  }
  const rest = globals.positionals
  if (globals.help || rest.length === 0) {
    io.stdout(await appHelp())
    return 0
  }
  if (rest[0] === 'help' || rest[0] === 'h') {
    const r = await resolve(rest.slice(1))
    if (r.unknown !== undefined) {
      io.stderr(`No help topic for '${r.unknown}'\n`)
      return 3
    }
    io.stdout(await helpFor(r))
    return 0
  }
  if (rest[0] === 'commands') {
    io.stdout(await walkCommands())
    return 0
  }
  const r = await resolve(rest)
  if (r.unknown !== undefined) {
    io.stderr(`No help topic for '${r.unknown}'\n`)
    return 3
  }
  const dashdash = r.rest.indexOf('--')
  const own = dashdash < 0 ? r.rest : r.rest.slice(0, dashdash)
  if (r.cmd.subCommands !== undefined || own.some((a) => a === '-h' || a === '--help' || a === '-help')) {
    io.stdout(await helpFor(r))
    return 0
  }

  const enc = g.string('encoding')
  if (enc !== 'text' && enc !== 'json') {
    io.stderr('error : unsupported encoding\n')
    return 1
  }
  if (g.bool('debug')) {
    const { setLogLevels } = await import('../../observability/logging.ts')
    setLogLevels('debug')
  }
  const secret = g.string('secret')
  if (secret !== '' && !/^([0-9a-fA-F]{2})*$/.test(secret)) {
    io.stderr('error parsing secret: encoding/hex: invalid byte\n')
    return 1
  }
  const creds = parseCredentials(g.string('basic-auth'))
  let https = g.bool('https')
  if (creds.user !== '' && !https && !g.bool('force-http')) {
    io.stderr('WARN: SSL automatically enabled with basic auth credentials. Set "force-http" to disable\n')
    https = true
  }
  const { ApiError, RestClient } = await import('../../api/rest/client.ts')
  let client: RestClient
  try {
    client = new RestClient({
      host: g
        .string('host')
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
      https,
      noCheckCertificate: g.bool('no-check-certificate'),
      basicAuth: creds.user !== '' ? creds : undefined,
      timeoutMs: g.int('timeout') * 1000
    })
  } catch (err) {
    io.stderr(`error parsing host multiaddress: ${err instanceof ApiError ? err.message : String(err)}\n`)
    return 1
  }

  try {
    const leaf = r.cmd.run
    if (leaf === undefined) throw new UsageError(`${r.path} is not a command`)
    await withCtl({ client, enc, io }, () => withFlagEnv(io.env, () => leaf({ rawArgs: r.rest })))
    return 0
  } catch (err) {
    if (err instanceof CtlExit) return err.code
    if (err instanceof UsageError) {
      io.stderr(`Incorrect Usage: ${err.message}\n\n`)
      io.stdout(await helpFor(r))
      return 1
    }
    io.stderr(`error : ${errorMessage(err)}\n`)
    return 1
  }
}

/** The `ctl` program: `ipfs-cluster ctl …` or a link named `ipfs-cluster-ctl`. */
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
  process.exitCode = code
}
