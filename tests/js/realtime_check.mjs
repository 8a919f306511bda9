// Realtime through @supabase/supabase-js (its realtime-js), as a front end uses it: two clients on one
// channel broadcast (self, ack) and track presence; a private channel no policy allows is refused.
// Prints one JSON object; the assertions live in tests/integration/realtime/test_supabase_js.py.
//
// Usage: node realtime_check.mjs <api url> <anon key> <email> <password> <topic> <vsn: 1.0.0 | 2.0.0>
import { createClient } from '@supabase/supabase-js'
// Node 20 has no WebSocket of its own; realtime-js takes `ws` (its own dependency) as the transport.
import WebSocket from 'ws'

const [url, anonKey, email, password, topic, vsn] = process.argv.slice(2)
const WAIT_MS = 15000

async function signedIn() {
  const client = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { vsn, transport: WebSocket },
  })
  const { data, error } = await client.auth.signInWithPassword({ email, password })
  if (error) throw new Error(`sign in: ${error.message}`)
  await client.realtime.setAuth(data.session.access_token)
  return client
}

function until(check, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = () => {
      const value = check()
      if (value) return resolve(value)
      if (Date.now() - started > WAIT_MS) return reject(new Error(`never happened: ${what}`))
      setTimeout(poll, 20)
    }
    poll()
  })
}

function subscribe(channel) {
  return new Promise((resolve) => channel.subscribe((status, err) => {
    if (status !== 'CLOSED') resolve({ status, error: err ? String(err.message ?? err) : null })
  }))
}

const results = {}
try {
const a = await signedIn()
const b = await signedIn()
const heardA = []
const heardB = []
const joins = []
const leaves = []

const chA = a.channel(topic, { config: { broadcast: { self: true, ack: true }, presence: { key: 'alice' } } })
chA.on('broadcast', { event: 'ping' }, (message) => heardA.push(message.payload))
chA.on('presence', { event: 'sync' }, () => {})
chA.on('presence', { event: 'join' }, ({ key }) => joins.push(key))
chA.on('presence', { event: 'leave' }, ({ key }) => leaves.push(key))
results.subscribe_a = await subscribe(chA)

const chB = b.channel(topic, { config: { broadcast: { self: false }, presence: { key: 'bob' } } })
chB.on('broadcast', { event: 'ping' }, (message) => heardB.push(message.payload))
chB.on('presence', { event: 'sync' }, () => {})
results.subscribe_b = await subscribe(chB)

results.ack = await chA.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } })
await chB.send({ type: 'broadcast', event: 'ping', payload: { n: 2 } })
await until(() => heardA.length === 2 && heardB.length === 1, 'both broadcasts heard')
results.heard_a = heardA
results.heard_b = heardB

results.track_a = await chA.track({ who: 'a' })
await until(() => chB.presenceState().alice, 'b sees alice')
results.track_b = await chB.track({ who: 'b' })
await until(() => joins.includes('bob'), 'a sees bob join')
results.state_a = Object.fromEntries(Object.entries(chA.presenceState()).map(([k, v]) => [k, v.map((p) => p.who)]))
await until(() => Object.keys(chA.presenceState()).length === 2, 'a sees both')
results.state_a = Object.fromEntries(Object.entries(chA.presenceState()).map(([k, v]) => [k, v.map((p) => p.who)]))
await chB.untrack()
await until(() => leaves.includes('bob'), 'a sees bob leave')
results.state_after_leave = Object.keys(chA.presenceState())

const refused = a.channel(`closed:${topic}`, { config: { private: true } })
results.private_refused = await subscribe(refused)

await a.removeAllChannels()
await b.removeAllChannels()
} catch (error) {
  results.failure = String(error.message ?? error)
}
console.log(JSON.stringify(results))
process.exit(0)
