#!/usr/bin/env node
// Regenerates the README sections built from code (configuration table, supported versions) from the build in
// dist/. `node scripts/readme.js` rewrites README.md; `--check` exits 1 when README.md is out of date.
'use strict'
const { readFileSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const { OPTIONS, envName } = require(join(root, 'dist/lib/config.js'))
const { versionsTable } = require('./supported-versions')

function show (value) {
  if (value === undefined) return '—'
  if (Array.isArray(value)) return value.length === 0 ? '—' : '`' + value.join(',') + '`'
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '—' : '`' + JSON.stringify(value) + '`'
  return '`' + String(value) + '`'
}

function configTable () {
  const rows = ['| option | environment | default | |', '|---|---|---|---|']
  for (const [key, spec] of Object.entries(OPTIONS)) {
    const env = ['`' + envName(key) + '`', ...(spec.aliases ?? []).map((a) => '`' + a + '`')].join(', ')
    rows.push(`| \`${key}\` | ${env} | ${show(spec.default)} | ${spec.doc} |`)
  }
  return rows.join('\n')
}

function replaceSection (text, name, content) {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a === -1 || b === -1) throw new Error(`README.md lacks the ${start} … ${end} markers`)
  return text.slice(0, a + start.length) + '\n' + content + '\n' + text.slice(b)
}

const file = join(root, 'README.md')
const current = readFileSync(file, 'utf8')
let next = replaceSection(current, 'config', configTable())
next = replaceSection(next, 'versions', versionsTable())
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md is out of date: run `npm run build && node scripts/readme.js`')
    process.exit(1)
  }
} else if (next !== current) {
  writeFileSync(file, next)
}
