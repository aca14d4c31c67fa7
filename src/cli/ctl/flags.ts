/** Flags shared by several ctl commands (upstream `localFlag()` and the wait flags). */
import type { FlagSpec } from './cmd.ts'

export const localFlag: FlagSpec = { name: 'local', kind: 'bool', usage: 'run operation only on the contacted peer' }

export const waitFlagDesc = 'Wait for the pin to reach the minimum replication factor before returning'
export const waitLimitFlagDesc = 'How many peers should reach the desired status to finish waiting'
export const waitTimeoutFlagDesc = 'How long to --wait (in seconds). Default: forever'

export const waitFlags: FlagSpec[] = [
  { name: 'wait', aliases: ['w'], kind: 'bool', usage: waitFlagDesc },
  { name: 'wait-limit', aliases: ['wl'], kind: 'int', usage: waitLimitFlagDesc },
  { name: 'wait-timeout', aliases: ['wt'], kind: 'duration', usage: waitTimeoutFlagDesc }
]
