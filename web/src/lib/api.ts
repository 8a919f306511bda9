import type { SupabaseClient } from "@supabase/supabase-js";

/** An error from /api/v1, carrying the message the server wrote for a person to act on. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A call to GardenOS's own API (/api/v1, /ai) with the signed-in user's token, which supabase-js keeps
 * fresh. */
export async function api<T>(
  supabase: SupabaseClient,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const { data } = await supabase.auth.getSession();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (data.session) headers.Authorization = `Bearer ${data.session.access_token}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: string; msg?: string; detail?: unknown };
    if (body.message) return body.message;
    if (body.msg) return body.msg;
  } catch {
    // Not JSON (a proxy's page): the status says what there is to say.
  }
  return `the server answered ${response.status} ${response.statusText}`;
}
