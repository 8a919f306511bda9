// Calls GardenOS's /storage/v1 through @supabase/supabase-js's storage client, as a front end does, and
// prints one JSON object: for each named call, what the client handed back. The assertions live in
// tests/integration/storage/test_storage_js.py, which starts the API and runs this script once.
//
// Usage: node storage_js_check.mjs <api url> <anon key> <email> <password> <bucket>
import { createClient } from '@supabase/supabase-js'

const [url, anonKey, email, password, bucket] = process.argv.slice(2)
const supabase = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
})
const results = {}
const error = (e) => (e ? { name: e.name, message: e.message, status: e.status ?? e.statusCode ?? null } : null)
async function record(name, call, shape = (d) => d) {
  const { data, error: e } = await call
  results[name] = { data: data == null ? null : await shape(data), error: error(e) }
}

const signedIn = await supabase.auth.signInWithPassword({ email, password })
results.sign_in = { error: signedIn.error, agency: signedIn.data.user?.app_metadata?.agency_id ?? null }

const storage = supabase.storage
await record('create_bucket', storage.createBucket(bucket, { public: false, fileSizeLimit: 1000 }))
await record('get_bucket', storage.getBucket(bucket), (b) => ({ id: b.id, public: b.public, limit: b.file_size_limit }))
await record('list_buckets', storage.listBuckets(), (bs) => bs.map((b) => b.id).includes(bucket))
await record('update_bucket', storage.updateBucket(bucket, { public: true, allowedMimeTypes: ['text/*'] }))

const files = storage.from(bucket)
await record(
  'upload_blob',
  files.upload('notes/a.txt', new Blob(['hello from js'], { type: 'text/plain' }), { metadata: { lead: '7' } }),
)
await record(
  'upload_raw',
  files.upload('notes/b.txt', new TextEncoder().encode('raw body'), { contentType: 'text/plain', cacheControl: '60' }),
)
await record('upload_duplicate', files.upload('notes/a.txt', new Blob(['again'], { type: 'text/plain' })))
await record('upload_wrong_type', files.upload('x.png', new Blob(['png'], { type: 'image/png' })))
await record('upload_too_large', files.upload('big.txt', new Blob(['x'.repeat(1001)], { type: 'text/plain' })))
await record(
  'upsert',
  files.upload('notes/a.txt', new Blob(['replaced'], { type: 'text/plain' }), { upsert: true }),
)
await record('update', files.update('notes/b.txt', new Blob(['updated'], { type: 'text/plain' })))
await record('download', files.download('notes/a.txt'), (blob) => blob.text())
await record('download_missing', files.download('notes/none.txt'))
await record('info', files.info('notes/a.txt'), (i) => ({ size: i.size, metadata: i.metadata, contentType: i.contentType }))
await record('exists', files.exists('notes/a.txt'))
await record('exists_missing', files.exists('notes/none.txt'))
await record('list', files.list('notes', { limit: 10, sortBy: { column: 'name', order: 'desc' } }), (l) => l.map((e) => e.name))
await record('list_top', files.list(), (l) => l.map((e) => e.name))
await record('move', files.move('notes/b.txt', 'moved/b.txt'))
await record('copy', files.copy('moved/b.txt', 'copied/b.txt'))
await record('signed', files.createSignedUrl('notes/a.txt', 60), async (d) => (await fetch(d.signedUrl)).text())
await record(
  'signed_many',
  files.createSignedUrls(['notes/a.txt', 'nope.txt'], 60),
  (list) => list.map((item) => ({ path: item.path, ok: Boolean(item.signedUrl), error: item.error })),
)
const upload = await files.createSignedUploadUrl('incoming/form.txt')
results.signed_upload_url = { error: error(upload.error) }
await record('upload_to_signed', files.uploadToSignedUrl('incoming/form.txt', upload.data.token, new Blob(['via token'], { type: 'text/plain' })))
await record('download_signed_upload', files.download('incoming/form.txt'), (blob) => blob.text())
const publicUrl = files.getPublicUrl('notes/a.txt').data.publicUrl
results.public = { status: (await fetch(publicUrl)).status, body: await (await fetch(publicUrl)).text() }
await record('remove', files.remove(['copied/b.txt', 'moved/b.txt']), (l) => l.map((e) => e.name).sort())
await record('empty_bucket', storage.emptyBucket(bucket))
await record('delete_bucket', storage.deleteBucket(bucket))
await record('get_deleted_bucket', storage.getBucket(bucket))

console.log(JSON.stringify(results))
