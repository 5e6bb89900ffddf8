// Tests for lib/errors/grouping.ts: key stability across call paths and processes, separation of different bugs, fallbacks, culprit.
import t from 'tap'
import { groupingKey, culprit, normalizeMessage } from '../../lib/errors/grouping'
import { parseStack } from '../../lib/errors/stack'
import { toErrorEvent } from '../../lib/errors/capture'
import { buildTsApp, repoRoot, runNode } from '../fixtures/errors/build'

const root = '/srv/app'

function frames (...lines: string[]) {
  return parseStack('Error: x\n' + lines.map((l) => '    at ' + l).join('\n'), { appRoot: root })
}

t.test('the key hashes type and the top app frame, ignoring line, column, message and callers', async (t) => {
  const a = frames('validate (/srv/app/lib/v.js:10:5)', 'routeA (/srv/app/routes.js:3:1)', 'Layer.handle (/srv/app/node_modules/express/lib/layer.js:95:5)')
  const b = frames('validate (/srv/app/lib/v.js:12:9)', 'routeB (/srv/app/routes.js:30:1)', 'process.processTicksAndRejections (node:internal/process/task_queues:95:5)')
  t.equal(groupingKey('TypeError', a, 'user 1 not found'), groupingKey('TypeError', b, 'user 2 is gone'))
  t.match(groupingKey('TypeError', a), /^[0-9a-f]{32}$/)
})

t.test('the receiver V8 prints before a function name (call-style dependent) does not change the key', async (t) => {
  t.equal(groupingKey('TypeError', frames('Object.totalOf (/srv/app/bugs.js:3:9)')), groupingKey('TypeError', frames('totalOf (/srv/app/bugs.js:3:9)')))
  t.equal(groupingKey('TypeError', frames('Timeout.<anonymous> (/srv/app/a.js:3:9)')), groupingKey('TypeError', frames('Immediate.<anonymous> (/srv/app/a.js:3:9)')))
  t.equal(groupingKey('TypeError', frames('AdminService.find (/srv/app/s.js:3:9)')), groupingKey('TypeError', frames('UserService.find (/srv/app/s.js:3:9)')))
  t.not(groupingKey('TypeError', frames('new Widget (/srv/app/w.js:3:9)')), groupingKey('TypeError', frames('Widget (/srv/app/w.js:3:9)')))
})

t.test('library frames above the app frame do not change the key', async (t) => {
  const a = frames('JSON.parse (<anonymous>)', 'Parser.run (/srv/app/node_modules/p/i.js:1:1)', 'load (/srv/app/cfg.js:4:4)')
  const b = frames('load (/srv/app/cfg.js:9:9)')
  t.equal(groupingKey('SyntaxError', a), groupingKey('SyntaxError', b))
})

t.test('a different type, function or file gives a different key', async (t) => {
  const base = groupingKey('TypeError', frames('validate (/srv/app/lib/v.js:10:5)'))
  t.not(groupingKey('RangeError', frames('validate (/srv/app/lib/v.js:10:5)')), base)
  t.not(groupingKey('TypeError', frames('sanitize (/srv/app/lib/v.js:10:5)')), base)
  t.not(groupingKey('TypeError', frames('validate (/srv/app/lib/w.js:10:5)')), base)
})

t.test('the key does not depend on where the app is installed', async (t) => {
  const a = parseStack('Error\n    at f (/srv/app/x.js:1:1)', { appRoot: '/srv/app' })
  const b = parseStack('Error\n    at f (/home/ci/build/x.js:7:7)', { appRoot: '/home/ci/build' })
  t.equal(groupingKey('Error', a), groupingKey('Error', b))
})

t.test('without app frames, the top library frames group, independent of install layout', async (t) => {
  const a = frames('Client.query (/srv/app/node_modules/pg/lib/client.js:1:1)', 'x (node:net:1:1)')
  const b = parseStack('Error\n    at Client.query (/opt/x/node_modules/.pnpm/pg@8.11.3/node_modules/pg/lib/client.js:9:9)', { appRoot: '/opt/x' })
  t.equal(groupingKey('DatabaseError', a, 'm1'), groupingKey('DatabaseError', b, 'm2'))
  t.not(groupingKey('DatabaseError', a), groupingKey('DatabaseError', frames('Pool.connect (/srv/app/node_modules/pg-pool/index.js:1:1)')))
})

t.test('without any frame, the message with its variable parts normalized groups', async (t) => {
  const k1 = groupingKey('Error', [], 'user 42 not found in "tenant-a" (id 550e8400-e29b-41d4-a716-446655440000, ref 0xdeadbeef)')
  const k2 = groupingKey('Error', [], "user 7 not found in 'b' (id 123e4567-e89b-12d3-a456-426614174000, ref 0x1f)")
  t.equal(k1, k2)
  t.not(groupingKey('Error', [], 'connection refused'), groupingKey('Error', [], 'connection reset'))
  t.not(groupingKey('Error', [], 'x'), groupingKey('TypeError', [], 'x'))
})

