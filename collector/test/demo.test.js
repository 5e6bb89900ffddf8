// @ts-check
'use strict'

const t = require('tap')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { tempDir } = require('./helpers/collector.js')

const ROOT = path.join(__dirname, '../..')
const built = fs.existsSync(path.join(ROOT, 'dist/lib/start.js'))
let express = true
try { require.resolve('express', { paths: [path.join(__dirname, '../demo')] }) } catch { express = false }

t.test('the demo runs the instrumented app against the collector and prints the dashboard URL and the report', {
  skip: !built ? 'the agent is not built (npm run build at the root)' : !express ? 'express is not installed at the root' : false
}, async (t) => {
  const data = tempDir('apm-demo-test-')
  t.teardown(() => fs.rmSync(data, { recursive: true, force: true }))
  const child = spawn(process.execPath, [path.join(__dirname, '../demo/run.js'), '--once', '--seconds', '4', '--port', '0', '--data', data], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(code, 0, out)
  t.match(out, /\[demo\] (throw-away PostgreSQL from \S+|PostgreSQL binaries not found.*: the demo app keeps its data in memory)/)
  t.match(out, /== demo-shop \(demo\) — last 15m: \d+ transactions/)
  t.match(out, /GET \/slow\s+\d+/)
  t.match(out, /Top error groups/)
  t.match(out, /RangeError: Invalid array length\s+priceOf \(collector\/demo\/app\.js:\d+\)\s+1\.1\.0/, 'the bug of release 1.1.0 is first seen in 1.1.0')
  t.match(out, /\[demo\] dashboard: http:\/\/127\.0\.0\.1:\d+\/services\/demo-shop\/transactions/)
  const pg = /throw-away PostgreSQL from \S+ on (\S+)/.exec(out)
  if (pg) t.notOk(fs.existsSync(pg[1]), 'the throw-away database is stopped and removed')
})
