/**
 * Add page: pin a CID or an /ipfs|/ipns|/ipld path (`POST /pins/...` with
 * the options in the query), or upload files through `POST /add`
 * (multipart) with an upload progress bar.
 */
import { useState } from 'preact/hooks'
import { authHeader, type PinJSON, json } from './api.ts'
import { ErrorBox, Section } from './components.tsx'

/** "k=v" lines → meta-k=v query parameters. @throws Error naming a line without "=" */
function metadataParams(text: string, q: URLSearchParams): void {
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const i = line.indexOf('=')
    if (i <= 0) throw new Error(`metadata line "${line}" is not key=value`)
    q.set(`meta-${line.slice(0, i).trim()}`, line.slice(i + 1).trim())
  }
}

function optionParams(name: string, rmin: string, rmax: string, meta: string): URLSearchParams {
  const q = new URLSearchParams()
  if (name !== '') q.set('name', name)
  if (rmin !== '') q.set('replication-min', rmin)
  if (rmax !== '') q.set('replication-max', rmax)
  metadataParams(meta, q)
  return q
}

function Options({ prefix, state }: { prefix: string; state: ReturnType<typeof useOptions> }) {
  return (
    <>
      <label>
        Name
        <input name={`${prefix}-name`} value={state.name} onInput={(e) => state.setName((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        Replication min
        <input name={`${prefix}-rmin`} type="number" min="-1" value={state.rmin} onInput={(e) => state.setRmin((e.target as HTMLInputElement).value)} placeholder="cluster default" />
      </label>
      <label>
        Replication max
        <input name={`${prefix}-rmax`} type="number" min="-1" value={state.rmax} onInput={(e) => state.setRmax((e.target as HTMLInputElement).value)} placeholder="cluster default" />
      </label>
      <label class="wide">
        Metadata (one key=value a line)
        <textarea name={`${prefix}-meta`} rows={3} value={state.meta} onInput={(e) => state.setMeta((e.target as HTMLTextAreaElement).value)} />
      </label>
    </>
  )
}

function useOptions() {
  const [name, setName] = useState('')
  const [rmin, setRmin] = useState('')
  const [rmax, setRmax] = useState('')
  const [meta, setMeta] = useState('')
  return { name, setName, rmin, setRmin, rmax, setRmax, meta, setMeta }
}

export function AddPin() {
  const opts = useOptions()
  const [target, setTarget] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  return (
    <Section title="Pin a CID or path">
      <form
        class="grid-form"
        onSubmit={async (e) => {
          e.preventDefault()
          setError('')
          setBusy(true)
          try {
            const q = optionParams(opts.name, opts.rmin, opts.rmax, opts.meta)
            const t = target.trim()
            if (t === '') throw new Error('a CID or path is needed')
            const path = /^\/(ipfs|ipns|ipld)\//.test(t) ? `/pins${t}` : `/pins/${encodeURIComponent(t)}`
            const pin = await json<PinJSON>(`${path}?${q}`, { method: 'POST' })
            location.hash = `#/pin/${encodeURIComponent(pin.cid)}`
          } catch (err) {
            setError((err as Error).message)
          } finally {
            setBusy(false)
          }
        }}
      >
        <label class="wide">
          CID or path
          <input name="cid" required value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} placeholder="bafy… or /ipfs/bafy…/dir" />
        </label>
        <Options prefix="pin" state={opts} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Pinning…' : 'Pin'}
        </button>
      </form>
      <ErrorBox error={error} />
    </Section>
  )
}

interface Added {
  name: string
  cid: string
  size?: number
}

export function Upload() {
  const opts = useOptions()
  const [files, setFiles] = useState<FileList | null>(null)
  const [progress, setProgress] = useState<number | null>(null)
  const [added, setAdded] = useState<Added[]>([])
  const [error, setError] = useState('')
  const upload = (): void => {
    setError('')
    setAdded([])
    let q: URLSearchParams
    try {
      q = optionParams(opts.name, opts.rmin, opts.rmax, opts.meta)
    } catch (err) {
      setError((err as Error).message)
      return
    }
    if (files === null || files.length === 0) {
      setError('choose at least one file')
      return
    }
    if (files.length > 1) q.set('wrap-with-directory', 'true')
    const body = new FormData()
    for (const f of files) body.append('file', f, f.name)
    // XMLHttpRequest: fetch() has no upload progress events
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/add?${q}`)
    const auth = authHeader()
    if (auth !== null) xhr.setRequestHeader('Authorization', auth)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) setProgress(e.loaded / e.total)
    }
    xhr.onerror = () => {
      setProgress(null)
      setError('upload failed: the peer cannot be reached')
    }
    xhr.onload = () => {
      setProgress(null)
      const lines = xhr.responseText
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Added & { code?: number; message?: string })
      if (xhr.status !== 200) {
        setError(lines[0]?.message ?? `upload failed: ${xhr.status}`)
        return
      }
      const trailer = xhr.getResponseHeader('X-Stream-Error')
      if (trailer !== null && trailer !== '') setError(trailer)
      setAdded(lines.filter((l) => l.cid !== ''))
    }
    setProgress(0)
    xhr.send(body)
  }
  const root = added[added.length - 1]
  return (
    <Section title="Upload files">
      <form
        class="grid-form"
        onSubmit={(e) => {
          e.preventDefault()
          upload()
        }}
      >
        <label class="wide">
          Files
          <input name="files" type="file" multiple onChange={(e) => setFiles((e.target as HTMLInputElement).files)} />
        </label>
        <Options prefix="add" state={opts} />
        <button type="submit" class="primary" disabled={progress !== null}>
          Upload
        </button>
      </form>
      {progress !== null && (
        <label class="wide">
          Uploading
          <progress max={1} value={progress} data-testid="upload-progress">
            {Math.round(progress * 100)}%
          </progress>
        </label>
      )}
      <ErrorBox error={error} />
      {root !== undefined && (
        <div role="status">
          <p>
            Added <strong>{root.name}</strong>:{' '}
            <a href={`#/pin/${encodeURIComponent(root.cid)}`} class="mono" data-testid="added-cid">
              {root.cid}
            </a>
          </p>
          {added.length > 1 && (
            <ul class="small mono">
              {added.slice(0, -1).map((a) => (
                <li key={a.cid + a.name}>
                  {a.name}: {a.cid}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Section>
  )
}

export function Add() {
  return (
    <>
      <AddPin />
      <Upload />
    </>
  )
}
