/**
 * `service daemon`: runs the peer until SIGINT/SIGTERM
 * (upstream cmd/ipfs-cluster-service/daemon.go).
 */
import { defineCommand } from 'citty'
import { loadIdentity, loadServiceConfig, processEnv, resolveConfigFolder } from '../../config/index.ts'
import { startPeer } from '../../daemon.ts'
import { getLogger } from '../../observability/logging.ts'
import { sdNotifyReady } from '../../runtime/sdnotify.ts'
import { UsageError } from '../errors.ts'
import { globals } from './index.ts'

export default defineCommand({
  meta: {
    name: 'daemon',
    description: `Start the cluster peer and keep it running

Starts an IPFS Cluster peer in the foreground and runs it until it gets
SIGINT or SIGTERM. It needs service.json and identity.json in the
configuration folder (see "init").`
  },
  args: {
    bootstrap: { type: 'string', alias: 'j', description: 'multiaddresses (comma-separated) of peers of the cluster to join' },
    'no-trust': { type: 'boolean', description: 'do not add the --bootstrap peers to the trusted peers' },
    consensus: { type: 'string', description: 'consensus to use instead of the configured one (only crdt exists here)' },
    stats: { type: 'boolean', description: 'serve Prometheus metrics (/metrics)' },
    tracing: { type: 'boolean', description: 'tracing is not implemented; the flag is ignored' },
    upgrade: { type: 'boolean', alias: 'u', description: 'accepted for compatibility; there are no migrations to run' },
    leave: { type: 'boolean', alias: 'x', description: 'accepted for compatibility; ignored' }
  },
  async run({ args }) {
    const log = getLogger('service')
    const env = processEnv()
    const folder = resolveConfigFolder(globals.config, env)
    if (typeof args.consensus === 'string' && args.consensus !== 'crdt') {
      throw new UsageError(`consensus "${args.consensus}" is not supported yet; use crdt`)
    }
    log.info(`Initializing. For verbose output run with "-l debug". Please wait...`)
    const config = await loadServiceConfig(folder, { env })
    if (args.stats === true) config.observations.metrics.enableStats = true
    const identity = await loadIdentity(folder, env)
    const bootstrap =
      typeof args.bootstrap === 'string' && args.bootstrap !== '' ? args.bootstrap.split(',').map((s) => s.trim()).filter(Boolean) : []
    const peer = await startPeer({ config, identity, bootstrap, noTrust: args['no-trust'] === true })
    getLogger('cluster').info('** IPFS Cluster is READY **')
    await sdNotifyReady(env.NOTIFY_SOCKET)

    await new Promise<void>((resolve) => {
      let stopping = false
      const onSignal = (sig: NodeJS.Signals): void => {
        if (stopping) {
          log.warn(`received ${sig} again: exiting now`)
          process.exit(1)
        }
        stopping = true
        log.info(`received ${sig}: shutting down`)
        peer
          .stop()
          .catch((err: unknown) => log.error(`shutdown: ${(err as Error).message}`))
          .finally(() => {
            log.info('IPFS Cluster peer stopped')
            resolve()
          })
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
    })
    process.exit(0)
  }
})
