// Tests for lib/errors/capture.ts: what toErrorEvent makes of errors, causes, aggregates and hostile values; it never throws.
import t from 'tap'
import type { Test } from 'tap'
import * as path from 'node:path'
import * as vm from 'node:vm'
import { toErrorEvent } from '../../lib/errors/capture'
import type { ErrorEvent, CaptureOptions } from '../../lib/errors/capture'

const appRoot = path.resolve(__dirname, '../..')
const opts: CaptureOptions = { handled: true, appRoot }
const THIS_FILE = 'test/errors/capture.test.ts'

/** Asserts the event is plain, bounded data that survives JSON. */
function checkShape (t: Test, e: ErrorEvent): void {
  t.type(e.type, 'string')
  t.type(e.message, 'string')
  t.type(e.stacktrace, 'string')
  t.ok(Array.isArray(e.frames))
  t.match(e.groupingKey, /^[0-9a-f]{32}$/)
  t.ok(e.message.length <= 2048)
  t.ok(e.frames.length <= 50)
  t.doesNotThrow(() => JSON.stringify(e), 'serializable')
}

t.test('an Error becomes type, message, stack text, app frames, key and culprit', async (t) => {
  const err = new TypeError('boom')
  const before = Date.now()
  const e = toErrorEvent(err, opts)
  checkShape(t, e)
  t.equal(e.type, 'TypeError')
  t.equal(e.message, 'boom')
  t.equal(e.handled, true)
  t.match(e.frames[0], { file: THIS_FILE, inApp: true })
  t.match(e.culprit, new RegExp(`\\(${THIS_FILE.replace(/\./g, '\\.')}:\\d+\\)$`))
  t.match(e.stacktrace, /^TypeError: boom\n {4}at /)
  t.ok(e.time >= before - 5 && e.time <= Date.now() + 5, 'time is unix ms')
  t.same(e.causes, [])
  t.same(e.labels, {})
  t.equal(toErrorEvent(err, { ...opts, handled: false }).handled, false)
})

t.test('a subclass that keeps name "Error" is typed by its constructor; a custom name wins', async (t) => {
  class PaymentDeclined extends Error {}
  t.equal(toErrorEvent(new PaymentDeclined('no'), opts).type, 'PaymentDeclined')
  class Named extends Error {
    override name = 'CustomName'
  }
  t.equal(toErrorEvent(new Named('no'), opts).type, 'CustomName')
})

