'use strict'

// Which provider instances hold the token of which file, and telling them when that file
// changes (docs/behaviour.md §4.8), so that a running process sees a new login, a logout
// or another tool's refresh without reading the disk on every call:
//
// - one fs.watch per folder per process (the cache folder, the config file's folder),
//   shared by every instance, never keeping the process alive; an event for a file marks
//   its holders stale, and their next get() reloads;
// - the engine's refresh events (a refresh ahead of need has no load waiting for it) hand
//   the new token to every instance holding that file's token.
//
// Node's fs.watch is inotify, FSEvents or ReadDirectoryChangesW underneath and is part of
// the runtime we already run in; a Rust watcher crate would add a thread and a dependency
// for the same events. Where a watch cannot be set up or cannot be trusted (a network
// file system, the inotify limit reached), instances behave as before: they serve the
// token in memory until the window.

const fs = require('node:fs')
const path = require('node:path')
const { debuglog } = require('node:util')
const binding = require('../binding.js')

const log = debuglog('sso-token-provider')

// statfs f_type of file systems whose change events do not cover other machines' writes
// (Linux): NFS, SMB, SMB2, CIFS, Coda, AFS, 9P (WSL's Windows drives among them), Ceph,
// FUSE (sshfs and the like).
const NETWORK_FS = new Set([
  0x6969, 0x517b, 0xfe534d42, 0xff534d42, 0x73757245, 0x5346414f, 0x01021997, 0x00c36400, 0x65735546,
])

/** file path -> Set of WeakRefs to the states holding its token. */
const holders = new Map()
/** folder -> { watcher, reason }: reason says why there is no watcher. */
const folders = new Map()

function networkFileSystem(dir) {
  if (process.platform !== 'linux' || typeof fs.statfsSync !== 'function') return false
  try {
    return NETWORK_FS.has(fs.statfsSync(dir).type)
  } catch {
    return false
  }
}

// `SSO_TOKEN_PROVIDER_WATCH=off` turns change detection off (read once, at require).
const OFF = /^(off|0|false|no)$/i.test(process.env.SSO_TOKEN_PROVIDER_WATCH || '')

/** Why `dir` is not to be watched, or null. */
function unwatchable(dir) {
  if (OFF) return 'turned off by SSO_TOKEN_PROVIDER_WATCH'
  if (networkFileSystem(dir)) return 'a network file system: its change events miss other machines'
  return null
}

/** Why fs.watch failed, in the words `sso-token` prints. */
function watchError(e) {
  return e.code === 'ENOSPC' ? 'the inotify watch limit is reached' : e.code || e.message
}

function noWatch(dir, entry) {
  log('no watch of %s (%s): tokens are served from memory until the window', dir, entry.reason)
}

// How far back a file's mtime may lie before its folder's watch began and still count as
// a change the watch could have missed: the load that read the file finished just before,
// and some file systems keep mtimes to a second or two.
const MISSED_CHANGE_SLACK_MS = 2000

/**
 * The watch of `dir`: `{ watcher, reason }`, `reason` saying why there is none. Set up on a
 * later turn of the event loop, off the path of the load that asked for it; a file of the
 * folder changed meanwhile is then taken as changed.
 */
function watchFolder(dir) {
  let entry = folders.get(dir)
  if (entry) return entry
  entry = { watcher: null, reason: unwatchable(dir) }
  folders.set(dir, entry)
  if (entry.reason) {
    noWatch(dir, entry)
    return entry
  }
  const requestedAt = Date.now()
  setImmediate(() => startWatch(dir, entry, requestedAt))
  return entry
}

function startWatch(dir, entry, requestedAt) {
  try {
    entry.watcher = fs.watch(dir, { persistent: false }, (event, name) => changed(dir, name))
  } catch (e) {
    entry.reason = watchError(e)
    noWatch(dir, entry)
    return
  }
  entry.watcher.on('error', (e) => {
    // The folder went away or the watch broke: everything in it may have changed, and
    // the next load that succeeds sets a new watch up.
    log('watch of %s ended: %s', dir, e.code || e.message)
    entry.watcher.close()
    folders.delete(dir)
    changed(dir, null)
  })
  for (const file of holders.keys()) {
    if (path.dirname(file) !== dir) continue
    fs.stat(file, (err, st) => {
      if (err || st.mtimeMs >= requestedAt - MISSED_CHANGE_SLACK_MS) changed(dir, path.basename(file))
    })
  }
}

function statesOf(file) {
  const set = holders.get(file)
  const out = []
  if (!set) return out
  for (const ref of set) {
    const state = ref.deref()
    if (state && state.files.includes(file)) out.push(state)
    else set.delete(ref)
  }
  if (set.size === 0) holders.delete(file)
  return out
}

/** Marks the holders of `dir/name` (of every file in `dir` when `name` is unknown) stale. */
function changed(dir, name) {
  const files = name
    ? [path.join(dir, String(name))]
    : [...holders.keys()].filter((f) => path.dirname(f) === dir)
  for (const file of files) {
    for (const state of statesOf(file)) {
      state.changes += 1
      state.stale = true
    }
  }
}

/**
 * Records that `state` now holds the token of `cachePath` and `configPath`, watching their
 * folders. Returns whether every folder is watched.
 */
function hold(state, cachePath, configPath) {
  // Every load of an instance names the same two files, until a config edit or a new HOME.
  if (state.heldPaths[0] === cachePath && state.heldPaths[1] === configPath) return state.watched
  state.heldPaths = [cachePath, configPath]
  // Resolved, so that the names of events and of loads compare equal however HOME is written.
  const files = [path.resolve(cachePath), path.resolve(configPath)]
  state.files = files
  let watched = true
  for (const file of files) {
    let set = holders.get(file)
    if (!set) holders.set(file, (set = new Set()))
    set.add(state.ref)
    if (watchFolder(path.dirname(file)).reason) watched = false
  }
  state.watched = watched
  return watched
}

/** For `sso-token --json`: whether changes to files in `dir` would be seen, and if not why. */
function detect(dir) {
  const reason = unwatchable(dir)
  if (reason) return `none (${reason})`
  try {
    fs.watch(dir, { persistent: false }).close()
    return 'watch'
  } catch (e) {
    return `none (${watchError(e)})`
  }
}

// Every refresh in this process, whichever load started it: its token goes to every
// instance holding that file's token and an older one.
binding.onRefreshed((event) => {
  if (event.token === undefined || event.token === null) {
    log('refresh of %s failed: %s', event.cachePath, event.cause)
    return
  }
  log('refreshed %s, valid until %s', event.cachePath, new Date(event.expiresAt).toISOString())
  for (const state of statesOf(path.resolve(event.cachePath))) {
    if (!state.expireTime || +state.expireTime < event.expiresAt) {
      state.token = event.token
      state.expireTime = new Date(event.expiresAt)
      state.expired = false
    }
  }
})

module.exports = { detect, hold, log }
