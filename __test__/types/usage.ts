// Compiled (never run) by __test__/types.test.js with `tsc --strict`.
// Covers every public member of the package typings. `IsAny` guards make sure a member
// is really typed (an `any` would let every line below compile).
import { SSOTokenProvider, fromSso, login, logout, LoginPrompt, AbortSignalLike } from '../..'

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny = <T>(_value: T, _check: IsAny<T> extends false ? true : never): void => undefined

// ---- constructor: no options, empty options, profile, callback (v2's typings forgot it)
const p0: SSOTokenProvider = new SSOTokenProvider()
const p1 = new SSOTokenProvider({})
const p2 = new SSOTokenProvider({ profile: 'dev' })
const p3 = new SSOTokenProvider({
  profile: 'dev',
  callback(err) {
    if (err) {
      const message: string = err.message
      void message
    }
  },
})
const p4 = new SSOTokenProvider({ callback: (err) => void err })
void p0
void p1
void p4

// ---- instance state
const token: string | undefined | null = p3.token
notAny(p3.token, true)
const expireTime: Date | null | undefined = p3.expireTime
notAny(p3.expireTime, true)
if (p3.expireTime) {
  const ms: number = p3.expireTime.getTime()
  void ms
}
const expired: boolean = p3.expired
notAny(p3.expired, true)
const profile: string = p3.profile
notAny(p3.profile, true)
void token
void expireTime
void expired
void profile

// ---- expiryWindow: instance and static, readable and writable
const w: number = p3.expiryWindow
notAny(p3.expiryWindow, true)
p3.expiryWindow = 600
const sw: number = SSOTokenProvider.expiryWindow
notAny(SSOTokenProvider.expiryWindow, true)
SSOTokenProvider.expiryWindow = 600
void w
void sw

// ---- methods
const needs: boolean = p3.needsRefresh()
notAny(p3.needsRefresh(), true)
void needs

p3.get((err) => {
  const m: string | undefined = err ? err.message : undefined
  void m
})
p3.refresh((err) => {
  if (err) throw err
})

const g: Promise<void> = p3.getPromise()
const r: Promise<void> = p2.refreshPromise()
notAny(p3.getPromise(), true)
notAny(p3.refreshPromise(), true)
void g
void r

async function useAwait(): Promise<string | undefined | null> {
  await p3.getPromise()
  await p3.refreshPromise()
  return p3.token
}
void useAwait

// ---- fromSso (SDK v3 token-provider shape)
const provider = fromSso({ profile: 'dev' })
notAny(provider, true)
async function useFromSso(): Promise<void> {
  const identity = await provider()
  const t: string = identity.token
  notAny(identity.token, true)
  const exp: Date | undefined = identity.expiration
  void t
  void exp
}
void useFromSso

// ---- login / logout
declare const signal: AbortSignalLike
async function useLogin(): Promise<void> {
  const { expiration } = await login({
    profile: 'dev',
    useDeviceCode: false,
    openBrowser: false,
    timeoutMs: 60_000,
    signal,
    onPrompt(prompt: LoginPrompt) {
      const url: string = prompt.authorizeUrl ?? prompt.verificationUriComplete
      const code: string | null = prompt.userCode
      const flow: 'authorization_code' | 'device_code' = prompt.flow
      ;(void url, code, flow)
    },
  })
  notAny(expiration, true)
  const ms: number = expiration.getTime()
  const out = await logout({ profile: 'dev' })
  const removed: string[] = out.removed
  const warnings: string[] = (await logout()).warnings
  ;(void ms, removed, warnings)
}
void useLogin

// ---- wrong usages must be rejected
// @ts-expect-error timeoutMs is a number
login({ timeoutMs: '5s' })
// @ts-expect-error login never resolves with a token
login().then((r) => r.token)
// @ts-expect-error logout's profile is a string
logout({ profile: true })
// @ts-expect-error profile must be a string
new SSOTokenProvider({ profile: 42 })
// @ts-expect-error callback must be a function
new SSOTokenProvider({ callback: 'not a function' })
// @ts-expect-error needsRefresh takes no argument
p3.needsRefresh('now')
// @ts-expect-error getPromise resolves to void, not a string
const notAString: Promise<string> = p3.getPromise()
void notAString
// @ts-expect-error fromSso profile must be a string
fromSso({ profile: 7 })
// @ts-expect-error expireTime is not a number
const notNumber: number = p3.expireTime
void notNumber
