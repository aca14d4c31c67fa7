/**
 * Alerts (with a history kept in page memory), metrics (latest per peer and
 * small charts over time, also in page memory) and IPFS GC pages.
 */
import { useRef, useState } from 'preact/hooks'
import { type AlertJSON, ago, bytes, collect, type IdJSON, json, type MetricJSON, nsToMs, type RepoGCJSON } from './api.ts'
import { ErrorBox, Head, Pending, Section, Sparkline } from './components.tsx'
import { POLL_MS, usePoll } from './hooks.ts'
import { AlertTable, peerName } from './overview.tsx'

/** Alerts seen since the page was opened (newest first), at most this many. */
const ALERT_HISTORY = 200
const alertHistory: AlertJSON[] = []

function remember(alerts: AlertJSON[]): void {
  for (const a of alerts) {
    if (!alertHistory.some((h) => h.peer === a.peer && h.name === a.name && h.triggered_at === a.triggered_at)) alertHistory.unshift(a)
  }
  alertHistory.sort((a, b) => b.triggered_at.localeCompare(a.triggered_at))
  alertHistory.length = Math.min(alertHistory.length, ALERT_HISTORY)
}

export function Alerts() {
  const d = usePoll(
    async (signal) => {
      const [alerts, peers] = await Promise.all([
        json<AlertJSON[] | null>('/health/alerts', { signal }),
        collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal)
      ])
      remember(alerts ?? [])
      return { alerts: alerts ?? [], peers }
    },
    POLL_MS,
    []
  )
  if (d.data === undefined) return <Pending error={d.error} />
  return (
    <>
      <ErrorBox error={d.error} />
      <Section title={`Current alerts (${d.data.alerts.length})`}>
        {d.data.alerts.length === 0 ? <p class="muted">No alert.</p> : <AlertTable alerts={d.data.alerts} peers={d.data.peers} />}
      </Section>
      <Section title="Seen since this page was opened">
        {alertHistory.length === 0 ? <p class="muted">None yet.</p> : <AlertTable alerts={alertHistory} peers={d.data.peers} />}
      </Section>
    </>
  )
}

/** Points kept per series (one a poll: ~4 minutes at 2 s). */
const SERIES_POINTS = 120
/** metric name → peer → values, kept for the page's life. */
const series = new Map<string, Map<string, number[]>>()

function record(ms: MetricJSON[]): void {
  for (const m of ms) {
    const v = Number(m.value)
    if (!Number.isFinite(v)) continue
    const byPeer = series.get(m.name) ?? new Map<string, number[]>()
    series.set(m.name, byPeer)
    const vals = byPeer.get(m.peer) ?? []
    vals.push(v)
    if (vals.length > SERIES_POINTS) vals.shift()
    byPeer.set(m.peer, vals)
  }
}

function formatFor(name: string): (n: number) => string {
  return name === 'freespace' || name === 'reposize' ? bytes : (n) => String(n)
}

export function Metrics() {
  const d = usePoll(
    async (signal) => {
      const [unsorted, peers] = await Promise.all([
        json<string[] | null>('/monitor/metrics', { signal }),
        collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal)
      ])
      // the numeric ones (charted) first
      const rank = (n: string): number => ['freespace', 'pinqueue', 'reposize'].indexOf(n) >>> 0
      const names = [...(unsorted ?? [])].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
      const all = await Promise.all(names.map((n) => json<MetricJSON[] | null>(`/monitor/metrics/${encodeURIComponent(n)}`, { signal })))
      const metrics = all.flatMap((x) => x ?? [])
      record(metrics)
      return { names, metrics, peers }
    },
    POLL_MS,
    []
  )
  if (d.data === undefined) return <Pending error={d.error} />
  const { names, metrics, peers } = d.data
  return (
    <>
      <ErrorBox error={d.error} />
      {names.map((name) => (
        <Section key={name} title={`Metric ${name}`}>
          <table>
            <Head cols={['Peer', 'Value', 'Received', 'Expires', 'Over time']} />
            <tbody>
              {metrics
                .filter((m) => m.name === name)
                .map((m) => (
                  <tr key={m.peer}>
                    <th scope="row" title={m.peer}>
                      {peerName(peers, m.peer)}
                    </th>
                    <td class="clip" title={m.value}>
                      {Number.isFinite(Number(m.value)) && m.value !== '' ? formatFor(name)(Number(m.value)) : m.value}
                    </td>
                    <td>{ago(nsToMs(m.received_at))}</td>
                    <td>{ago(nsToMs(m.expire))}</td>
                    <td>
                      <Sparkline values={series.get(name)?.get(m.peer) ?? []} label={`${name} of ${peerName(peers, m.peer)}`} format={formatFor(name)} />
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </Section>
      ))}
    </>
  )
}

export function Gc() {
  const [result, setResult] = useState<Record<string, RepoGCJSON> | null>(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const peers = usePoll((signal) => collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal), 0, [])
  const seq = useRef(0)
  const run = async (local: boolean): Promise<void> => {
    const mine = ++seq.current
    setBusy(true)
    setError('')
    try {
      const r = await json<{ peer_map: Record<string, RepoGCJSON> | null }>(`/ipfs/gc${local ? '?local=true' : ''}`, { method: 'POST' })
      if (mine === seq.current) setResult(r.peer_map ?? {})
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return (
    <Section title="IPFS garbage collection">
      <p>Runs <code>repo gc</code> on the IPFS daemon of this peer, or of every peer. Unpinned blocks are removed.</p>
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => void run(true)}>
          GC this peer's IPFS
        </button>
        <button type="button" disabled={busy} onClick={() => confirm('Run GC on every peer?') && void run(false)}>
          GC every peer's IPFS
        </button>
      </div>
      {busy && <p aria-busy="true">Running…</p>}
      <ErrorBox error={error} />
      {result !== null && (
        <table data-testid="gc-result">
          <Head cols={['Peer', 'Blocks removed', 'Errors']} />
          <tbody>
            {Object.entries(result).map(([peer, r]) => (
              <tr key={peer}>
                <th scope="row" title={peer}>
                  {r.peername || peerName(peers.data ?? [], peer)}
                </th>
                <td>{(r.keys ?? []).filter((k) => k.key !== null).length}</td>
                <td class="error-text">{[r.error, ...(r.keys ?? []).map((k) => k.error)].filter((e) => e !== '').join('; ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  )
}
