// lib/export/otlp.ts's number and string encoders against references: nanosecond times exact in every digit,
// JSON string literals identical to JSON.stringify's.
import t from 'tap'
import { nanos, encodeAttributes, encodeSpan } from '../lib/export/otlp'
import { Recorder } from '../lib/recorder'
import { resolveConfig } from '../lib/config'
import { Logger } from '../lib/logger'

// The exact decimal nanoseconds of a millisecond value rounded to the nearest nanosecond, with BigInt arithmetic.
function reference (ms: number): string {
  const whole = Math.floor(ms)
  const frac = Math.round((ms - whole) * 1e6)
  return (BigInt(whole) * 1_000_000n + BigInt(frac)).toString()
}

t.test('nanos: exact digits, also across millisecond and second boundaries', async (t) => {
  const now = Date.now() + 0.123456
  // (A double near 1.7e12 ms resolves ~0.24 µs; values are written as sums so that what is tested is explicit.)
  const cases = [now, 1764000000000, 1764000000999 + 0.9995, 1764000001000 + 0.25, 1764000000000 + 0.5, 999.75, 1000,
    999 + 0.9999999, 4102444800000 + 0.75]
  for (let i = 0; i < 2000; i++) cases.push(1.7e12 + Math.random() * 1e11)
  let wrong = 0
  for (const ms of cases) if (nanos(ms) !== reference(ms)) wrong++
  t.equal(wrong, 0, `${cases.length} values, interleaved as start and end times are`)
  t.equal(nanos(999 + 0.9999999), '1000000000', 'a rounding carry into the next millisecond and second')
  t.equal(nanos(1764000000042.25), '1764000000042250000', 'milliseconds zero-padded within their second')
  t.equal(nanos(1764000000005.0625), '1764000000005062500', 'and the sub-millisecond part within its millisecond')
})

t.test('string values are the JSON.stringify literal, whatever their characters', async (t) => {
  const values = ['', 'plain', 'GET /users/:id', 'quote " and backslash \\', 'tab\tnewline\n', '\u0000\u001f', 'é日本😀',
    'lone \ud800 surrogate', 'x'.repeat(64), 'y'.repeat(65) + '"', '\u007f\u2028\u2029']
  // (Messages name the value by index: U+2028 in a message would break the TAP stream's lines.)
  values.forEach((value, i) => {
    const encoded = encodeAttributes({ k: value })
    t.equal(JSON.parse(encoded)[0].value.stringValue, JSON.parse(JSON.stringify(value)), `value ${i} round-trips`)
    t.ok(encoded.includes(JSON.stringify(value)), `value ${i} is byte-identical to JSON.stringify's`)
  })
})

t.test('a span whose attributes repeat the previous one of its name encodes exactly as a fresh encoding would', async (t) => {
  const log = new Logger()
  log.setLevel('off')
  const recorder = new Recorder(resolveConfig({ serviceName: 'runs', serverUrl: 'http://127.0.0.1:9' }, {}, log), { pushSpan () {} } as any, log)
  const shared = ['a', 'b']
  const make = (path: string, status: number, header: string[]): any => {
    const tx = recorder.startTransaction('GET /users/:id', 'request')
    tx.setAttribute('url.path', path)
    tx.setAttribute('http.response.status_code', status)
    tx.end()
    const withArray = recorder.startTransaction('GET /headers', 'request')
    withArray.setAttribute('http.request.header.accept', header)
    withArray.end()
    return [JSON.parse(encodeSpan(tx)).attributes, JSON.parse(encodeSpan(withArray)).attributes]
  }
  const first = make('/users/1', 200, shared)
  t.same(make('/users/1', 200, shared), first, 'the same values: the same encoding (reused)')
  const changed = make('/users/2', 404, shared)
  t.same(changed[0].find((a: any) => a.key === 'url.path').value.stringValue, '/users/2', 'a changed value is encoded anew')
  t.same(changed[0].find((a: any) => a.key === 'http.response.status_code').value.intValue, '404')
  shared.push('c')
  const mutated = make('/users/2', 404, shared)
  t.same(mutated[1].find((a: any) => a.key === 'http.request.header.accept').value.arrayValue.values.map((v: any) => v.stringValue), ['a', 'b', 'c'], 'an array changed in place between spans is encoded as it is now')
})
