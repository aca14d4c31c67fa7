/**
 * Folders, file names and addresses of ipfs-cluster-follow
 * (upstream cmd/ipfs-cluster-follow/main.go `buildPaths`, `socketAddress`,
 * `getClient`; commands.go `initCluster` for the DNSLink rule).
 */
import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Env } from '../../config/index.ts'

/** Name of this program in messages, as upstream prints it. */
export const PROGRAM_NAME = 'ipfs-cluster-follow'
/** Folder under `$HOME` holding one subfolder per followed cluster. */
export const DEFAULT_FOLDER = '.ipfs-cluster-follow'
/** Default local gateway used to resolve DNSLink template names (`IPFS_GATEWAY` overrides). */
export const DEFAULT_GATEWAY = '127.0.0.1:8080'
/** The unix socket of the follower's REST API, inside the cluster folder. */
export const API_SOCKET = 'api-socket'

/** The paths of one followed cluster. */
export interface FollowPaths {
  /** `<base>/<name>`, absolute. */
  folder: string
  /** `<folder>/service.json`. */
  configPath: string
  /** `<folder>/identity.json`. */
  identityPath: string
}

/**
 * The base folder: the `-c/--config` flag, else `IPFS_CLUSTER_PATH` (upstream
 * binds that variable to the flag), else `$HOME/.ipfs-cluster-follow`.
 */
export function baseFolder(flag: string | undefined, env: Env): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  const fromEnv = env.IPFS_CLUSTER_PATH
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv)
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir()
  return join(home, DEFAULT_FOLDER)
}

/** Paths of the cluster `name` under `base`. */
export function followPaths(base: string, name: string): FollowPaths {
  const folder = join(resolve(base), name)
  return { folder, configPath: join(folder, 'service.json'), identityPath: join(folder, 'identity.json') }
}

/** `/unix/<folder>/api-socket`: where the follower's REST API listens. */
export function socketMultiaddr(folder: string): string {
  return `/unix${join(resolve(folder), API_SOCKET)}`
}

/**
 * The REST API address used both by `run` (server) and by `list`/`info`
 * (client): `CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS` when set, else the socket.
 */
export function apiAddress(folder: string, env: Env): string {
  const fromEnv = env.CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv.split(',')[0]!.trim()
  return socketMultiaddr(folder)
}

/** Whether `value` is an http(s) URL (otherwise it is a DNSLink name). */
export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value)
}

/**
 * The template URL for `init <value>`: an http(s) URL as is; anything else
 * is a DNSLink name read through the gateway, `http://<gateway>/ipns/<value>`.
 * `gateway` may carry its own scheme (`https://gw.example`).
 */
export function templateUrl(value: string, gateway: string = DEFAULT_GATEWAY): string {
  if (isHttpUrl(value)) return value
  const gw = (isHttpUrl(gateway) ? gateway : `http://${gateway}`).replace(/\/+$/, '')
  return `${gw}/ipns/${value}`
}

/** Names of the subfolders of `base` holding a `service.json`, sorted. */
export function configuredClusters(base: string): string[] {
  if (!existsSync(base)) return []
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'service.json')))
    .map((d) => d.name)
    .sort()
}

/** One line of `list`: upstream `printPin`, `%-20s %s %s` (status, cid, name[ (error)]). */
export function formatPinLine(status: string, cid: string, name: string, error = ''): string {
  const n = error !== '' ? `${name} (${error})` : name
  return `${status.padEnd(20)} ${cid} ${n}\n`
}
