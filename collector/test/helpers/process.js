// @ts-check
// Runs the apm-collector command as a real child process and waits until it listens.
'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')

const BIN = path.join(__dirname, '../../bin/apm-collector.js')

/**
 * @param {string[]} args
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, url: string, output: () => string }>}
 */
function spawnCollector (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`collector did not start:\n${out}`)) }, 15000)
    const onData = (/** @type {Buffer} */ d) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      // the whole banner: "auth" is its last line
      if (m && /\n\s+auth\s+.*\n/.test(out)) {
        clearTimeout(timer)
        resolve({ child, url: m[1], output: () => out })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`collector exited with ${code}:\n${out}`)) })
  })
}

/**
 * Runs the command to completion.
 * @param {string[]} args @param {{ timeoutMs?: number }} [o]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function runCommand (args, o = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 15000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** @param {import('node:child_process').ChildProcess} child @param {NodeJS.Signals} signal */
function stop (child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
    child.kill(signal)
  })
}

module.exports = { spawnCollector, runCommand, stop, BIN }
