// @ts-check
// Starts a real collector (port 0, temp data directory) for one test, torn down with it.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startCollector } = require('../../index.js')

/** @param {string} prefix */
function tempDir (prefix = 'apm-collector-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/**
 * @param {any} t tap test @param {Partial<import('../../lib/collector.js').CollectorOptions>} [options]
 */
async function collector (t, options = {}) {
  const dataDir = options.dataDir ?? tempDir()
  const c = await startCollector({ port: 0, ...options, dataDir })
  t.teardown(async () => {
    await c.close()
    if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })
  return c
}

module.exports = { collector, tempDir }
