/**
 * `cluster.resource_manager` mapped onto js-libp2p's connection limits
 * (upstream `clusterhost.go` `makeResourceMgr`, v1.1.6).
 *
 * Upstream builds a go-libp2p resource manager. When `enabled` is false it has
 * infinite limits; when true, with `memory_limit_bytes` 0 meaning a quarter of
 * the machine's memory (at least 1 MiB) and `file_descriptors_limit` 0 meaning
 * half the process's open-file limit, the limits that bite are:
 * - system file descriptors = the FD limit (transient scope: a quarter of it),
 * - system inbound connections = one per MiB of the memory limit, raised to at
 *   least 2 × `connection_manager.high_water` and at least 800.
 *
 * js-libp2p v3 has no resource manager; the same limits act here as:
 * - `maxConnections` = min(`high_water`, FD limit) (each TCP connection is a
 *   file descriptor; js-libp2p has a single connection limit),
 * - `maxIncomingPendingConnections` = min(10 (js-libp2p's default), FD limit / 4),
 * - inbound connections beyond the inbound limit are refused by the connection
 *   gater.
 * Stream and per-peer memory accounting have no js-libp2p equivalent.
 */
import { readFileSync } from 'node:fs'
import { totalmem } from 'node:os'

/** `resource_manager` as read from service.json (bytes, counts; 0 = auto). */
export interface ResourceManagerInit {
  enabled: boolean
  memoryLimitBytes: number
  fileDescriptorsLimit: number
}

/** Connection limits handed to js-libp2p, and the line upstream logs at start. */
export interface ResourceLimits {
  maxConnections: number
  maxIncomingPendingConnections: number
  maxInboundConnections: number
  summary: string
}

const MIB = 1024 * 1024
/** js-libp2p's default `maxIncomingPendingConnections`. */
const JS_MAX_PENDING = 10

/** The soft open-file limit of this process (Linux `/proc/self/limits`), or 4096 when unknown. */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    const n = soft === undefined ? Number.NaN : Number(soft)
    if (Number.isFinite(n) && n > 0) return n
  } catch {
    // not Linux: fall through
  }
  return 4096
}

/**
 * Computes the limits for `rm` and `connection_manager.high_water`.
 * @param fdLimit the process's open-file limit (default: `openFileLimit()`).
 * @param memory the machine's memory in bytes (default: `os.totalmem()`).
 */
export function resourceLimits(
  rm: ResourceManagerInit,
  highWater: number,
  fdLimit: number = openFileLimit(),
  memory: number = totalmem()
): ResourceLimits {
  const high = Math.max(1, highWater)
  if (!rm.enabled) {
    return {
      maxConnections: high,
      maxIncomingPendingConnections: JS_MAX_PENDING,
      maxInboundConnections: Number.POSITIVE_INFINITY,
      summary: 'libp2p resource manager DISABLED'
    }
  }
  const maxMemory = rm.memoryLimitBytes > 0 ? rm.memoryLimitBytes : Math.max(MIB, Math.floor(memory * 0.25))
  const maxFd = rm.fileDescriptorsLimit > 0 ? rm.fileDescriptorsLimit : Math.floor(fdLimit / 2)
  const maxInbound = Math.max(Math.floor(maxMemory / MIB), 2 * high, 800)
  return {
    maxConnections: Math.max(1, Math.min(high, maxFd)),
    maxIncomingPendingConnections: Math.max(1, Math.min(JS_MAX_PENDING, Math.floor(maxFd / 4))),
    maxInboundConnections: maxInbound,
    summary: `libp2p resource manager ENABLED: limits from max_memory ${maxMemory} bytes, max_fds ${maxFd} (max connections ${Math.max(1, Math.min(high, maxFd))}, max inbound ${maxInbound})`
  }
}
