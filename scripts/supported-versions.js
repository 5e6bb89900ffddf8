#!/usr/bin/env node
// Prints the "supported versions" Markdown table from the instrumentation registry in dist/ (run `npm run build`
// first), with the versions the test suite runs against: the root devDependencies and the test/versions/*
// workspaces, as installed. `require('./supported-versions').versionsTable()` returns the same text.
'use strict'
const { existsSync, readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')

// Where the tests load modules from: the root and each test/versions/* workspace (which nest their own versions).
function installRoots () {
  const roots = [join(root, 'node_modules')]
  const versions = join(root, 'test', 'versions')
  if (existsSync(versions)) {
    for (const dir of readdirSync(versions).sort()) roots.push(join(versions, dir, 'node_modules'))
  }
  return roots
}

function testedVersions (module, range) {
  const semver = require('semver')
  const found = new Set()
  for (const dir of installRoots()) {
    try {
      const { version } = JSON.parse(readFileSync(join(dir, module, 'package.json'), 'utf8'))
      if (typeof version === 'string' && semver.satisfies(version, range, { includePrerelease: true })) found.add(version)
    } catch {}
  }
  return [...found].sort(semver.compare)
}

function versionsTable () {
  const { instrumentations } = require(join(root, 'dist', 'instrumentations', 'index.js'))
  const rows = ['| instrumentation | module | supported versions | tested with |', '|---|---|---|---|']
  for (const inst of instrumentations) {
    for (const target of inst.targets) {
      if (target.versions === '*') {
        const what = target.covers ?? 'bundled with Node.js'
        const tested = target.covers === undefined ? `Node.js ${process.versions.node}` : `Node.js ${process.versions.node}; ${testedVersions(inst.id, '*').map((v) => `\`${inst.id}\` ${v}`).join(', ') || '—'}`
        rows.push(`| \`${inst.id}\` | \`${target.module}\` | ${what} | ${tested} |`)
        continue
      }
      const tested = testedVersions(target.module, target.versions)
      rows.push(`| \`${inst.id}\` | \`${target.module}\` | \`${target.versions}\` | ${tested.length === 0 ? '—' : tested.join(', ')} |`)
    }
  }
  // Koa routers are not patched (koa's instrumentation reads the ctx._matchedRoute they document), so they have no
  // registry range: say which versions the tests ran.
  const routers = ['@koa/router', 'koa-router'].map((m) => `\`${m}\` ${testedVersions(m, '*').join(', ') || '—'}`)
  rows.push('', `Koa transactions are named from the matched route of @koa/router or koa-router; tested with ${routers.join('; ')}.`)
  return rows.join('\n')
}

module.exports = { versionsTable }

if (require.main === module) process.stdout.write(versionsTable() + '\n')
