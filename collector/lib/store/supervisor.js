// @ts-check
// Runs the store worker thread (drain-worker.js) and restarts it, with a growing delay, if it ever
// dies; the spool keeps everything meanwhile. Relays its progress and errors to the collector.
'use strict'

const path = require('node:path')
const { Worker } = require('node:worker_threads')

/**
 * @param {{ dbFile: string, spoolDir: string, retentionDays: number, paused: boolean,
 *   onProgress: (segment: number, offset: number) => void, onError: (message: string) => void }} o
 */
function superviseStoreWorker (o) {
  let paused = o.paused
  let stopping = false
  let restarts = 0
  /** @type {Worker} */
  let worker
  /** @type {() => void} */
  let onStopped = () => {}
  const stopped = new Promise((resolve) => { onStopped = () => resolve(undefined) })

  function start () {
    worker = new Worker(path.join(__dirname, 'drain-worker.js'), {
      workerData: { dbFile: o.dbFile, spoolDir: o.spoolDir, retentionDays: o.retentionDays, paused },
      // Not the parent's flags: loaders or --inspect meant for the app would slow or break the store thread.
      execArgv: []
    })
    worker.unref()
    worker.on('message', (msg) => {
      if (msg.type === 'progress') o.onProgress(msg.segment, msg.offset)
      else if (msg.type === 'error' || msg.type === 'fatal') o.onError(msg.message)
    })
    worker.on('error', (err) => o.onError(`store worker failed: ${err.message}`))
    worker.on('exit', (code) => {
      if (stopping) return onStopped()
      restarts++
      o.onError(`store worker exited (code ${code}); restarting (${restarts})`)
      setTimeout(start, Math.min(30_000, 250 * 2 ** Math.min(restarts, 7))).unref()
    })
  }
  start()

  return {
    get restarts () { return restarts },
    wake () { worker.postMessage('wake') },
    pause () { paused = true; worker.postMessage('pause') },
    resume () { paused = false; worker.postMessage('resume') },
    /** Lets the worker finish its current step and end. */
    async stop () {
      stopping = true
      worker.postMessage('stop')
      const timer = setTimeout(() => worker.terminate(), 10_000)
      await stopped
      clearTimeout(timer)
    }
  }
}

module.exports = { superviseStoreWorker }
