// Tests for lib/errors/stack.ts: every V8 frame shape we meet, classification, limits and garbage.
import t from 'tap'
import * as path from 'node:path'
import { parseStack, parseFrameLine, relativeToRoot, formatFrame } from '../../lib/errors/stack'
import { runNode, repoRoot, fixtureDir } from '../fixtures/errors/build'

const root = '/srv/app'

function one (line: string, appRoot = root) {
  const frame = parseFrameLine(line, appRoot)
  if (frame === null) throw new Error('not a frame: ' + line)
  return frame
}

t.test('a named frame in an app file gets a relative file, position and inApp', async (t) => {
  t.match(one('at handler (/srv/app/routes/users.js:10:5)'), {
    function: 'handler',
    file: 'routes/users.js',
    absPath: '/srv/app/routes/users.js',
    line: 10,
    column: 5,
    native: false,
    library: false,
    async: false,
    inApp: true
  })
})

t.test('an anonymous frame has no function', async (t) => {
  t.match(one('at /srv/app/index.js:3:9'), { function: null, file: 'index.js', line: 3, column: 9, inApp: true })
  t.match(one('at <anonymous> (/srv/app/index.js:3:9)'), { function: null, file: 'index.js' })
})

t.test('constructor, Object.<anonymous> and [as alias] frames keep a clean function name', async (t) => {
  t.equal(one('at new Widget (/srv/app/w.js:1:2)').function, 'new Widget')
  t.equal(one('at Object.<anonymous> (/srv/app/w.js:1:2)').function, 'Object.<anonymous>')
  t.equal(one('at Router.handle [as handle_request] (/srv/app/r.js:1:2)').function, 'Router.handle')
  t.equal(one('at Object.<computed> [as get] (/srv/app/r.js:1:2)').function, 'Object.<computed>')
})

t.test('async frames are flagged and lose the async prefix', async (t) => {
  t.match(one('at async fetchUser (/srv/app/u.js:7:3)'), { function: 'fetchUser', async: true, inApp: true })
  t.match(one('at async Promise.all (index 0)'), { function: 'Promise.all', async: true, native: true, inApp: false, file: null })
  t.match(one('at async /srv/app/u.js:7:3'), { function: null, async: true, file: 'u.js' })
})

t.test('file:// URLs of ES modules become paths', async (t) => {
  t.match(one('at main (file:///srv/app/src/main.mjs:4:11)'), { absPath: '/srv/app/src/main.mjs', file: 'src/main.mjs', line: 4, inApp: true })
  t.match(one('at file:///srv/app/a%20b.mjs:1:1'), { absPath: '/srv/app/a b.mjs', file: 'a b.mjs' })
})

t.test('node: internals and native builtins are native, not app and not library', async (t) => {
  t.match(one('at Module._compile (node:internal/modules/cjs/loader:1105:14)'), { native: true, inApp: false, library: false, file: 'node:internal/modules/cjs/loader', absPath: null, line: 1105 })
  t.match(one('at process.processTicksAndRejections (node:internal/process/task_queues:95:5)'), { native: true })
  t.match(one('at Array.map (<anonymous>)'), { function: 'Array.map', native: true, file: null, line: null })
  t.match(one('at JSON.parse (native)'), { native: true, file: null })
  t.match(one('at emitOne (events.js:116:13)'), { native: true, file: 'events.js' }, 'old Node builtin ids')
})

t.test('frames inside node_modules are library frames', async (t) => {
  t.match(one('at Layer.handle (/srv/app/node_modules/express/lib/router/layer.js:95:5)'), {
    library: true, inApp: false, file: 'node_modules/express/lib/router/layer.js'
  })
  t.match(one('at x (/srv/app/node_modules/.pnpm/pg@8.11.3/node_modules/pg/lib/client.js:1:1)'), { library: true })
})

t.test('eval frames point at the place eval was called from', async (t) => {
  t.match(one('at eval (eval at <anonymous> (/srv/app/e.js:2:1), <anonymous>:1:7)'), { function: 'eval', absPath: '/srv/app/e.js', line: 2, column: 1, inApp: true })
  t.match(one('at eval (eval at run (eval at outer (/srv/app/e.js:9:3), <anonymous>:1:1), <anonymous>:2:2)'), { absPath: '/srv/app/e.js', line: 9 })
  t.match(one('at <anonymous>:1:7'), { file: null, line: 1, inApp: false, native: false })
})

