import { describe, expect, test } from 'bun:test'
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { createRestApp, DEFAULT_CORS, type RestApiInit } from '../../../src/api/rest/app.ts'
import { constantTimeEqual, generateToken, parseBasicAuth, parseBearerToken, verifyBasicAuth, verifyToken } from '../../../src/api/rest/auth.ts'
import { stubCluster } from './stub.ts'

const creds = { alice: 'secret', bob: 'hunter2' }
const basic = (u: string, p: string): string => `Basic ${btoa(`${u}:${p}`)}`
const REALM = 'realm="Restricted IPFS Cluster API"'

function app(credentials: Record<string, string> | null = creds) {
  const init: RestApiInit = {
    basicAuthCredentials: credentials,
    headers: { 'X-Custom': ['1'] },
    ...DEFAULT_CORS,
    corsAllowedOrigins: ['*'],
    corsAllowedMethods: ['GET'],
    corsAllowedHeaders: [],
    corsExposedHeaders: []
  }
  return createRestApp(init, { cluster: stubCluster() })
}

describe('basic auth', () => {
  test('good credentials pass', async () => {
    const res = await app().request('/id', { headers: { Authorization: basic('alice', 'secret') } })
    expect(res.status).toBe(200)
  })

  test('bad password is 401 with a Basic challenge and JSON body', async () => {
    const res = await app().request('/id', { headers: { Authorization: basic('alice', 'nope') } })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(`Basic ${REALM}`)
    expect(res.headers.get('X-Custom')).toBe('1')
    const j = (await res.json()) as { code: number; message: string }
    expect(j.code).toBe(401)
    expect(j.message.toLowerCase()).toContain('unauthorized')
  })

  test('no credentials is 401 with Bearer and Basic challenges', async () => {
    const res = await app().request('/id')
    expect(res.status).toBe(401)
    const h = res.headers.get('WWW-Authenticate') ?? ''
    expect(h).toContain(`Basic ${REALM}`)
    expect(h).toContain(`Bearer ${REALM}`)
    expect(await res.json()).toEqual({ code: 401, message: 'unauthorized: no auth provided' })
  })

  test('GET /health and OPTIONS bypass auth', async () => {
    const a = app()
    expect((await a.request('/health')).status).toBe(204)
    const pre = await a.request('/id', { method: 'OPTIONS', headers: { Origin: 'http://x', 'Access-Control-Request-Method': 'GET' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect((await a.request('/health', { method: 'POST' })).status).toBe(401)
  })

  test('auth runs before slash handling', async () => {
    expect((await app().request('/id/')).status).toBe(401)
    expect((await app().request('/id/', { headers: { Authorization: basic('bob', 'hunter2') } })).status).toBe(307)
  })

  test('auth off: everything open, /token is 401', async () => {
    const a = app(null)
    expect((await a.request('/id')).status).toBe(200)
    expect((await a.request('/token', { method: 'POST' })).status).toBe(401)
  })
})

describe('JWT', () => {
  test('POST /token issues an HS256 token with iss that authenticates', async () => {
    const a = app()
    const res = await a.request('/token', { method: 'POST', headers: { Authorization: basic('alice', 'secret') } })
    expect(res.status).toBe(200)
    const { token } = (await res.json()) as { token: string }
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(decodeJwt(token)).toEqual({ iss: 'alice' })
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
    // a token can also get a new token
    const again = await a.request('/token', { method: 'POST', headers: { Authorization: `bearer ${token}` } })
    expect(again.status).toBe(200)
  })

  test('token signed with the wrong password or unknown issuer is refused', async () => {
    const a = app()
    const wrong = await generateToken('alice', 'not-her-password')
    const r1 = await a.request('/id', { headers: { Authorization: `Bearer ${wrong}` } })
    expect(r1.status).toBe(401)
    expect(r1.headers.get('WWW-Authenticate')).toBe(`Bearer ${REALM}, error="invalid_token"`)
    const unknown = await generateToken('mallory', 'x')
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${unknown}` } })).status).toBe(401)
    expect((await a.request('/id', { headers: { Authorization: 'Bearer garbage' } })).status).toBe(401)
  })

  test('expired tokens are refused, HS512 accepted', async () => {
    const key = new TextEncoder().encode('secret')
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('alice').setExpirationTime(1).sign(key)
    await expect(verifyToken(creds, expired)).rejects.toThrow()
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setIssuer('alice').sign(key)
    expect(await verifyToken(creds, hs512)).toBe('alice')
  })

  test('alg "none", a re-signed payload and a past exp are refused (401)', async () => {
    const a = app()
    const b64 = (o: unknown): string => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'alice' })}.`
    await expect(verifyToken(creds, none)).rejects.toThrow()
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${none}` } })).status).toBe(401)
    // a valid token whose payload is swapped for another user's keeps alice's signature
    const good = await generateToken('alice', 'secret')
    const [h, , sig] = good.split('.')
    const forged = `${h}.${b64({ iss: 'bob' })}.${sig}`
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${forged}` } })).status).toBe(401)
    const key = new TextEncoder().encode('secret')
    const past = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key)
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${past}` } })).status).toBe(401)
    expect((await a.request('/id', { headers: { Authorization: `Bearer ${good}` } })).status).toBe(200)
  })

  test('credentials compare in constant time (SHA-256 digests, timingSafeEqual) and still match exactly', () => {
    expect(constantTimeEqual('secret', 'secret')).toBe(true)
    expect(constantTimeEqual('secret', 'secreT')).toBe(false)
    expect(constantTimeEqual('secret', 'secret ')).toBe(false)
    expect(constantTimeEqual('', '')).toBe(true)
    expect(verifyBasicAuth(creds, 'alice', 'secret')).toBe(true)
    expect(verifyBasicAuth(creds, 'alice', 'secre')).toBe(false)
    expect(verifyBasicAuth(creds, 'alice', 'hunter2')).toBe(false)
    expect(verifyBasicAuth(creds, 'mallory', '')).toBe(false)
    expect(verifyBasicAuth(creds, 'mallory', 'secret')).toBe(false)
    expect(verifyBasicAuth(creds, 'toString', 'x')).toBe(false)
    expect(verifyBasicAuth({ '': '' }, '', '')).toBe(false)
  })

  test('a token made like upstream (golang-jwt, HS256, {iss}) verifies', async () => {
    // header {"alg":"HS256","typ":"JWT"}, claims {"iss":"alice"}, key "secret"
    const tok = await generateToken('alice', 'secret')
    const [h, p] = tok.split('.')
    expect(atob(h!.replace(/-/g, '+').replace(/_/g, '/'))).toBe('{"alg":"HS256","typ":"JWT"}')
    expect(atob(p!.replace(/-/g, '+').replace(/_/g, '/'))).toBe('{"iss":"alice"}')
    expect(await verifyToken(creds, tok)).toBe('alice')
  })
})

describe('header parsing', () => {
  test('basic', () => {
    expect(parseBasicAuth(basic('a', 'b:c'))).toEqual({ user: 'a', password: 'b:c' })
    expect(parseBasicAuth(`basic ${btoa('u:p')}`)).toEqual({ user: 'u', password: 'p' })
    expect(parseBasicAuth(`Basic ${btoa('nocolon')}`)).toBeNull()
    expect(parseBasicAuth('Basic !!!')).toBeNull()
    expect(parseBasicAuth(undefined)).toBeNull()
  })
  test('bearer', () => {
    expect(parseBearerToken('Bearer abc')).toBe('abc')
    expect(parseBearerToken('BEARER abc')).toBe('abc')
    expect(parseBearerToken('Basic abc')).toBeNull()
  })
})
