/**
 * The REST API (upstream `api/rest`): the Hono app, its server, auth, the
 * stream helpers and the query parsers. The client (`client.ts`) is
 * imported from its own file.
 */
export type { AddHandler } from '../../adder/handler.ts'
export {
  createRestApp,
  corsMiddleware,
  DEFAULT_CORS,
  errorBody,
  headersMiddleware,
  type RestApiComponents,
  type RestApiInit,
  statusOf,
  strictSlashMiddleware
} from './app.ts'
export {
  AUTH_REALM,
  authMiddleware,
  type BasicAuthCredentials,
  generateToken,
  parseBasicAuth,
  parseBearerToken,
  tokenFor,
  UnauthorizedError,
  verifyToken
} from './auth.ts'
export {
  PIN_OPTIONS_META_PREFIX,
  parseCidParam,
  parseGoDuration,
  parsePeerId,
  parseRFC3339,
  pinOptionsFromQuery,
  pinTypeFilterFromQuery,
  queryFlag,
  statusFilterFromQuery
} from './params.ts'
export {
  commonLogLine,
  createHttpApiServer,
  createRestApiServer,
  type HttpApiNames,
  listenAddressFromMultiaddr,
  type RestApiServer,
  type RestApiServerInit
} from './server.ts'
export { filterStream, mapStream, STREAM_ERROR_TRAILER, streamPagesResponse, streamResponse, streamTrailers } from './stream.ts'