t.test('paths with spaces and parentheses are kept whole', async (t) => {
  t.match(one('at fn (/srv/app/my dir (copy)/x.js:1:2)'), { function: 'fn', absPath: '/srv/app/my dir (copy)/x.js', file: 'my dir (copy)/x.js', line: 1, column: 2 })
  t.match(one('at /srv/app/my dir (copy)/x.js:1:2'), { function: null, absPath: '/srv/app/my dir (copy)/x.js' })
})

t.test('a function name holding " (" does not swallow the location', async (t) => {
  t.match(one('at Object.a (b) (/srv/app/x.js:1:2)'), { function: 'Object.a (b)', absPath: '/srv/app/x.js', line: 1, column: 2 })
  t.match(one('at weird name (/srv/app/x.js:1:2)'), { function: 'weird name', absPath: '/srv/app/x.js' })
  t.match(one('at f (webpack-internal:///./src/a.js:3:4)'), { function: 'f', line: 3, column: 4 })
})

t.test('Windows paths parse, relative to a Windows app root', async (t) => {
  const f = one('at handler (C:\\apps\\shop\\routes\\a.js:12:3)', 'C:\\apps\\shop')
  t.match(f, { function: 'handler', absPath: 'C:\\apps\\shop\\routes\\a.js', file: 'routes/a.js', line: 12, column: 3, inApp: true })
  t.match(one('at C:\\apps\\shop\\node_modules\\x\\i.js:1:1', 'C:\\apps\\shop'), { library: true, file: 'node_modules/x/i.js' })
  t.match(one('at f (\\\\server\\share\\a.js:1:1)', 'C:\\apps'), { absPath: '\\\\server\\share\\a.js', file: '\\\\server\\share\\a.js', inApp: true })
  t.equal(one('at f (C:\\other\\a.js:1:1)', root).file, 'C:\\other\\a.js', 'a Windows path under a POSIX root stays absolute')
})

t.test('files outside the app root keep their absolute path and are still application code', async (t) => {
  t.match(one('at f (/opt/shared/lib.js:1:1)'), { file: '/opt/shared/lib.js', inApp: true })
  t.equal(relativeToRoot('/srv/application/x.js', '/srv/app'), '/srv/application/x.js', 'a sibling dir sharing a prefix is not inside')
  t.equal(relativeToRoot('/srv/app/x.js', '/srv/app/'), 'x.js')
  t.equal(relativeToRoot('/srv/app/x.js', ''), '/srv/app/x.js')
})

t.test('a frame line without a parsable location keeps its text as the function', async (t) => {
  t.match(one('at someFunction'), { function: 'someFunction', file: null, line: null, inApp: false })
  t.equal(parseFrameLine('not a frame', root), null)
})

t.test('parseStack reads only "at" lines, skipping the message, blank and garbage lines', async (t) => {
  const stack = [
    'TypeError: Cannot read properties of undefined (reading \'x\')',
    '    at inner (/srv/app/a.js:1:1)',
    '',
    'garbage line',
    '    -----',
    '\tat tabbed (/srv/app/b.js:2:2)',
    '    at outer (/srv/app/c.js:3:3)\r'
  ].join('\n')
  const frames = parseStack(stack, { appRoot: root })
  t.same(frames.map((f) => f.function), ['inner', 'tabbed', 'outer'])
  t.equal(frames[2].column, 3, 'CRLF line endings')
  t.equal(frames[0].raw, 'at inner (/srv/app/a.js:1:1)')
})

t.test('parseStack skips a header holding fake frames when told its length', async (t) => {
  const header = 'Error: look\n    at fake (/srv/app/evil.js:1:1)'
  const stack = header + '\n    at real (/srv/app/real.js:2:2)'
  t.same(parseStack(stack, { appRoot: root, skip: header.length }).map((f) => f.function), ['real'])
})

t.test('parseStack keeps at most maxFrames frames (50 by default)', async (t) => {
  const stack = 'Error: x\n' + Array.from({ length: 200 }, (_, k) => `    at f${k} (/srv/app/a.js:${k + 1}:1)`).join('\n')
  t.equal(parseStack(stack, { appRoot: root }).length, 50)
  t.equal(parseStack(stack, { appRoot: root, maxFrames: 3 }).length, 3)
})

