/**
 * `ipfs-cluster follow` / `ipfs-cluster-follow`: join collaborative
 * clusters as a follower (upstream cmd/ipfs-cluster-follow).
 * Followers need the multi-peer cluster swarm; until it lands, this
 * program lists configured clusters and explains what is missing.
 */
import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

const USAGE = `ipfs-cluster-follow - join a collaborative IPFS Cluster as a follower

Usage:
  ipfs-cluster-follow                       list the configured clusters
  ipfs-cluster-follow <name> init <url>     configure a cluster from a template URL
  ipfs-cluster-follow <name> run [--init <url>]
  ipfs-cluster-follow <name> list           list the pins of a cluster
  ipfs-cluster-follow <name> info           show the configuration of a cluster
`

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return
  }
  if (argv.length === 0) {
    const base = process.env.IPFS_CLUSTER_FOLLOW_PATH ?? join(homedir(), '.ipfs-cluster-follow')
    const names = existsSync(base)
      ? readdirSync(base, { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'service.json')))
          .map((d) => d.name)
      : []
    process.stdout.write(`Configurations found for ${names.length} clusters\n\n`)
    for (const n of names) process.stdout.write(`- ${n}\n`)
    return
  }
  process.stderr.write('error: following a cluster needs the multi-peer cluster swarm, which this build does not have yet\n')
  process.exit(1)
}
