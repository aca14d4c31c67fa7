#!/usr/bin/env bun
/**
 * Entry point of the single executable. Dispatches on the name it was
 * called by (busybox style: a link named `ipfs-cluster-service`,
 * `ipfs-cluster-ctl` or `ipfs-cluster-follow` acts as that program) or on
 * the first argument (`service`, `ctl`, `follow`). Subcommands load lazily
 * so `ctl version` starts fast.
 */
import { basename } from 'node:path'
import { errorMessage } from './errors.ts'

type Program = 'service' | 'ctl' | 'follow'

const PROGRAMS: Record<Program, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  service: () => import('./cli/service/index.ts'),
  ctl: () => import('./cli/ctl/index.ts'),
  follow: () => import('./cli/follow/index.ts')
}

function programFromName(argv0: string): Program | undefined {
  const name = basename(argv0).replace(/\.(exe|ts|js)$/, '')
  if (name === 'ipfs-cluster-service') return 'service'
  if (name === 'ipfs-cluster-ctl') return 'ctl'
  if (name === 'ipfs-cluster-follow') return 'follow'
  return undefined
}

const USAGE = `ipfs-cluster - IPFS Cluster in one executable

Usage:
  ipfs-cluster service [flags] <command>   run and manage a cluster peer (ipfs-cluster-service)
  ipfs-cluster ctl [flags] <command>       command-line client of the REST API (ipfs-cluster-ctl)
  ipfs-cluster follow <name> <command>     join a collaborative cluster as a follower (ipfs-cluster-follow)

Links named ipfs-cluster-service, ipfs-cluster-ctl or ipfs-cluster-follow
act as that program.
`

async function main(): Promise<void> {
  // process.argv: [runtime, script, ...args]; in a compiled binary argv[1] is the binary path.
  const args = process.argv.slice(2)
  const invokedAs = programFromName(process.argv0) ?? programFromName(process.argv[1] ?? '')
  let program: Program | undefined = invokedAs
  let rest = args
  if (program === undefined) {
    const first = args[0]
    if (first === 'service' || first === 'ctl' || first === 'follow') {
      program = first
      rest = args.slice(1)
    } else if (first === '--version' || first === 'version') {
      const { VERSION } = await import('./version.ts')
      process.stdout.write(`ipfs-cluster version ${VERSION}\n`)
      return
    } else {
      process.stdout.write(USAGE)
      process.exitCode = first === undefined || first === '--help' || first === '-h' || first === 'help' ? 0 : 1
      return
    }
  }
  const mod = await PROGRAMS[program]()
  await mod.run(rest)
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${errorMessage(err)}\n`)
  process.exit(1)
})
