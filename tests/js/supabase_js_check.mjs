// Calls a GardenOS API through @supabase/supabase-js, as a front end does, and prints one JSON object:
// for each named call, what the client handed back ({data, error, count, status}). The assertions live in
// tests/integration/rest/test_supabase_js.py, which starts the API and runs this script once.
//
// Usage: node supabase_js_check.mjs <api url> <anon key> <email> <password>
import { createClient } from '@supabase/supabase-js'

const [url, anonKey, email, password] = process.argv.slice(2)
const supabase = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
})

const results = {}
async function record(name, query) {
  const { data, error, count, status } = await query
  results[name] = { data: data ?? null, error: error ?? null, count: count ?? null, status }
}

const signedIn = await supabase.auth.signInWithPassword({ email, password })
results.sign_in = { error: signedIn.error, agency: signedIn.data.user?.app_metadata?.agency_id ?? null }

const leads = () => supabase.from('leads')

await record(
  'insert',
  leads()
    .insert([
      { first_name: 'Ada', last_name: 'Lovelace', score: 90, company: 'Engines' },
      { first_name: 'Adam', last_name: 'Lovelace', score: 60 },
      { first_name: 'Grace', last_name: 'Hopper', score: 75 },
    ])
    .select('first_name'),
)
await record(
  'select_filtered',
  leads().select('first_name,score').eq('last_name', 'Lovelace').gt('score', 50).order('score', { ascending: false }),
)
await record('count_head', leads().select('*', { count: 'exact', head: true }).eq('last_name', 'Lovelace'))
await record('count_planned_head', leads().select('id', { count: 'planned', head: true }))
await record('range_counted', leads().select('first_name', { count: 'exact' }).order('first_name').range(0, 0))
await record('single', leads().select('first_name,company').eq('first_name', 'Ada').single())
await record('single_of_many', leads().select('first_name').single())
await record('maybe_single_of_none', leads().select('first_name').eq('first_name', 'Nobody').maybeSingle())

await record(
  'rpc_get',
  supabase.rpc('search_leads', { query: 'Lovelace' }, { get: true }).select('first_name').order('first_name'),
)
await record(
  'rpc_post_filtered',
  supabase.rpc('search_leads', { query: 'Lovelace', max_results: 10 }).select('first_name,score').gte('score', 80),
)
await record('rpc_head_count', supabase.rpc('search_leads', { query: 'Lovelace' }, { head: true, count: 'exact' }))
await record('rpc_single', supabase.rpc('search_leads', { query: 'Grace Hopper' }).select('first_name').single())
await record('rpc_scalar_table', supabase.rpc('pipeline_summary', {}, { get: true }).eq('status', 'new'))

const ada = (await leads().select('id').eq('first_name', 'Ada').single()).data
await record('upsert', leads().upsert({ id: ada.id, first_name: 'Ada', score: 95 }).select('first_name,score'))
await record('update', leads().update({ status: 'qualified' }).eq('first_name', 'Grace').select('status'))
await record('delete', leads().delete().eq('first_name', 'Adam').select('first_name'))
await record('remaining', leads().select('first_name,score,status').order('first_name'))

await record('error_unknown_column', leads().select('first_name,nope'))
await record('error_unknown_table', supabase.from('no_such_table').select('*'))
await record('error_unknown_body_column', leads().insert({ first_name: 'X', nope: 1 }))
await record(
  'error_rpc_get_writes',
  supabase.rpc('set_lead_status', { lead_id: ada.id, new_status: 'lost' }, { get: true }),
)
await record('error_explain_disabled', leads().select('id').explain())

process.stdout.write(JSON.stringify(results))
