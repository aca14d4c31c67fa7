/**
 * The IPFS Pinning Service API (upstream `api/pinsvcapi`): the Hono app
 * (`app.ts`) served by the REST API's server on `api.pinsvcapi`'s
 * addresses, with its TLS, timeouts, access log, CORS and credentials.
 */
import { createHttpApiServer, type RestApiServer, type RestApiServerInit } from '../rest/index.ts'
import { createPinSvcApp, type PinSvcApiComponents } from './app.ts'

export {
  createPinSvcApp,
  failureBody,
  PIN_STATUS_INFO,
  type PinJSON,
  type PinResultsJSON,
  type PinStatusJSON,
  type PinSvcApiComponents,
  type PinSvcApiInit,
  type PinSvcCluster
} from './app.ts'
export { type ListOptions, listOptionsFromQuery, type Match, pinFromBody, type SvcPin } from './query.ts'
export { type Created, createdOf, formatCreated, parseCreated, SVC_STATUSES, type SvcStatus, svcStatusOf } from './status.ts'

/**
 * Creates the Pinning Service API server (not started); it logs
 * `PINSVCAPI (HTTP): <multiaddr>` once listening.
 * @throws InvalidArgumentError when a listen multiaddr is unsupported.
 */
export function createPinSvcApiServer(init: RestApiServerInit, components: PinSvcApiComponents): RestApiServer {
  return createHttpApiServer(init, createPinSvcApp(init, components), { label: 'PINSVCAPI', logger: 'pinsvcapi', accessLogger: 'pinsvcapilog' })
}
