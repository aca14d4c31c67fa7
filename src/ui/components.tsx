/** Shared pieces of the dashboard's pages. */
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'

/** A tracker status as a coloured badge (text first: colour is not the only cue). */
export function Status({ status }: { status: string }) {
  const kind = /error|unexpectedly/.test(status) ? 'bad' : status === 'pinned' ? 'good' : /queued|pinning|unpinning/.test(status) ? 'busy' : 'neutral'
  return <span class={`badge ${kind}`} data-status={status}>{status}</span>
}

export function ErrorBox({ error }: { error: string }) {
  if (error === '') return null
  return (
    <p class="error" role="alert">
      {error}
    </p>
  )
}

/** What a page shows before its first data: the error, or a busy note. */
export function Pending({ error }: { error: string }) {
  return error !== '' ? <ErrorBox error={error} /> : <p aria-busy="true">Loading…</p>
}

/** A table head of column headers. */
export function Head({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  )
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  )
}

/** A button that runs an async action, disabled while it runs, showing its error. */
export function ActionButton({ label, run, confirm: ask, kind }: { label: string; run: () => Promise<unknown>; confirm?: string; kind?: string }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  return (
    <span class="action">
      <button
        type="button"
        class={kind}
        disabled={busy}
        onClick={async () => {
          if (ask !== undefined && !confirm(ask)) return
          setBusy(true)
          setError('')
          try {
            await run()
          } catch (err) {
            setError((err as Error).message)
          } finally {
            setBusy(false)
          }
        }}
      >
        {busy ? `${label}…` : label}
      </button>
      {error !== '' && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  )
}

/** A tiny SVG line chart of the last values (no axes; min and max as text). */
export function Sparkline({ values, label, format }: { values: number[]; label: string; format: (n: number) => string }) {
  const w = 160
  const h = 36
  if (values.length === 0) return <span class="muted">no data yet</span>
  const min = Math.min(...values)
  const max = Math.max(...values)
  const span = max - min || 1
  const last = values[values.length - 1]!
  const step = values.length > 1 ? w / (values.length - 1) : 0
  // a flat series is drawn mid-height
  const y = (v: number): number => (max === min ? h / 2 : h - 2 - ((v - min) / span) * (h - 4))
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
  return (
    <figure class="spark">
      <svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={`${label}: last ${format(last)}, min ${format(min)}, max ${format(max)}`}>
        <rect x="0" y="0" width={w} height={h} class="spark-bg" />
        {values.length === 1 ? <circle cx={w - 2} cy={y(last)} r="2" fill="currentColor" /> : <polyline points={points} fill="none" stroke="currentColor" stroke-width="2" />}
      </svg>
      <figcaption>
        {format(last)} <span class="muted">(min {format(min)}, max {format(max)})</span>
      </figcaption>
    </figure>
  )
}

/** A link to a pin's detail page. */
export function PinLink({ cid, children }: { cid: string; children?: ComponentChildren }) {
  return (
    <a href={`#/pin/${encodeURIComponent(cid)}`} class="mono">
      {children ?? cid}
    </a>
  )
}
