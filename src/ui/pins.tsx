/**
 * Pinset, pin detail, and queue & errors pages.
 *
 * The pinset page never loads the pinset whole: it streams `/allocations`
 * (or `/pins?filter=<status>` when a status is chosen), keeps the entries
 * that match the search and the peer filter, skips those of earlier pages,
 * and stops reading (aborting the request) once the page plus one entry
 * (to know there is a next page) is filled. A full CID is looked up
 * directly with `GET /allocations/<cid>`.
 */
import { useState } from 'preact/hooks'
import { ApiError, collect, type GlobalPinInfoJSON, type IdJSON, json, ndjson, type PinJSON, request, short } from './api.ts'
import { ActionButton, ErrorBox, Head, Pending, PinLink, Section, Status } from './components.tsx'
import { POLL_MS, usePoll } from './hooks.ts'
import { peerName } from './overview.tsx'

export const PAGE_SIZE = 50
/** Refresh of an unfiltered pinset page, ms. */
const PINSET_POLL_MS = 10_000
const STATUSES = ['pinned', 'pinning', 'pin_queued', 'pin_error', 'unpinning', 'unpin_queued', 'unpin_error', 'unexpectedly_unpinned', 'cluster_error', 'remote']

interface Row {
  cid: string
  name: string
  allocations: string[]
  replication: string
  statuses: string[]
}

function rowOfPin(p: PinJSON): Row {
  return {
    cid: p.cid,
    name: p.name,
    allocations: p.allocations ?? [],
    replication: `${p.replication_factor_min} / ${p.replication_factor_max}`,
    statuses: []
  }
}

function rowOfStatus(g: GlobalPinInfoJSON): Row {
  return {
    cid: g.cid,
    name: g.name,
    allocations: g.allocations ?? [],
    replication: '',
    statuses: [...new Set(Object.values(g.peer_map ?? {}).map((p) => p.status))]
  }
}

/**
 * Whether a search text may be a whole CID: CIDv0 (Qm…, 46 chars) or a
 * multibase CIDv1 (base32 b…, base58 z…, base36 k…). Such a text is looked
 * up directly; the server says 400 when it is not a CID after all.
 */
function mayBeCid(s: string): boolean {
  return /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(s) || /^b[a-z2-7]{20,}$/.test(s) || /^[zk][1-9A-HJ-NP-Za-km-z]{20,}$/.test(s)
}

export interface PageQuery {
  text: string
  status: string
  peer: string
  page: number
}

/**
 * One page of the pinset for a query: reads the stream only up to the end
 * of the page (+1 to know whether another follows).
 */
export async function loadPage(q: PageQuery, signal: AbortSignal): Promise<{ rows: Row[]; more: boolean; scanned: number }> {
  const text = q.text.trim()
  if (mayBeCid(text) && q.status === '') {
    try {
      const p = await json<PinJSON>(`/allocations/${text}`, { signal })
      const ok = q.peer === '' || (p.allocations ?? []).length === 0 || (p.allocations ?? []).includes(q.peer)
      return { rows: ok ? [rowOfPin(p)] : [], more: false, scanned: 1 }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { rows: [], more: false, scanned: 1 }
      // 400: not a CID after all, search it as text
      if (!(err instanceof ApiError && err.status === 400)) throw err
    }
  }
  const needle = text.toLowerCase()
  const matches = (r: Row): boolean =>
    (needle === '' || r.name.toLowerCase().includes(needle) || r.cid.toLowerCase().includes(needle)) &&
    (q.peer === '' || r.allocations.length === 0 || r.allocations.includes(q.peer))
  const skip = q.page * PAGE_SIZE
  const rows: Row[] = []
  let seen = 0
  let scanned = 0
  const source =
    q.status === ''
      ? (async function* () {
          for await (const p of ndjson<PinJSON>('/allocations?filter=pin,meta-pin', { signal })) yield rowOfPin(p)
        })()
      : (async function* () {
          for await (const g of ndjson<GlobalPinInfoJSON>(`/pins?filter=${encodeURIComponent(q.status)}`, { signal })) yield rowOfStatus(g)
        })()
  for await (const r of source) {
    scanned++
    if (!matches(r)) continue
    if (seen++ < skip) continue
    rows.push(r)
    if (rows.length > PAGE_SIZE) break
  }
  return { rows: rows.slice(0, PAGE_SIZE), more: rows.length > PAGE_SIZE, scanned }
}