t.test('primitive own properties become bounded attributes; objects, functions and the message do not', async (t) => {
  const err: any = new Error('ECONNREFUSED 127.0.0.1:5432')
  Object.assign(err, { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', port: 5432, fatal: true, big: 10n, nested: { a: 1 }, fn () {}, long: 'x'.repeat(5000) })
  for (let k = 0; k < 50; k++) err['extra' + k] = k
  const e = toErrorEvent(err, opts)
  t.match(e.attributes, { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', port: 5432, fatal: true, big: '10' })
  t.notOk('nested' in e.attributes)
  t.notOk('fn' in e.attributes)
  t.notOk('message' in e.attributes)
  t.equal((e.attributes.long as string).length, 1024)
  t.ok(Object.keys(e.attributes).length <= 20)
})

t.test('properties that echo app data or look secret are not attributes (pg DatabaseError shape)', async (t) => {
  const err: any = new Error('duplicate key value violates unique constraint "users_email_key"')
  Object.assign(err, {
    code: '23505',
    severity: 'ERROR',
    constraint: 'users_email_key',
    table: 'users',
    routine: '_bt_check_unique',
    detail: 'Key (email)=(planted-secret@example.com) already exists.',
    where: "SQL statement \"INSERT … 'planted'\"",
    internalQuery: "SELECT 'planted'",
    hint: 'planted',
    password: 'planted',
    apiKey: 'planted',
    sessionId: 'planted',
    body: 'planted'
  })
  const e = toErrorEvent(err, opts)
  t.match(e.attributes, { code: '23505', severity: 'ERROR', constraint: 'users_email_key', table: 'users', routine: '_bt_check_unique' })
  t.notMatch(JSON.stringify(e.attributes), /planted/)
})

t.test('labels are kept as primitives, bounded', async (t) => {
  const labels: Record<string, unknown> = { tenant: 'acme', n: 1, ok: false, obj: { x: 1 }, long: 'y'.repeat(5000) }
  for (let k = 0; k < 100; k++) labels['l' + k] = k
  const e = toErrorEvent(new Error('x'), { ...opts, labels })
  t.match(e.labels, { tenant: 'acme', n: 1, ok: false })
  t.notOk('obj' in e.labels)
  t.equal((e.labels.long as string).length, 1024)
  t.ok(Object.keys(e.labels).length <= 64)
})

t.test('messages are truncated at 2 KiB, without splitting a surrogate pair', async (t) => {
  t.equal(toErrorEvent(new Error('a'.repeat(5000)), opts).message.length, 2048)
  t.equal(toErrorEvent(new Error('a'.repeat(2047) + '😀'), opts).message.length, 2047)
  t.equal(toErrorEvent(new Error('abcdef'), { ...opts, maxMessageLength: 3 }).message, 'abc')
})

t.test('a 10 MB message or string is truncated quickly and the frames are still found', async (t) => {
  const huge = 'z'.repeat(10 * 1024 * 1024)
  const start = process.hrtime.bigint()
  const e = toErrorEvent(new Error(huge), opts)
  const s = toErrorEvent(huge, opts)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.equal(e.message.length, 2048)
  t.equal(s.message.length, 2048)
  t.match(e.frames[0], { file: THIS_FILE })
  t.ok(e.stacktrace.length < 20000, 'stacktrace stays small')
  t.ok(ms < 200, `took ${ms.toFixed(1)} ms`)
})

t.test('frame-like lines inside a message are not taken for frames', async (t) => {
  const err = new Error('bad input:\n    at evil (/etc/passwd:1:1)\n    at more (/x.js:2:2)')
  const e = toErrorEvent(err, opts)
  t.notOk(e.frames.some((f) => f.function === 'evil' || f.function === 'more'))
  t.match(e.frames[0], { file: THIS_FILE })
})

t.test('at most 50 frames are kept, in frames and in the stack text', async (t) => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 200
  t.teardown(() => { Error.stackTraceLimit = limit })
  const deep = (n: number): Error => n === 0 ? new Error('deep') : deep(n - 1)
  const e = toErrorEvent(deep(120), opts)
  t.equal(e.frames.length, 50)
  t.equal(e.stacktrace.split('\n').filter((l) => l.startsWith('    at ')).length, 50)
  t.equal(toErrorEvent(deep(10), { ...opts, maxFrames: 5 }).frames.length, 5)
})

t.test('a non-Error gets a synthetic stack from the capture site, without the capturer', async (t) => {
  function captureError (value: unknown): ErrorEvent {
    return toErrorEvent(value, { ...opts, syntheticStackFrom: captureError })
  }
  function caller (): ErrorEvent {
    return captureError('just a string')
  }
  const e = caller()
  t.equal(e.type, 'Error')
  t.equal(e.message, 'just a string')
  t.equal(e.frames[0].function, 'caller')
  t.notOk(e.frames.some((f) => f.function === 'captureError' || (f.file ?? '').includes('lib/errors')))
  // A syntheticStackFrom that is not on the stack does not cost the stack.
  const notOnStack = toErrorEvent('x', { ...opts, syntheticStackFrom: function elsewhere () {} })
  t.match(notOnStack.frames[0], { file: THIS_FILE })
  // Without syntheticStackFrom, toErrorEvent's own frame is left out.
  const direct = toErrorEvent(42, opts)
  t.match(direct.frames[0], { file: THIS_FILE })
  t.notOk(direct.frames.some((f) => (f.file ?? '').includes('lib/errors')))
})

t.test('an app-installed Error.prepareStackTrace that returns a non-string does not break capture and is left in place', async (t) => {
  const original = Error.prepareStackTrace
  const custom = (_err: Error, callsites: NodeJS.CallSite[]) => callsites
  Error.prepareStackTrace = custom
  t.teardown(() => { Error.prepareStackTrace = original })
  const limit = Error.stackTraceLimit
  const e = toErrorEvent('thrown string', opts)
  t.ok(e.frames.length > 0, 'synthetic frames parsed')
  t.match(e.frames[0], { file: THIS_FILE })
  t.equal(Error.prepareStackTrace, custom, 'the app hook is restored')
  t.equal(Error.stackTraceLimit, limit, 'the stack trace limit is restored')
  // A real error whose .stack is the callsite array: no frames, but an event.
  const err = new Error('x')
  const real = toErrorEvent(err, opts)
  checkShape(t, real)
  t.equal(real.message, 'x')
})

t.test('primitives and oddities become descriptive events', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [42, /^Non-error value thrown \(number\): 42$/],
    [10n, /\(bigint\): 10n$/],
    [Symbol('sym'), /\(symbol\): Symbol\(sym\)$/],
    [null, /\(object\): null$/],
    [undefined, /\(undefined\): undefined$/],
    [false, /\(boolean\): false$/],
    [function named () {}, /\(function\): \[function named\]$/],
    [{ a: 1, b: 'two', c: { d: 1 } }, /^Non-error object thrown: \{ "a": 1, "b": "two", "c": \[object\] \}$/],
    [Object.create(null), /^Non-error object thrown: \{\}$/],
    [[1, 2, 3], /^Non-error object thrown: \[array\(3\)\]$/]
  ]
  for (const [value, message] of cases) {
    const e = toErrorEvent(value, opts)
    checkShape(t, e)
    t.match(e.message, message, String(typeof value))
    t.ok(e.frames.length > 0, 'has a synthetic stack')
  }
})

t.test('an error-like plain object keeps its name, message and code', async (t) => {
  const e = toErrorEvent({ name: 'ValidationError', message: 'email is invalid', code: 'E_VALID' }, opts)
  t.match(e, { type: 'ValidationError', message: 'email is invalid', attributes: { code: 'E_VALID' } })
})

t.test('hostile values never make it throw', async (t) => {
  const circular: any = { name: 'Loop' }
  circular.self = circular
  circular.message = circular

  const throwingGetters = new Error('hidden')
  for (const key of ['stack', 'message', 'name', 'cause', 'errors', 'code']) {
    Object.defineProperty(throwingGetters, key, { enumerable: true, get () { throw new Error('getter ' + key) } })
  }

  const everyTrap = new Proxy(new Error('proxied'), new Proxy({}, {
    get () {
      return () => { throw new Error('trap') }
    }
  }))
  const plainTrap = new Proxy({}, new Proxy({}, { get: () => () => { throw new Error('trap') } }))
  const { proxy: revoked, revoke } = Proxy.revocable({}, {})
  revoke()

  const badToString = { toString () { throw new Error('nope') }, valueOf () { throw new Error('nope') } }
  const errWithObjectMessage: any = new Error('x')
  errWithObjectMessage.message = badToString
  const errWithWeirdName: any = new Error('x')
  errWithWeirdName.name = { toString () { throw new Error('n') } }

  const hostile: unknown[] = [circular, throwingGetters, everyTrap, plainTrap, revoked, badToString, errWithObjectMessage, errWithWeirdName]
  for (const [k, value] of hostile.entries()) {
    let e: ErrorEvent | undefined
    t.doesNotThrow(() => { e = toErrorEvent(value, opts) }, `hostile value #${k}`)
    if (e !== undefined) checkShape(t, e)
  }
  const getterEvent = toErrorEvent(throwingGetters, opts)
  t.equal(getterEvent.message, '')
  t.equal(getterEvent.type, 'Error')
  t.ok(getterEvent.frames.length > 0, 'stack getter threw, so a synthetic stack is used')
  t.doesNotThrow(() => toErrorEvent(new Error('x'), undefined as any), 'even without options')
  t.doesNotThrow(() => toErrorEvent(new Error('x'), { appRoot: 42, handled: 'yes', maxFrames: -1, labels: revoked } as any))
})

t.test('err.cause chains are kept up to 5 levels, nearest first, with Caused by sections', async (t) => {
  let err: Error = new Error('level 10')
  for (let k = 9; k >= 0; k--) err = new Error(`level ${k}`, { cause: err })
  const e = toErrorEvent(err, opts)
  t.equal(e.causes.length, 5)
  t.same(e.causes.map((c) => c.message), ['level 1', 'level 2', 'level 3', 'level 4', 'level 5'])
  t.same(e.causes.map((c) => c.depth), [1, 2, 3, 4, 5])
  t.ok(e.causes.every((c) => c.relation === 'cause' && c.frames.length > 0))
  t.equal(e.stacktrace.match(/^Caused by: Error: level \d$/gm)?.length, 5)
  t.equal(toErrorEvent(err, { ...opts, maxCauseDepth: 2 }).causes.length, 2)
})

t.test('a cyclic cause chain stops at the cycle; non-Error causes are described', async (t) => {
  const a: any = new Error('a')
  const b: any = new Error('b', { cause: a })
  a.cause = b
  const e = toErrorEvent(a, opts)
  t.same(e.causes.map((c) => c.message), ['b'])
  const s = toErrorEvent(new Error('top', { cause: 'a reason' }), opts)
  t.match(s.causes, [{ type: 'Error', message: 'a reason', frames: [] }])
  t.match(s.stacktrace, /\nCaused by: Error: a reason$/)
})

t.test('AggregateError members are kept, capped at 10, with their count noted', async (t) => {
  const members = Array.from({ length: 25 }, (_, k) => new RangeError(`member ${k}`))
  const e = toErrorEvent(new AggregateError(members, 'many failed'), opts)
  t.equal(e.type, 'AggregateError')
  const aggregated = e.causes.filter((c) => c.relation === 'aggregate')
  t.equal(aggregated.length, 10)
  t.same(aggregated.map((c) => c.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  t.equal(aggregated[3].type, 'RangeError')
  t.match(e.stacktrace, /\nAggregated error \[0\]: RangeError: member 0\n {4}at /)
  t.match(e.stacktrace, /\n… 15 more aggregated errors$/)
  t.equal(toErrorEvent(new AggregateError([1, 'two', null], 'mixed'), opts).causes.length, 3)
})

t.test('errors from another realm are recognised as errors', async (t) => {
  const foreign = vm.runInNewContext('new TypeError("from vm")')
  const e = toErrorEvent(foreign, opts)
  t.equal(e.type, 'TypeError')
  t.equal(e.message, 'from vm')
})

t.test('events for the same thrown value are equal but for time (no hidden state)', async (t) => {
  const err = new Error('same')
  const a = toErrorEvent(err, opts)
  const b = toErrorEvent(err, opts)
  t.same({ ...a, time: 0 }, { ...b, time: 0 })
})
