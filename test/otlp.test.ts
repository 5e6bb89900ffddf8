// lib/export/otlp.ts's number and string encoders against references: nanosecond times exact in every digit,
// JSON string literals identical to JSON.stringify's.
import t from 'tap'
import { nanos, encodeAttributes } from '../lib/export/otlp'

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
