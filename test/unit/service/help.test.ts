/**
 * `ipfs-cluster-service` help and usage errors: urfave/cli v1 layout (as
 * ctl's), every command and flag listed, exit codes. Driven through
 * `main(argv, io)`, which never exits the process.
 */
import { describe, expect, test } from 'bun:test'
import { GLOBAL_FLAGS, main, PROGRAM } from '../../../src/cli/service/index.ts'
import { VERSION } from '../../../src/version.ts'

async function svc(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
    env: {}
  })
  return { code, stdout, stderr }
}

/** Section headers of a help text, in order. */
function sections(help: string): string[] {
  return help.split('\n').filter((l) => /^[A-Z][A-Z ]+:$/.test(l))
}

describe('service help', () => {
  test('top-level help has the urfave sections, the commands and the global flags', async () => {
    const r = await svc(['--help'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(sections(r.stdout)).toEqual(['NAME:', 'USAGE:', 'VERSION:', 'DESCRIPTION:', 'COMMANDS:', 'GLOBAL OPTIONS:'])
    expect(r.stdout).toStartWith(`NAME:\n   ${PROGRAM} - `)
    expect(r.stdout).toContain(`USAGE:\n   ${PROGRAM} [global options] command [command options] [arguments...]\n`)
    expect(r.stdout).toContain(`VERSION:\n   ${VERSION}\n`)
    const commands = r.stdout.slice(r.stdout.indexOf('COMMANDS:'), r.stdout.indexOf('GLOBAL OPTIONS:'))
    for (const c of ['init', 'daemon', 'state', 'version', 'help, h']) expect(commands).toMatch(new RegExp(`\\n     ${c} +\\S`))
    const options = r.stdout.slice(r.stdout.indexOf('GLOBAL OPTIONS:'))
    for (const f of ['--config value, -c value', '--force, -f', '--debug, -d', '--loglevel value, -l value', '--help, -h', '--version, -v']) {
      expect(options).toContain(`\n   ${f} `)
    }
    expect(GLOBAL_FLAGS.map((f) => f.name)).toEqual(['config', 'force', 'debug', 'loglevel'])
    // no ANSI colour codes
    expect(r.stdout).not.toContain('\x1b[')
  })

  test('no arguments, -h, "help" and "h" print the same top-level help', async () => {
    const ref = (await svc(['--help'])).stdout
    for (const argv of [[], ['-h'], ['help'], ['h'], ['-c', '/nowhere', '--help']]) {
      const r = await svc(argv)
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(ref)
    }
  })

  test('init --help lists its arguments and flags', async () => {
    const r = await svc(['init', '--help'])
    expect(r.code).toBe(0)
    expect(sections(r.stdout)).toEqual(['NAME:', 'USAGE:', 'DESCRIPTION:', 'OPTIONS:'])
    expect(r.stdout).toStartWith(`NAME:\n   ${PROGRAM} init - `)
    expect(r.stdout).toContain(`USAGE:\n   ${PROGRAM} init [command options] [source-url]\n`)
    for (const f of [
      '--consensus value',
      '--datastore value',
      '--custom-secret, -s',
      '--peers value',
      '--force, -f',
      '--randomports',
      '--help, -h'
    ]) {
      expect(r.stdout).toContain(`\n   ${f} `)
    }
    expect(r.stdout).toContain('(default: "crdt")')
    // the same through "help init", with global flags first, or -h after other flags
    expect((await svc(['help', 'init'])).stdout).toBe(r.stdout)
    expect((await svc(['-c', '/nowhere', 'init', '--randomports', '-h'])).stdout).toBe(r.stdout)
  })

  test('daemon --help lists its flags', async () => {
    const r = await svc(['daemon', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`USAGE:\n   ${PROGRAM} daemon [command options] [arguments...]\n`)
    for (const f of [
      '--bootstrap value, -j value',
      '--no-trust',
      '--consensus value',
      '--stats',
      '--tracing',
      '--upgrade, -u',
      '--leave, -x'
    ]) {
      expect(r.stdout).toContain(`\n   ${f} `)
    }
  })

  test('state lists its subcommands; each subcommand has its own help', async () => {
    const group = await svc(['state', '--help'])
    expect(group.code).toBe(0)
    expect(sections(group.stdout)).toEqual(['NAME:', 'USAGE:', 'COMMANDS:', 'OPTIONS:'])
    expect(group.stdout).toContain(`USAGE:\n   ${PROGRAM} state command [command options] [arguments...]\n`)
    for (const c of ['export', 'import', 'cleanup', 'help, h']) expect(group.stdout).toMatch(new RegExp(`\\n     ${c} +\\S`))
    expect((await svc(['state'])).stdout).toBe(group.stdout)
    expect((await svc(['help', 'state'])).stdout).toBe(group.stdout)

    const imp = await svc(['state', 'import', '--help'])
    expect(imp.code).toBe(0)
    expect(imp.stdout).toStartWith(`NAME:\n   ${PROGRAM} state import - `)
    expect(imp.stdout).toContain(`USAGE:\n   ${PROGRAM} state import [command options] [file]\n`)
    for (const f of ['--force, -f', '--rmin value', '--rmax value', '--allocs value']) expect(imp.stdout).toContain(`\n   ${f} `)
    expect((await svc(['state', 'help', 'import'])).stdout).toBe(imp.stdout)
    expect((await svc(['help', 'state', 'import'])).stdout).toBe(imp.stdout)

    const exp = await svc(['state', 'export', '-h'])
    expect(exp.stdout).toContain('\n   --file value, -f value ')
    const cleanup = await svc(['state', 'cleanup', '--help'])
    expect(cleanup.stdout).toContain('\n   --force, -f ')
  })
})

describe('service usage errors and version', () => {
  test('--version and -v print the program version, before or after the command', async () => {
    for (const argv of [['--version'], ['-v'], ['init', '--version']]) {
      const r = await svc(argv)
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`${PROGRAM} version ${VERSION}\n`)
    }
  })

  test('an unknown command or help topic fails with exit 1 and a clear message', async () => {
    const r = await svc(['bogus'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('unknown command "bogus"')
    expect(r.stdout).toBe('')
    const sub = await svc(['state', 'bogus'])
    expect(sub.code).toBe(1)
    expect(sub.stderr).toContain('unknown command "bogus"')
    const topic = await svc(['help', 'bogus'])
    expect(topic.code).toBe(1)
    expect(topic.stderr).toContain("no help topic for 'bogus'")
  })

  test('bad flags and extra arguments are usage errors (exit 1, help shown)', async () => {
    const global = await svc(['--bogus', 'init'])
    expect(global.code).toBe(1)
    expect(global.stderr).toContain('flag provided but not defined: -bogus')
    expect(global.stdout).toStartWith(`NAME:\n   ${PROGRAM} - `)

    const needs = await svc(['-c'])
    expect(needs.code).toBe(1)
    expect(needs.stderr).toContain('flag needs an argument: -c')

    const flag = await svc(['daemon', '--bogus'])
    expect(flag.code).toBe(1)
    expect(flag.stderr).toStartWith('Incorrect Usage: flag provided but not defined: -bogus')
    expect(flag.stdout).toStartWith(`NAME:\n   ${PROGRAM} daemon - `)

    const int = await svc(['state', 'import', '--rmin', 'x'])
    expect(int.code).toBe(1)
    expect(int.stderr).toContain('-rmin')

    const extra = await svc(['init', 'http://a/', 'http://b/'])
    expect(extra.code).toBe(1)
    expect(extra.stderr).toContain('at most 1 argument')
  })
})
