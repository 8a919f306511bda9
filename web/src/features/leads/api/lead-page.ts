import type { SupabaseClient } from "@supabase/supabase-js";
import { infiniteQueryOptions, queryOptions } from "@tanstack/react-query";
import { api } from "@/lib/api";
import type { Lead } from "./leads";

export const ACTIVITY_KINDS = ["note", "call", "email", "meeting", "task"] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

export type Activity = {
  id: string;
  kind: ActivityKind;
  subject: string | null;
  body: string | null;
  status: "draft" | "planned" | "done" | "cancelled";
  due_at: string | null;
  occurred_at: string;
};

export type AuditEntry = {
  id: number;
  action: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  created_at: string;
};

export type TimelineItem = { type: "activity" | "audit"; at: string; activity: Activity | null; audit: AuditEntry | null };

export function timelineQuery(supabase: SupabaseClient, agencyId: string | null, leadId: string) {
  return infiniteQueryOptions({
    queryKey: ["leads", agencyId, "timeline", leadId],
    queryFn: ({ pageParam }) =>
      api<{ items: TimelineItem[]; next_cursor: string | null }>(
        supabase,
        `/api/v1/leads/${leadId}/timeline?limit=30${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ""}`,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
}

export type NewActivity = { kind: ActivityKind; subject?: string; body?: string; due_at?: string };

export function addActivity(supabase: SupabaseClient, leadId: string, activity: NewActivity): Promise<Activity> {
  return api<Activity>(supabase, "/api/v1/activities", { method: "POST", body: { ...activity, lead_id: leadId } });
}

export function completeActivity(supabase: SupabaseClient, id: string): Promise<Activity> {
  return api<Activity>(supabase, `/api/v1/activities/${id}/complete`, { method: "POST" });
}

export function convertLead(supabase: SupabaseClient, leadId: string): Promise<{ client: { id: string } }> {
  return api(supabase, `/api/v1/leads/${leadId}/convert`, { method: "POST", body: {} });
}

export type Duplicate = {
  kind: "lead" | "client";
  id: string;
  score: number;
  reasons: string[];
  same_person: boolean;
  record: Partial<Lead> & { id: string };
};

export function duplicatesQuery(supabase: SupabaseClient, agencyId: string | null, leadId: string) {
  return queryOptions({
    queryKey: ["leads", agencyId, "duplicates", leadId],
    queryFn: () => api<Duplicate[]>(supabase, `/api/v1/leads/${leadId}/duplicates`),
  });
}

/** The fields a merge can take from either lead (the server's MERGEABLE_FIELDS); tags are united and
 * custom fields merged without asking. */
export const MERGEABLE = [
  ["first_name", "First name"],
  ["last_name", "Last name"],
  ["email", "Email"],
  ["phone", "Phone"],
  ["company", "Company"],
  ["job_title", "Job title"],
  ["website", "Website"],
  ["city", "City"],
  ["country", "Country"],
  ["source", "Source"],
  ["status", "Status"],
  ["owner_id", "Owner"],
  ["score", "Score"],
  ["estimated_value", "Estimated value"],
  ["notes", "Notes"],
] as const;

export function mergeLeads(
  supabase: SupabaseClient,
  survivorId: string,
  duplicateId: string,
  prefer: Record<string, string>,
): Promise<unknown> {
  return api(supabase, `/api/v1/leads/${survivorId}/merge`, {
    method: "POST",
    body: { duplicate_ids: [duplicateId], prefer },
  });
}
