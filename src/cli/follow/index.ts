/**
 * `ipfs-cluster follow` / `ipfs-cluster-follow`: run follower peers of
 * collaborative clusters (upstream cmd/ipfs-cluster-follow, main.go).
 *
 *   ipfs-cluster-follow [-c <folder>]                       list the configured clusters
 *   ipfs-cluster-follow <name> [info]                       folder, template source, peer and IPFS online?
 *   ipfs-cluster-follow <name> init <url|dnslink-name>      identity.json + {"source": url}
 *   ipfs-cluster-follow <name> run [--init <url>]           run the follower peer (foreground)
 *   ipfs-cluster-follow <name> list                         the pinset (online: statuses; offline: "offline")
 *
 * The base folder is `-c/--config`, else `IPFS_CLUSTER_PATH`, else
 * `~/.ipfs-cluster-follow` (upstream binds the same variable). The command
 * tree (`<name>` first, then a subcommand) is parsed here, as upstream
 * builds a sub-application per cluster name: the shared command model
 * (`../cmd.ts`, used by ctl and service) has no positional before its
 * subcommands.
 */
import { processEnv } from '../../config/index.ts'
import { VERSION } from '../../version.ts'
import { type FollowIO, FollowExit, info, initCluster, listClusters, listPins, runFollower } from './commands.ts'
import { baseFolder, DEFAULT_FOLDER, PROGRAM_NAME } from './paths.ts'
import { errorMessage } from '../../errors.ts'

export { FollowExit, type FollowIO } from './commands.ts'

const P = PROGRAM_NAME

const DESCRIPTION = `
${P} runs follower peers of collaborative IPFS clusters.

A follower joins a cluster whose pinset is managed by its "trusted peers"
and helps pin what they add. It cannot change the pinset, and it can
neither query nor command other peers.

One follower can be set up per cluster name. Each has its own identity,
configuration and datastore (sqlite or leveldb) in
"~/${DEFAULT_FOLDER}/<clusterName>" (another base folder can be chosen
with --config).


EXAMPLES:

Show the clusters set up on this machine:

$ ${P}

Show the state of one follower:

$ ${P} <clusterName> info

Set up a follower from the cluster's configuration URL:

$ ${P} <clusterName> init <example.url>

Start the follower (runs until stopped):

$ ${P} <clusterName> run

Print the pins of a cluster:

$ ${P} <clusterName> list

Help on any level:

$ ${P} --help
$ ${P} <clusterName> --help
$ ${P} <clusterName> info --help
$ ${P} <clusterName> init --help
$ ${P} <clusterName> run --help
$ ${P} <clusterName> list --help
`

const MAIN_HELP = `NAME:
   ${P} - follower peers for IPFS Cluster

USAGE:
   ${P} [global options] <clusterName> [subcommand]...

VERSION:
   ${VERSION}

DESCRIPTION:
${DESCRIPTION}
GLOBAL OPTIONS:
   --config FOLDER, -c FOLDER  base FOLDER holding one sub-folder per followed cluster (default: "$HOME/${DEFAULT_FOLDER}") [$IPFS_CLUSTER_PATH]
   --help, -h                  show help
   --version, -v               print the version
`

function clusterHelp(name: string): string {
  return `NAME:
   ${P} ${name} - manage the follower peer of "${name}"

USAGE:
   ${P} ${name} [subcommand]

COMMANDS:
   info     show the state of this follower
   init     set up this follower
   run      start this follower
   list     print the pins of this cluster
   help, h  list the commands, or show the help of one
`
}

function subHelp(name: string, cmd: string): string {
  switch (cmd) {
    case 'info':
      return `NAME:
   ${P} ${name} info - show the state of this follower

USAGE:
   ${P} ${name} info

DESCRIPTION:
   Prints where the follower of "${name}" keeps its files, where its
   configuration comes from, and whether the follower and its IPFS daemon
   are running.
`
    case 'init':
      return `NAME:
   ${P} ${name} init - set up this follower

USAGE:
   ${P} ${name} init <template_URL>

DESCRIPTION:
   Creates the folder of the "${name}" follower with a fresh identity and a
   configuration that points to the given URL, where the cluster publishes
   its settings. Then "${P} ${name} run" starts it.

   If the folder already exists nothing is touched and an error is returned;
   remove the folder to start over.

   A value without http:// or https:// is a DNSLink name, read through the local
   IPFS gateway as http://127.0.0.1:8080/ipns/<value> ($IPFS_GATEWAY overrides
   the gateway address).
`
    case 'run':
      return `NAME:
   ${P} ${name} run - start this follower

USAGE:
   ${P} ${name} run [--init <template_URL>]

DESCRIPTION:
   Runs the follower of "${name}" in the foreground until it is stopped
   (Ctrl-C or SIGTERM). It must have been set up with "init" first, or
   --init can do both in one go.

   The IPFS daemon should be running and the network reachable; the
   follower waits up to two minutes for IPFS to answer.

   "${P} ${name}" (no subcommand) tells whether it is running.

OPTIONS:
   --init value  set up the follower from this URL first, if not done yet
`
    case 'list':
      return `NAME:
   ${P} ${name} list - print the pins of this cluster

USAGE:
   ${P} ${name} list

DESCRIPTION:
   Prints every item in the pinset this follower holds. When the follower
   is running, each line carries the item's status on this peer (e.g.
   pinned, pinning); otherwise the pinset is read from the datastore on
   disk and each item is shown as "offline".
`
    default:
      return clusterHelp(name)
  }
}

