import type { Session, SupabaseClient } from "@supabase/supabase-js";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import { AuthContext } from "@/lib/supabase";
import type { Lead } from "../api/leads";

export const session = {
  access_token: "token-1",
  user: { email: "a@example.com", app_metadata: { agency_id: "agency-1" } },
} as unknown as Session;

/** supabase-js as far as the app uses it here: the session, and /rest/v1 reads that find nothing. */
export function fakeSupabase(): SupabaseClient {
  const rows = { data: [], error: null };
  const chain: Record<string, unknown> = {};
  for (const method of ["select", "eq", "order", "upsert", "delete", "single"]) chain[method] = () => chain;
  chain.then = (resolve: (value: typeof rows) => void) => resolve(rows);
  return {
    auth: { getSession: async () => ({ data: { session } }) },
    from: () => chain,
  } as unknown as SupabaseClient;
}

export function lead(n: number, extra: Partial<Lead> = {}): Lead {
  return {
    id: `lead-${n}`,
    first_name: "Ada",
    last_name: `Lovelace ${n}`,
    email: `ada${n}@example.com`,
    phone: null,
    company: "Analytical Engines",
    job_title: null,
    website: null,
    city: null,
    country: null,
    owner_id: null,
    tags: [],
    custom_fields: {},
    notes: null,
    source: null,
    status: "new",
    score: n,
    estimated_value: null,
    last_activity_at: null,
    converted_at: null,
    created_at: "2026-01-02T03:04:05Z",
    updated_at: "2026-01-02T03:04:05Z",
    ...extra,
  };
}

export type Call = { url: string; method: string; body: unknown };

/** A stand-in for GardenOS's HTTP API: `answer` gives the JSON for a call (or a Response); every call is
 * recorded, with the token checked. */
export function stubApi(answer: (call: Call) => unknown): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const headers = (init.headers ?? {}) as Record<string, string>;
      if (headers.Authorization !== "Bearer token-1") throw new Error(`no token on ${url}`);
      const call = { url, method: init.method ?? "GET", body: init.body ? JSON.parse(String(init.body)) : undefined };
      calls.push(call);
      const result = answer(call);
      if (result instanceof Response) return result;
      return new Response(result === undefined ? null : JSON.stringify(result), { status: result === undefined ? 204 : 200 });
    }),
  );
  return calls;
}

export function renderWithApp(ui: ReactNode, path = "/leads") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <AuthContext.Provider value={{ supabase: fakeSupabase(), session }}>
      <QueryClientProvider client={client}>
        <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
      </QueryClientProvider>
    </AuthContext.Provider>,
  );
}
