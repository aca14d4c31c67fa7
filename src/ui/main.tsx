/**
 * The web dashboard served at `/ui/` (see src/api/rest/ui.ts): a Preact
 * single-page app on the public REST API of the peer that serves it. Hash
 * routes (`#/pins`, `#/pin/<cid>`, …), so the server has one HTML shell.
 * Built into src/api/rest/ui-assets.gen.ts by scripts/build-ui.ts.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { Add } from './add.tsx'
import { ApiError, authRequired, isLoggedIn, login, logout, onUnauthorized } from './api.ts'
import { ErrorBox } from './components.tsx'
import { useRoute } from './hooks.ts'
import { Alerts, Gc, Metrics } from './ops.tsx'
import { Overview, Peers } from './overview.tsx'
import { PinDetail, Pinset, Queue } from './pins.tsx'

const PAGES = [
  { path: '', label: 'Overview' },
  { path: 'peers', label: 'Peers' },
  { path: 'pins', label: 'Pinset' },
  { path: 'queue', label: 'Queue & errors' },
  { path: 'add', label: 'Add' },
  { path: 'alerts', label: 'Alerts' },
  { path: 'metrics', label: 'Metrics' },
  { path: 'gc', label: 'IPFS GC' }
] as const

function Login({ onDone }: { onDone: () => void }) {
  const [user, setUser] = useState('')
  const [password, setPassword] = useState('')
  const [useToken, setUseToken] = useState(true)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  return (
    <main class="login">
      <h1>IPFS Cluster</h1>
      <form
        aria-label="Log in"
        onSubmit={async (e) => {
          e.preventDefault()
          setBusy(true)
          setError('')
          try {
            await login(user, password, useToken)
            onDone()
          } catch (err) {
            setError(err instanceof ApiError && err.status === 401 ? `wrong credentials: ${err.message}` : (err as Error).message)
          } finally {
            setBusy(false)
          }
        }}
      >
        <p>This peer's REST API needs its basic-auth credentials.</p>
        <label>
          User
          <input name="user" autocomplete="username" required value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="check">
          <input type="checkbox" name="token" checked={useToken} onChange={(e) => setUseToken((e.target as HTMLInputElement).checked)} />
          Exchange them for a token (<code>POST /token</code>) and keep only the token
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  )
}

function Page({ route }: { route: string[] }) {
  const [first, second] = route
  switch (first ?? '') {
    case '':
      return <Overview />
    case 'peers':
      return <Peers />
    case 'pins':
      return <Pinset />
    case 'pin':
      return <PinDetail cid={second ?? ''} />
    case 'queue':
      return <Queue />
    case 'add':
      return <Add />
    case 'alerts':
      return <Alerts />
    case 'metrics':
      return <Metrics />
    case 'gc':
      return <Gc />
    default:
      return <p>No such page.</p>
  }
}

type AuthState = 'checking' | 'needed' | 'ok'

function App() {
  const route = useRoute()
  const [auth, setAuth] = useState<AuthState>('checking')
  const [error, setError] = useState('')
  useEffect(() => {
    authRequired()
      .then((needed) => setAuth(needed && !isLoggedIn() ? 'needed' : 'ok'))
      .catch((err: unknown) => setError((err as Error).message))
    return onUnauthorized(() => {
      logout()
      setAuth('needed')
    })
  }, [])
  if (error !== '') return <ErrorBox error={error} />
  if (auth === 'checking') return <p aria-busy="true">Connecting…</p>
  if (auth === 'needed') return <Login onDone={() => setAuth('ok')} />
  const current = route[0] === 'pin' ? 'pins' : (route[0] ?? '')
  const title = PAGES.find((p) => p.path === current)?.label ?? 'Pin'
  return (
    <>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">IPFS Cluster</span>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.path} href={`#/${p.path}`} aria-current={p.path === current ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        {isLoggedIn() && (
          <button
            type="button"
            class="link"
            onClick={() => {
              logout()
              setAuth('needed')
            }}
          >
            Log out
          </button>
        )}
      </header>
      <main id="main">
        <h1>{route[0] === 'pin' ? 'Pin detail' : title}</h1>
        <Page route={route} />
      </main>
    </>
  )
}

render(<App />, document.getElementById('app')!)
