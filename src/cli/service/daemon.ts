/**
 * `service daemon`: runs the peer until SIGINT/SIGTERM
 * (upstream cmd/ipfs-cluster-service/daemon.go). The peer's modules load
 * only when the command runs, so help stays fast.
 */
import { guardProcess, runUntilSignal } from '../lifecycle.ts'
import { loadIdentity, loadServiceConfig, processEnv, resolveConfigFolder } from '../../config/index.ts'
import { getLogger } from '../../observability/logging.ts'
import { sdNotifyReady } from '../../runtime/sdnotify.ts'
import { UsageError } from '../errors.ts'
import { globals, type ServiceCommand } from './context.ts'

const daemon: ServiceCommand = {
  name: 'daemon',
  usage: 'Start the cluster peer and keep it running',
  description: `
Starts an IPFS Cluster peer in the foreground and runs it until it gets
SIGINT or SIGTERM. It needs service.json and identity.json in the
configuration folder (see "init").`,
  flags: [
    {
      name: 'bootstrap',
      aliases: ['j'],
      kind: 'string',
      usage: 'multiaddresses (comma-separated) of peers of the cluster to join'
    },
    { name: 'no-trust', kind: 'bool', usage: 'do not add the --bootstrap peers to the trusted peers' },
    {
      name: 'consensus',
      kind: 'string',
      usage: 'consensus to use instead of the configured one (only crdt exists here)'
    },
    { name: 'stats', kind: 'bool', usage: 'serve Prometheus metrics (/metrics)' },
    { name: 'tracing', kind: 'bool', usage: 'enable tracing (refused: OpenTelemetry tracing is not implemented)' },
    { name: 'upgrade', aliases: ['u'], kind: 'bool', usage: 'accepted for compatibility; there are no migrations to run' },
    { name: 'leave', aliases: ['x'], kind: 'bool', usage: 'leave the cluster when shutting down (sets leave_on_shutdown; with crdt, as upstream, only logs that peers cannot be removed this way)' }
  ],
  async run({ flags }) {
    const log = getLogger('service')
    const env = processEnv()
    const folder = resolveConfigFolder(globals.config, env)
    const consensus = flags.string('consensus')
    if (flags.isSet('consensus') && consensus !== 'crdt') {
      throw new UsageError(`consensus "${consensus}" is not supported yet; use crdt`)
    }
    const { refuseInterruptedImport } = await import('./state.ts')
    refuseInterruptedImport(folder)
    log.info(`Initializing. For verbose output run with "-l debug". Please wait...`)
    const config = await loadServiceConfig(folder, { env })
    if (flags.bool('stats')) config.observations.metrics.enableStats = true
    if (flags.bool('leave')) config.cluster.leaveOnShutdown = true
    if (flags.bool('tracing')) config.observations.tracing.enableTracing = true
    const identity = await loadIdentity(folder, env)
    const bootstrap = flags
      .string('bootstrap')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    const { startPeer } = await import('../../daemon.ts')
    guardProcess()
    const peer = await startPeer({ config, identity, bootstrap, noTrust: flags.bool('no-trust') })
    getLogger('cluster').info('** IPFS Cluster is READY **')
    await sdNotifyReady(env.NOTIFY_SOCKET)

    await runUntilSignal(peer)
    process.exit(0)
  }
}

export default daemon
