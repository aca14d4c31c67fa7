/** Overview and peers pages: the serving peer, the peerset, free space, queues, alerts. */
import { type AlertJSON, bytes, collect, countLines, type GlobalPinInfoJSON, type IdJSON, json, type MetricJSON, ago, nsToMs, short } from './api.ts'
import { ErrorBox, Head, Pending, Section, Status } from './components.tsx'
import { POLL_MS, usePoll } from './hooks.ts'

/** The statuses counted on the overview, with `/pins?local=true&filter=` (all but pinned are small sets). */
const COUNTED = ['pin_queued', 'pinning', 'pin_error', 'unpin_queued', 'unpinning', 'unpin_error', 'unexpectedly_unpinned', 'cluster_error']
/** The pinset, pinned and remote pins are counted up to this many (the overview must stay cheap at 1M pins). */
export const COUNT_CAP = 10_000
/** The overview's small calls (id, peers, metrics, alerts, non-pinned statuses), ms. */
const OVERVIEW_POLL_MS = 5000

function capped(n: number): string {
  return n >= COUNT_CAP ? `${COUNT_CAP.toLocaleString()}+` : n.toLocaleString()
}

/** Metrics of one name, by peer. */
export async function metricsByPeer(name: string, signal: AbortSignal): Promise<Map<string, MetricJSON>> {
  const ms = (await json<MetricJSON[] | null>(`/monitor/metrics/${encodeURIComponent(name)}`, { signal })) ?? []
  return new Map(ms.map((m) => [m.peer, m]))
}

interface OverviewData {
  id: IdJSON
  version: string
  peers: IdJSON[]
  freespace: Map<string, MetricJSON>
  alerts: AlertJSON[]
  counts: Record<string, number>
}

/** The large sets, counted up to COUNT_CAP, refreshed less often (each is a stream of up to 10,000 entries). */
interface BigCounts {
  pinned: number
  remote: number
  pinset: number
}
const COUNTS_POLL_MS = 30_000

async function loadCounts(signal: AbortSignal): Promise<BigCounts> {
  const [pinned, remote, pinset] = await Promise.all([
    countLines('/pins?local=true&filter=pinned', COUNT_CAP, signal),
    countLines('/pins?local=true&filter=remote', COUNT_CAP, signal),
    countLines('/allocations', COUNT_CAP, signal)
  ])
  return { pinned, remote, pinset }
}

async function loadOverview(signal: AbortSignal): Promise<OverviewData> {
  const [id, version, peers, freespace, alerts, busy] = await Promise.all([
    json<IdJSON>('/id', { signal }),
    json<{ version: string }>('/version', { signal }),
    collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal),
    metricsByPeer('freespace', signal),
    json<AlertJSON[] | null>('/health/alerts', { signal }),
    collect<GlobalPinInfoJSON>(`/pins?local=true&filter=${COUNTED.join(',')}`, Number.POSITIVE_INFINITY, signal)
  ])
  const counts: Record<string, number> = {}
  for (const g of busy) for (const p of Object.values(g.peer_map ?? {})) counts[p.status] = (counts[p.status] ?? 0) + 1
  return { id, version: version.version, peers, freespace, alerts: alerts ?? [], counts }
}

