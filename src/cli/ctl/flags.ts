/** Flags shared by several ctl commands (upstream `localFlag()` and the wait flags); usage texts are ours. */
import type { FlagSpec } from '../cmd.ts'

export const localFlag: FlagSpec = { name: 'local', kind: 'bool', usage: 'act only on the peer this command talks to' }

export const waitFlagDesc = 'before returning, wait until enough peers report the wanted status (pinned; unpinned for rm)'
export const waitLimitFlagDesc = 'with --wait, stop waiting once this many peers report the target status'
export const waitTimeoutFlagDesc = 'with --wait, give up after this long (e.g. 30s, 5m); 0 waits forever'

export const waitFlags: FlagSpec[] = [
  { name: 'wait', aliases: ['w'], kind: 'bool', usage: waitFlagDesc },
  { name: 'wait-limit', aliases: ['wl'], kind: 'int', usage: waitLimitFlagDesc },
  { name: 'wait-timeout', aliases: ['wt'], kind: 'duration', usage: waitTimeoutFlagDesc }
]
