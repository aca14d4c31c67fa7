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
 * tree (`<name>` first, then a subcommand) is parsed here by hand, as
 * upstream builds a sub-application per cluster name; citty has no
 * positional-before-subcommand form.
 */
import { processEnv } from '../../config/index.ts'
import { VERSION } from '../../version.ts'
import { type FollowIO, FollowExit, info, initCluster, listClusters, listPins, runFollower } from './commands.ts'
import { baseFolder, DEFAULT_FOLDER, PROGRAM_NAME } from './paths.ts'

export { FollowExit, type FollowIO } from './commands.ts'

const P = PROGRAM_NAME

const DESCRIPTION = `
${P} helps running IPFS Cluster follower peers.

Follower peers subscribe to a Cluster controlled by a set of "trusted
peers". They collaborate in pinning items as dictated by the trusted peers and
do not have the power to make Cluster-wide modifications to the pinset.

Follower peers cannot access information nor trigger actions in other peers.

${P} can be used to follow different clusters by launching it
with different options. Each Cluster has an identity, a configuration
and a datastore associated to it, which are kept under
"~/${DEFAULT_FOLDER}/<cluster_name>".

For feedback, bug reports or any additional information, visit
https://github.com/ipfs-cluster/ipfs-cluster.


EXAMPLES:

List configured follower peers:

$ ${P}

Display information for a follower peer:

$ ${P} <clusterName> info

Initialize a follower peer:

$ ${P} <clusterName> init <example.url>

Launch a follower peer (will stay running):

$ ${P} <clusterName> run

List items in the pinset for a given cluster:

$ ${P} <clusterName> list

Getting help and usage info:

$ ${P} --help
$ ${P} <clusterName> --help
$ ${P} <clusterName> info --help
$ ${P} <clusterName> init --help
$ ${P} <clusterName> run --help
$ ${P} <clusterName> list --help
`

const MAIN_HELP = `NAME:
   ${P} - IPFS Cluster Follower

USAGE:
   ${P} [global options] <clusterName> [subcommand]...

VERSION:
   ${VERSION}

DESCRIPTION:
${DESCRIPTION}
GLOBAL OPTIONS:
   --config FOLDER, -c FOLDER  path to the followers configuration and data FOLDER (default: "$HOME/${DEFAULT_FOLDER}") [$IPFS_CLUSTER_PATH]
   --help, -h                  show help
   --version, -v               print the version
`

function clusterHelp(name: string): string {
  return `NAME:
   ${P} ${name} - Follower peer management for "${name}"

USAGE:
   ${P} ${name} [subcommand]

COMMANDS:
   info     displays information for this peer
   init     initializes the follower peer
   run      runs the follower peer
   list     list items in the peers' pinset
   help, h  Shows a list of commands or help for one command
`
}

function subHelp(name: string, cmd: string): string {
  switch (cmd) {
    case 'info':
      return `NAME:
   ${P} ${name} info - displays information for this peer

USAGE:
   ${P} ${name} info

DESCRIPTION:
   This command display useful information for "${name}"'s follower peer.
`
    case 'init':
      return `NAME:
   ${P} ${name} init - initializes the follower peer

USAGE:
   ${P} ${name} init <template_URL>

DESCRIPTION:
   This command initializes a follower peer for the cluster named "${name}". You
   will need to pass the peer configuration URL. The command will generate a new
   peer identity and leave things ready to run "${P} ${name} run".

   An error will be returned if a configuration folder for a cluster peer with
   this name already exists. If you wish to re-initialize from scratch, delete
   this folder first.

   A value without http:// or https:// is a DNSLink name, read through the local
   IPFS gateway as http://127.0.0.1:8080/ipns/<value> ($IPFS_GATEWAY overrides
   the gateway address).
`
    case 'run':
      return `NAME:
   ${P} ${name} run - runs the follower peer

USAGE:
   ${P} ${name} run [--init <template_URL>]

DESCRIPTION:
   This commands runs a "${name}" cluster follower peer. The peer should have already
   been initialized with "init" alternatively the --init flag needs to be
   passed.

   Before running, ensure that you have connectivity and that the IPFS daemon is
   running.

   You can obtain more information about this follower peer by running
   "${P} ${name}" (without any arguments).

   The peer will stay running in the foreground until manually stopped.

OPTIONS:
   --init value  initialize cluster peer with the given URL before running
`
    case 'list':
      return `NAME:
   ${P} ${name} list - list items in the peers' pinset

USAGE:
   ${P} ${name} list

DESCRIPTION:
   This commands lists all the items pinned by this follower cluster peer on IPFS.

   If the peer is currently running, it will display status information for each
   pin (such as PINNING). If not, it will just display the current list of pins
   as obtained from the internal state on disk.
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
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
  // run returns once the peer stopped: end the process even if a handle lingers
  if (ranPeer) process.exit(0)
}
