/**
 * REST API authentication, mirroring upstream `api/common/api.go`
 * (`authHandler`, `verifyBasicAuth`, `verifyToken`,
 * `GenerateTokenHandler`):
 * - `basic_auth_credentials` maps user to password; `null` turns auth off;
 * - credentials are HTTP Basic, or `Bearer <JWT>` signed HS256 with the
 *   user's password and carrying the claim `iss: <user>`;
 * - `OPTIONS` requests and `GET /health` bypass auth;
 * - failures throw {@link UnauthorizedError}; the app's error handler turns
 *   it into 401 with its `WWW-Authenticate` challenges and the upstream
 *   message (`unauthorized: access denied`, `unauthorized: invalid token`,
 *   `unauthorized: no auth provided`).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { decodeJwt, jwtVerify, SignJWT } from 'jose'
import { ClusterError, errorMessage } from '../../errors.ts'
import { getLogger } from '../../observability/logging.ts'

const log = getLogger('restapi')

/** The realm of every `WWW-Authenticate` challenge. */
export const AUTH_REALM = 'Restricted IPFS Cluster API'

/** user -> password; null = authentication disabled. */
export type BasicAuthCredentials = Record<string, string> | null

/** Missing or wrong credentials (HTTP 401). */
export class UnauthorizedError extends ClusterError {
  static override name = 'UnauthorizedError'
  /** `WWW-Authenticate` header values to send with the 401. */
  readonly challenges: string[]
  constructor(message = 'unauthorized', challenges: string[] = []) {
    super(message)
    this.challenges = challenges
  }
}

/** Builds a `WWW-Authenticate` challenge (upstream `wwwAuthenticate`). */
export function wwwAuthenticate(scheme: 'Basic' | 'Bearer', error = '', description = ''): string {
  let s = `${scheme} realm="${AUTH_REALM}"`
  if (error !== '') s += `, error="${error}"`
  if (description !== '') s += `, error_description="${description}"`
  return s
}

/** Parses `Authorization: Basic <base64(user:pass)>` (Go `Request.BasicAuth`); null if absent or malformed. */
export function parseBasicAuth(header: string | undefined | null): { user: string; password: string } | null {
  if (header == null) return null
  const prefix = 'basic '
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return null
  const b64 = header.slice(prefix.length)
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null
  let decoded: string
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)))
  } catch {
    return null
  }
  const i = decoded.indexOf(':')
  if (i < 0) return null
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) }
}

/** Parses `Authorization: Bearer <token>` (case-insensitive scheme); null if absent. */
export function parseBearerToken(header: string | undefined | null): string | null {
  if (header == null) return null
  const prefix = 'bearer '
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return null
  return header.slice(prefix.length)
}

/** Compares two strings in time independent of where they differ (SHA-256 digests, `timingSafeEqual`). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest()
  const db = createHash('sha256').update(b, 'utf8').digest()
  return timingSafeEqual(da, db)
}

/**
 * Whether `user`/`password` match the credentials (both non-empty). The
 * password is compared in constant time, and an unknown user costs the same
 * comparison, so timing tells neither how much of a password was right nor
 * whether the user exists.
 */
export function verifyBasicAuth(credentials: Record<string, string>, user: string, password: string): boolean {
  if (user === '' || password === '') return false
  const known = Object.hasOwn(credentials, user)
  const expected = known ? (credentials[user] ?? '') : ''
  const same = constantTimeEqual(expected, password)
  return known && same
}

/**
 * Verifies an HMAC-signed JWT whose `iss` is a known user, with that
 * user's password as key (upstream `verifyToken`). Expiry/not-before
 * claims are enforced when present.
 * @returns the issuer (user name)
 * @throws Error when the token is malformed, unsigned by HMAC, has an
 * unknown issuer, or a bad signature.
 */
export async function verifyToken(credentials: Record<string, string>, token: string): Promise<string> {
  const claims = decodeJwt(token)
  const iss = claims.iss
  if (typeof iss !== 'string' || iss === '') throw new Error('no issuer set')
  if (!Object.hasOwn(credentials, iss)) throw new Error('issuer not found')
  const key = new TextEncoder().encode(credentials[iss])
  await jwtVerify(token, key, { algorithms: ['HS256', 'HS384', 'HS512'] })
  return iss
}

/** Issues an HS256 JWT with claims `{iss: issuer}` signed with `password` (upstream `generateSignedTokenString`). */
export async function generateToken(issuer: string, password: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(issuer).sign(new TextEncoder().encode(password))
}

/**
 * Middleware enforcing the credentials (no-op when `credentials` is null).
 * @throws UnauthorizedError (through the app's error handler).
 */
export function authMiddleware(credentials: BasicAuthCredentials): MiddlewareHandler {
  return async (c, next) => {
    if (credentials === null) return next()
    const method = c.req.method
    if (method === 'OPTIONS' || (method === 'GET' && c.req.path === '/health')) return next()
    const header = c.req.header('Authorization')
    const basic = parseBasicAuth(header)
    const bearer = basic === null ? parseBearerToken(header) : null
    if (basic !== null) {
      if (!verifyBasicAuth(credentials, basic.user, basic.password)) {
        throw new UnauthorizedError('unauthorized: access denied', [wwwAuthenticate('Basic')])
      }
    } else if (bearer !== null) {
      try {
        await verifyToken(credentials, bearer)
      } catch (err) {
        log.debug(`invalid token: ${errorMessage(err)}`)
        throw new UnauthorizedError('unauthorized: invalid token', [wwwAuthenticate('Bearer', 'invalid_token')])
      }
    } else {
      throw new UnauthorizedError('unauthorized: no auth provided', [wwwAuthenticate('Bearer'), wwwAuthenticate('Basic')])
    }
    return next()
  }
}

/**
 * Computes the token for `POST /token` (upstream `GenerateTokenHandler`):
 * the issuer is the Basic user, or the issuer of a valid Bearer token.
 * @throws UnauthorizedError `unauthorized` when auth is off or no valid credentials are given.
 */
export async function tokenFor(credentials: BasicAuthCredentials, authorization: string | undefined): Promise<string> {
  if (credentials === null) throw new UnauthorizedError('unauthorized')
  let issuer: string
  const basic = parseBasicAuth(authorization)
  const bearer = basic === null ? parseBearerToken(authorization) : null
  if (basic !== null) {
    issuer = basic.user
  } else if (bearer !== null) {
    try {
      issuer = await verifyToken(credentials, bearer)
    } catch {
      throw new UnauthorizedError('unauthorized')
    }
  } else {
    throw new UnauthorizedError('unauthorized')
  }
  if (!Object.hasOwn(credentials, issuer)) throw new UnauthorizedError('unauthorized')
  return generateToken(issuer, credentials[issuer]!)
}
