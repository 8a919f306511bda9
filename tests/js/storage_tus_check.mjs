// Uploads to GardenOS's /storage/v1/upload/resumable with tus-js-client, as Supabase's docs show for
// resumable uploads (6 MB chunks, bucketName/objectName/contentType/cacheControl in the metadata, the
// user's access token and the anon key as headers), and prints one JSON object: what each upload did.
// The assertions live in tests/integration/storage/test_storage_tus_js.py.
//
// Usage: node storage_tus_check.mjs <api url> <anon key> <email> <password> <bucket>
import { createHash } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import * as tus from 'tus-js-client'

const [url, anonKey, email, password, bucket] = process.argv.slice(2)
const supabase = createClient(url, anonKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
})
const MiB = 1024 * 1024
const results = {}

const signedIn = await supabase.auth.signInWithPassword({ email, password })
const token = signedIn.data.session.access_token
results.bucket = (await supabase.storage.createBucket(bucket, { public: false })).error

function bytes(size, seed) {
  const data = Buffer.alloc(size)
  for (let i = 0; i < size; i += 32) {
    createHash('sha256').update(`${seed}:${i}`).digest().copy(data, i)
  }
  return data
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex')

// One tus.Upload to its end (or error); `during` sees each finished chunk and may stop the upload.
function send(data, objectName, options = {}, during = () => {}) {
  const patches = []
  return new Promise((resolve) => {
    const upload = new tus.Upload(data, {
      endpoint: `${url}/storage/v1/upload/resumable`,
      retryDelays: [0, 500, 1000, 2000, 4000],
      headers: { authorization: `Bearer ${token}`, apikey: anonKey, 'x-upsert': 'true' },
      uploadDataDuringCreation: true,
      removeFingerprintOnSuccess: true,
      chunkSize: 6 * MiB,
      metadata: {
        bucketName: bucket,
        objectName,
        contentType: 'application/pdf',
        cacheControl: '3600',
        metadata: JSON.stringify({ lead: '42' }),
      },
      onBeforeRequest(req) {
        if (req.getMethod() === 'PATCH') patches.push(Number(req.getHeader('Upload-Offset')))
      },
      onChunkComplete(chunk, accepted, total) {
        during(upload, accepted, total, resolve, patches)
      },
      onSuccess() {
        resolve({ ok: true, url: upload.url, patches })
      },
      onError(error) {
        const response = error.originalResponse
        resolve({
          ok: false,
          patches,
          status: response ? response.getStatus() : null,
          body: response ? response.getBody() : String(error),
        })
      },
      ...options,
    })
    upload.start()
  })
}

async function download(name) {
  const { data, error } = await supabase.storage.from(bucket).download(name)
  if (error) return { error: error.message }
  return { sha256: sha256(Buffer.from(await data.arrayBuffer())), size: data.size, type: data.type }
}

// A whole upload in 6 MB chunks, the first with the creation request.
const whole = bytes(13 * MiB + 99, 1)
results.whole = await send(whole, 'tus/whole.pdf')
results.whole_download = await download('tus/whole.pdf')
results.whole_expected = sha256(whole)
const info = await supabase.storage.from(bucket).info('tus/whole.pdf')
results.whole_info = info.error ? { error: info.error.message } : info.data

// An upload stopped after its first chunk (the tab closed), resumed from its URL by a new tus.Upload.
const resumed = bytes(9 * MiB + 5, 2)
results.stopped = await send(resumed, 'tus/resumed.pdf', { chunkSize: 2 * MiB }, (upload, accepted, total, resolve, patches) => {
  upload.abort().then(() => resolve({ ok: false, stopped_at: accepted, url: upload.url, patches }))
})
results.resumed = await send(resumed, 'tus/resumed.pdf', { chunkSize: 2 * MiB, uploadUrl: results.stopped.url })
results.resumed_download = await download('tus/resumed.pdf')
results.resumed_expected = sha256(resumed)

// Refusals: no such bucket, a type the bucket refuses, an object of another agency's upload id.
results.no_bucket = await send(Buffer.from('x'), 'a.pdf', { metadata: { bucketName: 'no-such-bucket', objectName: 'a.pdf' } })
results.bad_key = await send(Buffer.from('x'), 'a.pdf', { metadata: { bucketName: bucket, objectName: '../a.pdf' } })

console.log(JSON.stringify(results))