export function Overview() {
  const { data, error } = usePoll(loadOverview, OVERVIEW_POLL_MS, [])
  const big = usePoll(loadCounts, COUNTS_POLL_MS, [])
  if (data === undefined) return <Pending error={error} />
  const count = (k: keyof BigCounts): string => (big.data === undefined ? '…' : capped(big.data[k]))
  const free = [...data.freespace.values()].map((m) => Number(m.value)).filter(Number.isFinite)
  const total = free.reduce((a, b) => a + b, 0)
  return (
    <>
      <ErrorBox error={error || big.error} />
      <div class="tiles">
        <Tile label="Peers" value={String(data.peers.length)} testid="peer-count" />
        <Tile label="Pins in the pinset" value={count('pinset')} testid="pinset-count" />
        <Tile label="Pinned here" value={count('pinned')} testid="pinned-count" />
        <Tile label="Queued / pinning" value={String((data.counts.pin_queued ?? 0) + (data.counts.pinning ?? 0))} testid="queued-count" />
        <Tile label="Errors" value={String((data.counts.pin_error ?? 0) + (data.counts.unpin_error ?? 0) + (data.counts.cluster_error ?? 0))} testid="error-count" />
        <Tile label="Free space (all)" value={bytes(total)} />
        <Tile label="Free space (least)" value={free.length > 0 ? bytes(Math.min(...free)) : '—'} />
        <Tile label="Alerts" value={String(data.alerts.length)} testid="alert-count" />
      </div>
      <Section title="This peer">
        <dl class="facts">
          <dt>Name</dt>
          <dd>{data.id.peername}</dd>
          <dt>Peer ID</dt>
          <dd class="mono">{data.id.id}</dd>
          <dt>Version</dt>
          <dd data-testid="version">{data.version}</dd>
          <dt>IPFS</dt>
          <dd>{data.id.ipfs?.error ? <span class="error">{data.id.ipfs.error}</span> : <span class="mono">{data.id.ipfs?.id}</span>}</dd>
        </dl>
      </Section>
      <Section title="Local pin status">
        <table>
          <Head cols={['Status', 'Pins on this peer']} />
          <tbody>
            <tr>
              <td>
                <Status status="pinned" />
              </td>
              <td>{count('pinned')}</td>
            </tr>
            <tr>
              <td>
                <Status status="remote" />
              </td>
              <td>{count('remote')}</td>
            </tr>
            {COUNTED.map((s) => (
              <tr key={s}>
                <td>
                  <Status status={s} />
                </td>
                <td>{data.counts[s] ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {data.alerts.length > 0 && (
        <Section title="Open alerts">
          <AlertTable alerts={data.alerts} peers={data.peers} />
        </Section>
      )}
    </>
  )
}

function Tile({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div class="tile">
      <div class="tile-value" data-testid={testid}>
        {value}
      </div>
      <div class="tile-label">{label}</div>
    </div>
  )
}

export function peerName(peers: IdJSON[], id: string): string {
  return peers.find((p) => p.id === id)?.peername || short(id)
}

export function AlertTable({ alerts, peers }: { alerts: AlertJSON[]; peers: IdJSON[] }) {
  return (
    <table>
      <Head cols={['Peer', 'Metric', 'Triggered']} />
      <tbody>
        {alerts.map((a) => (
          <tr key={`${a.peer}/${a.name}/${a.triggered_at}`}>
            <td title={a.peer}>{peerName(peers, a.peer)}</td>
            <td>{a.name}</td>
            <td>{new Date(a.triggered_at).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

interface PeersData {
  peers: IdJSON[]
  freespace: Map<string, MetricJSON>
  pinqueue: Map<string, MetricJSON>
  ping: Map<string, MetricJSON>
}

async function loadPeers(signal: AbortSignal): Promise<PeersData> {
  const [peers, freespace, pinqueue, ping] = await Promise.all([
    collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal),
    metricsByPeer('freespace', signal),
    metricsByPeer('pinqueue', signal).catch(() => new Map<string, MetricJSON>()),
    metricsByPeer('ping', signal)
  ])
  peers.sort((a, b) => a.peername.localeCompare(b.peername))
  return { peers, freespace, pinqueue, ping }
}

export function Peers() {
  const { data, error } = usePoll(loadPeers, POLL_MS, [])
  if (data === undefined) return <Pending error={error} />
  return (
    <Section title={`Peers (${data.peers.length})`}>
      <ErrorBox error={error} />
      <div class="scroll">
        <table data-testid="peers-table">
          <Head cols={['Name', 'Peer ID', 'Version', 'Sees', 'Addresses', 'IPFS (kubo)', 'Free space', 'Pin queue', 'Last seen']} />
          <tbody>
            {data.peers.map((p) => {
              const ping = data.ping.get(p.id)
              const queue = data.pinqueue.get(p.id)
              const free = data.freespace.get(p.id)
              return (
                <tr key={p.id} data-peer={p.id}>
                  <th scope="row">{p.peername}</th>
                  <td class="mono" title={p.id}>
                    {short(p.id)}
                    {p.error !== '' && <div class="error">{p.error}</div>}
                  </td>
                  <td>{p.version}</td>
                  <td>{(p.cluster_peers ?? []).length} peers</td>
                  <td class="mono small">
                    {(p.addresses ?? []).slice(0, 3).map((a) => (
                      <div key={a}>{a}</div>
                    ))}
                  </td>
                  <td class="mono small">
                    {p.ipfs?.error ? <span class="error">{p.ipfs.error}</span> : <span title={p.ipfs?.id}>{short(p.ipfs?.id ?? '')}</span>}
                    {(p.ipfs?.addresses ?? []).slice(0, 2).map((a) => (
                      <div key={a}>{a}</div>
                    ))}
                  </td>
                  <td>{free !== undefined ? bytes(Number(free.value)) : '—'}</td>
                  <td>{queue !== undefined ? queue.value : '—'}</td>
                  <td>{ping !== undefined ? ago(nsToMs(ping.received_at)) : '—'}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
    </Section>
  )
}