t.test('parseStack never throws on non-strings, empty and huge input, and stays fast', async (t) => {
  t.same(parseStack(undefined, { appRoot: root }), [])
  t.same(parseStack(42, { appRoot: root }), [])
  t.same(parseStack('', { appRoot: root }), [])
  t.same(parseStack({ toString () { throw new Error('x') } }, { appRoot: root }), [])
  const huge = 'Error: ' + 'x'.repeat(10 * 1024 * 1024) + '\n    at f (/srv/app/a.js:1:1)'
  const start = process.hrtime.bigint()
  const frames = parseStack(huge, { appRoot: root })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.equal(frames.length, 1)
  t.ok(ms < 100, `10 MB message parsed in ${ms.toFixed(1)} ms`)
  const manyLines = '\n'.repeat(100000) + ('    at (((((' + ' ('.repeat(1000) + '\n').repeat(100)
  t.doesNotThrow(() => parseStack(manyLines, { appRoot: root }))
})

t.test('a real stack from this process parses into this file as an app frame', async (t) => {
  function thrower (): never {
    throw new Error('real')
  }
  let stack = ''
  try {
    thrower()
  } catch (err) {
    stack = (err as Error).stack ?? ''
  }
  const frames = parseStack(stack, { appRoot: path.resolve(__dirname, '../..') })
  t.match(frames[0], { function: 'thrower', file: 'test/errors/stack.test.ts', inApp: true })
  t.ok(frames.some((f) => f.native || f.library), 'the runner frames below are not app frames')
})

t.test('formatFrame renders a frame the way V8 does', async (t) => {
  t.equal(formatFrame(one('at handler (/srv/app/a.js:1:2)')), 'at handler (/srv/app/a.js:1:2)')
  t.equal(formatFrame(one('at async /srv/app/a.js:1:2')), 'at async /srv/app/a.js:1:2')
  t.equal(formatFrame(one('at Array.map (<anonymous>)')), 'at Array.map (<anonymous>)')
})

t.test('real ES module stacks: file:// URLs become app paths and "at async" frames are flagged', async (t) => {
  const { stdout } = await runNode([path.join(fixtureDir, '..', 'esm', 'thrower.mjs')])
  const stacks = JSON.parse(stdout)
  const sync = parseStack(stacks.sync, { appRoot: repoRoot })
  t.match(stacks.sync, /at fail \(file:\/\//)
  t.match(sync[0], { function: 'fail', file: 'test/fixtures/errors/esm/thrower.mjs', line: 3, inApp: true, async: false })
  const asyncFrames = parseStack(stacks.async, { appRoot: repoRoot })
  t.match(asyncFrames[0], { function: 'inner', line: 8, async: false })
  t.match(asyncFrames[1], { function: 'outer', line: 12, async: true, inApp: true, file: 'test/fixtures/errors/esm/thrower.mjs' })
})

t.test('random frame-like garbage never makes parseStack throw and keeps frames well-formed (seeded fuzz)', async (t) => {
  let seed = 4242
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const parts = ['at ', 'async ', 'new ', '(', ')', ' (', ':', '1', '42', '/', '\\', 'C:', 'file:///', 'node:', 'eval at ', ', ', '<anonymous>', ' [as x]', 'fn', '.', ' ', 'native', 'index 0']
  for (let k = 0; k < 3000; k++) {
    const line = '    at ' + Array.from({ length: rand(12) }, () => parts[rand(parts.length)]).join('')
    let frames: ReturnType<typeof parseStack> = []
    try {
      frames = parseStack('Error: x\n' + line, { appRoot: root })
    } catch (err) {
      t.fail(`threw on ${JSON.stringify(line)}: ${String(err)}`)
      return
    }
    for (const f of frames) {
      const ok = (f.line === null || Number.isInteger(f.line)) && (f.column === null || Number.isInteger(f.column)) &&
        !(f.inApp && (f.native || f.library || f.absPath === null))
      if (!ok) {
        t.fail(`bad frame from ${JSON.stringify(line)}: ${JSON.stringify(f)}`)
        return
      }
    }
  }
  t.pass('3000 random lines')
})