export function Pinset() {
  const [form, setForm] = useState<PageQuery>({ text: '', status: '', peer: '', page: 0 })
  const [query, setQuery] = useState<PageQuery>(form)
  const peers = usePoll((signal) => collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal), 0, [])
  // live while the page is cheap to read again (no filter: the first entries of the stream); a filtered scan runs on demand
  const live = query.text === '' && query.status === '' && query.peer === ''
  const page = usePoll((signal) => loadPage(query, signal), live ? PINSET_POLL_MS : 0, [query.text, query.status, query.peer, query.page])
  const go = (q: PageQuery): void => {
    setForm(q)
    setQuery(q)
  }
  const allPeers = peers.data ?? []
  return (
    <Section title="Search the pinset">
      <search>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault()
          go({ ...form, page: 0 })
        }}
      >
        <label>
          Search by name or CID
          <input
            type="search"
            name="q"
            value={form.text}
            onInput={(e) => setForm({ ...form, text: (e.target as HTMLInputElement).value })}
            placeholder="name, part of a CID, or a full CID"
          />
        </label>
        <label>
          Status
          <select name="status" value={form.status} onChange={(e) => go({ ...form, status: (e.target as HTMLSelectElement).value, page: 0 })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Allocated to
          <select name="peer" value={form.peer} onChange={(e) => go({ ...form, peer: (e.target as HTMLSelectElement).value, page: 0 })}>
            <option value="">any peer</option>
            {allPeers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.peername || short(p.id)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
        <button type="button" onClick={page.reload}>
          Refresh
        </button>
      </form>
      </search>
      <ErrorBox error={page.error} />
      {page.data === undefined ? (
        page.error === '' && <p aria-busy="true">Loading…</p>
      ) : (
        <>
          <div class="scroll">
            <table data-testid="pinset-table">
              <thead>
                <tr>
                  <th scope="col">CID</th>
                  <th scope="col">Name</th>
                  <th scope="col">{query.status === '' ? 'Replication (min / max)' : 'Statuses'}</th>
                  <th scope="col">Allocations</th>
                </tr>
              </thead>
              <tbody>
                {page.data.rows.map((r) => (
                  <tr key={r.cid}>
                    <td>
                      <PinLink cid={r.cid}>{short(r.cid, 8)}</PinLink>
                    </td>
                    <td>{r.name}</td>
                    <td>{query.status === '' ? r.replication : r.statuses.map((s) => <Status key={s} status={s} />)}</td>
                    <td>{r.allocations.length === 0 ? <span class="muted">every peer</span> : r.allocations.map((a) => peerName(allPeers, a)).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {page.data.rows.length === 0 && <p class="muted">No pin matches.</p>}
          <nav class="pager" aria-label="Pinset pages">
            <button type="button" disabled={query.page === 0} onClick={() => go({ ...query, page: query.page - 1 })}>
              Previous
            </button>
            <span>
              Page {query.page + 1}
              <span class="muted" data-testid="scanned">
                {' '}
                (read {page.data.scanned} {page.data.scanned === 1 ? 'entry' : 'entries'})
              </span>
            </span>
            <button type="button" disabled={!page.data.more} onClick={() => go({ ...query, page: query.page + 1 })}>
              Next
            </button>
          </nav>
        </>
      )}
    </Section>
  )
}

interface Detail {
  pin: PinJSON | null
  status: GlobalPinInfoJSON
  peers: IdJSON[]
}

async function loadDetail(cid: string, signal: AbortSignal): Promise<Detail> {
  const [pin, status, peers] = await Promise.all([
    json<PinJSON>(`/allocations/${encodeURIComponent(cid)}`, { signal }).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return null
      throw err
    }),
    json<GlobalPinInfoJSON>(`/pins/${encodeURIComponent(cid)}`, { signal }),
    collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal)
  ])
  return { pin, status, peers }
}

export function PinDetail({ cid }: { cid: string }) {
  const d = usePoll((signal) => loadDetail(cid, signal), POLL_MS, [cid])
  if (d.data === undefined) return <Pending error={d.error} />
  const { pin, status, peers } = d.data
  const entries = Object.entries(status.peer_map ?? {}).sort(([a], [b]) => peerName(peers, a).localeCompare(peerName(peers, b)))
  const failed = entries.some(([, s]) => /error|unexpectedly/.test(s.status))
  return (
    <>
      <Section
        title="Pin"
        actions={
          <div class="actions">
            <ActionButton label="Recover" kind={failed ? 'primary' : ''} run={async () => {
                await request(`/pins/${cid}/recover`, { method: 'POST' })
                d.reload()
              }} />
            {pin !== null && (
              <ActionButton
                label="Unpin"
                kind="danger"
                confirm={`Unpin ${cid} from the whole cluster?`}
                run={async () => {
                  await request(`/pins/${cid}`, { method: 'DELETE' })
                  d.reload()
                }}
              />
            )}
          </div>
        }
      >
        <ErrorBox error={d.error} />
        <dl class="facts">
          <dt>CID</dt>
          <dd class="mono" data-testid="pin-cid">
            {cid}
          </dd>
          <dt>Name</dt>
          <dd>{pin?.name ?? status.name}</dd>
          {pin === null ? (
            <>
              <dt>Pinset</dt>
              <dd data-testid="not-pinned">not in the pinset</dd>
            </>
          ) : (
            <>
              <dt>Type / mode</dt>
              <dd>
                {pin.type} / {pin.mode}
              </dd>
              <dt>Replication</dt>
              <dd>
                min {pin.replication_factor_min}, max {pin.replication_factor_max}
              </dd>
              <dt>Allocations</dt>
              <dd>{(pin.allocations ?? []).length === 0 ? 'every peer' : (pin.allocations ?? []).map((a) => peerName(peers, a)).join(', ')}</dd>
              <dt>Pinned at</dt>
              <dd>{new Date(pin.timestamp).toLocaleString()}</dd>
              {pin.expire_at !== '' && !pin.expire_at.startsWith('0001') && (
                <>
                  <dt>Expires</dt>
                  <dd>{new Date(pin.expire_at).toLocaleString()}</dd>
                </>
              )}
              <dt>Metadata</dt>
              <dd>
                {Object.entries(pin.metadata ?? {}).length === 0
                  ? '—'
                  : Object.entries(pin.metadata ?? {}).map(([k, v]) => (
                      <div key={k}>
                        <code>{k}</code> = {v}
                      </div>
                    ))}
              </dd>
            </>
          )}
        </dl>
      </Section>
      <Section title="Status per peer">
        <table data-testid="peer-status">
          <Head cols={['Peer', 'Status', 'Error', 'Attempts', 'Since']} />
          <tbody>
            {entries.map(([peer, s]) => (
              <tr key={peer}>
                <th scope="row" title={peer}>
                  {s.peername || peerName(peers, peer)}
                </th>
                <td>
                  <Status status={s.status} />
                </td>
                <td class="error-text">{s.error}</td>
                <td>{s.attempt_count}</td>
                <td>{new Date(s.timestamp).toLocaleTimeString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {pin !== null && <UpdatePin pin={pin} onDone={d.reload} />}
    </>
  )
}

function UpdatePin({ pin, onDone }: { pin: PinJSON; onDone: () => void }) {
  const [name, setName] = useState(pin.name)
  const [rmin, setRmin] = useState(String(pin.replication_factor_min))
  const [rmax, setRmax] = useState(String(pin.replication_factor_max))
  return (
    <Section title="Update pin options">
      <form class="grid-form" onSubmit={(e) => e.preventDefault()}>
        <label>
          Name
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Replication min
          <input type="number" min="-1" value={rmin} onInput={(e) => setRmin((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Replication max
          <input type="number" min="-1" value={rmax} onInput={(e) => setRmax((e.target as HTMLInputElement).value)} />
        </label>
        <ActionButton
          label="Save"
          run={async () => {
            const q = new URLSearchParams({ name, 'replication-min': rmin, 'replication-max': rmax, mode: pin.mode })
            for (const [k, v] of Object.entries(pin.metadata ?? {})) q.set(`meta-${k}`, v)
            await request(`/pins/${pin.cid}?${q}`, { method: 'POST' })
            onDone()
          }}
        />
      </form>
    </Section>
  )
}

const ERROR_STATUSES = 'pin_error,unpin_error,cluster_error,unexpectedly_unpinned'
const QUEUE_STATUSES = 'pin_queued,pinning,unpin_queued,unpinning'
/** Entries shown per list (the queue can be long; the rest is summarised). */
const LIST_CAP = 500

async function loadQueue(signal: AbortSignal): Promise<{ errors: GlobalPinInfoJSON[]; queue: GlobalPinInfoJSON[]; peers: IdJSON[] }> {
  const [errors, queue, peers] = await Promise.all([
    collect<GlobalPinInfoJSON>(`/pins?filter=${ERROR_STATUSES}`, LIST_CAP, signal),
    collect<GlobalPinInfoJSON>(`/pins?filter=${QUEUE_STATUSES}`, LIST_CAP, signal),
    collect<IdJSON>('/peers', Number.POSITIVE_INFINITY, signal)
  ])
  return { errors, queue, peers }
}

function StatusList({ items, peers, only, recover }: { items: GlobalPinInfoJSON[]; peers: IdJSON[]; only: RegExp; recover: (cid: string) => Promise<void> }) {
  const rows = items.flatMap((g) =>
    Object.entries(g.peer_map ?? {})
      .filter(([, s]) => only.test(s.status))
      .map(([peer, s]) => ({ g, peer, s }))
  )
  if (rows.length === 0) return <p class="muted">Nothing here.</p>
  return (
    <table>
      <Head cols={['CID', 'Name', 'Peer', 'Status', 'Error', 'Attempts', 'Actions']} />
      <tbody>
        {rows.map(({ g, peer, s }) => (
          <tr key={`${g.cid}/${peer}`} data-cid={g.cid}>
            <td>
              <PinLink cid={g.cid}>{short(g.cid, 8)}</PinLink>
            </td>
            <td>{g.name}</td>
            <td title={peer}>{s.peername || peerName(peers, peer)}</td>
            <td>
              <Status status={s.status} />
            </td>
            <td class="error-text">{s.error}</td>
            <td>{s.attempt_count}</td>
            <td>
              <ActionButton label="Recover" run={() => recover(g.cid)} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function Queue() {
  const d = usePoll(loadQueue, POLL_MS, [])
  const recover = async (cid: string): Promise<void> => {
    await request(`/pins/${cid}/recover`, { method: 'POST' })
    d.reload()
  }
  if (d.data === undefined) return <Pending error={d.error} />
  return (
    <>
      <ErrorBox error={d.error} />
      <Section
        title="Errors"
        actions={
          <div class="actions">
            <ActionButton
              label="Recover all on this peer"
              run={async () => {
                await request('/pins/recover?local=true', { method: 'POST' })
                d.reload()
              }}
            />
            <ActionButton
              label="Recover all"
              confirm="Recover every failed pin on every peer?"
              run={async () => {
                await request('/pins/recover', { method: 'POST' })
                d.reload()
              }}
            />
          </div>
        }
      >
        <StatusList items={d.data.errors} peers={d.data.peers} only={/error|unexpectedly/} recover={recover} />
      </Section>
      <Section title="Queue">
        <StatusList items={d.data.queue} peers={d.data.peers} only={/queued|pinning/} recover={recover} />
      </Section>
    </>
  )
}
