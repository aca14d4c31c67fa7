/** leave_on_shutdown with crdt: as upstream, the attempt and the refusal are logged on stop; nothing else changes. */
import { afterAll, expect, test } from 'bun:test'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'
import { Net, StubState } from './stubs.ts'

const lines: string[] = []
setLogLevels('info')
setLogReporters([{ log: (o) => void lines.push(o.args.map(String).join(' ')) }])
afterAll(() => setLogReporters(undefined))

test('a peer with leave_on_shutdown logs that it tries to leave and that crdt cannot remove it', async () => {
  const net = new Net()
  const [leaving] = net.add(['pA'], new StubState(), { init: { leaveOnShutdown: true } })
  const [staying] = net.add(['pB'], new StubState())
  await leaving!.cluster.start()
  await staying!.cluster.start()
  lines.length = 0
  await staying!.cluster.stop()
  expect(lines.some((l) => l.includes('attempting to leave'))).toBe(false)
  await leaving!.cluster.stop()
  expect(lines).toContain('attempting to leave the cluster. This may take some seconds')
  expect(lines).toContain('leaving cluster: crdt consensus component cannot remove peers')
  expect(net.log.length).toBe(0)
})
