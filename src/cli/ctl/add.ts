/**
 * `ctl add`: placeholder. Registered so `ctl help` lists it; the real
 * command (multipart upload to POST /add) comes later.
 */
import { command } from './cmd.ts'
import { ctl, CtlExit } from './context.ts'

export default command({
  name: 'add',
  usage: 'Add a file or directory to ipfs and pin it in the cluster',
  argsUsage: '<path>',
  run: async () => {
    ctl().io.stderr('add: not implemented yet\n')
    throw new CtlExit(1)
  }
})
