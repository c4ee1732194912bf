'use strict'

// Which provider instances hold the token of which cache file: the one thing about token
// state that only JavaScript knows. The core's refresh outcomes (lib/native.js's channel)
// reach every holder of the file here, the one path by which a refresh updates instances
// other than the calls that waited for it. Holders are weak: an instance that is garbage
// collected drops out.

/** cache file path -> Set of WeakRefs to the states holding its token. */
const byPath = new Map()

/** Records that `state` now holds the token of `cachePath`. */
function hold(state, cachePath) {
  if (state.path === cachePath) return
  if (state.path) byPath.get(state.path)?.delete(state.ref)
  state.path = cachePath
  let set = byPath.get(cachePath)
  if (!set) byPath.set(cachePath, (set = new Set()))
  set.add(state.ref)
}

/**
 * A refresh of `event.cachePath` ended: its holders take the file's token when it is newer
 * than theirs, and each holder's timing is asked for again (the core computes it for the
 * holder's own windows) on its next call.
 */
function deliver(event) {
  const set = byPath.get(event.cachePath)
  if (!set) return
  for (const ref of set) {
    const state = ref.deref()
    if (!state || state.path !== event.cachePath) {
      set.delete(ref)
      continue
    }
    state.timing = null
    state.askedAhead = false
    if (event.ok && event.version > state.version) {
      state.token = event.token
      state.expireTime = new Date(event.expiresAt)
      state.expired = false
      state.version = event.version
    }
  }
  if (set.size === 0) byPath.delete(event.cachePath)
}

module.exports = { deliver, hold }
