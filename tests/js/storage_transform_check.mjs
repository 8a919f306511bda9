// Image transformations through @supabase/supabase-js's storage client, as a front end asks for them:
// download({ transform }), createSignedUrl({ transform }) and getPublicUrl({ transform }). Prints one
// JSON object, each named call's outcome; tests/integration/storage/test_storage_js_transform.py asserts.
//
// Usage: node storage_transform_check.mjs <api url> <anon key> <email> <password> <bucket> <png file>
import { readFile } from 'node:fs/promises'
import { createClient } from '@supabase/supabase-js'

const [url, anonKey, email, password, bucket, pngFile] = process.argv.slice(2)
const supabase = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
})
const results = {}
const error = (e) => (e ? { name: e.name, message: e.message, status: e.status ?? e.statusCode ?? null } : null)
async function record(name, call, shape = (d) => d) {
  const { data, error: e } = await call
  results[name] = { data: data == null ? null : await shape(data), error: error(e) }
}
// A PNG's width and height, from its IHDR chunk; null for any other format.
function pngSize(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length < 24 || view.getUint32(0) !== 0x89504e47) return null
  return [view.getUint32(16), view.getUint32(20)]
}
const image = async (blob) => ({ type: blob.type, size: pngSize(new Uint8Array(await blob.arrayBuffer())) })
async function fetched(address, headers = {}) {
  const answer = await fetch(address, { headers })
  const bytes = new Uint8Array(await answer.arrayBuffer())
  return { status: answer.status, type: answer.headers.get('content-type'), size: pngSize(bytes) }
}

const signedIn = await supabase.auth.signInWithPassword({ email, password })
results.sign_in = { error: signedIn.error, agency: signedIn.data.user?.app_metadata?.agency_id ?? null }

const storage = supabase.storage
await record('create_bucket', storage.createBucket(bucket, { public: true }))
const files = storage.from(bucket)
const png = await readFile(pngFile)
await record('upload', files.upload('garden.png', new Blob([png], { type: 'image/png' })))
await record('upload_text', files.upload('notes.txt', new Blob(['words'], { type: 'text/plain' })))

await record('download_cover', files.download('garden.png', { transform: { width: 100, height: 100 } }), image)
await record(
  'download_contain',
  files.download('garden.png', { transform: { width: 100, height: 100, resize: 'contain', format: 'origin' } }),
  image,
)
await record('download_text', files.download('notes.txt', { transform: { width: 10 } }))
await record('download_bad_quality', files.download('garden.png', { transform: { width: 10, quality: 5 } }))

const signed = await files.createSignedUrl('garden.png', 60, { transform: { width: 50, height: 50 } })
results.signed = {
  error: error(signed.error),
  render: Boolean(signed.data?.signedUrl?.includes('/render/image/sign/')),
  fetched: signed.data ? await fetched(signed.data.signedUrl) : null,
}

const publicUrl = files.getPublicUrl('garden.png', { transform: { width: 40 } }).data.publicUrl
results.public = {
  render: publicUrl.includes('/render/image/public/'),
  fetched: await fetched(publicUrl),
  browser: await fetched(publicUrl, { Accept: 'image/avif,image/webp,*/*' }),
}

await record('empty_bucket', storage.emptyBucket(bucket))
await record('delete_bucket', storage.deleteBucket(bucket))
console.log(JSON.stringify(results))