t.test('normalizeMessage replaces numbers, hex, uuids and quoted strings but keeps words', async (t) => {
  t.equal(normalizeMessage('user 42 failed after 3.5s with code ECONNRESET'), 'user <num> failed after 3.5s with code ECONNRESET')
  t.equal(normalizeMessage("can't find 'abc' or \"def\" or `ghi`"), "can't find <str> or <str> or <str>")
  t.equal(normalizeMessage('id 550e8400-e29b-41d4-a716-446655440000 sha 9f86d081884c7d65 at 0xFF'), 'id <hex> sha <hex> at <hex>')
  t.equal(normalizeMessage('ids 1, 22 and 333; user42 and deadbeef stay'), 'ids <num>, <num> and <num>; user42 and deadbeef stay')
  t.equal(normalizeMessage(''), '')
  const start = process.hrtime.bigint()
  normalizeMessage("'".repeat(100000) + '1a'.repeat(100000))
  t.ok(Number(process.hrtime.bigint() - start) / 1e6 < 50, 'pathological input is fast (message is capped)')
})

t.test('culprit is the top app frame as "function (file:line)"', async (t) => {
  t.equal(culprit(frames('x (node:fs:1:1)', 'Lib.y (/srv/app/node_modules/l/i.js:1:1)', 'Users.find (/srv/app/src/users.js:12:7)')), 'Users.find (src/users.js:12)')
  t.equal(culprit(frames('/srv/app/a.js:3:1')), '<anonymous> (a.js:3)')
  t.equal(culprit(frames('x (node:fs:1:1)')), null)
  t.equal(culprit([]), null)
})

t.test('real errors: same bug from two call paths in one process share a key; a different bug does not', async (t) => {
  function parsePrice (input: unknown): number {
    if (typeof input !== 'string') throw new TypeError(`price ${String(input)} is not a string`)
    return Number(input)
  }
  function fromCart (): unknown {
    try { parsePrice(1) } catch (err) { return err }
  }
  function fromInvoice (): unknown {
    try { return [2].map((x) => parsePrice(x)) } catch (err) { return err }
  }
  function otherBug (): unknown {
    try { return JSON.parse('{') } catch (err) { return err }
  }
  const opts = { handled: true, appRoot: repoRoot }
  const a = toErrorEvent(fromCart(), opts)
  const b = toErrorEvent(fromInvoice(), opts)
  const c = toErrorEvent(otherBug(), opts)
  t.equal(a.groupingKey, b.groupingKey)
  t.not(a.frames[1].function, b.frames[1].function, 'the call paths really differ')
  t.not(c.groupingKey, a.groupingKey)
  t.match(a.culprit, /^parsePrice \(test\/errors\/grouping\.test\.ts:\d+\)$/)
})

t.test('a compiled TypeScript app: same bug from two routes in two processes shares a key, another bug does not', async (t) => {
  const built = await buildTsApp()
  t.teardown(built.cleanup)
  const child = async (which: string, ...nodeArgs: string[]) => {
    // With Node's source maps on, frames point at the .ts sources, which live in the repo: that is the app root then.
    const appRoot = nodeArgs.includes('--enable-source-maps') ? repoRoot : built.outDir
    const { stdout } = await runNode([...nodeArgs, built.app, which, appRoot], { cwd: built.outDir })
    return JSON.parse(stdout)
  }
  const [checkout, invoice, quantity] = await Promise.all([child('checkout'), child('invoice'), child('quantity')])
  t.equal(checkout.nodeSourceMaps, false, 'plain node')
  t.match(checkout.event.frames[0].raw, /bugs\.js:\d+:\d+\)$/, 'V8 reported the compiled file')
  t.equal(checkout.event.type, 'TypeError')
  t.equal(checkout.generatedKey, invoice.generatedKey, 'same bug, two routes, two processes')
  t.not(checkout.event.message, invoice.event.message, 'messages differ')
  t.not(quantity.generatedKey, checkout.generatedKey, 'different bug, same type')
  // Run again in fresh processes: the key is a pure function of the code, not of the process.
  const again = await child('invoice')
  t.equal(again.generatedKey, checkout.generatedKey)
  // With Node's own source maps the frames are .ts ones; grouping is still stable between routes.
  const [mappedA, mappedB] = await Promise.all([child('checkout', '--enable-source-maps'), child('invoice', '--enable-source-maps')])
  t.equal(mappedA.generatedKey, mappedB.generatedKey)
  t.match(mappedA.event.culprit, /^totalOf \(test\/fixtures\/errors\/ts-app\/bugs\.ts:\d+\)$/)
})
