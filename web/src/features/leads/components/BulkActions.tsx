import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { NativeSelect } from "@/components/ui/select";
import { useAuth } from "@/lib/supabase";
import { addTag, LEAD_STATUSES, updateLead, type Lead, type LeadStatus, type Member } from "../api/leads";
import { deleteWithUndo } from "../cache";

/** What can be done to the selected leads at once: assign, tag, change status, delete (with undo). One
 * request per lead (the API changes one lead at a time); the table refetches when they are all answered. */
export function BulkActions({ selected, members, onDone }: { selected: Lead[]; members: Member[]; onDone: () => void }) {
  const { supabase } = useAuth();
  const client = useQueryClient();
  const [tag, setTag] = useState("");
  const [busy, setBusy] = useState(false);
  const count = selected.length;

  async function each(verb: string, action: (lead: Lead) => Promise<unknown>) {
    setBusy(true);
    try {
      const results = await Promise.allSettled(selected.map(action));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length) toast.error(`${failed.length} of ${count} not ${verb}: ${String(failed[0]?.reason?.message)}`);
      else toast.success(`${count} lead${count === 1 ? "" : "s"} ${verb}`);
      onDone();
    } finally {
      setBusy(false);
      void client.invalidateQueries({ queryKey: ["leads"] });
    }
  }
  const tagAll = (event: FormEvent) => {
    event.preventDefault();
    const t = tag.trim();
    if (t) void each("tagged", (lead) => addTag(supabase, lead.id, t)).then(() => setTag(""));
  };

  return (
    <div
      role="region"
      aria-label="Bulk actions"
      className="flex flex-wrap items-end gap-3 rounded-md border bg-muted/50 p-2"
    >
      <span className="self-center text-sm font-medium" role="status">
        {count} selected
      </span>
      <div className="flex flex-col gap-1">
        <Label htmlFor="bulk-owner">Assign to</Label>
        <NativeSelect
          id="bulk-owner"
          className="h-8"
          disabled={busy}
          value=""
          onChange={(e) => {
            const owner = e.target.value === "none" ? null : e.target.value;
            void each("assigned", (lead) => updateLead(supabase, lead.id, { owner_id: owner }));
          }}
        >
          <option value="" disabled>
            Choose…
          </option>
          <option value="none">Nobody</option>
          {members.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.email}
            </option>
          ))}
        </NativeSelect>
      </div>
      <div className="flex flex-col gap-1">
        <Label htmlFor="bulk-status">Set status</Label>
        <NativeSelect
          id="bulk-status"
          className="h-8"
          disabled={busy}
          value=""
          onChange={(e) =>
            void each("updated", (lead) => updateLead(supabase, lead.id, { status: e.target.value as LeadStatus }))
          }
        >
          <option value="" disabled>
            Choose…
          </option>
          {LEAD_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </NativeSelect>
      </div>
      <form className="flex items-end gap-1" onSubmit={tagAll}>
        <div className="flex flex-col gap-1">
          <Label htmlFor="bulk-tag">Tag</Label>
          <Input id="bulk-tag" className="h-8 w-28" value={tag} onChange={(e) => setTag(e.target.value)} />
        </div>
        <Button type="submit" variant="outline" size="sm" disabled={busy}>
          Add tag
        </Button>
      </form>
      <Button
        variant="outline"
        size="sm"
        className="text-destructive"
        disabled={busy}
        onClick={() => {
          deleteWithUndo(
            supabase,
            client,
            selected.map((l) => l.id),
          );
          onDone();
        }}
      >
        Delete
      </Button>
    </div>
  );
}
