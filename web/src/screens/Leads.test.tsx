import type { Session, SupabaseClient } from "@supabase/supabase-js";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, test, vi } from "vitest";
import { AuthContext } from "@/lib/supabase";
import { Leads, type Lead } from "./Leads";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const session = {
  access_token: "token-1",
  user: { email: "a@example.com", app_metadata: { agency_id: "agency-1" } },
} as unknown as Session;
const supabase = {
  auth: { getSession: async () => ({ data: { session } }) },
} as unknown as SupabaseClient;

function lead(n: number): Lead {
  return {
    id: `lead-${n}`,
    first_name: "Ada",
    last_name: `Lovelace ${n}`,
    email: `ada${n}@example.com`,
    company: "Analytical Engines",
    status: "new",
    score: n,
    created_at: "2026-01-02T03:04:05Z",
  };
}

function renderLeads() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <AuthContext.Provider value={{ supabase, session }}>
      <QueryClientProvider client={client}>
        <Leads />
      </QueryClientProvider>
    </AuthContext.Provider>,
  );
}

test("pages through the leads with the cursor and sorts by a column", async () => {
  const urls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      urls.push(url);
      expect((init.headers as Record<string, string>).Authorization).toBe("Bearer token-1");
      const page = new URL(url, "http://x").searchParams.get("cursor")
        ? { items: [lead(2)], next_cursor: null }
        : { items: [lead(1)], next_cursor: "c1" };
      return new Response(JSON.stringify(page), { status: 200 });
    }),
  );
  renderLeads();
  expect(await screen.findByText("Ada Lovelace 1")).toBeTruthy();
  fireEvent.click(screen.getByRole("button", { name: "Load more" }));
  expect(await screen.findByText("Ada Lovelace 2")).toBeTruthy();
  expect(urls[1]).toContain("cursor=c1");

  fireEvent.click(screen.getByRole("button", { name: /Score/ }));
  await waitFor(() => expect(urls.at(-1)).toContain("sort=-score"));
  const score = screen.getByRole("columnheader", { name: /Score/ });
  expect(score.getAttribute("aria-sort")).toBe("descending");
});

test("shows the server's message when the API refuses", async () => {
  vi.stubGlobal(
    "fetch",
    vi.fn(
      async () =>
        new Response(JSON.stringify({ code: "PGRST301", message: "your session has expired: sign in again" }), {
          status: 401,
        }),
    ),
  );
  renderLeads();
  expect((await screen.findByRole("alert")).textContent).toBe("your session has expired: sign in again");
  expect(screen.getByLabelText("Search leads")).toBeTruthy();
});
