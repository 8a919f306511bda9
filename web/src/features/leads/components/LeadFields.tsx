import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/select";
import { useAuth } from "@/lib/supabase";
import {
  fieldLabel,
  LEAD_STATUSES,
  updateLead,
  type Definitions,
  type FieldDefinition,
  type Lead,
  type LeadChanges,
  type Member,
} from "../api/leads";

const TEXT_FIELDS = [
  ["first_name", "First name", "text"],
  ["last_name", "Last name", "text"],
  ["email", "Email", "email"],
  ["phone", "Phone", "tel"],
  ["company", "Company", "text"],
  ["job_title", "Job title", "text"],
  ["website", "Website", "url"],
  ["city", "City", "text"],
  ["country", "Country", "text"],
  ["source", "Source", "text"],
] as const;

type Draft = Record<string, string>;

function asText(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function draftOf(lead: Lead, definitions: Definitions | undefined): Draft {
  const draft: Draft = {};
  for (const [name] of TEXT_FIELDS) draft[name] = asText(lead[name]);
  draft.status = lead.status;
  draft.owner_id = lead.owner_id ?? "";
  draft.score = asText(lead.score);
  draft.estimated_value = asText(lead.estimated_value);
  draft.tags = lead.tags.join(", ");
  draft.notes = asText(lead.notes);
  for (const name of Object.keys(definitions?.leads ?? {})) draft[`cf:${name}`] = asText(lead.custom_fields[name]);
  return draft;
}

function customValue(definition: FieldDefinition, text: string): unknown {
  if (text === "") return null;
  if (definition.type === "number") return Number(text);
  if (definition.type === "boolean") return text === "true";
  return text;
}

/** The changes between the lead and the form: only those go to the server (PATCH changes what it is sent). */
function changes(before: Draft, after: Draft, definitions: Definitions | undefined): LeadChanges {
  const out: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (before[key] === value) continue;
    if (key.startsWith("cf:")) {
      const name = key.slice(3);
      const definition = definitions?.leads[name];
      if (definition) custom[name] = customValue(definition, value);
    } else if (key === "tags") out.tags = value.split(",").map((t) => t.trim()).filter(Boolean);
    else if (key === "score" || key === "estimated_value") out[key] = value === "" ? null : Number(value);
    else out[key] = value.trim() === "" ? null : value;
  }
  if (Object.keys(custom).length) out.custom_fields = custom;
  return out as LeadChanges;
}

/** Every field of the lead, the agency's custom fields too, in one form; Save sends what changed. */
export function LeadFields({ lead, definitions, members }: { lead: Lead; definitions: Definitions | undefined; members: Member[] }) {
  const { supabase } = useAuth();
  const client = useQueryClient();
  const initial = draftOf(lead, definitions);
  const [draft, setDraft] = useState<Draft>(initial);
  const [base, setBase] = useState(lead.updated_at);
  // Someone else's change (or ours, saved) arrived: start again from it.
  if (base !== lead.updated_at) {
    setBase(lead.updated_at);
    setDraft(initial);
  }
  const save = useMutation({
    mutationFn: () => updateLead(supabase, lead.id, changes(initial, draft, definitions)),
    onSuccess: () => {
      toast.success("Lead saved");
      void client.invalidateQueries({ queryKey: ["leads"] });
    },
  });
  const dirty = Object.entries(draft).some(([k, v]) => initial[k] !== v);
  const set = (key: string, value: string) => setDraft({ ...draft, [key]: value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const field = (key: string, label: string, input: ReactNode) => (
    <div key={key} className="flex flex-col gap-1">
      <Label htmlFor={`lead-${key}`}>{label}</Label>
      {input}
    </div>
  );
  const text = (key: string, label: string, type = "text") =>
    field(key, label, <Input id={`lead-${key}`} type={type} value={draft[key] ?? ""} onChange={(e) => set(key, e.target.value)} />);

  return (
    <form onSubmit={submit} aria-label="Lead details" className="flex flex-col gap-4">
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
        {TEXT_FIELDS.map(([key, label, type]) => text(key, label, type))}
        {field(
          "status",
          "Status",
          <NativeSelect id="lead-status" value={draft.status} onChange={(e) => set("status", e.target.value)}>
            {LEAD_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </NativeSelect>,
        )}
        {field(
          "owner_id",
          "Owner",
          <NativeSelect id="lead-owner_id" value={draft.owner_id} onChange={(e) => set("owner_id", e.target.value)}>
            <option value="">Nobody</option>
            {members.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.email}
              </option>
            ))}
          </NativeSelect>,
        )}
        {text("score", "Score (0–100)", "number")}
        {text("estimated_value", "Estimated value", "number")}
        {text("tags", "Tags (comma-separated)")}
        {Object.entries(definitions?.leads ?? {}).map(([name, definition]) => {
          const key = `cf:${name}`;
          const label = fieldLabel(name, definition) + (definition.required ? " (required)" : "");
          const choices =
            definition.type === "boolean" ? ["true", "false"] : definition.type === "select" ? (definition.options ?? []) : null;
          if (choices)
            return field(
              key,
              label,
              <NativeSelect id={`lead-${key}`} value={draft[key] ?? ""} onChange={(e) => set(key, e.target.value)}>
                <option value="">—</option>
                {choices.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </NativeSelect>,
            );
          const type = definition.type === "number" ? "number" : definition.type === "date" ? "date" : "text";
          return text(key, label, type);
        })}
      </div>
      {field(
        "notes",
        "Notes",
        <textarea
          id="lead-notes"
          rows={3}
          className="rounded-md border border-input bg-background px-3 py-2 text-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
          value={draft.notes ?? ""}
          onChange={(e) => set("notes", e.target.value)}
        />,
      )}
      {save.error && (
        <p role="alert" className="text-sm text-destructive">
          {save.error.message}
        </p>
      )}
      <div className="flex gap-2">
        <Button type="submit" disabled={!dirty || save.isPending}>
          Save changes
        </Button>
        <Button variant="outline" disabled={!dirty} onClick={() => setDraft(initial)}>
          Discard
        </Button>
      </div>
    </form>
  );
}