interface Parsed {
  config?: string
  help: boolean
  version: boolean
  positionals: string[]
  init?: string
  gateway?: string
}

/** Splits argv into global/subcommand flags and positionals (urfave/cli accepts `--flag value` and `--flag=value`). */
export function parseFollowArgs(argv: string[]): Parsed {
  const out: Parsed = { help: false, version: false, positionals: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const flag = a.startsWith('-') ? (eq > 0 ? a.slice(0, eq) : a) : undefined
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1)
      const v = argv[++i]
      if (v === undefined) throw new FollowExit(1, `flag needs an argument: ${a}`)
      return v
    }
    if (flag === undefined || a === '-') {
      out.positionals.push(a)
    } else if (flag === '--') {
      out.positionals.push(...argv.slice(i + 1))
      break
    } else if (flag === '-h' || flag === '--help') {
      out.help = true
    } else if (flag === '-v' || flag === '--version') {
      out.version = true
    } else if (flag === '-c' || flag === '--config') {
      out.config = value()
    } else if (flag === '--init') {
      out.init = value()
    } else if (flag === '--gateway') {
      out.gateway = value()
    } else {
      throw new FollowExit(1, `flag provided but not defined: ${flag}`)
    }
  }
  return out
}

/**
 * Runs one follow command with explicit IO (tests call this).
 * @throws FollowExit with the exit code when the command fails.
 */
export async function follow(argv: string[], io: FollowIO): Promise<void> {
  const args = parseFollowArgs(argv)
  const [name, cmd = '', ...rest] = args.positionals
  if (args.version && name === undefined) {
    io.stdout(`${P} version ${VERSION}\n`)
    return
  }
  if (name === 'help' || (args.help && name === undefined)) {
    io.stdout(MAIN_HELP)
    return
  }
  const base = baseFolder(args.config, io.env)
  if (name === undefined) {
    listClusters(io, base)
    return
  }
  if (args.help || cmd === 'help' || cmd === 'h') {
    io.stdout(cmd === 'help' || cmd === 'h' ? subHelp(name, rest[0] ?? '') : subHelp(name, cmd))
    return
  }
  switch (cmd) {
    case '':
      await info(io, base, name)
      io.stdout('Additional help:\n\n')
      io.stdout('-------------------------------------------------\n\n')
      io.stdout(clusterHelp(name))
      return
    case 'info':
      await info(io, base, name)
      return
    case 'init': {
      const url = rest[0]
      if (url === undefined || url === '') throw new FollowExit(1, 'configuration URL not provided')
      await initCluster(io, base, name, url, { gateway: args.gateway })
      return
    }
    case 'run':
      await runFollower(io, base, name, { init: args.init, gateway: args.gateway })
      return
    case 'list':
      await listPins(io, base, name)
      return
    default:
      throw new FollowExit(3, `No help topic for '${cmd}'`)
  }
}

/** Runs the follow program with its arguments (argv without the program name). */
export async function run(argv: string[]): Promise<void> {
  const io: FollowIO = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: processEnv()
  }
  let ranPeer = false
  try {
    const parsed = parseFollowArgs(argv)
    ranPeer = parsed.positionals[1] === 'run' && !parsed.help
    await follow(argv, io)
  } catch (err) {
    if (err instanceof FollowExit) {
      if (err.message !== '') process.stderr.write(`error: ${err.message}\n`)
      process.exit(err.code)
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`)
    process.exit(1)
  }
  // run returns once the peer stopped: end the process even if a handle lingers
  if (ranPeer) process.exit(0)
}
