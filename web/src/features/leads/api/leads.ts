import type { SupabaseClient } from "@supabase/supabase-js";
import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import { api } from "@/lib/api";

export const LEAD_STATUSES = ["new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost"] as const;
export type LeadStatus = (typeof LEAD_STATUSES)[number];

export type Lead = {
  id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
  company: string | null;
  job_title: string | null;
  website: string | null;
  city: string | null;
  country: string | null;
  owner_id: string | null;
  tags: string[];
  custom_fields: Record<string, unknown>;
  notes: string | null;
  source: string | null;
  status: LeadStatus;
  score: number | null;
  estimated_value: number | null;
  last_activity_at: string | null;
  converted_at: string | null;
  created_at: string;
  updated_at: string;
};

export type LeadPage = { items: Lead[]; next_cursor: string | null };

/** The orders /api/v1/leads knows (its `sort` parameter). */
export type Sort = "-created_at" | "created_at" | "-updated_at" | "-score" | "score" | "last_name";

/** What a leads table shows: its filters, order and columns; a saved view stores exactly this. */
export type LeadFilters = {
  status: LeadStatus[];
  source: string;
  owner: string;
  tags: string[];
  scoreMin: number | null;
  scoreMax: number | null;
  /** Custom field name → the value it must have, as text (the API's `custom_field=name:value`). */
  custom: Record<string, string>;
  q: string;
};
export type ViewState = LeadFilters & { sort: Sort | null; hidden: string[] };

export const EMPTY_VIEW: ViewState = {
  status: [],
  source: "",
  owner: "",
  tags: [],
  scoreMin: null,
  scoreMax: null,
  custom: {},
  q: "",
  sort: null,
  // Shown once picked in the column picker.
  hidden: ["phone", "source", "city", "country"],
};

export const PAGE_SIZE = 50;

/** The list URL for filters, an order and a page (keyset: the previous page's `next_cursor`). */
export function leadsUrl(filters: LeadFilters, sort: Sort | null, cursor: string | null, limit = PAGE_SIZE): string {
  const params = new URLSearchParams({ limit: String(limit) });
  if (sort) params.set("sort", sort);
  if (filters.q) params.set("q", filters.q);
  for (const status of filters.status) params.append("status", status);
  if (filters.source) params.set("source", filters.source);
  if (filters.owner) params.set("owner_id", filters.owner);
  for (const tag of filters.tags) params.append("tag", tag);
  if (filters.scoreMin !== null) params.set("score_min", String(filters.scoreMin));
  if (filters.scoreMax !== null) params.set("score_max", String(filters.scoreMax));
  for (const [name, value] of Object.entries(filters.custom)) if (value) params.append("custom_field", `${name}:${value}`);
  if (cursor) params.set("cursor", cursor);
  return `/api/v1/leads?${params}`;
}

export function fullName(lead: Partial<Pick<Lead, "first_name" | "last_name" | "email" | "company">>): string {
  return [lead.first_name, lead.last_name].filter(Boolean).join(" ") || lead.email || lead.company || "(no name)";
}

export function leadsQuery(supabase: SupabaseClient, agencyId: string | null, filters: LeadFilters, sort: Sort | null) {
  return infiniteQueryOptions({
    queryKey: ["leads", agencyId, "list", filters, sort],
    queryFn: ({ pageParam }) => api<LeadPage>(supabase, leadsUrl(filters, sort, pageParam)),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function leadQuery(supabase: SupabaseClient, agencyId: string | null, id: string) {
  return queryOptions({
    queryKey: ["leads", agencyId, "one", id],
    queryFn: () => api<Lead>(supabase, `/api/v1/leads/${id}`),
  });
}

export type LeadChanges = Partial<Omit<Lead, "id" | "created_at" | "updated_at" | "last_activity_at" | "converted_at">>;

export function updateLead(supabase: SupabaseClient, id: string, changes: LeadChanges): Promise<Lead> {
  return api<Lead>(supabase, `/api/v1/leads/${id}`, { method: "PATCH", body: changes });
}

export function createLead(supabase: SupabaseClient, lead: LeadChanges): Promise<Lead> {
  return api<Lead>(supabase, "/api/v1/leads", { method: "POST", body: lead });
}

export function deleteLead(supabase: SupabaseClient, id: string): Promise<void> {
  return api<void>(supabase, `/api/v1/leads/${id}`, { method: "DELETE" });
}

export function addTag(supabase: SupabaseClient, id: string, tag: string): Promise<Lead> {
  return api<Lead>(supabase, `/api/v1/leads/${id}/tags`, { method: "POST", body: { tag } });
}

// --- what the table and the page need to know about the agency -----------------------------------------

export type FieldType = "text" | "number" | "date" | "boolean" | "select";
export type FieldDefinition = { type: FieldType; required?: boolean; label?: string | null; options?: string[] | null };
export type Definitions = { leads: Record<string, FieldDefinition>; clients: Record<string, FieldDefinition> };

export function customFieldsQuery(supabase: SupabaseClient, agencyId: string | null) {
  return queryOptions({
    queryKey: ["custom-fields", agencyId],
    queryFn: () => api<Definitions>(supabase, "/api/v1/custom-fields"),
    staleTime: 60_000,
  });
}

export type Member = { user_id: string; email: string; role: string };

export function membersQuery(supabase: SupabaseClient, agencyId: string | null) {
  return queryOptions({
    queryKey: ["members", agencyId],
    queryFn: () => api<Member[]>(supabase, `/api/v1/agencies/${agencyId}/members`),
    enabled: agencyId !== null,
    staleTime: 60_000,
  });
}

export function fieldLabel(name: string, definition: FieldDefinition | undefined): string {
  return definition?.label || name.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
}
