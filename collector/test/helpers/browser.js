// @ts-check
// Debian's chromium driven by playwright-core (no downloaded browsers), with a fresh profile per launch.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic']

function browserAvailable () {
  return fs.existsSync(CHROMIUM)
}

/** @param {any} t tap test */
async function launch (t) {
  const { chromium } = require('playwright-core')
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'apm-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 }
  })
  t.teardown(async () => {
    await context.close()
    fs.rmSync(profile, { recursive: true, force: true })
  })
  return context
}

module.exports = { launch, browserAvailable, CHROMIUM }
