import type { SupabaseClient } from "@supabase/supabase-js";
import { queryOptions } from "@tanstack/react-query";
import { api } from "@/lib/api";

export type SearchResult = {
  type: "lead" | "client" | "memory";
  id: string;
  title: string;
  snippet: string | null;
  score: number;
};

/** Leads and clients by meaning and by words, fused (/api/v1/search). */
export function searchQuery(supabase: SupabaseClient, agencyId: string | null, q: string) {
  const params = new URLSearchParams({ q, types: "lead,client", limit: "8" });
  return queryOptions({
    queryKey: ["search", agencyId, q],
    queryFn: () => api<{ items: SearchResult[] }>(supabase, `/api/v1/search?${params}`),
    enabled: q.length > 0,
    staleTime: 30_000,
  });
}
