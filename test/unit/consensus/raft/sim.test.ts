/**
 * Deterministic simulation of the Raft core (see ./sim.ts for the faults and
 * the properties checked). Each scenario runs many seeds; a failure names the
 * seed and the command that replays it alone:
 *   RAFT_SEED=<seed> node_modules/.bin/bun test test/unit/consensus/raft/sim.test.ts
 * RAFT_RUNS=<n> changes the number of seeds per scenario.
 */
import { describe, expect, test } from 'bun:test'
import { type RunStats, runSimulation, type Scenario } from './sim.ts'

const scenarios: Scenario[] = [
  { name: '3 voters', servers: 3, initialVoters: 3, membership: false, faultMs: 1500, healMs: 1200 },
  { name: '5 voters', servers: 5, initialVoters: 5, membership: false, faultMs: 1500, healMs: 1200 },
  { name: '3 to 5 voters with membership changes', servers: 5, initialVoters: 3, membership: true, faultMs: 1500, healMs: 1200 },
  { name: '3 voters, chaos (fast crash/reboot cycles, no pre-vote)', servers: 3, initialVoters: 3, membership: false, faultMs: 1500, healMs: 1200, chaos: true },
  { name: '5 voters, chaos with membership changes', servers: 5, initialVoters: 5, membership: true, faultMs: 1500, healMs: 1200, chaos: true }
]

const replay = process.env.RAFT_SEED === undefined ? undefined : Number(process.env.RAFT_SEED)
const runs = Number(process.env.RAFT_RUNS ?? 1200)

/** Seeds are global: scenario i runs seeds i*1_000_000 + n, so a seed alone says which scenario it belongs to. */
function scenarioOf(seed: number): Scenario {
  const sc = scenarios[Math.floor(seed / 1_000_000)]
  if (sc === undefined) throw new Error(`RAFT_SEED ${seed}: no scenario ${Math.floor(seed / 1_000_000)}`)
  return sc
}

function runSeed(seed: number): RunStats {
  try {
    return runSimulation(seed, scenarioOf(seed))
  } catch (err) {
    const e = err as Error
    throw new Error(`seed ${seed} (${scenarioOf(seed).name}) failed: ${e.message}\n  reproduce: RAFT_SEED=${seed} node_modules/.bin/bun test test/unit/consensus/raft/sim.test.ts\n${e.stack ?? ''}`)
  }
}

describe('raft core under deterministic simulation', () => {
  if (replay !== undefined) {
    test(`replay seed ${replay}`, () => {
      const stats = runSeed(replay)
      console.log(`seed ${replay}:`, stats)
    })
    return
  }
  scenarios.forEach((sc, i) => {
    test(`${sc.name}: ${runs} seeds`, () => {
      const total: RunStats = { ops: 0, acked: 0, elections: 0, snapshotsInstalled: 0, crashes: 0, configChanges: 0 }
      for (let n = 0; n < runs; n++) {
        const s = runSeed(i * 1_000_000 + n)
        for (const k of Object.keys(total) as (keyof RunStats)[]) total[k] += s[k]
      }
      console.log(`raft sim ${sc.name}: ${runs} runs (seeds ${i * 1_000_000}..${i * 1_000_000 + runs - 1})`, total)
      // the runs exercised what they are meant to
      expect(total.acked).toBeGreaterThan(runs)
      expect(total.elections).toBeGreaterThan(runs)
      expect(total.crashes).toBeGreaterThan(0)
      expect(total.snapshotsInstalled).toBeGreaterThan(0)
      if (sc.membership) expect(total.configChanges).toBeGreaterThan(0)
    }, 120_000)
  })
})
